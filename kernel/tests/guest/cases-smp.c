/*
 * cases-smp.c - a second vCPU (the runner launches every case with two):
 * LHCALL_START_VCPU, LHCALL_SEND_IPI, a shared page per vCPU, a shadow of
 * the page tables per vCPU kept right by the guest's own flushes, and the
 * death of the guest brought by one vCPU while the other runs.
 *
 * vCPU 1 runs secondary_main() on a stack of its own, with the tables vCPU 0
 * uses.  It takes no exception (its handlers, its own since LHCALL_SET_TRAP
 * is per vCPU, note one and park it) and only one interrupt, the doorbell
 * line (its own upcall handler clears it), and otherwise sleeps in LHCALL_HALT;
 * vCPU 0 rings the doorbell with LHCALL_SEND_IPI after posting a command,
 * and waits for its result.  It is started once per guest and parked
 * between cases, so that it costs the host nothing while others run.
 */
#include "guest.h"

#define OTHER_VCPU	1
#define DOORBELL	7	/* vCPU 1's line for "a command is posted" */
#define TO_VCPU0_LINE	5	/* what vCPU 1 raises on vCPU 0 */
#define START_ARG	0x5ec0dd0c0ffee
#define PATIENCE_MS	5000
#define EBUSY		16

/* vCPU 1's own page shared with lg.ko. */
static union shared_page_u shared_1 __attribute__((aligned(PAGE_SIZE)));
static u64 secondary_stack[1024] __attribute__((aligned(16)));

enum smp_command {
	CMD_REPORT,	/* result: what vCPU 1 found at its start */
	CMD_READ,	/* result: the word at arg */
	CMD_INVLPG,	/* LHCALL_INVLPG of arg */
	CMD_IPI,	/* raise TO_VCPU0_LINE on vCPU 0 */
	CMD_PENDING,	/* result: vCPU 1's pending lines */
	CMD_BAD_HCALL,	/* hypercall 998: the guest dies from vCPU 1 */
	CMD_SPIN,	/* answer, then spin in the guest for ever */
	CMD_GETCPU,	/* result: the limit LSL of the vDSO's selector gives */
};

static volatile u64 cmd_seq, done_seq, cmd, cmd_arg, cmd_result;
static volatile u64 start_rdi, start_vcpu_id, start_nr_vcpus, start_rsp;
volatile u64 secondary_faulted;
static bool started;

/* vCPU 1's upcall: the doorbell, cleared before LHCALL_IRET returns. */
void secondary_upcall(void);
asm(".pushsection .text\n"
    ".globl secondary_upcall\n"
    "secondary_upcall:\n"
    "	lock btrq $7, shared_1+16(%rip)\n"	/* pending, bit DOORBELL */
    "	pushq %rcx\n"
    "	pushq %r11\n"
    "	pushq %rax\n"
    "	movl $9, %eax\n"				/* LHCALL_IRET */
    "	syscall\n"
    ".popsection\n");

/* vCPU 1's exceptions: noted for vCPU 0, then parked for good. */
void secondary_trap(void);
asm(".pushsection .text\n"
    ".globl secondary_trap\n"
    "secondary_trap:\n"
    "	movq $1, secondary_faulted(%rip)\n"
    "1:	movl $11, %eax\n"				/* LHCALL_HALT */
    "	syscall\n"
    "	jmp 1b\n"
    ".popsection\n");

static u64 run_command(u64 what, u64 arg)
{
	switch (what) {
	case CMD_REPORT:
		return 0;
	case CMD_INVLPG:
		return hcall1(LHCALL_INVLPG, arg);
	case CMD_READ:
		return *(volatile u64 *)arg;
	case CMD_IPI:
		return hcall2(LHCALL_SEND_IPI, 1UL << 0, TO_VCPU0_LINE);
	case CMD_PENDING:
		return shared_1.s.pending;
	case CMD_BAD_HCALL:
		return hcall0(998);
	case CMD_SPIN:
		return 0;
	case CMD_GETCPU: {
		u64 limit = ~0UL;

		return lsl_cpunode(&limit) ? ~0UL : limit;
	}
	}
	return ~0UL;
}

noreturn void secondary_main(u64 arg);
noreturn void secondary_main(u64 arg)
{
	u64 seen = 0, rsp, vector;

	asm volatile("mov %%rsp, %0" : "=r"(rsp));
	start_rdi = arg;
	start_rsp = rsp;
	hcall1(LHCALL_INIT, image_to_phys(&shared_1));
	start_vcpu_id = shared_1.s.vcpu;
	start_nr_vcpus = shared_1.s.nr_vcpus;
	for (vector = 0; vector < 32; vector++)
		hcall3(LHCALL_SET_TRAP, vector, (u64)secondary_trap, 0);
	hcall3(LHCALL_SET_TRAP, LGUEST_UPCALL_VECTOR, (u64)secondary_upcall, 0);
	shared_1.s.masked = ~(1UL << DOORBELL);
	for (;;) {
		shared_1.s.irq_enabled = 0;
		if (cmd_seq != seen) {
			seen = cmd_seq;
			cmd_result = run_command(cmd, cmd_arg);
			__atomic_store_n(&done_seq, seen, __ATOMIC_SEQ_CST);
			while (cmd == CMD_SPIN)
				cpu_relax();
			continue;
		}
		/* Sleeps until the doorbell; its upcall returns here. */
		hcall0(LHCALL_HALT);
	}
}

/* The entry lg.ko jumps to: rsp is the stack top minus a return address. */
static bool start_secondary(void)
{
	u64 top = (u64)&secondary_stack[ARRAY_SIZE(secondary_stack)] - 8;
	u64 r;

	if (started)
		return true;
	r = hcall5(LHCALL_START_VCPU, OTHER_VCPU, (u64)secondary_main, top,
		   (u64)kernel_pml4 - DIRECT_MAP, START_ARG);
	if (r) {
		case_fail("LHCALL_START_VCPU of vCPU 1 returned %ld, expected 0", (long)r);
		return false;
	}
	started = true;
	return true;
}

static bool command_done(void)
{
	return done_seq == cmd_seq || secondary_faulted;
}

/* Posts a command to vCPU 1, rings, waits; false (case failed) on no answer. */
static bool smp_call(u64 what, u64 arg, u64 *result)
{
	if (!start_secondary())
		return false;
	cmd = what;
	cmd_arg = arg;
	__atomic_add_fetch(&cmd_seq, 1, __ATOMIC_SEQ_CST);
	hcall2(LHCALL_SEND_IPI, 1UL << OTHER_VCPU, DOORBELL);
	spin_ms(PATIENCE_MS, command_done);
	if (secondary_faulted) {
		case_fail("vCPU 1 took an exception running command %lu", what);
		return false;
	}
	if (!command_done()) {
		case_fail("vCPU 1 did not answer command %lu within %u ms", what, PATIENCE_MS);
		return false;
	}
	if (result)
		*result = cmd_result;
	return true;
}

static void case_smp_start(void)
{
	CHECK(shared.nr_vcpus == 2 && shared.vcpu == 0,
	      "vCPU 0's shared page says vCPU %u of %u, expected 0 of 2 (run with --cpus 2)",
	      shared.vcpu, shared.nr_vcpus);
	if (!smp_call(CMD_REPORT, 0, NULL))
		return;
	CHECK(start_rdi == START_ARG, "vCPU 1 started with rdi %lx, expected %lx",
	      (u64)start_rdi, START_ARG);
	CHECK(start_vcpu_id == 1 && start_nr_vcpus == 2,
	      "vCPU 1's shared page says vCPU %lu of %lu, expected 1 of 2",
	      (u64)start_vcpu_id, (u64)start_nr_vcpus);
	CHECK(start_rsp < (u64)&secondary_stack[ARRAY_SIZE(secondary_stack)] &&
	      start_rsp > (u64)secondary_stack, "vCPU 1 runs on rsp %lx, not its stack",
	      (u64)start_rsp);
	CHECK(hcall5(LHCALL_START_VCPU, OTHER_VCPU, (u64)secondary_main,
		     (u64)secondary_stack, (u64)kernel_pml4 - DIRECT_MAP, 0) == (u64)-EBUSY,
	      "a second LHCALL_START_VCPU of vCPU 1 did not return -EBUSY");
	CHECK(hcall5(LHCALL_START_VCPU, 0, (u64)secondary_main, (u64)secondary_stack,
		     (u64)kernel_pml4 - DIRECT_MAP, 0) == (u64)-EBUSY,
	      "LHCALL_START_VCPU of the running vCPU 0 did not return -EBUSY");
}
TEST_CASE("smp-start", case_smp_start, 0);

/* The vDSO's getcpu descriptor names the vCPU reading it: CPU 1, node 0. */
static void case_smp_getcpu(void)
{
	u64 limit;

	if (!smp_call(CMD_GETCPU, 0, &limit))
		return;
	CHECK(limit == 1, "LSL of selector 0x7b on vCPU 1 gave %lx, expected CPU 1 node 0", limit);
}
TEST_CASE("smp-getcpu", case_smp_getcpu, 0);

static bool line_from_vcpu1_seen(void)
{
	return upcalls.lines & (1UL << TO_VCPU0_LINE);
}

/* Lines raised by the other vCPU: delivered to vCPU 0, pending on vCPU 1. */
static void case_smp_ipi(void)
{
	u64 pending, r;

	shared.irq_enabled = LGUEST_IF_FLAG;
	if (!smp_call(CMD_IPI, 0, &r))
		return;
	CHECK(r == 0, "vCPU 1's LHCALL_SEND_IPI returned %lx", r);
	spin_ms(PATIENCE_MS, line_from_vcpu1_seen);
	CHECK(line_from_vcpu1_seen(), "no upcall with line %u on vCPU 0 after vCPU 1's IPI "
	      "(lines seen %lx)", TO_VCPU0_LINE, upcalls.lines);
	shared.irq_enabled = 0;
	/* Masked on vCPU 1, so it stays pending there and only there. */
	hcall2(LHCALL_SEND_IPI, 1UL << OTHER_VCPU, 3);
	if (!smp_call(CMD_PENDING, 0, &pending))
		return;
	CHECK(pending & (1UL << 3), "line 3 sent to vCPU 1 is not pending there (%lx)", pending);
	CHECK(!(shared.pending & (1UL << 3)), "line 3 sent to vCPU 1 is pending on vCPU 0");
}
TEST_CASE("smp-ipi", case_smp_ipi, 0);

/*
 * One page of tables, two shadows: vCPU 1 reads a page, vCPU 0 remaps it
 * and asks vCPU 1 to flush it (the guest's TLB shootdown), after which
 * vCPU 1 must read the new page.  Then the same the other way round: vCPU 0
 * reads through its own shadow after the change and its own INVLPG.
 */
static void case_smp_remap(void)
{
	u64 first = alloc_page(), second = alloc_page(), va = SCRATCH_VA + 0x5000, seen;

	*(u64 *)phys_to_virt(first) = 0x1111;
	*(u64 *)phys_to_virt(second) = 0x2222;
	map_page(kernel_pml4, va, first, PTE_W);
	if (!smp_call(CMD_READ, va, &seen))
		return;
	CHECK(seen == 0x1111, "vCPU 1 read %lx through the first mapping, expected 1111", seen);
	CHECK(*(volatile u64 *)va == 0x1111, "vCPU 0 read %lx, expected 1111",
	      *(volatile u64 *)va);
	map_page(kernel_pml4, va, second, PTE_W);
	hcall1(LHCALL_INVLPG, va);
	CHECK(*(volatile u64 *)va == 0x2222, "vCPU 0 read %lx after remap and INVLPG, expected 2222",
	      *(volatile u64 *)va);
	if (!smp_call(CMD_INVLPG, va, NULL) || !smp_call(CMD_READ, va, &seen))
		return;
	CHECK(seen == 0x2222, "vCPU 1 read %lx after the remap and its flush, expected 2222", seen);
	unmap_page(kernel_pml4, va);
	hcall1(LHCALL_INVLPG, va);
	smp_call(CMD_INVLPG, va, NULL);
}
TEST_CASE("smp-remap", case_smp_remap, 0);

/* vCPU 1 breaks a rule while vCPU 0 runs: the whole guest ends, with why. */
static void case_smp_death_from_other_vcpu(void)
{
	expect_crash("998");
	cmd = CMD_BAD_HCALL;
	if (!start_secondary())
		return;
	__atomic_add_fetch(&cmd_seq, 1, __ATOMIC_SEQ_CST);
	hcall2(LHCALL_SEND_IPI, 1UL << OTHER_VCPU, DOORBELL);
	/* vCPU 0 spins in the guest: lg.ko must take it out to end the guest. */
	spin_ms(4 * PATIENCE_MS, NULL);
	case_fail("the guest lives on after vCPU 1's hypercall 998");
}
TEST_CASE("smp-death-from-other-vcpu", case_smp_death_from_other_vcpu, CASE_FATAL);

/* For the runner: both vCPUs busy in the guest, to kill or stop from outside. */
static void case_smp_spin(void)
{
	if (smp_call(CMD_SPIN, 0, NULL))
		spin_announced();
}
TEST_CASE("smp-spin", case_smp_spin, CASE_MANUAL);
