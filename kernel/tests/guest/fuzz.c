/*
 * fuzz.c - the hypercall fuzzer: "fuzz seed=S calls=N" on the command line.
 *
 * A guest kernel may pass anything in any register.  This one does: it
 * makes hypercalls chosen by a seeded generator (the same seed makes the
 * same calls), with arguments drawn from values at the edges of what lg.ko
 * checks (zero, all ones, the end of RAM, the switcher hole, the first
 * non-canonical address, page and byte offsets around them) and from
 * plain random numbers.
 *
 * Most calls are "tame": numbers and argument classes the ABI accepts,
 * kept from destroying the fuzzer itself (a handler for a vector that
 * never fires, the page tables it already runs on, a timer with interrupts
 * off), so that one guest makes thousands of calls.  Every
 * WILD_EVERY-th call is "wild": any number, any arguments, announced on
 * the console first ("FUZZ-WILD: #N nr args"); it usually gets the guest
 * killed with a reason, and the runner starts the next seed.  A guest that
 * makes all its calls says "FUZZ-DONE: N calls" and powers off.  Either
 * way the host must be unharmed: that is for the runner to check.
 */
#include "guest.h"

#define WILD_EVERY	4096
#define FUZZ_NR_LIMIT	(LHCALL_NR + 4)	/* a few unknown numbers too */

static u64 rng_state;

/* xorshift64*: small, and good enough to pick test inputs. */
static u64 rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dUL;
}

static u64 rng_below(u64 n)
{
	return rng() % n;
}

/* An argument: an edge value, an edge plus or minus a little, or noise. */
static u64 fuzz_value(void)
{
	const u64 edges[] = {
		0, 1, ~0UL, 0x7fffffffffffUL, 0x800000000000UL, HOLE_START,
		HOLE_END - 8, HOLE_END, 0xffff800000000000UL + 2 * PAGE_SIZE,
		ram_top, ram_top - PAGE_SIZE, FAR_BEYOND_RAM, LGUEST_BOOT_PGTABLES,
		DIRECT_MAP, DIRECT_MAP + ram_top, KERNEL_MAP, (u64)kernel_stack,
		LGUEST_NR_IRQS, LGUEST_TRAP_SYSCALL, 1UL << 63, 0xfffUL,
	};
	u64 v;

	switch (rng_below(4)) {
	case 0:
		return edges[rng_below(ARRAY_SIZE(edges))];
	case 1:
		v = edges[rng_below(ARRAY_SIZE(edges))];
		return v + rng_below(2 * PAGE_SIZE + 1) - PAGE_SIZE;
	case 2:
		return rng_below(ram_top) & PAGE_MASK;
	default:
		return rng();
	}
}

static u64 canonical(u64 v)
{
	return (u64)((long)(v << 16) >> 16);
}

static const char dots[] = "................................................................";

/*
 * A call the guest survives by construction, its arguments still drawn
 * from fuzz_value() wherever the ABI accepts them all.
 */
static void tame_call(void)
{
	u64 a = fuzz_value(), b = fuzz_value();

	switch (rng_below(12)) {
	case 0:
		hcall5(LHCALL_NOP, a, b, fuzz_value(), fuzz_value(), fuzz_value());
		break;
	case 1:
		/* rare: it reaches the console, up to LGUEST_CONSOLE_MAX bytes */
		if (!rng_below(64))
			hcall2(LHCALL_CONSOLE_WRITE, (u64)dots, a % sizeof(dots));
		break;
	case 2:
		/* vectors 32..239: nothing ever raises them here */
		hcall3(LHCALL_SET_TRAP, 32 + rng_below(208), canonical(a), b & 1);
		break;
	case 3:
		hcall1(LHCALL_SET_KERNEL_STACK, canonical(a));
		break;
	case 4:
		hcall1(LHCALL_FLUSH_TLB, a & LGUEST_FLUSH_KEEP_GLOBAL);
		break;
	case 5:
		hcall1(LHCALL_INVLPG, a);
		break;
	case 6:
		/* interrupts stay off: the line only becomes pending */
		hcall1(LHCALL_SET_TIMER, a);
		break;
	case 7:
		hcall1(LHCALL_NOTIFY, a);
		break;
	case 8:
		hcall2(LHCALL_SET_SEGMENT_BASE, rng_below(3), canonical(a));
		break;
	case 9:
		load_pml4(kernel_pml4);
		break;
	case 10:
		/* a short timer to wake us, the upcall, interrupts off again */
		hcall1(LHCALL_SET_TIMER, 1 + rng_below(100000));
		hcall0(LHCALL_HALT);
		shared.irq_enabled = 0;
		break;
	default:
		hcall2(LHCALL_SET_SEGMENT_BASE, LGUEST_SEG_FS, 0);
		break;
	}
}

static void wild_call(u64 n)
{
	u64 nr = rng_below(FUZZ_NR_LIMIT), a[5];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(a); i++)
		a[i] = fuzz_value();
	/* A wild halt still wakes up: a hang would tell the runner nothing. */
	if (nr == LHCALL_HALT)
		hcall1(LHCALL_SET_TIMER, 1000000);
	kprintf("FUZZ-WILD: #%lu nr %lu args %lx %lx %lx %lx %lx\n", n, nr, a[0], a[1],
		a[2], a[3], a[4]);
	hcall5(nr, a[0], a[1], a[2], a[3], a[4]);
}

void run_fuzz(void)
{
	const char *value;
	u64 seed = 1, calls = 100000, n;

	if (cmdline_find("seed", &value))
		seed = parse_number(&value);
	if (cmdline_find("calls", &value))
		calls = parse_number(&value);
	rng_state = seed * 0x9e3779b97f4a7c15UL | 1;
	kprintf("FUZZ: seed %lu, %lu calls, one wild call in %u\n", seed, calls,
		WILD_EVERY);
	irq_state_reset();
	for (n = 1; n <= calls; n++) {
		if (n % WILD_EVERY == 0)
			wild_call(n);
		else
			tame_call();
	}
	/* What the tame calls changed that the power-off path relies on. */
	traps_install();
	load_pml4(kernel_pml4);
	kprintf("FUZZ-DONE: %lu calls\n", calls);
}
