/*
 * fuzz_virtio.c - libFuzzer target for the device model: the fuzzer
 * writes all of guest memory (rings, descriptors, indirect tables,
 * request headers) and a few control bytes that pick the device, queue
 * size, features and some raw register writes; the target then runs the
 * driver handshake and notifies every queue, as a hostile guest would.
 * ASan/UBSan turn any access outside guest memory into a crash.
 *
 * Build and run: make -C lgbox fuzz-run [FUZZ_SECONDS=600] (see
 * doc/lgbox.md, "Fuzzing the device model").
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../virtio/blk.h"
#include "../virtio/devices.h"

#define RAM_SIZE	0x10000
#define DESC_GPA	0x0000
#define AVAIL_GPA	0x4000
#define USED_GPA	0x6000
#define CONTROL_BYTES	16

static uint8_t *ram;
static struct guest_mem mem;
static struct blk_disk disk, overlay_disk;
static int tap[2];

static void discard_output(const void *buf, size_t len)
{
	(void)buf;
	(void)len;
}

/* A 256 KiB scratch image (and, with overlay, a copy-on-write overlay on it). */
static void open_scratch_disk(struct blk_disk *d, bool with_overlay)
{
	char image[] = "/tmp/lgbox-fuzz-XXXXXX", overlay[] = "/tmp/lgbox-fuzz-ovl-XXXXXX";
	const char *what;
	int fd = mkstemp(image), ovl = with_overlay ? mkstemp(overlay) : -1;

	if (fd < 0 || ftruncate(fd, 256 * 1024) < 0 || (with_overlay && ovl < 0) ||
	    blk_disk_open(d, image, false, with_overlay ? overlay : NULL, &what) < 0)
		abort();
	close(fd);
	unlink(image);
	if (with_overlay) {
		close(ovl);
		unlink(overlay);
	}
}

static void setup_once(void)
{
	ram = aligned_alloc(4096, RAM_SIZE);
	guest_mem_init(&mem);
	guest_mem_add(&mem, 0, RAM_SIZE, ram);
	open_scratch_disk(&disk, false);
	open_scratch_disk(&overlay_disk, true);
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, tap) < 0)
		abort();
}

static struct virtio_dev *create(unsigned int which)
{
	static const uint8_t mac[6] = { 2, 0, 0, 0, 0, 1 };

	switch (which % 5) {
	case 0:
		return virtio_console_create(&mem, discard_output, NULL);
	case 1:
		return virtio_rng_create(&mem);
	case 2:
		return virtio_blk_create(&mem, &disk, NULL);
	case 4:
		return virtio_blk_create(&mem, &overlay_disk, NULL);
	default:
		return virtio_net_create(&mem, tap[0], mac, NULL);
	}
}

static void wr(struct virtio_dev *dev, uint64_t reg, uint32_t value)
{
	virtio_mmio_write(dev, reg, 4, value);
}

/* The virtio 1.x driver handshake, with queues placed where the fuzzer wrote rings. */
static void driver_init(struct virtio_dev *dev, const uint8_t *ctl)
{
	uint16_t num = 1 << (ctl[1] % 10);	/* 1..512: some above queue_max */
	unsigned int q;

	wr(dev, 0x070, 1 | 2);
	wr(dev, 0x024, 0);
	wr(dev, 0x020, (uint32_t)ctl[2] << 24);	/* INDIRECT, EVENT_IDX ... at random */
	wr(dev, 0x024, 1);
	wr(dev, 0x020, 1);			/* VERSION_1 */
	wr(dev, 0x070, 1 | 2 | 8);
	for (q = 0; q < dev->ops->nr_queues; q++) {
		wr(dev, 0x030, q);
		wr(dev, 0x038, num);
		/* Queues overlap on purpose when ctl[3] says so. */
		wr(dev, 0x080, DESC_GPA + (ctl[3] & 1) * q * 0x1000);
		wr(dev, 0x090, AVAIL_GPA + (ctl[3] & 2) * q * 0x400);
		wr(dev, 0x0a0, USED_GPA + (ctl[3] & 4) * q * 0x800);
		wr(dev, 0x044, 1);
	}
	wr(dev, 0x070, 1 | 2 | 8 | 4);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtio_dev *dev;
	const uint8_t *ctl = data;
	unsigned int round, q, i;

	if (size < CONTROL_BYTES)
		return 0;
	if (!ram)
		setup_once();
	memset(ram, 0, RAM_SIZE);
	memcpy(ram, data + CONTROL_BYTES,
	       size - CONTROL_BYTES < RAM_SIZE ? size - CONTROL_BYTES : RAM_SIZE);
	dev = create(ctl[0]);
	driver_init(dev, ctl);
	/* A few raw register writes: offsets and values from the input. */
	for (i = 0; i < 2; i++)
		virtio_mmio_write(dev, ctl[4 + 3 * i] * 4 % 0x200, 1 << (ctl[5 + 3 * i] % 4),
				  ctl[6 + 3 * i] * 0x01010101ULL);
	for (round = 0; round < 2; round++) {
		if (ctl[0] % 5 == 0)
			virtio_console_input(dev, "input", 5);
		if (ctl[0] % 5 == 3) {
			send(tap[1], data, size < 1500 ? size : 1500, MSG_DONTWAIT);
			virtio_net_receive(dev);
		}
		for (q = 0; q < dev->ops->nr_queues; q++)
			wr(dev, 0x050, q);
		virtio_mmio_read(dev, 0x100 + ctl[10] % 64, 1 << (ctl[11] % 4));
	}
	/* Whatever the tap side got from the guest is thrown away. */
	while (recv(tap[0], ram, RAM_SIZE, MSG_DONTWAIT) > 0 ||
	       recv(tap[1], ram, RAM_SIZE, MSG_DONTWAIT) > 0)
		;
	virtio_dev_free(dev);
	return 0;
}
