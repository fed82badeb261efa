/*
 * launch.h - the pieces of `lgbox launch`: options (command line and
 * fixed-guest config files share one table), the console back ends, the
 * I/O thread, the device set, the run directory and the vCPU loop.
 */
#ifndef LGBOX_LAUNCH_H
#define LGBOX_LAUNCH_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../lib/guest_mem.h"
#include "../virtio/mmio.h"

/* Exit status of launch: the guest's fate (documented in doc/lgbox.md). */
#define LAUNCH_EXIT_POWEROFF	0	/* guest powered off */
#define LAUNCH_EXIT_FAILURE	1	/* launch itself failed */
#define LAUNCH_EXIT_USAGE	2	/* bad options or config file */
#define LAUNCH_EXIT_CRASH	3	/* guest crashed or was killed by lg.ko */
#define LAUNCH_EXIT_REBOOT	4	/* guest rebooted under --no-reboot */
#define LAUNCH_EXIT_STOPPED	5	/* stopped by a signal after the grace time */

#define LAUNCH_MAX_BLOCKS	8
#define LAUNCH_MAX_NETS		4
#define LAUNCH_MAX_CONSOLES	3

struct block_opt {
	char *path;		/* image, or vhost-user socket */
	bool read_only;
	bool vhost_user;
	char *overlay;		/* copy-on-write file, or NULL */
};

struct net_opt {
	char *tap;		/* tap device name, or NULL */
	char *bridge;		/* attach to this bridge, or NULL */
	char *sharenet;		/* shared-memory network file, or NULL */
	uint8_t mac[6];
	bool mac_set;
};

enum console_kind { CONSOLE_STDIO, CONSOLE_SOCKET, CONSOLE_LOG };

struct console_opt {
	enum console_kind kind;
	char *path;		/* log file */
	uint64_t max_size;	/* log cap, 0: none */
};

enum restart_policy { RESTART_NO, RESTART_ON_CRASH, RESTART_ALWAYS };

struct launch_opts {
	char *name;
	char *config;		/* --config FILE, or NULL */
	char *kernel, *initrd, *cmdline;
	uint64_t memory;
	unsigned int cpus;	/* vCPUs, 1 .. LGUEST_MAX_VCPUS */
	char *host_cpus;	/* the CPU list the guest process runs on, NULL: any */
	struct console_opt consoles[LAUNCH_MAX_CONSOLES];
	unsigned int nr_consoles;
	struct block_opt blocks[LAUNCH_MAX_BLOCKS];
	unsigned int nr_blocks;
	struct net_opt nets[LAUNCH_MAX_NETS];
	unsigned int nr_nets;
	bool rng;
	bool daemon, no_reboot, dry_run;
	char *pidfile, *run_dir;
	char *log;		/* launch's own messages, appended */
	unsigned int stop_grace;	/* seconds after SIGTERM */
	enum restart_policy restart;
	unsigned int restart_delay;	/* seconds before the first restart */
	unsigned int restart_limit;	/* restarts in a row before giving up */
	bool user_set;			/* --user: run the guest as uid:gid */
	unsigned int uid, gid;
	char *chroot;			/* and chroot there first */
	bool sandbox;			/* no capabilities, seccomp filter */
};

/* ---- options.c ---------------------------------------------------------- */
/*
 * Parses argv (and any --config FILE) into opts; returns 0, or the exit
 * code: 2 for a usage error, 1 when the config file cannot be read.
 */
int launch_parse_args(struct launch_opts *opts, int argc, char **argv);
/* Applies one "key = value" config file; 0, or exit code 1 or 2 (message printed). */
int launch_parse_config(struct launch_opts *opts, const char *path);

/* ---- supervise.c: launch's first process ---------------------------------- */
/*
 * Creates the run directory and runs the guest, each boot in a guest
 * process (forked; it calls run_guest and exits with its result), under the
 * restart policy until it ends for good; returns launch's exit status.
 */
int supervise(const struct launch_opts *opts, int (*run_guest)(const struct launch_opts *opts));
/*
 * In the guest process: tells the supervisor "vcpu" (fmt: the vCPU
 * thread's id), "running", "stopping" or "ended" (fmt: how), fmt printf
 * style, may be NULL.
 */
void guest_report(const char *event, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- sandbox.c: what the guest process gives up once its devices are open */
/* --chroot, --user, then (--sandbox) no capabilities and the seccomp filter; 0 or -1. */
int sandbox_enter(const struct launch_opts *opts);

/* ---- ioloop.c: one I/O thread polling the devices' host fds ------------- */
struct io_watch {
	int fd;
	short events;
	/* Optional: poll only while this returns true (e.g. rx has room). */
	bool (*wanted)(void *ctx);
	void (*ready)(void *ctx, int fd, short revents);
	void *ctx;
};
int ioloop_add(const struct io_watch *w);
void ioloop_remove(int fd);
/* Makes the I/O thread re-evaluate its watches (any thread). */
void ioloop_wake(void);
int ioloop_start(void);

/* ---- console.c: where guest console bytes go and input comes from ------- */
/* Opens the --console back ends; socket_path is used for "socket". */
int console_setup(const struct launch_opts *opts, const char *socket_path);
/* Guest output (early console exits and virtio-console). */
void console_write(const void *buf, size_t len);
/*
 * Where input goes (virtio-console): input() takes bytes and returns how
 * many it accepted; has_room() says whether reading more makes sense.
 * Set once, before the I/O thread starts.
 */
void console_set_input(size_t (*input)(void *ctx, const void *buf, size_t len),
		       bool (*has_room)(void *ctx), void *ctx);
void console_cleanup(void);

/* Guest RAM: one memfd mapping, guest-physical [0, size). */
struct guest_ram {
	int fd;			/* memfd backing the RAM (shared with vhost-user backends) */
	uint8_t *base;
	uint64_t size;
	struct guest_mem mem;	/* one region: [0, size) */
};

/* ---- devices.c: the virtio-mmio device set ------------------------------- */
struct device_set {
	uint64_t mmio_base, mmio_size;
	unsigned int nr;
	struct virtio_dev *devs[1 + LAUNCH_MAX_BLOCKS + LAUNCH_MAX_NETS + 1];
};
/*
 * Creates the devices the options ask for (console first, then block, net,
 * rng) and appends their virtio_mmio.device= words to cmdline.
 */
int devices_create(struct device_set *set, const struct launch_opts *opts,
		   const struct guest_ram *ram, char *cmdline, size_t cmdline_size);
void devices_set_irq(struct device_set *set, void (*raise)(struct virtio_dev *), void *ctx);
/* A guest MMIO exit: returns false if no device is at gpa. */
bool devices_mmio(struct device_set *set, uint64_t gpa, unsigned int size,
		  bool is_write, uint64_t *data);

#endif /* LGBOX_LAUNCH_H */
