/*
 * stop: end guests started by launch.  It sends each launcher SIGTERM,
 * which presses the guest's power button (see launch's --stop-grace) and
 * rules out a restart, waits up to --timeout seconds for the launchers to
 * exit, and SIGKILLs those still there (their guests die with them).
 * Launchers are found through their run directory's lock and held by
 * pidfd, so a pid the kernel gave to another process is never signalled.
 */
//kconfig:config LGBOX_STOP
//kconfig:	bool "stop: stop running guests"
//kconfig:	default y
//kconfig:	depends on LGBOX_LAUNCH
//kconfig:	help
//kconfig:	  Asks guests started by "lgbox launch" to power off (the
//kconfig:	  virtual power button), and kills them after a timeout.
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../lgbox.h"
#include "../launch/rundir.h"

#define DEFAULT_TIMEOUT	30
#define MAX_STOPS	64

static int stop_main(int argc, char **argv);

LGBOX_APPLET("stop", stop_main,
	"[-t SECONDS] [--run-dir DIR] NAME... | --all\n"
	"\n"
	"Ask guests to power off (SIGTERM to their launchers, which press the\n"
	"guests' power buttons); after the timeout kill the launchers, which ends\n"
	"the guests.  Guests stop in parallel.\n"
	"\n"
	"  -a, --all              every running guest\n"
	"  -t, --timeout SECONDS  how long to wait for a clean stop (default 30)\n"
	"  --run-dir DIR          where launch keeps run directories (default /run/lguest)\n"
	"\n"
	"Exit status: 0 the guests are gone (a warning says if one had to be killed),\n"
	"1 a guest was not running or could not be signalled, 2 usage error.\n");

struct stopping {
	const char *run_dir;
	const char *names[MAX_STOPS];
	int pidfds[MAX_STOPS];
	long pids[MAX_STOPS];
	int count;
	bool all;
	int failed;
};

static void request_stop(const char *name, void *arg)
{
	struct stopping *s = arg;
	long pid = 0;
	int pidfd = rundir_open_launcher(s->run_dir, name, &pid);

	if (pidfd >= 0 && s->count == MAX_STOPS) {
		lgbox_warn("more than %d guests: %s not stopped", MAX_STOPS, name);
		close(pidfd);
		s->failed = 1;
		return;
	}
	if (pidfd < 0) {
		/* --all asks only the running ones: the others are no failure. */
		if (!s->all) {
			lgbox_warn("no running guest %s (no launcher holds %s/%s/lock)", name,
				   s->run_dir, name);
			s->failed = 1;
		}
		return;
	}
	if (pidfd_signal(pidfd, SIGTERM) < 0) {
		lgbox_warn_errno("cannot signal launcher %ld of guest %s", pid, name);
		close(pidfd);
		s->failed = 1;
		return;
	}
	s->names[s->count] = strdup(name);	/* --all's names are freed after the call */
	s->pidfds[s->count] = pidfd;
	s->pids[s->count++] = pid;
}

/* Waits until every launcher exited or the deadline passed; how many are left. */
static int wait_gone(struct stopping *s, unsigned int seconds)
{
	struct pollfd fds[MAX_STOPS];
	struct timespec start, now;
	int i, left, elapsed_ms;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		left = 0;
		for (i = 0; i < s->count; i++)
			if (s->pidfds[i] >= 0)
				fds[left++] = (struct pollfd){ .fd = s->pidfds[i], .events = POLLIN };
		clock_gettime(CLOCK_MONOTONIC, &now);
		elapsed_ms = (now.tv_sec - start.tv_sec) * 1000 +
			     (now.tv_nsec - start.tv_nsec) / 1000000;
		if (!left || elapsed_ms >= (int)seconds * 1000)
			return left;
		if (poll(fds, left, seconds * 1000 - elapsed_ms) <= 0)
			continue;
		for (i = 0; i < s->count; i++) {
			int j;

			for (j = 0; j < left; j++)
				if (fds[j].fd == s->pidfds[i] && fds[j].revents) {
					close(s->pidfds[i]);
					s->pidfds[i] = -1;
				}
		}
	}
}

static void kill_the_rest(struct stopping *s, unsigned int timeout)
{
	struct timespec tick = { .tv_nsec = 100 * 1000 * 1000 };
	int i, tries;

	for (i = 0; i < s->count; i++) {
		if (s->pidfds[i] < 0)
			continue;
		lgbox_warn("guest %s did not stop within %us; killing its launcher %ld",
			   s->names[i], timeout, s->pids[i]);
		pidfd_signal(s->pidfds[i], SIGKILL);
	}
	wait_gone(s, 5);
	/* The guest process follows its launcher; then the leftovers can go. */
	for (i = 0; i < s->count; i++) {
		for (tries = 0; tries < 50 && !rundir_is_free(s->run_dir, s->names[i]); tries++)
			nanosleep(&tick, NULL);
		rundir_clean_if_dead(s->run_dir, s->names[i]);
	}
}

static int stop_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "timeout", required_argument, NULL, 't' },
		{ "run-dir", required_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 },
	};
	struct stopping s = { .run_dir = RUNDIR_DEFAULT };
	uint64_t timeout = DEFAULT_TIMEOUT;
	int c, i;

	while ((c = lgbox_getopt(argc, argv, "at:", longopts)) != -1) {
		if (c == 'a')
			s.all = true;
		else if (c == 'R')
			s.run_dir = lgbox_optarg;
		else if (lgbox_parse_uint(lgbox_optarg, 86400, &timeout) < 0)
			return lgbox_usage_error("bad value \"%s\" for --timeout: expected seconds "
						 "from 0 to 86400", lgbox_optarg);
	}
	if (s.all == (lgbox_optind < argc))
		return lgbox_usage_error(s.all ? "give guest names or --all, not both" :
					 "give the guests to stop: NAME... or --all");
	if (argc - lgbox_optind > MAX_STOPS)
		return lgbox_usage_error("at most %d guests at a time", MAX_STOPS);
	if (s.all)
		rundir_for_each_name(s.run_dir, NULL, request_stop, &s);
	for (i = lgbox_optind; i < argc; i++)
		request_stop(argv[i], &s);
	if (wait_gone(&s, timeout))
		kill_the_rest(&s, timeout);
	return s.failed;
}
