/*
 * daemon.h - background daemons that report readiness to their starter, and
 * log files for their messages (daemon.c).  Used by launch and block-export.
 */
#ifndef LGBOX_LIB_DAEMON_H
#define LGBOX_LIB_DAEMON_H

/*
 * Forks.  The parent waits and exits 0 once the child calls daemon_ready(),
 * or 1 if the child dies first (its messages went to the shared stderr).  The
 * child gets its own session and stdin/stdout on /dev/null, and returns 0;
 * -1 (message printed) on failure.  LOG (or NULL) is where the child's
 * messages go once it is ready, unless log_to_file() already sent them.
 */
int daemon_start(const char *log);
/* Appends stderr to PATH from now on; 0, or -1 (message on the old stderr). */
int log_to_file(const char *path);
/*
 * Releases daemon_start()'s parent and sends stderr to the log, or to
 * /dev/null without one; does nothing when no parent waits.
 */
void daemon_ready(void);
/* Writes PID and a newline to PATH; 0, or -1 (message printed). */
int write_pid_file(const char *path, long pid);

#endif /* LGBOX_LIB_DAEMON_H */
