/*
 * remap: a TLB shootdown check for a guest with two CPUs (tests/smp-guest.py).
 *
 * A reader thread on CPU 1 reads a word at a fixed address over and over; a
 * writer thread on CPU 0 replaces the page at that address with mremap() by a
 * fresh page holding the next number, then publishes that number.  The
 * mremap unmaps the old page, so the kernel must flush the reader's CPU
 * before it returns (a TLB shootdown IPI, under lg.ko each vCPU's own
 * shadow).  A reader that has seen number n published must read n (or n + 1,
 * once the writer has moved on): an older number, or anything else from the
 * freed page, is a stale translation.  Prints "PASS: ..." or "FAIL: ...".
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define ROUNDS 2000

static volatile long *page;		/* the fixed address */
static atomic_long published, seen, failures, bad_value, bad_round;
static atomic_int done;

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set)) {
		printf("FAIL: cannot run on CPU %d\n", cpu);
		exit(1);
	}
}

static void *reader(void *unused)
{
	pin(1);
	while (!atomic_load(&done)) {
		long n = atomic_load(&published);
		long value = *page;

		if (value != n && value != n + 1) {
			if (!atomic_fetch_add(&failures, 1)) {
				bad_value = value;
				bad_round = n;
			}
		}
		atomic_store(&seen, n);
	}
	return NULL;
}

int main(void)
{
	pthread_t thread;
	long round, spins;

	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED) {
		printf("FAIL: mmap\n");
		return 1;
	}
	*page = 0;
	pin(0);
	if (pthread_create(&thread, NULL, reader, NULL)) {
		printf("FAIL: pthread_create\n");
		return 1;
	}
	for (round = 1; round <= ROUNDS; round++) {
		long *fresh = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (fresh == MAP_FAILED) {
			printf("FAIL: mmap in round %ld\n", round);
			return 1;
		}
		*fresh = round;
		if (mremap(fresh, 4096, 4096, MREMAP_MAYMOVE | MREMAP_FIXED,
			   (void *)page) == MAP_FAILED) {
			printf("FAIL: mremap in round %ld\n", round);
			return 1;
		}
		atomic_store(&published, round);
		/* the reader reads each round at least once */
		for (spins = 0; atomic_load(&seen) < round; spins++)
			if (spins > 1000)
				sched_yield();
	}
	atomic_store(&done, 1);
	pthread_join(thread, NULL);
	if (failures)
		printf("FAIL: %ld stale reads, the first %ld after round %ld\n",
		       (long)failures, (long)bad_value, (long)bad_round);
	else
		printf("PASS: %d remaps under a reader on the other CPU, none stale\n",
		       ROUNDS);
	return failures != 0;
}
