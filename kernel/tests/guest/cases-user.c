/*
 * cases-user.c - guest-user mode: entered through LHCALL_IRET with a
 * USER_CS frame on tables the guest built itself, left by SYSCALL and by
 * faults, and kept away from guest-kernel memory by the user view.
 */
#include "guest.h"

#define ARITH_FLAGS	0x8d5UL		/* CF PF AF ZF SF OF */

static volatile u64 kernel_secret = 0x5ec7e75ec7e75ec7;

static bool frame_on_kernel_stack(u64 addr)
{
	return addr >= (u64)kernel_stack && addr < (u64)kernel_stack_top;
}

/* The registers user.S loaded with REG_PATTERN(index in trap_regs). */
static bool user_patterns_intact(const struct trap_regs *r, const char *when)
{
	static const unsigned int loaded[] = { 1, 3, 4, 6, 7, 8, 9, 11, 12, 13, 14 };
	const u64 *regs = (const u64 *)r;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(loaded); i++) {
		if (regs[loaded[i]] != REG_PATTERN(loaded[i])) {
			case_fail("%s: register #%u is %lx, user mode set %lx", when,
				  loaded[i], regs[loaded[i]], REG_PATTERN(loaded[i]));
			return false;
		}
	}
	return true;
}

/* The event that ended a user run must be the expected kind from user mode. */
static bool user_event_is(const struct user_exit *e, u64 vector, const char *what)
{
	if (e->regs.vector != vector) {
		case_fail("%s: user run ended by vector %lu (error %lx, rip %lx, cr2 %lx), "
			  "expected %lu", what, e->regs.vector, e->regs.error, e->regs.rip,
			  e->cr2, vector);
		return false;
	}
	if (e->regs.cs != LGUEST_USER_CS || e->regs.ss != LGUEST_USER_DS) {
		case_fail("%s: frame cs %lx ss %lx, expected the user selectors", what,
			  e->regs.cs, e->regs.ss);
		return false;
	}
	if (e->irq_enabled) {
		case_fail("%s: virtual IF still on in the handler", what);
		return false;
	}
	return true;
}

/*
 * SYSCALL from user mode reaches our syscall entry like the native
 * instruction (rcx = return rip, r11 = rflags, user rsp), the return
 * through LHCALL_IRET carries rax, and nothing else changes on the way.
 */
static void case_user_syscall(void)
{
	const struct trap_regs *echo = &user_echo.regs;
	struct user_exit *e;

	memset(&user_echo, 0, sizeof(user_echo));
	e = run_user(user_syscall, 41, USER_RFLAGS);
	if (!user_event_is(e, LGUEST_TRAP_SYSCALL, "user syscall"))
		return;
	CHECK(user_echo.frame_addr, "USER_SYS_ECHO never reached the syscall entry");
	CHECK(echo->rcx == user_va(user_syscall_ret),
	      "rcx at the syscall entry is %lx, expected the return rip %lx", echo->rcx,
	      user_va(user_syscall_ret));
	CHECK((echo->r11 & ~ARITH_FLAGS) == USER_RFLAGS,
	      "r11 at the syscall entry is %lx, expected user rflags %lx", echo->r11,
	      USER_RFLAGS);
	CHECK(echo->rsp == USER_STACK_TOP, "rsp at the syscall entry is %lx, expected "
	      "the user stack %lx", echo->rsp, USER_STACK_TOP);
	CHECK(echo->rdi == 41, "rdi at the syscall entry is %lx, expected 41", echo->rdi);
	CHECK(!user_echo.irq_enabled, "virtual IF on at the syscall entry");
	if (!user_patterns_intact(echo, "at the syscall entry"))
		return;
	CHECK(e->regs.rdi == 42, "user mode got %lx back from its syscall, expected 42",
	      e->regs.rdi);
	user_patterns_intact(&e->regs, "after the return to user mode");
}
TEST_CASE("user-syscall", case_user_syscall, 0);

static bool user_page_fault_is(const struct user_exit *e, u64 addr, u64 error,
			       const char *insn, const char *what)
{
	if (!user_event_is(e, X86_TRAP_PF, what))
		return false;
	if (e->cr2 != addr || e->regs.error != error) {
		case_fail("%s: cr2 %lx error %lx, expected cr2 %lx error %lx", what, e->cr2,
			  e->regs.error, addr, error);
		return false;
	}
	if (e->regs.rip != user_va(insn) || e->regs.rsp != USER_STACK_TOP) {
		case_fail("%s: frame rip %lx rsp %lx, expected %lx %lx", what, e->regs.rip,
			  e->regs.rsp, user_va(insn), USER_STACK_TOP);
		return false;
	}
	if (!frame_on_kernel_stack(e->frame_addr)) {
		case_fail("%s: frame at %lx, not on the LHCALL_SET_KERNEL_STACK stack", what,
			  e->frame_addr);
		return false;
	}
	if (!(e->regs.rflags & LGUEST_IF_FLAG)) {
		case_fail("%s: frame rflags %lx lost the user's IF", what, e->regs.rflags);
		return false;
	}
	return true;
}

/*
 * Reads our tables on va's path through the direct map (making the
 * missing ones), as a kernel does while it handles faults: the shadow
 * then maps them there, and lg.ko's switcher can walk them itself to
 * reflect a fault of ours at va without a world switch.
 */
static void touch_tables(u64 va)
{
	pte_lookup(kernel_pml4, va, PTE_U);
}

/*
 * User faults arrive on the kernel stack with native error codes (those
 * at an address our tables do not map by the switcher's fast path).
 */
static void case_user_page_fault(void)
{
	struct user_exit *e;

	touch_tables(UNMAPPED_LOW);
	e = run_user(user_read, UNMAPPED_LOW, USER_RFLAGS);
	if (!user_page_fault_is(e, UNMAPPED_LOW, PF_USER, user_read_insn,
				"user read of an unmapped page"))
		return;
	e = run_user(user_write, UNMAPPED_LOW, USER_RFLAGS);
	if (!user_page_fault_is(e, UNMAPPED_LOW, PF_USER | PF_WRITE, user_write_insn,
				"user write to an unmapped page"))
		return;
	e = run_user(user_write, USER_CODE_VA, USER_RFLAGS);
	user_page_fault_is(e, USER_CODE_VA, PF_USER | PF_WRITE | PF_PRESENT,
			   user_write_insn, "user write to its read-only code");
}
TEST_CASE("user-page-fault", case_user_page_fault, 0);

/*
 * A fetch from a user page our tables mark no-execute: a protection fault
 * with the fetch bit, at the page itself, whether the switcher's walk or
 * lg.ko's C code finds it (twice: the shadow never maps such a page).
 */
#define NX_VA		0x30000000UL

static void case_user_fetch_nx(void)
{
	struct user_exit *e;
	unsigned int i;

	map_page(kernel_pml4, NX_VA, alloc_page(), PTE_U | PTE_NX);
	for (i = 0; i < 2; i++) {
		e = run_user(user_jump, NX_VA, USER_RFLAGS);
		if (!user_event_is(e, X86_TRAP_PF, "a user fetch from an NX page"))
			break;
		if (e->cr2 != NX_VA || e->regs.rip != NX_VA ||
		    e->regs.error != (PF_PRESENT | PF_USER | PF_INSTR)) {
			case_fail("a user fetch from an NX page: cr2 %lx rip %lx error %lx, "
				  "expected %lx %lx %lx", e->cr2, e->regs.rip, e->regs.error,
				  NX_VA, NX_VA, (u64)(PF_PRESENT | PF_USER | PF_INSTR));
			break;
		}
	}
	unmap_page(kernel_pml4, NX_VA);
}
TEST_CASE("user-fetch-nx", case_user_fetch_nx, 0);

/* cli and port input in user mode: #GP, nothing emulated there. */
static void case_user_gp(void)
{
	static const struct {
		const char *what;
		char *stub, *insn;
	} insns[] = {
		{ "cli in user mode", user_cli, user_cli_insn },
		{ "in in user mode", user_in, user_in_insn },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(insns); i++) {
		struct user_exit *e = run_user(insns[i].stub, 0, USER_RFLAGS);

		if (!user_event_is(e, X86_TRAP_GP, insns[i].what))
			return;
		CHECK(e->regs.error == 0, "%s: error code %lx", insns[i].what,
		      e->regs.error);
		CHECK(e->regs.rip == user_va(insns[i].insn), "%s: rip %lx, expected %lx",
		      insns[i].what, e->regs.rip, user_va(insns[i].insn));
		CHECK(frame_on_kernel_stack(e->frame_addr), "%s: #GP frame at %lx, not on "
		      "the kernel stack", insns[i].what, e->frame_addr);
	}
}
TEST_CASE("user-gp", case_user_gp, 0);

/*
 * User code reaches for the kernel's data through both of its aliases
 * (kernel map, direct map) and for the switcher hole: every access
 * faults with the user bit, and no register carries the secret back.
 */
static void case_user_reads_kernel(void)
{
	const u64 targets[] = {
		(u64)&kernel_secret,
		DIRECT_MAP + image_to_phys((const void *)&kernel_secret),
		HOLE_START,
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(targets); i++) {
		struct user_exit *e = run_user(user_read, targets[i], USER_RFLAGS);

		CHECK(!(e->regs.vector == LGUEST_TRAP_SYSCALL && e->regs.rdi == kernel_secret),
		      "user mode read the kernel secret at %lx", targets[i]);
		if (!user_event_is(e, X86_TRAP_PF, "user read of kernel memory"))
			return;
		CHECK(e->cr2 == targets[i] && (e->regs.error & (PF_USER | PF_WRITE)) == PF_USER,
		      "user read of %lx: cr2 %lx error %lx", targets[i], e->cr2, e->regs.error);
		CHECK(e->regs.rax != kernel_secret, "the secret leaked into rax");
		e = run_user(user_write, targets[i], USER_RFLAGS);
		if (!user_event_is(e, X86_TRAP_PF, "user write to kernel memory"))
			return;
		CHECK(kernel_secret == 0x5ec7e75ec7e75ec7, "user mode overwrote the secret "
		      "through %lx", targets[i]);
	}
}
TEST_CASE("user-reads-kernel", case_user_reads_kernel, 0);

/*
 * A SYSCALL from user mode is never a hypercall, whatever rax holds: not
 * LHCALL_SHUTDOWN (the guest would die), not LHCALL_IRET (user code would
 * climb into guest-kernel mode through a frame of its own making).
 */
static void case_user_cannot_hypercall(void)
{
	static const u64 calls[] = { LHCALL_SHUTDOWN, LHCALL_IRET, LHCALL_LOAD_CR3 };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(calls); i++) {
		struct user_exit *e = run_user(user_hcall, calls[i], USER_RFLAGS);

		CHECK(!(e->regs.vector == LGUEST_TRAP_SYSCALL && e->regs.rdi == 0xbad),
		      "user mode reached guest-kernel mode through hypercall %lu", calls[i]);
		if (!user_event_is(e, LGUEST_TRAP_SYSCALL, "user SYSCALL"))
			return;
		CHECK(e->regs.rax == calls[i], "user SYSCALL %lu arrived with rax %lx",
		      calls[i], e->regs.rax);
	}
}
TEST_CASE("user-cannot-hypercall", case_user_cannot_hypercall, 0);

/*
 * The return to user mode that lg.ko's switcher does itself (its fast
 * path) reads the LHCALL_IRET frame straight from the guest's stack.  Where
 * the shadow tables have no entry for that stack yet, the read faults
 * inside the switcher and the slow path must take over: a frame whose
 * second page was just dropped (INVLPG) must work like any other, with
 * rax, rcx and r11 taken from it.
 */
#define FRAME_VA	(SCRATCH_VA + 0x2000000)	/* this file's own */

static void case_iret_frame_unshadowed(void)
{
	struct lguest_iret_frame *frame;
	struct user_exit *e;

	map_page(kernel_pml4, FRAME_VA, alloc_page(), PTE_W);
	map_page(kernel_pml4, FRAME_VA + PAGE_SIZE, alloc_page(), PTE_W);
	/* rax, r11 and rcx on the first page, rip and the rest on the second */
	frame = (struct lguest_iret_frame *)(FRAME_VA + PAGE_SIZE - 24);
	*frame = (struct lguest_iret_frame) {
		.rax = 0xa1a1, .r11 = 0x1111, .rcx = 0xc1c1,
		.rip = user_va(user_report_iret_regs), .cs = LGUEST_USER_CS,
		.rflags = USER_RFLAGS, .rsp = USER_STACK_TOP, .ss = LGUEST_USER_DS,
	};
	hcall1(LHCALL_INVLPG, FRAME_VA + PAGE_SIZE);
	e = run_user_through(frame);
	unmap_page(kernel_pml4, FRAME_VA);
	unmap_page(kernel_pml4, FRAME_VA + PAGE_SIZE);
	hcall1(LHCALL_FLUSH_TLB, 0);
	if (!user_event_is(e, LGUEST_TRAP_SYSCALL, "return through a frame not yet shadowed"))
		return;
	CHECK(e->regs.rdi == 0xa1a1 && e->regs.rsi == 0xc1c1 && e->regs.rdx == 0x1111,
	      "user mode found rax %lx rcx %lx r11 %lx, the frame said a1a1 c1c1 1111",
	      e->regs.rdi, e->regs.rsi, e->regs.rdx);
}
TEST_CASE("iret-frame-unshadowed", case_iret_frame_unshadowed, 0);

/*
 * A user SYSCALL enters the guest kernel on the user's rsp, whatever it
 * holds (the kernel switches stacks itself): an unmapped address, or one
 * that is not even canonical, reaches the syscall entry unchanged and
 * costs nobody a fault.
 */
static void case_user_syscall_any_stack(void)
{
	static const u64 stacks[] = { UNMAPPED_LOW, 0x8000000000000000UL };
	struct user_exit *e;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(stacks); i++) {
		e = run_user(user_syscall_on_stack, stacks[i], USER_RFLAGS);
		if (!user_event_is(e, LGUEST_TRAP_SYSCALL, "syscall on an odd stack"))
			return;
		CHECK(e->regs.rsp == stacks[i], "the syscall entry found rsp %lx, user mode "
		      "had %lx", e->regs.rsp, stacks[i]);
	}
}
TEST_CASE("user-syscall-any-stack", case_user_syscall_any_stack, 0);

/*
 * Demand paging as Linux does it: a user access faults, the kernel maps
 * the page and returns to the instruction (through the switcher's fast
 * return), which runs again and now sees the page the kernel mapped, with
 * the accessed and dirty bits of the access; an access the new entry still
 * refuses (a write to a page mapped read-only) faults as it should.
 */
#define DEMAND_VA	0x10000000UL
#define DEMAND_PATTERN	0xde3a4d0000000000UL

static u64 demand_pa;
static bool demand_writable;

static bool map_demand_page(u64 cr2, u64 error)
{
	u64 page = cr2 & ~(PAGE_SIZE - 1);

	if (page != DEMAND_VA || (error & PF_PRESENT))
		return false;		/* a second fault: the case looks at it */
	demand_pa = alloc_page();
	*(u64 *)phys_to_virt(demand_pa + (cr2 - page)) = DEMAND_PATTERN | (cr2 - page);
	map_page(kernel_pml4, page, demand_pa, PTE_U | (demand_writable ? PTE_W : 0));
	return true;
}

static void case_user_demand_paging(void)
{
	struct user_exit *e;
	u64 *pte;

	user_fault_mapper = map_demand_page;
	user_faults_mapped = 0;
	demand_writable = false;
	e = run_user(user_read, DEMAND_VA + 0x18, USER_RFLAGS);
	CHECK(user_faults_mapped == 1 && e->regs.vector == LGUEST_TRAP_SYSCALL &&
	      e->regs.rdi == (DEMAND_PATTERN | 0x18), "a read of a page mapped on demand: "
	      "%u faults mapped, run ended by vector %lu with rdi %lx", user_faults_mapped,
	      e->regs.vector, e->regs.rdi);
	pte = pte_lookup(kernel_pml4, DEMAND_VA, 0);
	CHECK(pte && (*pte & PTE_A) && !(*pte & PTE_D), "the page read on demand has "
	      "pte %lx, expected accessed and clean", pte ? *pte : 0);

	/* Read-only: the write faults again, now on a present page. */
	e = run_user(user_write, DEMAND_VA + 8, USER_RFLAGS);
	CHECK(e->regs.vector == X86_TRAP_PF && e->regs.error == (PF_PRESENT | PF_WRITE | PF_USER) &&
	      e->cr2 == DEMAND_VA + 8, "a write to the read-only page: vector %lu error %lx "
	      "cr2 %lx, expected a protection fault", e->regs.vector, e->regs.error, e->cr2);
	unmap_page(kernel_pml4, DEMAND_VA);
	hcall1(LHCALL_INVLPG, DEMAND_VA);

	demand_writable = true;
	e = run_user(user_write, DEMAND_VA + 8, USER_RFLAGS);
	pte = pte_lookup(kernel_pml4, DEMAND_VA, 0);
	CHECK(e->regs.vector == LGUEST_TRAP_SYSCALL &&
	      *(u64 *)phys_to_virt(demand_pa + 8) == 1, "a write to a page mapped on "
	      "demand: run ended by vector %lu, the page holds %lx", e->regs.vector,
	      *(u64 *)phys_to_virt(demand_pa + 8));
	CHECK(pte && (*pte & PTE_A) && (*pte & PTE_D), "the page written on demand has "
	      "pte %lx, expected accessed and dirty", pte ? *pte : 0);
	unmap_page(kernel_pml4, DEMAND_VA);
	hcall1(LHCALL_INVLPG, DEMAND_VA);
	user_fault_mapper = NULL;
}
TEST_CASE("user-demand-paging", case_user_demand_paging, 0);

/*
 * lg.ko's switcher reflects simple exceptions from user mode itself (a
 * fast path), writing the frame onto the kernel stack through its own
 * mapping of it.  Where the shadow has no entry for that stack, the write
 * faults inside the switcher and the slow path must deliver instead: the
 * same frame, on the same stack, for a page fault and for a #GP.
 */
static void case_user_fault_frame_unshadowed(void)
{
	u64 stack_page = (u64)kernel_stack_top - 8;
	struct user_exit *e;

	touch_tables(UNMAPPED_LOW);
	hcall1(LHCALL_INVLPG, stack_page);
	e = run_user(user_read, UNMAPPED_LOW, USER_RFLAGS);
	if (!user_page_fault_is(e, UNMAPPED_LOW, PF_USER, user_read_insn,
				"a user fault with the kernel stack unshadowed"))
		return;
	hcall1(LHCALL_INVLPG, stack_page);
	e = run_user(user_cli, 0, USER_RFLAGS);
	if (!user_event_is(e, X86_TRAP_GP, "a user #GP with the kernel stack unshadowed"))
		return;
	CHECK(e->regs.rip == user_va(user_cli_insn) && frame_on_kernel_stack(e->frame_addr),
	      "the #GP frame at %lx says rip %lx, expected %lx on the kernel stack",
	      e->frame_addr, e->regs.rip, user_va(user_cli_insn));
}
TEST_CASE("user-fault-frame-unshadowed", case_user_fault_frame_unshadowed, 0);

/*
 * To tell a user page fault of the guest's from one its shadow must
 * fill, the switcher walks our page tables through our direct map
 * (shared.direct_map).  A walk whose read faults (the shadow has dropped
 * the PML4's page from the direct map) gives up, and the slow path finds
 * the same: the fault is ours.
 */
static void case_user_fault_tables_unshadowed(void)
{
	struct user_exit *e;

	touch_tables(UNMAPPED_LOW);
	hcall1(LHCALL_INVLPG, (u64)kernel_pml4);
	e = run_user(user_read, UNMAPPED_LOW, USER_RFLAGS);
	user_page_fault_is(e, UNMAPPED_LOW, PF_USER, user_read_insn,
			   "a user fault with the page tables unshadowed");
}
TEST_CASE("user-fault-tables-unshadowed", case_user_fault_tables_unshadowed, 0);

/*
 * The direct map is ours to give, and any value must only ever cost us:
 * one in the switcher's hole, in the user half, one that wraps around, or
 * one where nothing is mapped.  Each time a fault of ours still arrives as
 * ours, and a page we mapped (but the shadow has not seen) is read as
 * mapped, not reported as a fault.
 */
#define ODD_MAP_VA	0x20000000UL
#define ODD_MAP_VALUE	0x0dd3a9000000000UL

static void case_user_fault_odd_direct_map(void)
{
	static const u64 maps[] = {
		HOLE_START, USER_CODE_VA, 0xfffffffffffff000UL,
		DIRECT_MAP + FAR_BEYOND_RAM,
	};
	struct user_exit *e;
	unsigned int i;
	u64 pa;

	touch_tables(UNMAPPED_LOW);
	for (i = 0; i < ARRAY_SIZE(maps); i++) {
		shared.direct_map = maps[i];
		e = run_user(user_read, UNMAPPED_LOW, USER_RFLAGS);
		if (!user_page_fault_is(e, UNMAPPED_LOW, PF_USER, user_read_insn,
					"a user fault with an odd direct map"))
			break;
		pa = alloc_page();
		*(u64 *)phys_to_virt(pa) = ODD_MAP_VALUE + i;
		map_page(kernel_pml4, ODD_MAP_VA, pa, PTE_U);
		e = run_user(user_read, ODD_MAP_VA, USER_RFLAGS);
		unmap_page(kernel_pml4, ODD_MAP_VA);
		hcall1(LHCALL_INVLPG, ODD_MAP_VA);
		if (e->regs.vector != LGUEST_TRAP_SYSCALL || e->regs.rdi != ODD_MAP_VALUE + i) {
			case_fail("direct map %lx: a read of a mapped page ended by vector %lu "
				  "(cr2 %lx) with rdi %lx, expected %lx", maps[i], e->regs.vector,
				  e->cr2, e->regs.rdi, ODD_MAP_VALUE + i);
			break;
		}
	}
	shared.direct_map = DIRECT_MAP;
}
TEST_CASE("user-fault-odd-direct-map", case_user_fault_odd_direct_map, 0);

/*
 * For the runner (check_fast_reflection): 100 user page faults and 100
 * #GPs, each of which the switcher can reflect alone, then "spinning";
 * meanwhile the runner reads lg.ko's counters of them.
 */
static void case_fast_reflection(void)
{
	unsigned int i;

	touch_tables(UNMAPPED_LOW);
	for (i = 0; i < 100; i++) {
		if (run_user(user_read, UNMAPPED_LOW, USER_RFLAGS)->regs.vector != X86_TRAP_PF ||
		    run_user(user_cli, 0, USER_RFLAGS)->regs.vector != X86_TRAP_GP) {
			case_fail("round %u: a user fault or #GP did not arrive", i);
			return;
		}
	}
	spin_announced();
}
TEST_CASE("fast-reflection", case_fast_reflection, CASE_MANUAL);
