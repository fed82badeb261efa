/*
 * launch_blk_bench.c - throughput of launch's virtio-blk path against the
 * raw file: requests are posted on a split virtqueue in memory held here
 * (as a guest driver would, 32 per notification), popped, executed by the
 * request engine (virtio/blk.c) and completed, versus plain preadv/pwritev
 * of the same sizes on the same file.  Both run from the page cache, so the
 * ratio is the device model's CPU cost per byte, not the disk's speed.
 *
 * usage: launch_blk_bench IMAGE REQUEST_KIB read|write [OVERLAY]
 * prints: "<mode> raw MB/s, virtio-blk MB/s, ratio"
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/uio.h>

#include "../lgbox/virtio/blk.h"

#define RAM_SIZE	(32 << 20)
#define QUEUE_SIZE	128
#define BATCH		32
#define DESC_GPA	0x1000
#define AVAIL_GPA	0x3000
#define USED_GPA	0x4000
#define HDR_GPA		0x10000		/* BATCH headers and status bytes */
#define DATA_GPA	0x100000	/* BATCH data buffers */
#define PASSES		4

struct hdr {
	uint32_t type, reserved;
	uint64_t sector;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double raw_mbps(int fd, uint64_t size, size_t req, int write, uint8_t *buf)
{
	double start = now();
	uint64_t off;
	int pass;

	for (pass = 0; pass < PASSES; pass++)
		for (off = 0; off + req <= size; off += req)
			if ((write ? pwrite(fd, buf, req, off) : pread(fd, buf, req, off)) != (ssize_t)req)
				exit(1);
	return size * (double)PASSES / (now() - start) / 1e6;
}

/* Driver side: chain i = header, data, status through descriptors 3i..3i+2. */
static void post(uint8_t *ram, unsigned int slot, uint16_t *avail_idx, int write,
		 uint64_t sector, size_t req)
{
	struct vring_desc *desc = (struct vring_desc *)(ram + DESC_GPA);
	struct vring_avail *avail = (struct vring_avail *)(ram + AVAIL_GPA);
	struct hdr *h = (struct hdr *)(ram + HDR_GPA + slot * 32);
	unsigned int d = slot * 3;

	h->type = write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
	h->sector = sector;
	desc[d] = (struct vring_desc){ HDR_GPA + slot * 32, sizeof(*h), VRING_DESC_F_NEXT, d + 1 };
	desc[d + 1] = (struct vring_desc){ DATA_GPA + slot * req, req,
		VRING_DESC_F_NEXT | (write ? 0 : VRING_DESC_F_WRITE), d + 2 };
	desc[d + 2] = (struct vring_desc){ HDR_GPA + slot * 32 + 16, 1, VRING_DESC_F_WRITE, 0 };
	avail->ring[*avail_idx % QUEUE_SIZE] = d;
	__atomic_store_n(&avail->idx, ++*avail_idx, __ATOMIC_RELEASE);
}

static double virtio_mbps(struct blk_disk *disk, uint64_t size, size_t req, int write)
{
	uint8_t *ram = aligned_alloc(4096, RAM_SIZE);
	static struct vq_chain chain;
	struct guest_mem mem;
	struct virtqueue vq;
	uint16_t avail_idx = 0;
	uint64_t off = 0, total = size * PASSES, done = 0;
	double start;
	unsigned int i;

	memset(ram, 0, RAM_SIZE);
	guest_mem_init(&mem);
	guest_mem_add(&mem, 0, RAM_SIZE, ram);
	if (vq_init(&vq, &mem, QUEUE_SIZE, DESC_GPA, AVAIL_GPA, USED_GPA, true) < 0)
		exit(1);
	start = now();
	while (done < total) {
		for (i = 0; i < BATCH && done + i * req < total; i++) {
			post(ram, i, &avail_idx, write, off / 512, req);
			off = (off + req + req > size) ? 0 : off + req;
		}
		while (vq_pop(&vq, &chain) > 0) {
			if (blk_execute(disk, &chain) == 0 ||
			    ram[HDR_GPA + (chain.head / 3) * 32 + 16] != VIRTIO_BLK_S_OK)
				exit(1);
			vq_push(&vq, chain.head, 1);
			done += req;
		}
		vq_need_interrupt(&vq);
	}
	free(ram);
	return total / (now() - start) / 1e6;
}

int main(int argc, char **argv)
{
	struct blk_disk disk;
	const char *what;
	size_t req;
	int write, fd;
	uint8_t *buf;
	double raw, dev;

	if (argc < 4)
		return 2;
	req = strtoul(argv[2], NULL, 10) * 1024;
	write = !strcmp(argv[3], "write");
	if (!req || req * BATCH > RAM_SIZE - DATA_GPA ||
	    blk_disk_open(&disk, argv[1], false, argc > 4 ? argv[4] : NULL, &what) < 0)
		return 1;
	fd = open(argv[1], O_RDWR);
	buf = aligned_alloc(4096, req);
	memset(buf, 0x5a, req);
	raw = raw_mbps(fd, blk_disk_size(&disk), req, write, buf);
	dev = virtio_mbps(&disk, blk_disk_size(&disk), req, write);
	printf("%-5s %4zu KiB requests: raw %8.0f MB/s, virtio-blk%s %8.0f MB/s, ratio %.2f\n",
	       argv[3], req / 1024, raw, argc > 4 ? "+overlay" : "", dev, dev / raw);
	blk_disk_close(&disk);
	close(fd);
	return 0;
}
