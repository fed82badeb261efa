/*
 * host_devices.c - opens the host side of launch's block and net devices
 * (see host_devices.h): raw images with an optional overlay through the
 * shared virtio-blk engine, and tap devices (created if missing, attached
 * to a bridge through lib/netlink) for virtio-net.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <net/if.h>
#include <linux/if_tun.h>

#include "../lgbox.h"
#include "../lib/netlink.h"
#include "../virtio/blk.h"
#include "../virtio/devices.h"
#include "host_devices.h"
#include "sharenet.h"
#include "vhost_user_blk.h"

#define VNET_HDR_SIZE	12

static struct blk_disk disks[LAUNCH_MAX_BLOCKS];

struct virtio_dev *host_block_create(const struct block_opt *opt,
				     const struct guest_ram *ram, unsigned int index, bool dry_run)
{
	struct blk_disk *disk = &disks[index];
	const char *what;
	int ret;

	if (opt->vhost_user)
		return vhost_user_blk_create(opt->path, ram);
	ret = dry_run ? blk_disk_check(opt->path, opt->read_only, opt->overlay, &what) :
	      blk_disk_open(disk, opt->path, opt->read_only, opt->overlay, &what);
	if (ret < 0) {
		lgbox_warn("--block %s: %s: %s", opt->path, what, blk_disk_strerror(ret));
		return NULL;
	}
	if (dry_run) {
		/* A stand-in of the right kind, for the device count and command line. */
		ret = blk_disk_open(disk, opt->path, true, NULL, &what);
		if (ret == 0 && opt->overlay && access(opt->overlay, F_OK) < 0)
			printf("block: overlay %s does not exist yet; a boot creates it\n",
			       opt->overlay);
	}
	return ret < 0 ? NULL : virtio_blk_create(&ram->mem, disk, NULL);
}

static bool net_rx_wanted(void *ctx)
{
	return virtio_net_rx_wanted(ctx);
}

static void net_rx_ready(void *ctx, int fd, short revents)
{
	(void)fd;
	(void)revents;
	virtio_net_receive(ctx);
}

static int open_tap(const char *name)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	int hdr_size = VNET_HDR_SIZE;
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0) {
		lgbox_warn_errno("--net tap:%s: cannot open /dev/net/tun (tun module loaded?)", name);
		return -1;
	}
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETVNETHDRSZ, &hdr_size) < 0) {
		lgbox_warn_errno("--net tap:%s: cannot attach to the tap device", name);
		close(fd);
		return -1;
	}
	return fd;
}

/* Brings the tap up, and into the bridge when asked. */
static int wire_tap(const struct net_opt *opt)
{
	struct nl_sock sk;
	struct rtnl_link tap, br;
	int ret;

	if (nl_open(&sk) < 0) {
		lgbox_warn_errno("--net tap:%s: cannot open rtnetlink", opt->tap);
		return -1;
	}
	ret = rtnl_link_get(&sk, opt->tap, &tap);
	if (ret == 0 && opt->bridge) {
		ret = rtnl_link_get(&sk, opt->bridge, &br);
		if (ret == -ENODEV)
			lgbox_warn("--net tap:%s: no bridge %s (create it with 'lgbox net-setup bridge %s')",
				   opt->tap, opt->bridge, opt->bridge);
		else if (ret == 0 && tap.master != br.ifindex)
			ret = rtnl_link_set_master(&sk, tap.ifindex, br.ifindex);
	}
	if (ret == 0)
		ret = rtnl_link_set_up(&sk, tap.ifindex, true);
	if (ret < 0 && ret != -ENODEV) {
		errno = -ret;
		lgbox_warn_errno("--net tap:%s: cannot set the tap up%s%s", opt->tap,
				 opt->bridge ? " in bridge " : "", opt->bridge ? opt->bridge : "");
	}
	nl_close(&sk);
	return ret < 0 ? -1 : 0;
}

/* A stable locally administered MAC from SEED, unless one is given. */
static void pick_mac(const struct net_opt *opt, const char *seed, uint8_t mac[6])
{
	uint32_t hash = 2166136261u;
	const char *p;

	if (opt->mac_set) {
		memcpy(mac, opt->mac, 6);
		return;
	}
	for (p = seed; *p; p++)
		hash = (hash ^ (uint8_t)*p) * 16777619u;
	mac[0] = 0x02;
	mac[1] = 0x6c;	/* 'l' */
	memcpy(mac + 2, &hash, 4);
}

/* A network file's eventfd says "frames may be there": reset it, then receive. */
static void sharenet_frames_arrived(void *ctx, int fd, short revents)
{
	uint64_t count;

	(void)revents;
	if (read(fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		lgbox_warn_errno("sharenet: cannot read its eventfd");
	virtio_net_receive(ctx);
}

static int watch_net(struct virtio_dev *dev, int fd,
		     void (*ready)(void *ctx, int fd, short revents))
{
	struct io_watch w = { .fd = fd, .events = POLLIN, .wanted = net_rx_wanted,
			      .ready = ready, .ctx = dev };

	return dev && ioloop_add(&w) == 0 ? 0 : -1;
}

/* Every guest on a network file needs its own MAC: the default mixes in the guest's name. */
static struct virtio_dev *sharenet_create(const struct net_opt *opt, const char *guest,
					  const struct guest_mem *mem, bool dry_run)
{
	struct net_backend be;
	struct virtio_dev *dev;
	char seed[4200];
	uint8_t mac[6];
	int fd;

	snprintf(seed, sizeof(seed), "%s:%s", guest, opt->sharenet);
	pick_mac(opt, seed, mac);
	if (dry_run) {
		if (sharenet_check(opt->sharenet) < 0)
			return NULL;
		return virtio_net_create(mem, -1, mac, NULL);
	}
	fd = sharenet_join(opt->sharenet, mac, &be);
	if (fd < 0)
		return NULL;
	dev = virtio_net_create_backend(mem, &be, mac);
	return watch_net(dev, fd, sharenet_frames_arrived) < 0 ? NULL : dev;
}

struct virtio_dev *host_net_create(const struct net_opt *opt, const char *guest,
				   const struct guest_mem *mem, bool dry_run)
{
	struct virtio_dev *dev;
	uint8_t mac[6];
	int fd;

	if (opt->sharenet)
		return sharenet_create(opt, guest, mem, dry_run);
	pick_mac(opt, opt->tap, mac);
	if (dry_run)	/* opening a tap would create it */
		return virtio_net_create(mem, -1, mac, NULL);
	fd = open_tap(opt->tap);
	if (fd < 0 || wire_tap(opt) < 0)
		return NULL;
	dev = virtio_net_create(mem, fd, mac, ioloop_wake);
	return watch_net(dev, fd, net_rx_ready) < 0 ? NULL : dev;
}
