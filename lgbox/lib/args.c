/*
 * args.c - the option and number parsing every applet shares (lgbox.h):
 * one getopt_long() wrapper, so that --help, --version and bad options
 * behave the same everywhere, and strict number parsers, so that "-1",
 * "12abc" or an overflow are refused instead of wrapping around.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lgbox.h"

#ifndef LGBOX_VERSION
#define LGBOX_VERSION "unknown"
#endif

#define MAX_LONGOPTS	48
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

/* The long name of option val, for messages. */
static const char *long_name(const struct option *longopts, int val)
{
	for (; longopts->name; longopts++)
		if (longopts->val == val)
			return longopts->name;
	return NULL;
}

static noreturn void bad_option(const char *arg, const struct option *longopts, int val,
				bool missing_value)
{
	const char *name = val ? long_name(longopts, val) : NULL;
	int len = strcspn(arg, "=");

	if (missing_value && name)
		lgbox_usage_error("option --%s needs a value", name);
	else if (missing_value)
		lgbox_usage_error("option -%c needs a value", val);
	else if (val && arg[0] == '-' && arg[1] == '-' && arg[len])
		lgbox_usage_error("option %.*s takes no value", len, arg);
	else if (val && !(arg[0] == '-' && arg[1] == '-'))
		lgbox_usage_error("unknown option -%c (see 'lgbox %s --help')", val, lgbox_applet);
	else
		lgbox_usage_error("unknown option %.*s (see 'lgbox %s --help')", len, arg,
				  lgbox_applet);
	exit(LGBOX_EXIT_USAGE);
}

int lgbox_getopt(int argc, char **argv, const char *shortopts,
		 const struct option *longopts)
{
	struct option all[MAX_LONGOPTS + 3];
	char shorts[64];
	unsigned int n = 0;
	int c, before = optind ? optind : 1;

	while (longopts[n].name && n < MAX_LONGOPTS) {
		all[n] = longopts[n];
		n++;
	}
	all[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	all[n++] = (struct option){ "version", no_argument, NULL, OPT_VERSION };
	all[n] = (struct option){ NULL, 0, NULL, 0 };
	/* ':' first: a missing value is told apart from an unknown option. */
	snprintf(shorts, sizeof(shorts), ":%sh", shortopts);
	opterr = 0;
	c = getopt_long(argc, argv, shorts, all, NULL);
	switch (c) {
	case 'h':
		print_usage();
	case OPT_VERSION:
		print_version();
	case '?':
	case ':':
		/* optind has moved past the offending word (and its value, if any). */
		bad_option(argv[optind > before ? optind - 1 : before], all, optopt, c == ':');
	}
	return c;
}

int lgbox_parse_uint(const char *text, uint64_t max, uint64_t *value)
{
	uint64_t n = 0;

	if (!isdigit((unsigned char)*text))
		return -1;
	for (; isdigit((unsigned char)*text); text++) {
		unsigned int digit = *text - '0';

		if (digit > max || n > (max - digit) / 10)
			return -1;
		n = n * 10 + digit;
	}
	if (*text)
		return -1;
	*value = n;
	return 0;
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
