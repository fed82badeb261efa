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

#define bad_args(lg, nr, fmt, ...)					\
	({ lg_kill(lg, "LHCALL_%s: " fmt, hcall_names[nr], ##__VA_ARGS__); \
	   -1; })

static int hcall_init(struct lguest *lg, u64 gpa)
{
	struct lguest_shared *shared;
	struct page *page;

	if (lg->shared)
		return bad_args(lg, LHCALL_INIT, "called twice");
	if (gpa & ~PAGE_MASK || !lg_gpa_is_ram(lg, gpa, PAGE_SIZE))
		return bad_args(lg, LHCALL_INIT,
				"shared page %#llx is not a page of guest RAM",
				gpa);
	page = lg_guest_page(lg, gpa);
	if (!page)
		return bad_args(lg, LHCALL_INIT, "cannot pin page %#llx", gpa);
	shared = page_address(page);
	shared->tsc_khz = lg_tsc_khz;
	shared->abi_version = LGUEST_ABI_VERSION;
	shared->vcpu = 0;
	shared->nr_vcpus = 1;
	/* The guest has no RTC: it dates itself from this pair. */
	shared->wallclock_tsc = rdtsc();
	shared->wallclock_ns = ktime_get_real_ns();
	/* What was set by hypercall so far stays in force. */
	shared->kernel_stack = lg->kernel_stack;
	shared->fs_base = lg->fs_base;
	shared->gs_base_user = lg->gs_base_user;
	lg->shared_page = page;
	/* Raisers on other CPUs use the page from here on... */
	smp_store_release(&lg->shared, shared);
	/* ...and lines raised before now are pending from now on. */
	lg_move_early_irqs(lg, shared);
	return 0;
}

static int hcall_console_write(struct lguest *lg, u64 gva, u64 len,
			       struct lguest_run *run)
{
	len = min_t(u64, len, LGUEST_CONSOLE_MAX);
	if (lg_copy_from_guest(lg, run->console.data, gva, len))
		return bad_args(lg, LHCALL_CONSOLE_WRITE,
				"buffer %#llx (%llu bytes) is not readable",
				gva, len);
	run->exit_reason = LGUEST_EXIT_CONSOLE;
	run->console.len = len;
	lg->regs.rax = len;
	return 1;
}

static int hcall_shutdown(struct lguest *lg, u64 kind, u64 gva, u64 len)
{
	static const u32 how[] = {
		[LGUEST_SHUTDOWN_POWEROFF] = LGUEST_EXIT_POWEROFF,
		[LGUEST_SHUTDOWN_REBOOT] = LGUEST_EXIT_REBOOT,
		[LGUEST_SHUTDOWN_CRASH] = LGUEST_EXIT_CRASH,
	};
	char reason[LGUEST_REASON_MAX];

	if (kind >= ARRAY_SIZE(how))
		return bad_args(lg, LHCALL_SHUTDOWN, "unknown kind %llu", kind);
	len = min_t(u64, len, sizeof(reason) - 1);
	if (lg_copy_from_guest(lg, reason, gva, len))
		return bad_args(lg, LHCALL_SHUTDOWN,
				"reason at %#llx is not readable", gva);
	reason[len] = '\0';
	lg_end(lg, how[kind], reason);
	return 0;	/* run_guest() reports the death with its exit reason */
}

static int hcall_set_trap(struct lguest *lg, u64 vector, u64 handler,
			  u64 flags)
{
	if (vector > LGUEST_TRAP_SYSCALL)
		return bad_args(lg, LHCALL_SET_TRAP, "vector %llu out of range",
				vector);
	if (!lg_canonical(handler))
		return bad_args(lg, LHCALL_SET_TRAP,
				"handler %#llx is not canonical", handler);
	if (flags & ~(u64)LGUEST_TRAP_KEEP_IRQS)
		return bad_args(lg, LHCALL_SET_TRAP, "unknown flags %#llx",
				flags);
	lg->trap_handler[vector] = handler;
	lg->trap_flags[vector] = flags;
	return 0;
}

/* CR3 as the CPU takes it with CR4.PCIDE: bits 0-11 the PCID, 63 no-flush. */
#define LG_CR3_PCID		0xfffULL
#define LG_CR3_NOFLUSH		(1ULL << 63)

static int hcall_load_cr3(struct lguest *lg, u64 cr3)
{
	u64 pml4 = cr3 & ~(LG_CR3_PCID | LG_CR3_NOFLUSH);

	if (!lg_gpa_is_ram(lg, pml4, PAGE_SIZE))
		return bad_args(lg, LHCALL_LOAD_CR3,
				"%#llx is not a page of guest RAM with a PCID", cr3);
	lg->cr3 = cr3 & ~LG_CR3_NOFLUSH;
	lg->stats.cr3_loads++;
	lg_shadow_load_cr3(lg, pml4, cr3 & LG_CR3_PCID, cr3 & LG_CR3_NOFLUSH);
	return 0;
}

static int hcall_set_segment_base(struct lguest *lg, u64 which, u64 base)
{
	if (!lg_canonical(base))
		return bad_args(lg, LHCALL_SET_SEGMENT_BASE,
				"base %#llx is not canonical", base);
	switch (which) {
	case LGUEST_SEG_FS:
		lg->fs_base = base;
		if (lg->shared)
			WRITE_ONCE(lg->shared->fs_base, base);
		return 0;
	case LGUEST_SEG_GS_KERNEL:
		lg->gs_base_kernel = base;
		return 0;
	case LGUEST_SEG_GS_USER:
		lg->gs_base_user = base;
		if (lg->shared)
			WRITE_ONCE(lg->shared->gs_base_user, base);
		return 0;
	}
	return bad_args(lg, LHCALL_SET_SEGMENT_BASE, "unknown segment %llu",
			which);
}

/*
 * DR7 bits a guest may set: the enables, LE/GE, the always-one bit 10 and
 * the R/W and LEN fields; no general detect, no RTM debugging.  I/O
 * breakpoints (R/W = 10b) need CR4.DE, which the guest does not have.
 */
#define LG_DR7_ALLOWED	0xffff07ffULL

static int hcall_set_debugreg(struct lguest *lg, u64 regno, u64 value)
{
	unsigned int i;

	switch (regno) {
	case 0: case 1: case 2: case 3:
		/* The switcher's pages are the only thing touched while armed. */
		if (!lg_guest_may_map(value))
			return bad_args(lg, LHCALL_SET_DEBUGREG,
					"breakpoint %#llx is not canonical or lies in the hypervisor hole",
					value);
		lg->debugreg[regno] = value;
		return 0;
	case 7:
		if (value & ~LG_DR7_ALLOWED)
			return bad_args(lg, LHCALL_SET_DEBUGREG,
					"DR7 %#llx sets bits a guest may not",
					value);
		for (i = 0; i < 4; i++)
			if (((value >> (16 + 4 * i)) & 3) == 2)
				return bad_args(lg, LHCALL_SET_DEBUGREG,
						"DR7 %#llx asks for an I/O breakpoint",
						value);
		lg->dr7 = value;
		return 0;
	}
	return bad_args(lg, LHCALL_SET_DEBUGREG, "no debug register %llu",
			regno);
}

static int hcall_halt(struct lguest *lg)
{
	if (!lg->shared)
		return bad_args(lg, LHCALL_HALT,
				"no shared page (LHCALL_INIT) to take interrupts");
	/* Enabling interrupts and halting is one step, like "sti; hlt". */
	WRITE_ONCE(lg->shared->irq_enabled, LGUEST_IF_FLAG);
	if (!lg_irq_deliverable(lg))
		lg->halted = true;
	return 0;
}

int lg_do_hypercall(struct lguest *lg, struct lguest_run *run)
{
	struct lg_regs *r = &lg->regs;
	u64 nr = r->rax;

	BUILD_BUG_ON(LHCALL_NR >= LGUEST_STATS_HCALLS);
	lg->stats.hypercalls[min_t(u64, nr, LGUEST_STATS_HCALLS - 1)]++;
	if (nr >= LHCALL_NR) {
		lg_kill(lg, "unknown hypercall %llu at rip %#llx", nr, r->rip);
		return -1;
	}

	r->rax = 0;
	/* A hypercall is progress: the last handler entered did run. */
	lg->handler_entered = 0;
	switch (nr) {
	case LHCALL_NOP:
		return 0;
	case LHCALL_INIT:
		return hcall_init(lg, r->rdi);
	case LHCALL_CONSOLE_WRITE:
		return hcall_console_write(lg, r->rdi, r->rsi, run);
	case LHCALL_SHUTDOWN:
		return hcall_shutdown(lg, r->rdi, r->rsi, r->rdx);
	case LHCALL_SET_TRAP:
		return hcall_set_trap(lg, r->rdi, r->rsi, r->rdx);
	case LHCALL_SET_KERNEL_STACK:
		if (!lg_canonical(r->rdi))
			return bad_args(lg, nr, "stack %#llx is not canonical",
					r->rdi);
		lg->kernel_stack = r->rdi;
		if (lg->shared)
			WRITE_ONCE(lg->shared->kernel_stack, r->rdi);
		return 0;
	case LHCALL_LOAD_CR3:
		return hcall_load_cr3(lg, r->rdi);
	case LHCALL_FLUSH_TLB:
		if (r->rdi & ~(u64)LGUEST_FLUSH_KEEP_GLOBAL)
			return bad_args(lg, nr, "unknown flags %#llx", r->rdi);
		lg_shadow_flush(lg, r->rdi & LGUEST_FLUSH_KEEP_GLOBAL);
		return 0;
	case LHCALL_INVLPG:
		lg_shadow_invlpg(lg, r->rdi);
		return 0;
	case LHCALL_IRET:
		return lg_do_iret(lg);
	case LHCALL_SET_TIMER:
		lg_set_timer(lg, r->rdi);
		return 0;
	case LHCALL_HALT:
		return hcall_halt(lg);
	case LHCALL_NOTIFY:
		run->exit_reason = LGUEST_EXIT_NOTIFY;
		run->notify.value = r->rdi;
		return 1;
	case LHCALL_SET_SEGMENT_BASE:
		return hcall_set_segment_base(lg, r->rdi, r->rsi);
	case LHCALL_SET_DEBUGREG:
		return hcall_set_debugreg(lg, r->rdi, r->rsi);
	}
	return 0;
}
