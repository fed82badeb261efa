/*
 * rundir.c - the per-guest run directory, RUN_DIR/NAME/ (default
 * /run/lguest/NAME/), written by launch and read by list, start and stop:
 *
 *   lock        flock()ed by launch for as long as it (or its guest
 *               process) lives: the one test of "a launcher is running"
 *   pid         launch's pid (stop signals it), start-time its start in
 *               clock ticks since boot (/proc/PID/stat), so that a reused
 *               pid is never taken for it
 *   state       starting running stopping restarting stopped crashed
 *   guest-pid   the process running the guest (its mtime: when it started)
 *   vcpu-tids   its vCPU threads' ids, a line each, once the guest runs
 *   memory host-cpus restarts ended   guest RAM in bytes, the host CPUs
 *               it may run on ("any" if not pinned), restarts so far, how
 *               the last boot ended
 *   config      present when the guest comes from a config file: its
 *               record (state, ended, restarts) then stays after the end
 *   console     the console socket
 *
 * A pid alone proves nothing (the kernel reuses them), so liveness is the
 * lock, which the kernel drops when its holders die; a directory whose lock
 * is free is a dead launcher's leftovers and reads as crashed until the
 * next launch or stop of that name cleans it.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../lgbox.h"
#include "rundir.h"

/* What a live launcher writes, removed when it ends. */
static const char *const live_files[] = { "pid", "start-time", "guest-pid", "vcpu-tids",
					  "console" };
/* The record of a config guest, kept after the end. */
static const char *const record_files[] = { "state", "memory", "host-cpus", "restarts", "ended",
					    "config" };

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

int pidfd_open_pid(long pid)
{
	return syscall(SYS_pidfd_open, pid, 0);
}

int pidfd_signal(int pidfd, int sig)
{
	return syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

static int write_file_atomically(const char *dir, const char *name, const char *text)
{
	char path[4200], tmp[4200];
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

/* As much of DIR/NAME as fits into buf, or "" if there is none. */
static void read_text(const char *dir, const char *name, char *buf, size_t size)
{
	char path[4200];
	ssize_t n = -1;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, size - 1);
		close(fd);
	}
	buf[n > 0 ? n : 0] = '\0';
}

/* The first line of DIR/NAME, or "" if there is none. */
static void read_line(const char *dir, const char *name, char *buf, size_t size)
{
	read_text(dir, name, buf, size);
	buf[strcspn(buf, "\n")] = '\0';
}

static uint64_t read_number(const char *dir, const char *name)
{
	char text[32];
	uint64_t n;

	read_line(dir, name, text, sizeof(text));
	return lgbox_parse_uint(text, INT64_MAX, &n) < 0 ? 0 : n;
}

static void unlink_in(const char *dir, const char *const *names, size_t count)
{
	char path[4200];
	size_t i;

	for (i = 0; i < count; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
}

/* Field FIELD (3 or later) of the stat file PATH in /proc; -1 if unknown. */
static long long stat_field(const char *path, int field)
{
	char buf[1024], *p;
	uint64_t value;
	ssize_t n;
	int fd, i;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	p = strrchr(buf, ')');	/* the command name may hold anything */
	for (i = 2; p && i < field; i++)
		p = strchr(p + 1, ' ');
	return p && lgbox_scan_uint(p + 1, 10, INT64_MAX, &value) ? (long long)value : -1;
}

/* Field 22 of /proc/PID/stat: when the process started, in ticks since boot; 0 if unknown. */
static uint64_t process_start_time(long pid)
{
	char path[64];
	long long start;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	start = stat_field(path, 22);
	return start < 0 ? 0 : start;
}

static void lock_path(const char *dir, char *path, size_t size)
{
	snprintf(path, size, "%s/lock", dir);
}

static int open_lock(const char *dir, int flags)
{
	char path[4200];

	lock_path(dir, path, sizeof(path));
	return open(path, flags | O_CLOEXEC, 0644);
}

/* Whether a launcher holds DIR's lock. */
static bool lock_is_held(const char *dir)
{
	int fd = open_lock(dir, O_RDONLY);
	bool held;

	if (fd < 0)
		return false;
	held = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	close(fd);
	return held;
}

static bool is_live_state(const char *state)
{
	return !strcmp(state, "starting") || !strcmp(state, "running") ||
	       !strcmp(state, "stopping") || !strcmp(state, "restarting");
}

/*
 * Under the lock: what a killed launcher left.  Its live files go; a config
 * guest's record says it crashed, any other guest's directory goes too.
 */
static void clean_leftovers(const char *dir)
{
	char state[16], config[8];

	unlink_in(dir, live_files, ARRAY_SIZE(live_files));
	read_line(dir, "state", state, sizeof(state));
	read_line(dir, "config", config, sizeof(config));
	if (!config[0]) {
		unlink_in(dir, record_files, ARRAY_SIZE(record_files));
		unlink_in(dir, (const char *const[]){ "lock" }, 1);
		rmdir(dir);
	} else if (is_live_state(state)) {
		write_file_atomically(dir, "state", "crashed\n");
		write_file_atomically(dir, "ended", "its launcher was killed\n");
	}
}

static void clean_dir_if_dead(const char *dir)
{
	int fd = open_lock(dir, O_RDWR | O_CREAT);	/* older launchers made none */

	if (fd < 0)
		return;
	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		clean_leftovers(dir);
	close(fd);
}

/* Takes DIR's lock, retrying briefly while a reader holds it; -1 if a launcher does. */
static int take_lock(const char *dir)
{
	struct timespec pause = { .tv_nsec = 25 * 1000 * 1000 };
	struct stat held, now;
	char path[4200];
	int attempt, fd;

	lock_path(dir, path, sizeof(path));
	for (attempt = 0; attempt < 40; attempt++) {
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return -1;
		fd = open_lock(dir, O_RDWR | O_CREAT);
		if (fd < 0)
			return -1;
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			close(fd);
			if (errno != EWOULDBLOCK)
				return -1;
			nanosleep(&pause, NULL);
			continue;
		}
		/* A lock whose file was removed meanwhile guards nothing: again. */
		if (fstat(fd, &held) == 0 && stat(path, &now) == 0 &&
		    now.st_ino == held.st_ino && now.st_dev == held.st_dev)
			return fd;
		close(fd);
	}
	errno = EWOULDBLOCK;
	return -1;
}

int rundir_create(struct rundir *rd, const char *run_dir, const char *name,
		  uint64_t memory, const char *host_cpus, bool keep_record)
{
	char text[RUNDIR_HOST_CPUS_MAX + 2];

	rd->lock_fd = -1;
	rd->keep_record = keep_record;
	if ((size_t)snprintf(rd->path, sizeof(rd->path), "%s/%s", run_dir, name) >=
	    sizeof(rd->path) - 32) {
		lgbox_warn("run directory path %s/%s is too long", run_dir, name);
		return -1;
	}
	if (mkdir(run_dir, 0755) < 0 && errno != EEXIST) {
		lgbox_warn_errno("cannot create run directory %s", run_dir);
		return -1;
	}
	rd->lock_fd = take_lock(rd->path);
	if (rd->lock_fd < 0 && errno == EWOULDBLOCK) {
		read_line(rd->path, "pid", text, sizeof(text));
		lgbox_warn("guest %s is already running (launcher pid %s; see %s)", name,
			   text[0] ? text : "?", rd->path);
		return -1;
	}
	if (rd->lock_fd < 0) {
		lgbox_warn_errno("cannot create and lock run directory %s", rd->path);
		return -1;
	}
	/* A new start, a new record. */
	unlink_in(rd->path, live_files, ARRAY_SIZE(live_files));
	unlink_in(rd->path, record_files, ARRAY_SIZE(record_files));
	snprintf(text, sizeof(text), "%ld\n", (long)getpid());
	if (write_file_atomically(rd->path, "pid", text) < 0) {
		lgbox_warn_errno("cannot write to run directory %s", rd->path);
		return -1;
	}
	snprintf(text, sizeof(text), "%llu\n", (unsigned long long)process_start_time(getpid()));
	rundir_write(rd, "start-time", text);
	snprintf(text, sizeof(text), "%llu\n", (unsigned long long)memory);
	rundir_write(rd, "memory", text);
	snprintf(text, sizeof(text), "%s\n", host_cpus ? host_cpus : "any");
	rundir_write(rd, "host-cpus", text);
	rundir_write(rd, "state", "starting\n");
	rundir_write(rd, "restarts", "0\n");
	if (keep_record)
		rundir_write(rd, "config", "yes\n");
	return 0;
}

void rundir_write(const struct rundir *rd, const char *file, const char *text)
{
	if (write_file_atomically(rd->path, file, text) < 0)
		lgbox_warn_errno("cannot write %s/%s", rd->path, file);
}

void rundir_unlink(const struct rundir *rd, const char *file)
{
	unlink_in(rd->path, &file, 1);
}

void rundir_finish(struct rundir *rd)
{
	if (rd->lock_fd < 0)
		return;
	unlink_in(rd->path, live_files, ARRAY_SIZE(live_files));
	if (!rd->keep_record) {
		unlink_in(rd->path, record_files, ARRAY_SIZE(record_files));
		unlink_in(rd->path, (const char *const[]){ "lock" }, 1);
		rmdir(rd->path);
	}
	close(rd->lock_fd);
	rd->lock_fd = -1;
}

/* Where each vCPU thread of the guest process last ran: field 39 of its stat. */
static void read_vcpus(const char *dir, struct guest_status *st)
{
	char tids[RUNDIR_MAX_VCPUS * 12], path[64];
	const char *p = tids;
	uint64_t tid;

	read_text(dir, "vcpu-tids", tids, sizeof(tids));
	while (st->vcpus < RUNDIR_MAX_VCPUS && (p = lgbox_scan_uint(p, 10, INT32_MAX, &tid)) &&
	       *p++ == '\n') {
		snprintf(path, sizeof(path), "/proc/%ld/task/%llu/stat", st->guest_pid,
			 (unsigned long long)tid);
		st->vcpu_cpu[st->vcpus++] = stat_field(path, 39);
	}
}

int rundir_read_status(const char *run_dir, const char *name, struct guest_status *st)
{
	char dir[4200], path[4300];
	struct stat sb;
	uint64_t n;

	memset(st, 0, sizeof(*st));
	snprintf(st->name, sizeof(st->name), "%s", name);
	st->pid = st->guest_pid = -1;
	st->uptime = -1;
	snprintf(dir, sizeof(dir), "%s/%s", run_dir, name);
	if (stat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode))
		return -1;
	st->live = lock_is_held(dir);
	read_line(dir, "state", st->state, sizeof(st->state));
	read_line(dir, "ended", st->ended, sizeof(st->ended));
	read_line(dir, "host-cpus", st->host_cpus, sizeof(st->host_cpus));
	st->memory = read_number(dir, "memory");
	st->restarts = read_number(dir, "restarts");
	if (!st->live) {
		if (!st->state[0] || is_live_state(st->state)) {
			strcpy(st->state, "crashed");
			if (!st->ended[0])
				strcpy(st->ended, "its launcher was killed");
		}
		return 0;
	}
	if (!st->state[0])
		strcpy(st->state, "starting");
	n = read_number(dir, "pid");
	st->pid = n ? (long)n : -1;
	snprintf(path, sizeof(path), "%s/guest-pid", dir);
	if (stat(path, &sb) == 0) {
		st->guest_pid = read_number(dir, "guest-pid");
		st->uptime = time(NULL) - sb.st_mtime;
		read_vcpus(dir, st);
	}
	return 0;
}

int rundir_open_launcher(const char *run_dir, const char *name, long *pid)
{
	char dir[4200];
	int pidfd;

	snprintf(dir, sizeof(dir), "%s/%s", run_dir, name);
	if (!lock_is_held(dir)) {
		clean_dir_if_dead(dir);
		return -1;
	}
	*pid = read_number(dir, "pid");
	if (*pid <= 0)
		return -1;
	pidfd = pidfd_open_pid(*pid);
	/* From here on pidfd is that process, whatever happens to the number. */
	if (pidfd >= 0 && (process_start_time(*pid) != read_number(dir, "start-time") ||
			   !lock_is_held(dir))) {
		close(pidfd);
		pidfd = -1;
	}
	return pidfd;
}

bool rundir_is_free(const char *run_dir, const char *name)
{
	char dir[4200];

	snprintf(dir, sizeof(dir), "%s/%s", run_dir, name);
	return !lock_is_held(dir);
}

void rundir_clean_if_dead(const char *run_dir, const char *name)
{
	char dir[4200];

	snprintf(dir, sizeof(dir), "%s/%s", run_dir, name);
	clean_dir_if_dead(dir);
}

struct name_list {
	char **names;
	int count;
};

static void add_name(struct name_list *list, const char *name, size_t len)
{
	char *copy;
	int i, j;

	if (!len || len > 64 || name[0] == '.')
		return;
	copy = strndup(name, len);
	if (!copy)
		lgbox_die("out of memory");
	for (i = 0; i < list->count && strcmp(list->names[i], copy) < 0; i++)
		;
	if (i < list->count && !strcmp(list->names[i], copy)) {
		free(copy);
		return;
	}
	list->names = realloc(list->names, (list->count + 1) * sizeof(*list->names));
	if (!list->names)
		lgbox_die("out of memory");
	for (j = list->count++; j > i; j--)
		list->names[j] = list->names[j - 1];
	list->names[i] = copy;
}

/* Subdirectories of run_dir, or the NAME of every NAME.conf in a config directory. */
static void add_names_from(struct name_list *list, const char *dir, bool configs)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t len;

	while (d && (e = readdir(d))) {
		len = strlen(e->d_name);
		if (configs && len > 5 && !strcmp(e->d_name + len - 5, ".conf"))
			add_name(list, e->d_name, len - 5);
		else if (!configs && e->d_type == DT_DIR)
			add_name(list, e->d_name, len);
	}
	if (d)
		closedir(d);
}

int rundir_for_each_name(const char *run_dir, const char *config_dir,
			 void (*fn)(const char *name, void *ctx), void *ctx)
{
	struct name_list list = { NULL, 0 };
	int i;

	add_names_from(&list, run_dir, false);
	if (config_dir)
		add_names_from(&list, config_dir, true);
	for (i = 0; i < list.count; i++) {
		fn(list.names[i], ctx);
		free(list.names[i]);
	}
	free(list.names);
	return list.count;
}
