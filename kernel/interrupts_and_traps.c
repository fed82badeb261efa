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
	return vector < 32 && (LG_ERRCODE_VECTORS & BIT(vector));
}

static u64 virtual_if(struct lg_vcpu *vcpu)
{
	return vcpu->shared ? READ_ONCE(vcpu->shared->irq_enabled) & LGUEST_IF_FLAG
			  : 0;
}

void lg_set_virtual_if(struct lg_vcpu *vcpu, u64 on)
{
	if (vcpu->shared)
		WRITE_ONCE(vcpu->shared->irq_enabled, on & LGUEST_IF_FLAG);
}

void lg_enter_kernel_mode(struct lg_vcpu *vcpu)
{
	vcpu->user_mode = false;
}

/*
 * Deliver an exception or interrupt vector to the guest kernel.  Returns 0,
 * or -1 if the guest had to be killed (no handler, or no stack to push on:
 * the guest's equivalent of a double fault).
 */
int lg_reflect_trap(struct lg_vcpu *vcpu, unsigned int vector, bool has_err,
		    u64 errcode)
{
	u64 handler = vcpu->trap_handler[vector], frame[6], rsp;
	bool from_user = vcpu->user_mode;
	unsigned int n = 0;

	if (!handler) {
		lg_kill(vcpu, "no handler for vector %u (error code %#llx) at rip %#llx",
			vector, errcode, vcpu->regs.rip);
		return -1;
	}
	if (from_user && !vcpu->kernel_stack) {
		lg_kill(vcpu, "vector %u from user mode but no kernel stack set",
			vector);
		return -1;
	}
	/*
	 * An exception raised by the first instruction of the handler we
	 * just entered: that handler can never run, the native triple
	 * fault.  Killing the guest now beats reflecting forever.
	 */
	if (vector < FIRST_EXTERNAL_VECTOR && !from_user &&
	    vcpu->handler_entered && vcpu->regs.rip == vcpu->handler_entered) {
		lg_kill(vcpu, "triple fault: vector %u at the entry of a handler (rip %#llx)",
			vector, vcpu->regs.rip);
		return -1;
	}
	rsp = (from_user ? vcpu->kernel_stack : vcpu->regs.rsp) & ~15ULL;
	if (has_err)
		frame[n++] = errcode;
	frame[n++] = vcpu->regs.rip;
	frame[n++] = from_user ? LGUEST_USER_CS : LGUEST_KERNEL_CS;
	frame[n++] = (vcpu->regs.rflags & ~X86_EFLAGS_IF) | virtual_if(vcpu);
	frame[n++] = vcpu->regs.rsp;
	frame[n++] = from_user ? LGUEST_USER_DS : LGUEST_KERNEL_DS;
	rsp -= n * 8;
	if (lg_copy_to_guest(vcpu, rsp, frame, n * 8)) {
		lg_kill(vcpu, "double fault: cannot push the frame for vector %u at %#llx (rip %#llx)",
			vector, rsp, vcpu->regs.rip);
		return -1;
	}
	vcpu->regs.rsp = rsp;
	vcpu->regs.rip = handler;
	vcpu->regs.rflags &= ~LG_DELIVERY_CLEARS;
	vcpu->handler_entered = handler;
	lg_enter_kernel_mode(vcpu);
	if (!(vcpu->trap_flags[vector] & LGUEST_TRAP_KEEP_IRQS))
		lg_set_virtual_if(vcpu, 0);
	return 0;
}

/*
 * SYSCALL from guest user mode: enter the guest kernel's syscall entry as
 * the instruction does natively.  The CPU already put the return address in
 * rcx and the flags in r11; the stack stays the user's.
 */
void lg_reflect_syscall(struct lg_vcpu *vcpu)
{
	u64 handler = vcpu->trap_handler[LGUEST_TRAP_SYSCALL];

	if (!handler) {
		lg_kill(vcpu, "system call from user mode at rip %#llx but no syscall entry",
			vcpu->regs.rcx);
		return;
	}
	vcpu->regs.rip = handler;
	vcpu->regs.rflags &= ~LG_SYSCALL_CLEARS;
	lg_enter_kernel_mode(vcpu);
	lg_set_virtual_if(vcpu, 0);
}

/* LHCALL_IRET: the frame described by struct lguest_iret_frame. */
int lg_do_iret(struct lg_vcpu *vcpu)
{
	struct lguest_iret_frame f;

	if (lg_copy_from_guest(vcpu, &f, vcpu->regs.rsp, sizeof(f))) {
		lg_kill(vcpu, "LHCALL_IRET: frame at %#llx is not readable",
			vcpu->regs.rsp);
		return -1;
	}
	if (f.cs != LGUEST_USER_CS && f.cs != LGUEST_KERNEL_CS) {
		lg_kill(vcpu, "LHCALL_IRET: bad cs %#llx", f.cs);
		return -1;
	}
	if (!lg_canonical(f.rip) || !lg_canonical(f.rsp)) {
		lg_kill(vcpu, "LHCALL_IRET: non-canonical rip %#llx or rsp %#llx",
			f.rip, f.rsp);
		return -1;
	}
	vcpu->regs.rax = f.rax;
	vcpu->regs.r11 = f.r11;
	vcpu->regs.rcx = f.rcx;
	vcpu->regs.rip = f.rip;
	vcpu->regs.rflags = f.rflags;
	vcpu->regs.rsp = f.rsp;
	vcpu->user_mode = f.cs == LGUEST_USER_CS;
	lg_set_virtual_if(vcpu, f.rflags);
	return 0;
}

bool lg_irq_deliverable(struct lg_vcpu *vcpu)
{
	return vcpu->shared && (READ_ONCE(vcpu->shared->pending) &
			      ~READ_ONCE(vcpu->shared->masked));
}

/* Before entering the guest: the upcall, if one is due.  -1: guest killed. */
int lg_deliver_pending_irq(struct lg_vcpu *vcpu)
{
	if (!virtual_if(vcpu) || !lg_irq_deliverable(vcpu))
		return 0;
	WRITE_ONCE(vcpu->shared->irq_pending, 0);
	vcpu->stats.upcalls++;
	return lg_reflect_trap(vcpu, LGUEST_UPCALL_VECTOR, false, 0);
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
void lg_move_early_irqs(struct lg_vcpu *vcpu, struct lguest_shared *shared)
{
	unsigned long early = xchg(&vcpu->early_pending, 0);
	unsigned int irq;

	for_each_set_bit(irq, &early, LGUEST_NR_IRQS)
		pend_irq(shared, irq);
}

/* Any context, on any CPU, including the timer's hard interrupt. */
void lg_raise_irq(struct lg_vcpu *vcpu, unsigned int irq)
{
	/* Pairs with hcall_init()'s release: the page is set up once seen. */
	struct lguest_shared *shared = smp_load_acquire(&vcpu->shared);

	if (!shared) {
		set_bit(irq, &vcpu->early_pending);
		/* Pairs with the exchange after LHCALL_INIT publishes. */
		smp_mb__after_atomic();
		/* And again: published meanwhile, the line is ours to move. */
		shared = smp_load_acquire(&vcpu->shared);
		if (shared)
			lg_move_early_irqs(vcpu, shared);
	} else {
		pend_irq(shared, irq);
	}
	lg_kick_vcpu(vcpu);
}

/*
 * Make a vCPU look at its state again: wake it if it sleeps (halted or not
 * started), or, if its thread is in the guest on another CPU, send that
 * CPU an IPI: the host interrupt takes the guest out through the switcher.
 */
void lg_kick_vcpu(struct lg_vcpu *vcpu)
{
	struct task_struct *task;

	wake_up_interruptible(&vcpu->wq);
	/* Task structs are freed after an RCU grace period. */
	rcu_read_lock();
	task = READ_ONCE(vcpu->task);
	if (task)
		kick_process(task);
	rcu_read_unlock();
}

static enum hrtimer_restart lg_timer_fired(struct hrtimer *timer)
{
	lg_raise_irq(container_of(timer, struct lg_vcpu, timer),
		     LGUEST_IRQ_TIMER);
	return HRTIMER_NORESTART;
}

void lg_timer_init(struct lg_vcpu *vcpu)
{
	hrtimer_init(&vcpu->timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL);
	vcpu->timer.function = lg_timer_fired;
}

/*
 * The guest's one-shot timer.  Shorter than LG_TIMER_MIN_NS it fires at
 * LG_TIMER_MIN_NS, as a local APIC's minimum delta: a guest re-arming a
 * 1 ns timer must not turn the host CPU into an interrupt storm.
 */
#define LG_TIMER_MIN_NS	1000

void lg_set_timer(struct lg_vcpu *vcpu, u64 delta_ns)
{
	if (!delta_ns) {
		hrtimer_cancel(&vcpu->timer);
		return;
	}
	delta_ns = clamp_t(u64, delta_ns, LG_TIMER_MIN_NS, KTIME_MAX);
	hrtimer_start(&vcpu->timer, ns_to_ktime(delta_ns), HRTIMER_MODE_REL);
}
