/*
 * trap.c - where every event lands: exceptions, the upcall and user
 * SYSCALLs, all saved by entry.S as struct trap_regs.
 *
 * - Upcalls take the pending lines (atomic exchange, as the ABI asks) and
 *   count them.
 * - Events from user mode end the current user-mode run (run_user()) by
 *   jumping back to the kernel context that started it, except the user
 *   system calls that return to user mode (USER_SYS_NOP, USER_SYS_ECHO).
 * - Debug traps in guest-kernel mode are counted and end the single step.
 * - Faults in guest-kernel mode at an exception-table address are recorded
 *   and resumed at the fixup, like Linux's extable; any other one aborts the
 *   running case with a description (or the whole guest, outside a case).
 */
#include "guest.h"

struct fault_record last_fault;
struct debug_record debug_traps;
struct upcall_record upcalls;
struct user_exit user_echo;
bool user_exit_on_upcall;
bool (*user_fault_mapper)(u64 cr2, u64 error);
unsigned int user_faults_mapped;

static struct user_exit user_exit;
static struct kctx user_ctx;
static bool user_running;

struct extable_entry {
	u64 insn, fixup;
};
extern const struct extable_entry __start_extable[], __stop_extable[];
void probe_exec_fixup(void);

void traps_install(void)
{
	unsigned int vector;

	for (vector = 0; vector < ARRAY_SIZE(trap_entry_table); vector++)
		hcall3(LHCALL_SET_TRAP, vector, trap_entry_table[vector], 0);
	hcall3(LHCALL_SET_TRAP, LGUEST_UPCALL_VECTOR, (u64)trap_entry_upcall, 0);
	hcall3(LHCALL_SET_TRAP, LGUEST_TRAP_SYSCALL, (u64)syscall_entry, 0);
	hcall1(LHCALL_SET_KERNEL_STACK, (u64)kernel_stack_top);
}

/* Interrupts off, no timer, nothing pending, nothing recorded. */
void irq_state_reset(void)
{
	shared.irq_enabled = 0;
	hcall1(LHCALL_SET_TIMER, 0);
	__atomic_exchange_n(&shared.pending, 0, __ATOMIC_SEQ_CST);
	memset(&upcalls, 0, sizeof(upcalls));
	memset(&last_fault, 0, sizeof(last_fault));
	memset(&debug_traps, 0, sizeof(debug_traps));
	user_exit_on_upcall = false;
	exec_probe_target = 0;
}

u64 user_va(const char *stub)
{
	return USER_CODE_VA + (u64)(stub - __user_text_start);
}

struct user_exit *run_user(const char *stub, u64 arg, u64 rflags)
{
	memset(&user_exit, 0, sizeof(user_exit));
	user_running = true;
	if (ctx_save(&user_ctx) == 0)
		enter_user(user_va(stub), USER_STACK_TOP, arg, rflags);
	return &user_exit;
}

/* A user-mode run entered through a frame the case built (and placed). */
struct user_exit *run_user_through(const struct lguest_iret_frame *frame)
{
	memset(&user_exit, 0, sizeof(user_exit));
	user_running = true;
	if (ctx_save(&user_ctx) == 0)
		iret_through(frame);
	return &user_exit;
}

static noreturn void end_user_run(struct trap_regs *regs, u64 irq_enabled)
{
	user_exit.regs = *regs;
	user_exit.cr2 = shared.cr2;
	user_exit.irq_enabled = irq_enabled;
	user_exit.frame_addr = (u64)regs;
	user_running = false;
	ctx_restore(&user_ctx, 1);
}

static void handle_upcall(struct trap_regs *regs, u64 irq_enabled)
{
	u64 lines = __atomic_exchange_n(&shared.pending, 0, __ATOMIC_SEQ_CST);

	upcalls.tsc = rdtsc();
	upcalls.count++;
	upcalls.empty += !lines;
	upcalls.lines |= lines;
	upcalls.irq_enabled_inside = irq_enabled;
	upcalls.rip = regs->rip;
	upcalls.cs = regs->cs;
	upcalls.rflags = regs->rflags;
}

static void handle_user_event(struct trap_regs *regs, u64 irq_enabled)
{
	/* Demand paging: the case maps the page, the instruction runs again. */
	if (regs->vector == X86_TRAP_PF && user_fault_mapper &&
	    user_fault_mapper(shared.cr2, regs->error)) {
		user_faults_mapped++;
		return;
	}
	if (regs->vector == LGUEST_TRAP_SYSCALL) {
		switch (regs->rax) {
		case USER_SYS_NOP:
			regs->rax = 0;
			return;
		case USER_SYS_ECHO:
			user_echo.regs = *regs;
			user_echo.irq_enabled = irq_enabled;
			user_echo.frame_addr = (u64)regs;
			regs->rax = regs->rdi + 1;
			return;
		}
	}
	end_user_run(regs, irq_enabled);
}

/* Where a kernel-mode fault at rip resumes, or 0 if it was not expected. */
static u64 fixup_for(u64 rip)
{
	const struct extable_entry *e;

	if (exec_probe_target && rip == exec_probe_target)
		return (u64)probe_exec_fixup;
	for (e = __start_extable; e < __stop_extable; e++)
		if (e->insn == rip)
			return e->fixup;
	return 0;
}

static noreturn void unexpected_event(struct trap_regs *regs)
{
	static const char fmt[] = "unexpected vector %lu error %lx at rip %lx cs %lx "
				  "rsp %lx (cr2 %lx)";

	if (case_running())
		case_abort(fmt, regs->vector, regs->error, regs->rip, regs->cs,
			   regs->rsp, (u64)shared.cr2);
	shutdown(LGUEST_SHUTDOWN_CRASH, fmt, regs->vector, regs->error, regs->rip,
		 regs->cs, regs->rsp, (u64)shared.cr2);
}

void trap_dispatch(struct trap_regs *regs)
{
	u64 irq_enabled = shared.irq_enabled, fixup;

	if (regs->vector == LGUEST_UPCALL_VECTOR) {
		handle_upcall(regs, irq_enabled);
		if (user_exit_on_upcall && user_running && regs->cs == LGUEST_USER_CS)
			end_user_run(regs, irq_enabled);
		return;
	}
	if (user_running && regs->cs == LGUEST_USER_CS) {
		handle_user_event(regs, irq_enabled);
		return;
	}
	/* A single step in guest-kernel mode: counted, and the stepping ends. */
	if (regs->vector == X86_TRAP_DB) {
		debug_traps.count++;
		debug_traps.rip = regs->rip;
		regs->rflags &= ~EFLAGS_TF;
		return;
	}
	fixup = fixup_for(regs->rip);
	if (regs->vector >= 32 || !fixup)
		unexpected_event(regs);
	last_fault.count++;
	last_fault.vector = regs->vector;
	last_fault.error = regs->error;
	last_fault.rip = regs->rip;
	last_fault.cs = regs->cs;
	last_fault.rsp = regs->rsp;
	last_fault.cr2 = shared.cr2;
	last_fault.irq_enabled = irq_enabled;
	regs->rip = fixup;
}
