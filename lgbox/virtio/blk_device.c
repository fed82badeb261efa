/*
 * blk_device.c - virtio-blk as a virtio-mmio device: feature bits and
 * config space from the disk, and a queue handler that feeds every popped
 * chain to the request engine (blk.c).  Requests run synchronously in the
 * thread that saw the notification.
 */
#include <stdlib.h>
#include <string.h>

#include "blk.h"
#include "devices.h"

#define VIRTIO_BLK_F_SEG_MAX		2
#define VIRTIO_BLK_F_RO			5
#define VIRTIO_BLK_F_BLK_SIZE		6
#define VIRTIO_BLK_F_FLUSH		9
#define VIRTIO_BLK_F_DISCARD		13
#define VIRTIO_BLK_F_WRITE_ZEROES	14

#define QUEUE_SIZE	128

/* virtio 1.x 5.2.4, up to the write-zeroes fields. */
struct virtio_blk_config {
	uint64_t capacity;		/* 512-byte sectors */
	uint32_t size_max;
	uint32_t seg_max;
	uint8_t geometry[4];
	uint32_t blk_size;
	uint8_t topology[8];
	uint8_t writeback;
	uint8_t unused0;
	uint16_t num_queues;
	uint32_t max_discard_sectors;
	uint32_t max_discard_seg;
	uint32_t discard_sector_alignment;
	uint32_t max_write_zeroes_sectors;
	uint32_t max_write_zeroes_seg;
	uint8_t write_zeroes_may_unmap;
	uint8_t unused1[3];
} __attribute__((packed));

struct vblk {
	struct virtio_dev dev;
	struct blk_disk *disk;
	struct virtio_blk_config config;
	struct vq_chain chain;
};

static void blk_notify(struct virtio_dev *dev, unsigned int q)
{
	struct vblk *b = dev->priv;
	struct virtqueue *vq = virtio_queue(dev, q);
	int got = 0;

	while (vq && vq_pop(vq, &b->chain) > 0) {
		vq_push(vq, b->chain.head, blk_execute(b->disk, &b->chain));
		got = 1;
	}
	if (got)
		virtio_queue_done(dev, q);
}

static const struct virtio_dev_ops blk_ops = {
	.name = "blk",
	.device_id = VIRTIO_ID_BLOCK,
	.nr_queues = 1,
	.queue_max = QUEUE_SIZE,
	.queue_notify = blk_notify,
};

struct virtio_dev *virtio_blk_create(const struct guest_mem *mem, struct blk_disk *disk,
				     const char *serial)
{
	struct vblk *b = calloc(1, sizeof(*b));
	struct virtio_blk_config *c;

	if (!b)
		return NULL;
	virtio_dev_init(&b->dev, &blk_ops, b, mem);
	b->disk = disk;
	if (serial)
		strncpy(disk->serial, serial, VIRTIO_BLK_ID_BYTES);
	c = &b->config;
	c->capacity = blk_disk_size(disk) / 512;
	c->seg_max = VQ_MAX_SEGMENTS - 2;	/* header and status take two */
	c->blk_size = 512;
	c->num_queues = 1;
	b->dev.features = 1ULL << VIRTIO_BLK_F_SEG_MAX | 1ULL << VIRTIO_BLK_F_BLK_SIZE |
			  1ULL << VIRTIO_BLK_F_FLUSH;
	if (disk->read_only)
		b->dev.features |= 1ULL << VIRTIO_BLK_F_RO;
	if (blk_disk_can_discard(disk)) {
		b->dev.features |= 1ULL << VIRTIO_BLK_F_DISCARD;
		c->max_discard_sectors = UINT32_MAX;
		c->max_discard_seg = 1;
		c->discard_sector_alignment = 1;
	}
	if (blk_disk_can_write_zeroes(disk)) {
		b->dev.features |= 1ULL << VIRTIO_BLK_F_WRITE_ZEROES;
		c->max_write_zeroes_sectors = UINT32_MAX;
		c->max_write_zeroes_seg = 1;
		c->write_zeroes_may_unmap = 1;
	}
	b->dev.config = (uint8_t *)c;
	b->dev.config_len = sizeof(*c);
	return &b->dev;
}
