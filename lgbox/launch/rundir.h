/*
 * rundir.h - per-guest run directories (rundir.c), shared by launch, list,
 * start and stop.
 */
#ifndef LGBOX_LAUNCH_RUNDIR_H
#define LGBOX_LAUNCH_RUNDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RUNDIR_DEFAULT		"/run/lguest"
#define GUEST_CONFIG_DIR	"/etc/lgbox/guests"
#define RUNDIR_MAX_VCPUS	32	/* of a guest, as vcpu-tids can list them */
#define RUNDIR_HOST_CPUS_MAX	255	/* characters of a host-cpus list */

/* ---- launch's side: a run directory it owns --------------------------- */
struct rundir {
	char path[4096];
	int lock_fd;		/* flock()ed for as long as launch lives */
	bool keep_record;	/* keep state, ended and restarts after the end */
};

/*
 * Makes RUN_DIR/NAME and takes its lock (inherited by launch's children),
 * refusing when another launcher holds it; what a killed launcher left is
 * cleaned first.  Writes pid, start-time, memory and host-cpus (NULL:
 * any).  0, or -1 with a message.  keep_record: the guest comes from a
 * config file, so list shows it after it ended.
 */
int rundir_create(struct rundir *rd, const char *run_dir, const char *name,
		  uint64_t memory, const char *host_cpus, bool keep_record);
/* Replaces FILE in the run directory with TEXT (atomically); warns on failure. */
void rundir_write(const struct rundir *rd, const char *file, const char *text);
void rundir_unlink(const struct rundir *rd, const char *file);
/* At launch's end: the record stays (keep_record) or the directory goes. */
void rundir_finish(struct rundir *rd);

/* ---- everyone else's side: reading them ------------------------------- */
struct guest_status {
	char name[65];
	char state[16];		/* starting running stopping restarting stopped crashed */
	bool live;		/* a launcher holds the lock */
	long pid, guest_pid;	/* -1: none */
	uint64_t memory;	/* bytes, 0: unknown */
	long long uptime;	/* seconds of the current boot, -1: not running */
	unsigned long restarts;
	char ended[256];	/* how the last boot ended, "" if none did */
	char host_cpus[RUNDIR_HOST_CPUS_MAX + 1];	/* its CPUs, "any"; "" if unknown */
	unsigned int vcpus;	/* vCPU threads of the running boot, 0: none */
	int vcpu_cpu[RUNDIR_MAX_VCPUS];	/* the host CPU each last ran on, -1: unknown */
};

/*
 * The status of guest NAME from RUN_DIR/NAME; a dead launcher's leftovers
 * read as crashed.  0, or -1 when there is no run directory.
 */
int rundir_read_status(const char *run_dir, const char *name, struct guest_status *st);
/*
 * A pidfd for the launcher of guest NAME, checked against the lock and the
 * launcher's start time so that a reused pid can never be taken for it;
 * -1 when it is not running (a dead launcher's leftovers are cleaned).
 */
int rundir_open_launcher(const char *run_dir, const char *name, long *pid);
/* Whether the guest's lock is free now (its launcher is gone). */
bool rundir_is_free(const char *run_dir, const char *name);
/* Cleans what a dead launcher left (see rundir.c); nothing if one runs. */
void rundir_clean_if_dead(const char *run_dir, const char *name);
/*
 * Calls fn for every guest name in RUN_DIR and in CONFIG_DIR (NAME.conf),
 * sorted, each once; returns how many there were.
 */
int rundir_for_each_name(const char *run_dir, const char *config_dir,
			 void (*fn)(const char *name, void *ctx), void *ctx);

/* pidfd_open(2) and pidfd_send_signal(2), which musl does not wrap. */
int pidfd_open_pid(long pid);
int pidfd_signal(int pidfd, int sig);

#endif /* LGBOX_LAUNCH_RUNDIR_H */
