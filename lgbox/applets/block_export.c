/*
 * block-export: a daemon serving one raw disk image (file or block device) to
 * guests and tools: vhost-user-blk on a unix socket for local VMs (QEMU maps
 * the guest memory it shares by fd, so data never crosses a socket), NBD over
 * TCP or a unix socket for everything else.  Both protocols run at once on
 * the same image; flushes reach stable storage before they are acknowledged.
 */
//kconfig:config LGBOX_BLOCK_EXPORT
//kconfig:	bool "block-export: serve a disk image over NBD and vhost-user-blk"
//kconfig:	default y
//kconfig:	help
//kconfig:	  A daemon that exports a raw image file or block device over
//kconfig:	  NBD (TCP or unix socket; works with qemu-img, nbdinfo,
//kconfig:	  nbd-client) and vhost-user-blk (QEMU's vhost-user-blk-pci and
//kconfig:	  lgbox launch), with read-only mode, discard and write-zeroes.
#define _GNU_SOURCE
#include "../lgbox.h"
#include "../lib/daemon.h"
#include "../blockexport/server.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int block_export_main(int argc, char **argv);

LGBOX_APPLET("block-export", block_export_main,
	"[OPTIONS] IMAGE\n"
	"\n"
	"Serve the raw disk image IMAGE (a file or a block device) until SIGTERM.\n"
	"\n"
	"Listeners (at least one; each may be repeated):\n"
	"  --nbd-tcp [ADDR:]PORT      NBD over TCP; ADDR is a numeric IPv4 or IPv6\n"
	"                             address or localhost (default 127.0.0.1;\n"
	"                             use 0.0.0.0 or [::] to serve the network)\n"
	"  --nbd-unix PATH            NBD over a unix socket\n"
	"  --vhost-user PATH          vhost-user-blk over a unix socket\n"
	"\n"
	"Options:\n"
	"  -r, --read-only            refuse every write\n"
	"  -n, --name NAME            NBD export name (default: IMAGE's file name;\n"
	"                             the empty name also selects it)\n"
	"  --serial ID                virtio-blk serial (default: NAME, 20 bytes max)\n"
	"  --queues N                 vhost-user-blk queues offered (1-64, default 4)\n"
	"  -d, --daemon               detach once the sockets listen\n"
	"  -p, --pidfile FILE         write the daemon's pid to FILE\n"
	"  -l, --log FILE             append messages to FILE instead of stderr\n"
	"\n"
	"Examples:\n"
	"  lgbox block-export --nbd-tcp 10809 -n disk disk.img\n"
	"  qemu-img info nbd://127.0.0.1:10809/disk\n"
	"  lgbox block-export -d -p /run/disk.pid --vhost-user /run/disk.vhost disk.img\n");

struct options {
	const char *image;
	const char *name;
	const char *serial;
	const char *pidfile;
	const char *log;
	unsigned int queues;
	bool read_only;
	bool daemon;
	struct {
		enum front_end front_end;
		bool is_unix;
		const char *where;
		struct tcp_address tcp;
	} listen[SERVER_MAX_LISTENERS];
	int n_listen;
};

static int add_listen(struct options *o, enum front_end fe, bool is_unix, const char *where)
{
	if (o->n_listen == SERVER_MAX_LISTENERS)
		return lgbox_usage_error("too many listeners (at most %d)", SERVER_MAX_LISTENERS);
	o->listen[o->n_listen].front_end = fe;
	o->listen[o->n_listen].is_unix = is_unix;
	o->listen[o->n_listen].where = where;
	if (!is_unix && server_parse_tcp(where, &o->listen[o->n_listen].tcp) < 0)
		return lgbox_usage_error("bad value \"%s\" for --nbd-tcp: expected [ADDR:]PORT "
					 "with a numeric address, e.g. 10809 or 0.0.0.0:10809", where);
	o->n_listen++;
	return 0;
}

enum { OPT_NBD_TCP = 0x100, OPT_NBD_UNIX, OPT_VHOST_USER, OPT_SERIAL, OPT_QUEUES };

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "nbd-tcp", required_argument, NULL, OPT_NBD_TCP },
		{ "nbd-unix", required_argument, NULL, OPT_NBD_UNIX },
		{ "vhost-user", required_argument, NULL, OPT_VHOST_USER },
		{ "read-only", no_argument, NULL, 'r' },
		{ "name", required_argument, NULL, 'n' },
		{ "serial", required_argument, NULL, OPT_SERIAL },
		{ "queues", required_argument, NULL, OPT_QUEUES },
		{ "daemon", no_argument, NULL, 'd' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "log", required_argument, NULL, 'l' },
		{ 0 }
	};
	uint64_t queues;
	int opt, err = 0;

	o->queues = 4;
	while (!err && (opt = lgbox_getopt(argc, argv, "rn:dp:l:", longopts)) != -1) {
		switch (opt) {
		case OPT_NBD_TCP:
			err = add_listen(o, FRONT_NBD, false, lgbox_optarg);
			break;
		case OPT_NBD_UNIX:
			err = add_listen(o, FRONT_NBD, true, lgbox_optarg);
			break;
		case OPT_VHOST_USER:
			err = add_listen(o, FRONT_VHOST_USER_BLK, true, lgbox_optarg);
			break;
		case 'r':
			o->read_only = true;
			break;
		case 'n':
			o->name = lgbox_optarg;
			break;
		case OPT_SERIAL:
			o->serial = lgbox_optarg;
			break;
		case OPT_QUEUES:
			if (lgbox_parse_uint(lgbox_optarg, 64, &queues) < 0 || queues < 1)
				err = lgbox_usage_error("bad value \"%s\" for --queues: expected 1 to 64",
							lgbox_optarg);
			o->queues = queues;
			break;
		case 'd':
			o->daemon = true;
			break;
		case 'p':
			o->pidfile = lgbox_optarg;
			break;
		case 'l':
			o->log = lgbox_optarg;
			break;
		}
	}
	if (err)
		return err;
	if (lgbox_optind != argc - 1)
		return lgbox_usage_error(lgbox_optind == argc ? "missing IMAGE" : "more than one IMAGE");
	if (o->n_listen == 0)
		return lgbox_usage_error("nothing to serve on: give --nbd-tcp, --nbd-unix or --vhost-user");
	o->image = argv[lgbox_optind];
	if (!o->name)
		o->name = strrchr(o->image, '/') ? strrchr(o->image, '/') + 1 : o->image;
	if (!o->serial)
		o->serial = o->name;
	return 0;
}

static int open_listeners(struct server *s, const struct options *o)
{
	for (int i = 0; i < o->n_listen; i++) {
		int err = o->listen[i].is_unix
			? server_listen_unix(s, o->listen[i].where, o->listen[i].front_end)
			: server_listen_tcp(s, &o->listen[i].tcp, o->listen[i].front_end);

		if (err)
			return err;
	}
	return 0;
}

static void announce(const struct server *s, const struct options *o)
{
	lgbox_warn("serving %s (%llu bytes, %s) as \"%s\"", o->image,
		   (unsigned long long)s->exp->disk.image.size,
		   o->read_only ? "read-only" : "read-write", o->name);
	for (int i = 0; i < s->n_listeners; i++)
		lgbox_warn("listening: %s", s->listeners[i].desc);
}

static int block_export_main(int argc, char **argv)
{
	struct options o = { 0 };
	struct export exp = { 0 };
	struct server server = { .exp = &exp };
	const char *failed_file;
	int err;

	err = parse_options(argc, argv, &o);
	if (err)
		return err;
	if (o.log && log_to_file(o.log) < 0)
		return 1;
	err = blk_disk_open(&exp.disk, o.image, o.read_only, NULL, &failed_file);
	if (err)
		lgbox_die("cannot open image %s: %s", failed_file, blk_disk_strerror(err));
	strncpy(exp.disk.serial, o.serial, VIRTIO_BLK_ID_BYTES);
	exp.name = o.name;
	exp.max_queues = o.queues;
	if (open_listeners(&server, &o))
		return 1;
	server_block_signals();
	if (o.daemon) {
		if (daemon_start(o.log) < 0)
			return 1;
		/* the image and sockets are open; nothing else is relative */
		if (chdir("/") < 0)
			lgbox_die_errno("cannot chdir to /");
	}
	if (o.pidfile && write_pid_file(o.pidfile, getpid()) < 0)
		return 1;
	announce(&server, &o);
	daemon_ready();
	err = server_run(&server);
	if (o.pidfile)
		unlink(o.pidfile);
	blk_disk_close(&exp.disk);
	return err ? 1 : 0;
}
