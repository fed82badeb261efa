// SPDX-License-Identifier: GPL-2.0
/*
 * What the guest kernel asks of us.
 *
 * A hypercall is SYSCALL executed in guest-kernel mode: the switcher brings
 * it here with the guest's registers, the call number in rax and the
 * arguments in rdi, rsi, rdx, r10, r8.  Each call checks its arguments
 * before touching anything; a guest kernel that passes garbage is broken,
 * and it dies with a reason naming the call rather than have us guess.
 *
 * Returns 0 to resume the guest, 1 when LGUEST_RUN must return to the
 * launcher (the exit is then filled in), -1 when the guest was killed.
 */
#include <linux/mm.h>
#include <linux/highmem.h>
#include <linux/nospec.h>
#include "lg.h"

static const char *const hcall_names[LHCALL_NR] = {
	[LHCALL_NOP] = "NOP",
	[LHCALL_INIT] = "INIT",
	[LHCALL_CONSOLE_WRITE] = "CONSOLE_WRITE",
	[LHCALL_SHUTDOWN] = "SHUTDOWN",
	[LHCALL_SET_TRAP] = "SET_TRAP",
	[LHCALL_SET_KERNEL_STACK] = "SET_KERNEL_STACK",
	[LHCALL_LOAD_CR3] = "LOAD_CR3",
	[LHCALL_FLUSH_TLB] = "FLUSH_TLB",
	[LHCALL_INVLPG] = "INVLPG",
	[LHCALL_IRET] = "IRET",
	[LHCALL_SET_TIMER] = "SET_TIMER",
	[LHCALL_HALT] = "HALT",
	[LHCALL_NOTIFY] = "NOTIFY",
	[LHCALL_SET_SEGMENT_BASE] = "SET_SEGMENT_BASE",
	[LHCALL_SET_DEBUGREG] = "SET_DEBUGREG",
	[LHCALL_START_VCPU] = "START_VCPU",
	[LHCALL_SEND_IPI] = "SEND_IPI",
};

#define bad_args(vcpu, nr, fmt, ...)					\
	({ lg_kill(vcpu, "LHCALL_%s: " fmt, hcall_names[nr], ##__VA_ARGS__); \
	   -1; })

static int hcall_init(struct lg_vcpu *vcpu, u64 gpa)
{
	struct lguest_shared *shared;
	struct page *page;

	if (vcpu->shared)
		return bad_args(vcpu, LHCALL_INIT, "called twice");
	if (gpa & ~PAGE_MASK || !lg_gpa_is_ram(vcpu->lg, gpa, PAGE_SIZE))
		return bad_args(vcpu, LHCALL_INIT,
				"shared page %#llx is not a page of guest RAM",
				gpa);
	page = lg_guest_page(vcpu->lg, gpa);
	if (!page)
		return bad_args(vcpu, LHCALL_INIT, "cannot pin page %#llx", gpa);
	shared = page_address(page);
	shared->tsc_khz = lg_tsc_khz;
	shared->abi_version = LGUEST_ABI_VERSION;
	shared->vcpu = vcpu->id;
	shared->nr_vcpus = vcpu->lg->nr_vcpus;
	/* The guest has no RTC: it dates itself from this pair. */
	shared->wallclock_tsc = rdtsc();
	shared->wallclock_ns = ktime_get_real_ns();
	/* What was set by hypercall so far stays in force. */
	shared->kernel_stack = vcpu->kernel_stack;
	shared->fs_base = vcpu->fs_base;
	shared->gs_base_user = vcpu->gs_base_user;
	vcpu->shared_page = page;
	/* Raisers on other CPUs use the page from here on... */
	smp_store_release(&vcpu->shared, shared);
	/* ...and lines raised before now are pending from now on. */
	lg_move_early_irqs(vcpu, shared);
	return 0;
}

static int hcall_console_write(struct lg_vcpu *vcpu, u64 gva, u64 len,
			       struct lguest_run *run)
{
	len = min_t(u64, len, LGUEST_CONSOLE_MAX);
	if (lg_copy_from_guest(vcpu, run->console.data, gva, len))
		return bad_args(vcpu, LHCALL_CONSOLE_WRITE,
				"buffer %#llx (%llu bytes) is not readable",
				gva, len);
	run->exit_reason = LGUEST_EXIT_CONSOLE;
	run->console.len = len;
	vcpu->regs.rax = len;
	return 1;
}

static int hcall_shutdown(struct lg_vcpu *vcpu, u64 kind, u64 gva, u64 len)
{
	static const u32 how[] = {
		[LGUEST_SHUTDOWN_POWEROFF] = LGUEST_EXIT_POWEROFF,
		[LGUEST_SHUTDOWN_REBOOT] = LGUEST_EXIT_REBOOT,
		[LGUEST_SHUTDOWN_CRASH] = LGUEST_EXIT_CRASH,
	};
	char reason[LGUEST_REASON_MAX];

	if (kind >= ARRAY_SIZE(how))
		return bad_args(vcpu, LHCALL_SHUTDOWN, "unknown kind %llu", kind);
	len = min_t(u64, len, sizeof(reason) - 1);
	if (lg_copy_from_guest(vcpu, reason, gva, len))
		return bad_args(vcpu, LHCALL_SHUTDOWN,
				"reason at %#llx is not readable", gva);
	reason[len] = '\0';
	lg_end(vcpu->lg, how[kind], reason);
	return 0;	/* run_guest() reports the death with its exit reason */
}

static int hcall_set_trap(struct lg_vcpu *vcpu, u64 vector, u64 handler,
			  u64 flags)
{
	if (vector > LGUEST_TRAP_SYSCALL)
		return bad_args(vcpu, LHCALL_SET_TRAP, "vector %llu out of range",
				vector);
	if (!lg_canonical(handler))
		return bad_args(vcpu, LHCALL_SET_TRAP,
				"handler %#llx is not canonical", handler);
	if (flags & ~(u64)LGUEST_TRAP_KEEP_IRQS)
		return bad_args(vcpu, LHCALL_SET_TRAP, "unknown flags %#llx",
				flags);
	vcpu->trap_handler[vector] = handler;
	vcpu->trap_flags[vector] = flags;
	return 0;
}

/* CR3 as the CPU takes it with CR4.PCIDE: bits 0-11 the PCID, 63 no-flush. */
#define LG_CR3_PCID		0xfffULL

static int hcall_load_cr3(struct lg_vcpu *vcpu, u64 cr3)
{
	u64 pml4 = cr3 & ~(LG_CR3_PCID | LG_CR3_NOFLUSH);

	if (!lg_gpa_is_ram(vcpu->lg, pml4, PAGE_SIZE))
		return bad_args(vcpu, LHCALL_LOAD_CR3,
				"%#llx is not a page of guest RAM with a PCID", cr3);
	vcpu->cr3 = cr3 & ~LG_CR3_NOFLUSH;
	vcpu->stats.cr3_loads++;
	lg_shadow_load_cr3(vcpu, pml4, cr3 & LG_CR3_PCID, cr3 & LG_CR3_NOFLUSH);
	return 0;
}

static int hcall_set_segment_base(struct lg_vcpu *vcpu, u64 which, u64 base)
{
	if (!lg_canonical(base))
		return bad_args(vcpu, LHCALL_SET_SEGMENT_BASE,
				"base %#llx is not canonical", base);
	switch (which) {
	case LGUEST_SEG_FS:
		vcpu->fs_base = base;
		if (vcpu->shared)
			WRITE_ONCE(vcpu->shared->fs_base, base);
		return 0;
	case LGUEST_SEG_GS_KERNEL:
		vcpu->gs_base_kernel = base;
		return 0;
	case LGUEST_SEG_GS_USER:
		vcpu->gs_base_user = base;
		if (vcpu->shared)
			WRITE_ONCE(vcpu->shared->gs_base_user, base);
		return 0;
	}
	return bad_args(vcpu, LHCALL_SET_SEGMENT_BASE, "unknown segment %llu",
			which);
}

/*
 * DR7 bits a guest may set: the enables, LE/GE, the always-one bit 10 and
 * the R/W and LEN fields; no general detect, no RTM debugging.  I/O
 * breakpoints (R/W = 10b) need CR4.DE, which the guest does not have.
 */
#define LG_DR7_ALLOWED	0xffff07ffULL

static int hcall_set_debugreg(struct lg_vcpu *vcpu, u64 regno, u64 value)
{
	unsigned int i;

	switch (regno) {
	case 0: case 1: case 2: case 3:
		/* The switcher's pages are the only thing touched while armed. */
		if (!lg_guest_may_map(value))
			return bad_args(vcpu, LHCALL_SET_DEBUGREG,
					"breakpoint %#llx is not canonical or lies in the hypervisor hole",
					value);
		vcpu->debugreg[regno] = value;
		return 0;
	case 7:
		if (value & ~LG_DR7_ALLOWED)
			return bad_args(vcpu, LHCALL_SET_DEBUGREG,
					"DR7 %#llx sets bits a guest may not",
					value);
		for (i = 0; i < 4; i++)
			if (((value >> (16 + 4 * i)) & 3) == 2)
				return bad_args(vcpu, LHCALL_SET_DEBUGREG,
						"DR7 %#llx asks for an I/O breakpoint",
						value);
		vcpu->dr7 = value;
		return 0;
	}
	return bad_args(vcpu, LHCALL_SET_DEBUGREG, "no debug register %llu",
			regno);
}

static int hcall_halt(struct lg_vcpu *vcpu)
{
	if (!vcpu->shared)
		return bad_args(vcpu, LHCALL_HALT,
				"no shared page (LHCALL_INIT) to take interrupts");
	/* Enabling interrupts and halting is one step, like "sti; hlt". */
	WRITE_ONCE(vcpu->shared->irq_enabled, LGUEST_IF_FLAG);
	if (!lg_irq_deliverable(vcpu))
		vcpu->halted = true;
	return 0;
}

/*
 * LHCALL_START_VCPU: the guest's smp_ops bringing up a CPU.  The target's
 * thread sleeps in LGUEST_RUN (or has not called it yet) and touches none
 * of its state until it sees started, so the starter may set it here; one
 * starter wins the claim.
 */
static int hcall_start_vcpu(struct lg_vcpu *vcpu, u64 id, u64 rip, u64 rsp,
			    u64 cr3, u64 arg)
{
	struct lguest *lg = vcpu->lg;
	struct lg_vcpu *target;

	if (id >= lg->nr_vcpus)
		return bad_args(vcpu, LHCALL_START_VCPU,
				"no vCPU %llu (the guest has %u)", id,
				lg->nr_vcpus);
	if (!lg_canonical(rip) || !lg_canonical(rsp))
		return bad_args(vcpu, LHCALL_START_VCPU,
				"rip %#llx or rsp %#llx is not canonical", rip,
				rsp);
	if (cr3 & ~PAGE_MASK || !lg_gpa_is_ram(lg, cr3, PAGE_SIZE))
		return bad_args(vcpu, LHCALL_START_VCPU,
				"page tables %#llx are not a page of guest RAM",
				cr3);
	target = &lg->vcpus[array_index_nospec(id, lg->nr_vcpus)];
	if (atomic_cmpxchg(&target->start_claimed, 0, 1)) {
		vcpu->regs.rax = -EBUSY;
		return 0;
	}
	target->regs.rip = rip;
	target->regs.rsp = rsp;
	target->regs.rdi = arg;
	target->regs.rflags = X86_EFLAGS_FIXED;
	memcpy(target->trap_handler, vcpu->trap_handler,
	       sizeof(target->trap_handler));
	memcpy(target->trap_flags, vcpu->trap_flags,
	       sizeof(target->trap_flags));
	target->cr3 = cr3;
	lg_shadow_load_cr3(target, cr3, 0, false);
	/* Pairs with wait_for_start(): the state above is there first. */
	smp_store_release(&target->started, true);
	lg_kick_vcpu(target);
	return 0;
}

/* LHCALL_SEND_IPI: the guest's inter-processor interrupts are lines. */
static int hcall_send_ipi(struct lg_vcpu *vcpu, u64 mask, u64 line)
{
	struct lguest *lg = vcpu->lg;
	unsigned long targets = mask;
	unsigned int v;

	if (mask >> lg->nr_vcpus)
		return bad_args(vcpu, LHCALL_SEND_IPI,
				"vCPU mask %#llx names vCPUs the guest has not (it has %u)",
				mask, lg->nr_vcpus);
	if (line == LGUEST_IRQ_TIMER || line >= LGUEST_NR_IRQS)
		return bad_args(vcpu, LHCALL_SEND_IPI,
				"line %llu is not 1..%u", line,
				LGUEST_NR_IRQS - 1);
	for_each_set_bit(v, &targets, lg->nr_vcpus)
		lg_raise_irq(&lg->vcpus[v], line);
	return 0;
}

int lg_do_hypercall(struct lg_vcpu *vcpu, struct lguest_run *run)
{
	struct lg_regs *r = &vcpu->regs;
	u64 nr = r->rax;

	BUILD_BUG_ON(LHCALL_NR >= LGUEST_STATS_HCALLS);
	vcpu->stats.hypercalls[min_t(u64, nr, LGUEST_STATS_HCALLS - 1)]++;
	if (nr >= LHCALL_NR) {
		lg_kill(vcpu, "unknown hypercall %llu at rip %#llx", nr, r->rip);
		return -1;
	}

	r->rax = 0;
	/* A hypercall is progress: the last handler entered did run. */
	vcpu->handler_entered = 0;
	switch (nr) {
	case LHCALL_NOP:
		return 0;
	case LHCALL_INIT:
		return hcall_init(vcpu, r->rdi);
	case LHCALL_CONSOLE_WRITE:
		return hcall_console_write(vcpu, r->rdi, r->rsi, run);
	case LHCALL_SHUTDOWN:
		return hcall_shutdown(vcpu, r->rdi, r->rsi, r->rdx);
	case LHCALL_SET_TRAP:
		return hcall_set_trap(vcpu, r->rdi, r->rsi, r->rdx);
	case LHCALL_SET_KERNEL_STACK:
		if (!lg_canonical(r->rdi))
			return bad_args(vcpu, nr, "stack %#llx is not canonical",
					r->rdi);
		vcpu->kernel_stack = r->rdi;
		if (vcpu->shared)
			WRITE_ONCE(vcpu->shared->kernel_stack, r->rdi);
		return 0;
	case LHCALL_LOAD_CR3:
		return hcall_load_cr3(vcpu, r->rdi);
	case LHCALL_FLUSH_TLB:
		if (r->rdi & ~(u64)LGUEST_FLUSH_KEEP_GLOBAL)
			return bad_args(vcpu, nr, "unknown flags %#llx", r->rdi);
		lg_shadow_flush(vcpu, r->rdi & LGUEST_FLUSH_KEEP_GLOBAL);
		return 0;
	case LHCALL_INVLPG:
		lg_shadow_invlpg(vcpu, r->rdi);
		return 0;
	case LHCALL_IRET:
		return lg_do_iret(vcpu);
	case LHCALL_SET_TIMER:
		lg_set_timer(vcpu, r->rdi);
		return 0;
	case LHCALL_HALT:
		return hcall_halt(vcpu);
	case LHCALL_NOTIFY:
		run->exit_reason = LGUEST_EXIT_NOTIFY;
		run->notify.value = r->rdi;
		return 1;
	case LHCALL_SET_SEGMENT_BASE:
		return hcall_set_segment_base(vcpu, r->rdi, r->rsi);
	case LHCALL_SET_DEBUGREG:
		return hcall_set_debugreg(vcpu, r->rdi, r->rsi);
	case LHCALL_START_VCPU:
		return hcall_start_vcpu(vcpu, r->rdi, r->rsi, r->rdx, r->r10,
					r->r8);
	case LHCALL_SEND_IPI:
		return hcall_send_ipi(vcpu, r->rdi, r->rsi);
	}
	return 0;
}
