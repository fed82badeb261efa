/*
 * list: the guests launch runs on this host, read from their run
 * directories (/run/lguest/NAME/{pid,state,memory}), one line each: name,
 * launcher pid, guest memory, state and uptime.  Directories left by a
 * launcher that was killed are skipped.
 */
//kconfig:config LGBOX_LIST
//kconfig:	bool "list: show running guests"
//kconfig:	default y
//kconfig:	depends on LGBOX_LAUNCH
//kconfig:	help
//kconfig:	  Lists the guests started by "lgbox launch" with their pid,
//kconfig:	  memory, state and uptime.
#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../lgbox.h"
#include "../launch/rundir.h"

static int list_main(int argc, char **argv);

LGBOX_APPLET("list", list_main,
	"[--run-dir DIR]\n"
	"\n"
	"List running guests: NAME PID MEMORY STATE UPTIME.\n"
	"\n"
	"  --run-dir DIR   where launch keeps run directories (default /run/lguest)\n");

static void format_uptime(time_t seconds, char *buf, size_t size)
{
	if (seconds >= 86400)
		snprintf(buf, size, "%lldd%02lldh", (long long)seconds / 86400,
			 (long long)seconds % 86400 / 3600);
	else
		snprintf(buf, size, "%02lld:%02lld:%02lld", (long long)seconds / 3600,
			 (long long)seconds % 3600 / 60, (long long)seconds % 60);
}

static void print_guest(const char *run_dir, const char *name)
{
	char dir[4096], path[4200], state[32], memory[32], uptime[32];
	struct stat st;

	snprintf(dir, sizeof(dir), "%s/%s", run_dir, name);
	if (!rundir_is_live(dir))
		return;
	if (rundir_read_word(dir, "state", state, sizeof(state)) < 0)
		strcpy(state, "?");
	if (rundir_read_word(dir, "memory", memory, sizeof(memory)) < 0)
		strcpy(memory, "0");
	snprintf(path, sizeof(path), "%s/pid", dir);
	format_uptime(stat(path, &st) == 0 ? time(NULL) - st.st_mtime : 0, uptime, sizeof(uptime));
	printf("%-20s %8ld %7lluM %-9s %s\n", name, rundir_read_pid(dir),
	       strtoull(memory, NULL, 10) >> 20, state, uptime);
}

static int list_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "run-dir", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	const char *run_dir = RUNDIR_DEFAULT;
	struct dirent **names;
	int n, i, c;

	while ((c = getopt_long(argc, argv, "r:", longopts, NULL)) != -1) {
		if (c != 'r')
			return lgbox_usage_error("bad option");
		run_dir = optarg;
	}
	if (optind < argc)
		return lgbox_usage_error("unexpected argument \"%s\"", argv[optind]);
	n = scandir(run_dir, &names, NULL, alphasort);
	printf("%-20s %8s %8s %-9s %s\n", "NAME", "PID", "MEMORY", "STATE", "UPTIME");
	if (n < 0)
		return 0;	/* no run directory yet: no guests */
	for (i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.')
			print_guest(run_dir, names[i]->d_name);
		free(names[i]);
	}
	free(names);
	return 0;
}
