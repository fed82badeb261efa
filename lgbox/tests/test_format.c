/*
 * test_format.c - lgbox_vformat() (lib/format.c), which formats every
 * printf-family call of the static lgbox, against the C library's
 * snprintf for each conversion, flag, width, precision and size lgbox
 * uses, truncation included.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../lib/format.h"
#include "test.h"

static char ours[256], theirs[256];

static __attribute__((format(printf, 2, 3))) int same(size_t size, const char *fmt, ...)
{
	va_list ap;
	int a, b;

	va_start(ap, fmt);
	a = lgbox_vformat(ours, size, fmt, ap);
	va_end(ap);
	va_start(ap, fmt);
	b = vsnprintf(theirs, size, fmt, ap);
	va_end(ap);
	if (a == b && (!size || !strcmp(ours, theirs)))
		return 1;
	fprintf(stderr, "  \"%s\": ours %d \"%s\", libc %d \"%s\"\n", fmt, a, ours, b, theirs);
	return 0;
}

static void strings_and_characters(void)
{
	CHECK(same(256, "plain text"));
	CHECK(same(256, "%s and %s", "one", ""));
	CHECK(same(256, "[%7s|%-10s|%-16s]", "ab", "cd", "a name"));
	CHECK(same(256, "[%.3s|%.*s|%.200s]", "abcdef", 2, "xyz", "short"));
	CHECK(same(256, "%c%c%c", 'a', 'b', 'c'));
	CHECK(same(256, "100%% sure"));
}

static void integers(void)
{
	CHECK(same(256, "%d %d %d", 0, -1, INT_MIN));
	CHECK(same(256, "%u %u", 0u, UINT_MAX));
	CHECK(same(256, "%ld %lu %lld %llu", LONG_MIN, ULONG_MAX, LLONG_MAX, ULLONG_MAX));
	CHECK(same(256, "%zu %x %llx", (size_t)12345, 0xbeefu, 0xffffffff81000000ULL));
	CHECK(same(256, "[%8lu|%02lld|%02u|%04x|%9s]", 7UL, 5LL, 3u, 0x1fu, "x"));
	CHECK(same(256, "[%-5d|%05d|%-3u]", -42, -42, 7u));
}

static void truncation_counts_everything(void)
{
	CHECK(same(8, "%s=%d", "a long name", 123456));
	CHECK(same(1, "%s", "anything"));
	CHECK(same(0, "%d", 42));
}

/* No format attribute: the point is a conversion printf would take. */
static int unchecked(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = lgbox_vformat(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

static void unknown_conversions_are_shown(void)
{
	char buf[32];

	CHECK(unchecked(buf, sizeof(buf), "a %f b") == 6 && !strcmp(buf, "a %f b"));
	CHECK(unchecked(buf, sizeof(buf), "end %") == 5 && !strcmp(buf, "end %"));
}

int main(void)
{
	TEST_RUN(strings_and_characters);
	TEST_RUN(integers);
	TEST_RUN(truncation_counts_everything);
	TEST_RUN(unknown_conversions_are_shown);
	return test_summary();
}
