/*
 * test_virtio_devices.c - the virtio-mmio transport and each device model
 * driven like a guest driver would: register handshake and feature
 * negotiation, queue setup, requests on console, rng, blk (raw image,
 * read-only, overlay) and net (a datagram socketpair stands in for the
 * tap: it keeps packet boundaries the same way), and a broken ring that
 * must end in NEEDS_RESET with a config interrupt.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../virtio/blk.h"
#include "../virtio/devices.h"
#include "test.h"
#include "vq_driver.h"


/* Each queue of a device gets its own ring area in guest memory. */
#define QUEUE_AREA(q)		(0x40000 + (q) * 0x10000)

static struct test_guest g;
static unsigned int irqs;

static void count_irq(struct virtio_dev *dev)
{
	(void)dev;
	irqs++;
}

static uint32_t rd(struct virtio_dev *dev, uint64_t reg)
{
	return virtio_mmio_read(dev, reg, 4);
}

static void wr(struct virtio_dev *dev, uint64_t reg, uint32_t value)
{
	virtio_mmio_write(dev, reg, 4, value);
}

/*
 * The virtio 1.x driver handshake; accepts every offered feature.
 * Queue q's rings: desc at QUEUE_AREA(q), avail +0x2000, used +0x3000.
 */
static void driver_init(struct virtio_dev *dev, unsigned int nr_queues, uint16_t num)
{
	unsigned int q;

	dev->raise_irq = count_irq;
	irqs = 0;
	wr(dev, VIRTIO_MMIO_STATUS, 0);
	wr(dev, VIRTIO_MMIO_STATUS, 1 | 2);
	for (q = 0; q < 2; q++) {
		wr(dev, VIRTIO_MMIO_DEVICE_FEATURES_SEL, q);
		wr(dev, VIRTIO_MMIO_DRIVER_FEATURES_SEL, q);
		wr(dev, VIRTIO_MMIO_DRIVER_FEATURES, rd(dev, VIRTIO_MMIO_DEVICE_FEATURES));
	}
	wr(dev, VIRTIO_MMIO_STATUS, 1 | 2 | 8);
	for (q = 0; q < nr_queues; q++) {
		wr(dev, VIRTIO_MMIO_QUEUE_SEL, q);
		wr(dev, VIRTIO_MMIO_QUEUE_NUM, num);
		wr(dev, VIRTIO_MMIO_QUEUE_DESC_LOW, QUEUE_AREA(q));
		wr(dev, VIRTIO_MMIO_QUEUE_AVAIL_LOW, QUEUE_AREA(q) + 0x2000);
		wr(dev, VIRTIO_MMIO_QUEUE_USED_LOW, QUEUE_AREA(q) + 0x3000);
		wr(dev, VIRTIO_MMIO_QUEUE_READY, 1);
	}
	wr(dev, VIRTIO_MMIO_STATUS, 1 | 2 | 8 | 4);
}

/* Driver-side view of queue q for posting (shares tg helpers' layout). */
static struct test_guest *queue(unsigned int q, uint16_t num)
{
	static struct test_guest views[2];
	struct test_guest *v = &views[q];

	v->ram = g.ram + QUEUE_AREA(q) - TG_DESC;	/* so TG_DESC lands on the area */
	v->num = num;
	return v;
}

static uint16_t used_idx(unsigned int q)
{
	return ((struct vring_used *)(g.ram + QUEUE_AREA(q) + 0x3000))->idx;
}

static uint32_t used_len(unsigned int q, unsigned int i)
{
	return ((struct vring_used *)(g.ram + QUEUE_AREA(q) + 0x3000))->ring[i].len;
}

/* Descriptors hold guest-physical addresses: the view's offset does not matter. */
static void post(struct test_guest *v, struct tg_buf *bufs, unsigned int n)
{
	tg_post(v, bufs, n);
}

static void fresh_guest(void)
{
	tg_init(&g, 8);
	memset(queue(0, 8), 0, sizeof(struct test_guest));
	memset(queue(1, 8), 0, sizeof(struct test_guest));
}

static void handshake_and_feature_negotiation(void)
{
	struct virtio_dev *dev;

	fresh_guest();
	dev = virtio_rng_create(&g.mem);
	CHECK_EQ(rd(dev, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	CHECK_EQ(rd(dev, VIRTIO_MMIO_VERSION), 2);
	CHECK_EQ(rd(dev, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_RNG);
	wr(dev, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	CHECK(rd(dev, VIRTIO_MMIO_DEVICE_FEATURES) & 1);	/* VERSION_1 */
	CHECK_EQ(virtio_mmio_read(dev, VIRTIO_MMIO_MAGIC_VALUE, 2), 0);	/* not 32-bit: ignored */

	/* A legacy driver (no VERSION_1) does not get FEATURES_OK. */
	wr(dev, VIRTIO_MMIO_STATUS, 1 | 2);
	wr(dev, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(dev, VIRTIO_MMIO_DRIVER_FEATURES, 0);
	wr(dev, VIRTIO_MMIO_STATUS, 1 | 2 | 8);
	CHECK_EQ(rd(dev, VIRTIO_MMIO_STATUS) & 8, 0);
	/* Nor does one asking for bits never offered. */
	wr(dev, VIRTIO_MMIO_STATUS, 0);
	wr(dev, VIRTIO_MMIO_STATUS, 1 | 2);
	wr(dev, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(dev, VIRTIO_MMIO_DRIVER_FEATURES, 1 | 0x80);
	wr(dev, VIRTIO_MMIO_STATUS, 1 | 2 | 8);
	CHECK_EQ(rd(dev, VIRTIO_MMIO_STATUS) & 8, 0);

	driver_init(dev, 1, 8);
	CHECK_EQ(rd(dev, VIRTIO_MMIO_STATUS), 1 | 2 | 4 | 8);
	wr(dev, VIRTIO_MMIO_QUEUE_SEL, 0);
	CHECK_EQ(rd(dev, VIRTIO_MMIO_QUEUE_NUM_MAX), 64);
	wr(dev, VIRTIO_MMIO_QUEUE_SEL, 5);
	CHECK_EQ(rd(dev, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);	/* no such queue */
	virtio_dev_free(dev);
}

static void rng_fills_buffers(void)
{
	struct tg_buf buf = { 0x90000, 64, true };
	struct virtio_dev *dev;
	static const uint8_t zero[64];

	fresh_guest();
	dev = virtio_rng_create(&g.mem);
	driver_init(dev, 1, 8);
	post(queue(0, 8), &buf, 1);
	wr(dev, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	CHECK_EQ(used_idx(0), 1);
	CHECK_EQ(used_len(0, 0), 64);
	CHECK(memcmp(g.ram + 0x90000, zero, 64) != 0);
	CHECK(irqs > 0);
	CHECK_EQ(rd(dev, VIRTIO_MMIO_INTERRUPT_STATUS) & 1, 1);
	wr(dev, VIRTIO_MMIO_INTERRUPT_ACK, 1);
	CHECK_EQ(rd(dev, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	virtio_dev_free(dev);
}

static void broken_ring_needs_reset(void)
{
	struct tg_buf buf = { TG_MEM_SIZE - 8, 64, true };	/* crosses the end */
	struct virtio_dev *dev;

	fresh_guest();
	dev = virtio_rng_create(&g.mem);
	driver_init(dev, 1, 8);
	post(queue(0, 8), &buf, 1);
	wr(dev, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	CHECK(rd(dev, VIRTIO_MMIO_STATUS) & 0x40);
	CHECK(rd(dev, VIRTIO_MMIO_INTERRUPT_STATUS) & 2);
	CHECK(irqs > 0);
	CHECK_EQ(used_idx(0), 0);
	/* The driver cannot clear NEEDS_RESET except by resetting. */
	wr(dev, VIRTIO_MMIO_STATUS, 1 | 2 | 4 | 8);
	CHECK(rd(dev, VIRTIO_MMIO_STATUS) & 0x40);
	wr(dev, VIRTIO_MMIO_STATUS, 0);
	CHECK_EQ(rd(dev, VIRTIO_MMIO_STATUS), 0);
	virtio_dev_free(dev);
}

static void ring_outside_memory_at_queue_ready(void)
{
	struct virtio_dev *dev;

	fresh_guest();
	dev = virtio_rng_create(&g.mem);
	dev->raise_irq = count_irq;
	wr(dev, VIRTIO_MMIO_STATUS, 1 | 2);
	wr(dev, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(dev, VIRTIO_MMIO_DRIVER_FEATURES, 1);
	wr(dev, VIRTIO_MMIO_STATUS, 1 | 2 | 8);
	wr(dev, VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(dev, VIRTIO_MMIO_QUEUE_NUM, 8);
	wr(dev, VIRTIO_MMIO_QUEUE_DESC_LOW, TG_MEM_SIZE);
	wr(dev, VIRTIO_MMIO_QUEUE_READY, 1);
	CHECK(rd(dev, VIRTIO_MMIO_STATUS) & 0x40);
	virtio_dev_free(dev);
}

static char console_out[256];
static size_t console_out_len;

static void capture(const void *buf, size_t len)
{
	memcpy(console_out + console_out_len, buf, len);
	console_out_len += len;
}

static void console_transmits_and_receives(void)
{
	struct tg_buf tx[] = { { 0x90000, 6, false }, { 0x90100, 5, false } };
	struct tg_buf rx = { 0xa0000, 4, true };
	struct virtio_dev *dev;

	fresh_guest();
	console_out_len = 0;
	dev = virtio_console_create(&g.mem, capture, NULL);
	driver_init(dev, 2, 8);
	memcpy(g.ram + 0x90000, "hello ", 6);
	memcpy(g.ram + 0x90100, "world", 5);
	post(queue(1, 8), tx, 2);
	wr(dev, VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	CHECK_EQ(console_out_len, 11);
	CHECK(memcmp(console_out, "hello world", 11) == 0);

	/* Input before the guest has buffers waits, then arrives in order. */
	CHECK_EQ(virtio_console_input(dev, "abcdef", 6), 6);
	CHECK(virtio_console_has_room(dev));
	post(queue(0, 8), &rx, 1);
	wr(dev, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	CHECK_EQ(used_idx(0), 1);
	CHECK_EQ(used_len(0, 0), 4);
	CHECK(memcmp(g.ram + 0xa0000, "abcd", 4) == 0);
	rx.gpa = 0xa1000;
	post(queue(0, 8), &rx, 1);
	wr(dev, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	CHECK_EQ(used_len(0, 1), 2);
	CHECK(memcmp(g.ram + 0xa1000, "ef", 2) == 0);
	virtio_dev_free(dev);
}

static void console_input_is_bounded(void)
{
	static char big[8192];
	struct virtio_dev *dev;

	fresh_guest();
	dev = virtio_console_create(&g.mem, capture, NULL);
	driver_init(dev, 2, 8);
	CHECK_EQ(virtio_console_input(dev, big, sizeof(big)), 4096);
	CHECK(!virtio_console_has_room(dev));
	virtio_dev_free(dev);
}

/* --- block ---------------------------------------------------------------- */

static char image_path[64], overlay_path[64];

static void make_image(size_t size)
{
	uint8_t *pattern = malloc(size);
	size_t i;
	int fd;

	for (i = 0; i < size; i++)
		pattern[i] = (uint8_t)(i / 512 + i);
	strcpy(image_path, "/tmp/lgbox-test-blk-XXXXXX");
	fd = mkstemp(image_path);
	CHECK(fd >= 0 && write(fd, pattern, size) == (ssize_t)size);
	close(fd);
	free(pattern);
}

static uint8_t image_byte(size_t i)
{
	return (uint8_t)(i / 512 + i);
}

struct blk_hdr {
	uint32_t type, reserved;
	uint64_t sector;
};

/* Posts header at 0x90000, data at 0xa0000 (data_len), status at 0x9f000. */
static uint8_t blk_request(struct virtio_dev *dev, uint32_t type, uint64_t sector,
			   uint32_t data_len, bool data_writable)
{
	struct blk_hdr hdr = { type, 0, sector };
	struct tg_buf bufs[3] = {
		{ 0x90000, sizeof(hdr), false },
		{ 0xa0000, data_len, data_writable },
		{ 0x9f000, 1, true },
	};
	memcpy(g.ram + 0x90000, &hdr, sizeof(hdr));
	g.ram[0x9f000] = 0xee;
	if (data_len) {
		post(queue(0, 8), bufs, 3);
	} else {
		bufs[1] = bufs[2];
		post(queue(0, 8), bufs, 2);
	}
	wr(dev, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	return g.ram[0x9f000];
}

static struct virtio_dev *open_blk(struct blk_disk *disk, bool ro, const char *overlay)
{
	const char *what;

	fresh_guest();
	CHECK_EQ(blk_disk_open(disk, image_path, ro, overlay, &what), 0);
	return virtio_blk_create(&g.mem, disk, "test-serial");
}

static void blk_reads_writes_flushes(void)
{
	struct blk_disk disk;
	struct virtio_dev *dev;
	uint8_t buf[1024];
	size_t i;
	int ok = 1, fd;

	make_image(64 * 1024);
	dev = open_blk(&disk, false, NULL);
	driver_init(dev, 1, 8);
	CHECK_EQ(virtio_mmio_read(dev, VIRTIO_MMIO_CONFIG, 8), 128);	/* capacity in sectors */

	CHECK_EQ(blk_request(dev, VIRTIO_BLK_T_IN, 3, 1024, true), VIRTIO_BLK_S_OK);
	CHECK_EQ(used_len(0, 0), 1025);
	for (i = 0; i < 1024; i++)
		ok &= g.ram[0xa0000 + i] == image_byte(3 * 512 + i);
	CHECK(ok);

	memset(g.ram + 0xa0000, 0x5a, 512);
	CHECK_EQ(blk_request(dev, VIRTIO_BLK_T_OUT, 10, 512, false), VIRTIO_BLK_S_OK);
	CHECK_EQ(blk_request(dev, VIRTIO_BLK_T_FLUSH, 0, 0, false), VIRTIO_BLK_S_OK);
	fd = open(image_path, O_RDONLY);
	CHECK(pread(fd, buf, 512, 10 * 512) == 512);
	close(fd);
	CHECK(buf[0] == 0x5a && buf[511] == 0x5a);

	CHECK_EQ(blk_request(dev, VIRTIO_BLK_T_GET_ID, 0, 20, true), VIRTIO_BLK_S_OK);
	CHECK(memcmp(g.ram + 0xa0000, "test-serial", 11) == 0);
	blk_disk_close(&disk);
	unlink(image_path);
	virtio_dev_free(dev);
}

static void blk_refuses_bad_requests(void)
{
	struct blk_disk disk;
	struct virtio_dev *dev;

	make_image(64 * 1024);
	dev = open_blk(&disk, false, NULL);
	driver_init(dev, 1, 8);
	CHECK_EQ(blk_request(dev, VIRTIO_BLK_T_IN, 127, 1024, true), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(blk_request(dev, VIRTIO_BLK_T_IN, ~0ULL / 256, 512, true), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(blk_request(dev, VIRTIO_BLK_T_IN, 0, 100, true), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(blk_request(dev, VIRTIO_BLK_T_OUT, 128, 512, false), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(blk_request(dev, 99, 0, 0, false), VIRTIO_BLK_S_UNSUPP);
	CHECK(!(rd(dev, VIRTIO_MMIO_STATUS) & 0x40));	/* bad requests do not break the device */
	blk_disk_close(&disk);
	unlink(image_path);
	virtio_dev_free(dev);
}

static void blk_read_only_refuses_writes(void)
{
	struct blk_disk disk;
	struct virtio_dev *dev;

	make_image(8192);
	dev = open_blk(&disk, true, NULL);
	driver_init(dev, 1, 8);
	wr(dev, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	CHECK(rd(dev, VIRTIO_MMIO_DEVICE_FEATURES) & (1 << 5));	/* VIRTIO_BLK_F_RO */
	CHECK_EQ(blk_request(dev, VIRTIO_BLK_T_OUT, 0, 512, false), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(blk_request(dev, VIRTIO_BLK_T_IN, 0, 512, true), VIRTIO_BLK_S_OK);
	blk_disk_close(&disk);
	unlink(image_path);
	virtio_dev_free(dev);
}

static void blk_overlay_keeps_image_untouched(void)
{
	struct blk_disk disk;
	struct virtio_dev *dev;
	uint8_t buf[512];
	int fd, ok = 1;
	size_t i;

	make_image(64 * 1024);
	strcpy(overlay_path, "/tmp/lgbox-test-ovl-XXXXXX");
	close(mkstemp(overlay_path));
	dev = open_blk(&disk, false, overlay_path);
	driver_init(dev, 1, 8);
	/* One sector in the middle of cluster 1: a copy-up of that cluster. */
	memset(g.ram + 0xa0000, 0x77, 512);
	CHECK_EQ(blk_request(dev, VIRTIO_BLK_T_OUT, 9, 512, false), VIRTIO_BLK_S_OK);
	/* Read sectors 7..11: image, image(copied up), written, image(copied up)... */
	CHECK_EQ(blk_request(dev, VIRTIO_BLK_T_IN, 7, 5 * 512, true), VIRTIO_BLK_S_OK);
	for (i = 0; i < 5 * 512; i++) {
		size_t at = 7 * 512 + i;
		uint8_t want = (at >= 9 * 512 && at < 10 * 512) ? 0x77 : image_byte(at);

		ok &= g.ram[0xa0000 + i] == want;
	}
	CHECK(ok);
	blk_disk_close(&disk);
	virtio_dev_free(dev);

	fd = open(image_path, O_RDONLY);
	CHECK(pread(fd, buf, 512, 9 * 512) == 512);
	close(fd);
	CHECK_EQ(buf[0], image_byte(9 * 512));

	/* The overlay persists: reopened, it still holds the write. */
	dev = open_blk(&disk, false, overlay_path);
	driver_init(dev, 1, 8);
	CHECK_EQ(blk_request(dev, VIRTIO_BLK_T_IN, 9, 512, true), VIRTIO_BLK_S_OK);
	CHECK_EQ(g.ram[0xa0000], 0x77);
	CHECK_EQ(blk_request(dev, VIRTIO_BLK_T_IN, 8, 512, true), VIRTIO_BLK_S_OK);
	CHECK_EQ(g.ram[0xa0000 + 5], image_byte(8 * 512 + 5));
	blk_disk_close(&disk);
	unlink(image_path);
	unlink(overlay_path);
	virtio_dev_free(dev);
}

static void blk_overlay_of_another_size_is_refused(void)
{
	struct blk_disk disk;
	const char *what;
	int fd;

	make_image(8192);
	strcpy(overlay_path, "/tmp/lgbox-test-ovl-XXXXXX");
	fd = mkstemp(overlay_path);
	CHECK(ftruncate(fd, 4096) == 0);
	close(fd);
	CHECK_EQ(blk_disk_open(&disk, image_path, false, overlay_path, &what), BLK_E_OVERLAY_SIZE);
	CHECK(what == overlay_path);
	CHECK(strstr(blk_disk_strerror(BLK_E_OVERLAY_SIZE), "belongs to another image"));
	unlink(image_path);
	unlink(overlay_path);
}

/* A disk is whole sectors: an empty image or a partial last sector is refused. */
static void blk_image_must_be_whole_sectors(void)
{
	struct blk_disk disk;
	const char *what;

	make_image(0);
	CHECK_EQ(blk_disk_open(&disk, image_path, false, NULL, &what), BLK_E_EMPTY);
	CHECK(strstr(blk_disk_strerror(BLK_E_EMPTY), "empty"));
	unlink(image_path);
	make_image(1000);
	CHECK_EQ(blk_disk_open(&disk, image_path, false, NULL, &what), BLK_E_PARTIAL_SECTOR);
	CHECK(strstr(blk_disk_strerror(BLK_E_PARTIAL_SECTOR), "multiple of 512"));
	unlink(image_path);
	make_image(1024);
	CHECK_EQ(blk_disk_open(&disk, image_path, false, NULL, &what), 0);
	blk_disk_close(&disk);
	unlink(image_path);
}

/* --- net ------------------------------------------------------------------ */

static void net_transmits_and_receives(void)
{
	struct tg_buf tx[] = { { 0x90000, 12, false }, { 0x90100, 60, false } };
	struct tg_buf rx = { 0xa0000, 1526, true };
	struct virtio_dev *dev;
	uint8_t pkt[128], mac[6] = { 2, 0, 0, 0, 0, 1 };
	int sv[2];
	ssize_t n;

	CHECK_EQ(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, sv), 0);
	fresh_guest();
	dev = virtio_net_create(&g.mem, sv[0], mac, NULL);
	driver_init(dev, 2, 8);
	CHECK_EQ(virtio_mmio_read(dev, VIRTIO_MMIO_CONFIG + 5, 1), 1);

	memset(g.ram + 0x90000, 0xff, 12);	/* a header asking for offloads */
	memset(g.ram + 0x90100, 0xab, 60);
	post(queue(1, 8), tx, 2);
	wr(dev, VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	n = recv(sv[1], pkt, sizeof(pkt), 0);
	CHECK_EQ(n, 72);
	CHECK(pkt[0] == 0 && pkt[11] == 0 && pkt[12] == 0xab && pkt[71] == 0xab);

	CHECK(!virtio_net_rx_wanted(dev));
	post(queue(0, 8), &rx, 1);
	CHECK(virtio_net_rx_wanted(dev));
	memset(pkt, 0, 12);
	memset(pkt + 12, 0xcd, 50);
	CHECK_EQ(send(sv[1], pkt, 62, 0), 62);
	virtio_net_receive(dev);
	CHECK_EQ(used_idx(0), 1);
	CHECK_EQ(used_len(0, 0), 62);
	CHECK_EQ(g.ram[0xa0000 + 10], 1);	/* num_buffers */
	CHECK_EQ(g.ram[0xa0000 + 12], 0xcd);
	/* Nothing more to read: the buffer stays with the device. */
	post(queue(0, 8), &rx, 1);
	virtio_net_receive(dev);
	CHECK_EQ(used_idx(0), 1);
	CHECK(virtio_net_rx_wanted(dev));
	close(sv[0]);
	close(sv[1]);
	virtio_dev_free(dev);
}

int main(void)
{
	TEST_RUN(handshake_and_feature_negotiation);
	TEST_RUN(rng_fills_buffers);
	TEST_RUN(broken_ring_needs_reset);
	TEST_RUN(ring_outside_memory_at_queue_ready);
	TEST_RUN(console_transmits_and_receives);
	TEST_RUN(console_input_is_bounded);
	TEST_RUN(blk_reads_writes_flushes);
	TEST_RUN(blk_refuses_bad_requests);
	TEST_RUN(blk_read_only_refuses_writes);
	TEST_RUN(blk_overlay_keeps_image_untouched);
	TEST_RUN(blk_overlay_of_another_size_is_refused);
	TEST_RUN(blk_image_must_be_whole_sectors);
	TEST_RUN(net_transmits_and_receives);
	free(g.ram);
	return test_summary();
}
