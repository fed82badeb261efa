/*
 * lg-ioctl.c - the launcher side of the lguest ABI under attack: every
 * malformed /dev/lguest request a buggy or hostile launcher could make
 * must be refused with an error while the host carries on.  The test
 * guest cannot check this (it only sees the guest side), so this small
 * static program runs on the appliance host, next to the guest suite.
 *
 * Prints "PASS: ioctl-NAME" or "FAIL: ioctl-NAME: why" per case and exits
 * non-zero if one failed.  kernel/tests/run relays its lines.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/lguest.h>

#define GUEST_MEM	(4UL << 20)
#define KERNEL_ENTRY	0xffffffff80100000ULL

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

int main(void)
{
	void *mem = guest_ram();

	setvbuf(stdout, NULL, _IOLBF, 0);
	check_init_fields(mem);
	check_one_guest_per_file(mem);
	check_run_from_other_process(mem);
	check_ram_unmapped();
	return failures ? 1 : 0;
}
