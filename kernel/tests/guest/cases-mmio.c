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

static bool virtio_device(u64 *base, u64 *size, u64 *irq)
{
	const char *v;

	if (!cmdline_find("virtio_mmio.device", &v))
		return false;
	*size = parse_number(&v);
	if (*v++ != '@')
		return false;
	*base = parse_number(&v);
	if (*v++ != ':')
		return false;
	*irq = parse_number(&v);
	return true;
}

static void case_mmio_virtio_rng(void)
{
	u64 base, size, irq, regs;
	u32 v;

	CHECK(virtio_device(&base, &size, &irq),
	      "no virtio_mmio.device=SIZE@BASE:IRQ on the command line (launch with --rng)");
	CHECK(base >= ram_top, "device window %lx lies inside guest RAM (top %lx)", base,
	      ram_top);
	map_page(kernel_pml4, MMIO_VA, base & PAGE_MASK, PTE_W | PTE_PCD | PTE_PWT);
	regs = MMIO_VA + (base & ~PAGE_MASK);
	v = mmio_read32(regs + VIRTIO_MMIO_MAGIC);
	CHECK(v == VIRTIO_MAGIC_VALUE, "magic at %lx reads %x, expected %x", base, v,
	      VIRTIO_MAGIC_VALUE);
	v = mmio_read32(regs + VIRTIO_MMIO_VERSION);
	CHECK(v == 2, "virtio-mmio version %u, expected 2", v);
	v = mmio_read32(regs + VIRTIO_MMIO_DEVICE_ID);
	CHECK(v == VIRTIO_ID_RNG, "device id %u, expected %u (rng)", v, VIRTIO_ID_RNG);
	mmio_write32(regs + VIRTIO_MMIO_STATUS, 0);
	v = mmio_read32(regs + VIRTIO_MMIO_STATUS);
	CHECK(v == 0, "status reads %x after a reset, expected 0", v);
	mmio_write32(regs + VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACK);
	v = mmio_read32(regs + VIRTIO_MMIO_STATUS);
	CHECK(v == VIRTIO_STATUS_ACK, "status reads %x after writing ACKNOWLEDGE", v);
	mmio_write32(regs + VIRTIO_MMIO_STATUS, 0);
}
TEST_CASE("mmio-virtio-rng", case_mmio_virtio_rng, 0);
