/*
 * bench-native.c - native costs of the operations the test guest's bench
 * mode measures, run on the appliance host in the same boot so the ratios
 * compare like with like.  Prints "BENCH: name cycles" lines:
 *   getpid             a null system call (vs. hypercall-nop, user-syscall)
 *   first-touch-fault  first write to a page of a fresh anonymous mapping
 *                      (vs. demand-fault)
 *   signal-self        kill(getpid(), SIGUSR1) delivered to a handler and
 *                      returned from (vs. timer-upcall)
 *   timerfd-wakeup-latency  how late a blocked read() of a 200 us timerfd
 *                      returns after its deadline (vs. halt-wakeup-latency)
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define SYSCALL_ITERS	20000
#define FAULT_PAGES	1024
#define SIGNAL_ITERS	2000
#define WAKEUP_ROUNDS	200
#define WAKEUP_NS	200000L
#define PAGE_SIZE	4096

static uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) :: "memory");
	return (uint64_t)hi << 32 | lo;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void report(const char *name, uint64_t cycles, uint64_t ops)
{
	uint64_t tenths = cycles * 10 / ops;

	printf("BENCH: %s %llu.%llu\n", name, (unsigned long long)(tenths / 10),
	       (unsigned long long)(tenths % 10));
}

/* TSC cycles per nanosecond, measured against CLOCK_MONOTONIC over 50 ms. */
static double tsc_per_ns(void)
{
	uint64_t t0 = now_ns(), c0 = rdtsc(), t1;

	while ((t1 = now_ns()) - t0 < 50000000)
		;
	return (double)(rdtsc() - c0) / (double)(t1 - t0);
}

static void bench_getpid(void)
{
	uint64_t t0 = rdtsc();
	int i;

	for (i = 0; i < SYSCALL_ITERS; i++)
		syscall(SYS_getpid);
	report("getpid", rdtsc() - t0, SYSCALL_ITERS);
}

static void bench_first_touch(void)
{
	volatile char *p = mmap(NULL, FAULT_PAGES * PAGE_SIZE, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t t0;
	int i;

	if (p == MAP_FAILED) {
		perror("bench-native: mmap of the fault area");
		exit(1);
	}
	t0 = rdtsc();
	for (i = 0; i < FAULT_PAGES; i++)
		p[(size_t)i * PAGE_SIZE] = 1;
	report("first-touch-fault", rdtsc() - t0, FAULT_PAGES);
	munmap((void *)p, FAULT_PAGES * PAGE_SIZE);
}

static volatile sig_atomic_t signals_seen;

static void on_signal(int sig)
{
	(void)sig;
	signals_seen++;
}

static void bench_signal(void)
{
	struct sigaction sa = { .sa_handler = on_signal };
	pid_t self = getpid();
	uint64_t t0;
	int i;

	sigaction(SIGUSR1, &sa, NULL);
	t0 = rdtsc();
	for (i = 0; i < SIGNAL_ITERS; i++)
		kill(self, SIGUSR1);
	report("signal-self", rdtsc() - t0, SIGNAL_ITERS);
	if (signals_seen != SIGNAL_ITERS)
		fprintf(stderr, "bench-native: %d of %d signals arrived\n",
			(int)signals_seen, SIGNAL_ITERS);
}

static void bench_timerfd(double cycles_per_ns)
{
	struct itimerspec its = { .it_value = { 0, WAKEUP_NS } };
	int fd = timerfd_create(CLOCK_MONOTONIC, 0);
	uint64_t late_ns = 0, expirations;
	int i;

	if (fd < 0) {
		perror("bench-native: timerfd_create");
		exit(1);
	}
	for (i = 0; i < WAKEUP_ROUNDS; i++) {
		uint64_t deadline = now_ns() + WAKEUP_NS, woke;

		timerfd_settime(fd, 0, &its, NULL);
		if (read(fd, &expirations, sizeof(expirations)) != sizeof(expirations)) {
			perror("bench-native: read of the timerfd");
			exit(1);
		}
		woke = now_ns();
		late_ns += woke > deadline ? woke - deadline : 0;
	}
	close(fd);
	report("timerfd-wakeup-latency", (uint64_t)((double)late_ns * cycles_per_ns),
	       WAKEUP_ROUNDS);
}

int main(void)
{
	double cycles_per_ns = tsc_per_ns();

	printf("BENCH: tsc-khz %.0f\n", cycles_per_ns * 1e6);
	bench_getpid();
	bench_first_touch();
	bench_signal();
	bench_timerfd(cycles_per_ns);
	return 0;
}
