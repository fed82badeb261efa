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

#define QUEUE_SIZE	128

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
	blk_disk_config(disk, 1, c);
	b->dev.features = blk_disk_features(disk);
	b->dev.config = (uint8_t *)c;
	b->dev.config_len = sizeof(*c);
	return &b->dev;
}
