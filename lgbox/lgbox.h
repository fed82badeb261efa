/*
 * lgbox.h - what every lgbox applet shares: the applet declaration macro and
 * the logging/exit helpers, so that all applets report errors the same way
 * ("lgbox NAME: message") and use the same exit codes.
 *
 * Each applet declares itself once with LGBOX_APPLET(); the macro places a
 * struct lgbox_applet in the ELF section "lgbox_applets".  The linker
 * provides __start_/__stop_ symbols for such sections, so main.c finds every
 * applet that was linked in without a central table; an applet compiled out
 * by Kconfig simply is not there.
 */
#ifndef LGBOX_H
#define LGBOX_H

#include <stdnoreturn.h>

/* Exit codes shared by all applets. */
#define LGBOX_EXIT_OK		0
#define LGBOX_EXIT_FAILURE	1
#define LGBOX_EXIT_USAGE	2

struct lgbox_applet {
	const char *name;			/* as typed by the user */
	int (*main)(int argc, char **argv);	/* argv[0] is the applet name */
	const char *usage;			/* first line: synopsis */
};

/*
 * The aligned attribute keeps the entries packed like an array: without it
 * the compiler may pad section members differently from sizeof().
 */
#define LGBOX_APPLET(applet_name, applet_main, applet_usage)		\
	static const struct lgbox_applet lgbox_applet_##applet_main	\
	__attribute__((used, section("lgbox_applets"),			\
		       aligned(sizeof(void *)))) = {			\
		.name = applet_name,					\
		.main = applet_main,					\
		.usage = applet_usage,					\
	}

/* Name of the running applet ("lgbox" until dispatch has chosen one). */
extern const char *lgbox_applet;

/* "lgbox NAME: message\n" on stderr. */
void lgbox_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Same, followed by ": strerror(errno)". */
void lgbox_warn_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* lgbox_warn*() then exit(1). */
noreturn void lgbox_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
noreturn void lgbox_die_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints the message and "Try 'lgbox NAME --help'."; returns 2 for exit. */
int lgbox_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* LGBOX_H */
