// SPDX-License-Identifier: GPL-2.0
/*
 * Events for the guest kernel: exceptions,
 * interrupts, user system calls, and the way back (LHCALL_IRET).
 *
 * The guest kernel's handlers are ordinary native handlers.  So when an
 * exception hits the guest, we do what the CPU would have done had the
 * guest kernel been at CPL 0: pick its kernel stack (the current one if the
 * guest was in kernel mode, the one it registered if it was in user mode),
 * push a native frame there and jump to the handler it registered.  Only
 * the code segment differs from the truth: a frame from guest-kernel mode
 * says LGUEST_KERNEL_CS (RPL 0), so user_mode() keeps working.
 *
 * Interrupts are virtual: the guest's "IF" is a word in the shared page
 * that the guest flips with plain stores.  Lines raised by the timer or the
 * launcher set bits in the shared page's pending bitmap, and whenever the
 * virtual IF is on and an unmasked bit is pending, the guest gets its
 * upcall vector.  A raised line also wakes a halted vCPU, or kicks a running
 * one out of the guest so that it sees the line at once.
 */
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/rcupdate.h>
#include <asm/traps.h>
#include <asm/irq_vectors.h>
#include <asm/processor-flags.h>
#include "lg.h"

bool lg_vector_has_errcode(unsigned int vector)
{
	switch (vector) {
	case X86_TRAP_DF: case X86_TRAP_TS: case X86_TRAP_NP:
	case X86_TRAP_SS: case X86_TRAP_GP: case X86_TRAP_PF:
	case X86_TRAP_AC: case X86_TRAP_CP: case 29: case 30:
		return true;
	default:
		return false;
	}
}

static u64 virtual_if(struct lguest *lg)
{
	return lg->shared ? READ_ONCE(lg->shared->irq_enabled) & LGUEST_IF_FLAG
			  : 0;
}

void lg_set_virtual_if(struct lguest *lg, u64 on)
{
	if (lg->shared)
		WRITE_ONCE(lg->shared->irq_enabled, on & LGUEST_IF_FLAG);
}

void lg_enter_kernel_mode(struct lguest *lg)
{
	lg->user_mode = false;
}

/*
 * Deliver an exception or interrupt vector to the guest kernel.  Returns 0,
 * or -1 if the guest had to be killed (no handler, or no stack to push on:
 * the guest's equivalent of a double fault).
 */
int lg_reflect_trap(struct lguest *lg, unsigned int vector, bool has_err,
		    u64 errcode)
{
	u64 handler = lg->trap_handler[vector], frame[6], rsp;
	bool from_user = lg->user_mode;
	unsigned int n = 0;

	if (!handler) {
		lg_kill(lg, "no handler for vector %u (error code %#llx) at rip %#llx",
			vector, errcode, lg->regs.rip);
		return -1;
	}
	if (from_user && !lg->kernel_stack) {
		lg_kill(lg, "vector %u from user mode but no kernel stack set",
			vector);
		return -1;
	}
	/*
	 * An exception raised by the first instruction of the handler we
	 * just entered: that handler can never run, the native triple
	 * fault.  Killing the guest now beats reflecting forever.
	 */
	if (vector < FIRST_EXTERNAL_VECTOR && !from_user &&
	    lg->handler_entered && lg->regs.rip == lg->handler_entered) {
		lg_kill(lg, "triple fault: vector %u at the entry of a handler (rip %#llx)",
			vector, lg->regs.rip);
		return -1;
	}
	rsp = (from_user ? lg->kernel_stack : lg->regs.rsp) & ~15ULL;
	if (has_err)
		frame[n++] = errcode;
	frame[n++] = lg->regs.rip;
	frame[n++] = from_user ? LGUEST_USER_CS : LGUEST_KERNEL_CS;
	frame[n++] = (lg->regs.rflags & ~X86_EFLAGS_IF) | virtual_if(lg);
	frame[n++] = lg->regs.rsp;
	frame[n++] = from_user ? LGUEST_USER_DS : LGUEST_KERNEL_DS;
	rsp -= n * 8;
	if (lg_copy_to_guest(lg, rsp, frame, n * 8)) {
		lg_kill(lg, "double fault: cannot push the frame for vector %u at %#llx (rip %#llx)",
			vector, rsp, lg->regs.rip);
		return -1;
	}
	lg->regs.rsp = rsp;
	lg->regs.rip = handler;
	/*
	 * As event delivery does natively: no single step, nested task or
	 * resume flag in the handler.  AC goes too: at CPL 3 it would turn
	 * on alignment checks in the guest kernel, which natively runs at
	 * CPL 0 where AC means nothing of the sort.
	 */
	lg->regs.rflags &= ~(X86_EFLAGS_TF | X86_EFLAGS_NT | X86_EFLAGS_RF |
			     X86_EFLAGS_AC);
	lg->handler_entered = handler;
	lg_enter_kernel_mode(lg);
	if (!(lg->trap_flags[vector] & LGUEST_TRAP_KEEP_IRQS))
		lg_set_virtual_if(lg, 0);
	return 0;
}

/*
 * SYSCALL from guest user mode: enter the guest kernel's syscall entry as
 * the instruction does natively.  The CPU already put the return address in
 * rcx and the flags in r11; the stack stays the user's.
 */
void lg_reflect_syscall(struct lguest *lg)
{
	u64 handler = lg->trap_handler[LGUEST_TRAP_SYSCALL];

	if (!handler) {
		lg_kill(lg, "system call from user mode at rip %#llx but no syscall entry",
			lg->regs.rcx);
		return;
	}
	lg->regs.rip = handler;
	lg->regs.rflags &= ~LG_SYSCALL_CLEARS;
	lg_enter_kernel_mode(lg);
	lg_set_virtual_if(lg, 0);
}

/* LHCALL_IRET: the frame described by struct lguest_iret_frame. */
int lg_do_iret(struct lguest *lg)
{
	struct lguest_iret_frame f;

	if (lg_copy_from_guest(lg, &f, lg->regs.rsp, sizeof(f))) {
		lg_kill(lg, "LHCALL_IRET: frame at %#llx is not readable",
			lg->regs.rsp);
		return -1;
	}
	if (f.cs != LGUEST_USER_CS && f.cs != LGUEST_KERNEL_CS) {
		lg_kill(lg, "LHCALL_IRET: bad cs %#llx", f.cs);
		return -1;
	}
	if (!lg_canonical(f.rip) || !lg_canonical(f.rsp)) {
		lg_kill(lg, "LHCALL_IRET: non-canonical rip %#llx or rsp %#llx",
			f.rip, f.rsp);
		return -1;
	}
	lg->regs.rax = f.rax;
	lg->regs.r11 = f.r11;
	lg->regs.rcx = f.rcx;
	lg->regs.rip = f.rip;
	lg->regs.rflags = f.rflags;
	lg->regs.rsp = f.rsp;
	lg->user_mode = f.cs == LGUEST_USER_CS;
	lg_set_virtual_if(lg, f.rflags);
	return 0;
}

bool lg_irq_deliverable(struct lguest *lg)
{
	return lg->shared && (READ_ONCE(lg->shared->pending) &
			      ~READ_ONCE(lg->shared->masked));
}

/* Before entering the guest: the upcall, if one is due.  -1: guest killed. */
int lg_deliver_pending_irq(struct lguest *lg)
{
	if (!virtual_if(lg) || !lg_irq_deliverable(lg))
		return 0;
	WRITE_ONCE(lg->shared->irq_pending, 0);
	lg->stats.upcalls++;
	return lg_reflect_trap(lg, LGUEST_UPCALL_VECTOR, false, 0);
}

static void pend_irq(struct lguest_shared *shared, unsigned int irq)
{
	set_bit(irq, (unsigned long *)&shared->pending);
	if (!test_bit(irq, (unsigned long *)&shared->masked))
		WRITE_ONCE(shared->irq_pending, 1);
}

/*
 * Lines raised before the guest registered its shared page wait in
 * early_pending.  Whoever takes them with the exchange moves them: the
 * vCPU right after publishing the page, or a raiser that saw it appear.
 */
void lg_move_early_irqs(struct lguest *lg, struct lguest_shared *shared)
{
	unsigned long early = xchg(&lg->early_pending, 0);
	unsigned int irq;

	for_each_set_bit(irq, &early, LGUEST_NR_IRQS)
		pend_irq(shared, irq);
}

/* Any context, on any CPU, including the timer's hard interrupt. */
void lg_raise_irq(struct lguest *lg, unsigned int irq)
{
	struct lguest_shared *shared = smp_load_acquire(&lg->shared);
	struct task_struct *task;

	if (!shared) {
		set_bit(irq, &lg->early_pending);
		/* Pairs with the exchange after LHCALL_INIT publishes. */
		smp_mb__after_atomic();
		shared = smp_load_acquire(&lg->shared);
		if (shared)
			lg_move_early_irqs(lg, shared);
	} else {
		pend_irq(shared, irq);
	}
	wake_up_interruptible(&lg->wq);
	/* Task structs are freed after an RCU grace period. */
	rcu_read_lock();
	task = READ_ONCE(lg->task);
	if (task)
		kick_process(task);
	rcu_read_unlock();
}

static enum hrtimer_restart lg_timer_fired(struct hrtimer *timer)
{
	lg_raise_irq(container_of(timer, struct lguest, timer),
		     LGUEST_IRQ_TIMER);
	return HRTIMER_NORESTART;
}

void lg_timer_init(struct lguest *lg)
{
	hrtimer_init(&lg->timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL);
	lg->timer.function = lg_timer_fired;
}

/*
 * The guest's one-shot timer.  Shorter than LG_TIMER_MIN_NS it fires at
 * LG_TIMER_MIN_NS, as a local APIC's minimum delta: a guest re-arming a
 * 1 ns timer must not turn the host CPU into an interrupt storm.
 */
#define LG_TIMER_MIN_NS	1000

void lg_set_timer(struct lguest *lg, u64 delta_ns)
{
	if (!delta_ns) {
		hrtimer_cancel(&lg->timer);
		return;
	}
	delta_ns = clamp_t(u64, delta_ns, LG_TIMER_MIN_NS, KTIME_MAX);
	hrtimer_start(&lg->timer, ns_to_ktime(delta_ns), HRTIMER_MODE_REL);
}
