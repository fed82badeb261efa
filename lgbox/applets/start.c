/*
 * start: start fixed guests by name, from their config files
 * (/etc/lgbox/guests/NAME.conf), in the background, the way the
 * appliance's init starts them: "lgbox launch --daemon --config FILE".
 * Each launch returns once its guest runs, or with its setup error, so
 * start's exit status says whether every guest came up.
 */
//kconfig:config LGBOX_START
//kconfig:	bool "start: start fixed guests from their config files"
//kconfig:	default y
//kconfig:	depends on LGBOX_LAUNCH
//kconfig:	help
//kconfig:	  Runs "lgbox launch --daemon --config DIR/NAME.conf" for each
//kconfig:	  guest NAME given, e.g. to start a stopped or crashed fixed guest
//kconfig:	  again.
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lgbox.h"
#include "../launch/rundir.h"

static int start_main(int argc, char **argv);

LGBOX_APPLET("start", start_main,
	"[--config-dir DIR] [--run-dir DIR] NAME...\n"
	"\n"
	"Start the fixed guests NAME in the background from their config files,\n"
	"DIR/NAME.conf: lgbox launch --daemon --config DIR/NAME.conf.\n"
	"\n"
	"  --config-dir DIR   the fixed guests' configs (default /etc/lgbox/guests)\n"
	"  --run-dir DIR      where launch keeps run directories (default /run/lguest)\n"
	"\n"
	"Exit status: 0 every guest runs, 1 one did not start (launch said why),\n"
	"2 usage error.\n");

/* lgbox launch --daemon for one config; launch's exit status. */
static int start_guest(const char *config, const char *run_dir)
{
	char *const args[] = { "lgbox", "launch", "--daemon", "--config", (char *)config,
			       "--run-dir", (char *)run_dir, NULL };
	int status;
	pid_t pid = fork();

	if (pid < 0) {
		lgbox_warn_errno("cannot fork to start %s", config);
		return LGBOX_EXIT_FAILURE;
	}
	if (pid == 0) {
		execv("/proc/self/exe", args);
		lgbox_warn_errno("cannot run lgbox again through /proc/self/exe (is /proc mounted?)");
		_exit(LGBOX_EXIT_FAILURE);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return LGBOX_EXIT_FAILURE;
	return WIFEXITED(status) ? WEXITSTATUS(status) : LGBOX_EXIT_FAILURE;
}

static int start_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config-dir", required_argument, NULL, 'C' },
		{ "run-dir", required_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config_dir = GUEST_CONFIG_DIR, *run_dir = RUNDIR_DEFAULT;
	char config[4200];
	struct stat st;
	int c, i, failed = 0;

	while ((c = lgbox_getopt(argc, argv, "", longopts)) != -1) {
		if (c == 'C')
			config_dir = lgbox_optarg;
		else
			run_dir = lgbox_optarg;
	}
	if (lgbox_optind == argc)
		return lgbox_usage_error("give the fixed guests to start: NAME...");
	for (i = lgbox_optind; i < argc; i++) {
		snprintf(config, sizeof(config), "%s/%s.conf", config_dir, argv[i]);
		if (strchr(argv[i], '/') || stat(config, &st) < 0) {
			lgbox_warn("no fixed guest %s (no config file %s)", argv[i], config);
			failed = 1;
			continue;
		}
		if (start_guest(config, run_dir) != 0) {
			lgbox_warn("guest %s did not start (see above)", argv[i]);
			failed = 1;
		}
	}
	return failed;
}
