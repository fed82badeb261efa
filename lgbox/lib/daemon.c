/*
 * daemon.c - going to the background the way init scripts need it.
 *
 * A plain fork-and-exit daemon leaves its starter guessing whether it came
 * up.  Here the parent stays until the child says it is ready (or dies), so
 * "lgbox launch --daemon ... && next-step" only goes on when the guest runs,
 * and a start-up error still reaches the starter's stderr.  Only then does the
 * child's stderr go away: to the --log file if there is one, else /dev/null.
 * One daemon per process, so the pending readiness is kept here.
 */
#define _GNU_SOURCE	/* pipe2 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../lgbox.h"
#include "daemon.h"

static int ready_fd = -1;	/* releases the waiting parent */
static const char *ready_log;	/* where stderr goes from then on */
static bool stderr_is_log;	/* log_to_file() already ran */

int daemon_start(const char *log)
{
	int ready[2], devnull;
	char byte;
	pid_t pid;

	if (pipe2(ready, O_CLOEXEC) < 0) {
		lgbox_warn_errno("cannot create the daemon's readiness pipe");
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		lgbox_warn_errno("cannot fork the daemon");
		return -1;
	}
	if (pid > 0) {
		close(ready[1]);
		_exit(read(ready[0], &byte, 1) == 1 ? 0 : 1);
	}
	close(ready[0]);
	setsid();
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull >= 0) {
		dup2(devnull, STDIN_FILENO);
		dup2(devnull, STDOUT_FILENO);
		close(devnull);
	}
	ready_fd = ready[1];
	ready_log = log;
	return 0;
}

int log_to_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

	if (fd < 0) {
		lgbox_warn_errno("cannot open log file %s", path);
		return -1;
	}
	dup2(fd, STDERR_FILENO);
	close(fd);
	stderr_is_log = true;
	return 0;
}

void daemon_ready(void)
{
	int devnull;

	if (ready_fd < 0)
		return;
	if (!stderr_is_log && ready_log)
		log_to_file(ready_log);
	if (write(ready_fd, "", 1) != 1)
		lgbox_warn_errno("cannot tell the starting process that the daemon is ready");
	close(ready_fd);
	ready_fd = -1;
	if (!stderr_is_log) {
		devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (devnull >= 0) {
			dup2(devnull, STDERR_FILENO);
			close(devnull);
		}
	}
}

int write_pid_file(const char *path, long pid)
{
	FILE *f = fopen(path, "w");

	if (!f || fprintf(f, "%ld\n", pid) < 0 || fclose(f) != 0) {
		lgbox_warn_errno("cannot write pid file %s", path);
		return -1;
	}
	return 0;
}
