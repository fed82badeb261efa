/*
 * stop: end a guest started by launch.  It sends the launcher SIGTERM,
 * which asks the guest to power off (see launch's --stop-grace), waits
 * up to --timeout seconds for the launcher to exit, and then SIGKILLs it
 * and removes the run directory the killed launcher could not clean up.
 */
//kconfig:config LGBOX_STOP
//kconfig:	bool "stop: stop a running guest"
//kconfig:	default y
//kconfig:	depends on LGBOX_LAUNCH
//kconfig:	help
//kconfig:	  Asks a guest started by "lgbox launch" to power off, and
//kconfig:	  kills it after a timeout.
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "../lgbox.h"
#include "../launch/rundir.h"

#define DEFAULT_TIMEOUT	30

static int stop_main(int argc, char **argv);

LGBOX_APPLET("stop", stop_main,
	"[--timeout SECONDS] [--run-dir DIR] NAME\n"
	"\n"
	"Ask guest NAME to power off (SIGTERM to its launcher); after the timeout\n"
	"(default 30 s) kill the launcher, which ends the guest.\n"
	"\n"
	"  -t, --timeout SECONDS  how long to wait for a clean stop\n"
	"  --run-dir DIR          where launch keeps run directories (default /run/lguest)\n"
	"\n"
	"Exit status: 0 the guest is gone (a warning says if it had to be killed),\n"
	"1 no such guest or it cannot be signalled, 2 usage error.\n");

static bool gone(long pid)
{
	return kill(pid, 0) < 0 && errno == ESRCH;
}

/* Polls every 100 ms until pid is gone or the timeout passes. */
static bool wait_gone(long pid, unsigned int timeout)
{
	struct timespec tick = { .tv_nsec = 100 * 1000 * 1000 };
	unsigned long i;

	for (i = 0; i < timeout * 10UL; i++) {
		if (gone(pid))
			return true;
		nanosleep(&tick, NULL);
	}
	return gone(pid);
}

static int stop_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "run-dir", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	const char *run_dir = RUNDIR_DEFAULT;
	unsigned int timeout = DEFAULT_TIMEOUT;
	char dir[4096], *end;
	long pid;
	int c;

	while ((c = getopt_long(argc, argv, "t:", longopts, NULL)) != -1) {
		if (c == 't') {
			timeout = strtoul(optarg, &end, 10);
			if (*end || !*optarg)
				return lgbox_usage_error("bad --timeout \"%s\" (seconds)", optarg);
		} else if (c == 'r') {
			run_dir = optarg;
		} else {
			return lgbox_usage_error("bad option");
		}
	}
	if (optind != argc - 1)
		return lgbox_usage_error("give exactly one guest NAME");
	snprintf(dir, sizeof(dir), "%s/%s", run_dir, argv[optind]);
	pid = rundir_read_pid(dir);
	if (pid < 0 || !rundir_is_live(dir)) {
		lgbox_warn("no running guest %s (no live pid in %s)", argv[optind], dir);
		return 1;
	}
	if (kill(pid, SIGTERM) < 0) {
		lgbox_warn_errno("cannot signal launcher %ld of guest %s", pid, argv[optind]);
		return 1;
	}
	if (wait_gone(pid, timeout))
		return 0;
	lgbox_warn("guest %s did not stop within %us; killing its launcher %ld",
		   argv[optind], timeout, pid);
	kill(pid, SIGKILL);
	wait_gone(pid, 5);
	rundir_remove(dir);
	return 0;
}
