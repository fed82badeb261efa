/*
 * cases-mmio.c - a guest access to the device window leaves lg.ko for the
 * launcher (LGUEST_EXIT_MMIO), which emulates the register and resumes the
 * guest.  Run with `lgbox launch --rng`: the launcher appends
 * virtio_mmio.device=SIZE@BASE:IRQ for a virtio-rng device.
 */
#include "guest.h"

#define MMIO_VA			(SCRATCH_VA + 0x100000)
#define VIRTIO_MMIO_MAGIC	0x000
#define VIRTIO_MMIO_VERSION	0x004
#define VIRTIO_MMIO_DEVICE_ID	0x008
#define VIRTIO_MMIO_STATUS	0x070
#define VIRTIO_MAGIC_VALUE	0x74726976	/* "virt" */
#define VIRTIO_ID_RNG		4
#define VIRTIO_STATUS_ACK	1

/* The plain MOV forms lg.ko decodes; inline asm keeps the compiler to them. */
static u32 mmio_read32(u64 addr)
{
	u32 v;

	asm volatile("movl (%1), %0" : "=r"(v) : "r"(addr) : "memory");
	return v;
}

static void mmio_write32(u64 addr, u32 v)
{
	asm volatile("movl %0, (%1)" :: "r"(v), "r"(addr) : "memory");
}

/* Parse SIZE@BASE:IRQ (Linux's virtio_mmio.device= syntax). */
static bool parse_virtio_device(const char *v, u64 *base, u64 *size, u64 *irq)
{
	*size = parse_number(&v);
	if (*v++ != '@')
		return false;
	*base = parse_number(&v);
	if (*v++ != ':')
		return false;
	*irq = parse_number(&v);
	return true;
}

/* Map a device's registers; returns their virtual address. */
static u64 map_device(unsigned int index, u64 base)
{
	u64 va = MMIO_VA + index * PAGE_SIZE;

	map_page(kernel_pml4, va, base & PAGE_MASK, PTE_W | PTE_PCD | PTE_PWT);
	return va + (base & ~PAGE_MASK);
}

/* Reset, ACKNOWLEDGE, read back: writes reach the device model too. */
static void check_status_register(u64 regs)
{
	u32 v;

	mmio_write32(regs + VIRTIO_MMIO_STATUS, 0);
	v = mmio_read32(regs + VIRTIO_MMIO_STATUS);
	CHECK(v == 0, "status reads %x after a reset, expected 0", v);
	mmio_write32(regs + VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACK);
	v = mmio_read32(regs + VIRTIO_MMIO_STATUS);
	CHECK(v == VIRTIO_STATUS_ACK, "status reads %x after writing ACKNOWLEDGE", v);
	mmio_write32(regs + VIRTIO_MMIO_STATUS, 0);
}

/*
 * Every device the launcher declared answers with the virtio-mmio magic
 * and version 2; one of them is the rng that --rng asked for.
 */
static void case_mmio_virtio_rng(void)
{
	const char *pos = cmdline, *word;
	u64 base, size, irq, rng_regs = 0;
	unsigned int devices = 0;

	while (cmdline_next("virtio_mmio.device", &pos, &word)) {
		u64 regs;
		u32 v;

		CHECK(parse_virtio_device(word, &base, &size, &irq),
		      "cannot parse virtio_mmio.device=%s", word);
		CHECK(base >= ram_top, "device window %lx lies inside guest RAM (top %lx)",
		      base, ram_top);
		regs = map_device(devices++, base);
		v = mmio_read32(regs + VIRTIO_MMIO_MAGIC);
		CHECK(v == VIRTIO_MAGIC_VALUE, "magic at %lx reads %x, expected %x", base, v,
		      VIRTIO_MAGIC_VALUE);
		v = mmio_read32(regs + VIRTIO_MMIO_VERSION);
		CHECK(v == 2, "virtio-mmio version at %lx is %u, expected 2", base, v);
		if (mmio_read32(regs + VIRTIO_MMIO_DEVICE_ID) == VIRTIO_ID_RNG)
			rng_regs = regs;
	}
	CHECK(devices, "no virtio_mmio.device=SIZE@BASE:IRQ on the command line "
	      "(launch with --rng)");
	CHECK(rng_regs, "none of the %u virtio-mmio devices is an rng (device id %u)",
	      devices, VIRTIO_ID_RNG);
	check_status_register(rng_regs);
}
TEST_CASE("mmio-virtio-rng", case_mmio_virtio_rng, 0);
