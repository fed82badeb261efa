/*
 * test_vhost_user_blk.c - launch's vhost-user-blk frontend against the real
 * backend, `lgbox block-export --vhost-user` (LGBOX in the environment):
 * negotiation and config space (capacity), then a guest driver's read and
 * write requests on rings in the shared memfd, completed by the backend
 * and signalled back as the device's interrupt; a driver reset stops the
 * ring and a new DRIVER_OK restarts it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../launch/launch.h"
#include "../launch/vcpu.h"
#include "../launch/vhost_user_blk.h"
#include "../virtio/blk.h"
#include "../virtio/devices.h"
#include "test.h"

#define RING		0x100000	/* desc; avail +0x2000; used +0x3000 */
#define HDR		0x200000
#define DATA		0x300000
#define STATUS		0x2ff000
#define IMAGE_SIZE	(1 << 20)

static char dir[] = "/tmp/lgbox-test-vu-XXXXXX";
static char image[128], sock[128];
static struct guest_ram ram;
static struct virtio_dev *dev;
static volatile unsigned int irqs;
static pid_t backend = -1;

static void count_irq(struct virtio_dev *d)
{
	(void)d;
	irqs++;
}

static void wr(uint64_t reg, uint32_t value)
{
	virtio_mmio_write(dev, reg, 4, value);
}

static uint32_t rd(uint64_t reg)
{
	return virtio_mmio_read(dev, reg, 4);
}

static void driver_init(void)
{
	unsigned int sel;

	wr(0x070, 0);
	memset(ram.base + RING, 0, 0x4000);
	wr(0x070, 1 | 2);
	for (sel = 0; sel < 2; sel++) {
		wr(0x014, sel);
		wr(0x024, sel);
		wr(0x020, rd(0x010));
	}
	wr(0x070, 1 | 2 | 8);
	wr(0x030, 0);
	wr(0x038, 8);
	wr(0x080, RING);
	wr(0x090, RING + 0x2000);
	wr(0x0a0, RING + 0x3000);
	wr(0x044, 1);
	wr(0x070, 1 | 2 | 8 | 4);
}

static struct vring_used *used(void)
{
	return (struct vring_used *)(ram.base + RING + 0x3000);
}

/* Posts header/data/status as descriptors 0-2 in avail slot idx; waits for completion. */
static int request(uint16_t idx, uint32_t type, uint64_t sector, uint32_t len)
{
	struct vring_desc *desc = (struct vring_desc *)(ram.base + RING);
	struct vring_avail *avail = (struct vring_avail *)(ram.base + RING + 0x2000);
	struct { uint32_t type, reserved; uint64_t sector; } hdr = { type, 0, sector };
	int waited;

	memcpy(ram.base + HDR, &hdr, sizeof(hdr));
	ram.base[STATUS] = 0xee;
	desc[0] = (struct vring_desc){ HDR, sizeof(hdr), VRING_DESC_F_NEXT, 1 };
	desc[1] = (struct vring_desc){ DATA, len,
		VRING_DESC_F_NEXT | (type == VIRTIO_BLK_T_IN ? VRING_DESC_F_WRITE : 0), 2 };
	desc[2] = (struct vring_desc){ STATUS, 1, VRING_DESC_F_WRITE, 0 };
	avail->ring[idx % 8] = 0;
	__atomic_store_n(&avail->idx, idx + 1, __ATOMIC_RELEASE);
	wr(0x050, 0);
	for (waited = 0; waited < 500; waited++) {
		if (__atomic_load_n(&used()->idx, __ATOMIC_ACQUIRE) == idx + 1)
			return ram.base[STATUS];
		usleep(10000);
	}
	return -1;
}

static void config_space_comes_from_the_backend(void)
{
	CHECK_EQ(virtio_mmio_read(dev, 0x100, 8), IMAGE_SIZE / 512);
	CHECK_EQ(rd(0x008), VIRTIO_ID_BLOCK);
}

static void requests_are_served_by_the_backend(void)
{
	unsigned int before;
	int fd;
	char buf[512];

	driver_init();
	before = irqs;
	memset(ram.base + DATA, 0x3c, 1024);
	CHECK_EQ(request(0, VIRTIO_BLK_T_OUT, 4, 1024), VIRTIO_BLK_S_OK);
	memset(ram.base + DATA, 0, 1024);
	CHECK_EQ(request(1, VIRTIO_BLK_T_IN, 4, 512), VIRTIO_BLK_S_OK);
	CHECK_EQ(ram.base[DATA + 511], 0x3c);
	CHECK_EQ(used()->ring[1].len, 513);
	usleep(100000);		/* the call eventfd goes through the I/O thread */
	CHECK(irqs > before);
	CHECK(rd(0x060) & 1);
	fd = open(image, O_RDONLY);
	CHECK(pread(fd, buf, 512, 5 * 512) == 512 && buf[0] == 0x3c);
	close(fd);
}

static void reset_and_restart(void)
{
	driver_init();		/* status 0, then a fresh ring */
	CHECK_EQ(request(0, VIRTIO_BLK_T_IN, 4, 512), VIRTIO_BLK_S_OK);
	CHECK_EQ(ram.base[DATA], 0x3c);
}

static void missing_backend_is_reported(void)
{
	char missing[160];

	snprintf(missing, sizeof(missing), "%s/nobody-listens", dir);
	CHECK(vhost_user_blk_create(missing, &ram) == NULL);
}

static int start_backend(void)
{
	const char *lgbox = getenv("LGBOX");
	struct stat st;
	int tries;

	if (!lgbox)
		return -1;
	backend = fork();
	if (backend == 0) {
		execl(lgbox, "lgbox", "block-export", "--vhost-user", sock, "--queues", "1",
		      image, (char *)NULL);
		_exit(127);
	}
	for (tries = 0; tries < 200 && stat(sock, &st) < 0; tries++)
		usleep(10000);
	return tries < 200 ? 0 : -1;
}

int main(void)
{
	int fd;

	if (!mkdtemp(dir))
		return 1;
	snprintf(image, sizeof(image), "%s/disk.img", dir);
	snprintf(sock, sizeof(sock), "%s/vhost.sock", dir);
	fd = open(image, O_RDWR | O_CREAT, 0644);
	if (fd < 0 || ftruncate(fd, IMAGE_SIZE) < 0)
		return 1;
	close(fd);
	if (start_backend() < 0) {
		printf("FAIL: test_vhost_user_blk.c:start_backend: cannot run $LGBOX block-export\n");
		return 1;
	}
	if (guest_ram_map(&ram, 8 << 20) < 0 || ioloop_start() < 0)
		return 1;
	dev = vhost_user_blk_create(sock, &ram);
	if (!dev) {
		printf("FAIL: test_vhost_user_blk.c:connect: the frontend did not come up\n");
		kill(backend, SIGTERM);
		return 1;
	}
	dev->raise_irq = count_irq;
	TEST_RUN(config_space_comes_from_the_backend);
	TEST_RUN(requests_are_served_by_the_backend);
	TEST_RUN(reset_and_restart);
	TEST_RUN(missing_backend_is_reported);
	kill(backend, SIGTERM);
	waitpid(backend, NULL, 0);
	unlink(image);
	unlink(sock);
	rmdir(dir);
	return test_summary();
}
