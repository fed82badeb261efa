/*
 * options.c - launch's options.  One table serves the command line
 * (lgbox_getopt) and fixed-guest config files ("key = value", keys are the
 * long option names), so the two can never disagree.  The config file is
 * read first and the command line applied over it; a list option (block,
 * net and sharenet, console) given on the command line replaces the file's
 * list.  Every value is checked here, before launch does anything.
 */
#define _GNU_SOURCE	/* cpu_set_t */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/lguest.h>

#include "../lgbox.h"
#include "../lib/cpulist.h"
#include "../lib/guest_image.h"
#include "../lib/users.h"
#include "launch.h"
#include "rundir.h"

#define DEFAULT_MEMORY	(128ULL << 20)
#define DEFAULT_RUN_DIR	RUNDIR_DEFAULT
#define DEFAULT_GRACE	10
#define DEFAULT_RESTART_DELAY	1
#define DEFAULT_RESTART_LIMIT	5
#define OPT_BASE	0x100	/* getopt value of options[0] */

/* Setters return NULL or a short reason the value is bad. */
typedef const char *(*option_setter)(struct launch_opts *opts, const char *value);

struct launch_option {
	const char *name;
	bool takes_value;
	option_setter set;
	unsigned int list_bit;	/* nonzero for list options */
};

enum { LIST_CONSOLE = 1, LIST_BLOCK = 2, LIST_NET = 4 };
/* Lists already replaced by the command line (see file comment). */
static unsigned int lists_from_cmdline;
static bool parsing_cmdline;

static char *dup_value(const char *value)
{
	char *s = strdup(value);

	if (!s)
		lgbox_die("out of memory");
	return s;
}

static const char *set_memory(struct launch_opts *o, const char *v)
{
	uint64_t size;

	if (lgbox_parse_size(v, &size) < 0)
		return "expected a size like 64M or 1G";
	if (size % GUEST_RAM_ALIGN)
		return "guest RAM is a multiple of 2 MiB";
	if (size < GUEST_RAM_MIN)
		return "guest RAM is at least 4 MiB";
	if (size > guest_ram_max())
		return "more than the boot page tables can map (221 GiB)";
	o->memory = size;
	return NULL;
}

#define STRING_SETTER(field)						\
	static const char *set_##field(struct launch_opts *o, const char *v) \
	{								\
		free(o->field);						\
		o->field = dup_value(v);				\
		return NULL;						\
	}
STRING_SETTER(kernel)
STRING_SETTER(initrd)
STRING_SETTER(cmdline)
STRING_SETTER(pidfile)
STRING_SETTER(log)
STRING_SETTER(run_dir)
STRING_SETTER(chroot)

static const char *set_name(struct launch_opts *o, const char *v)
{
	const char *p;

	if (!*v || strlen(v) > 64 || v[0] == '.')
		return "names are 1-64 characters and do not start with '.'";
	for (p = v; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("-_.", *p))
			return "names may only hold letters, digits, '-', '_' and '.'";
	free(o->name);
	o->name = dup_value(v);
	return NULL;
}

static const char *parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "on"))
		*out = true;
	else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "off"))
		*out = false;
	else
		return "expected yes or no";
	return NULL;
}

#define FLAG_SETTER(field)						\
	static const char *set_##field(struct launch_opts *o, const char *v) \
	{								\
		return parse_bool(v, &o->field);			\
	}
FLAG_SETTER(rng)
FLAG_SETTER(daemon)
FLAG_SETTER(no_reboot)
FLAG_SETTER(dry_run)
FLAG_SETTER(sandbox)

static const char *parse_seconds(const char *v, unsigned int *out)
{
	uint64_t n;

	if (lgbox_parse_uint(v, 3600, &n) < 0)
		return "expected seconds (0-3600)";
	*out = n;
	return NULL;
}

static const char *set_stop_grace(struct launch_opts *o, const char *v)
{
	return parse_seconds(v, &o->stop_grace);
}

static const char *set_restart_delay(struct launch_opts *o, const char *v)
{
	return parse_seconds(v, &o->restart_delay);
}

static const char *set_restart_limit(struct launch_opts *o, const char *v)
{
	uint64_t n;

	if (lgbox_parse_uint(v, 1000, &n) < 0 || n < 1)
		return "expected a number of restarts from 1 to 1000";
	o->restart_limit = n;
	return NULL;
}

static const char *set_restart(struct launch_opts *o, const char *v)
{
	static const char *const policies[] = { "no", "on-crash", "always" };
	unsigned int i;

	for (i = 0; i < 3; i++)
		if (!strcmp(v, policies[i])) {
			o->restart = i;
			return NULL;
		}
	return "expected no, on-crash or always";
}

/* user: USER[:GROUP], names or numbers; looked up now, before any chroot. */
static const char *set_user(struct launch_opts *o, const char *v)
{
	char user[256], *colon;

	if (strlen(v) >= sizeof(user))
		return "too long";
	strcpy(user, v);
	colon = strchr(user, ':');
	if (colon)
		*colon = '\0';
	if (user_lookup(user, &o->uid, &o->gid) < 0)
		return "no such user in /etc/passwd";
	if (colon && group_lookup(colon + 1, &o->gid) < 0)
		return "no such group in /etc/group";
	if (o->uid == 0)
		return "the point is not to run as root: name another user";
	o->user_set = true;
	return NULL;
}

/* cpus: the guest's vCPUs, each a thread of the guest process (vcpu.c). */
static const char *set_cpus(struct launch_opts *o, const char *v)
{
	uint64_t n;

	if (lgbox_parse_uint(v, LGUEST_MAX_VCPUS, &n) < 0 || n < 1)
		return "expected a number of vCPUs from 1 to 16";
	o->cpus = n;
	return NULL;
}

/* host-cpus: a CPU list, or any (undoes a config file's); applied by vcpu_pin(). */
static const char *set_host_cpus(struct launch_opts *o, const char *v)
{
	cpu_set_t set;

	if (strlen(v) > RUNDIR_HOST_CPUS_MAX)
		return "a list of at most 255 characters";
	if (strcmp(v, "any") && cpulist_parse(v, &set) < 0)
		return "expected host CPUs like 2, 2-3 or 0,2-3 (numbers 0-1023, ranges LOW-HIGH), or any";
	free(o->host_cpus);
	o->host_cpus = strcmp(v, "any") ? dup_value(v) : NULL;
	return NULL;
}

/* The command line's first item of a list replaces the config file's list. */
static void start_list(unsigned int bit, unsigned int *count)
{
	if (parsing_cmdline && !(lists_from_cmdline & bit)) {
		lists_from_cmdline |= bit;
		*count = 0;
	}
}

/* console: stdio | socket | log:FILE[:MAXSIZE] */
static const char *set_console(struct launch_opts *o, const char *v)
{
	struct console_opt c = { 0 };

	start_list(LIST_CONSOLE, &o->nr_consoles);
	if (o->nr_consoles == LAUNCH_MAX_CONSOLES)
		return "too many consoles (at most 3)";
	if (!strcmp(v, "stdio")) {
		c.kind = CONSOLE_STDIO;
	} else if (!strcmp(v, "socket")) {
		c.kind = CONSOLE_SOCKET;
	} else if (!strncmp(v, "log:", 4) && v[4]) {
		char *colon;

		c.kind = CONSOLE_LOG;
		c.path = dup_value(v + 4);
		colon = strrchr(c.path, ':');
		if (colon) {
			if (lgbox_parse_size(colon + 1, &c.max_size) < 0 || c.max_size < 4096) {
				free(c.path);
				return "log size cap must be a size of at least 4K";
			}
			*colon = '\0';
		}
	} else {
		return "expected stdio, socket or log:FILE[:MAXSIZE]";
	}
	o->consoles[o->nr_consoles++] = c;
	return NULL;
}

/* block: PATH[,ro][,overlay=FILE] | vhost-user:SOCKET */
static const char *set_block(struct launch_opts *o, const char *v)
{
	struct block_opt b = { 0 };
	char *copy, *word, *save;

	start_list(LIST_BLOCK, &o->nr_blocks);
	if (o->nr_blocks == LAUNCH_MAX_BLOCKS)
		return "too many block devices (at most 8)";
	if (!strncmp(v, "vhost-user:", 11)) {
		if (!v[11])
			return "vhost-user: needs a socket path";
		b.vhost_user = true;
		b.path = dup_value(v + 11);
		o->blocks[o->nr_blocks++] = b;
		return NULL;
	}
	copy = dup_value(v);
	word = strtok_r(copy, ",", &save);
	if (!word) {
		free(copy);
		return "expected PATH[,ro][,overlay=FILE]";
	}
	b.path = dup_value(word);
	while ((word = strtok_r(NULL, ",", &save))) {
		if (!strcmp(word, "ro")) {
			b.read_only = true;
		} else if (!strncmp(word, "overlay=", 8) && word[8]) {
			b.overlay = dup_value(word + 8);
		} else {
			free(copy);
			free(b.path);
			free(b.overlay);
			return "unknown block flag (expected ro or overlay=FILE)";
		}
	}
	free(copy);
	o->blocks[o->nr_blocks++] = b;
	return NULL;
}

/* "xx:xx:xx:xx:xx:xx" */
static int parse_mac(const char *s, uint8_t mac[6])
{
	const char *end;
	uint64_t byte;
	int i;

	for (i = 0; i < 6; i++) {
		if (!isxdigit((unsigned char)*s))
			return -1;
		end = lgbox_scan_uint(s, 16, 255, &byte);
		if (!end || end - s > 2 || *end != (i < 5 ? ':' : '\0'))
			return -1;
		mac[i] = byte;
		s = end + 1;
	}
	return mac[0] & 1 ? -1 : 0;	/* multicast MACs cannot be an interface's */
}

/*
 * A net device: the first word of value is the tap name or the sharenet
 * file, the rest are flags (bridge=BR only for taps, mac=MAC for both).
 */
static const char *add_net(struct launch_opts *o, const char *v, bool sharenet)
{
	struct net_opt n = { 0 };
	char *copy, *word, *save;
	const char *err = NULL;

	start_list(LIST_NET, &o->nr_nets);
	if (o->nr_nets == LAUNCH_MAX_NETS)
		return "too many network devices (at most 4, tap and sharenet together)";
	copy = dup_value(v);
	word = strtok_r(copy, ",", &save);
	if (!word || v[0] == ',')
		err = sharenet ? "expected FILE[,mac=MAC]" :
		      "expected tap:NAME[,bridge=BR][,mac=XX:XX:XX:XX:XX:XX]";
	else if (!sharenet && strlen(word) >= 16)
		err = "tap names are at most 15 characters";
	else
		*(sharenet ? &n.sharenet : &n.tap) = dup_value(word);
	while (!err && (word = strtok_r(NULL, ",", &save))) {
		if (!sharenet && !strncmp(word, "bridge=", 7) && word[7] && strlen(word + 7) < 16) {
			free(n.bridge);
			n.bridge = dup_value(word + 7);
		} else if (!strncmp(word, "mac=", 4)) {
			if (parse_mac(word + 4, n.mac) < 0)
				err = "bad MAC address (six hex bytes, unicast)";
			n.mac_set = true;
		} else {
			err = sharenet ? "unknown sharenet flag (expected mac=MAC)" :
			      "unknown net flag (expected bridge=BR or mac=MAC)";
		}
	}
	free(copy);
	if (err) {
		free(n.tap);
		free(n.sharenet);
		free(n.bridge);
		return err;
	}
	o->nets[o->nr_nets++] = n;
	return NULL;
}

/* net: tap:NAME[,bridge=BR][,mac=XX:XX:XX:XX:XX:XX] */
static const char *set_net(struct launch_opts *o, const char *v)
{
	if (strncmp(v, "tap:", 4))
		return "expected tap:NAME[,bridge=BR][,mac=XX:XX:XX:XX:XX:XX]";
	return add_net(o, v + 4, false);
}

/* sharenet: FILE[,mac=MAC] */
static const char *set_sharenet(struct launch_opts *o, const char *v)
{
	return add_net(o, v, true);
}

static const struct launch_option options[] = {
	{ "memory", true, set_memory, 0 },
	{ "cpus", true, set_cpus, 0 },
	{ "host-cpus", true, set_host_cpus, 0 },
	{ "kernel", true, set_kernel, 0 },
	{ "initrd", true, set_initrd, 0 },
	{ "cmdline", true, set_cmdline, 0 },
	{ "name", true, set_name, 0 },
	{ "console", true, set_console, LIST_CONSOLE },
	{ "block", true, set_block, LIST_BLOCK },
	{ "net", true, set_net, LIST_NET },
	{ "sharenet", true, set_sharenet, LIST_NET },
	{ "rng", false, set_rng, 0 },
	{ "daemon", false, set_daemon, 0 },
	{ "pidfile", true, set_pidfile, 0 },
	{ "log", true, set_log, 0 },
	{ "run-dir", true, set_run_dir, 0 },
	{ "no-reboot", false, set_no_reboot, 0 },
	{ "stop-grace", true, set_stop_grace, 0 },
	{ "restart", true, set_restart, 0 },
	{ "restart-delay", true, set_restart_delay, 0 },
	{ "restart-limit", true, set_restart_limit, 0 },
	{ "user", true, set_user, 0 },
	{ "chroot", true, set_chroot, 0 },
	{ "sandbox", false, set_sandbox, 0 },
	{ "dry-run", false, set_dry_run, 0 },
};
#define NR_OPTIONS (sizeof(options) / sizeof(options[0]))
#define OPT_CONFIG (OPT_BASE + NR_OPTIONS)	/* getopt value of --config */

static const struct launch_option *find_option(const char *name)
{
	unsigned int i;

	for (i = 0; i < NR_OPTIONS; i++)
		if (!strcmp(options[i].name, name))
			return &options[i];
	return NULL;
}

/* Levenshtein distance, for "did you mean" on short keys. */
static unsigned int edit_distance(const char *a, const char *b)
{
	unsigned int row[32], i, j, la = strlen(a), lb = strlen(b);

	if (la >= 32 || lb >= 32)
		return 99;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		unsigned int diag = row[0], tmp;

		row[0] = i;
		for (j = 1; j <= lb; j++) {
			tmp = row[j];
			row[j] = diag + (a[i - 1] != b[j - 1]);
			if (row[j - 1] + 1 < row[j])
				row[j] = row[j - 1] + 1;
			if (tmp + 1 < row[j])
				row[j] = tmp + 1;
			diag = tmp;
		}
	}
	return row[lb];
}

static const char *closest_option(const char *key)
{
	unsigned int i, best = 3;
	const char *name = NULL;

	for (i = 0; i < NR_OPTIONS; i++) {
		unsigned int d = edit_distance(key, options[i].name);

		if (d < best) {
			best = d;
			name = options[i].name;
		}
	}
	return name;
}

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

/* One "key = value" line; 0 or -1 with the message printed. */
static int apply_config_line(struct launch_opts *opts, const char *path,
			     unsigned int lineno, char *line)
{
	const struct launch_option *opt;
	char *eq = strchr(line, '='), *key, *value;
	const char *why, *hint;

	if (!eq) {
		lgbox_warn("%s:%u: expected \"key = value\", got \"%s\"", path, lineno, line);
		return -1;
	}

	*eq = '\0';
	key = trim(line);
	value = trim(eq + 1);
	opt = find_option(key);
	if (!opt) {
		hint = closest_option(key);
		if (hint)
			lgbox_warn("%s:%u: unknown key \"%s\" (did you mean \"%s\"?)",
				   path, lineno, key, hint);
		else
			lgbox_warn("%s:%u: unknown key \"%s\" (see 'lgbox launch --help')",
				   path, lineno, key);
		return -1;
	}
	why = opt->set(opts, value);
	if (why) {
		lgbox_warn("%s:%u: bad value \"%s\" for %s: %s", path, lineno, value, key, why);
		return -1;
	}
	return 0;
}

int launch_parse_config(struct launch_opts *opts, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	unsigned int lineno = 0;
	int ret = 0;

	if (!f) {
		lgbox_warn_errno("cannot read config file %s", path);
		return LAUNCH_EXIT_FAILURE;
	}
	while (fgets(line, sizeof(line), f)) {
		char *hash = strchr(line, '#'), *text;

		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			lgbox_warn("%s:%u: line longer than %zu bytes", path, lineno,
				   sizeof(line) - 2);
			ret = LAUNCH_EXIT_USAGE;
			break;
		}
		if (hash)
			*hash = '\0';
		text = trim(line);
		if (*text && apply_config_line(opts, path, lineno, text) < 0) {
			ret = LAUNCH_EXIT_USAGE;
			break;
		}
	}
	fclose(f);
	return ret;
}

/*
 * A config file without "name" names its guest after itself, so that
 * /etc/lgbox/guests/web1.conf runs as web1 (init starts every such file).
 */
static void name_after_config(struct launch_opts *opts, const char *config)
{
	const char *base = strrchr(config, '/');
	char name[65];
	char *dot;

	snprintf(name, sizeof(name), "%s", base ? base + 1 : config);
	dot = strrchr(name, '.');
	if (dot && dot != name)
		*dot = '\0';
	if (set_name(opts, name))
		lgbox_warn("config file %s: its name does not make a guest name; using \"guest\"",
			   config);
}

static void set_defaults(struct launch_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->memory = DEFAULT_MEMORY;
	opts->cpus = 1;
	opts->run_dir = dup_value(DEFAULT_RUN_DIR);
	opts->stop_grace = DEFAULT_GRACE;
	opts->restart_delay = DEFAULT_RESTART_DELAY;
	opts->restart_limit = DEFAULT_RESTART_LIMIT;
	opts->sandbox = true;
	lists_from_cmdline = 0;
}

static void build_long_options(struct option *longopts)
{
	unsigned int i;

	for (i = 0; i < NR_OPTIONS; i++)
		/* Flags take an optional value so that --rng=no can undo a config file. */
		longopts[i] = (struct option){ options[i].name,
			options[i].takes_value ? required_argument : optional_argument, NULL,
			OPT_BASE + i };
	longopts[NR_OPTIONS] = (struct option){ "config", required_argument, NULL, OPT_CONFIG };
	longopts[NR_OPTIONS + 1] = (struct option){ NULL, 0, NULL, 0 };
}

int launch_parse_args(struct launch_opts *opts, int argc, char **argv)
{
	struct option longopts[NR_OPTIONS + 2];
	const char *why;
	int c, ret;

	set_defaults(opts);
	build_long_options(longopts);
	/* Pass 1: only find --config, whose settings the rest overrides. */
	lgbox_optind = 0;
	while ((c = lgbox_getopt(argc, argv, "", longopts)) != -1)
		if (c == OPT_CONFIG)
			opts->config = dup_value(lgbox_optarg);
	if (lgbox_optind < argc)
		return lgbox_usage_error("unexpected argument \"%s\"", argv[lgbox_optind]);
	if (opts->config && (ret = launch_parse_config(opts, opts->config)))
		return ret;

	lgbox_optind = 0;
	parsing_cmdline = true;
	while ((c = lgbox_getopt(argc, argv, "", longopts)) != -1) {
		const struct launch_option *opt = &options[c - OPT_BASE];

		if (c == OPT_CONFIG)
			continue;
		why = opt->set(opts, lgbox_optarg ? lgbox_optarg : "yes");
		if (why)
			return lgbox_usage_error("bad value \"%s\" for --%s: %s",
						 lgbox_optarg ? lgbox_optarg : "yes", opt->name, why);
	}
	parsing_cmdline = false;
	if (!opts->kernel)
		return lgbox_usage_error("no kernel: give --kernel FILE (or kernel = FILE in --config)");
	if (opts->chroot && !opts->user_set)
		return lgbox_usage_error("--chroot needs --user (root can leave a chroot)");
	if (!opts->name && opts->config)
		name_after_config(opts, opts->config);
	if (!opts->name)
		set_name(opts, "guest");
	if (!opts->nr_consoles)
		set_console(opts, opts->daemon ? "socket" : "stdio");
	if (!opts->cmdline)
		opts->cmdline = dup_value("");
	return 0;
}
