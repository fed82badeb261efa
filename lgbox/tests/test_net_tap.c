/*
 * test_net_tap.c - virtio-net on a real tap device, in a private network
 * namespace (needs root): launch's host side opens the tap with a 12-byte
 * vnet header and brings it up; a frame the host kernel sends (an ARP
 * request for a missing neighbour) lands in the guest's receive buffer
 * behind a vnet header, and a frame the guest transmits reaches the host
 * kernel (the tap's rx counter), which also checks the header launch
 * writes.  Without root it reports XFAIL.
 */
#define _GNU_SOURCE	/* unshare */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/rtnetlink.h>

#include "../launch/host_devices.h"
#include "../launch/vcpu.h"
#include "../lib/netlink.h"
#include "../virtio/devices.h"
#include "test.h"

#define RING		0x100000	/* queue q: desc + q*0x10000, avail +0x2000, used +0x3000 */
#define RX_BUF		0x200000
#define TX_BUF		0x300000
#define TAP		"lgtest0"

static struct guest_ram ram;
static struct virtio_dev *dev;

static void wr(uint64_t reg, uint32_t value)
{
	virtio_mmio_write(dev, reg, 4, value);
}

static void driver_init(void)
{
	unsigned int q, sel;

	wr(0x070, 1 | 2);
	for (sel = 0; sel < 2; sel++) {
		wr(0x014, sel);
		wr(0x024, sel);
		wr(0x020, virtio_mmio_read(dev, 0x010, 4));
	}
	wr(0x070, 1 | 2 | 8);
	for (q = 0; q < 2; q++) {
		wr(0x030, q);
		wr(0x038, 8);
		wr(0x080, RING + q * 0x10000);
		wr(0x090, RING + q * 0x10000 + 0x2000);
		wr(0x0a0, RING + q * 0x10000 + 0x3000);
		wr(0x044, 1);
	}
	wr(0x070, 1 | 2 | 8 | 4);
}

static struct vring_used *used(unsigned int q)
{
	return (struct vring_used *)(ram.base + RING + q * 0x10000 + 0x3000);
}

/* One buffer as a one-descriptor chain on queue q. */
static void post(unsigned int q, uint64_t gpa, uint32_t len, bool writable)
{
	struct vring_desc *desc = (struct vring_desc *)(ram.base + RING + q * 0x10000);
	struct vring_avail *avail = (struct vring_avail *)(ram.base + RING + q * 0x10000 + 0x2000);

	desc[0] = (struct vring_desc){ gpa, len, writable ? VRING_DESC_F_WRITE : 0, 0 };
	avail->ring[avail->idx % 8] = 0;
	__atomic_store_n(&avail->idx, avail->idx + 1, __ATOMIC_RELEASE);
	wr(0x050, q);
}

static long tap_counter(const char *name)
{
	char path[128], buf[32];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/class/net/" TAP "/statistics/%s", name);
	fd = open(path, O_RDONLY);
	n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

static int add_address(const char *cidr)
{
	struct inet_prefix addr;
	struct rtnl_link link;
	struct nl_sock sk;
	int ret;

	if (nl_open(&sk) < 0)
		return -1;
	ret = inet_prefix_parse(cidr, &addr, false);
	if (!ret)
		ret = rtnl_link_get(&sk, TAP, &link);
	if (!ret)
		ret = rtnl_addr_change(&sk, RTM_NEWADDR, link.ifindex, &addr);
	nl_close(&sk);
	return ret;
}

static void host_frame_reaches_guest(void)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9) };
	int s = socket(AF_INET, SOCK_DGRAM, 0), tries;
	uint8_t *frame = ram.base + RX_BUF;

	post(0, RX_BUF, 1526, true);
	/* Sending to a missing neighbour makes the kernel ARP for it on the tap. */
	inet_pton(AF_INET, "10.9.9.2", &to.sin_addr);
	CHECK(sendto(s, "x", 1, 0, (struct sockaddr *)&to, sizeof(to)) == 1);
	close(s);
	for (tries = 0; tries < 200 && used(0)->idx == 0; tries++) {
		usleep(10000);
		virtio_net_receive(dev);	/* what the I/O thread does when the tap is readable */
	}
	CHECK_EQ(used(0)->idx, 1);
	CHECK(used(0)->ring[0].len >= 12 + 42);		/* vnet header + ARP frame */
	CHECK_EQ(frame[10], 1);				/* num_buffers */
	CHECK(frame[12 + 12] == 0x08 && frame[12 + 13] == 0x06);	/* ethertype ARP */
	CHECK(memcmp(frame + 12, "\xff\xff\xff\xff\xff\xff", 6) == 0);	/* broadcast */
}

static void guest_frame_reaches_host(void)
{
	uint8_t *buf = ram.base + TX_BUF;
	long before = tap_counter("rx_packets");

	/* A vnet header (which launch replaces) and a 60-byte broadcast frame. */
	memset(buf, 0xff, 12);
	memset(buf + 12, 0xff, 6);
	memcpy(buf + 18, "\x02\x00\x00\x00\x00\x01", 6);
	buf[24] = 0x88;
	buf[25] = 0xb5;					/* local experimental ethertype */
	memset(buf + 26, 0x5a, 46);
	post(1, TX_BUF, 12 + 60, false);
	CHECK_EQ(used(1)->idx, 1);
	CHECK(before >= 0);
	CHECK_EQ(tap_counter("rx_packets"), before + 1);
}

int main(void)
{
	struct net_opt opt = { .tap = TAP, .mac_set = true, .mac = { 2, 0, 0, 0, 0, 1 } };

	if (geteuid() != 0 || unshare(CLONE_NEWNET | CLONE_NEWNS) < 0) {
		printf("XFAIL: test_net_tap.c:all: needs root for a private network namespace\n");
		return 0;
	}
	/* This namespace's /sys, without touching the host's mounts. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("sysfs", "/sys", "sysfs", 0, NULL) < 0 || guest_ram_map(&ram, 8 << 20) < 0)
		return 1;
	dev = host_net_create(&opt, "guest", &ram.mem, false);
	if (!dev || add_address("10.9.9.1/24") < 0) {
		printf("FAIL: test_net_tap.c:setup: cannot create and address tap " TAP "\n");
		return 1;
	}
	driver_init();
	TEST_RUN(host_frame_reaches_guest);
	TEST_RUN(guest_frame_reaches_host);
	return test_summary();
}
