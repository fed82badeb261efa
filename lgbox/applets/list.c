/*
 * list: the guests of this host, one line each (or a JSON array for
 * scripts): every guest with a run directory (/run/lguest/NAME, see
 * launch/rundir.c) and every fixed guest with a config file
 * (/etc/lgbox/guests/NAME.conf), with its state, launcher pid, memory,
 * uptime, restarts, vCPUs (how many, the host CPUs they may run on and
 * the one each last ran on) and how it last ended.  list only reads: a run
 * directory whose launcher died reads as crashed, and the next start or
 * stop of that name cleans it.
 */
//kconfig:config LGBOX_LIST
//kconfig:	bool "list: show the guests and how they last ended"
//kconfig:	default y
//kconfig:	depends on LGBOX_LAUNCH
//kconfig:	help
//kconfig:	  Lists the guests started by "lgbox launch" and the fixed guests
//kconfig:	  with their state (running, restarting, stopped, crashed...),
//kconfig:	  pid, memory, uptime, restarts, vCPUs and their host CPUs and
//kconfig:	  last end, as text or JSON.
#include <stdio.h>
#include <string.h>

#include "../lgbox.h"
#include "../launch/rundir.h"

static int list_main(int argc, char **argv);

LGBOX_APPLET("list", list_main,
	"[--json] [--run-dir DIR] [--config-dir DIR]\n"
	"\n"
	"List the guests: NAME STATE PID MEMORY UPTIME RESTARTS VCPUS HOST-CPUS\n"
	"VCPU-CPUS LAST-END, for every guest launch runs or ran from a config file,\n"
	"and every fixed guest.  HOST-CPUS: where its vCPUs may run (any: not pinned);\n"
	"VCPU-CPUS: the host CPU each last ran on.\n"
	"States: starting running stopping restarting stopped crashed.\n"
	"\n"
	"  --json             one JSON array of objects, for scripts\n"
	"  --run-dir DIR      where launch keeps run directories (default /run/lguest)\n"
	"  --config-dir DIR   the fixed guests' configs, NAME.conf (default /etc/lgbox/guests)\n");

struct list_ctx {
	const char *run_dir;
	bool json;
	int printed;
};

static void format_uptime(long long seconds, char *buf, size_t size)
{
	if (seconds < 0)
		snprintf(buf, size, "-");
	else if (seconds >= 86400)
		snprintf(buf, size, "%lldd%02lldh", seconds / 86400, seconds % 86400 / 3600);
	else
		snprintf(buf, size, "%02lld:%02lld:%02lld", seconds / 3600, seconds % 3600 / 60,
			 seconds % 60);
}

/* A JSON string; every byte outside printable ASCII is escaped. */
static void print_json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < ' ' || c >= 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

/* The host CPU each vCPU last ran on, "2,3"; unknown ones as UNKNOWN. */
static void format_vcpu_cpus(const struct guest_status *st, const char *sep,
			     const char *unknown, char *buf, size_t size)
{
	size_t len = 0;
	unsigned int i;

	buf[0] = '\0';
	for (i = 0; i < st->vcpus && len < size; i++)
		len += st->vcpu_cpu[i] < 0 ?
		       snprintf(buf + len, size - len, "%s%s", i ? sep : "", unknown) :
		       snprintf(buf + len, size - len, "%s%d", i ? sep : "", st->vcpu_cpu[i]);
}

static void print_json(const struct guest_status *st, int index)
{
	char cpus[RUNDIR_MAX_VCPUS * 8];

	printf("%s\n  {\"name\": ", index ? "," : "[");
	print_json_string(st->name);
	printf(", \"state\": ");
	print_json_string(st->state);
	printf(", \"pid\": ");
	st->pid > 0 ? printf("%ld", st->pid) : printf("null");
	printf(", \"guest_pid\": ");
	st->guest_pid > 0 ? printf("%ld", st->guest_pid) : printf("null");
	printf(", \"memory\": ");
	st->memory ? printf("%llu", (unsigned long long)st->memory) : printf("null");
	printf(", \"uptime\": ");
	st->uptime >= 0 ? printf("%lld", st->uptime) : printf("null");
	printf(", \"restarts\": %lu, \"vcpus\": ", st->restarts);
	st->vcpus ? printf("%u", st->vcpus) : printf("null");
	printf(", \"host_cpus\": ");
	st->host_cpus[0] ? print_json_string(st->host_cpus) : (void)printf("null");
	format_vcpu_cpus(st, ", ", "null", cpus, sizeof(cpus));
	printf(", \"vcpu_cpus\": ");
	st->vcpus ? printf("[%s]", cpus) : printf("null");
	printf(", \"last_end\": ");
	st->ended[0] ? print_json_string(st->ended) : (void)printf("null");
	putchar('}');
}

static void print_text(const struct guest_status *st)
{
	char pid[24] = "-", memory[24] = "-", uptime[24], vcpus[16] = "-";
	char cpus[RUNDIR_MAX_VCPUS * 8] = "-";

	if (st->pid > 0)
		snprintf(pid, sizeof(pid), "%ld", st->pid);
	if (st->memory)
		snprintf(memory, sizeof(memory), "%lluM", (unsigned long long)st->memory >> 20);
	format_uptime(st->uptime, uptime, sizeof(uptime));
	if (st->vcpus) {
		snprintf(vcpus, sizeof(vcpus), "%u", st->vcpus);
		format_vcpu_cpus(st, ",", "?", cpus, sizeof(cpus));
	}
	printf("%-16s %-10s %7s %7s %9s %8lu %5s %-9s %-9s  %s\n", st->name, st->state, pid,
	       memory, uptime, st->restarts, vcpus, st->host_cpus[0] ? st->host_cpus : "-", cpus,
	       st->ended[0] ? st->ended : "-");
}

static void list_one(const char *name, void *arg)
{
	struct list_ctx *ctx = arg;
	struct guest_status st;

	/* A fixed guest without a run directory was never started (or not since boot). */
	if (rundir_read_status(ctx->run_dir, name, &st) < 0) {
		strcpy(st.state, "stopped");
		strcpy(st.ended, "not started");
	}
	if (ctx->json)
		print_json(&st, ctx->printed);
	else
		print_text(&st);
	ctx->printed++;
}

static int list_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "run-dir", required_argument, NULL, 'R' },
		{ "config-dir", required_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 },
	};
	struct list_ctx ctx = { .run_dir = RUNDIR_DEFAULT };
	const char *config_dir = GUEST_CONFIG_DIR;
	int c;

	while ((c = lgbox_getopt(argc, argv, "", longopts)) != -1) {
		if (c == 'j')
			ctx.json = true;
		else if (c == 'R')
			ctx.run_dir = lgbox_optarg;
		else
			config_dir = lgbox_optarg;
	}
	if (lgbox_optind < argc)
		return lgbox_usage_error("unexpected argument \"%s\" (list takes options only)",
					 argv[lgbox_optind]);
	if (!ctx.json)
		printf("%-16s %-10s %7s %7s %9s %8s %5s %-9s %-9s  %s\n", "NAME", "STATE", "PID",
		       "MEMORY", "UPTIME", "RESTARTS", "VCPUS", "HOST-CPUS", "VCPU-CPUS", "LAST END");
	rundir_for_each_name(ctx.run_dir, config_dir, list_one, &ctx);
	if (ctx.json)
		printf(ctx.printed ? "\n]\n" : "[]\n");
	return LGBOX_EXIT_OK;
}
