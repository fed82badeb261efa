/*
 * test.h - the tiny unit test harness shared by lgbox/tests/test_*.c.
 *
 * A test file defines functions of no arguments and calls
 * TEST_RUN(fn) for each from main(), then returns test_summary().  Each
 * TEST_RUN prints one line, "PASS: file:fn" or "FAIL: file:fn: what failed",
 * which tests/run-tests.sh counts.  CHECK() records a failed expression with
 * its line and keeps going, so one run shows every broken expectation.
 * TEST_XFAIL(fn, reason) marks a known failure: it runs the test and prints
 * "XFAIL: ... (reason)" if it still fails, but FAILs if it unexpectedly
 * passes, so the mark cannot outlive the bug.
 */
#ifndef LGBOX_TEST_H
#define LGBOX_TEST_H

#include <stdio.h>
#include <string.h>

static int test_checks_failed;
static int test_cases_failed;
static char test_first_failure[256];

static inline void test_check_failed(const char *file, int line, const char *expr)
{
	if (!test_checks_failed++)
		snprintf(test_first_failure, sizeof(test_first_failure),
			 "%s:%d: CHECK(%s)", file, line, expr);
	fprintf(stderr, "  %s:%d: check failed: %s\n", file, line, expr);
}

#define CHECK(expr)							\
	do {								\
		if (!(expr))						\
			test_check_failed(__FILE__, __LINE__, #expr);	\
	} while (0)

/* Compare as integers and show both values on failure. */
#define CHECK_EQ(a, b)							\
	do {								\
		long long _a = (long long)(a), _b = (long long)(b);	\
		if (_a != _b) {						\
			fprintf(stderr, "  %s = %lld, %s = %lld\n",	\
				#a, _a, #b, _b);			\
			test_check_failed(__FILE__, __LINE__, #a " == " #b); \
		}							\
	} while (0)

static inline void test_run(const char *file, const char *name,
			    void (*fn)(void), const char *xfail_reason)
{
	const char *base = strrchr(file, '/');

	base = base ? base + 1 : file;
	test_checks_failed = 0;
	fn();
	if (xfail_reason && test_checks_failed) {
		printf("XFAIL: %s:%s: %s\n", base, name, xfail_reason);
	} else if (xfail_reason) {
		printf("FAIL: %s:%s: passed but is marked as a known failure (%s)\n",
		       base, name, xfail_reason);
		test_cases_failed++;
	} else if (test_checks_failed) {
		printf("FAIL: %s:%s: %s\n", base, name, test_first_failure);
		test_cases_failed++;
	} else {
		printf("PASS: %s:%s\n", base, name);
	}
	fflush(stdout);
}

#define TEST_RUN(fn)		test_run(__FILE__, #fn, fn, NULL)
#define TEST_XFAIL(fn, why)	test_run(__FILE__, #fn, fn, why)

static inline int test_summary(void)
{
	return test_cases_failed ? 1 : 0;
}

#endif /* LGBOX_TEST_H */
