/*
 * workload.c - the user-space side of bench/guest-native.py: a few small
 * programs whose cost is dominated by one kernel path each, run once on
 * the appliance host and once inside a Linux guest on lg.ko, so that the
 * ratio guest/native shows what the hypervisor adds to that path.
 *
 *   lgbox-workload getpid ROUNDS       null system call
 *   lgbox-workload fork ROUNDS         fork, child _exit, parent waitpid
 *   lgbox-workload fault MIB ROUNDS    first touch of every page of a fresh
 *                                      anonymous mapping, then munmap
 *   lgbox-workload pipe ROUNDS         1-byte token ping-pong between two
 *                                      processes over two pipes
 *   lgbox-workload switch ROUNDS       the same ping-pong with both processes
 *                                      on one CPU: each hand-over is a
 *                                      context switch (reported per switch)
 *   lgbox-workload gzip MIB            gzip -c of MIB MiB of generated,
 *                                      compressible text (CPU bound)
 *
 * Each prints one "NAME VALUE UNIT" line from CLOCK_MONOTONIC wall time.
 * The gzip input is generated before the clock starts, from a fixed seed,
 * so both sides compress the same bytes.  Built static with musl and
 * installed as /usr/bin/lgbox-workload in both root filesystems.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE_SIZE	4096

static const char *subcommand = "";

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "lgbox-workload %s: ", subcommand);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void usage(void)
{
	fprintf(stderr, "usage: lgbox-workload getpid ROUNDS | fork ROUNDS | fault MIB ROUNDS |\n"
		"                      pipe ROUNDS | switch ROUNDS | gzip MIB\n");
	exit(2);
}

/* A positive count from the command line, or a usage error naming it. */
static unsigned long count_arg(const char *text, const char *what)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(text, &end, 10);
	if (errno || *end || !n || text[0] == '-') {
		fprintf(stderr, "lgbox-workload %s: %s must be a positive integer, not \"%s\"\n",
			subcommand, what, text);
		usage();
	}
	return n;
}

static void report(const char *name, double value, const char *unit)
{
	printf("%s %.1f %s\n", name, value, unit);
}

/* The raw system call: musl caches nothing, but a libc might. */
static void bench_getpid(unsigned long rounds)
{
	double start = now_ns();

	for (unsigned long i = 0; i < rounds; i++)
		syscall(SYS_getpid);
	report("getpid", (now_ns() - start) / rounds, "ns/call");
}

static void bench_fork(unsigned long rounds)
{
	double start = now_ns();

	for (unsigned long i = 0; i < rounds; i++) {
		int status;
		pid_t pid = fork();

		if (pid < 0)
			die("fork: %s", strerror(errno));
		if (pid == 0)
			_exit(0);
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
			die("waitpid: child %d did not exit normally", (int)pid);
	}
	report("fork-exit-wait", (now_ns() - start) / rounds / 1e3, "us/round");
}

static void bench_fault(unsigned long mib, unsigned long rounds)
{
	size_t len = mib << 20;
	double start = now_ns();

	for (unsigned long i = 0; i < rounds; i++) {
		volatile char *mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
					  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (mem == MAP_FAILED)
			die("mmap of %lu MiB: %s", mib, strerror(errno));
		for (size_t off = 0; off < len; off += PAGE_SIZE)
			mem[off] = 1;
		munmap((void *)mem, len);
	}
	report("page-fault", (now_ns() - start) / (rounds * (len / PAGE_SIZE)), "ns/page");
}

static void write_token(int fd)
{
	if (write(fd, "x", 1) != 1)
		die("pipe write: %s", strerror(errno));
}

static void read_token(int fd)
{
	char token;
	ssize_t n = read(fd, &token, 1);

	if (n < 0)
		die("pipe read: %s", strerror(errno));
	if (n == 0)
		die("pipe read: the other process closed its end");
}

/* Keep this process (and the children it forks) on the first CPU it may use. */
static void stay_on_one_cpu(void)
{
	cpu_set_t allowed, one;
	int cpu;

	if (sched_getaffinity(0, sizeof(allowed), &allowed) < 0)
		die("sched_getaffinity: %s", strerror(errno));
	for (cpu = 0; cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &allowed); cpu++)
		;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	if (sched_setaffinity(0, sizeof(one), &one) < 0)
		die("sched_setaffinity to CPU %d: %s", cpu, strerror(errno));
}

/*
 * The parent sends a byte, the child sends it back: one round trip.  With
 * ONE_CPU both share a CPU, so each hand-over is a context switch, and the
 * figure is the time per switch.
 */
static void bench_pipe(unsigned long rounds, int one_cpu)
{
	int to_child[2], to_parent[2], status;
	double start, round_trip;
	pid_t pid;

	if (one_cpu)
		stay_on_one_cpu();
	if (pipe(to_child) < 0 || pipe(to_parent) < 0)
		die("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		for (unsigned long i = 0; i < rounds; i++) {
			read_token(to_child[0]);
			write_token(to_parent[1]);
		}
		_exit(0);
	}
	start = now_ns();
	for (unsigned long i = 0; i < rounds; i++) {
		write_token(to_child[1]);
		read_token(to_parent[0]);
	}
	round_trip = (now_ns() - start) / rounds / 1e3;
	if (one_cpu)
		report("context-switch", round_trip / 2, "us/switch");
	else
		report("pipe-round-trip", round_trip, "us/round-trip");
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		die("the echoing child failed");
}

/*
 * Log-like text lines from a fixed-seed generator: compressible (small
 * vocabulary, repeated structure) but not trivially so, the same on every
 * run and machine.
 */
static void generate_text(FILE *out, size_t bytes)
{
	static const char *const words[] = {
		"guest", "host", "page", "fault", "shadow", "switcher", "virtio",
		"queue", "console", "timer", "irq", "hypercall", "cr3", "tlb",
	};
	const size_t nr_words = sizeof(words) / sizeof(words[0]);
	unsigned int seed = 12345;
	size_t written = 0;

	for (unsigned long line = 0; written < bytes; line++) {
		int n;

		seed = seed * 1103515245u + 12345u;
		n = fprintf(out, "%08lu %s %s %u\n", line, words[(seed >> 16) % nr_words],
			    words[(seed >> 8) % nr_words], (seed >> 20) & 0xfff);
		if (n < 0)
			die("writing the gzip input: %s", strerror(errno));
		written += n;
	}
}

/* An unlinked temporary file holding MIB MiB of text, positioned at its start. */
static int gzip_input(unsigned long mib)
{
	char path[] = "/tmp/lgbox-workload.XXXXXX";
	int fd = mkstemp(path);
	FILE *out;

	if (fd < 0)
		die("creating %s: %s", path, strerror(errno));
	unlink(path);
	out = fdopen(dup(fd), "w");
	if (!out)
		die("fdopen: %s", strerror(errno));
	generate_text(out, mib << 20);
	if (fclose(out) != 0)
		die("writing the gzip input to /tmp: %s", strerror(errno));
	lseek(fd, 0, SEEK_SET);
	return fd;
}

static void bench_gzip(unsigned long mib)
{
	int input = gzip_input(mib);
	int status;
	double start = now_ns();
	pid_t pid = fork();

	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (null < 0 || dup2(input, 0) < 0 || dup2(null, 1) < 0)
			_exit(126);
		execlp("gzip", "gzip", "-c", (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		die("gzip -c of %lu MiB failed (status 0x%x; 127: no gzip in PATH)", mib, status);
	report("gzip", (now_ns() - start) / 1e6, "ms");
	close(input);
}

int main(int argc, char **argv)
{
	if (argc < 3)
		usage();
	subcommand = argv[1];
	/* each line is complete before the next workload's timing starts */
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (!strcmp(subcommand, "getpid") && argc == 3)
		bench_getpid(count_arg(argv[2], "ROUNDS"));
	else if (!strcmp(subcommand, "fork") && argc == 3)
		bench_fork(count_arg(argv[2], "ROUNDS"));
	else if (!strcmp(subcommand, "fault") && argc == 4)
		bench_fault(count_arg(argv[2], "MIB"), count_arg(argv[3], "ROUNDS"));
	else if (!strcmp(subcommand, "pipe") && argc == 3)
		bench_pipe(count_arg(argv[2], "ROUNDS"), 0);
	else if (!strcmp(subcommand, "switch") && argc == 3)
		bench_pipe(count_arg(argv[2], "ROUNDS"), 1);
	else if (!strcmp(subcommand, "gzip") && argc == 3)
		bench_gzip(count_arg(argv[2], "MIB"));
	else
		usage();
	return 0;
}
