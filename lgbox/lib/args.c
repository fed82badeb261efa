/*
 * args.c - the option and number parsing every applet shares (lgbox.h):
 * one option parser, so that --help, --version and bad options behave the
 * same everywhere, and strict number parsers, so that "-1", "12abc" or an
 * overflow are refused instead of wrapping around.
 *
 * lgbox_getopt() is getopt_long() as GNU tools behave: options and
 * operands in any order (the operands end up after the options, in their
 * order), "--" ends the options, short options may be clustered ("-rq")
 * and take their value attached or as the next word, long ones as
 * "--name=value" or "--name value" and may be abbreviated while that
 * stays unambiguous.  It is lgbox's own rather than musl's so that errors
 * are one line in lgbox's words (and 3 KB smaller).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lgbox.h"

#ifndef LGBOX_VERSION
#define LGBOX_VERSION "unknown"
#endif

#define OPT_VERSION	0x7e00

const char *lgbox_applet_usage;

static noreturn void print_usage(void)
{
	printf("Usage: lgbox %s %s", lgbox_applet, lgbox_applet_usage);
	exit(LGBOX_EXIT_OK);
}

static noreturn void print_version(void)
{
	printf("lgbox %s %s\n", lgbox_applet, LGBOX_VERSION);
	exit(LGBOX_EXIT_OK);
}

int lgbox_optind;
char *lgbox_optarg;

/* Where the operands skipped for the current option word begin, and that word. */
static int operands_at, word_at;
/* Position in a cluster of short options ("-rq"), 0 between words. */
static int cluster;

static noreturn void usage_exit(void)
{
	exit(LGBOX_EXIT_USAGE);
}

/* The option called NAME (len bytes) in either list, else those it abbreviates. */
static const struct option *find_long(const struct option *const lists[2], const char *name,
				      size_t len, int *matches)
{
	const struct option *o, *prefix = NULL;
	int i;

	*matches = 0;
	for (i = 0; i < 2; i++)
		for (o = lists[i]; o->name; o++) {
			if (strncmp(o->name, name, len))
				continue;
			if (!o->name[len]) {
				*matches = 1;
				return o;
			}
			prefix = o;
			++*matches;
		}
	return prefix;
}

/* One long option word: "--name", "--name=value" or "--name value". */
static int parse_long(int argc, char **argv, const struct option *longopts)
{
	static const struct option own[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	const struct option *const lists[2] = { longopts, own };
	char *name = argv[lgbox_optind++] + 2;
	int len = strcspn(name, "="), matches;
	const struct option *o = find_long(lists, name, len, &matches);

	if (!o || matches > 1) {
		lgbox_usage_error("%s option --%.*s (see 'lgbox %s --help')",
				  o ? "ambiguous" : "unknown", len, name, lgbox_applet);
		usage_exit();
	}
	lgbox_optarg = NULL;
	if (name[len] == '=') {
		if (o->has_arg == no_argument) {
			lgbox_usage_error("option --%s takes no value", o->name);
			usage_exit();
		}
		lgbox_optarg = name + len + 1;
	} else if (o->has_arg == required_argument) {
		if (lgbox_optind == argc) {
			lgbox_usage_error("option --%s needs a value", o->name);
			usage_exit();
		}
		lgbox_optarg = argv[lgbox_optind++];
	}
	return o->val;
}

/* The next letter of a short option word: "-q", "-rq", "-t5" or "-t 5". */
static int parse_short(int argc, char **argv, const char *shortopts)
{
	char *word = argv[lgbox_optind];
	int c = word[cluster ? cluster : 1];
	const char *spec = c == ':' ? NULL : strchr(shortopts, c);

	cluster = cluster ? cluster + 1 : 2;
	if (!spec && c != 'h') {
		lgbox_usage_error("unknown option -%c (see 'lgbox %s --help')", c, lgbox_applet);
		usage_exit();
	}
	lgbox_optarg = NULL;
	if (spec && spec[1] == ':') {
		if (word[cluster])
			lgbox_optarg = word + cluster;
		else if (lgbox_optind + 1 < argc)
			lgbox_optarg = argv[++lgbox_optind];
		else {
			lgbox_usage_error("option -%c needs a value", c);
			usage_exit();
		}
		cluster = 0;
	} else if (!word[cluster]) {
		cluster = 0;
	}
	if (!cluster)
		lgbox_optind++;
	return c;
}

/* Moves the words [from, to) before the operands at [at, from), keeping both orders. */
static void move_before_operands(char **argv, int at, int from, int to)
{
	for (; from < to; at++, from++) {
		char *word = argv[from];

		memmove(argv + at + 1, argv + at, (from - at) * sizeof(*argv));
		argv[at] = word;
	}
}

int lgbox_getopt(int argc, char **argv, const char *shortopts,
		 const struct option *longopts)
{
	int c;

	if (lgbox_optind == 0) {
		lgbox_optind = 1;
		cluster = 0;
	}
	if (!cluster) {
		operands_at = lgbox_optind;
		while (lgbox_optind < argc && (argv[lgbox_optind][0] != '-' || !argv[lgbox_optind][1]))
			lgbox_optind++;
		word_at = lgbox_optind;
		if (lgbox_optind == argc) {
			lgbox_optind = operands_at;	/* the operands, in their order */
			return -1;
		}
		if (!strcmp(argv[lgbox_optind], "--")) {
			move_before_operands(argv, operands_at, lgbox_optind, lgbox_optind + 1);
			lgbox_optind = operands_at + 1;
			return -1;
		}
	}
	c = argv[lgbox_optind][1] == '-' && !cluster ? parse_long(argc, argv, longopts) :
	    parse_short(argc, argv, shortopts);
	if (!cluster && word_at > operands_at) {
		move_before_operands(argv, operands_at, word_at, lgbox_optind);
		lgbox_optind = operands_at + (lgbox_optind - word_at);
	}
	if (c == 'h')
		print_usage();
	if (c == OPT_VERSION)
		print_version();
	return c;
}

const char *lgbox_scan_uint(const char *text, unsigned int base, uint64_t max,
			    uint64_t *value)
{
	const char *digits = "0123456789abcdef", *d;
	uint64_t n = 0;

	while (*text == ' ' || *text == '\t')
		text++;
	if (!*text || !(d = strchr(digits, tolower((unsigned char)*text))) || d - digits >= base)
		return NULL;
	for (; *text && (d = strchr(digits, tolower((unsigned char)*text))) &&
	       (unsigned int)(d - digits) < base; text++) {
		unsigned int digit = d - digits;

		if (digit > max || n > (max - digit) / base)
			return NULL;
		n = n * base + digit;
	}
	*value = n;
	return text;
}

int lgbox_parse_uint(const char *text, uint64_t max, uint64_t *value)
{
	const char *end = isdigit((unsigned char)*text) ?
			  lgbox_scan_uint(text, 10, max, value) : NULL;

	return end && !*end ? 0 : -1;
}

int lgbox_parse_size(const char *text, uint64_t *bytes)
{
	static const char units[] = "KMGT";
	char digits[24];
	size_t len = strspn(text, "0123456789");
	const char *unit = text[len] ? strchr(units, toupper((unsigned char)text[len])) : NULL;
	const char *rest = text + len + (unit ? 1 : 0);
	int shift = unit ? 10 * (int)(unit - units + 1) : 0;
	uint64_t n;

	if (!len || len >= sizeof(digits) || (*rest && strcmp(rest, "B") &&
					      (!unit || strcmp(rest, "iB"))))
		return -1;
	memcpy(digits, text, len);
	digits[len] = '\0';
	if (lgbox_parse_uint(digits, UINT64_MAX >> shift, &n) < 0)
		return -1;
	*bytes = n << shift;
	return 0;
}

int lgbox_parse_millis(const char *text, uint64_t max_ms, uint64_t *ms)
{
	char whole[24];
	size_t len = strspn(text, "0123456789"), frac_len;
	uint64_t seconds, frac = 0;

	if (!len || len >= sizeof(whole))
		return -1;
	memcpy(whole, text, len);
	whole[len] = '\0';
	if (lgbox_parse_uint(whole, max_ms / 1000, &seconds) < 0)
		return -1;
	text += len;
	if (*text == '.') {
		frac_len = strlen(++text);
		if (frac_len < 1 || frac_len > 3 || lgbox_parse_uint(text, 999, &frac) < 0)
			return -1;
		while (frac_len++ < 3)
			frac *= 10;
	} else if (*text) {
		return -1;
	}
	if (seconds * 1000 + frac > max_ms)
		return -1;
	*ms = seconds * 1000 + frac;
	return 0;
}
