/*
 * cases-fatal.c - a guest kernel that breaks the rules must be killed with
 * a reason naming what it did, while the host carries on.  Each case runs
 * alone (case=NAME), announces with expect_crash() the pattern the
 * launcher's crash report must contain, then misbehaves.  Reaching the
 * end of one of these functions means lg.ko let the guest live: FAIL.
 *
 * Also here, at the end of the list because a broken lg.ko may not survive
 * them: attacks the guest must survive (iret-iopl, switcher-invlpg), and
 * the "spin" helper the runner kills from outside.
 */
#include "guest.h"

#define IOPL3		0x3000UL

static void case_spin(void);

static void survived(const char *what, u64 result)
{
	case_fail("%s returned %lx and the guest is still alive", what, result);
}

static void case_bad_hcall_number(void)
{
	expect_crash("999");
	survived("hypercall 999", hcall0(999));
}
TEST_CASE("bad-hcall-number", case_bad_hcall_number, CASE_FATAL);

/* The runner's guests have two vCPUs (cases-smp.c): 2 is one too many. */
static void case_bad_start_vcpu(void)
{
	expect_crash("START_VCPU.*no vCPU 2");
	survived("LHCALL_START_VCPU of vCPU 2",
		 hcall5(LHCALL_START_VCPU, 2, (u64)case_spin, ALTERNATE_STACK_TOP,
			(u64)kernel_pml4 - DIRECT_MAP, 0));
}
TEST_CASE("bad-start-vcpu", case_bad_start_vcpu, CASE_FATAL);

static void case_bad_start_vcpu_tables(void)
{
	expect_crash("START_VCPU.*page tables");
	survived("LHCALL_START_VCPU with tables beyond RAM",
		 hcall5(LHCALL_START_VCPU, 1, (u64)case_spin, ALTERNATE_STACK_TOP,
			FAR_BEYOND_RAM, 0));
}
TEST_CASE("bad-start-vcpu-tables", case_bad_start_vcpu_tables, CASE_FATAL);

static void case_bad_send_ipi_mask(void)
{
	expect_crash("SEND_IPI.*mask");
	survived("LHCALL_SEND_IPI to vCPU 2 of 2", hcall2(LHCALL_SEND_IPI, 1UL << 2, 7));
}
TEST_CASE("bad-send-ipi-mask", case_bad_send_ipi_mask, CASE_FATAL);

static void case_bad_send_ipi_line(void)
{
	expect_crash("SEND_IPI.*line 0");
	survived("LHCALL_SEND_IPI of the timer line",
		 hcall2(LHCALL_SEND_IPI, 1UL << 0, LGUEST_IRQ_TIMER));
}
TEST_CASE("bad-send-ipi-line", case_bad_send_ipi_line, CASE_FATAL);

static void case_bad_console_addr(void)
{
	expect_crash("console");
	survived("LHCALL_CONSOLE_WRITE from an unmapped address",
		 hcall2(LHCALL_CONSOLE_WRITE, UNMAPPED_LOW, 16));
}
TEST_CASE("bad-console-addr", case_bad_console_addr, CASE_FATAL);

static void case_bad_trap_vector(void)
{
	expect_crash("set.?trap");
	survived("LHCALL_SET_TRAP for vector 300",
		 hcall3(LHCALL_SET_TRAP, 300, trap_entry_table[0], 0));
}
TEST_CASE("bad-trap-vector", case_bad_trap_vector, CASE_FATAL);

static void case_bad_load_cr3(void)
{
	expect_crash("cr3");
	survived("LHCALL_LOAD_CR3 beyond RAM", hcall1(LHCALL_LOAD_CR3, FAR_BEYOND_RAM));
}
TEST_CASE("bad-load-cr3", case_bad_load_cr3, CASE_FATAL);

static void case_bad_flush_flags(void)
{
	expect_crash("FLUSH_TLB.*flags");
	survived("LHCALL_FLUSH_TLB with unknown flags", hcall1(LHCALL_FLUSH_TLB, 0x80));
}
TEST_CASE("bad-flush-flags", case_bad_flush_flags, CASE_FATAL);

/* A breakpoint the switcher could hit: in the hypervisor hole. */
static void case_bad_debugreg_address(void)
{
	expect_crash("breakpoint.*hole");
	survived("LHCALL_SET_DEBUGREG of DR0 in the hole",
		 hcall2(LHCALL_SET_DEBUGREG, 0, HOLE_START + 0x2000));
}
TEST_CASE("bad-debugreg-address", case_bad_debugreg_address, CASE_FATAL);

/* General detect (DR7.GD) would trap the host's own debug register moves. */
static void case_bad_dr7(void)
{
	expect_crash("DR7");
	survived("LHCALL_SET_DEBUGREG of DR7 with GD", hcall2(LHCALL_SET_DEBUGREG, 7, 1UL << 13));
}
TEST_CASE("bad-dr7", case_bad_dr7, CASE_FATAL);

/* I/O breakpoints (R/W = 10b) need CR4.DE, which a guest does not have. */
static void case_bad_dr7_io(void)
{
	expect_crash("I/O breakpoint");
	survived("LHCALL_SET_DEBUGREG of an I/O breakpoint",
		 hcall2(LHCALL_SET_DEBUGREG, 7, 0x1UL | 0x2UL << 16));
}
TEST_CASE("bad-dr7-io", case_bad_dr7_io, CASE_FATAL);

/* A second LHCALL_INIT, for a page beyond RAM at that. */
static void case_bad_shared_page(void)
{
	expect_crash("init");
	survived("LHCALL_INIT beyond RAM", hcall1(LHCALL_INIT, FAR_BEYOND_RAM));
}
TEST_CASE("bad-shared-page", case_bad_shared_page, CASE_FATAL);

/* A non-canonical base would make the host's own WRMSR fault. */
static void case_bad_segment_base(void)
{
	expect_crash("segment");
	survived("LHCALL_SET_SEGMENT_BASE with a non-canonical fs base",
		 hcall2(LHCALL_SET_SEGMENT_BASE, LGUEST_SEG_FS, 0x8000000000000000UL));
}
TEST_CASE("bad-segment-base", case_bad_segment_base, CASE_FATAL);

/* The same base stored in the shared page, taken at the next entry. */
static void case_bad_shared_fs_base(void)
{
	expect_crash("shared page.*not canonical");
	shared.fs_base = 0x8000000000000000UL;
	survived("a non-canonical fs base in the shared page", hcall0(LHCALL_NOP));
}
TEST_CASE("bad-shared-fs-base", case_bad_shared_fs_base, CASE_FATAL);

/* A kernel stack stored there that no frame could ever be pushed to. */
static void case_bad_shared_kernel_stack(void)
{
	expect_crash("shared page.*not canonical");
	shared.kernel_stack = 0x8000000000000000UL;
	survived("a non-canonical kernel stack in the shared page", hcall0(LHCALL_NOP));
}
TEST_CASE("bad-shared-kernel-stack", case_bad_shared_kernel_stack, CASE_FATAL);

static void case_bad_shutdown_kind(void)
{
	static const char reason[] = "kind 7";

	expect_crash("shutdown");
	survived("LHCALL_SHUTDOWN of kind 7",
		 hcall3(LHCALL_SHUTDOWN, 7, (u64)reason, sizeof(reason) - 1));
}
TEST_CASE("bad-shutdown-kind", case_bad_shutdown_kind, CASE_FATAL);

/* Selector 0x08 is the host kernel's code segment. */
static void case_bad_iret_cs(void)
{
	expect_crash("iret");
	iret_to_next(0x08, RFLAGS_FIXED);
	survived("LHCALL_IRET to cs 0x08", 0);
}
TEST_CASE("bad-iret-cs", case_bad_iret_cs, CASE_FATAL);

/* An event whose handler was removed (handler 0) has nowhere to go. */
static void case_no_handler(void)
{
	expect_crash("handler");
	hcall3(LHCALL_SET_TRAP, X86_TRAP_UD, 0, 0);
	asm volatile("ud2");
	survived("ud2 without a #UD handler", 0);
}
TEST_CASE("no-handler", case_no_handler, CASE_FATAL);

/*
 * A #PF handler that faults itself, on a stack at the bottom of the direct
 * map: each nested fault pushes a frame lower until the next frame would
 * land in the switcher hole, the native triple fault.
 */
void faulting_pf_handler(void);
asm(".pushsection .text\n"
    "faulting_pf_handler:\n"
    "	mov 0x12345678, %rax\n"	/* UNMAPPED_LOW */
    "	jmp faulting_pf_handler\n"
    ".popsection");

static void case_fault_in_fault_handler(void)
{
	expect_crash("fault");
	hcall3(LHCALL_SET_TRAP, X86_TRAP_PF, (u64)faulting_pf_handler, 0);
	asm volatile("mov %0, %%rsp\n\t"
		     "jmp faulting_pf_handler"
		     :: "r"(DIRECT_MAP + 0x800) : "memory");
	__builtin_unreachable();
}
TEST_CASE("fault-in-fault-handler", case_fault_in_fault_handler, CASE_FATAL);

/*
 * A kernel stack in the switcher hole: the frame for the next event from
 * user mode cannot be pushed, and lg.ko must not push it into its own
 * pages either.
 */
static void case_bad_kernel_stack(void)
{
	expect_crash("fault|stack");
	hcall1(LHCALL_SET_KERNEL_STACK, HOLE_START + 0x2000);
	run_user(user_read, UNMAPPED_LOW, USER_RFLAGS);
	survived("a user fault with the kernel stack in the switcher hole", 0);
}
TEST_CASE("bad-kernel-stack", case_bad_kernel_stack, CASE_FATAL);

static void case_shutdown_crash(void)
{
	expect_crash("test guest asked to crash");
	shutdown(LGUEST_SHUTDOWN_CRASH, "test guest asked to crash");
}
TEST_CASE("shutdown-crash", case_shutdown_crash, CASE_FATAL);

int probe_cli(void), probe_sti(void);

/*
 * IOPL 3 in an LHCALL_IRET frame must not reach the real rflags: pushf
 * shows IOPL 0, and cli is still lg.ko's emulation (it clears the virtual
 * IF) rather than the real instruction (which would clear the real one).
 */
static void case_iret_iopl(void)
{
	u64 rflags;

	iret_to_next(LGUEST_KERNEL_CS, IOPL3 | RFLAGS_FIXED);
	asm volatile("pushf; pop %0" : "=r"(rflags));
	CHECK(!(rflags & IOPL3), "LHCALL_IRET gave the guest IOPL %lu", (rflags & IOPL3) >> 12);
	shared.irq_enabled = LGUEST_IF_FLAG;
	CHECK(probe_cli() == 0 && shared.irq_enabled == 0,
	      "cli after an IOPL 3 frame left the virtual IF at %lx: it ran for real",
	      (u64)shared.irq_enabled);
	CHECK(probe_sti() == 0 && shared.irq_enabled == LGUEST_IF_FLAG,
	      "sti after an IOPL 3 frame left the virtual IF at %lx", (u64)shared.irq_enabled);
	shared.irq_enabled = 0;
}
TEST_CASE("iret-iopl", case_iret_iopl, 0);

/*
 * INVLPG and FLUSH_TLB of switcher addresses, then a CR3 load and more
 * world switches: the guest's "forget this page" must never reach the
 * switcher's own mappings.  Last in the list: if this takes the host down,
 * every other case has reported.
 */
static void case_switcher_invlpg(void)
{
	static const u64 addresses[] = {
		HOLE_START, HOLE_START + 0x1000, HOLE_START + 0x200000, HOLE_END - 0x1000,
	};
	unsigned int i;
	u64 value;

	for (i = 0; i < ARRAY_SIZE(addresses); i++)
		hcall1(LHCALL_INVLPG, addresses[i]);
	load_pml4(kernel_pml4);
	hcall0(LHCALL_FLUSH_TLB);
	for (i = 0; i < 100; i++)
		hcall0(LHCALL_NOP);
	CHECK(probe_read(addresses[0], &value) == 1 && last_fault.vector == X86_TRAP_PF,
	      "the switcher hole at %lx became readable", addresses[0]);
}
TEST_CASE("switcher-invlpg", case_switcher_invlpg, 0);

/* Says "spinning" and spins, interrupts on and the timer ticking. */
noreturn void spin_announced(void)
{
	kprintf("spinning\n");
	shared.irq_enabled = LGUEST_IF_FLAG;
	hcall1(LHCALL_SET_TIMER, 1000000);
	for (;;)
		cpu_relax();
}

/* For the runner: a busy guest to kill from outside (SIGKILL teardown). */
static void case_spin(void)
{
	spin_announced();
}
TEST_CASE("spin", case_spin, CASE_MANUAL);

/* For the runner: a guest asleep in LHCALL_HALT with a 3 s timer armed. */
static void case_halt_timer(void)
{
	kprintf("halting\n");
	for (;;) {
		hcall1(LHCALL_SET_TIMER, 3000000000UL);
		hcall0(LHCALL_HALT);
	}
}
TEST_CASE("halt-timer", case_halt_timer, CASE_MANUAL);

/*
 * Returns to user mode that the switcher's fast path must hand to the slow
 * one, which kills the guest for them: a frame's rip that is not canonical
 * (an IRETQ with it would fault inside the switcher), a user gs base in the
 * shared page that is not (so would the WRMSR), a frame in the hypervisor
 * hole (where the switcher's own pages are).
 */
static void case_bad_iret_user_rip(void)
{
	expect_crash("IRET: non-canonical rip");
	run_user((const char *)((u64)__user_text_start + 0x8000000000000000UL -
				USER_CODE_VA), 0, USER_RFLAGS);
	survived("LHCALL_IRET to user mode at a non-canonical rip", 0);
}
TEST_CASE("bad-iret-user-rip", case_bad_iret_user_rip, CASE_FATAL);

static void case_bad_shared_gs_at_user_return(void)
{
	expect_crash("shared page.*not canonical");
	shared.gs_base_user = 0x8000000000000000UL;
	run_user(user_syscall_loop, 1, USER_RFLAGS);
	survived("a non-canonical user gs base at the return to user mode", 0);
}
TEST_CASE("bad-shared-gs-at-user-return", case_bad_shared_gs_at_user_return, CASE_FATAL);

static void case_iret_frame_in_hole(void)
{
	expect_crash("IRET: frame at 0xffff8000000");
	iret_through((const struct lguest_iret_frame *)(0xffff800000000000UL + 2 * PAGE_SIZE +
							4096 - 0xb0));
}
TEST_CASE("iret-frame-in-hole", case_iret_frame_in_hole, CASE_FATAL);
