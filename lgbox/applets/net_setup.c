/*
 * net-setup: host networking for guests (bridges, persistent taps,
 * addresses, routes, forwarding) spoken directly to the kernel over
 * rtnetlink, so the appliance needs no ip, brctl or ifconfig.
 *
 * Every command is idempotent: it first reads the current state and only
 * changes what differs, so running a whole setup twice changes nothing the
 * second time.  Each change net-setup really makes is appended to a state
 * file (default /run/lguest/net-setup.state) as one line describing how to
 * undo it; `teardown` replays those lines in reverse order, so it removes
 * exactly what net-setup created and leaves everything else alone.
 */
//kconfig:config LGBOX_NET_SETUP
//kconfig:	bool "net-setup: bridges, taps, addresses and routes for guests"
//kconfig:	default y
//kconfig:	help
//kconfig:	  Creates bridges and persistent tap devices, attaches them,
//kconfig:	  sets IPv4/IPv6 addresses, routes and forwarding through
//kconfig:	  rtnetlink (no ip/brctl needed), idempotently, and undoes its
//kconfig:	  own changes with "net-setup teardown".
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/if_tun.h>

#include "../lgbox.h"
#include "../lib/netlink.h"
#include "../lib/users.h"

static int net_setup_main(int argc, char **argv);

LGBOX_APPLET("net-setup", net_setup_main,
	"[-v] [--state FILE] COMMAND [ARGS]\n"
	"\n"
	"Host networking for guests, through rtnetlink. Every command is idempotent;\n"
	"what it changes is recorded in the state file so that teardown undoes it.\n"
	"\n"
	"Commands:\n"
	"  bridge NAME [--addr CIDR]...     create a bridge, bring it up, add addresses\n"
	"  tap NAME [--owner USER] [--group GROUP] [--bridge BR]\n"
	"                                   create a persistent tap device and bring it up\n"
	"  attach IF BR                     make IF a port of bridge BR\n"
	"  detach IF                        remove IF from its bridge\n"
	"  addr IF CIDR...                  add IPv4/IPv6 addresses (10.0.0.1/24, fd00::1/64)\n"
	"  up IF | down IF                  set the link state\n"
	"  route DEST via GW [dev IF]       add a route (DEST: CIDR or default)\n"
	"  route DEST dev IF                add an on-link route\n"
	"  forwarding on|off [ipv4|ipv6]    IP forwarding (both families by default)\n"
	"  delete IF                        delete a link (and forget it in the state)\n"
	"  apply FILE                       run the commands in FILE (one per line, # comments;\n"
	"                                   - reads standard input)\n"
	"  teardown                         undo every recorded change, newest first\n"
	"  status                           print the recorded changes\n"
	"\n"
	"Options (anywhere on the command line):\n"
	"  -v, --verbose    print each change made\n"
	"  --state FILE     state file (default /run/lguest/net-setup.state)\n"
	"\n"
	"A command is checked whole before it changes anything; apply checks every\n"
	"line of FILE first.\n");

#define DEFAULT_STATE_FILE "/run/lguest/net-setup.state"
#define STATE_RECORD_MAX 256
#define SETUP_LINE_MAX 1024
#define STATE_HEADER "# lgbox net-setup: changes made, undone newest first by teardown\n"

/* The undo journal: one record per change, oldest first. */
struct net_state {
	const char *path;
	int fd;
	char **records;
	size_t count, capacity;
};

/* The options of the commands that take some (bridge, tap). */
enum { OPT_ADDR = 0x100, OPT_OWNER, OPT_GROUP, OPT_BRIDGE, OPT_STATE };
#define OPT_BIT(opt)	(1u << ((opt) - OPT_ADDR))
#define MAX_ADDRS	16

/* One command as given: its words and the options that came with it. */
struct net_args {
	int argc;		/* words after the command's name */
	char **argv;
	const char *name;	/* the command's name */
	const char *addrs[MAX_ADDRS];
	int n_addrs;
	const char *owner, *group, *bridge;
	unsigned int given;	/* OPT_BIT()s of the command options given */
};

/* apply's FILE, cut into lines once: stdin cannot be read twice. */
struct setup_file {
	char **lines;		/* comments cut off */
	int count;
	bool read;
};

struct net_ctx {
	struct nl_sock nl;
	struct net_state state;
	bool verbose;
	bool check_only;	/* first pass: refuse bad input, change nothing */
	bool in_file;		/* running a line of apply's FILE */
	struct setup_file setup;
	const struct net_args *args;	/* the command being run */
};

struct net_command {
	const char *name;
	int min_args, max_args;	/* after the command word; -1: unlimited */
	int (*run)(struct net_ctx *ctx, int argc, char **argv);
	const char *args;	/* for "wrong number of arguments"; NULL: takes none */
	unsigned int options;	/* OPT_BIT()s it accepts */
	bool checks_input;	/* run() checks its input before acting when check_only */
};

static __attribute__((format(printf, 2, 3)))
int net_usage(struct net_ctx *ctx, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	(void)ctx;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return lgbox_usage_error("%s", msg);
}

/*
 * Reports a failed operation with errno text and the kernel's own reason
 * (the extended ack of the last netlink exchange: callers failing outside
 * netlink clear it first with not_netlink()).
 */
static __attribute__((format(printf, 3, 4)))
int net_fail(struct net_ctx *ctx, int err, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (err && ctx->nl.err_msg[0])
		lgbox_warn("%s: %s (kernel: %s)", msg, strerror(-err), ctx->nl.err_msg);
	else if (err)
		lgbox_warn("%s: %s", msg, strerror(-err));
	else
		lgbox_warn("%s", msg);
	return 1;
}

static struct net_ctx *not_netlink(struct net_ctx *ctx)
{
	ctx->nl.err_msg[0] = '\0';
	return ctx;
}

static __attribute__((format(printf, 2, 3)))
void net_note(struct net_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	if (!ctx->verbose)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* --- state file --- */

static int state_open(struct net_ctx *ctx)
{
	struct net_state *st = &ctx->state;
	char *dir = strdup(st->path), *slash, line[STATE_RECORD_MAX];
	FILE *file;

	slash = dir ? strrchr(dir, '/') : NULL;
	if (slash && slash != dir) {
		*slash = '\0';
		mkdir(dir, 0755);	/* a missing parent makes open() say so below */
	}
	free(dir);
	st->fd = open(st->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (st->fd < 0 || flock(st->fd, LOCK_EX) < 0)
		return net_fail(ctx, -errno, "cannot open state file %s", st->path);
	file = fdopen(dup(st->fd), "r");
	if (!file)
		return net_fail(ctx, -errno, "cannot read state file %s", st->path);
	while (fgets(line, sizeof(line), file)) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || !line[0])
			continue;
		if (st->count == st->capacity) {
			st->capacity = st->capacity ? 2 * st->capacity : 16;
			st->records = realloc(st->records, st->capacity * sizeof(*st->records));
			if (!st->records)
				lgbox_die("out of memory reading %s", st->path);
		}
		st->records[st->count++] = strdup(line);
	}
	fclose(file);
	return 0;
}

/* Rewrites the whole file; an empty journal removes it. */
static void state_save(struct net_ctx *ctx)
{
	struct net_state *st = &ctx->state;
	FILE *file;
	size_t i;

	if (!st->count) {
		unlink(st->path);
		return;
	}
	/* The dup shares the file offset, which must restart at 0. */
	if (lseek(st->fd, 0, SEEK_SET) < 0 || ftruncate(st->fd, 0) < 0 ||
	    !(file = fdopen(dup(st->fd), "w")))
		lgbox_die_errno("cannot write state file %s", st->path);
	fputs(STATE_HEADER, file);
	for (i = 0; i < st->count; i++)
		fprintf(file, "%s\n", st->records[i]);
	if (fflush(file) || fsync(st->fd) < 0)
		lgbox_die_errno("cannot write state file %s", st->path);
	fclose(file);
}

static __attribute__((format(printf, 2, 3)))
void state_record(struct net_ctx *ctx, const char *fmt, ...)
{
	struct net_state *st = &ctx->state;
	char record[STATE_RECORD_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(record, sizeof(record), fmt, ap);
	va_end(ap);
	if (st->count == st->capacity) {
		st->capacity = st->capacity ? 2 * st->capacity : 16;
		st->records = realloc(st->records, st->capacity * sizeof(*st->records));
	}
	if (!st->records || !(st->records[st->count] = strdup(record)))
		lgbox_die("out of memory recording a change in %s", st->path);
	st->count++;
	/* Saved at once, so a later failure still leaves an undo record. */
	state_save(ctx);
}

/* Whether word n of record (0: the kind of change) is word; n < 0: any but 0. */
static bool record_word_is(const char *record, int n, const char *word)
{
	size_t len = strlen(word);
	int i;

	for (i = 0;; i++) {
		size_t word_len = strcspn(record, " ");

		if ((n < 0 ? i > 0 : i == n) && word_len == len && !strncmp(record, word, len))
			return true;
		if (!record[word_len])
			return false;
		record += word_len + 1;
	}
}

/*
 * With a kind: the records of that kind about name ("attach tap0 br0" is
 * about tap0).  Without: every record naming it, e.g. all that deleting
 * a link makes moot (its addresses, its ports, routes through it).
 */
static bool record_matches(const char *record, const char *kind, const char *name)
{
	if (!kind)
		return record_word_is(record, -1, name);
	return record_word_is(record, 0, kind) && record_word_is(record, 1, name);
}

static bool state_has(struct net_ctx *ctx, const char *kind, const char *name)
{
	size_t i;

	for (i = 0; i < ctx->state.count; i++) {
		if (record_matches(ctx->state.records[i], kind, name))
			return true;
	}
	return false;
}

/* Drops the records record_matches() selects. */
static void state_forget(struct net_ctx *ctx, const char *kind, const char *ifname)
{
	struct net_state *st = &ctx->state;
	size_t i, kept = 0;

	for (i = 0; i < st->count; i++) {
		char *rec = st->records[i];

		if (record_matches(rec, kind, ifname))
			free(rec);
		else
			st->records[kept++] = rec;
	}
	if (kept != st->count) {
		st->count = kept;
		state_save(ctx);
	}
}

/* --- lookups shared by the commands --- */

static int find_link(struct net_ctx *ctx, const char *name, struct rtnl_link *link)
{
	int err = rtnl_link_get(&ctx->nl, name, link);

	if (err == -ENODEV)
		return net_fail(ctx, 0, "no network interface named \"%s\"", name);
	if (err == -ENAMETOOLONG)
		return net_fail(ctx, 0, "interface name \"%s\" is longer than %d characters",
				name, IFNAMSIZ - 1);
	if (err)
		return net_fail(ctx, err, "cannot look up interface %s", name);
	return 0;
}

static int find_bridge(struct net_ctx *ctx, const char *name, struct rtnl_link *bridge)
{
	if (find_link(ctx, name, bridge))
		return 1;
	if (strcmp(bridge->kind, "bridge"))
		return net_fail(ctx, 0, "%s is not a bridge (kind \"%s\")", name,
				bridge->kind[0] ? bridge->kind : "physical");
	return 0;
}

typedef int (*link_create_fn)(struct net_ctx *ctx, const char *name, const void *options);

/* Creates the link unless one of that kind exists; 0, or 1 after an error. */
static int ensure_link(struct net_ctx *ctx, const char *name, const char *kind,
		       const char *what, link_create_fn create, const void *options,
		       struct rtnl_link *link)
{
	int err = rtnl_link_get(&ctx->nl, name, link);

	if (err == 0) {
		if (strcmp(link->kind, kind))
			return net_fail(ctx, 0, "%s already exists but is a %s, not a %s; "
					"delete it or choose another name", name,
					link->kind[0] ? link->kind : "physical device", what);
		return 0;
	}
	if (err != -ENODEV)
		return find_link(ctx, name, link);
	if (create(ctx, name, options))
		return 1;
	state_record(ctx, "link %s", name);
	net_note(ctx, "created %s %s", what, name);
	return find_link(ctx, name, link);
}

static int link_set_up(struct net_ctx *ctx, const struct rtnl_link *link, bool up)
{
	int err;

	if (!!(link->flags & IFF_UP) == up)
		return 0;
	err = rtnl_link_set_up(&ctx->nl, link->ifindex, up);
	if (err)
		return net_fail(ctx, err, "cannot bring %s %s", link->name, up ? "up" : "down");
	/* Undoing "up" is "down"; undoing "down" of a foreign link is "up". */
	if (up)
		state_record(ctx, "up %s", link->name);
	else
		state_forget(ctx, "up", link->name);
	net_note(ctx, "%s is %s", link->name, up ? "up" : "down");
	return 0;
}

static int link_attach(struct net_ctx *ctx, const struct rtnl_link *port,
		       const struct rtnl_link *bridge)
{
	int err;

	if (port->master == bridge->ifindex)
		return 0;
	err = rtnl_link_set_master(&ctx->nl, port->ifindex, bridge->ifindex);
	if (err)
		return net_fail(ctx, err, "cannot attach %s to bridge %s", port->name,
				bridge->name);
	state_record(ctx, "attach %s %s", port->name, bridge->name);
	net_note(ctx, "attached %s to %s", port->name, bridge->name);
	return 0;
}

static int parse_prefix(struct net_ctx *ctx, const char *text, struct inet_prefix *prefix,
			bool len_optional)
{
	if (inet_prefix_parse(text, prefix, len_optional))
		return net_usage(ctx, "invalid address \"%s\" (expected %s, e.g. 10.0.0.1/24 "
				 "or fd00::1/64)", text,
				 len_optional ? "ADDRESS[/LENGTH]" : "ADDRESS/LENGTH");
	return 0;
}

/* All of them, before any is added: a bad one leaves the link untouched. */
static int parse_addresses(struct net_ctx *ctx, int count, const char *const *cidrs,
			   struct inet_prefix *addrs)
{
	int i, ret;

	if (count > MAX_ADDRS)
		return net_usage(ctx, "more than %d addresses in one command", MAX_ADDRS);
	for (i = 0; i < count; i++) {
		ret = parse_prefix(ctx, cidrs[i], &addrs[i], false);
		if (ret)
			return ret;
	}
	return 0;
}

static int add_addresses(struct net_ctx *ctx, const struct rtnl_link *link, int count,
			 const struct inet_prefix *addrs)
{
	char text[INET_PREFIX_STRLEN];
	int i, err;

	for (i = 0; i < count; i++) {
		const struct inet_prefix *addr = &addrs[i];

		inet_prefix_format(addr, true, text, sizeof(text));
		err = rtnl_addr_change(&ctx->nl, RTM_NEWADDR, link->ifindex, addr);
		if (err == -EEXIST)
			continue;
		if (err)
			return net_fail(ctx, err, "cannot add address %s to %s", text, link->name);
		state_record(ctx, "addr %s %s", link->name, text);
		net_note(ctx, "%s: added %s", link->name, text);
	}
	return 0;
}

/* --- commands --- */

static int create_bridge(struct net_ctx *ctx, const char *name, const void *options)
{
	int err = rtnl_link_create(&ctx->nl, name, "bridge");

	(void)options;
	return err ? net_fail(ctx, err, "cannot create bridge %s", name) : 0;
}

static int cmd_bridge(struct net_ctx *ctx, int argc, char **argv)
{
	const struct net_args *a = ctx->args;
	struct inet_prefix addrs[MAX_ADDRS];
	struct rtnl_link bridge;
	int ret;

	(void)argc;
	ret = parse_addresses(ctx, a->n_addrs, a->addrs, addrs);
	if (ret || ctx->check_only)
		return ret;
	if (ensure_link(ctx, argv[0], "bridge", "bridge", create_bridge, NULL, &bridge) ||
	    link_set_up(ctx, &bridge, true))
		return 1;
	return add_addresses(ctx, &bridge, a->n_addrs, addrs);
}

/* Numeric id or a name from /etc/passwd or /etc/group; -1 if unknown. */
static long parse_id(const char *text, bool is_group)
{
	unsigned int id, gid;

	if (is_group ? group_lookup(text, &id) : user_lookup(text, &id, &gid))
		return -1;
	return id;
}

struct tap_options {
	long owner, group;	/* -1: not requested */
	const char *bridge;
};

static int create_tap(struct net_ctx *ctx, const char *name, const void *options)
{
	const struct tap_options *wanted = options;
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI };
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return net_fail(not_netlink(ctx), -errno, "cannot create tap %s: cannot open "
				"/dev/net/tun (is the tun module loaded?)", name);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 ||
	    (wanted->owner >= 0 && ioctl(fd, TUNSETOWNER, wanted->owner) < 0) ||
	    (wanted->group >= 0 && ioctl(fd, TUNSETGROUP, wanted->group) < 0) ||
	    ioctl(fd, TUNSETPERSIST, 1) < 0) {
		int err = -errno;

		close(fd);
		return net_fail(not_netlink(ctx), err, "cannot create tap %s", name);
	}
	close(fd);
	return 0;
}

/* An existing tap must match the request: we never re-own someone's tap. */
static int check_tap(struct net_ctx *ctx, const struct rtnl_link *tap,
		     const struct tap_options *wanted)
{
	if (tap->tun_type != IFF_TAP)
		return net_fail(ctx, 0, "%s already exists but is a tun (layer 3) device, "
				"not a tap", tap->name);
	if (wanted->owner >= 0 && (!tap->tun_has_owner || tap->tun_owner != wanted->owner))
		return net_fail(ctx, 0, "tap %s already exists with a different owner (wanted "
				"uid %ld); delete it first to change the owner",
				tap->name, wanted->owner);
	if (wanted->group >= 0 && (!tap->tun_has_group || tap->tun_group != wanted->group))
		return net_fail(ctx, 0, "tap %s already exists with a different group (wanted "
				"gid %ld); delete it first to change the group",
				tap->name, wanted->group);
	return 0;
}

static int cmd_tap(struct net_ctx *ctx, int argc, char **argv)
{
	const struct net_args *a = ctx->args;
	struct tap_options wanted = { .owner = -1, .group = -1, .bridge = a->bridge };
	struct rtnl_link tap, bridge;

	(void)argc;
	if (a->owner && (wanted.owner = parse_id(a->owner, false)) < 0)
		return net_usage(ctx, "tap %s: unknown user \"%s\"", argv[0], a->owner);
	if (a->group && (wanted.group = parse_id(a->group, true)) < 0)
		return net_usage(ctx, "tap %s: unknown group \"%s\"", argv[0], a->group);
	if (ctx->check_only)
		return 0;
	if (wanted.bridge && find_bridge(ctx, wanted.bridge, &bridge))
		return 1;
	if (ensure_link(ctx, argv[0], "tun", "tap", create_tap, &wanted, &tap) ||
	    check_tap(ctx, &tap, &wanted))
		return 1;
	if (wanted.bridge && link_attach(ctx, &tap, &bridge))
		return 1;
	return link_set_up(ctx, &tap, true);
}

static int cmd_attach(struct net_ctx *ctx, int argc, char **argv)
{
	struct rtnl_link port, bridge;

	(void)argc;
	if (find_link(ctx, argv[0], &port) || find_bridge(ctx, argv[1], &bridge))
		return 1;
	return link_attach(ctx, &port, &bridge);
}

static int cmd_detach(struct net_ctx *ctx, int argc, char **argv)
{
	struct rtnl_link port;
	int err;

	(void)argc;
	if (find_link(ctx, argv[0], &port))
		return 1;
	if (!port.master)
		return 0;
	err = rtnl_link_set_master(&ctx->nl, port.ifindex, 0);
	if (err)
		return net_fail(ctx, err, "cannot detach %s from its bridge", port.name);
	state_forget(ctx, "attach", port.name);
	net_note(ctx, "detached %s", port.name);
	return 0;
}

static int cmd_addr(struct net_ctx *ctx, int argc, char **argv)
{
	struct inet_prefix addrs[MAX_ADDRS];
	struct rtnl_link link;
	int ret;

	ret = parse_addresses(ctx, argc - 1, (const char *const *)argv + 1, addrs);
	if (ret || ctx->check_only)
		return ret;
	if (find_link(ctx, argv[0], &link))
		return 1;
	return add_addresses(ctx, &link, argc - 1, addrs);
}

static int cmd_up_down(struct net_ctx *ctx, char *name, bool up)
{
	struct rtnl_link link;

	if (find_link(ctx, name, &link))
		return 1;
	return link_set_up(ctx, &link, up);
}

static int cmd_up(struct net_ctx *ctx, int argc, char **argv)
{
	(void)argc;
	return cmd_up_down(ctx, argv[0], true);
}

static int cmd_down(struct net_ctx *ctx, int argc, char **argv)
{
	(void)argc;
	return cmd_up_down(ctx, argv[0], false);
}

/* Parses "DEST via GW [dev IF]" or "DEST dev IF" into route. */
static int parse_route(struct net_ctx *ctx, int argc, char **argv, struct rtnl_route *route,
		       const char **dev)
{
	const char *via = NULL;
	int i, ret;

	memset(route, 0, sizeof(*route));
	*dev = NULL;
	for (i = 1; i < argc; i += 2) {
		if (i + 1 < argc && !strcmp(argv[i], "via"))
			via = argv[i + 1];
		else if (i + 1 < argc && !strcmp(argv[i], "dev"))
			*dev = argv[i + 1];
		else
			return net_usage(ctx, "route %s: unexpected \"%s\" "
					 "(expected via GW or dev IF)", argv[0], argv[i]);
	}
	if (!via && !*dev)
		return net_usage(ctx, "route %s: needs a gateway (via GW) or a device (dev IF)",
				 argv[0]);
	if (via) {
		ret = parse_prefix(ctx, via, &route->gateway, true);
		if (ret)
			return ret;
		route->has_gateway = true;
	}
	if (!strcmp(argv[0], "default")) {
		route->dest.family = via ? route->gateway.family : AF_INET;
		return 0;
	}
	ret = parse_prefix(ctx, argv[0], &route->dest, false);
	if (ret)
		return ret;
	if (via && route->gateway.family != route->dest.family)
		return net_usage(ctx, "route %s: gateway %s is not of the same address family",
				 argv[0], via);
	return 0;
}

/* Tells whether an existing route is the one asked for. */
static bool route_matches(const struct rtnl_route *have, const struct rtnl_route *want)
{
	if (have->has_gateway != want->has_gateway)
		return false;
	if (want->has_gateway && memcmp(have->gateway.addr, want->gateway.addr, 16))
		return false;
	return !want->oif || have->oif == want->oif;
}

static int cmd_route(struct net_ctx *ctx, int argc, char **argv)
{
	char dest[INET_PREFIX_STRLEN], gateway[INET_PREFIX_STRLEN] = "";
	struct rtnl_route route, existing;
	struct rtnl_link link;
	const char *dev;
	int ret, err;

	ret = parse_route(ctx, argc, argv, &route, &dev);
	if (ret || ctx->check_only)
		return ret;
	if (dev) {
		if (find_link(ctx, dev, &link))
			return 1;
		route.oif = link.ifindex;
	}
	inet_prefix_format(&route.dest, true, dest, sizeof(dest));
	if (route.has_gateway)
		inet_prefix_format(&route.gateway, false, gateway, sizeof(gateway));
	err = rtnl_route_change(&ctx->nl, RTM_NEWROUTE, &route);
	if (err == -EEXIST) {
		if (rtnl_route_get(&ctx->nl, &route.dest, &existing))
			return net_fail(ctx, err, "cannot add route to %s", dest);
		if (route_matches(&existing, &route))
			return 0;
		if (existing.has_gateway)
			inet_prefix_format(&existing.gateway, false, gateway, sizeof(gateway));
		return net_fail(ctx, 0, "a different route to %s (%s%s) already exists; "
				"remove it before adding this one", dest,
				existing.has_gateway ? "via " : "on-link",
				existing.has_gateway ? gateway : "");
	}
	if (err)
		return net_fail(ctx, err, "cannot add route to %s%s%s%s%s", dest,
				route.has_gateway ? " via " : "", gateway,
				dev ? " dev " : "", dev ? dev : "");
	state_record(ctx, "route %s%s%s%s%s", dest, route.has_gateway ? " via " : "", gateway,
		     dev ? " dev " : "", dev ? dev : "");
	net_note(ctx, "added route to %s", dest);
	return 0;
}

static const char *forwarding_path(const char *family)
{
	if (!strcmp(family, "ipv4"))
		return "/proc/sys/net/ipv4/ip_forward";
	return "/proc/sys/net/ipv6/conf/all/forwarding";
}

/* Reads a 0/1 sysctl into *value; 0 or a negative errno. */
static int sysctl_read(const char *path, char *value)
{
	char buf[8] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t len;

	if (fd < 0)
		return -errno;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return len < 0 ? -errno : -EIO;
	*value = buf[0];
	return 0;
}

static int sysctl_write(const char *path, char value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, &value, 1) != 1)
		err = -errno;
	close(fd);
	return err;
}

static int set_forwarding(struct net_ctx *ctx, const char *family, char wanted)
{
	const char *path = forwarding_path(family);
	char current = 0;
	int err;

	err = sysctl_read(path, &current);
	if (!err && current == wanted)
		return 0;
	if (!err)
		err = sysctl_write(path, wanted);
	if (err)
		return net_fail(not_netlink(ctx), err, "cannot set %s forwarding through %s",
				family, path);
	/* Only the first change is recorded: teardown restores the original. */
	if (!state_has(ctx, "forwarding", family))
		state_record(ctx, "forwarding %s %c", family, current);
	net_note(ctx, "%s forwarding %s", family, wanted == '1' ? "on" : "off");
	return 0;
}

static int cmd_forwarding(struct net_ctx *ctx, int argc, char **argv)
{
	static const char *const families[] = { "ipv4", "ipv6" };
	bool on = !strcmp(argv[0], "on");
	size_t i;

	if (!on && strcmp(argv[0], "off"))
		return net_usage(ctx, "forwarding: expected on or off, not \"%s\"", argv[0]);
	if (argc == 2 && strcmp(argv[1], "ipv4") && strcmp(argv[1], "ipv6"))
		return net_usage(ctx, "forwarding: expected ipv4 or ipv6, not \"%s\"", argv[1]);
	if (ctx->check_only)
		return 0;
	for (i = 0; i < 2; i++) {
		if (argc == 2 && strcmp(argv[1], families[i]))
			continue;
		if (set_forwarding(ctx, families[i], on ? '1' : '0'))
			return 1;
	}
	return 0;
}

static int cmd_delete(struct net_ctx *ctx, int argc, char **argv)
{
	struct rtnl_link link;
	int err;

	(void)argc;
	err = rtnl_link_get(&ctx->nl, argv[0], &link);
	if (err == -ENODEV) {
		state_forget(ctx, NULL, argv[0]);
		return 0;
	}
	if (err)
		return find_link(ctx, argv[0], &link);
	err = rtnl_link_delete(&ctx->nl, link.ifindex);
	if (err)
		return net_fail(ctx, err, "cannot delete %s", link.name);
	state_forget(ctx, NULL, link.name);
	net_note(ctx, "deleted %s", link.name);
	return 0;
}

/* --- teardown: undo one record --- */

/* Errors meaning "already undone by someone else"; teardown goes on. */
static bool already_gone(int err)
{
	return err == -ENODEV || err == -ESRCH || err == -EADDRNOTAVAIL || err == -ENOENT;
}

static int undo_link_op(struct net_ctx *ctx, const char *op, char *ifname, char *arg)
{
	struct rtnl_link link, bridge;
	struct inet_prefix addr;
	int err = rtnl_link_get(&ctx->nl, ifname, &link);

	if (err)
		return err;
	if (!strcmp(op, "link"))
		return rtnl_link_delete(&ctx->nl, link.ifindex);
	if (!strcmp(op, "up"))
		return rtnl_link_set_up(&ctx->nl, link.ifindex, false);
	if (!strcmp(op, "attach")) {
		err = arg ? rtnl_link_get(&ctx->nl, arg, &bridge) : -EINVAL;
		if (err)
			return err;
		/* Someone moved it meanwhile: not ours to undo any more. */
		if (link.master != bridge.ifindex)
			return 0;
		return rtnl_link_set_master(&ctx->nl, link.ifindex, 0);
	}
	if (!strcmp(op, "addr") && arg && !inet_prefix_parse(arg, &addr, false))
		return rtnl_addr_change(&ctx->nl, RTM_DELADDR, link.ifindex, &addr);
	return -EINVAL;
}

static int undo_route(struct net_ctx *ctx, int argc, char **argv)
{
	struct rtnl_route route;
	const char *dev;
	struct rtnl_link link;
	int err;

	if (parse_route(ctx, argc, argv, &route, &dev))
		return -EINVAL;
	if (dev) {
		err = rtnl_link_get(&ctx->nl, dev, &link);
		if (err)
			return err;
		route.oif = link.ifindex;
	}
	return rtnl_route_change(&ctx->nl, RTM_DELROUTE, &route);
}

static int split_words(char *line, char **words, int max)
{
	int n = 0;
	char *save, *word;

	for (word = strtok_r(line, " \t", &save); word && n < max;
	     word = strtok_r(NULL, " \t", &save))
		words[n++] = word;
	return n;
}

static int undo_record(struct net_ctx *ctx, const char *record)
{
	char copy[STATE_RECORD_MAX], *words[8];
	int n;

	snprintf(copy, sizeof(copy), "%s", record);
	n = split_words(copy, words, 8);
	if (n >= 2 && !strcmp(words[0], "route"))
		return undo_route(ctx, n - 1, words + 1);
	if (n == 3 && !strcmp(words[0], "forwarding") && words[2][1] == '\0') {
		not_netlink(ctx);
		return sysctl_write(forwarding_path(words[1]), words[2][0]);
	}
	if (n >= 2 && n <= 3)
		return undo_link_op(ctx, words[0], words[1], n == 3 ? words[2] : NULL);
	return -EINVAL;
}

static int cmd_teardown(struct net_ctx *ctx, int argc, char **argv)
{
	struct net_state *st = &ctx->state;
	int failures = 0;
	size_t i;

	(void)argc;
	(void)argv;
	/* Newest first; a record that cannot be undone stays for a later try. */
	for (i = st->count; i-- > 0;) {
		char *record = st->records[i];
		int err = undo_record(ctx, record);

		if (err && !already_gone(err)) {
			net_fail(ctx, err, "teardown: cannot undo \"%s\" (kept in %s)", record,
				 st->path);
			failures++;
			continue;
		}
		net_note(ctx, "undone: %s", record);
		free(record);
		memmove(st->records + i, st->records + i + 1,
			(st->count - i - 1) * sizeof(*st->records));
		st->count--;
		state_save(ctx);
	}
	return failures ? 1 : 0;
}

static int cmd_status(struct net_ctx *ctx, int argc, char **argv)
{
	size_t i;

	(void)argc;
	(void)argv;
	for (i = 0; i < ctx->state.count; i++)
		printf("%s\n", ctx->state.records[i]);
	return 0;
}

static int cmd_apply(struct net_ctx *ctx, int argc, char **argv);

static const struct net_command net_commands[] = {
	{ "bridge", 1, 1, cmd_bridge, "NAME [--addr CIDR]...", OPT_BIT(OPT_ADDR), true },
	{ "tap", 1, 1, cmd_tap, "NAME [--owner USER] [--group GROUP] [--bridge BR]",
	  OPT_BIT(OPT_OWNER) | OPT_BIT(OPT_GROUP) | OPT_BIT(OPT_BRIDGE), true },
	{ "attach", 2, 2, cmd_attach, "IF BR", 0, false },
	{ "detach", 1, 1, cmd_detach, "IF", 0, false },
	{ "addr", 2, -1, cmd_addr, "IF CIDR...", 0, true },
	{ "up", 1, 1, cmd_up, "IF", 0, false },
	{ "down", 1, 1, cmd_down, "IF", 0, false },
	{ "route", 3, 5, cmd_route, "DEST via GW [dev IF] | DEST dev IF", 0, true },
	{ "forwarding", 1, 2, cmd_forwarding, "on|off [ipv4|ipv6]", 0, true },
	{ "delete", 1, 1, cmd_delete, "IF", 0, false },
	{ "apply", 1, 1, cmd_apply, "FILE", 0, true },
	{ "teardown", 0, 0, cmd_teardown, NULL, 0, false },
	{ "status", 0, 0, cmd_status, NULL, 0, false },
};

static const char *const option_names[] = { "--addr", "--owner", "--group", "--bridge" };

/*
 * Options and words of one command, from the command line or a line of
 * apply's FILE (argv[0] is then a stand-in program name); 0 or exit code 2.
 */
static int parse_args(struct net_ctx *ctx, int argc, char **argv, struct net_args *a)
{
	static const struct option longopts[] = {
		{ "verbose", no_argument, NULL, 'v' },
		{ "state", required_argument, NULL, OPT_STATE },
		{ "addr", required_argument, NULL, OPT_ADDR },
		{ "owner", required_argument, NULL, OPT_OWNER },
		{ "group", required_argument, NULL, OPT_GROUP },
		{ "bridge", required_argument, NULL, OPT_BRIDGE },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(a, 0, sizeof(*a));
	lgbox_optind = 0;
	while ((c = lgbox_getopt(argc, argv, "v", longopts)) != -1) {
		if (ctx->in_file && (c == 'v' || c == OPT_STATE))
			return net_usage(ctx, "%s belongs on the command line, not in a setup file",
					 c == 'v' ? "--verbose" : "--state");
		switch (c) {
		case 'v':
			ctx->verbose = true;
			break;
		case OPT_STATE:
			ctx->state.path = lgbox_optarg;
			break;
		case OPT_ADDR:
			if (a->n_addrs == MAX_ADDRS)
				return net_usage(ctx, "more than %d --addr options", MAX_ADDRS);
			a->addrs[a->n_addrs++] = lgbox_optarg;
			break;
		case OPT_OWNER:
			a->owner = lgbox_optarg;
			break;
		case OPT_GROUP:
			a->group = lgbox_optarg;
			break;
		case OPT_BRIDGE:
			a->bridge = lgbox_optarg;
			break;
		}
		if (c >= OPT_ADDR && c < OPT_STATE)
			a->given |= OPT_BIT(c);
	}
	if (lgbox_optind == argc)
		return net_usage(ctx, "missing command (see 'lgbox net-setup --help')");
	a->name = argv[lgbox_optind];
	a->argv = argv + lgbox_optind + 1;
	a->argc = argc - lgbox_optind - 1;
	return 0;
}

static int run_command(struct net_ctx *ctx, const struct net_args *a)
{
	size_t i, opt;

	for (i = 0; i < sizeof(net_commands) / sizeof(net_commands[0]); i++) {
		const struct net_command *cmd = &net_commands[i];

		if (strcmp(a->name, cmd->name))
			continue;
		if (!cmd->args && a->argc)
			return net_usage(ctx, "%s takes no arguments", cmd->name);
		if (a->argc < cmd->min_args || (cmd->max_args >= 0 && a->argc > cmd->max_args))
			return net_usage(ctx, "%s: wrong number of arguments (expected: %s %s)",
					 cmd->name, cmd->name, cmd->args);
		for (opt = 0; opt < sizeof(option_names) / sizeof(option_names[0]); opt++)
			if (a->given & ~cmd->options & (1u << opt))
				return net_usage(ctx, "%s does not take %s (expected: %s %s)",
						 cmd->name, option_names[opt], cmd->name, cmd->args);
		if (ctx->check_only && !cmd->checks_input)
			return 0;
		ctx->args = a;
		return cmd->run(ctx, a->argc, a->argv);
	}
	return net_usage(ctx, "unknown command \"%s\"", a->name);
}

static int read_setup_file(struct net_ctx *ctx, const char *path, struct setup_file *sf)
{
	FILE *file = strcmp(path, "-") ? fopen(path, "r") : stdin;
	char line[SETUP_LINE_MAX];
	int ret = 0;

	if (!file)
		return net_fail(ctx, -errno, "cannot open setup file %s", path);
	while (!ret && fgets(line, sizeof(line), file)) {
		if (!strchr(line, '\n') && !feof(file))
			ret = net_usage(ctx, "%s:%d: line longer than %d bytes", path,
					sf->count + 1, SETUP_LINE_MAX - 2);
		line[strcspn(line, "#\n")] = '\0';
		sf->lines = realloc(sf->lines, (sf->count + 1) * sizeof(*sf->lines));
		if (!sf->lines || !(sf->lines[sf->count++] = strdup(line)))
			lgbox_die("out of memory reading %s", path);
	}
	if (file != stdin)
		fclose(file);
	return ret;
}

/* Checks (check_only) or runs every line, as "FILE:LINE" in messages. */
static int run_setup_file(struct net_ctx *ctx, const char *path, const struct setup_file *sf)
{
	char where[300], copy[SETUP_LINE_MAX], *words[33];
	struct net_args a;
	int i, n, ret = 0;

	ctx->in_file = true;
	for (i = 0; !ret && i < sf->count; i++) {
		snprintf(where, sizeof(where), "%s:%d", path, i + 1);
		lgbox_context = where;
		strcpy(copy, sf->lines[i]);	/* fits: read_setup_file() saw to it */
		words[0] = "net-setup";
		n = split_words(copy, words + 1, 32);
		if (n)
			ret = parse_args(ctx, n + 1, words, &a);
		if (n && !ret)
			ret = run_command(ctx, &a);
	}
	lgbox_context = NULL;
	ctx->in_file = false;
	return ret;
}

static int cmd_apply(struct net_ctx *ctx, int argc, char **argv)
{
	(void)argc;
	if (ctx->in_file)
		return net_usage(ctx, "apply cannot be nested");
	/* The check pass reads the file; the second pass runs what it checked. */
	if (!ctx->setup.read && read_setup_file(ctx, argv[0], &ctx->setup))
		return 1;
	ctx->setup.read = true;
	return run_setup_file(ctx, argv[0], &ctx->setup);
}

static int net_setup_main(int argc, char **argv)
{
	struct net_ctx ctx = { .state.path = DEFAULT_STATE_FILE, .state.fd = -1 };
	struct net_args a;
	int err, ret;

	ret = parse_args(&ctx, argc, argv, &a);
	if (ret)
		return ret;
	/* Everything is checked before anything is changed. */
	ctx.check_only = true;
	ret = run_command(&ctx, &a);
	if (ret)
		return ret;
	ctx.check_only = false;
	err = nl_open(&ctx.nl);
	if (err)
		return net_fail(&ctx, err, "cannot open an rtnetlink socket");
	if (state_open(&ctx))
		return 1;
	ret = run_command(&ctx, &a);
	if (!ctx.state.count)
		state_save(&ctx);	/* removes a state file left empty */
	nl_close(&ctx.nl);
	return ret;
}
