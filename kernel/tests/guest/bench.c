/*
 * bench.c - the `bench` mode: what the basic hypervisor operations cost
 * in TSC cycles, printed as "BENCH: name cycles" lines that bench/lg.sh
 * sets beside native figures (kernel/tests/bench-native.c) of the same
 * boot.  Nothing here asserts a timing.
 */
#include "guest.h"

#define HCALL_ITERS	20000
#define SYSCALL_ITERS	20000
#define FAULT_PAGES	1024
#define TIMER_ROUNDS	200
#define WAKEUP_NS	200000UL
#define BENCH_VA	(SCRATCH_VA + 0x40000000UL)

/* Cycles per operation with one decimal. */
static void report(const char *name, u64 cycles, u64 ops)
{
	u64 tenths = cycles * 10 / ops;

	kprintf("BENCH: %s %lu.%lu\n", name, tenths / 10, tenths % 10);
}

static void bench_hypercall(void)
{
	u64 t0 = rdtsc();
	unsigned int i;

	for (i = 0; i < HCALL_ITERS; i++)
		hcall0(LHCALL_NOP);
	report("hypercall-nop", rdtsc() - t0, HCALL_ITERS);
}

/* A guest-user SYSCALL reflected to the guest kernel and LHCALL_IRET back. */
static void bench_user_syscall(void)
{
	u64 t0 = rdtsc();
	struct user_exit *e = run_user(user_syscall_loop, SYSCALL_ITERS, RFLAGS_FIXED);

	if (e->regs.vector != LGUEST_TRAP_SYSCALL) {
		kprintf("BENCH-ERROR: user-syscall: the loop ended by vector %lu\n",
			e->regs.vector);
		return;
	}
	report("user-syscall", rdtsc() - t0, SYSCALL_ITERS);
}

/* First touch of pages mapped in the guest's tables but never accessed. */
static void bench_demand_fault(void)
{
	u64 t0, i;

	for (i = 0; i < FAULT_PAGES; i++)
		map_page(kernel_pml4, BENCH_VA + i * PAGE_SIZE, alloc_page(), PTE_W);
	t0 = rdtsc();
	for (i = 0; i < FAULT_PAGES; i++)
		*(volatile u64 *)(BENCH_VA + i * PAGE_SIZE) = i;
	report("demand-fault", rdtsc() - t0, FAULT_PAGES);
}

static bool timer_line_raised(void)
{
	return shared.pending & (1UL << LGUEST_IRQ_TIMER);
}

/*
 * A pending timer interrupt delivered: from enabling the virtual IF and
 * LHCALL_NOP to the upcall handler and back through LHCALL_IRET.
 */
static void bench_timer_upcall(void)
{
	u64 total = 0;
	unsigned int i;

	for (i = 0; i < TIMER_ROUNDS; i++) {
		u64 t0;

		irq_state_reset();
		hcall1(LHCALL_SET_TIMER, 10000);
		spin_ms(1000, timer_line_raised);
		t0 = rdtsc();
		shared.irq_enabled = LGUEST_IF_FLAG;
		hcall0(LHCALL_NOP);
		total += rdtsc() - t0;
	}
	irq_state_reset();
	report("timer-upcall", total, TIMER_ROUNDS);
}

/* How late LHCALL_HALT's upcall comes after the timer's deadline. */
static void bench_halt_wakeup(void)
{
	u64 total = 0, delta = WAKEUP_NS * tsc_per_ms() / 1000000;
	unsigned int i;

	for (i = 0; i < TIMER_ROUNDS; i++) {
		u64 deadline;

		irq_state_reset();
		deadline = rdtsc() + delta;
		hcall1(LHCALL_SET_TIMER, WAKEUP_NS);
		hcall0(LHCALL_HALT);
		total += upcalls.tsc > deadline ? upcalls.tsc - deadline : 0;
	}
	irq_state_reset();
	report("halt-wakeup-latency", total, TIMER_ROUNDS);
}

void run_bench(void)
{
	kprintf("BENCH: tsc-khz %lu\n", tsc_per_ms());
	bench_hypercall();
	bench_user_syscall();
	bench_demand_fault();
	bench_timer_upcall();
	bench_halt_wakeup();
}
