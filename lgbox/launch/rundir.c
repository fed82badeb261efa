/*
 * rundir.c - the per-guest run directory, RUN_DIR/NAME/ (default
 * /run/lguest/NAME/): "pid" and "state" (starting|running|stopping) written
 * by launch, "memory" (guest RAM in bytes, for list), and the "console"
 * socket.  list and stop read the same files, so all of that lives here.
 *
 * A directory whose pid file names a live process belongs to a running
 * guest and is never taken over; a stale one (the launcher was SIGKILLed)
 * is reused.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lgbox.h"
#include "rundir.h"

static int write_file_atomically(const char *dir, const char *name, const char *text)
{
	char path[4096], tmp[4096];
	int fd, ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
	close(fd);
	if (!ok || rename(tmp, path) < 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

long rundir_read_pid(const char *dir)
{
	char path[4096], buf[32];
	ssize_t n;
	long pid;
	int fd;

	snprintf(path, sizeof(path), "%s/pid", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	pid = strtol(buf, NULL, 10);
	return pid > 0 ? pid : -1;
}

bool rundir_is_live(const char *dir)
{
	long pid = rundir_read_pid(dir);

	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

int rundir_read_word(const char *dir, const char *name, char *buf, size_t size)
{
	char path[4096];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

int rundir_create(const char *run_dir, const char *name, uint64_t memory,
		  char *dir, size_t dir_size)
{
	char text[32];

	if ((size_t)snprintf(dir, dir_size, "%s/%s", run_dir, name) >= dir_size) {
		lgbox_warn("run directory path %s/%s is too long", run_dir, name);
		return -1;
	}
	if (mkdir(run_dir, 0755) < 0 && errno != EEXIST) {
		lgbox_warn_errno("cannot create run directory %s", run_dir);
		return -1;
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		lgbox_warn_errno("cannot create run directory %s", dir);
		return -1;
	}
	if (rundir_is_live(dir)) {
		lgbox_warn("guest %s is already running (pid %ld; see %s)", name,
			   rundir_read_pid(dir), dir);
		return -1;
	}
	snprintf(text, sizeof(text), "%ld\n", (long)getpid());
	if (write_file_atomically(dir, "pid", text) < 0 ||
	    write_file_atomically(dir, "state", "starting\n") < 0) {
		lgbox_warn_errno("cannot write to run directory %s", dir);
		return -1;
	}
	snprintf(text, sizeof(text), "%llu\n", (unsigned long long)memory);
	write_file_atomically(dir, "memory", text);
	return 0;
}

void rundir_set_state(const char *dir, const char *state)
{
	char text[32];

	snprintf(text, sizeof(text), "%s\n", state);
	if (dir && write_file_atomically(dir, "state", text) < 0)
		lgbox_warn_errno("cannot write %s/state", dir);
}

void rundir_remove(const char *dir)
{
	static const char *const files[] = { "console", "pid", "state", "memory" };
	char path[4096];
	unsigned int i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
}
