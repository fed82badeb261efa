/*
 * cpulist.c - see cpulist.h.  A list is taken whole or refused, never
 * read in part: "0,", "3-2" and "0-1x" are errors, not CPU 0 or nothing.
 */
#define _GNU_SOURCE	/* cpu_set_t */
#include <ctype.h>
#include <sched.h>
#include <stddef.h>

#include "../lgbox.h"
#include "cpulist.h"

/* A CPU number at S (digits only, below CPU_SETSIZE): where it ends, or NULL. */
static const char *scan_cpu(const char *s, uint64_t *cpu)
{
	return isdigit((unsigned char)*s) ? lgbox_scan_uint(s, 10, CPU_SETSIZE - 1, cpu) : NULL;
}

int cpulist_parse(const char *text, cpu_set_t *set)
{
	uint64_t first, last;

	CPU_ZERO(set);
	do {
		text = scan_cpu(text, &first);
		if (!text)
			return -1;
		last = first;
		if ((*text == '-' && !(text = scan_cpu(text + 1, &last))) || last < first)
			return -1;
		for (; first <= last; first++)
			CPU_SET(first, set);
	} while (*text++ == ',');
	return text[-1] ? -1 : 0;
}
