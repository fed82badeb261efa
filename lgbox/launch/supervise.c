/*
 * supervise.c - launch's first process, the supervisor.  It owns the run
 * directory (and its lock) and stays root, but never touches the guest: each
 * boot runs in a guest process it forks, which opens the devices, drops its
 * privileges (sandbox.c) and drives the vCPU.  When that process ends the
 * supervisor records how, and boots the guest again if it rebooted or if the
 * restart policy says so, after a backoff:
 *
 *   restart = no        never (a reboot still boots it again)
 *   restart = on-crash  after a crash, a launcher failure or a killed guest
 *                       process, not after a poweroff or a stop
 *   restart = always    after any end but a stop
 *
 * The first restart waits restart-delay seconds, each further one in a row
 * twice as long (at most 60 s); after restart-limit restarts in a row it
 * gives up.  A boot that ran for 60 s or more ends the row.  A first boot
 * that never got the guest running is a setup error and ends launch.
 *
 * A stop request (SIGTERM, SIGINT or SIGHUP sent to launch) goes on to the
 * guest process, which presses the guest's power button (vcpu.c), and
 * rules out any restart.  The same signals from the terminal reach both
 * processes by themselves and are not passed on again.  The guest process
 * talks back through two pipes: its stderr, copied to launch's own (so
 * that --daemon and --log treat every message alike), and a report pipe of
 * "vcpu TID", "running", "stopping" and "ended HOW" lines; the supervisor
 * writes them into the run directory, so the guest process needs no access
 * to it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../lgbox.h"
#include "../lib/daemon.h"
#include "launch.h"
#include "rundir.h"

#define MAX_BACKOFF	60	/* seconds */
#define STABLE_RUN	60	/* seconds of running that end a row of restarts */

/* In the guest process: where guest_report() writes. */
static int report_fd = -1;

struct supervisor {
	const struct launch_opts *opts;
	struct rundir rd;
	int signal_fd;
	pid_t guest;		/* the guest process, 0 when none runs */
	int wait_status;
	bool stop_requested, ever_ran, ran;
	struct timespec running_since;
	char report[512];	/* partial line from the report pipe */
	size_t report_len;
	char ended[256];	/* how the boot ended, from its report */
	char vcpu_tids[RUNDIR_MAX_VCPUS * 12];	/* its vCPU threads, a line each */
	unsigned int restarts, in_a_row;
};

void guest_report(const char *event, const char *fmt, ...)
{
	char line[320];
	va_list ap;
	int n;

	if (report_fd < 0)
		return;
	n = snprintf(line, sizeof(line), "%s", event);
	if (fmt) {
		line[n++] = ' ';
		va_start(ap, fmt);
		vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
		va_end(ap);
	}
	/* One line: whatever the guest put in a reason cannot start another. */
	lgbox_make_printable(line);
	n = strlen(line);
	line[n++] = '\n';
	if (write(report_fd, line, n) != n)
		lgbox_warn_errno("cannot report \"%s\" to the supervisor", event);
}

static double seconds_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) + (now.tv_nsec - start->tv_nsec) / 1e9;
}

static void set_state(struct supervisor *sv, const char *state)
{
	char text[32];

	snprintf(text, sizeof(text), "%s\n", state);
	rundir_write(&sv->rd, "state", text);
}

static void set_number(struct supervisor *sv, const char *file, unsigned long n)
{
	char text[32];

	snprintf(text, sizeof(text), "%lu\n", n);
	rundir_write(&sv->rd, file, text);
}

/* One line from the guest process. */
static void handle_report(struct supervisor *sv, char *line)
{
	size_t len = strlen(sv->vcpu_tids);
	uint64_t tid;

	if (!strncmp(line, "vcpu ", 5) && !lgbox_parse_uint(line + 5, INT32_MAX, &tid)) {
		snprintf(sv->vcpu_tids + len, sizeof(sv->vcpu_tids) - len, "%llu\n",
			 (unsigned long long)tid);
		rundir_write(&sv->rd, "vcpu-tids", sv->vcpu_tids);
	} else if (!strcmp(line, "running")) {
		set_state(sv, "running");
		clock_gettime(CLOCK_MONOTONIC, &sv->running_since);
		sv->ran = sv->ever_ran = true;
		daemon_ready();		/* --daemon: the starter may go on now */
	} else if (!strcmp(line, "stopping")) {
		set_state(sv, "stopping");
	} else if (!strncmp(line, "ended ", 6)) {
		/* From a process that parses the guest's rings: checked again. */
		snprintf(sv->ended, sizeof(sv->ended), "%.200s", line + 6);
		lgbox_make_printable(sv->ended);
	}
}

static bool read_reports(struct supervisor *sv, int fd)
{
	char *nl;
	ssize_t n = read(fd, sv->report + sv->report_len, sizeof(sv->report) - 1 - sv->report_len);

	if (n <= 0)
		return n < 0 && errno == EINTR;
	sv->report_len += n;
	sv->report[sv->report_len] = '\0';
	while ((nl = strchr(sv->report, '\n'))) {
		*nl = '\0';
		handle_report(sv, sv->report);
		sv->report_len -= nl + 1 - sv->report;
		memmove(sv->report, nl + 1, sv->report_len + 1);
	}
	if (sv->report_len == sizeof(sv->report) - 1)
		sv->report_len = 0;	/* a line that long is not ours: drop it */
	return true;
}

/* The guest process's messages, on to launch's stderr. */
static bool copy_messages(int fd)
{
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n > 0 && write(STDERR_FILENO, buf, n) < 0)
		return true;	/* nowhere to write: drop them */
	return n > 0 || (n < 0 && errno == EINTR);
}

/*
 * A stop request or the guest process's end.  Signals the terminal sent to
 * the whole process group (si_code SI_KERNEL) reached the guest process too.
 */
static void handle_signal(struct supervisor *sv)
{
	struct signalfd_siginfo si;
	pid_t pid;
	int status;

	if (read(sv->signal_fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGCHLD) {
		while (sv->guest && (pid = waitpid(sv->guest, &status, WNOHANG)) > 0) {
			sv->wait_status = status;
			sv->guest = 0;
		}
		return;
	}
	if (!sv->stop_requested)
		lgbox_warn("stop requested for guest %s", sv->opts->name);
	sv->stop_requested = true;
	if (sv->guest && si.ssi_code != SI_KERNEL)
		kill(sv->guest, SIGTERM);
}

/* Child side of fork: becomes the guest process and never returns. */
static noreturn void become_guest_process(struct supervisor *sv, pid_t parent, int report,
					  int messages, int (*run_guest)(const struct launch_opts *))
{
	sigset_t none;

	/* The guest dies with launch, however launch ends. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(LAUNCH_EXIT_FAILURE);
	close(sv->signal_fd);
	dup2(messages, STDERR_FILENO);
	close(messages);
	report_fd = report;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	exit(run_guest(sv->opts));
}

/* One boot in a guest process; returns its exit status (LAUNCH_EXIT_*) or -signal. */
static int run_boot(struct supervisor *sv, int (*run_guest)(const struct launch_opts *))
{
	int report[2], messages[2];
	struct pollfd fds[3];
	char text[32];
	pid_t parent = getpid();

	if (pipe2(report, O_CLOEXEC) < 0 || pipe2(messages, O_CLOEXEC) < 0) {
		lgbox_warn_errno("cannot create the pipes to the guest process");
		return LAUNCH_EXIT_FAILURE;
	}
	sv->ended[0] = '\0';
	sv->vcpu_tids[0] = '\0';
	sv->report_len = 0;
	sv->ran = false;
	sv->guest = fork();
	if (sv->guest < 0) {
		lgbox_warn_errno("cannot fork the guest process");
		sv->guest = 0;
		close(report[0]);
		close(report[1]);
		close(messages[0]);
		close(messages[1]);
		return LAUNCH_EXIT_FAILURE;
	}
	if (sv->guest == 0) {
		close(report[0]);
		close(messages[0]);
		become_guest_process(sv, parent, report[1], messages[1], run_guest);
	}
	close(report[1]);
	close(messages[1]);
	snprintf(text, sizeof(text), "%ld\n", (long)sv->guest);
	rundir_write(&sv->rd, "guest-pid", text);
	if (sv->stop_requested)
		kill(sv->guest, SIGTERM);
	fds[0] = (struct pollfd){ .fd = sv->signal_fd, .events = POLLIN };
	fds[1] = (struct pollfd){ .fd = report[0], .events = POLLIN };
	fds[2] = (struct pollfd){ .fd = messages[0], .events = POLLIN };
	/* Until the process is reaped and both pipes are drained. */
	while (sv->guest || fds[1].fd >= 0 || fds[2].fd >= 0) {
		if (poll(fds, 3, -1) < 0) {
			if (errno != EINTR)
				lgbox_die_errno("supervisor: poll");
			continue;
		}
		if (fds[0].revents)
			handle_signal(sv);
		if (fds[1].revents && !read_reports(sv, fds[1].fd)) {
			close(fds[1].fd);
			fds[1].fd = -1;
		}
		if (fds[2].revents && !copy_messages(fds[2].fd)) {
			close(fds[2].fd);
			fds[2].fd = -1;
		}
	}
	rundir_unlink(&sv->rd, "guest-pid");
	rundir_unlink(&sv->rd, "vcpu-tids");
	rundir_unlink(&sv->rd, "console");
	if (WIFSIGNALED(sv->wait_status))
		return -WTERMSIG(sv->wait_status);
	return WEXITSTATUS(sv->wait_status);
}

/* How a boot ended, in the words of the exit status table. */
static const char *fate_name(int fate)
{
	switch (fate) {
	case LAUNCH_EXIT_POWEROFF: return "powered off";
	case LAUNCH_EXIT_CRASH: return "crashed";
	case LAUNCH_EXIT_REBOOT: return "rebooted";
	case LAUNCH_EXIT_STOPPED: return "stopped by a signal";
	default: return fate < 0 ? "killed" : "launch failed";
	}
}

/* What "ended" says when the guest process could not tell. */
static void describe_end(struct supervisor *sv, int fate)
{
	if (sv->ended[0])
		return;
	if (fate == -SIGSYS)
		snprintf(sv->ended, sizeof(sv->ended), "the guest process was killed by SIGSYS "
			 "(a system call outside its seccomp filter)");
	else if (fate < 0)
		snprintf(sv->ended, sizeof(sv->ended), "the guest process was killed by signal %d",
			 -fate);
	else
		snprintf(sv->ended, sizeof(sv->ended), "%s (exit status %d; see the messages before)",
			 fate_name(fate), fate);
}

static bool policy_restarts(const struct supervisor *sv, int fate)
{
	if (sv->stop_requested || !sv->ever_ran)
		return false;
	switch (sv->opts->restart) {
	case RESTART_ALWAYS:
		return true;
	case RESTART_ON_CRASH:
		return fate == LAUNCH_EXIT_CRASH || fate == LAUNCH_EXIT_FAILURE || fate < 0;
	default:
		return false;
	}
}

/* Sleeps the backoff unless a stop request comes first; false if one did. */
static bool wait_backoff(struct supervisor *sv, unsigned int seconds)
{
	struct pollfd pfd = { .fd = sv->signal_fd, .events = POLLIN };
	struct timespec start;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (!sv->stop_requested) {
		double left = seconds - seconds_since(&start);

		if (left <= 0)
			return true;
		if (poll(&pfd, 1, (int)(left * 1000) + 1) > 0)
			handle_signal(sv);
	}
	return false;
}

/* After a boot: whether to boot again (after the backoff), else the final record. */
static bool boot_again(struct supervisor *sv, int fate)
{
	const struct launch_opts *opts = sv->opts;
	unsigned int delay;

	if (fate == LAUNCH_EXIT_REBOOT && !opts->no_reboot && !sv->stop_requested) {
		lgbox_warn("guest %s rebooted; starting it again", opts->name);
		set_state(sv, "starting");
		return true;
	}
	if (!policy_restarts(sv, fate))
		return false;
	if (sv->ran && seconds_since(&sv->running_since) >= STABLE_RUN)
		sv->in_a_row = 0;
	if (sv->in_a_row == opts->restart_limit) {
		lgbox_warn("guest %s: %u restarts in a row; giving up", opts->name, sv->in_a_row);
		snprintf(sv->ended + strlen(sv->ended), sizeof(sv->ended) - strlen(sv->ended),
			 " (gave up after %u restarts in a row)", sv->in_a_row);
		return false;
	}
	delay = opts->restart_delay << (sv->in_a_row < 6 ? sv->in_a_row : 6);
	if (delay > MAX_BACKOFF)
		delay = MAX_BACKOFF;
	sv->in_a_row++;
	sv->restarts++;
	set_number(sv, "restarts", sv->restarts);
	set_state(sv, "restarting");
	lgbox_warn("guest %s: restarting in %us (restart %u in a row of at most %u)",
		   opts->name, delay, sv->in_a_row, opts->restart_limit);
	if (!wait_backoff(sv, delay))
		return false;
	set_state(sv, "starting");
	return true;
}

/* SIGTERM, SIGINT, SIGHUP and SIGCHLD, read through a signalfd. */
static int watch_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	return signalfd(-1, &set, SFD_CLOEXEC);
}

int supervise(const struct launch_opts *opts, int (*run_guest)(const struct launch_opts *opts))
{
	struct supervisor sv = { .opts = opts };
	int fate;

	if (opts->daemon ? daemon_start(opts->log) < 0 : opts->log && log_to_file(opts->log) < 0)
		return LAUNCH_EXIT_FAILURE;
	if (opts->pidfile && write_pid_file(opts->pidfile, getpid()) < 0)
		return LAUNCH_EXIT_FAILURE;
	if (rundir_create(&sv.rd, opts->run_dir, opts->name, opts->memory, opts->host_cpus,
			  opts->config != NULL) < 0)
		return LAUNCH_EXIT_FAILURE;
	signal(SIGPIPE, SIG_IGN);
	sv.signal_fd = watch_signals();
	if (sv.signal_fd < 0) {
		lgbox_warn_errno("cannot watch signals");
		fate = LAUNCH_EXIT_FAILURE;
		goto out;
	}
	do {
		fate = run_boot(&sv, run_guest);
		describe_end(&sv, fate);
		rundir_write(&sv.rd, "ended", sv.ended);
		if (opts->log)
			lgbox_warn("guest %s ended: %s (exit status %d)", opts->name,
				   fate_name(fate), fate < 0 ? 128 - fate : fate);
	} while (boot_again(&sv, fate));
	rundir_write(&sv.rd, "ended", sv.ended);	/* maybe with "gave up" now */
	set_state(&sv, fate == LAUNCH_EXIT_POWEROFF || sv.stop_requested ||
		  fate == LAUNCH_EXIT_REBOOT ? "stopped" : "crashed");
out:
	rundir_finish(&sv.rd);
	if (opts->pidfile)
		unlink(opts->pidfile);
	return fate < 0 ? 128 - fate : fate;
}
