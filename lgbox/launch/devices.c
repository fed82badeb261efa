/*
 * devices.c - launch's virtio-mmio device set: builds the devices the
 * options ask for, places them in 4 KiB slots of the device window (one
 * interrupt line each, from 1), tells the guest about them on its command
 * line (virtio_mmio.device=4K@BASE:IRQ, so no guest driver patches), and
 * routes MMIO exits to them.
 */
#include <stdio.h>
#include <string.h>

#include "../lgbox.h"
#include "../virtio/devices.h"
#include "launch.h"
#include "host_devices.h"

/* Above RAM, below 4 GiB when RAM allows (some drivers like 32-bit MMIO). */
#define MMIO_BASE_LOW	0xd0000000ULL

static size_t console_input(void *ctx, const void *buf, size_t len)
{
	return virtio_console_input(ctx, buf, len);
}

static bool console_has_room(void *ctx)
{
	return virtio_console_has_room(ctx);
}

static int add_device(struct device_set *set, struct virtio_dev *dev,
		      char *cmdline, size_t cmdline_size)
{
	uint64_t base = set->mmio_base + set->nr * VIRTIO_MMIO_SLOT_SIZE;
	size_t used = strlen(cmdline);
	int n;

	if (!dev)
		return -1;
	dev->irq = set->nr + 1;
	n = snprintf(cmdline + used, cmdline_size - used, "%svirtio_mmio.device=4K@0x%llx:%u",
		     used ? " " : "", (unsigned long long)base, dev->irq);
	if (n < 0 || (size_t)n >= cmdline_size - used) {
		lgbox_warn("kernel command line too long for the devices' words");
		return -1;
	}
	set->devs[set->nr++] = dev;
	set->mmio_size = set->nr * VIRTIO_MMIO_SLOT_SIZE;
	return 0;
}

int devices_create(struct device_set *set, const struct launch_opts *opts,
		   const struct guest_ram *ram, char *cmdline, size_t cmdline_size)
{
	const struct guest_mem *mem = &ram->mem;
	struct virtio_dev *console_dev;
	unsigned int i;

	memset(set, 0, sizeof(*set));
	set->mmio_base = ram->size <= MMIO_BASE_LOW ? MMIO_BASE_LOW :
			 (ram->size + (1ULL << 30) - 1) & ~((1ULL << 30) - 1);
	console_dev = virtio_console_create(mem, console_write, ioloop_wake);
	if (add_device(set, console_dev, cmdline, cmdline_size) < 0)
		return -1;
	console_set_input(console_input, console_has_room, console_dev);
	for (i = 0; i < opts->nr_blocks; i++)
		if (add_device(set, host_block_create(&opts->blocks[i], ram, i, opts->dry_run),
			       cmdline, cmdline_size) < 0)
			return -1;
	for (i = 0; i < opts->nr_nets; i++)
		if (add_device(set, host_net_create(&opts->nets[i], opts->name, mem, opts->dry_run),
			       cmdline, cmdline_size) < 0)
			return -1;
	if (opts->rng && add_device(set, virtio_rng_create(mem), cmdline, cmdline_size) < 0)
		return -1;
	return 0;
}

void devices_set_irq(struct device_set *set, void (*raise)(struct virtio_dev *), void *ctx)
{
	unsigned int i;

	for (i = 0; i < set->nr; i++) {
		pthread_mutex_lock(&set->devs[i]->lock);
		set->devs[i]->raise_irq = raise;
		set->devs[i]->irq_ctx = ctx;
		pthread_mutex_unlock(&set->devs[i]->lock);
	}
}

bool devices_mmio(struct device_set *set, uint64_t gpa, unsigned int size,
		  bool is_write, uint64_t *data)
{
	uint64_t off = gpa - set->mmio_base, slot = off / VIRTIO_MMIO_SLOT_SIZE;

	if (gpa < set->mmio_base || slot >= set->nr)
		return false;
	off %= VIRTIO_MMIO_SLOT_SIZE;
	if (is_write)
		virtio_mmio_write(set->devs[slot], off, size, *data);
	else
		*data = virtio_mmio_read(set->devs[slot], off, size);
	return true;
}
