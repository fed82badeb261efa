/*
 * vcpu.c - one guest boot on /dev/lguest: load the kernel into guest RAM,
 * LGUEST_INIT, then LGUEST_RUN in a loop, handing each exit to the console
 * or the device model, until the guest powers off, reboots or crashes.
 *
 * Signals: SIGTERM, SIGINT and SIGHUP interrupt LGUEST_RUN (EINTR).  The
 * first one presses the guest's power button (LGUEST_IRQ_POWER_BUTTON),
 * which a guest kernel turns into an orderly poweroff, and gives the guest
 * --stop-grace seconds for it; then, or at a second signal, launch ends
 * the guest by closing /dev/lguest and exits with LAUNCH_EXIT_STOPPED.  A
 * guest that does not know the button leaves the line masked and is
 * stopped that way.  The grace timer is alarm(): SIGALRM, like the stop
 * signals, can only reach this thread, as the other threads block all.
 */
#define _GNU_SOURCE	/* memfd_create, sched_setaffinity, gettid */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/lguest.h>

#include "../lgbox.h"
#include "../lib/cpulist.h"
#include "../lib/guest_image.h"
#include "launch.h"
#include "lguest_dev.h"
#include "vcpu.h"

static volatile sig_atomic_t stop_signals;

/*
 * A first stop request that comes while an exit is being handled
 * interrupts no LGUEST_RUN: the next one may run the guest on for as long as
 * it does not exit.  The alarm a second later interrupts that one (and the
 * grace timer replaces it once the request is seen).
 */
static void on_stop_signal(int sig)
{
	if (++stop_signals == 1 && sig != SIGALRM)
		alarm(1);
}

void vcpu_install_signals(void)
{
	struct sigaction sa = { .sa_handler = on_stop_signal };

	/* No SA_RESTART: the signal must end LGUEST_RUN with EINTR. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/*
 * Every CPU of the list or none: sched_setaffinity() alone would take a
 * list naming an absent CPU beside a present one, and run on fewer.
 */
int vcpu_pin(const struct launch_opts *opts)
{
	cpu_set_t want, allowed, both;

	if (!opts->host_cpus)
		return 0;
	cpulist_parse(opts->host_cpus, &want);	/* checked by options.c */
	CPU_ZERO(&allowed);
	sched_getaffinity(0, sizeof(allowed), &allowed);
	CPU_AND(&both, &want, &allowed);
	if (CPU_EQUAL(&both, &want) && sched_setaffinity(0, sizeof(want), &want) == 0)
		return 0;
	lgbox_warn("cannot pin guest %s to host CPUs %s: not all of them are online and allowed "
		   "here (the host has %d CPUs launch may use)", opts->name, opts->host_cpus,
		   CPU_COUNT(&allowed));
	return -1;
}

int guest_ram_map(struct guest_ram *ram, uint64_t size)
{
	/* A memfd: vhost-user backends map the same RAM from it. */
	ram->fd = memfd_create("lguest-ram", MFD_CLOEXEC);
	if (ram->fd < 0 || ftruncate(ram->fd, size) < 0) {
		lgbox_warn_errno("cannot create %llu MiB of guest memory",
				 (unsigned long long)(size >> 20));
		return -1;
	}
	ram->base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
			 ram->fd, 0);
	if (ram->base == MAP_FAILED) {
		lgbox_warn_errno("cannot map %llu MiB of guest memory",
				 (unsigned long long)(size >> 20));
		return -1;
	}
	ram->size = size;
	guest_mem_init(&ram->mem);
	return guest_mem_add(&ram->mem, 0, size, ram->base);
}

/* Maps a whole file read-only; NULL with a message on failure. */
static void *map_file(const char *what, const char *path, size_t *len)
{
	struct stat st;
	void *p;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0) {
		lgbox_warn_errno("cannot open %s %s", what, path);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if (st.st_size == 0) {
		lgbox_warn("%s %s is empty", what, path);
		close(fd);
		return NULL;
	}
	p = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		lgbox_warn_errno("cannot read %s %s", what, path);
		return NULL;
	}
	*len = st.st_size;
	return p;
}

/* Kernel, initrd, zero page and page tables into guest RAM. */
int vcpu_load_guest(const struct launch_opts *opts, struct guest_ram *ram,
		      const char *cmdline, struct guest_boot *boot)
{
	size_t len;
	void *image;
	int ret;

	if (guest_boot_init(boot, ram->base, ram->size) < 0)
		goto bad;
	image = map_file("kernel", opts->kernel, &len);
	if (!image)
		return -1;
	ret = guest_boot_load_kernel(boot, image, len);
	munmap(image, len);	/* its pages must not count against the launcher */
	if (ret < 0) {
		lgbox_warn("kernel %s: %s", opts->kernel, boot->error);
		return -1;
	}
	if (opts->initrd) {
		image = map_file("initrd", opts->initrd, &len);
		if (!image)
			return -1;
		ret = guest_boot_load_initrd(boot, image, len);
		munmap(image, len);
		if (ret < 0) {
			lgbox_warn("initrd %s: %s", opts->initrd, boot->error);
			return -1;
		}
	}
	if (guest_boot_finish(boot, cmdline) < 0)
		goto bad;
	return 0;
bad:
	lgbox_warn("%s", boot->error);
	return -1;
}

static void raise_irq(struct virtio_dev *dev)
{
	int fd = *(int *)dev->irq_ctx;

	if (fd >= 0 && lguest_dev_irq(fd, dev->irq) < 0 && errno != ENOENT)
		lgbox_warn_errno("LGUEST_IRQ %u for virtio-%s", dev->irq, dev->ops->name);
}

static void notify_all(struct device_set *devs)
{
	unsigned int i;

	/* LHCALL_NOTIFY's value is not given a meaning yet: look at every queue. */
	for (i = 0; i < devs->nr; i++)
		virtio_dev_kick(devs->devs[i]);
}

static void handle_mmio(struct device_set *devs, struct lguest_exit_mmio *m)
{
	static bool warned;
	uint64_t data = m->data;

	if (m->size != 1 && m->size != 2 && m->size != 4 && m->size != 8)
		return;
	if (!devices_mmio(devs, m->gpa, m->size, m->is_write, &data)) {
		if (!warned)
			lgbox_warn("guest touched 0x%llx in the device window where no device is (reads give ~0; reported once)",
				   (unsigned long long)m->gpa);
		warned = true;
		data = ~0ULL;
	}
	if (!m->is_write)
		m->data = data;
}

/* Returns -1 to keep running, else the LAUNCH_EXIT_* code. */
static int handle_stop_signal(int fd, const struct launch_opts *opts, bool *stopping)
{
	/* A second signal, or SIGALRM at the end of the grace time. */
	if (*stopping && stop_signals > 1) {
		lgbox_warn("guest %s did not power off; stopping it", opts->name);
		guest_report("ended", "stopped: it did not power off within %us", opts->stop_grace);
		return LAUNCH_EXIT_STOPPED;
	}
	if (!*stopping) {
		*stopping = true;
		guest_report("stopping", NULL);
		if (opts->stop_grace == 0) {
			lgbox_warn("stopping guest %s", opts->name);
			guest_report("ended", "stopped at once (stop-grace 0)");
			return LAUNCH_EXIT_STOPPED;
		}
		if (lguest_dev_irq(fd, LGUEST_IRQ_POWER_BUTTON) < 0)
			lgbox_warn_errno("cannot press the power button of guest %s", opts->name);
		lgbox_warn("stop requested: power button pressed; waiting up to %us for guest %s to power off (signal again to stop now)",
			   opts->stop_grace, opts->name);
		stop_signals = 1;
		alarm(opts->stop_grace);
	}
	return -1;
}

static int guest_ended(const struct launch_opts *opts, const struct lguest_run *run)
{
	char safe[LGUEST_REASON_MAX];

	/* The guest's own words: they reach terminals and logs. */
	memcpy(safe, run->death.reason, sizeof(safe));
	safe[sizeof(safe) - 1] = '\0';
	lgbox_make_printable(safe);
	switch (run->exit_reason) {
	case LGUEST_EXIT_POWEROFF:
		if (safe[0])
			lgbox_warn("guest %s powered off: %s", opts->name, safe);
		guest_report("ended", "powered off%s%s", safe[0] ? ": " : "", safe);
		return LAUNCH_EXIT_POWEROFF;
	case LGUEST_EXIT_REBOOT:
		if (safe[0])
			lgbox_warn("guest %s reboots: %s", opts->name, safe);
		guest_report("ended", "rebooted%s%s", safe[0] ? ": " : "", safe);
		return LAUNCH_EXIT_REBOOT;
	default:
		lgbox_warn("guest %s crashed: %s", opts->name, safe[0] ? safe : "(no reason given)");
		guest_report("ended", "crashed: %s", safe[0] ? safe : "(no reason given)");
		return LAUNCH_EXIT_CRASH;
	}
}

static int run_loop(int fd, const struct launch_opts *opts, struct device_set *devs)
{
	struct lguest_run run = { 0 };
	bool stopping = false;
	int fate;

	for (;;) {
		/* Here, not only after EINTR: see on_stop_signal(). */
		if (stop_signals && (fate = handle_stop_signal(fd, opts, &stopping)) >= 0)
			return fate;
		run.flags = 0;
		/*
		 * exit_reason is only an output (lg.ko remembers a pending MMIO
		 * read itself): clearing it means a return without a reason can
		 * never replay the previous exit, e.g. print console bytes twice.
		 */
		run.exit_reason = 0;
		if (lguest_dev_run(fd, &run) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			lgbox_warn_errno("LGUEST_RUN failed for guest %s", opts->name);
			guest_report("ended", "launch failed: LGUEST_RUN: %s", strerror(errno));
			return LAUNCH_EXIT_FAILURE;
		}
		switch (run.exit_reason) {
		case LGUEST_EXIT_MMIO:
			handle_mmio(devs, &run.mmio);
			break;
		case LGUEST_EXIT_NOTIFY:
			notify_all(devs);
			break;
		case LGUEST_EXIT_CONSOLE:
			console_write(run.console.data, run.console.len < LGUEST_CONSOLE_MAX ?
				      run.console.len : LGUEST_CONSOLE_MAX);
			break;
		case LGUEST_EXIT_POWEROFF:
		case LGUEST_EXIT_REBOOT:
		case LGUEST_EXIT_CRASH:
			return guest_ended(opts, &run);
		case 0:		/* returned without an exit: run on */
			break;
		default:
			lgbox_warn("LGUEST_RUN returned unknown exit %u; is lg.ko newer than launch?",
				   run.exit_reason);
			return LAUNCH_EXIT_FAILURE;
		}
	}
}

int vcpu_boot(const struct launch_opts *opts, struct guest_ram *ram, struct device_set *devs,
	      const struct guest_boot *boot, int lguest_fd)
{
	struct lguest_init init;
	int fate;

	if (stop_signals) {
		lgbox_warn("guest %s stopped before it started", opts->name);
		guest_report("ended", "stopped before it started");
		return LAUNCH_EXIT_STOPPED;
	}
	init = (struct lguest_init){
		.abi_version = LGUEST_ABI_VERSION,
		.mem_base = (uintptr_t)ram->base,
		.mem_size = ram->size,
		.mmio_base = devs->mmio_base,
		.mmio_size = devs->mmio_size,
		.entry = boot->entry,
		.initial_cr3 = boot->cr3,
		.initial_rsp = boot->rsp,
		.boot_data = boot->boot_data,
		.nr_vcpus = 1,
	};
	if (lguest_dev_init(lguest_fd, &init) < 0) {
		if (errno == ENOMEM)
			lgbox_warn("LGUEST_INIT refused guest %s: its %llu bytes of memory count "
				   "as locked memory, beyond this process's RLIMIT_MEMLOCK (raise "
				   "it, e.g. ulimit -l, or run as root with CAP_SYS_RESOURCE)",
				   opts->name, (unsigned long long)opts->memory);
		else
			lgbox_warn_errno("LGUEST_INIT refused guest %s", opts->name);
		return LAUNCH_EXIT_FAILURE;
	}
	devices_set_irq(devs, raise_irq, &lguest_fd);
	/* The vCPU is this thread: list shows where it runs. */
	guest_report("vcpu", "%d", (int)gettid());
	guest_report("running", NULL);
	fate = run_loop(lguest_fd, opts, devs);
	/* The boot is over: its grace timer and stop requests with it. */
	alarm(0);
	stop_signals = 0;
	devices_set_irq(devs, NULL, NULL);
	return fate;
}
