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
#define VIRTIO_MMIO_DEVICE_FEATURES	0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL	0x014
#define VIRTIO_MMIO_DRIVER_FEATURES	0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL	0x024
#define VIRTIO_MMIO_QUEUE_SEL		0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX	0x034
#define VIRTIO_MMIO_QUEUE_NUM		0x038
#define VIRTIO_MMIO_QUEUE_READY		0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY	0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS	0x060
#define VIRTIO_MMIO_INTERRUPT_ACK	0x064
#define VIRTIO_MMIO_STATUS	0x070
#define VIRTIO_MMIO_QUEUE_DESC		0x080	/* low, high at +4 */
#define VIRTIO_MMIO_QUEUE_DRIVER	0x090
#define VIRTIO_MMIO_QUEUE_DEVICE	0x0a0
#define VIRTIO_MAGIC_VALUE	0x74726976	/* "virt" */
#define VIRTIO_ID_RNG		4
#define VIRTIO_STATUS_ACK	1
#define VIRTIO_STATUS_DRIVER	2
#define VIRTIO_STATUS_DRIVER_OK	4
#define VIRTIO_STATUS_FEATURES_OK	8
#define VIRTIO_F_VERSION_1_HIGH	0x1	/* feature bit 32, in the high word */
#define VIRTQ_DESC_F_WRITE	2
#define QUEUE_SIZE		8
#define RNG_BYTES		64
#define MS_WAIT			5000

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
 * Map every device the launcher declared; each must answer with the
 * virtio-mmio magic and version 2.  Returns how many there are (after
 * case_fail() if one is wrong: then 0) and the rng's registers and line.
 */
static unsigned int scan_devices(u64 *rng_regs, u64 *rng_irq)
{
	const char *pos = cmdline, *word;
	unsigned int devices = 0;
	u64 base, size, irq;

	*rng_regs = 0;
	while (cmdline_next("virtio_mmio.device", &pos, &word)) {
		u64 regs;
		u32 v;

		if (!parse_virtio_device(word, &base, &size, &irq)) {
			case_fail("cannot parse virtio_mmio.device=%s", word);
			return 0;
		}
		if (base < ram_top) {
			case_fail("device window %lx lies inside guest RAM (top %lx)", base,
				  ram_top);
			return 0;
		}
		regs = map_device(devices++, base);
		v = mmio_read32(regs + VIRTIO_MMIO_MAGIC);
		if (v != VIRTIO_MAGIC_VALUE) {
			case_fail("magic at %lx reads %x, expected %x", base, v,
				  VIRTIO_MAGIC_VALUE);
			return 0;
		}
		v = mmio_read32(regs + VIRTIO_MMIO_VERSION);
		if (v != 2) {
			case_fail("virtio-mmio version at %lx is %u, expected 2", base, v);
			return 0;
		}
		if (mmio_read32(regs + VIRTIO_MMIO_DEVICE_ID) == VIRTIO_ID_RNG) {
			*rng_regs = regs;
			*rng_irq = irq;
		}
	}
	if (!devices)
		case_fail("no virtio_mmio.device=SIZE@BASE:IRQ on the command line "
			  "(launch with --rng)");
	else if (!*rng_regs)
		case_fail("none of the %u virtio-mmio devices is an rng (device id %u)",
			  devices, VIRTIO_ID_RNG);
	return *rng_regs ? devices : 0;
}

/* Register reads and writes exit to the launcher's device model and back. */
static void case_mmio_virtio_rng(void)
{
	u64 rng_regs, rng_irq;

	if (scan_devices(&rng_regs, &rng_irq))
		check_status_register(rng_regs);
}
TEST_CASE("mmio-virtio-rng", case_mmio_virtio_rng, 0);

/* A split virtqueue of QUEUE_SIZE entries, each part in a page of its own. */
struct vring_desc {
	u64 addr;
	u32 len;
	u16 flags, next;
};

struct vring_avail {
	u16 flags, idx, ring[QUEUE_SIZE], used_event;
};

struct vring_used {
	u16 flags, idx;
	struct {
		u32 id, len;
	} ring[QUEUE_SIZE];
	u16 avail_event;
};

static struct vring_desc *desc;
static struct vring_avail *avail;
static volatile struct vring_used *used;
static u64 rng_buffer;		/* guest-physical */

static void mmio_write64(u64 addr, u64 v)
{
	mmio_write32(addr, (u32)v);
	mmio_write32(addr + 4, (u32)(v >> 32));
}

/* The driver side of virtio 1.x initialisation, for queue 0 only. */
static bool rng_driver_init(u64 regs)
{
	u64 desc_pa = alloc_page(), avail_pa = alloc_page(), used_pa = alloc_page();
	u32 v;

	mmio_write32(regs + VIRTIO_MMIO_STATUS, 0);
	mmio_write32(regs + VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER);
	mmio_write32(regs + VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	v = mmio_read32(regs + VIRTIO_MMIO_DEVICE_FEATURES);
	if (!(v & VIRTIO_F_VERSION_1_HIGH)) {
		case_fail("the rng does not offer VIRTIO_F_VERSION_1 (features 63..32: %x)", v);
		return false;
	}
	mmio_write32(regs + VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	mmio_write32(regs + VIRTIO_MMIO_DRIVER_FEATURES, VIRTIO_F_VERSION_1_HIGH);
	mmio_write32(regs + VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	mmio_write32(regs + VIRTIO_MMIO_DRIVER_FEATURES, 0);
	mmio_write32(regs + VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER |
		     VIRTIO_STATUS_FEATURES_OK);
	v = mmio_read32(regs + VIRTIO_MMIO_STATUS);
	if (!(v & VIRTIO_STATUS_FEATURES_OK)) {
		case_fail("the rng refused our features (status %x)", v);
		return false;
	}
	mmio_write32(regs + VIRTIO_MMIO_QUEUE_SEL, 0);
	v = mmio_read32(regs + VIRTIO_MMIO_QUEUE_NUM_MAX);
	if (v < QUEUE_SIZE) {
		case_fail("the rng's queue holds %u entries, we need %u", v, QUEUE_SIZE);
		return false;
	}
	mmio_write32(regs + VIRTIO_MMIO_QUEUE_NUM, QUEUE_SIZE);
	mmio_write64(regs + VIRTIO_MMIO_QUEUE_DESC, desc_pa);
	mmio_write64(regs + VIRTIO_MMIO_QUEUE_DRIVER, avail_pa);
	mmio_write64(regs + VIRTIO_MMIO_QUEUE_DEVICE, used_pa);
	mmio_write32(regs + VIRTIO_MMIO_QUEUE_READY, 1);
	mmio_write32(regs + VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER |
		     VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	desc = phys_to_virt(desc_pa);
	avail = phys_to_virt(avail_pa);
	used = phys_to_virt(used_pa);
	rng_buffer = alloc_page();
	return true;
}

/* Offer RNG_BYTES of the buffer page to the device as descriptor 0. */
static void rng_post_buffer(void)
{
	memset(phys_to_virt(rng_buffer), 0, RNG_BYTES);
	desc[0] = (struct vring_desc){ rng_buffer, RNG_BYTES, VIRTQ_DESC_F_WRITE, 0 };
	avail->ring[avail->idx % QUEUE_SIZE] = 0;
	asm volatile("" ::: "memory");		/* ring entry before the index */
	avail->idx++;
	asm volatile("" ::: "memory");
}

static u16 used_target;
static u64 awaited_line;

static bool line_raised(void)
{
	return shared.pending & awaited_line;
}

static bool buffer_used(void)
{
	return used->idx == used_target;
}

/* The device returned descriptor 0 with random bytes in it. */
static bool rng_buffer_filled(const char *how)
{
	static const u8 zeros[RNG_BYTES];

	spin_ms(MS_WAIT, buffer_used);
	if (!buffer_used()) {
		case_fail("%s: the rng did not use the buffer within %u ms (used idx %u)",
			  how, MS_WAIT, used->idx);
		return false;
	}
	if (used->ring[(used_target - 1) % QUEUE_SIZE].id != 0 ||
	    !used->ring[(used_target - 1) % QUEUE_SIZE].len ||
	    used->ring[(used_target - 1) % QUEUE_SIZE].len > RNG_BYTES) {
		case_fail("%s: used entry id %u len %u", how,
			  used->ring[(used_target - 1) % QUEUE_SIZE].id,
			  used->ring[(used_target - 1) % QUEUE_SIZE].len);
		return false;
	}
	if (!memcmp(phys_to_virt(rng_buffer), zeros, RNG_BYTES)) {
		case_fail("%s: the buffer is still all zeros", how);
		return false;
	}
	return true;
}

/*
 * A real request to the launcher's virtio-rng: kicked once through the
 * QueueNotify register (an MMIO exit), once through LHCALL_NOTIFY; the
 * device's interrupt arrives as its line in the pending bitmap and as an
 * upcall, the second time waking LHCALL_HALT.
 */
static void case_virtio_rng_irq(void)
{
	u64 regs, irq, line;

	CHECK(tsc_per_ms(), "the shared page's tsc_khz is 0: cannot time a wait");
	if (!scan_devices(&regs, &irq) || !rng_driver_init(regs))
		return;
	CHECK(irq >= 1 && irq < LGUEST_NR_IRQS, "the rng's line %lu is not a launcher line",
	      irq);
	line = awaited_line = 1UL << irq;

	rng_post_buffer();
	used_target = 1;
	mmio_write32(regs + VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	if (!rng_buffer_filled("QueueNotify"))
		return;
	spin_ms(MS_WAIT, line_raised);
	CHECK(line_raised(), "line %lu not pending after the rng used the buffer "
	      "(pending %lx)", irq, (u64)shared.pending);
	CHECK(upcalls.count == 0, "an upcall arrived with the virtual IF off");
	CHECK(mmio_read32(regs + VIRTIO_MMIO_INTERRUPT_STATUS) & 1,
	      "InterruptStatus does not show a used buffer");
	mmio_write32(regs + VIRTIO_MMIO_INTERRUPT_ACK, 1);
	shared.irq_enabled = LGUEST_IF_FLAG;
	hcall0(LHCALL_NOP);
	CHECK(upcalls.count == 1 && (upcalls.lines & line), "%u upcalls (lines %lx) after "
	      "enabling interrupts, expected one for line %lu", upcalls.count,
	      upcalls.lines, irq);

	memset(&upcalls, 0, sizeof(upcalls));
	shared.irq_enabled = 0;
	rng_post_buffer();
	used_target = 2;
	hcall1(LHCALL_NOTIFY, 0);
	hcall0(LHCALL_HALT);
	CHECK(upcalls.count >= 1 && (upcalls.lines & line), "LHCALL_HALT returned after "
	      "%u upcalls (lines %lx), expected line %lu", upcalls.count, upcalls.lines, irq);
	if (!rng_buffer_filled("LHCALL_NOTIFY"))
		return;
	mmio_write32(regs + VIRTIO_MMIO_INTERRUPT_ACK, 1);
	mmio_write32(regs + VIRTIO_MMIO_STATUS, 0);
}
TEST_CASE("virtio-rng-irq", case_virtio_rng_irq, 0);

/*
 * Device registers take the plain MOV forms only: a locked
 * read-modify-write cannot be handed to the launcher, and running code
 * from the device window has no meaning.  Both must kill the guest with a
 * reason, never reach device or host memory by another way.
 */
static void case_mmio_locked_insn(void)
{
	u64 regs, irq;

	if (!scan_devices(&regs, &irq))
		return;
	expect_crash("instruction|device");
	asm volatile("lock incl (%0)" :: "r"(regs + VIRTIO_MMIO_STATUS) : "memory");
	case_fail("lock incl on a device register completed and the guest is still alive");
}
TEST_CASE("mmio-locked-insn", case_mmio_locked_insn, CASE_FATAL);

static void case_mmio_exec(void)
{
	u64 regs, irq;

	if (!scan_devices(&regs, &irq))
		return;
	expect_crash("instruction|device|fetch");
	asm volatile("call *%0" :: "r"(regs) : "memory");
	case_fail("a call into the device window returned and the guest is still alive");
}
TEST_CASE("mmio-exec", case_mmio_exec, CASE_FATAL);
