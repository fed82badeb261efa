/*
 * thp: transparent huge pages made, split, dropped and copied on write, with every page's
 * contents checked at each step.
 *
 *   thp        (as root: it sets /sys/kernel/mm/transparent_hugepage/enabled to madvise)
 *
 * A 16 MiB region aligned to 2 MiB gets madvise(MADV_HUGEPAGE) and is filled with a
 * pattern; /proc/self/smaps must show huge pages in it.  Then:
 *   munmap of one 4 KiB page inside a huge page: that page must fault (a child reading
 *	it dies of SIGSEGV), its neighbours keep their contents;
 *   madvise(MADV_DONTNEED) on a whole huge page: it must read back as zeros;
 *   fork: the child sees the parent's contents, writes into every huge page and checks
 *	its own view; the parent's contents must not change (copy on write).
 * A stale translation in the kernel or hypervisor shows as a page that still reads after
 * munmap or MADV_DONTNEED, or as one process seeing the other's writes.  Exit status 0:
 * all as expected; 1: what went wrong is printed; 77: the kernel has no transparent huge
 * pages.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096UL
#define HUGE (2UL << 20)
#define SIZE (16UL << 20)
#define THP_ENABLED "/sys/kernel/mm/transparent_hugepage/enabled"
#define NO_THP 77

static uint64_t value(size_t offset, uint64_t generation)
{
	return (offset / sizeof(uint64_t)) * 0x9e3779b97f4a7c15ull ^ generation;
}

static void fill(uint8_t *base, size_t from, size_t to, uint64_t generation)
{
	for (size_t off = from; off < to; off += sizeof(uint64_t))
		*(uint64_t *)(base + off) = value(off, generation);
}

/* The first word in [FROM, TO) that does not hold GENERATION's value, or TO. */
static size_t first_wrong(const uint8_t *base, size_t from, size_t to, uint64_t generation)
{
	for (size_t off = from; off < to; off += sizeof(uint64_t))
		if (*(const uint64_t *)(base + off) != value(off, generation))
			return off;
	return to;
}

static int expect_contents(const char *when, const uint8_t *base, size_t from, size_t to,
			   uint64_t generation)
{
	size_t off = first_wrong(base, from, to, generation);

	if (off == to)
		return 0;
	printf("%s: byte offset 0x%zx of the region holds 0x%016llx, expected 0x%016llx\n",
	       when, off, (unsigned long long)*(const uint64_t *)(base + off),
	       (unsigned long long)value(off, generation));
	return 1;
}

static int set_madvise_mode(void)
{
	char mode[128] = "";
	FILE *f;

	if (access(THP_ENABLED, F_OK)) {
		printf("this kernel has no transparent huge pages (no %s)\n", THP_ENABLED);
		return NO_THP;
	}
	f = fopen(THP_ENABLED, "w");
	if (!f || fputs("madvise", f) == EOF || fclose(f)) {
		perror("thp: cannot write madvise to " THP_ENABLED
		       " (a kernel without CONFIG_TRANSPARENT_HUGEPAGE? not root?)");
		return 1;
	}
	f = fopen(THP_ENABLED, "r");
	if (!f || !fgets(mode, sizeof(mode), f) || !strstr(mode, "[madvise]")) {
		printf("thp: %s reads '%s' after writing madvise\n", THP_ENABLED, mode);
		return 1;
	}
	fclose(f);
	return 0;
}

/* kB of AnonHugePages that /proc/self/smaps shows for the mapping starting at BASE */
static long huge_kib(const void *base)
{
	char line[256];
	long kib = -1;
	int in_region = 0;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long start, end;

		if (sscanf(line, "%lx-%lx ", &start, &end) == 2)
			in_region = start == (unsigned long)base;
		else if (in_region && sscanf(line, "AnonHugePages: %ld kB", &kib) == 1)
			break;
	}
	fclose(f);
	return kib;
}

/* Whether reading ADDR kills a child with SIGSEGV, as an unmapped page must. */
static int faults(const volatile uint8_t *addr)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL);
		(void)*addr;
		_exit(0);
	}
	return pid > 0 && waitpid(pid, &status, 0) == pid && WIFSIGNALED(status) &&
	       WTERMSIG(status) == SIGSEGV;
}

static int copy_on_write(uint8_t *base)
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("thp: fork");
		return 1;
	}
	if (pid == 0) {
		int bad = expect_contents("child before writing", base, HUGE, SIZE, 1);

		for (size_t off = HUGE; off < SIZE; off += HUGE)
			fill(base, off, off + HUGE / 2, 2);
		for (size_t off = HUGE; off < SIZE && !bad; off += HUGE)
			bad = expect_contents("child after its writes", base, off, off + HUGE / 2, 2) ||
			      expect_contents("child after its writes", base, off + HUGE / 2,
					      off + HUGE, 1);
		fflush(stdout);
		_exit(bad);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
		printf("the forked child failed (wait status 0x%x)\n", status);
		return 1;
	}
	return expect_contents("parent after the child wrote its copy", base, HUGE, SIZE, 1);
}

int main(void)
{
	uint8_t *raw, *base;
	size_t hole = HUGE / 2;		/* inside the first huge page */
	long kib;

	int status;

	setvbuf(stdout, NULL, _IOLBF, 0);
	status = set_madvise_mode();
	if (status)
		return status;
	raw = mmap(NULL, SIZE + HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED) {
		perror("thp: mmap");
		return 1;
	}
	base = (uint8_t *)(((uintptr_t)raw + HUGE - 1) & ~(HUGE - 1));
	if (madvise(base, SIZE, MADV_HUGEPAGE)) {
		perror("thp: madvise(MADV_HUGEPAGE)");
		return 1;
	}
	fill(base, 0, SIZE, 1);
	kib = huge_kib(base);
	if (kib < (long)(HUGE >> 10)) {
		printf("after madvise(MADV_HUGEPAGE) and filling 16 MiB, /proc/self/smaps shows "
		       "%ld kB AnonHugePages in the region: no huge page was made\n", kib);
		return 1;
	}
	printf("16 MiB filled, %ld kB of it in huge pages\n", kib);
	if (expect_contents("after filling", base, 0, SIZE, 1))
		return 1;

	if (munmap(base + hole, PAGE)) {
		perror("thp: munmap of one page");
		return 1;
	}
	if (!faults(base + hole)) {
		printf("a 4 KiB page unmapped inside a huge page can still be read\n");
		return 1;
	}
	if (expect_contents("after munmap of one page", base, 0, hole, 1) ||
	    expect_contents("after munmap of one page", base, hole + PAGE, SIZE, 1))
		return 1;
	printf("munmap of one page split its huge page: it faults, its neighbours kept theirs\n");

	if (madvise(base + SIZE - HUGE, HUGE, MADV_DONTNEED)) {
		perror("thp: madvise(MADV_DONTNEED)");
		return 1;
	}
	fill(base, SIZE - HUGE, SIZE, 1);	/* must fault in fresh zero pages first */
	if (madvise(base + SIZE - HUGE, HUGE, MADV_DONTNEED)) {
		perror("thp: madvise(MADV_DONTNEED)");
		return 1;
	}
	for (size_t off = SIZE - HUGE; off < SIZE; off += sizeof(uint64_t))
		if (*(uint64_t *)(base + off)) {
			printf("a huge page dropped with MADV_DONTNEED reads 0x%llx at offset 0x%zx "
			       "instead of zeros\n", (unsigned long long)*(uint64_t *)(base + off), off);
			return 1;
		}
	fill(base, SIZE - HUGE, SIZE, 1);
	printf("a huge page dropped with MADV_DONTNEED reads zeros\n");

	if (copy_on_write(base))
		return 1;
	printf("after fork the child saw the parent's pages, its writes stayed its own\n");
	return 0;
}
