/*
 * fake_guest.c - a stand-in for /dev/lguest and the guest behind it,
 * linked into fake-lgbox (the whole lgbox with this file instead of
 * launch/lguest_dev.c) so that launch's supervisor, stop, list and the
 * sandbox can be tested as a user runs them, on any host.  The "guest"
 * reads what to do from its kernel command line:
 *
 *   fake.run=SECONDS     run that long, then end (default: for ever)
 *   fake.end=HOW         poweroff (default), crash or reboot
 *   fake.button=HOW      on the power button: poweroff (default) or ignore
 *   fake.boots=FILE      append a line to FILE at every boot
 *   fake.crashes=N       with fake.boots: the first N boots crash at their end,
 *                        the later ones run for ever
 *   fake.open=FILE       open FILE for reading at the first exit, as a device
 *                        model gone wrong would (the sandbox must refuse it)
 *
 * Its first exit prints "fake guest: boot N" on the console.  It sleeps in
 * short naps, so signals interrupt LGUEST_RUN with EINTR as lg.ko's do.
 * Each call also makes the ioctl lg.ko would get (on fd -1, so it fails
 * harmlessly), so that launch's seccomp filter meets the real requests.
 */
#define _GNU_SOURCE	/* ppoll */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../launch/lguest_dev.h"

#define FAKE_FD		1000
#define CMDLINE_PTR	0x228	/* struct boot_params.hdr.cmd_line_ptr */

static struct {
	char cmdline[1024];
	bool started, button, said;
	struct timespec start;
	unsigned int boot;
} fake;

int lguest_dev_open(void)
{
	return FAKE_FD;
}

/* The value of "KEY=" on the command line, or def. */
static const char *word(const char *key, const char *def, char *buf, size_t size)
{
	const char *p = fake.cmdline;
	size_t len = strlen(key);

	while ((p = strstr(p, key))) {
		if ((p == fake.cmdline || p[-1] == ' ') && p[len] == '=') {
			snprintf(buf, size, "%.*s", (int)strcspn(p + len + 1, " "), p + len + 1);
			return buf;
		}
		p += len;
	}
	return def;
}

/* Counts this boot in the fake.boots file (opened as the console log is, so
 * the sandbox allows it). */
static unsigned int count_boot(void)
{
	char path[256];
	struct stat st;
	int fd;

	if (!word("fake.boots", NULL, path, sizeof(path)))
		return 1;
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, "boot\n", 5) != 5 || fstat(fd, &st) < 0)
		return 1;
	close(fd);
	return st.st_size / 5;
}

int lguest_dev_init(int fd, const struct lguest_init *init)
{
	const uint8_t *ram = (const uint8_t *)(uintptr_t)init->mem_base;
	uint32_t cmdline_pa;

	ioctl(-1, LGUEST_INIT, init);
	if (fd != FAKE_FD || init->abi_version != LGUEST_ABI_VERSION) {
		errno = EINVAL;
		return -1;
	}
	memcpy(&cmdline_pa, ram + init->boot_data + CMDLINE_PTR, sizeof(cmdline_pa));
	snprintf(fake.cmdline, sizeof(fake.cmdline), "%s", (const char *)ram + cmdline_pa);
	clock_gettime(CLOCK_MONOTONIC, &fake.start);
	fake.started = true;
	fake.boot = count_boot();
	return 0;
}

static double running_for(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec - fake.start.tv_sec + (now.tv_nsec - fake.start.tv_nsec) / 1e9;
}

static int end(struct lguest_run *run, const char *how)
{
	char crashes[16];

	if (atoi(word("fake.crashes", "0", crashes, sizeof(crashes))) >= (int)fake.boot)
		how = "crash";
	memset(run, 0, sizeof(*run));
	if (!strcmp(how, "crash")) {
		run->exit_reason = LGUEST_EXIT_CRASH;
		snprintf(run->death.reason, sizeof(run->death.reason), "fake crash in boot %u",
			 fake.boot);
	} else {
		run->exit_reason = strcmp(how, "reboot") ? LGUEST_EXIT_POWEROFF :
				   LGUEST_EXIT_REBOOT;
	}
	return 0;
}

int lguest_dev_run(int fd, struct lguest_run *run)
{
	struct timespec nap = { .tv_nsec = 20 * 1000 * 1000 };
	char buf[32], how[16], path[256];
	sigset_t all, old;
	const char *run_for = word("fake.run", NULL, buf, sizeof(buf));
	unsigned int crashes = atoi(word("fake.crashes", "0", how, sizeof(how)));

	ioctl(-1, LGUEST_RUN, run);
	if (fd != FAKE_FD || !fake.started) {
		errno = EBADF;
		return -1;
	}
	if (!fake.said) {
		fake.said = true;
		if (word("fake.open", NULL, path, sizeof(path)))
			close(open(path, O_RDONLY | O_CLOEXEC));
		memset(run, 0, sizeof(*run));
		run->exit_reason = LGUEST_EXIT_CONSOLE;
		run->console.len = snprintf((char *)run->console.data, sizeof(run->console.data),
					    "fake guest: boot %u\n", fake.boot);
		return 0;
	}
	/*
	 * As in lg.ko, a signal that arrives at any point ends the call with
	 * EINTR: signals are blocked but while the fake sleeps.
	 */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (;;) {
		if (fake.button && strcmp(word("fake.button", "poweroff", how, sizeof(how)),
					  "ignore")) {
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			memset(run, 0, sizeof(*run));
			run->exit_reason = LGUEST_EXIT_POWEROFF;
			strcpy(run->death.reason, "power button");
			return 0;
		}
		if (run_for && (!crashes || fake.boot <= crashes) && running_for() >= atof(run_for)) {
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			return end(run, word("fake.end", "poweroff", how, sizeof(how)));
		}
		if (ppoll(NULL, 0, &nap, &old) < 0) {
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			return -1;	/* EINTR, as LGUEST_RUN */
		}
	}
}

int lguest_dev_irq(int fd, unsigned int irq)
{
	ioctl(-1, LGUEST_IRQ, &irq);
	if (fd != FAKE_FD || irq == 0 || irq >= LGUEST_NR_IRQS) {
		errno = EINVAL;
		return -1;
	}
	if (irq == LGUEST_IRQ_POWER_BUTTON)
		fake.button = true;
	return 0;
}
