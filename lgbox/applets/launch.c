/*
 * launch: start one lguest guest and stay with it until it ends.  launch
 * owns the guest's memory, loads its kernel per the lguest boot protocol,
 * emulates its virtio-mmio devices (console, block, net, rng) and drives
 * its vCPU on /dev/lguest; its exit status is the guest's fate, so init
 * scripts can act on it.  It is two processes: a supervisor that keeps the
 * run directory and restarts the guest by policy (launch/supervise.c), and
 * for each boot a guest process that opens the devices, gives up its
 * privileges and runs the guest.  The pieces live in lgbox/launch/ and
 * lgbox/virtio/; this file is the order in which they are put together.
 */
//kconfig:config LGBOX_LAUNCH
//kconfig:	bool "launch: run an lguest guest (vCPU loop and virtio devices)"
//kconfig:	default y
//kconfig:	help
//kconfig:	  Loads a guest kernel (vmlinux, or bzImage: plain or gzip) with
//kconfig:	  an initrd and command line, runs it on /dev/lguest (lg.ko)
//kconfig:	  with virtio-mmio console, block (raw image, overlay,
//kconfig:	  vhost-user), net (tap, shared-memory network) and rng
//kconfig:	  devices, in the foreground or as a daemon, from options or a
//kconfig:	  fixed-guest config file; restarts crashed guests by policy and
//kconfig:	  runs each guest as an unprivileged, seccomp-filtered process.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <linux/lguest.h>

#include "../lgbox.h"
#include "../lib/guest_image.h"
#include "../launch/launch.h"
#include "../launch/lguest_dev.h"
#include "../launch/vcpu.h"

static int launch_main(int argc, char **argv);

LGBOX_APPLET("launch", launch_main,
	"[OPTIONS] --kernel FILE\n"
	"\n"
	"Run an lguest guest until it ends; the exit status is its fate.\n"
	"\n"
	"  --kernel FILE          vmlinux, or bzImage (uncompressed or gzip payload)\n"
	"  --initrd FILE          initial ramdisk\n"
	"  --cmdline STR          kernel command line (device words are appended)\n"
	"  --memory SIZE          guest RAM, e.g. 64M, 1G (default 128M; 2M multiple)\n"
	"  --cpus N               vCPUs of the guest, 1 to 16 (default 1)\n"
	"  --host-cpus LIST       run the guest on these host CPUs only, e.g. 2-3 or\n"
	"                         0,2-3 (default any)\n"
	"  --name NAME            guest name for the run directory (default guest)\n"
	"  --console KIND         stdio | socket | log:FILE[:MAXSIZE]; repeatable\n"
	"                         (default stdio, or socket with --daemon)\n"
	"  --block PATH[,ro][,overlay=FILE]   virtio-blk on a raw image or block device\n"
	"  --block vhost-user:SOCKET          virtio-blk served by block-export\n"
	"  --net tap:NAME[,bridge=BR][,mac=MAC]  virtio-net on a tap device\n"
	"  --sharenet FILE[,mac=MAC]  virtio-net on a network shared by every guest\n"
	"                         naming FILE (created if missing); no tap, no bridge\n"
	"  --rng                  virtio-rng from the host's getrandom()\n"
	"  --daemon               run in the background once the guest runs\n"
	"  --pidfile FILE         write launch's pid to FILE\n"
	"  --log FILE             append launch's messages (and how the guest ended)\n"
	"                         to FILE; with --daemon, once the guest runs\n"
	"  --run-dir DIR          run directories under DIR (default /run/lguest)\n"
	"  --no-reboot            exit when the guest reboots instead of restarting it\n"
	"  --stop-grace SECONDS   after SIGTERM (power button), wait this long for a\n"
	"                         poweroff before ending the guest (10)\n"
	"  --restart POLICY       no | on-crash | always: boot the guest again when it\n"
	"                         ended (default no)\n"
	"  --restart-delay SECONDS  first restart's delay, doubled for each one in a\n"
	"                         row up to 60 s (1)\n"
	"  --restart-limit N      give up after N restarts in a row (5)\n"
	"  --user USER[:GROUP]    run the guest process as USER once its devices are open\n"
	"  --chroot DIR           and chroot it to DIR (needs --user)\n"
	"  --sandbox=no           keep the guest process's capabilities and no seccomp\n"
	"                         filter (default yes)\n"
	"  --config FILE          fixed-guest config (key = value); options override it\n"
	"  --dry-run              check everything (kernel, initrd, images) and print\n"
	"                         the guest's settings; create nothing, start nothing\n"
	"\n"
	"Exit status: 0 powered off, 1 launch failed, 2 usage error, 3 guest crashed,\n"
	"4 guest rebooted under --no-reboot, 5 stopped by a signal, 128+N the guest\n"
	"process was killed by signal N.\n");

/* The command line plus one virtio_mmio.device= word per device. */
static char guest_cmdline[LGUEST_BOOT_CMDLINE_MAX];

/* Guest RAM pages present in memory (mincore on the RAM mapping). */
static unsigned long resident_guest_kib(const struct guest_ram *ram)
{
	size_t pages = ram->size / 4096, i;
	unsigned long resident = 0;
	unsigned char *vec = malloc(pages);

	if (!vec || mincore(ram->base, ram->size, vec) < 0) {
		free(vec);
		return 0;
	}
	for (i = 0; i < pages; i++)
		resident += vec[i] & 1;
	free(vec);
	return resident * 4;
}

/*
 * The launcher's own memory: peak RSS (VmHWM) minus the guest RAM it has
 * touched, the figure bench/launch.sh reports when no lg.ko is at hand.
 */
static void print_memory_use(const struct guest_ram *ram)
{
	char line[256];
	unsigned long guest = resident_guest_kib(ram);
	uint64_t peak = 0;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmHWM:", 6)) {
			lgbox_scan_uint(line + 6, 10, UINT64_MAX, &peak);
			break;
		}
	if (f)
		fclose(f);
	printf("launcher memory: peak RSS %llu KiB, guest RAM touched %lu KiB, overhead %llu KiB\n",
	       (unsigned long long)peak, guest,
	       (unsigned long long)(peak > guest ? peak - guest : 0));
}

/* --dry-run: everything a boot does before /dev/lguest, then a report. */
static int dry_run(const struct launch_opts *opts)
{
	struct guest_ram ram;
	struct device_set devs;
	struct guest_boot boot;

	if (vcpu_pin(opts) < 0 || guest_ram_map(&ram, opts->memory) < 0 ||
	    devices_create(&devs, opts, &ram, guest_cmdline, sizeof(guest_cmdline)) < 0 ||
	    vcpu_load_guest(opts, &ram, guest_cmdline, &boot) < 0)
		return LAUNCH_EXIT_FAILURE;
	printf("name: %s\n", opts->name);
	printf("memory: %llu MiB\n", (unsigned long long)(opts->memory >> 20));
	printf("cpus: %u\n", opts->cpus);
	printf("host-cpus: %s\n", opts->host_cpus ? opts->host_cpus : "any");
	printf("kernel: %s (entry 0x%llx, physical 0x%llx-0x%llx)\n", opts->kernel,
	       (unsigned long long)boot.entry, (unsigned long long)boot.kernel_start,
	       (unsigned long long)boot.kernel_end);
	if (opts->initrd)
		printf("initrd: %s at 0x%llx (%llu bytes)\n", opts->initrd,
		       (unsigned long long)boot.initrd_gpa, (unsigned long long)boot.initrd_size);
	printf("devices: %u at 0x%llx\n", devs.nr, (unsigned long long)devs.mmio_base);
	printf("cmdline: %s\n", guest_cmdline);
	print_memory_use(&ram);
	return LAUNCH_EXIT_POWEROFF;
}

/*
 * The guest process (see launch/supervise.c): devices, kernel and initrd,
 * console and /dev/lguest are opened while it still has its privileges;
 * then it gives them up and runs one boot.
 */
static int run_guest(const struct launch_opts *opts)
{
	struct guest_ram ram;
	struct device_set devs;
	struct guest_boot boot;
	char sock[4200];
	int lguest_fd, fate;

	snprintf(sock, sizeof(sock), "%s/%s/console", opts->run_dir, opts->name);
	vcpu_install_signals();
	/* First: the I/O thread inherits it, and guest RAM is first touched there. */
	if (vcpu_pin(opts) < 0 || guest_ram_map(&ram, opts->memory) < 0 ||
	    devices_create(&devs, opts, &ram, guest_cmdline, sizeof(guest_cmdline)) < 0 ||
	    vcpu_load_guest(opts, &ram, guest_cmdline, &boot) < 0 ||
	    console_setup(opts, sock) < 0 || ioloop_start() < 0 ||
	    (lguest_fd = lguest_dev_open()) < 0 || sandbox_enter(opts) < 0) {
		console_cleanup();
		return LAUNCH_EXIT_FAILURE;
	}
	fate = vcpu_boot(opts, &ram, &devs, &boot, lguest_fd);
	console_cleanup();
	return fate;
}

static int launch_main(int argc, char **argv)
{
	struct launch_opts opts;
	int ret;

	ret = launch_parse_args(&opts, argc, argv);
	if (ret)
		return ret;
	if ((size_t)snprintf(guest_cmdline, sizeof(guest_cmdline), "%s", opts.cmdline) >=
	    sizeof(guest_cmdline))
		return lgbox_usage_error("--cmdline is longer than %llu bytes",
					 LGUEST_BOOT_CMDLINE_MAX - 1);
	if (opts.dry_run)
		return dry_run(&opts);
	return supervise(&opts, run_guest);
}
