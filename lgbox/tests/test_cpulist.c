/*
 * test_cpulist.c - cpulist_parse() (lib/cpulist.c), launch's host-cpus:
 * the lists Linux writes are read as the CPUs they name, and anything else
 * is refused whole, never read in part.
 */
#define _GNU_SOURCE	/* cpu_set_t */
#include "test.h"
#include "../lib/cpulist.h"

/* Whether TEXT parses to exactly the CPUS given as a -1 terminated list. */
static int names(const char *text, const int *cpus)
{
	cpu_set_t set, want;

	CPU_ZERO(&want);
	for (; *cpus >= 0; cpus++)
		CPU_SET(*cpus, &want);
	if (cpulist_parse(text, &set) < 0) {
		fprintf(stderr, "  \"%s\" refused\n", text);
		return 0;
	}
	return CPU_EQUAL(&set, &want);
}

static int refused(const char *text)
{
	cpu_set_t set;

	if (cpulist_parse(text, &set) == 0) {
		fprintf(stderr, "  \"%s\" accepted\n", text);
		return 0;
	}
	return 1;
}

static void accepted_lists(void)
{
	CHECK(names("0", (const int[]){ 0, -1 }));
	CHECK(names("2", (const int[]){ 2, -1 }));
	CHECK(names("2-3", (const int[]){ 2, 3, -1 }));
	CHECK(names("0,2-3", (const int[]){ 0, 2, 3, -1 }));
	CHECK(names("3,1", (const int[]){ 1, 3, -1 }));
	CHECK(names("1,1-2,2", (const int[]){ 1, 2, -1 }));
	CHECK(names("5-5", (const int[]){ 5, -1 }));
	CHECK(names("007", (const int[]){ 7, -1 }));
	CHECK(names("1023", (const int[]){ 1023, -1 }));
	CHECK(names("1020-1023", (const int[]){ 1020, 1021, 1022, 1023, -1 }));
}

static void refused_lists(void)
{
	CHECK(refused(""));
	CHECK(refused(","));
	CHECK(refused("0,"));
	CHECK(refused(",0"));
	CHECK(refused("0,,1"));
	CHECK(refused("3-2"));
	CHECK(refused("2-"));
	CHECK(refused("-2"));
	CHECK(refused("1-2-3"));
	CHECK(refused("1024"));
	CHECK(refused("0-1024"));
	CHECK(refused("4095"));
	CHECK(refused("99999999999999999999999"));
	CHECK(refused(" 1"));
	CHECK(refused("1 "));
	CHECK(refused("0, 1"));
	CHECK(refused("0- 1"));
	CHECK(refused("+1"));
	CHECK(refused("0x1"));
	CHECK(refused("1a"));
	CHECK(refused("a"));
	CHECK(refused("any"));
	CHECK(refused("0-7:2/4"));
}

int main(void)
{
	TEST_RUN(accepted_lists);
	TEST_RUN(refused_lists);
	return test_summary();
}
