/*
 * daemon.h - background daemons that report readiness to their starter, and
 * log files for their messages (daemon.c).  Used by launch and block-export.
 */
#ifndef LGBOX_LIB_DAEMON_H
#define LGBOX_LIB_DAEMON_H

/*
 * Forks.  The parent waits and exits 0 once the child calls daemon_ready(),
 * or 1 if the child dies first (its messages went to the shared stderr).  The
 * child gets its own session, stdin/stdout on /dev/null, and this returns the
 * readiness fd to hand to daemon_ready(); -1 (message printed) on failure.
 */
int daemon_start(void);
/* Appends stderr to PATH from now on; 0, or -1 (message on the old stderr). */
int log_to_file(const char *path);
/*
 * Releases the parent; from then on stderr goes to the log file LOG, or to
 * /dev/null when LOG is NULL (or cannot be opened: that is reported first).
 */
void daemon_ready(int ready_fd, const char *log);
/* Writes PID and a newline to PATH; 0, or -1 (message printed). */
int write_pid_file(const char *path, long pid);

#endif /* LGBOX_LIB_DAEMON_H */
