/*
 * cpulist.h - Linux CPU lists (cpulist.c), the notation of
 * /sys/devices/system/cpu/online and taskset -c: "2", "2-3", "0,2-3".
 * For launch's host-cpus.  cpu_set_t needs _GNU_SOURCE before any include.
 */
#ifndef LGBOX_LIB_CPULIST_H
#define LGBOX_LIB_CPULIST_H

#include <sched.h>

/*
 * TEXT as a set of CPUs: comma-separated CPU numbers (decimal digits,
 * below CPU_SETSIZE) and ranges LOW-HIGH with LOW <= HIGH, nothing else
 * (no blanks, no empty items).  0, or -1 if it is not one.
 */
int cpulist_parse(const char *text, cpu_set_t *set);

#endif /* LGBOX_LIB_CPULIST_H */
