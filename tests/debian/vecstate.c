/*
 * vecstate: does every process and thread keep its own vector registers?
 *
 *   vecstate WIDTH processes|threads|signals
 *
 * WIDTH is sse (xmm0-15), avx (ymm0-15) or avx512 (zmm0-31 and k0-7); vecregs.S holds
 * the registers while the kernel does its work.
 *
 *   processes  3 processes, each round loading values of its own into every register,
 *              then spinning (preemption) and calling sched_yield() between spins
 *   threads    the same with 3 threads of one process
 *   signals    one process spinning with its registers loaded while an interval timer's
 *              SIGALRM handler loads other values into all of them
 *
 * Every register must come back as it was loaded.  A wrong one is named with what it
 * held instead: zeros, another worker's or the signal handler's values.  The processes
 * and threads cases also need at least one preemption inside a spin, or they did not
 * test what they claim.  Exit status 0: all kept; 1: some register changed (or no
 * preemption / no signal came); 77: this CPU or kernel does not offer WIDTH.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#define WORKERS 3
#define ROUNDS 24
#define SPINS 3000000L
#define YIELDS 3
#define SIGNAL_ROUNDS 40
#define SIGNAL_SPINS 2000000000L
#define HANDLER 99		/* the signal handler's "worker number" in the patterns */
#define MAX_BYTES 2112		/* avx512: 32 zmm x 64 + 8 masks x 8 */
#define MAX_REPORTS 4		/* wrong registers described per worker */

struct width {
	const char *name, *reg;	/* "avx", "ymm" */
	int regs, bytes;	/* vector registers and bytes each */
	int masks;		/* mask registers after them (8-byte slots, 2 bytes used) */
	void (*hold)(const void *, void *, long, long);
	long (*wait)(const void *, void *, const volatile long *, long);
	void (*load)(const void *);
};

#define FUNCTIONS(w) \
	void vec_hold_##w(const void *, void *, long, long); \
	long vec_wait_##w(const void *, void *, const volatile long *, long); \
	void vec_load_##w(const void *);
FUNCTIONS(sse)
FUNCTIONS(avx)
FUNCTIONS(avx512)

static const struct width widths[] = {
	{ "sse", "xmm", 16, 16, 0, vec_hold_sse, vec_wait_sse, vec_load_sse },
	{ "avx", "ymm", 16, 32, 0, vec_hold_avx, vec_wait_avx, vec_load_avx },
	{ "avx512", "zmm", 32, 64, 8, vec_hold_avx512, vec_wait_avx512, vec_load_avx512 },
};

static const struct width *width;

static int total_bytes(void)
{
	return width->regs * width->bytes + width->masks * 8;
}

/* Why this machine cannot run WIDTH, or NULL if it can: the CPU must offer it (CPUID)
 * and the kernel must have enabled its state (XCR0, read with XGETBV). */
static const char *unavailable(const struct width *w)
{
	unsigned int a, b, c, d;
	uint32_t lo, hi;
	uint64_t xcr0;

	if (w->bytes == 16)
		return NULL;	/* SSE2 is part of x86-64 */
	__cpuid(1, a, b, c, d);
	if (!(c & bit_OSXSAVE))
		return "the kernel did not enable XSAVE (CPUID.1:ECX.OSXSAVE clear)";
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	xcr0 = (uint64_t)hi << 32 | lo;
	if (!(c & bit_AVX))
		return "CPUID offers no AVX (CPUID.1:ECX bit 28 clear)";
	if ((xcr0 & 6) != 6)
		return "the kernel did not enable the SSE and AVX state in XCR0";
	if (w->bytes == 32)
		return NULL;
	__cpuid_count(7, 0, a, b, c, d);
	if (!(b & bit_AVX512F))
		return "CPUID offers no AVX-512 (CPUID.7.0:EBX bit 16 clear)";
	if ((xcr0 & 0xe6) != 0xe6)
		return "the kernel did not enable the opmask and ZMM state in XCR0";
	return NULL;
}

static uint64_t mix(uint64_t x)		/* splitmix64 */
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* The values worker WHO loads in round ROUND: different in every byte of every register,
 * for every worker and round; unused mask bytes zero. */
static void pattern(uint8_t *buf, int who, int round)
{
	int vectors = width->regs * width->bytes, i;

	for (i = 0; i < total_bytes(); i++) {
		uint64_t word = mix((uint64_t)who << 40 | (uint64_t)round << 20 | i / 8);

		buf[i] = i >= vectors && (i - vectors) % 8 >= 2 ? 0 : word >> (8 * (i % 8));
	}
}

/* A 16-byte lane (mask registers: 2 bytes) of register REG, for reports. */
struct lane {
	int reg, offset, len;	/* reg >= width->regs: mask register reg - regs */
};

static int lanes(struct lane *out)
{
	int n = 0, reg, offset;

	for (reg = 0; reg < width->regs; reg++)
		for (offset = 0; offset < width->bytes; offset += 16)
			out[n++] = (struct lane){ reg, reg * width->bytes + offset, 16 };
	for (reg = 0; reg < width->masks; reg++)
		out[n++] = (struct lane){ width->regs + reg, width->regs * width->bytes + 8 * reg, 2 };
	return n;
}

/* What a wrong lane holds: zeros, or the values of some worker's round (HANDLER: the
 * signal handler's), searched among rounds 0..ROUNDS. */
static void describe(char *text, size_t size, const uint8_t *got, const struct lane *lane,
		     int rounds)
{
	static const uint8_t zeros[64];
	static const int loaders[] = { 0, 1, 2, HANDLER };	/* the workers, the handler */
	uint8_t other[MAX_BYTES];
	int who, round;
	size_t i;

	if (!memcmp(got + lane->offset, zeros, lane->len)) {
		snprintf(text, size, "zeros");
		return;
	}
	for (i = 0; i < sizeof(loaders) / sizeof(loaders[0]); i++)
		for (who = loaders[i], round = 0; round <= rounds; round++) {
			pattern(other, who, round);
			if (!memcmp(got + lane->offset, other + lane->offset, lane->len)) {
				if (who == HANDLER)
					snprintf(text, size, "the signal handler's values");
				else
					snprintf(text, size, "worker %d's values of round %d",
						 who, round);
				return;
			}
		}
	snprintf(text, size, "values nobody loaded");
}

/* Compare one round; report up to *REPORTS wrong lanes (counting down).  Returns the
 * number of wrong lanes. */
static int check(int who, int round, const uint8_t *want, const uint8_t *got, int *reports,
		 int rounds)
{
	struct lane all[MAX_BYTES / 2];
	int n = lanes(all), wrong = 0, i;

	for (i = 0; i < n; i++) {
		const struct lane *lane = &all[i];
		char held[64];

		if (!memcmp(want + lane->offset, got + lane->offset, lane->len))
			continue;
		wrong++;
		if (*reports <= 0)
			continue;
		(*reports)--;
		describe(held, sizeof(held), got, lane, rounds);
		if (lane->reg < width->regs)
			printf("worker %d round %d: %s%d bytes %d-%d hold %s\n", who, round,
			       width->reg, lane->reg, lane->offset % width->bytes,
			       lane->offset % width->bytes + 15, held);
		else
			printf("worker %d round %d: k%d holds %s\n", who, round,
			       lane->reg - width->regs, held);
	}
	return wrong;
}

static long preemptions(const char *status_file)
{
	char line[256];
	long n = -1;
	FILE *f = fopen(status_file, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "nonvoluntary_ctxt_switches: %ld", &n) == 1)
			break;
	fclose(f);
	return n;
}

struct outcome {
	int wrong_rounds;
	long preempted;
};

/* One worker's rounds: load, spin and yield, store, compare. */
static struct outcome work(int who, const char *status_file)
{
	uint8_t want[MAX_BYTES], got[MAX_BYTES];
	int round, reports = MAX_REPORTS;
	struct outcome result = { 0, 0 };
	long before = preemptions(status_file);

	for (round = 0; round < ROUNDS; round++) {
		pattern(want, who, round);
		memset(got, 0, sizeof(got));
		/* even rounds yield between spins, odd ones only spin (preemption only) */
		width->hold(want, got, round % 2 ? YIELDS * SPINS : SPINS, round % 2 ? 0 : YIELDS);
		if (check(who, round, want, got, &reports, ROUNDS))
			result.wrong_rounds++;
	}
	result.preempted = preemptions(status_file) - before;
	printf("worker %d: %d of %d rounds with wrong registers, preempted %ld times\n", who,
	       result.wrong_rounds, ROUNDS, result.preempted);
	fflush(stdout);
	return result;
}

static int verdict(int wrong, long preempted)
{
	if (wrong) {
		printf("%d of %d workers saw %s registers they did not load\n", wrong, WORKERS,
		       width->reg);
		return 1;
	}
	if (preempted <= 0) {
		printf("no worker was preempted while holding its registers: the case did not "
		       "test preemption\n");
		return 1;
	}
	printf("%d workers kept their %s registers across %d rounds (%ld preemptions)\n",
	       WORKERS, width->reg, ROUNDS, preempted);
	return 0;
}

static int processes(void)
{
	int who, status, wrong = 0;
	long preempted = 0;
	int fds[2];

	if (pipe(fds)) {
		perror("vecstate: pipe");
		return 1;
	}
	for (who = 0; who < WORKERS; who++) {
		pid_t pid = fork();

		if (pid < 0) {
			perror("vecstate: fork");
			return 1;
		}
		if (pid == 0) {
			struct outcome result = work(who, "/proc/self/status");

			if (write(fds[1], &result, sizeof(result)) != sizeof(result))
				_exit(2);
			_exit(0);
		}
	}
	close(fds[1]);
	for (who = 0; who < WORKERS; who++) {
		struct outcome result;

		if (read(fds[0], &result, sizeof(result)) != sizeof(result)) {
			printf("a worker process ended without reporting\n");
			return 1;
		}
		wrong += result.wrong_rounds > 0;
		preempted += result.preempted;
	}
	while (wait(&status) > 0)
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			printf("a worker process ended with wait status 0x%x\n", status);
			return 1;
		}
	return verdict(wrong, preempted);
}

struct thread {
	pthread_t id;
	int who;
	struct outcome result;
};

static void *thread_main(void *arg)
{
	struct thread *thread = arg;

	thread->result = work(thread->who, "/proc/thread-self/status");
	return NULL;
}

static int threads(void)
{
	struct thread threads[WORKERS];
	int who, wrong = 0;
	long preempted = 0;

	for (who = 0; who < WORKERS; who++) {
		threads[who].who = who;
		if (pthread_create(&threads[who].id, NULL, thread_main, &threads[who])) {
			printf("vecstate: pthread_create failed\n");
			return 1;
		}
	}
	for (who = 0; who < WORKERS; who++) {
		pthread_join(threads[who].id, NULL);
		wrong += threads[who].result.wrong_rounds > 0;
		preempted += threads[who].result.preempted;
	}
	return verdict(wrong, preempted);
}

static volatile long signals_seen;
static uint8_t handler_values[MAX_BYTES];

static void clobber(int sig)
{
	(void)sig;
	signals_seen++;
	width->load(handler_values);
}

static int signals(void)
{
	struct sigaction action = { .sa_handler = clobber };
	struct itimerval every_ms = { { 0, 1000 }, { 0, 1000 } }, off = { { 0, 0 }, { 0, 0 } };
	uint8_t want[MAX_BYTES], got[MAX_BYTES];
	int round, wrong = 0, reports = MAX_REPORTS;

	pattern(handler_values, HANDLER, 0);
	sigemptyset(&action.sa_mask);
	if (sigaction(SIGALRM, &action, NULL) || setitimer(ITIMER_REAL, &every_ms, NULL)) {
		perror("vecstate: SIGALRM timer");
		return 1;
	}
	for (round = 0; round < SIGNAL_ROUNDS; round++) {
		pattern(want, 0, round);
		memset(got, 0, sizeof(got));
		if (!width->wait(want, got, &signals_seen, SIGNAL_SPINS)) {
			printf("round %d: no SIGALRM came within %ld spins\n", round, SIGNAL_SPINS);
			return 1;
		}
		if (check(0, round, want, got, &reports, SIGNAL_ROUNDS))
			wrong++;
	}
	setitimer(ITIMER_REAL, &off, NULL);
	if (wrong) {
		printf("%d of %d rounds interrupted by a signal handler came back with wrong %s "
		       "registers\n", wrong, SIGNAL_ROUNDS, width->reg);
		return 1;
	}
	printf("%d rounds interrupted by a signal handler that loads other values kept their "
	       "%s registers (%ld signals)\n", SIGNAL_ROUNDS, width->reg, signals_seen);
	return 0;
}

int main(int argc, char **argv)
{
	const char *why;
	size_t i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 0; argc == 3 && i < sizeof(widths) / sizeof(widths[0]); i++)
		if (!strcmp(argv[1], widths[i].name))
			width = &widths[i];
	if (!width) {
		fprintf(stderr, "usage: vecstate sse|avx|avx512 processes|threads|signals\n");
		return 2;
	}
	why = unavailable(width);
	if (why) {
		printf("%s\n", why);
		return 77;
	}
	if (!strcmp(argv[2], "processes"))
		return processes();
	if (!strcmp(argv[2], "threads"))
		return threads();
	if (!strcmp(argv[2], "signals"))
		return signals();
	fprintf(stderr, "vecstate: unknown case '%s' (processes, threads or signals)\n", argv[2]);
	return 2;
}
