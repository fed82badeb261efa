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
 * signals, can only reach this thread, as the other threads block them.
 *
 * vCPU 0 is this thread.  With --cpus N, vCPUs 1 .. N-1 are threads of
 * their own, started once LGUEST_INIT has made the guest: each sleeps in
 * LGUEST_RUN until the guest starts its vCPU, then handles its exits like
 * this thread, one device access at a time (devices_lock), and ends when
 * the guest does (lg.ko reports the end on every vCPU).  When the boot ends
 * for another reason (a stop, a failure), this thread wakes them out of
 * LGUEST_RUN with SIGUSR1 and waits for them before /dev/lguest is closed.
 */
#define _GNU_SOURCE	/* memfd_create, sched_setaffinity, gettid */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
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

/* SIGUSR1 only ends a LGUEST_RUN with EINTR: see stop_secondaries(). */
static void on_wake_signal(int sig)
{
	(void)sig;
}

void vcpu_install_signals(void)
{
	struct sigaction sa = { .sa_handler = on_stop_signal };
	struct sigaction wake = { .sa_handler = on_wake_signal };

	/* No SA_RESTART: the signal must end LGUEST_RUN with EINTR. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	sigemptyset(&wake.sa_mask);
	sigaction(SIGUSR1, &wake, NULL);
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

/* Device models see one vCPU's access at a time. */
static pthread_mutex_t devices_lock = PTHREAD_MUTEX_INITIALIZER;

enum exit_action { EXIT_RUN_ON, EXIT_GUEST_ENDED, EXIT_UNKNOWN };

/* What every vCPU thread does with an exit of LGUEST_RUN. */
static enum exit_action handle_exit(struct device_set *devs, struct lguest_run *run)
{
	switch (run->exit_reason) {
	case LGUEST_EXIT_MMIO:
		pthread_mutex_lock(&devices_lock);
		handle_mmio(devs, &run->mmio);
		pthread_mutex_unlock(&devices_lock);
		return EXIT_RUN_ON;
	case LGUEST_EXIT_NOTIFY:
		pthread_mutex_lock(&devices_lock);
		notify_all(devs);
		pthread_mutex_unlock(&devices_lock);
		return EXIT_RUN_ON;
	case LGUEST_EXIT_CONSOLE:
		pthread_mutex_lock(&devices_lock);
		console_write(run->console.data, run->console.len < LGUEST_CONSOLE_MAX ?
			      run->console.len : LGUEST_CONSOLE_MAX);
		pthread_mutex_unlock(&devices_lock);
		return EXIT_RUN_ON;
	case LGUEST_EXIT_POWEROFF:
	case LGUEST_EXIT_REBOOT:
	case LGUEST_EXIT_CRASH:
		return EXIT_GUEST_ENDED;
	case 0:		/* returned without an exit: run on */
		return EXIT_RUN_ON;
	default:
		lgbox_warn("LGUEST_RUN returned unknown exit %u; is lg.ko newer than launch?",
			   run->exit_reason);
		return EXIT_UNKNOWN;
	}
}

/* One LGUEST_RUN of vcpu on fd; run keeps a pending MMIO read's value. */
static int run_vcpu_once(int fd, unsigned int vcpu, struct lguest_run *run)
{
	run->flags = 0;
	run->vcpu = vcpu;
	run->reserved = 0;
	/*
	 * exit_reason is only an output (lg.ko remembers a pending MMIO read
	 * itself): clearing it means a return without a reason can never
	 * replay the previous exit, e.g. print console bytes twice.
	 */
	run->exit_reason = 0;
	return lguest_dev_run(fd, run);
}

struct secondary {
	pthread_t thread;
	unsigned int id;		/* its vCPU */
	int fd;
	const struct launch_opts *opts;
	struct device_set *devs;
	atomic_int tid;			/* set by the thread when it runs */
	atomic_bool done;
};

static struct secondary secondaries[LGUEST_MAX_VCPUS];
static atomic_bool boot_over;
/* A secondary vCPU's LGUEST_RUN failed: this thread ends the boot. */
static atomic_bool secondary_failed;
static pthread_t boot_thread;

static void *run_secondary(void *arg)
{
	struct secondary *s = arg;
	struct lguest_run run = { 0 };

	atomic_store(&s->tid, (int)gettid());
	while (!atomic_load(&boot_over)) {
		if (run_vcpu_once(s->fd, s->id, &run) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			/* ENOENT: the guest's end, already reported to this vCPU. */
			if (errno != ENOENT) {
				lgbox_warn_errno("LGUEST_RUN failed for vCPU %u of guest %s", s->id,
						 s->opts->name);
				atomic_store(&secondary_failed, true);
				pthread_kill(boot_thread, SIGUSR1);
			}
			break;
		}
		if (handle_exit(s->devs, &run) != EXIT_RUN_ON)
			break;
	}
	atomic_store(&s->done, true);
	return NULL;
}

/* Wakes the secondaries out of LGUEST_RUN until each has seen boot_over. */
static void stop_secondaries(unsigned int started)
{
	const struct timespec pause = { .tv_nsec = 1000000 };
	unsigned int i;

	atomic_store(&boot_over, true);
	for (i = 1; i < started; i++) {
		/* A wake between its check and its LGUEST_RUN is lost: repeat. */
		while (!atomic_load(&secondaries[i].done)) {
			pthread_kill(secondaries[i].thread, SIGUSR1);
			nanosleep(&pause, NULL);
		}
		pthread_join(secondaries[i].thread, NULL);
	}
	atomic_store(&boot_over, false);
}

/*
 * Threads for vCPUs 1 .. cpus-1, reported to the supervisor in vCPU order
 * after this thread (vCPU 0).  They take SIGUSR1 only: stop requests and
 * the grace timer are this thread's.  Returns how many vCPUs run (with
 * this one), all of them or a message and -1 (those started are stopped).
 */
static int start_secondaries(const struct launch_opts *opts, struct device_set *devs, int fd)
{
	sigset_t all_but_wake, old;
	unsigned int i;
	int err = 0;

	boot_thread = pthread_self();
	atomic_store(&secondary_failed, false);
	sigfillset(&all_but_wake);
	sigdelset(&all_but_wake, SIGUSR1);
	pthread_sigmask(SIG_SETMASK, &all_but_wake, &old);
	for (i = 1; i < opts->cpus && !err; i++) {
		secondaries[i] = (struct secondary){ .id = i, .fd = fd, .opts = opts, .devs = devs };
		err = pthread_create(&secondaries[i].thread, NULL, run_secondary, &secondaries[i]);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		errno = err;
		lgbox_warn_errno("cannot start the thread of vCPU %u of guest %s", i - 1,
				 opts->name);
		stop_secondaries(i - 1);
		return -1;
	}
	for (i = 1; i < opts->cpus; i++) {
		while (!atomic_load(&secondaries[i].tid))
			sched_yield();
		guest_report("vcpu", "%d", atomic_load(&secondaries[i].tid));
	}
	return opts->cpus;
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
		if (atomic_load(&secondary_failed)) {
			guest_report("ended", "launch failed: LGUEST_RUN of another vCPU");
			return LAUNCH_EXIT_FAILURE;
		}
		if (run_vcpu_once(fd, 0, &run) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			lgbox_warn_errno("LGUEST_RUN failed for guest %s", opts->name);
			guest_report("ended", "launch failed: LGUEST_RUN: %s", strerror(errno));
			return LAUNCH_EXIT_FAILURE;
		}
		switch (handle_exit(devs, &run)) {
		case EXIT_RUN_ON:
			break;
		case EXIT_GUEST_ENDED:
			return guest_ended(opts, &run);
		case EXIT_UNKNOWN:
			return LAUNCH_EXIT_FAILURE;
		}
	}
}

int vcpu_boot(const struct launch_opts *opts, struct guest_ram *ram, struct device_set *devs,
	      const struct guest_boot *boot, int lguest_fd)
{
	struct lguest_init init;
	int fate, started;

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
		.nr_vcpus = opts->cpus,
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
	/* vCPU 0 is this thread: list shows where each runs. */
	guest_report("vcpu", "%d", (int)gettid());
	started = start_secondaries(opts, devs, lguest_fd);
	if (started < 0) {
		guest_report("ended", "launch failed: cannot start its vCPU threads");
		devices_set_irq(devs, NULL, NULL);
		return LAUNCH_EXIT_FAILURE;
	}
	guest_report("running", NULL);
	fate = run_loop(lguest_fd, opts, devs);
	stop_secondaries(started);
	/* The boot is over: its grace timer and stop requests with it. */
	alarm(0);
	stop_signals = 0;
	devices_set_irq(devs, NULL, NULL);
	return fate;
}
