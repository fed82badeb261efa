/*
 * cases-basic.c - the boot contract and the hypercall basics: console
 * output, the hypercall register convention, the shared page and the
 * boot_params the launcher prepared.
 */
#include <asm/bootparam.h>
#include "guest.h"

extern const struct boot_params *boot_params;

/*
 * One console hypercall of exactly LGUEST_CONSOLE_MAX bytes.  What counts
 * is what the user sees, so the verdict is the runner's: the whole line
 * must reach the launcher's output (the return value is not specified).
 */
static void case_console(void)
{
	static char line[LGUEST_CONSOLE_MAX];
	size_t i, prefix;

	prefix = (size_t)snprintf(line, sizeof(line), "console-check:");
	for (i = prefix; i < sizeof(line) - 1; i++)
		line[i] = "0123456789abcdef"[i % 16];
	line[sizeof(line) - 1] = '\n';
	hcall2(LHCALL_CONSOLE_WRITE, (u64)line, sizeof(line));
}
TEST_CASE("console", case_console, 0);

static const char *const gpr_names[] = {
	"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "r8", "r9", "r10",
	"r11", "r12", "r13", "r14", "r15", "rsp",
};

/* LHCALL_NOP returns 0 and leaves every register but rax, rcx, r11. */
static void case_hcall_nop(void)
{
	u64 *before = (u64 *)&regs_before, *after = (u64 *)&regs_after;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(gpr_names); i++)
		before[i] = REG_PATTERN(i);
	hcall_regs_roundtrip();
	CHECK(regs_after.rax == 0, "LHCALL_NOP returned %lx, not 0", regs_after.rax);
	for (i = 1; i < ARRAY_SIZE(gpr_names); i++) {
		if (&before[i] == &regs_before.rcx || &before[i] == &regs_before.r11)
			continue;
		CHECK(after[i] == before[i], "%s changed across LHCALL_NOP: %lx -> %lx",
		      gpr_names[i], before[i], after[i]);
	}
	for (i = 0; i < 1000; i++)
		CHECK(hcall0(LHCALL_NOP) == 0, "LHCALL_NOP number %u returned non-zero", i);
}
TEST_CASE("hcall-nop", case_hcall_nop, 0);

/* LHCALL_INIT filled in the hypervisor's fields of the shared page. */
static void case_shared_page(void)
{
	u64 t0;

	CHECK(shared.abi_version == LGUEST_ABI_VERSION,
	      "shared page abi_version is %u, expected %u", shared.abi_version,
	      LGUEST_ABI_VERSION);
	CHECK(shared.tsc_khz != 0, "shared page tsc_khz is 0");
	/* 2020-01-01: any host clock that is set at all is later */
	CHECK(shared.wallclock_ns > 1577836800LL * 1000000000LL && shared.wallclock_tsc &&
	      shared.wallclock_tsc < rdtsc(), "shared page wall clock %ld ns at TSC %lu: "
	      "not a set clock read before now", (long)shared.wallclock_ns,
	      (u64)shared.wallclock_tsc);
	t0 = rdtsc();
	spin_ms(1, NULL);
	CHECK(rdtsc() > t0, "the TSC does not advance");
}
TEST_CASE("shared-page", case_shared_page, 0);

/* The zero page follows the boot protocol of <linux/lguest.h>. */
static void case_boot_params(void)
{
	unsigned int i;

	CHECK(boot_params->hdr.hardware_subarch == X86_SUBARCH_LGUEST,
	      "hardware_subarch is %u, expected X86_SUBARCH_LGUEST (%u)",
	      boot_params->hdr.hardware_subarch, X86_SUBARCH_LGUEST);
	CHECK(boot_params->hdr.cmd_line_ptr == LGUEST_BOOT_CMDLINE,
	      "cmd_line_ptr is %x, expected %llx", boot_params->hdr.cmd_line_ptr,
	      LGUEST_BOOT_CMDLINE);
	CHECK(boot_params->e820_entries > 0, "the e820 map is empty");
	for (i = 0; i < boot_params->e820_entries; i++) {
		const struct boot_e820_entry *e = &boot_params->e820_table[i];

		CHECK(e->type != 1 || e->addr >= LGUEST_BOOT_RESERVED,
		      "e820 entry %u marks %llx+%llx as RAM inside the launcher's first MiB",
		      i, e->addr, e->size);
	}
	CHECK(ram_top > LGUEST_BOOT_RESERVED, "e820 shows no RAM above the first MiB");
}
TEST_CASE("boot-params", case_boot_params, 0);

/*
 * Odd but legal arguments do no harm: INVLPG of non-canonical and unmapped
 * addresses, the longest timer, a NOTIFY value of all ones.  The guest
 * goes on, and its mappings still work (the switcher hole has a case of
 * its own: switcher-invlpg).
 */
static void case_hcall_odd_arguments(void)
{
	static const u64 addresses[] = {
		0x8000000000000000UL, UNMAPPED_LOW, ~0UL,
	};
	static volatile u64 still_here = 0x57111;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(addresses); i++)
		hcall1(LHCALL_INVLPG, addresses[i]);
	hcall1(LHCALL_SET_TIMER, ~0UL);
	hcall1(LHCALL_SET_TIMER, 0);
	hcall1(LHCALL_NOTIFY, ~0UL);
	load_pml4(kernel_pml4);
	CHECK(still_here == 0x57111, "the guest's data changed");
	CHECK(!upcalls.count, "%u upcalls from a cancelled longest timer", upcalls.count);
}
TEST_CASE("hcall-odd-arguments", case_hcall_odd_arguments, 0);
