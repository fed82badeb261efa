/*
 * rundir.h - per-guest run directories (rundir.c), shared by launch, list
 * and stop.
 */
#ifndef LGBOX_LAUNCH_RUNDIR_H
#define LGBOX_LAUNCH_RUNDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RUNDIR_DEFAULT	"/run/lguest"

/* Makes RUN_DIR/NAME with pid, state=starting, memory; dir gets its path. */
int rundir_create(const char *run_dir, const char *name, uint64_t memory,
		  char *dir, size_t dir_size);
/* Writes state (starting|running|stopping). */
void rundir_set_state(const char *dir, const char *state);
void rundir_remove(const char *dir);

/* Readers for list and stop. */
long rundir_read_pid(const char *dir);
bool rundir_is_live(const char *dir);
int rundir_read_word(const char *dir, const char *name, char *buf, size_t size);

#endif /* LGBOX_LAUNCH_RUNDIR_H */
