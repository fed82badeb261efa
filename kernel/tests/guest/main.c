/*
 * main.c - boot of the test guest and its case runner.
 *
 * guest_main() prints a banner before anything else is set up, even the
 * shared page (the early console check), registers the shared page, the
 * trap handlers and the kernel stack, builds its page tables and then,
 * according to the command line:
 *   list        prints "CASE: name [fatal|manual]" for the runner;
 *   bench       runs the benchmark (bench.c);
 *   fuzz        runs the hypercall fuzzer (fuzz.c: seed=S calls=N);
 *   case=NAME   runs that one case (fatal cases only run this way);
 *   (nothing)   runs every case that is neither fatal nor manual.
 * Each case prints "PASS: name" or "FAIL: name: detail"; the guest then
 * prints "SUMMARY: N passed, M failed" and powers off with the reason
 * "tests done: N passed, M failed".
 */
#include <asm/bootparam.h>
#include "guest.h"

extern const struct test_case __start_testcases[], __stop_testcases[];
void run_bench(void);
void run_fuzz(void);

const char *cmdline = "";
const struct boot_params *boot_params;

static const struct test_case *current_case;
static bool current_failed;
static char fail_detail[400];
static struct kctx case_ctx;

bool case_running(void)
{
	return current_case != NULL;
}

void case_fail(const char *fmt, ...)
{
	va_list ap;

	if (current_failed)
		return;
	current_failed = true;
	va_start(ap, fmt);
	vsnprintf(fail_detail, sizeof(fail_detail), fmt, ap);
	va_end(ap);
}

noreturn void case_abort(const char *fmt, ...)
{
	va_list ap;

	if (!current_failed) {
		current_failed = true;
		va_start(ap, fmt);
		vsnprintf(fail_detail, sizeof(fail_detail), fmt, ap);
		va_end(ap);
	}
	ctx_restore(&case_ctx, 1);
}

/* Tell the runner how this fatal case must end (grep -iE pattern). */
void expect_crash(const char *pattern)
{
	kprintf("EXPECT-CRASH: %s\n", pattern);
}

/*
 * Find the next word "key" or "key=value" on the command line at or after
 * *pos; *value (if wanted) points just past the '=' (or at "" for a bare
 * word) and *pos moves past the word, so a loop sees every occurrence.
 */
bool cmdline_next(const char *key, const char **pos, const char **value)
{
	size_t len = strlen(key);
	const char *p = *pos;

	while (*p) {
		const char *word;

		while (*p == ' ')
			p++;
		word = p;
		while (*p && *p != ' ')
			p++;
		if (!strncmp(word, key, len) && (word[len] == '=' || word + len == p)) {
			if (value)
				*value = word[len] == '=' ? word + len + 1 : "";
			*pos = p;
			return true;
		}
	}
	*pos = p;
	return false;
}

bool cmdline_find(const char *key, const char **value)
{
	const char *pos = cmdline;

	return cmdline_next(key, &pos, value);
}

static bool run_case(const struct test_case *c)
{
	current_case = c;
	current_failed = false;
	irq_state_reset();
	if (ctx_save(&case_ctx) == 0)
		c->run();
	current_case = NULL;
	irq_state_reset();
	load_pml4(kernel_pml4);
	if (current_failed)
		kprintf("FAIL: %s: %s\n", c->name, fail_detail);
	else
		kprintf("PASS: %s\n", c->name);
	return !current_failed;
}

static const struct test_case *find_case(const char *name)
{
	const struct test_case *c;

	for (c = __start_testcases; c < __stop_testcases; c++) {
		size_t len = strlen(c->name);

		if (!strncmp(name, c->name, len) && (name[len] == ' ' || !name[len]))
			return c;
	}
	return NULL;
}

static void list_cases(void)
{
	const struct test_case *c;

	for (c = __start_testcases; c < __stop_testcases; c++)
		kprintf("CASE: %s%s\n", c->name, c->flags & CASE_FATAL ? " fatal" :
			c->flags & CASE_MANUAL ? " manual" : "");
}

static noreturn void report_and_power_off(unsigned int passed, unsigned int failed)
{
	kprintf("SUMMARY: %u passed, %u failed\n", passed, failed);
	shutdown(LGUEST_SHUTDOWN_POWEROFF, "tests done: %u passed, %u failed",
		 passed, failed);
}

static noreturn void run_selected(void)
{
	const struct test_case *c;
	unsigned int passed = 0, failed = 0;
	const char *name;

	if (cmdline_find("case", &name)) {
		c = find_case(name);
		if (!c) {
			kprintf("FAIL: %s: no such case (the word 'list' prints them)\n",
				name);
			report_and_power_off(0, 1);
		}
		run_case(c) ? passed++ : failed++;
		report_and_power_off(passed, failed);
	}
	for (c = __start_testcases; c < __stop_testcases; c++)
		if (!(c->flags & (CASE_FATAL | CASE_MANUAL)))
			run_case(c) ? passed++ : failed++;
	report_and_power_off(passed, failed);
}

noreturn void guest_main(u64 boot_params_pa)
{
	static const char banner[] =
		"lgbox test guest: early console, before LHCALL_INIT\n";
	u64 cmdline_pa;

	console_write(banner, sizeof(banner) - 1);
	hcall1(LHCALL_INIT, image_to_phys(&shared_page));
	/* Where our tables are readable: lg.ko's switcher walks them there. */
	shared.direct_map = DIRECT_MAP;
	traps_install();
	boot_params = phys_to_virt(boot_params_pa);
	cmdline_pa = boot_params->hdr.cmd_line_ptr |
		     (u64)boot_params->ext_cmd_line_ptr << 32;
	if (cmdline_pa)
		cmdline = phys_to_virt(cmdline_pa);
	kprintf("lgbox test guest: command line \"%s\"\n", cmdline);
	mm_init(boot_params);
	if (cmdline_find("list", NULL)) {
		list_cases();
		shutdown(LGUEST_SHUTDOWN_POWEROFF, "case list printed");
	}
	if (cmdline_find("bench", NULL)) {
		run_bench();
		shutdown(LGUEST_SHUTDOWN_POWEROFF, "benchmark done");
	}
	if (cmdline_find("fuzz", NULL)) {
		run_fuzz();
		shutdown(LGUEST_SHUTDOWN_POWEROFF, "fuzzing done");
	}
	run_selected();
}
