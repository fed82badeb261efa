/*
 * cases-fault.c - faults in guest-kernel mode reflected to the guest with
 * native frames, and the attacks a guest kernel can make with its own
 * page tables and instructions: each must end in a reflected fault while
 * the host carries on.
 */
#include "guest.h"


/* Expect the last probe to have faulted with a page fault at addr. */
static bool page_fault_at(int faulted, u64 addr, const char *what)
{
	if (!faulted) {
		case_fail("%s at %lx did not fault", what, addr);
		return false;
	}
	if (last_fault.vector != X86_TRAP_PF || last_fault.cr2 != addr) {
		case_fail("%s at %lx raised vector %lu with cr2 %lx, expected #PF with "
			  "cr2 %lx", what, addr, last_fault.vector, last_fault.cr2, addr);
		return false;
	}
	if (last_fault.cs != LGUEST_KERNEL_CS) {
		case_fail("%s at %lx: frame cs is %lx, expected LGUEST_KERNEL_CS", what,
			  addr, last_fault.cs);
		return false;
	}
	return true;
}

/* Error codes are native ones: no user bit for guest-kernel mode. */
static void case_kernel_page_fault(void)
{
	u64 value;

	if (!page_fault_at(probe_read(UNMAPPED_LOW, &value), UNMAPPED_LOW, "read"))
		return;
	CHECK(last_fault.error == 0,
	      "kernel read of a not-present page: error code %lx, expected 0",
	      last_fault.error);
	if (!page_fault_at(probe_write(UNMAPPED_LOW, 1), UNMAPPED_LOW, "write"))
		return;
	CHECK(last_fault.error == PF_WRITE,
	      "kernel write to a not-present page: error code %lx, expected 2",
	      last_fault.error);
	CHECK(last_fault.count == 2, "%u faults recorded for 2 accesses",
	      last_fault.count);
}
TEST_CASE("kernel-page-fault", case_kernel_page_fault, 0);

/* A read-only kernel page: reads work, a write faults (CR0.WP natively). */
static void case_kernel_write_protect(void)
{
	u64 va = SCRATCH_VA + 0x1000, pa = alloc_page(), value = 0;

	*(u64 *)phys_to_virt(pa) = 0x0123456789abcdef;
	map_page(kernel_pml4, va, pa, 0);
	CHECK(probe_read(va, &value) == 0, "read of a read-only page faulted (error %lx)",
	      last_fault.error);
	CHECK(value == 0x0123456789abcdef, "read-only page reads %lx, not what the "
	      "direct map holds", value);
	if (!page_fault_at(probe_write(va, 1), va, "write to a read-only page"))
		return;
	CHECK(last_fault.error == (PF_PRESENT | PF_WRITE),
	      "write to a read-only page: error code %lx, expected 3", last_fault.error);
	CHECK(*(u64 *)phys_to_virt(pa) == 0x0123456789abcdef,
	      "the faulting write changed the page");
}
TEST_CASE("kernel-write-protect", case_kernel_write_protect, 0);

int probe_cli(void), probe_sti(void), probe_hlt(void), probe_mov_cr3(void),
	probe_mov_cr0(void), probe_mov_cr4(void), probe_wrmsr(void),
	probe_rdmsr(void), probe_lgdt(void), probe_lidt(void), probe_out(void),
	probe_swapgs(void), probe_invlpg(void), probe_wbinvd(void),
	probe_clts(void), probe_mov_dr7(void);
int probe_read_cr0(u64 *v), probe_read_cr2(u64 *v), probe_read_cr3(u64 *v),
	probe_read_cr4(u64 *v), probe_inb(u64 *v), probe_inw(u64 *v), probe_inl(u64 *v);

static const struct {
	const char *insn;
	int (*probe)(void);
} privileged[] = {
	{ "hlt", probe_hlt },
	{ "mov to cr3", probe_mov_cr3 }, { "mov to cr0", probe_mov_cr0 },
	{ "mov to cr4", probe_mov_cr4 }, { "wrmsr LSTAR", probe_wrmsr },
	{ "rdmsr LSTAR", probe_rdmsr }, { "lgdt", probe_lgdt }, { "lidt", probe_lidt },
	{ "swapgs", probe_swapgs }, { "invlpg", probe_invlpg }, { "wbinvd", probe_wbinvd },
	{ "clts", probe_clts }, { "mov to dr7", probe_mov_dr7 },
};

static void case_privileged_insns(void)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(privileged); i++) {
		CHECK(privileged[i].probe() == 1, "%s completed in the guest kernel",
		      privileged[i].insn);
		CHECK(last_fault.vector == X86_TRAP_GP && last_fault.error == 0,
		      "%s raised vector %lu error %lx, expected #GP(0)",
		      privileged[i].insn, last_fault.vector, last_fault.error);
		CHECK(last_fault.cs == LGUEST_KERNEL_CS, "%s: frame cs %lx",
		      privileged[i].insn, last_fault.cs);
	}
}
TEST_CASE("privileged-insns", case_privileged_insns, 0);

#define CR0_GUEST	0x80050033UL	/* PE MP ET NE WP AM PG */
#define CR4_GUEST	0x620UL		/* PAE OSFXSR OSXMMEXCPT */

/*
 * What <linux/lguest.h> has lg.ko emulate in guest-kernel mode: control
 * register reads give the values the guest runs under, port input finds
 * no device (all ones), port output is dropped, cli and sti flip the
 * virtual IF.
 */
static void case_emulated_insns(void)
{
	static const struct {
		const char *insn;
		int (*probe)(u64 *value);
		u64 expected;
	} reads[] = {
		{ "mov from cr0", probe_read_cr0, CR0_GUEST },
		{ "mov from cr4", probe_read_cr4, CR4_GUEST },
		{ "inb", probe_inb, 0xff },
		{ "inw", probe_inw, 0xffff },
		{ "inl", probe_inl, 0xffffffff },
	};
	u64 value = 0;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(reads); i++) {
		CHECK(reads[i].probe(&value) == 0, "%s raised vector %lu error %lx",
		      reads[i].insn, last_fault.vector, last_fault.error);
		CHECK(value == reads[i].expected, "%s gave %lx, expected %lx",
		      reads[i].insn, value, reads[i].expected);
	}
	CHECK(probe_read_cr3(&value) == 0 && value == (u64)kernel_pml4 - DIRECT_MAP,
	      "mov from cr3 gave %lx, expected the last LHCALL_LOAD_CR3 %lx", value,
	      (u64)kernel_pml4 - DIRECT_MAP);
	probe_read(UNMAPPED_LOW, &value);
	CHECK(probe_read_cr2(&value) == 0 && value == UNMAPPED_LOW,
	      "mov from cr2 after a fault at %lx gave %lx", UNMAPPED_LOW, value);
	CHECK(probe_out() == 0, "out raised vector %lu error %lx", last_fault.vector,
	      last_fault.error);
	shared.irq_enabled = LGUEST_IF_FLAG;
	CHECK(probe_cli() == 0 && shared.irq_enabled == 0,
	      "cli: fault %u, the virtual IF is %lx afterwards, expected 0", last_fault.count,
	      (u64)shared.irq_enabled);
	CHECK(probe_sti() == 0 && shared.irq_enabled == LGUEST_IF_FLAG,
	      "sti: fault %u, the virtual IF is %lx afterwards, expected %x", last_fault.count,
	      (u64)shared.irq_enabled, LGUEST_IF_FLAG);
	shared.irq_enabled = 0;
}
TEST_CASE("emulated-insns", case_emulated_insns, 0);

static const u64 hole_addresses[] = {
	HOLE_START, HOLE_START + 0x1000, HOLE_START + 0x200000,
	0xffff808000000000, 0xffff840000000000, HOLE_END - 0x1000, HOLE_END - 8,
};

/* Reads and writes anywhere in the hole fault; the value read is not seen. */
static bool hole_inaccessible(void)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(hole_addresses); i++) {
		u64 addr = hole_addresses[i], value = 0;

		if (!page_fault_at(probe_read(addr, &value), addr, "read of the switcher hole"))
			return false;
		if (!page_fault_at(probe_write(addr, 0), addr, "write to the switcher hole"))
			return false;
		if (last_fault.error & PF_USER) {
			case_fail("switcher hole fault at %lx has the user bit (error %lx)",
				  addr, last_fault.error);
			return false;
		}
	}
	return true;
}

static void case_switcher_hole(void)
{
	hole_inaccessible();
}
TEST_CASE("switcher-hole", case_switcher_hole, 0);

/*
 * The guest puts its own page tables into the hole's PML4 slots: lg.ko
 * must still keep the whole hole away from it.  A mapping outside the hole
 * through the same tables proves they are in use.
 */
static void case_switcher_map(void)
{
	u64 *pml4 = pml4_create(), page = alloc_page(), value = 0;
	unsigned int i;

	*(u64 *)phys_to_virt(page) = 0x5157c4e5;
	for (i = 0; i < ARRAY_SIZE(hole_addresses); i++)
		map_page(pml4, hole_addresses[i] & PAGE_MASK, page, PTE_W);
	map_page(pml4, SCRATCH_VA + 0x2000, page, PTE_W);
	load_pml4(pml4);
	CHECK(probe_read(SCRATCH_VA + 0x2000, &value) == 0 && value == 0x5157c4e5,
	      "the guest's own mapping at %lx does not work (read %lx)",
	      SCRATCH_VA + 0x2000, value);
	hole_inaccessible();
}
TEST_CASE("switcher-map", case_switcher_map, 0);

/*
 * A guest PTE naming guest-physical memory that does not exist must not
 * reach host memory: the guest sees #PF with the reserved bit (and present
 * bit, as natively for reserved-bit faults).
 */
static void case_beyond_ram(void)
{
	static const u64 gpas[] = { 0x100000000UL, FAR_BEYOND_RAM };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(gpas); i++) {
		u64 va = SCRATCH_VA + 0x10000 + i * PAGE_SIZE, value = 0;

		CHECK(gpas[i] >= ram_top, "guest RAM reaches %lx: test address %lx is RAM",
		      ram_top, gpas[i]);
		map_page(kernel_pml4, va, gpas[i], PTE_W);
		if (!page_fault_at(probe_read(va, &value), va, "read of a page beyond RAM"))
			return;
		CHECK((last_fault.error & (PF_RSVD | PF_PRESENT)) == (PF_RSVD | PF_PRESENT),
		      "read of gpa %lx: error code %lx lacks the reserved/present bits",
		      gpas[i], last_fault.error);
		if (!page_fault_at(probe_write(va, 0), va, "write to a page beyond RAM"))
			return;
		CHECK(last_fault.error == (PF_RSVD | PF_PRESENT | PF_WRITE),
		      "write to gpa %lx: error code %lx, expected b", gpas[i],
		      last_fault.error);
	}
}
TEST_CASE("beyond-ram", case_beyond_ram, 0);

/*
 * The guest's page tables themselves may point outside RAM: a PML4 entry
 * naming a PDPT at 256 GiB must give #PF with the reserved bit, not a
 * host read of whatever lies there.
 */
static void case_table_beyond_ram(void)
{
	const u64 va = 0xffffc80000000000UL;	/* PML4 slot 400, ours alone */
	u64 *slot = &kernel_pml4[(va >> 39) & 511], value;
	int faulted;

	CHECK(!*slot, "PML4 slot for %lx already in use", va);
	*slot = FAR_BEYOND_RAM | PTE_P | PTE_W;
	faulted = probe_read(va, &value);
	*slot = 0;
	hcall0(LHCALL_FLUSH_TLB);
	if (!page_fault_at(faulted, va, "read through a PDPT beyond RAM"))
		return;
	CHECK(last_fault.error & PF_RSVD, "read through a PDPT beyond RAM: error code "
	      "%lx lacks the reserved bit", last_fault.error);
}
TEST_CASE("table-beyond-ram", case_table_beyond_ram, 0);
