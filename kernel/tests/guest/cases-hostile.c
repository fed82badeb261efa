/*
 * cases-hostile.c - a guest that attacks the host through the CPU state
 * it leaves behind, rather than through hypercall arguments: flags the host
 * must not inherit, a single step into the hypervisor on a stack of the
 * guest's choosing, and page tables built to make the host allocate.  Each
 * case passes when the guest gets the native answer and keeps running; a
 * broken lg.ko takes the host down instead, which the runner sees.
 */
#include "guest.h"

#define HOSTILE_KERNEL_VA	(SCRATCH_VA + 0xc00000)	/* this file's own */
#define HOSTILE_USER_VA		0xa00000UL
/* A PML4 slot nothing else uses, for the aliasing page tables. */
#define ALIAS_SLOT		(((SCRATCH_VA >> 39) + 2) & 511)
#define ALIAS_VA		(0xffff000000000000UL | (u64)ALIAS_SLOT << 39)
#define ALIAS_STEP		0x200000UL	/* one guest PT maps each 2 MiB */
#define ALIAS_TOUCHES		16384		/* 64 MiB of shadow tables, unbounded */
#define ALIAS_MAGIC		0xa11a5ed0a11a5ed0UL
#define MS			1000000UL

/* hostile.S */
u64 flags_across_hcall(void), flags_across_fill(u64 va), flags_across_pf(void),
	flags_across_ud(void), flags_across_gp(void), flags_across_int3(void),
	flags_across_spin(u64 until_tsc);
u64 tf_over_hcall(u64 rsp, bool mov_ss);

static bool hostile_flags_kept(u64 rflags, const char *what)
{
	if ((rflags & HOSTILE_FLAGS) == HOSTILE_FLAGS)
		return true;
	case_fail("%s: rflags %lx afterwards, the guest had set %lx", what, rflags,
		  HOSTILE_FLAGS);
	return false;
}

/* A guest-kernel fault taken with the hostile flags: native vector, flags kept. */
static bool fault_with_flags(u64 (*probe)(void), u64 vector, const char *what)
{
	u64 rflags;

	memset(&last_fault, 0, sizeof(last_fault));
	rflags = probe();
	if (last_fault.count != 1 || last_fault.vector != vector) {
		case_fail("%s: %u faults, the last vector %lu, expected one of vector %lu",
			  what, last_fault.count, last_fault.vector, vector);
		return false;
	}
	return hostile_flags_kept(rflags, what);
}

/*
 * DF, AC and NT set in guest-kernel mode at every kind of exit: the host
 * runs its C code for each (DF would make its memcpy write backwards over
 * its own memory) and must hand the flags back untouched.
 */
static void case_hostile_flags_kernel(void)
{
	u64 page = alloc_page();

	CHECK(hostile_flags_kept(flags_across_hcall(), "LHCALL_NOP"), "-");
	map_page(kernel_pml4, HOSTILE_KERNEL_VA, page, PTE_W);
	hcall0(LHCALL_FLUSH_TLB);
	CHECK(hostile_flags_kept(flags_across_fill(HOSTILE_KERNEL_VA), "a shadow fill"),
	      "-");
	CHECK(fault_with_flags(flags_across_pf, X86_TRAP_PF, "a reflected #PF"), "-");
	CHECK(fault_with_flags(flags_across_ud, X86_TRAP_UD, "#UD"), "-");
	CHECK(fault_with_flags(flags_across_gp, X86_TRAP_GP, "#GP"), "-");
	CHECK(fault_with_flags(flags_across_int3, X86_TRAP_BP, "int3"), "-");
	CHECK(hostile_flags_kept(flags_across_spin(rdtsc() + 200 * tsc_per_ms()),
				 "200 ms of host interrupts"), "-");
	unmap_page(kernel_pml4, HOSTILE_KERNEL_VA);
}
TEST_CASE("hostile-flags-kernel", case_hostile_flags_kernel, 0);

static bool user_hostile_exit(const char *stub, u64 arg, u64 vector, const char *what)
{
	struct user_exit *e = run_user(stub, arg, USER_RFLAGS);
	u64 rflags = vector == LGUEST_TRAP_SYSCALL ? e->regs.r11 : e->regs.rflags;

	if (e->regs.vector != vector || e->regs.cs != LGUEST_USER_CS) {
		case_fail("%s: the user run ended by vector %lu at rip %lx cs %lx, expected "
			  "vector %lu from user mode", what, e->regs.vector, e->regs.rip,
			  e->regs.cs, vector);
		return false;
	}
	return hostile_flags_kept(rflags, what);
}

/*
 * A user spin with the hostile flags set, until the timer takes it away.
 * On a loaded host the timer may fire before the user code has set them
 * (the upcall then lands before the spin loop): that says nothing, so try
 * again, a few times.
 */
static bool user_spin_with_flags_until_timer(void)
{
	struct user_exit *e;
	unsigned int try;

	for (try = 0; try < 5; try++) {
		hcall1(LHCALL_SET_TIMER, 50 * MS);
		e = run_user(user_hostile_spin, 0, USER_RFLAGS);
		if (e->regs.vector != LGUEST_UPCALL_VECTOR || e->regs.cs != LGUEST_USER_CS) {
			case_fail("a user spin until the timer: the run ended by vector %lu at "
				  "rip %lx cs %lx, expected the upcall from user mode",
				  e->regs.vector, e->regs.rip, e->regs.cs);
			return false;
		}
		if (e->regs.rip >= user_va(user_hostile_spin_loop))
			return hostile_flags_kept(e->regs.rflags, "a user spin until the timer");
	}
	case_fail("a user spin until the timer: the timer came before the spin 5 times");
	return false;
}

/* The same from guest-user mode, where any unprivileged program can do it. */
static void case_hostile_flags_user(void)
{
	u64 page = alloc_page();

	map_page(kernel_pml4, HOSTILE_USER_VA, page, PTE_U | PTE_W);
	hcall0(LHCALL_FLUSH_TLB);
	CHECK(user_hostile_exit(user_hostile_read, HOSTILE_USER_VA, LGUEST_TRAP_SYSCALL,
				"a user shadow fill, then a syscall"), "-");
	CHECK(user_hostile_exit(user_hostile_syscall, 0, LGUEST_TRAP_SYSCALL,
				"a user syscall"), "-");
	CHECK(user_hostile_exit(user_hostile_read, UNMAPPED_LOW, X86_TRAP_PF,
				"a user #PF"), "-");
	CHECK(user_hostile_exit(user_hostile_ud, 0, X86_TRAP_UD, "a user #UD"), "-");
	CHECK(user_hostile_exit(user_hostile_gp, 0, X86_TRAP_GP, "a user #GP"), "-");
	CHECK(user_hostile_exit(user_hostile_int3, 0, X86_TRAP_BP, "a user int3"), "-");
	user_exit_on_upcall = true;
	CHECK(user_spin_with_flags_until_timer(), "-");
	unmap_page(kernel_pml4, HOSTILE_USER_VA);
}
TEST_CASE("hostile-flags-user", case_hostile_flags_user, 0);

static bool single_step_over_hcall(u64 rsp, bool mov_ss, const char *what)
{
	u64 trap_rip;

	memset(&debug_traps, 0, sizeof(debug_traps));
	trap_rip = tf_over_hcall(rsp, mov_ss);
	if (debug_traps.count == 1 && debug_traps.rip == trap_rip)
		return true;
	case_fail("%s: %u single-step traps, the last at %lx; expected one at %lx", what,
		  debug_traps.count, debug_traps.rip, trap_rip);
	return false;
}

/*
 * A hypercall made with TF set, with %rsp aimed at the switcher's own
 * state page (the host's saved stack pointer lies there), at nothing, and
 * on the guest's stack; then the same after a MOV to %ss.  The trap the
 * SYSCALL owes must not be pushed where %rsp points; the guest gets its
 * single step on the instruction after, as natively.
 */
static void case_single_step_hypercall(void)
{
	static const struct {
		u64 rsp;
		const char *what;
	} stacks[] = {
		/* a frame there would land on the host's saved %rsp and %cr3 */
		{ HOLE_START + 2 * PAGE_SIZE + 0x120, "rsp in the switcher's state page" },
		{ HOLE_START + 0x10000 + 2 * PAGE_SIZE + 0x120, "rsp in CPU 1's state page" },
		{ UNMAPPED_LOW, "rsp at an unmapped address" },
		{ (u64)kernel_stack + 0x800, "rsp on the guest's own stack" },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(stacks); i++) {
		CHECK(single_step_over_hcall(stacks[i].rsp, false, stacks[i].what), "-");
		CHECK(single_step_over_hcall(stacks[i].rsp, true, stacks[i].what), "-");
	}
}
TEST_CASE("single-step-hypercall", case_single_step_hypercall, 0);

/*
 * One guest page table hung into every entry of a page directory, that
 * directory into every entry of a PDPT, and the PDPT into a PML4 slot: each
 * 2 MiB touched is a new shadow table for the host, 64 MiB for this loop
 * if nothing bounds it.  Every touch must still read the right page, twice
 * over (the host may forget translations on the way, never get them wrong).
 * With "hold" on the command line the guest waits 3 s after the first pass
 * (printing HOLDING first), so the runner can measure the host's memory.
 */
static void case_shadow_budget(void)
{
	u64 data = alloc_page(), pt = alloc_page(), pd = alloc_page(), pdpt = alloc_page();
	unsigned int i, pass;

	*(u64 *)phys_to_virt(data) = ALIAS_MAGIC;
	((u64 *)phys_to_virt(pt))[0] = data | PTE_P | PTE_W;
	for (i = 0; i < 512; i++) {
		((u64 *)phys_to_virt(pd))[i] = pt | PTE_P | PTE_W;
		((u64 *)phys_to_virt(pdpt))[i] = pd | PTE_P | PTE_W;
	}
	kernel_pml4[ALIAS_SLOT] = pdpt | PTE_P | PTE_W;
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < ALIAS_TOUCHES; i++) {
			u64 va = ALIAS_VA + i * ALIAS_STEP, value = 0;

			if (probe_read(va, &value) || value != ALIAS_MAGIC) {
				case_fail("pass %u: %lx reads %lx (fault: %s), expected %lx",
					  pass, va, value, last_fault.count ? "yes" : "no",
					  ALIAS_MAGIC);
				goto out;
			}
		}
		if (pass == 0 && cmdline_find("hold", NULL)) {
			kprintf("HOLDING\n");
			spin_ms(3000, NULL);
		}
	}
out:
	kernel_pml4[ALIAS_SLOT] = 0;
	hcall0(LHCALL_FLUSH_TLB);
}
TEST_CASE("shadow-budget", case_shadow_budget, 0);
