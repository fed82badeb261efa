/*
 * lg-ioctl.c - the launcher side of the lguest ABI under attack: every
 * malformed /dev/lguest request a buggy or hostile launcher could make
 * must be refused with an error while the host carries on, and requests
 * that race each other (INIT against INIT, close and SIGKILL against a
 * running vCPU) must leave nothing behind.  The test guest cannot check
 * this (it only sees the guest side), so this small static program runs
 * on the appliance host, next to the guest suite, which afterwards checks
 * the kernel log and that the host's memory came back.
 *
 * Prints "PASS: ioctl-NAME" or "FAIL: ioctl-NAME: why" per case and exits
 * non-zero if one failed.  kernel/tests/run relays its lines.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/lguest.h>

#define GUEST_MEM	(4UL << 20)
#define KERNEL_ENTRY	0xffffffff80100000ULL
#define KERNEL_LOAD	0x100000UL	/* where KERNEL_ENTRY lies in RAM */
#define RACERS		4

static int failures;

static void result(const char *name, bool ok, const char *fmt, ...)
{
	va_list ap;

	if (ok) {
		printf("PASS: ioctl-%s\n", name);
		return;
	}
	failures++;
	printf("FAIL: ioctl-%s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static int open_lguest(void)
{
	int fd = open(LGUEST_DEVICE_PATH, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		printf("FAIL: ioctl-open: %s: %s (is lg.ko loaded?)\n", LGUEST_DEVICE_PATH,
		       strerror(errno));
		exit(1);
	}
	return fd;
}

static void *guest_ram(void)
{
	void *mem = mmap(NULL, GUEST_MEM, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (mem == MAP_FAILED) {
		printf("FAIL: ioctl-setup: mmap of %lu bytes of guest RAM: %s\n", GUEST_MEM,
		       strerror(errno));
		exit(1);
	}
	return mem;
}

/* A well-formed LGUEST_INIT for RAM at mem: each case spoils one field. */
static struct lguest_init good_init(void *mem)
{
	return (struct lguest_init){
		.abi_version = LGUEST_ABI_VERSION,
		.mem_base = (uintptr_t)mem,
		.mem_size = GUEST_MEM,
		.entry = KERNEL_ENTRY,
		.initial_cr3 = LGUEST_BOOT_PGTABLES,
		.boot_data = LGUEST_BOOT_PARAMS,
		.nr_vcpus = 1,
	};
}

/* LGUEST_INIT with one bad field on a fresh file must fail. */
static void init_refused(const char *name, struct lguest_init init)
{
	int fd = open_lguest();
	int r = ioctl(fd, LGUEST_INIT, &init);

	result(name, r < 0, "LGUEST_INIT succeeded");
	close(fd);
}

static void check_init_fields(void *mem)
{
	struct lguest_init init;

	init = good_init(mem);
	init.abi_version = LGUEST_ABI_VERSION + 1;
	init_refused("init-abi-version", init);
	init = good_init(mem);
	init.flags = 1;
	init_refused("init-flags", init);
	init = good_init(mem);
	init.mem_base += 8;
	init_refused("init-unaligned-base", init);
	init = good_init(mem);
	init.mem_size = GUEST_MEM - 8;
	init_refused("init-partial-page", init);
	init = good_init(mem);
	init.mem_size = 0;
	init_refused("init-no-memory", init);
	init = good_init(mem);
	init.mem_base = 0xffff888000000000ULL;	/* the host kernel's direct map */
	init_refused("init-kernel-memory", init);
	init = good_init(mem);
	init.entry = 0x8000000000000000ULL;
	init_refused("init-noncanonical-entry", init);
	init = good_init(mem);
	init.initial_cr3 = GUEST_MEM;
	init_refused("init-cr3-beyond-ram", init);
	init = good_init(mem);
	init.nr_vcpus = 0;
	init_refused("init-no-vcpus", init);
	init = good_init(mem);
	init.nr_vcpus = LGUEST_MAX_VCPUS + 1;
	init_refused("init-too-many-vcpus", init);
	init = good_init(mem);
	init.reserved = 1;
	init_refused("init-reserved", init);
}

static void check_one_guest_per_file(void *mem)
{
	struct lguest_init init = good_init(mem);
	struct lguest_run run = { 0 };
	struct lguest_irq irq = { 0 };
	int fd = open_lguest();

	result("abi-version", ioctl(fd, LGUEST_GET_ABI_VERSION) == LGUEST_ABI_VERSION,
	       "LGUEST_GET_ABI_VERSION gave %d", ioctl(fd, LGUEST_GET_ABI_VERSION));
	result("run-before-init", ioctl(fd, LGUEST_RUN, &run) < 0, "LGUEST_RUN succeeded");
	if (ioctl(fd, LGUEST_INIT, &init) < 0) {
		result("init", false, "a well-formed LGUEST_INIT failed: %s", strerror(errno));
		close(fd);
		return;
	}
	result("init-twice", ioctl(fd, LGUEST_INIT, &init) < 0, "a second LGUEST_INIT succeeded");
	run.flags = 1;
	result("run-flags", ioctl(fd, LGUEST_RUN, &run) < 0, "LGUEST_RUN with flags 1 succeeded");
	run.flags = 0;
	run.reserved = 1;
	result("run-reserved", ioctl(fd, LGUEST_RUN, &run) < 0,
	       "LGUEST_RUN with reserved = 1 succeeded");
	run.reserved = 0;
	run.vcpu = 1;
	result("run-vcpu-beyond", ioctl(fd, LGUEST_RUN, &run) < 0 && errno == EINVAL,
	       "LGUEST_RUN of vCPU 1 in a 1-vCPU guest did not fail with EINVAL");
	run.vcpu = 0xffffffff;
	result("run-vcpu-huge", ioctl(fd, LGUEST_RUN, &run) < 0 && errno == EINVAL,
	       "LGUEST_RUN of vCPU 0xffffffff did not fail with EINVAL");
	irq.irq = LGUEST_IRQ_TIMER;
	result("irq-timer-line", ioctl(fd, LGUEST_IRQ, &irq) < 0,
	       "LGUEST_IRQ raised line 0, the hypervisor's timer");
	irq.irq = LGUEST_NR_IRQS;
	result("irq-out-of-range", ioctl(fd, LGUEST_IRQ, &irq) < 0,
	       "LGUEST_IRQ raised line %d", LGUEST_NR_IRQS);
	irq.irq = 1;
	irq.reserved = 1;
	result("irq-reserved", ioctl(fd, LGUEST_IRQ, &irq) < 0,
	       "LGUEST_IRQ with reserved = 1 succeeded");
	irq.reserved = 0;
	result("irq", ioctl(fd, LGUEST_IRQ, &irq) == 0, "LGUEST_IRQ of line 1 failed: %s",
	       strerror(errno));
	close(fd);
}

/*
 * Another process holding the same file (fork) must not run the guest:
 * guest RAM is an address range of the launcher's memory, not the child's.
 */
static void check_run_from_other_process(void *mem)
{
	struct lguest_init init = good_init(mem);
	int fd = open_lguest(), status = 0;
	pid_t child;

	if (ioctl(fd, LGUEST_INIT, &init) < 0) {
		result("run-other-process", false, "LGUEST_INIT failed: %s", strerror(errno));
		close(fd);
		return;
	}
	child = fork();
	if (child == 0) {
		struct lguest_run run = { 0 };

		_exit(ioctl(fd, LGUEST_RUN, &run) < 0 ? 0 : 1);
	}
	waitpid(child, &status, 0);
	result("run-other-process", WIFEXITED(status) && WEXITSTATUS(status) == 0,
	       "LGUEST_RUN from a forked child succeeded");
	close(fd);
}

/*
 * The launcher unmaps guest RAM under a created guest and runs it: the
 * guest may crash or the call may fail, but the host must not touch what
 * is no longer there.  Surviving (and the runner's kernel-log check) is
 * the test.
 */
static void check_ram_unmapped(void)
{
	void *mem = guest_ram();
	struct lguest_init init = good_init(mem);
	struct lguest_run run = { 0 };
	int fd = open_lguest(), r;

	if (ioctl(fd, LGUEST_INIT, &init) < 0) {
		result("ram-unmapped", false, "LGUEST_INIT failed: %s", strerror(errno));
		close(fd);
		return;
	}
	munmap(mem, GUEST_MEM);
	r = ioctl(fd, LGUEST_RUN, &run);
	result("ram-unmapped", r < 0 || run.exit_reason == LGUEST_EXIT_CRASH,
	       "LGUEST_RUN on unmapped guest RAM returned exit %u", run.exit_reason);
	close(fd);
}

/*
 * Guests that run real code: boot page tables mapping the kernel map's
 * first 4 MiB with two 2 MiB pages, and one of the programs below at
 * KERNEL_LOAD.  spin loops forever; touch writes every page of its second
 * 2 MiB and flushes the TLB, over and over, so the host is always filling
 * shadow entries.
 */
#define STRINGIFY(x)	#x
#define NUMBER(x)	STRINGIFY(x)
extern const char spin_code[], spin_code_end[], touch_code[], touch_code_end[];
asm(".pushsection .rodata\n"
    "spin_code:\n"
    "1:	jmp 1b\n"
    "spin_code_end:\n"
    "touch_code:\n"
    "1:	movabs $0xffffffff80200000, %rax\n"
    "2:	movq $1, (%rax)\n"
    "	add $0x1000, %rax\n"
    "	cmp $0xffffffff80400000, %rax\n"
    "	jb 2b\n"
    "	mov $" NUMBER(LHCALL_FLUSH_TLB) ", %eax\n"
    "	xor %edi, %edi\n"
    "	syscall\n"
    "	jmp 1b\n"
    "touch_code_end:\n"
    ".popsection");

static void load_program(void *mem, const char *start, const char *end)
{
	uint64_t *pml4 = (uint64_t *)((char *)mem + LGUEST_BOOT_PGTABLES);
	uint64_t *pdpt = pml4 + 512, *pd = pml4 + 1024;

	memset(mem, 0, GUEST_MEM);
	pml4[511] = (LGUEST_BOOT_PGTABLES + 0x1000) | 3;
	pdpt[510] = (LGUEST_BOOT_PGTABLES + 0x2000) | 3;
	pd[0] = 0x000000 | 0x83;
	pd[1] = 0x200000 | 0x83;
	memcpy((char *)mem + KERNEL_LOAD, start, end - start);
}

/* Concurrent LGUEST_INITs on one file: exactly one wins, each time. */
struct init_race {
	int fd;
	struct lguest_init init;
	pthread_barrier_t *start;
	int result, error;
};

static void *race_init(void *arg)
{
	struct init_race *r = arg;

	pthread_barrier_wait(r->start);
	r->result = ioctl(r->fd, LGUEST_INIT, &r->init);
	r->error = errno;
	return NULL;
}

static void check_concurrent_init(void *mem)
{
	struct init_race racers[RACERS];
	pthread_t threads[RACERS];
	pthread_barrier_t start;
	int round, i, won, busy;

	for (round = 0; round < 50; round++) {
		int fd = open_lguest();

		pthread_barrier_init(&start, NULL, RACERS);
		for (i = 0; i < RACERS; i++) {
			racers[i] = (struct init_race){ fd, good_init(mem), &start, 0, 0 };
			pthread_create(&threads[i], NULL, race_init, &racers[i]);
		}
		won = busy = 0;
		for (i = 0; i < RACERS; i++) {
			pthread_join(threads[i], NULL);
			won += racers[i].result == 0;
			busy += racers[i].result < 0 && racers[i].error == EBUSY;
		}
		pthread_barrier_destroy(&start);
		close(fd);
		if (won != 1 || busy != RACERS - 1) {
			result("init-concurrent", false, "round %d: %d of %d INITs succeeded, %d got EBUSY",
			       round, won, RACERS, busy);
			return;
		}
	}
	result("init-concurrent", true, "");
}

/* kB of locked memory charged to this process (VmLck in /proc/self/status) */
static long locked_kib(void)
{
	char line[128];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmLck: %ld kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

/* CAP_IPC_LOCK in the effective set on or off (it stays permitted). */
static int set_ipc_lock(bool on)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data) < 0)
		return -1;
	if (on)
		data[CAP_IPC_LOCK / 32].effective |= 1u << (CAP_IPC_LOCK % 32);
	else
		data[CAP_IPC_LOCK / 32].effective &= ~(1u << (CAP_IPC_LOCK % 32));
	return syscall(SYS_capset, &hdr, data);
}

/*
 * Guest memory is locked memory: charged to VmLck while the guest lives,
 * refused past RLIMIT_MEMLOCK without CAP_IPC_LOCK, and a refused INIT
 * leaves the file as new, so a retry within the limit works.
 */
static void check_memlock(void *mem)
{
	struct lguest_init init = good_init(mem);
	struct rlimit old, small = { 1 << 20, 0 };
	long before = locked_kib(), during;
	int fd = open_lguest(), refused, err;

	getrlimit(RLIMIT_MEMLOCK, &old);
	small.rlim_max = old.rlim_max;
	if (set_ipc_lock(false) < 0 || setrlimit(RLIMIT_MEMLOCK, &small) < 0) {
		result("init-memlock", false, "cannot drop CAP_IPC_LOCK or lower RLIMIT_MEMLOCK: %s",
		       strerror(errno));
		close(fd);
		return;
	}
	refused = ioctl(fd, LGUEST_INIT, &init);
	err = errno;
	setrlimit(RLIMIT_MEMLOCK, &old);
	set_ipc_lock(true);
	result("init-memlock-limit", refused < 0 && err == ENOMEM,
	       "a %lu KiB guest past a 1 MiB RLIMIT_MEMLOCK: INIT returned %d (%s)",
	       GUEST_MEM >> 10, refused, strerror(err));
	result("init-after-failure", ioctl(fd, LGUEST_INIT, &init) == 0,
	       "LGUEST_INIT after a refused one failed: %s", strerror(errno));
	during = locked_kib();
	close(fd);
	result("init-memlock-charged", during - before == (long)(GUEST_MEM >> 10) &&
	       locked_kib() == before, "VmLck %ld kB before, %ld with the guest, %ld after",
	       before, during, locked_kib());
}

static void no_op(int sig)
{
	(void)sig;
}

struct runner {
	int fd, result, error;
};

static void *run_vcpu(void *arg)
{
	struct runner *r = arg;
	struct lguest_run run = { 0 };

	r->result = ioctl(r->fd, LGUEST_RUN, &run);
	r->error = errno;
	return NULL;
}

/*
 * The file closed by another thread while its vCPU runs: the guest lives
 * on until LGUEST_RUN returns (here: interrupted by a signal), then goes.
 */
static void check_close_during_run(void *mem)
{
	struct sigaction sa = { .sa_handler = no_op };
	struct lguest_init init = good_init(mem);
	struct runner r = { open_lguest(), 0, 0 };
	pthread_t thread;

	sigaction(SIGUSR1, &sa, NULL);
	load_program(mem, spin_code, spin_code_end);
	if (ioctl(r.fd, LGUEST_INIT, &init) < 0) {
		result("close-during-run", false, "LGUEST_INIT failed: %s", strerror(errno));
		return;
	}
	pthread_create(&thread, NULL, run_vcpu, &r);
	usleep(200000);
	close(r.fd);
	usleep(100000);
	pthread_kill(thread, SIGUSR1);
	pthread_join(thread, NULL);
	result("close-during-run", r.result < 0 && r.error == EINTR,
	       "LGUEST_RUN ended with %d (%s), expected EINTR", r.result, strerror(r.error));
}

/*
 * Launchers SIGKILLed at random moments while their guest keeps the host
 * filling shadow entries: the guest must go with them, every time.
 */
static void check_sigkill_during_fill(void *mem)
{
	struct lguest_init init = good_init(mem);
	int round, status;

	load_program(mem, touch_code, touch_code_end);
	srand(time(NULL));
	for (round = 0; round < 20; round++) {
		pid_t child = fork();

		if (child == 0) {
			struct lguest_run run = { 0 };
			int fd = open_lguest();

			if (ioctl(fd, LGUEST_INIT, &init) < 0)
				_exit(2);
			for (;;)
				if (ioctl(fd, LGUEST_RUN, &run) < 0)
					_exit(3);
		}
		usleep(20000 + rand() % 100000);
		kill(child, SIGKILL);
		waitpid(child, &status, 0);
		if (!WIFSIGNALED(status)) {
			result("sigkill-during-fill", false, "round %d: the launcher exited with %d "
			       "before SIGKILL", round, WEXITSTATUS(status));
			return;
		}
	}
	result("sigkill-during-fill", true, "");
}

static uint64_t exits(const struct lguest_stats *s)
{
	return s->exit_hypercall + s->exit_user_syscall + s->exit_shadow_fill +
	       s->exit_page_fault + s->exit_mmio + s->exit_emulated +
	       s->exit_exception + s->exit_host;
}

/*
 * The counters: zero for a new guest; after a guest that touches pages and
 * flushes for a while, every entry has its one exit, and the fills, the
 * flush hypercalls and the shadow tables show.
 */
static void check_stats(void *mem)
{
	struct sigaction sa = { .sa_handler = no_op };
	struct lguest_init init = good_init(mem);
	struct runner r = { open_lguest(), 0, 0 };
	struct lguest_stats s;
	pthread_t thread;

	memset(&s, 0xff, sizeof(s));
	if (ioctl(r.fd, LGUEST_GET_STATS, &s) < 0 || s.entries || exits(&s)) {
		result("stats-new-guest", false, "LGUEST_GET_STATS: %s, %llu entries",
		       strerror(errno), (unsigned long long)s.entries);
		close(r.fd);
		return;
	}
	result("stats-new-guest", true, "");
	sigaction(SIGUSR1, &sa, NULL);
	load_program(mem, touch_code, touch_code_end);
	if (ioctl(r.fd, LGUEST_INIT, &init) < 0) {
		result("stats", false, "LGUEST_INIT failed: %s", strerror(errno));
		close(r.fd);
		return;
	}
	pthread_create(&thread, NULL, run_vcpu, &r);
	usleep(300000);
	pthread_kill(thread, SIGUSR1);
	pthread_join(thread, NULL);
	ioctl(r.fd, LGUEST_GET_STATS, &s);
	close(r.fd);
	result("stats", s.entries && s.entries == exits(&s) && s.exit_shadow_fill &&
	       s.hypercalls[LHCALL_FLUSH_TLB] && s.shadow_tables_made,
	       "%llu entries, %llu exits, %llu fills, %llu flushes, %llu tables",
	       (unsigned long long)s.entries, (unsigned long long)exits(&s),
	       (unsigned long long)s.exit_shadow_fill,
	       (unsigned long long)s.hypercalls[LHCALL_FLUSH_TLB],
	       (unsigned long long)s.shadow_tables_made);
}

int main(void)
{
	void *mem = guest_ram();

	setvbuf(stdout, NULL, _IOLBF, 0);
	check_init_fields(mem);
	check_one_guest_per_file(mem);
	check_run_from_other_process(mem);
	check_ram_unmapped();
	check_concurrent_init(mem);
	check_memlock(mem);
	check_close_during_run(mem);
	check_sigkill_during_fill(mem);
	check_stats(mem);
	return failures ? 1 : 0;
}
