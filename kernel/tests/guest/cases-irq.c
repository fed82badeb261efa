/*
 * cases-irq.c - the virtual interrupt flag, the pending and masked
 * bitmaps, the one-shot timer and halt, as <linux/lguest.h> describes
 * them: an upcall only arrives when a line is pending, unmasked and the
 * virtual IF is on; re-enabling with a line pending needs a hypercall.
 */
#include "guest.h"

#define TIMER_BIT	(1UL << LGUEST_IRQ_TIMER)
#define MS		1000000UL	/* LHCALL_SET_TIMER counts nanoseconds */
#define PATIENCE_MS	5000		/* far longer than any timer we arm */

static bool timer_line_raised(void)
{
	return shared.pending & TIMER_BIT;
}

static bool upcall_seen(void)
{
	return upcalls.count > 0;
}

/* Waiting needs the TSC's frequency, which only the shared page gives. */
static bool can_time_waits(void)
{
	if (tsc_per_ms())
		return true;
	case_fail("the shared page's tsc_khz is 0: cannot time a wait");
	return false;
}

/* What every upcall in guest-kernel mode must look like. */
static bool kernel_upcall_ok(const char *what)
{
	if (!(upcalls.lines & TIMER_BIT)) {
		case_fail("%s: the upcall found lines %lx, not the timer", what, upcalls.lines);
		return false;
	}
	if (upcalls.cs != LGUEST_KERNEL_CS || !(upcalls.rflags & LGUEST_IF_FLAG)) {
		case_fail("%s: upcall frame cs %lx rflags %lx, expected kernel cs with IF",
			  what, upcalls.cs, upcalls.rflags);
		return false;
	}
	if (upcalls.irq_enabled_inside) {
		case_fail("%s: virtual IF on inside the upcall handler", what);
		return false;
	}
	if (shared.irq_enabled != LGUEST_IF_FLAG) {
		case_fail("%s: virtual IF %lx after LHCALL_IRET from the upcall, expected on",
			  what, (u64)shared.irq_enabled);
		return false;
	}
	return true;
}

/* With the virtual IF off the timer stays pending until IF + LHCALL_NOP. */
static void case_timer_masked_by_if(void)
{
	if (!can_time_waits())
		return;
	hcall1(LHCALL_SET_TIMER, 1 * MS);
	spin_ms(PATIENCE_MS, timer_line_raised);
	CHECK(timer_line_raised(), "timer line not pending %u ms after a 1 ms timer "
	      "(pending %lx)", PATIENCE_MS, (u64)shared.pending);
	spin_ms(5, NULL);
	CHECK(upcalls.count == 0, "%u upcalls arrived with the virtual IF off",
	      upcalls.count);
	CHECK(shared.irq_pending, "irq_pending is 0 with the timer line pending");
	shared.irq_enabled = LGUEST_IF_FLAG;
	hcall0(LHCALL_NOP);
	CHECK(upcalls.count == 1, "%u upcalls after enabling and LHCALL_NOP, expected 1",
	      upcalls.count);
	kernel_upcall_ok("timer after re-enable");
}
TEST_CASE("timer-masked-by-if", case_timer_masked_by_if, 0);

/* With the virtual IF on the timer interrupts a busy loop by itself. */
static void case_timer_async(void)
{
	if (!can_time_waits())
		return;
	shared.irq_enabled = LGUEST_IF_FLAG;
	hcall1(LHCALL_SET_TIMER, 1 * MS);
	spin_ms(PATIENCE_MS, upcall_seen);
	CHECK(upcalls.count == 1, "%u upcalls within %u ms of a 1 ms timer, expected 1",
	      upcalls.count, PATIENCE_MS);
	kernel_upcall_ok("timer during a busy loop");
}
TEST_CASE("timer-async", case_timer_async, 0);

/* A masked line stays pending without raising irq_pending. */
static void case_timer_masked_line(void)
{
	if (!can_time_waits())
		return;
	shared.masked = TIMER_BIT;
	shared.irq_enabled = LGUEST_IF_FLAG;
	hcall1(LHCALL_SET_TIMER, 1 * MS);
	spin_ms(PATIENCE_MS, timer_line_raised);
	CHECK(timer_line_raised(), "masked timer line never became pending");
	hcall0(LHCALL_NOP);
	CHECK(upcalls.count == 0, "an upcall arrived for a masked line");
	CHECK(!shared.irq_pending, "irq_pending %lx set for a masked line",
	      (u64)shared.irq_pending);
	shared.masked = 0;
	hcall0(LHCALL_NOP);
	CHECK(upcalls.count == 1, "%u upcalls after unmasking and LHCALL_NOP, expected 1",
	      upcalls.count);
	kernel_upcall_ok("timer after unmask");
}
TEST_CASE("timer-masked-line", case_timer_masked_line, 0);

/*
 * LHCALL_SET_TIMER(0) cancels.  The timer is armed 100 ms ahead so that
 * the cancel surely comes first (a line raised before it would rightly
 * stay pending); then a new 1 ms timer fires exactly once.
 */
static void case_timer_cancel(void)
{
	if (!can_time_waits())
		return;
	shared.irq_enabled = LGUEST_IF_FLAG;
	hcall1(LHCALL_SET_TIMER, 100 * MS);
	hcall1(LHCALL_SET_TIMER, 0);
	spin_ms(200, NULL);
	CHECK(upcalls.count == 0 && !timer_line_raised(),
	      "a cancelled timer fired (%u upcalls)", upcalls.count);
	hcall1(LHCALL_SET_TIMER, 1 * MS);
	spin_ms(PATIENCE_MS, upcall_seen);
	spin_ms(20, NULL);
	CHECK(upcalls.count == 1, "%u upcalls from one re-armed timer", upcalls.count);
}
TEST_CASE("timer-cancel", case_timer_cancel, 0);

/* LHCALL_HALT enables interrupts, sleeps, and returns after the upcall. */
static void case_halt_wakeup(void)
{
	hcall1(LHCALL_SET_TIMER, 2 * MS);
	hcall0(LHCALL_HALT);
	CHECK(upcalls.count == 1, "LHCALL_HALT returned after %u upcalls, expected 1",
	      upcalls.count);
	kernel_upcall_ok("halt");
}
TEST_CASE("halt-wakeup", case_halt_wakeup, 0);

/* The timer interrupts user mode: a USER_CS frame on the kernel stack. */
static void case_timer_in_user(void)
{
	struct user_exit *e;

	user_exit_on_upcall = true;
	hcall1(LHCALL_SET_TIMER, 1 * MS);
	e = run_user(user_spin, 0, USER_RFLAGS);
	CHECK(e->regs.vector == LGUEST_UPCALL_VECTOR, "user run ended by vector %lu "
	      "(rip %lx), expected the upcall", e->regs.vector, e->regs.rip);
	CHECK(e->regs.cs == LGUEST_USER_CS && e->regs.ss == LGUEST_USER_DS,
	      "upcall from user mode: frame cs %lx ss %lx", e->regs.cs, e->regs.ss);
	CHECK(e->regs.rip >= user_va(user_spin) && e->regs.rip < user_va(user_spin) + 8,
	      "upcall frame rip %lx is not in the user loop at %lx", e->regs.rip,
	      user_va(user_spin));
	CHECK(e->frame_addr >= (u64)kernel_stack && e->frame_addr < (u64)kernel_stack_top,
	      "upcall frame from user mode at %lx, not on the kernel stack", e->frame_addr);
	CHECK(upcalls.lines & TIMER_BIT, "the upcall found lines %lx", upcalls.lines);
	CHECK(!e->irq_enabled, "virtual IF on inside the upcall handler");
}
TEST_CASE("timer-in-user", case_timer_in_user, 0);

/*
 * An interrupt pending when the kernel returns to user mode is delivered
 * at once, from user mode: on the kernel stack the kernel has just stored
 * in the shared page (as a context switch does before its IRET), not on
 * the one lg.ko had before.
 */
static void case_upcall_at_return_to_user(void)
{
	u64 top = ALTERNATE_STACK_TOP;
	struct user_exit *e;

	if (!can_time_waits())
		return;
	hcall1(LHCALL_SET_TIMER, 1 * MS);
	spin_ms(PATIENCE_MS, timer_line_raised);
	CHECK(timer_line_raised(), "timer line not pending %u ms after a 1 ms timer",
	      PATIENCE_MS);
	user_exit_on_upcall = true;
	shared.kernel_stack = top;
	e = run_user(user_spin, 0, USER_RFLAGS);
	shared.kernel_stack = (u64)kernel_stack_top;
	CHECK(e->regs.vector == LGUEST_UPCALL_VECTOR, "user run ended by vector %lu, "
	      "expected the pending upcall", e->regs.vector);
	CHECK(e->frame_addr >= (u64)alternate_stack && e->frame_addr < top,
	      "upcall at the return to user mode: frame at %lx, not on the stored kernel "
	      "stack %lx", e->frame_addr, top);
}
TEST_CASE("upcall-at-return-to-user", case_upcall_at_return_to_user, 0);

/*
 * Exceptions enter with the virtual IF off (interrupt gate) unless the
 * handler was registered with LGUEST_TRAP_KEEP_IRQS; int3 also proves
 * that a trap's frame points after the instruction.
 */
static void case_trap_keep_irqs(void)
{
	const u64 bp_entry = trap_entry_table[3];

	shared.irq_enabled = LGUEST_IF_FLAG;
	CHECK(probe_int3() == 1, "int3 did not reach the #BP handler");
	CHECK(last_fault.vector == 3, "int3 raised vector %lu", last_fault.vector);
	CHECK(!last_fault.irq_enabled, "virtual IF on inside a handler without "
	      "LGUEST_TRAP_KEEP_IRQS");
	CHECK(shared.irq_enabled == LGUEST_IF_FLAG, "virtual IF %lx after returning "
	      "from #BP, expected on again", (u64)shared.irq_enabled);
	hcall3(LHCALL_SET_TRAP, 3, bp_entry, LGUEST_TRAP_KEEP_IRQS);
	probe_int3();
	hcall3(LHCALL_SET_TRAP, 3, bp_entry, 0);
	CHECK(last_fault.count == 2, "the second int3 was not delivered");
	CHECK(last_fault.irq_enabled == LGUEST_IF_FLAG, "virtual IF %lx inside a "
	      "LGUEST_TRAP_KEEP_IRQS handler, expected on", last_fault.irq_enabled);
}
TEST_CASE("trap-keep-irqs", case_trap_keep_irqs, 0);

void fpu_load(const u64 xmm[32], u32 mxcsr);
void fpu_store(u64 xmm[32], u32 *mxcsr);

#define MXCSR_DEFAULT	0x1f80
#define MXCSR_ROUND_UP	0x5f80		/* all exceptions masked, round up */

/*
 * The guest's SSE registers and MXCSR are its own: they survive exits to
 * the launcher (console and notify: its compiled code may use SSE), a
 * halt with the host scheduling other work, and the timer's upcall.
 */
static void case_fpu_preserved(void)
{
	u64 want[32], got[32];
	u32 mxcsr = 0;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(want); i++)
		want[i] = REG_PATTERN(i) * 0x10001;
	fpu_load(want, MXCSR_ROUND_UP);
	kprintf("fpu-preserved: a console exit with the guest's SSE state loaded\n");
	for (i = 0; i < 50; i++)
		hcall1(LHCALL_NOTIFY, i);
	hcall1(LHCALL_SET_TIMER, 2 * MS);
	hcall0(LHCALL_HALT);
	fpu_store(got, &mxcsr);
	fpu_load(got, MXCSR_DEFAULT);
	CHECK(upcalls.count == 1, "LHCALL_HALT returned after %u upcalls", upcalls.count);
	CHECK(mxcsr == MXCSR_ROUND_UP, "MXCSR is %x, the guest set %x", mxcsr,
	      MXCSR_ROUND_UP);
	for (i = 0; i < ARRAY_SIZE(want); i++)
		CHECK(got[i] == want[i], "xmm%u %s half is %lx, the guest loaded %lx", i / 2,
		      i % 2 ? "high" : "low", got[i], want[i]);
}
TEST_CASE("fpu-preserved", case_fpu_preserved, 0);

/*
 * For the runner, which pins this guest to a host CPU beside a busy loop:
 * the host gives the CPU to the loop about half of the time, and the
 * shared page must say so (steal_ns), while never calling this vCPU
 * preempted when it is the one reading.
 */
static void case_steal_time(void)
{
	u64 before = shared.steal_ns, stolen;

	if (!can_time_waits())
		return;
	spin_ms(2000, NULL);
	stolen = shared.steal_ns - before;
	kprintf("STEAL: %lu ms of 2000 ms\n", stolen / MS);
	CHECK(stolen >= 100 * MS, "steal time %lu ns over 2 s on a CPU shared with a busy "
	      "loop, expected at least 100 ms", stolen);
	CHECK(!shared.preempted, "the running vCPU reads itself as preempted");
}
TEST_CASE("steal-time", case_steal_time, CASE_MANUAL);
