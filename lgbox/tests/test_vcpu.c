/*
 * test_vcpu.c - launch's vCPU loop (launch/vcpu.c) against a scripted
 * /dev/lguest (fake_lguest.c): what LGUEST_INIT receives, console exits,
 * MMIO exits answered by the devices, each way a guest can end and the
 * exit status it gives, SIGTERM pressing the power button with and without
 * a poweroff in the grace time, and what the guest process reports to its
 * supervisor (guest_report() is recorded here instead of sent), the vCPU
 * thread's id first.
 */
#define _GNU_SOURCE	/* gettid */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../launch/launch.h"
#include "../launch/lguest_dev.h"
#include "../launch/vcpu.h"
#include "../lib/guest_image.h"
#include "elf_builder.h"
#include "fake_lguest.h"
#include "test.h"

#define MMIO_BASE 0xd0000000ULL

static char dir[] = "/tmp/lgbox-test-vcpu-XXXXXX";
static char log_path[64], kernel_path[64];
static struct launch_opts opts;
static struct guest_ram ram;
static struct device_set devs;
static char cmdline[4096];
static char reports[1024];	/* what the guest process told its supervisor */

void guest_report(const char *event, const char *fmt, ...)
{
	size_t used = strlen(reports);
	va_list ap;

	snprintf(reports + used, sizeof(reports) - used, "%s%s", event, fmt ? " " : "");
	used = strlen(reports);
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(reports + used, sizeof(reports) - used, fmt, ap);
		va_end(ap);
	}
	used = strlen(reports);
	snprintf(reports + used, sizeof(reports) - used, "\n");
}

static struct fake_step exit_step(uint32_t reason)
{
	struct fake_step s = { .kind = FAKE_EXIT };

	s.run.exit_reason = reason;
	return s;
}

static struct fake_step mmio_step(uint64_t gpa, bool write, uint64_t data)
{
	struct fake_step s = exit_step(LGUEST_EXIT_MMIO);

	s.run.mmio.gpa = gpa;
	s.run.mmio.size = 4;
	s.run.mmio.is_write = write;
	s.run.mmio.data = data;
	return s;
}

static struct fake_step death_step(uint32_t reason, const char *why)
{
	struct fake_step s = exit_step(reason);

	strcpy(s.run.death.reason, why);
	return s;
}

static struct fake_step signal_step(enum fake_step_kind kind, int sig)
{
	return (struct fake_step){ .kind = kind, .signal = sig };
}

/* Runs one boot on the script; stderr goes to dir/stderr. */
static int boot(const struct fake_step *steps, unsigned int n)
{
	struct guest_boot loaded;
	char path[128];
	int saved = dup(2), fd, fate;

	snprintf(path, sizeof(path), "%s/stderr", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	dup2(fd, 2);
	close(fd);
	memset(&fake, 0, sizeof(fake));
	fake.steps = steps;
	fake.nr_steps = n;
	reports[0] = '\0';
	fate = vcpu_load_guest(&opts, &ram, cmdline, &loaded) < 0 ? -1 :
	       vcpu_boot(&opts, &ram, &devs, &loaded, lguest_dev_open());
	dup2(saved, 2);
	close(saved);
	return fate;
}

static int file_has(const char *name, const char *text)
{
	char path[128], buf[4096];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY);
	n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	if (strstr(buf, text))
		return 1;
	fprintf(stderr, "  %s holds \"%s\", expected \"%s\"\n", name, buf, text);
	return 0;
}

static off_t file_size(const char *name)
{
	char path[128];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &st) == 0 ? st.st_size : -1;
}

/* The reports of a boot that ran: the vCPU, this thread, then REST. */
static const char *reports_of_a_run(const char *rest)
{
	static char text[1024];

	snprintf(text, sizeof(text), "vcpu %d\nrunning\n%s", (int)gettid(), rest);
	return text;
}

static void console_exit_reaches_console_and_poweroff_is_0(void)
{
	struct fake_step steps[2] = { exit_step(LGUEST_EXIT_CONSOLE),
				      exit_step(LGUEST_EXIT_POWEROFF) };

	strcpy((char *)steps[0].run.console.data, "hello from the guest\n");
	steps[0].run.console.len = 21;
	CHECK_EQ(boot(steps, 2), LAUNCH_EXIT_POWEROFF);
	CHECK(file_has("console.log", "hello from the guest\n"));
	CHECK_EQ(file_size("console.log"), 21);		/* once, not twice */
	CHECK(!strcmp(reports, reports_of_a_run("ended powered off\n")));
}

static void init_follows_the_boot_protocol(void)
{
	struct fake_step off = exit_step(LGUEST_EXIT_POWEROFF);

	CHECK_EQ(boot(&off, 1), LAUNCH_EXIT_POWEROFF);
	CHECK_EQ(fake.init.abi_version, LGUEST_ABI_VERSION);
	CHECK_EQ(fake.init.flags, 0);
	CHECK(fake.init.mem_base == (uintptr_t)ram.base);
	CHECK_EQ(fake.init.mem_size, 8 << 20);
	CHECK_EQ(fake.init.mmio_base, MMIO_BASE);
	CHECK_EQ(fake.init.mmio_size, 2 * 0x1000);	/* console and rng */
	CHECK_EQ(fake.init.entry, ENTRY);
	CHECK_EQ(fake.init.initial_cr3, LGUEST_BOOT_PGTABLES);
	CHECK_EQ(fake.init.boot_data, LGUEST_BOOT_PARAMS);
	CHECK(strstr((char *)ram.base + LGUEST_BOOT_CMDLINE,
		     "case=vcpu virtio_mmio.device=4K@0xd0000000:1 virtio_mmio.device=4K@0xd0001000:2"));
}

static void mmio_exits_reach_the_devices(void)
{
	struct fake_step steps[] = {
		mmio_step(MMIO_BASE, false, 0),			/* console magic */
		mmio_step(MMIO_BASE + 0x1008, false, 0),	/* rng device id */
		mmio_step(MMIO_BASE + 0x5000, false, 0),	/* no device there */
		mmio_step(MMIO_BASE + 0x1070, true, 1),		/* rng status */
		mmio_step(MMIO_BASE + 0x1070, false, 0),
		exit_step(LGUEST_EXIT_POWEROFF),
	};

	CHECK_EQ(boot(steps, 6), LAUNCH_EXIT_POWEROFF);
	CHECK_EQ(fake.nr_answers, 4);
	CHECK_EQ(fake.mmio_answers[0], 0x74726976);
	CHECK_EQ(fake.mmio_answers[1], 4);
	CHECK(fake.mmio_answers[2] == ~0ULL);
	CHECK_EQ(fake.mmio_answers[3], 1);
	CHECK(file_has("stderr", "no device is"));
}

static void crash_prints_reason_and_exits_3(void)
{
	struct fake_step s = death_step(LGUEST_EXIT_CRASH, "LHCALL_SET_TRAP: bad vector 300");

	CHECK_EQ(boot(&s, 1), LAUNCH_EXIT_CRASH);
	CHECK(file_has("stderr", "guest vcpu crashed: LHCALL_SET_TRAP: bad vector 300"));
	CHECK(strstr(reports, "ended crashed: LHCALL_SET_TRAP: bad vector 300\n"));
}

/* What the guest writes is shown as text only: no terminal escapes, no line breaks. */
static void crash_reason_is_made_printable(void)
{
	struct fake_step s = death_step(LGUEST_EXIT_CRASH, "oops\033[2J\nended powered off");

	CHECK_EQ(boot(&s, 1), LAUNCH_EXIT_CRASH);
	CHECK(file_has("stderr", "guest vcpu crashed: oops?[2J?ended powered off"));
	CHECK(!strcmp(reports, reports_of_a_run("ended crashed: oops?[2J?ended powered off\n")));
}

static void reboot_is_4(void)
{
	struct fake_step s = death_step(LGUEST_EXIT_REBOOT, "");

	CHECK_EQ(boot(&s, 1), LAUNCH_EXIT_REBOOT);
	CHECK(strstr(reports, "ended rebooted\n"));
}

static void sigterm_waits_the_grace_time_then_stops(void)
{
	struct fake_step steps[] = {
		signal_step(FAKE_SIGNAL, SIGTERM),
		signal_step(FAKE_WAIT_SIGNAL, 0),	/* the guest ignores it */
	};

	CHECK_EQ(boot(steps, 2), LAUNCH_EXIT_STOPPED);
	CHECK_EQ(fake.next, 2);
	CHECK(fake.irq_lines & (1ULL << LGUEST_IRQ_POWER_BUTTON));
	CHECK(strstr(reports, "running\nstopping\nended stopped: it did not power off within 1s\n"));
	CHECK(file_has("stderr", "did not power off; stopping it"));
}

static void poweroff_within_the_grace_time_is_0(void)
{
	struct fake_step steps[] = {
		signal_step(FAKE_SIGNAL, SIGTERM),
		exit_step(LGUEST_EXIT_POWEROFF),
	};
	struct fake_step off = exit_step(LGUEST_EXIT_POWEROFF);

	CHECK_EQ(boot(steps, 2), LAUNCH_EXIT_POWEROFF);
	CHECK(fake.irq_lines & (1ULL << LGUEST_IRQ_POWER_BUTTON));
	sleep(2);	/* a leftover grace alarm would stop the next boot here */
	CHECK_EQ(boot(&off, 1), LAUNCH_EXIT_POWEROFF);
}

static void second_signal_stops_at_once(void)
{
	struct fake_step steps[] = {
		signal_step(FAKE_SIGNAL, SIGTERM),
		signal_step(FAKE_SIGNAL, SIGINT),
		exit_step(LGUEST_EXIT_POWEROFF),
	};

	CHECK_EQ(boot(steps, 3), LAUNCH_EXIT_STOPPED);
	CHECK_EQ(fake.next, 2);
}

static void run_failures_are_launch_failures(void)
{
	struct fake_step err = { .kind = FAKE_ERROR, .error = EFAULT };
	struct fake_step odd = exit_step(99);

	CHECK_EQ(boot(&err, 1), LAUNCH_EXIT_FAILURE);
	CHECK(file_has("stderr", "LGUEST_RUN failed for guest vcpu"));
	CHECK_EQ(boot(&odd, 1), LAUNCH_EXIT_FAILURE);
	CHECK(file_has("stderr", "unknown exit 99"));
}

static void write_kernel(void)
{
	struct elf_image img;
	int fd;

	build_elf(&img, 4096, 4096, 1);
	snprintf(kernel_path, sizeof(kernel_path), "%s/kernel.elf", dir);
	fd = open(kernel_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, img.buf, img.len) != (ssize_t)img.len)
		exit(1);
	close(fd);
}

static void remove_files(void)
{
	static const char *const names[] = { "kernel.elf", "console.log", "stderr" };
	char path[128];
	unsigned int i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
}

int main(void)
{
	char console_opt[128];
	char *argv[] = { "launch", "--kernel", kernel_path, "--memory", "8M", "--name", "vcpu",
			 "--console", console_opt, "--cmdline", "case=vcpu", "--rng",
			 "--stop-grace", "1", NULL };

	if (!mkdtemp(dir))
		return 1;
	write_kernel();
	snprintf(log_path, sizeof(log_path), "%s/console.log", dir);
	snprintf(console_opt, sizeof(console_opt), "log:%s", log_path);
	if (launch_parse_args(&opts, 14, argv) != 0)
		return 1;
	snprintf(cmdline, sizeof(cmdline), "%s", opts.cmdline);	/* devices append to it */
	if (guest_ram_map(&ram, opts.memory) < 0 ||
	    devices_create(&devs, &opts, &ram, cmdline, sizeof(cmdline)) < 0 ||
	    console_setup(&opts, "/nonexistent/console") < 0)
		return 1;
	vcpu_install_signals();
	TEST_RUN(console_exit_reaches_console_and_poweroff_is_0);
	TEST_RUN(init_follows_the_boot_protocol);
	TEST_RUN(mmio_exits_reach_the_devices);
	TEST_RUN(crash_prints_reason_and_exits_3);
	TEST_RUN(crash_reason_is_made_printable);
	TEST_RUN(reboot_is_4);
	TEST_RUN(sigterm_waits_the_grace_time_then_stops);
	TEST_RUN(poweroff_within_the_grace_time_is_0);
	TEST_RUN(second_signal_stops_at_once);
	TEST_RUN(run_failures_are_launch_failures);
	remove_files();
	return test_summary();
}
