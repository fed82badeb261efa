/*
 * lgbox.h - what every lgbox applet shares: the applet declaration macro,
 * option parsing, number parsing and the logging/exit helpers, so that all
 * applets take options, report errors ("lgbox NAME: message", one line) and
 * exit the same way.
 *
 * Each applet declares itself once with LGBOX_APPLET(); the macro places a
 * struct lgbox_applet in the ELF section "lgbox_applets".  The linker
 * provides __start_/__stop_ symbols for such sections, so main.c finds every
 * applet that was linked in without a central table; an applet compiled out
 * by Kconfig simply is not there.
 */
#ifndef LGBOX_H
#define LGBOX_H

#include <getopt.h>
#include <stdint.h>
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
/* Its usage text (for --help), NULL for the multiplexer itself. */
extern const char *lgbox_applet_usage;

/*
 * getopt_long() as every applet uses it (lib/args.c): options and operands
 * in any order (operands are left from lgbox_optind on), "--opt=value" and
 * "--opt value"; an option's value is in lgbox_optarg.  --help or -h
 * anywhere prints the usage and exits 0, --version likewise; an unknown
 * option or a missing value prints one error line and exits 2.  Short
 * options mean the same in every applet (doc/lgbox.md): -h help, -q quiet,
 * -v verbose, -r read-only, -d daemon, -p pidfile, -l log, -n name,
 * -t timeout, -e escape key, -a all.  Returns the next option's val, or -1.
 * Set lgbox_optind = 0 before parsing another argument vector.
 */
int lgbox_getopt(int argc, char **argv, const char *shortopts,
		 const struct option *longopts);
extern int lgbox_optind;
extern char *lgbox_optarg;

/* Decimal TEXT (digits only) no larger than max; 0, or -1 if it is not one. */
int lgbox_parse_uint(const char *text, uint64_t max, uint64_t *value);
/*
 * The number in base 10 or 16 at the start of TEXT, after any blanks, no
 * larger than max; returns where it ends, or NULL if there is none (strtoul
 * without its sign and overflow surprises).
 */
const char *lgbox_scan_uint(const char *text, unsigned int base, uint64_t max,
			    uint64_t *value);
/* "64M", "1G", "4096K", "1048576" (K/M/G/T, optional "iB"/"B") -> bytes; 0 or -1. */
int lgbox_parse_size(const char *text, uint64_t *bytes);
/* Seconds with up to three decimals ("2", "0.5") no more than max_ms; 0 or -1. */
int lgbox_parse_millis(const char *text, uint64_t max_ms, uint64_t *ms);

/*
 * Where the input being worked on comes from ("FILE:LINE" of a script),
 * or NULL; messages then read "lgbox NAME: FILE:LINE: message".
 */
extern const char *lgbox_context;

/* "lgbox NAME: message\n" on stderr. */
void lgbox_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Same, followed by ": strerror(errno)". */
void lgbox_warn_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* lgbox_warn*() then exit(1). */
noreturn void lgbox_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
noreturn void lgbox_die_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * Replaces every byte of S outside printable ASCII with '?': for text from
 * a guest or another untrusted source before it reaches a file, a log or
 * a terminal (no escape sequences, no line breaks).
 */
void lgbox_make_printable(char *s);
/* A usage error: the message as lgbox_warn() prints it; returns 2 for exit. */
int lgbox_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* LGBOX_H */
