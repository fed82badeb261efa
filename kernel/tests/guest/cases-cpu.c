/*
 * cases-cpu.c - the CPU a guest and its processes see: XSAVE state with the
 * guest's own XCR0, the CR4-controlled instructions a guest runs without,
 * the vDSO's CPU number, the MSR Intel's boot code reads natively, debug
 * exceptions and hardware breakpoints, and INVLPG of a large page.
 */
#include "guest.h"

#define CPUID1_ECX_XSAVE	(1U << 26)
#define CPUID1_ECX_AVX		(1U << 28)
#define CPUID7_EBX_FSGSBASE	(1U << 0)
#define CPUID7_ECX_PKU		(1U << 3)
#define XCR0_X87_SSE		0x3UL
#define XCR0_YMM		0x4UL
#define DR6_BS			(1UL << 14)
#define DR6_B0			(1UL << 0)
#define DR7_L0_WRITE_8		(0x1UL | 0x1UL << 16 | 0x2UL << 18)	/* L0, RW=01, LEN=8 */
#define DR7_L0_RW_8		(0x1UL | 0x3UL << 16 | 0x2UL << 18)	/* L0, RW=11, LEN=8 */
#define CPU_VA			(SCRATCH_VA + 0x1000000)	/* this file's own */
#define CPU_USER_VA		0xc00000UL
#define LARGE_VA		(SCRATCH_VA + 0x40000000UL)	/* a 2 MiB PDE of ours */

int probe_xgetbv(u64 *v), probe_rdpkru(u64 *v), probe_rdmsr_ucode(u64 *v);
int probe_xsetbv(u64 xcr0), probe_wrmsr_ucode(void), probe_wrfsbase(u64 base),
	probe_wrpkru(u64 pkru), probe_ymm_load(const u64 *words);
void ymm_store(u64 *words);
void set_tf(void);

static void cpuid(u32 leaf, u32 subleaf, u32 r[4])
{
	asm volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
		     : "a"(leaf), "c"(subleaf));
}

static bool faulted_with(int probe_result, u64 vector)
{
	return probe_result == 1 && last_fault.vector == vector;
}

/*
 * XSETBV is the guest's: XGETBV (at CPL 3, natively) reads back what it
 * set, invalid combinations raise #GP as natively, and the AVX registers
 * keep their upper halves across hypercalls, faults and host interrupts.
 * Without XSAVE (qemu64) both instructions are #UD, as natively.
 */
static void case_xsave_state(void)
{
	static const u64 pattern[4] = { 0x1111222233334444, 0x5555666677778888,
					0x9999aaaabbbbcccc, 0xddddeeeeffff0000 };
	u64 xcr0 = 0, allowed, back[4] = { 0 };
	u32 r[4];

	cpuid(1, 0, r);
	if (!(r[2] & CPUID1_ECX_XSAVE)) {
		CHECK(faulted_with(probe_xgetbv(&xcr0), X86_TRAP_UD),
		      "XGETBV without XSAVE: vector %lu, expected #UD", last_fault.vector);
		CHECK(faulted_with(probe_xsetbv(XCR0_X87_SSE), X86_TRAP_UD),
		      "XSETBV without XSAVE: vector %lu, expected #UD", last_fault.vector);
		return;
	}
	cpuid(0xd, 0, r);
	allowed = r[0] | (u64)r[3] << 32;
	CHECK(probe_xgetbv(&xcr0) == 0, "XGETBV raised vector %lu", last_fault.vector);
	CHECK((xcr0 & ~allowed) == 0 && (xcr0 & XCR0_X87_SSE) == XCR0_X87_SSE,
	      "XCR0 at boot is %lx, CPUID leaf 0xd allows %lx", xcr0, allowed);
	CHECK(faulted_with(probe_xsetbv(0x5), X86_TRAP_GP),
	      "XSETBV of AVX without SSE: vector %lu, expected #GP", last_fault.vector);
	CHECK(faulted_with(probe_xsetbv(allowed | (1UL << 62)), X86_TRAP_GP),
	      "XSETBV of an unknown feature: vector %lu, expected #GP", last_fault.vector);
	CHECK(probe_xsetbv(XCR0_X87_SSE) == 0 && probe_xgetbv(&xcr0) == 0 &&
	      xcr0 == XCR0_X87_SSE, "XSETBV(3) then XGETBV gave %lx", xcr0);
	if (!(allowed & XCR0_YMM)) {
		CHECK(probe_xsetbv(allowed) == 0, "XSETBV of the CPUID mask failed");
		return;
	}
	CHECK(faulted_with(probe_ymm_load(pattern), X86_TRAP_UD),
	      "an AVX load with XCR0 = 3: vector %lu, expected #UD", last_fault.vector);
	CHECK(probe_xsetbv(allowed) == 0 && probe_xgetbv(&xcr0) == 0 && xcr0 == allowed,
	      "XSETBV(%lx) then XGETBV gave %lx", allowed, xcr0);
	CHECK(probe_ymm_load(pattern) == 0, "an AVX load raised vector %lu",
	      last_fault.vector);
	hcall0(LHCALL_NOP);
	probe_read(UNMAPPED_LOW, &xcr0);
	spin_ms(50, NULL);
	ymm_store(back);
	CHECK(!memcmp(back, pattern, sizeof(back)), "ymm7 holds %lx %lx %lx %lx after "
	      "a hypercall, a fault and 50 ms of host interrupts, expected %lx %lx %lx %lx",
	      back[0], back[1], back[2], back[3], pattern[0], pattern[1], pattern[2],
	      pattern[3]);
}
TEST_CASE("xsave-state", case_xsave_state, 0);

/*
 * What a guest kernel cannot switch per process it runs without, so the
 * instructions fault as on a CPU without them: WRFSBASE and RD/WRPKRU
 * raise #UD even where the host has FSGSBASE and protection keys on.
 */
static void case_cr4_off_features(void)
{
	u64 value;
	u32 r[4];

	cpuid(7, 0, r);
	CHECK(faulted_with(probe_wrfsbase(0x1000), X86_TRAP_UD),
	      "WRFSBASE (host CPUID has FSGSBASE: %s): vector %lu, expected #UD",
	      r[1] & CPUID7_EBX_FSGSBASE ? "yes" : "no", last_fault.vector);
	CHECK(faulted_with(probe_rdpkru(&value), X86_TRAP_UD),
	      "RDPKRU (host CPUID has PKU: %s): vector %lu, expected #UD",
	      r[2] & CPUID7_ECX_PKU ? "yes" : "no", last_fault.vector);
	CHECK(faulted_with(probe_wrpkru(0), X86_TRAP_UD),
	      "WRPKRU: vector %lu, expected #UD", last_fault.vector);
}
TEST_CASE("cr4-off-features", case_cr4_off_features, 0);

/* The vDSO's getcpu: LSL of selector 0x7b gives CPU 0, node 0 (cases-smp.c: 1 on vCPU 1). */
static void case_getcpu_descriptor(void)
{
	u64 limit = ~0UL;

	CHECK(lsl_cpunode(&limit) == 0, "LSL of selector 0x7b failed: no descriptor");
	CHECK(limit == 0, "LSL of selector 0x7b gave %lx, expected CPU 0 node 0", limit);
}
TEST_CASE("getcpu-descriptor", case_getcpu_descriptor, 0);

/* Intel's boot code reads the microcode revision natively: 0, and no #GP. */
static void case_microcode_msr(void)
{
	u64 value = ~0UL;

	CHECK(probe_wrmsr_ucode() == 0, "WRMSR 0x8b raised vector %lu", last_fault.vector);
	CHECK(probe_rdmsr_ucode(&value) == 0, "RDMSR 0x8b raised vector %lu",
	      last_fault.vector);
	CHECK(value == 0, "RDMSR 0x8b read %lx, expected 0", value);
}
TEST_CASE("microcode-msr", case_microcode_msr, 0);

/* A single step in guest-kernel mode: one #DB, and DR6 says BS. */
static void case_debug_single_step(void)
{
	shared.dr6 = 0;
	set_tf();
	CHECK(debug_traps.count == 1, "%u debug traps after one single step",
	      debug_traps.count);
	CHECK(shared.dr6 & DR6_BS, "DR6 after a single step is %lx, without BS",
	      (u64)shared.dr6);
}
TEST_CASE("debug-single-step", case_debug_single_step, 0);

static volatile u64 watched;

/*
 * A data breakpoint on a kernel variable: the write traps once, DR6 names
 * breakpoint 0, and with DR7 off again the next write does not.
 */
static void case_debug_watchpoint(void)
{
	shared.dr6 = 0;
	hcall2(LHCALL_SET_DEBUGREG, 0, (u64)&watched);
	hcall2(LHCALL_SET_DEBUGREG, 7, DR7_L0_WRITE_8);
	watched = 1;
	hcall2(LHCALL_SET_DEBUGREG, 7, 0);
	CHECK(debug_traps.count == 1, "%u debug traps after a watched write",
	      debug_traps.count);
	CHECK(shared.dr6 & DR6_B0, "DR6 after the watched write is %lx, without B0",
	      (u64)shared.dr6);
	watched = 2;
	CHECK(debug_traps.count == 1, "a write with DR7 off trapped");
}
TEST_CASE("debug-watchpoint", case_debug_watchpoint, 0);

/*
 * The CVE-2018-8897 pattern from user mode: a watchpoint on what MOV SS
 * reads, then SYSCALL.  Natively the trap is held back past the SYSCALL;
 * here it lands on the switcher's first instruction, on the #DB stack.  The
 * host must survive it and the guest see its system call (or, on a CPU that
 * does not hold the trap back, a #DB at the MOV).
 */
static void case_debug_movss_syscall(void)
{
	u64 page = alloc_page();
	struct user_exit *e;

	*(u64 *)phys_to_virt(page) = LGUEST_USER_DS;
	map_page(kernel_pml4, CPU_USER_VA, page, PTE_U | PTE_W);
	hcall2(LHCALL_SET_DEBUGREG, 0, CPU_USER_VA);
	hcall2(LHCALL_SET_DEBUGREG, 7, DR7_L0_RW_8);
	e = run_user(user_movss_syscall, CPU_USER_VA, USER_RFLAGS);
	hcall2(LHCALL_SET_DEBUGREG, 7, 0);
	unmap_page(kernel_pml4, CPU_USER_VA);
	CHECK(e->regs.vector == LGUEST_TRAP_SYSCALL || e->regs.vector == X86_TRAP_DB,
	      "the user run ended by vector %lu at rip %lx, expected its SYSCALL",
	      e->regs.vector, e->regs.rip);
}
TEST_CASE("debug-movss-syscall", case_debug_movss_syscall, 0);

/*
 * One INVLPG anywhere in a 2 MiB page forgets all of it, as natively (the
 * shadow maps it with 4 KiB entries): after the PDE moves to another 2 MiB
 * of RAM, both halves read the new memory.
 */
static void case_invlpg_large_page(void)
{
	u64 *pde = entry_lookup(kernel_pml4, LARGE_VA, 2, 0);
	/* the top 4 MiB of RAM, far above what the page allocator handed out */
	u64 first = (ram_top - 0x400000) & ~0x1fffffUL;
	u64 second = first + 0x200000, near = 0x1000, far = 0x1ff000;

	if (alloc_page() >= first) {
		case_fail("the page allocator reached the top 4 MiB of RAM");
		return;
	}
	*(volatile u64 *)phys_to_virt(first + near) = 0xf1;
	*(volatile u64 *)phys_to_virt(first + far) = 0xf2;
	*(volatile u64 *)phys_to_virt(second + near) = 0x51;
	*(volatile u64 *)phys_to_virt(second + far) = 0x52;
	*pde = first | PTE_P | PTE_W | PTE_PS;
	CHECK(*(volatile u64 *)(LARGE_VA + near) == 0xf1 &&
	      *(volatile u64 *)(LARGE_VA + far) == 0xf2, "the first large page reads wrong");
	*pde = second | PTE_P | PTE_W | PTE_PS;
	hcall1(LHCALL_INVLPG, LARGE_VA);
	CHECK(*(volatile u64 *)(LARGE_VA + near) == 0x51, "%lx reads %lx after the PDE "
	      "moved and one INVLPG, expected 0x51", LARGE_VA + near,
	      *(volatile u64 *)(LARGE_VA + near));
	CHECK(*(volatile u64 *)(LARGE_VA + far) == 0x52, "%lx reads %lx after the PDE "
	      "moved and one INVLPG of %lx, expected 0x52 (a stale 4 KiB translation)",
	      LARGE_VA + far, *(volatile u64 *)(LARGE_VA + far), LARGE_VA);
	*pde = 0;
	hcall1(LHCALL_INVLPG, LARGE_VA);
}
TEST_CASE("invlpg-large-page", case_invlpg_large_page, 0);
