/*
 * log.c - the error reporting helpers declared in lgbox.h.  Every message
 * carries the applet's name so that output from several daemons and scripts
 * mixed in one console or log stays attributable.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lgbox.h"

const char *lgbox_applet = "lgbox";
const char *lgbox_context;

/* errnum < 0: no strerror suffix. */
static void vreport(int errnum, const char *fmt, va_list ap)
{
	if (strcmp(lgbox_applet, "lgbox") == 0)
		fputs("lgbox: ", stderr);
	else
		fprintf(stderr, "lgbox %s: ", lgbox_applet);
	if (lgbox_context)
		fprintf(stderr, "%s: ", lgbox_context);
	vfprintf(stderr, fmt, ap);
	if (errnum >= 0)
		fprintf(stderr, ": %s", strerror(errnum));
	fputc('\n', stderr);
}

void lgbox_make_printable(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < ' ' || (unsigned char)*s >= 0x7f)
			*s = '?';
}

void lgbox_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(-1, fmt, ap);
	va_end(ap);
}

void lgbox_warn_errno(const char *fmt, ...)
{
	int saved_errno = errno;
	va_list ap;

	va_start(ap, fmt);
	vreport(saved_errno, fmt, ap);
	va_end(ap);
	errno = saved_errno;
}

noreturn void lgbox_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(-1, fmt, ap);
	va_end(ap);
	exit(LGBOX_EXIT_FAILURE);
}

noreturn void lgbox_die_errno(const char *fmt, ...)
{
	int saved_errno = errno;
	va_list ap;

	va_start(ap, fmt);
	vreport(saved_errno, fmt, ap);
	va_end(ap);
	exit(LGBOX_EXIT_FAILURE);
}

int lgbox_usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(-1, fmt, ap);
	va_end(ap);
	return LGBOX_EXIT_USAGE;
}
