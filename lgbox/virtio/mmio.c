/*
 * mmio.c - virtio-mmio transport, register layout version 2 (virtio 1.x
 * 4.2.2).  The guest reaches it through LGUEST_EXIT_MMIO exits; launch
 * finds the device from the address and calls virtio_mmio_read/write with
 * the offset inside the device's slot.
 *
 * Registers are 32 bits wide: other sizes outside the config space read
 * as 0 and are ignored on write, like undefined registers.
 */
#include <stdlib.h>
#include <string.h>

#include "../lgbox.h"
#include "mmio.h"

#define MMIO_MAGIC		0x74726976	/* "virt" */
#define MMIO_VERSION		2
#define LGBOX_VENDOR_ID		0x786f626c	/* "lbox" */

static uint64_t offered_features(const struct virtio_dev *dev)
{
	return dev->features | 1ULL << VIRTIO_F_VERSION_1 |
	       1ULL << VIRTIO_F_EVENT_IDX | 1ULL << VIRTIO_F_INDIRECT_DESC;
}

void virtio_dev_init(struct virtio_dev *dev, const struct virtio_dev_ops *ops,
		     void *priv, const struct guest_mem *mem)
{
	memset(dev, 0, sizeof(*dev));
	dev->ops = ops;
	dev->priv = priv;
	dev->mem = mem;
	pthread_mutex_init(&dev->lock, NULL);
}

void virtio_dev_free(struct virtio_dev *dev)
{
	pthread_mutex_destroy(&dev->lock);
	free(dev->priv);
}

bool virtio_has_feature(const struct virtio_dev *dev, unsigned int bit)
{
	return dev->driver_features & (1ULL << bit);
}

static void raise(struct virtio_dev *dev, uint32_t why)
{
	dev->interrupt_status |= why;
	if (dev->raise_irq)
		dev->raise_irq(dev);
}

void virtio_config_changed(struct virtio_dev *dev)
{
	dev->config_generation++;
	raise(dev, VIRTIO_MMIO_INT_CONFIG);
}

void virtio_dev_broken(struct virtio_dev *dev, unsigned int q)
{
	if (dev->status & VIRTIO_STATUS_NEEDS_RESET)
		return;
	lgbox_warn("virtio-%s queue %u: %s; device needs reset", dev->ops->name, q,
		   dev->vqs[q].broken_reason ? dev->vqs[q].broken_reason : "bad ring");
	dev->status |= VIRTIO_STATUS_NEEDS_RESET;
	virtio_config_changed(dev);
}

struct virtqueue *virtio_queue(struct virtio_dev *dev, unsigned int q)
{
	if (q >= dev->ops->nr_queues || !dev->qcfg[q].ready || dev->vqs[q].broken ||
	    !(dev->status & VIRTIO_STATUS_DRIVER_OK))
		return NULL;
	return &dev->vqs[q];
}

void virtio_queue_done(struct virtio_dev *dev, unsigned int q)
{
	if (vq_need_interrupt(&dev->vqs[q]))
		raise(dev, VIRTIO_MMIO_INT_VRING);
}

void virtio_queue_interrupt(struct virtio_dev *dev)
{
	raise(dev, VIRTIO_MMIO_INT_VRING);
}

static void reset(struct virtio_dev *dev)
{
	dev->status = 0;
	dev->device_features_sel = dev->driver_features_sel = dev->queue_sel = 0;
	dev->driver_features = 0;
	dev->interrupt_status = 0;
	memset(dev->qcfg, 0, sizeof(dev->qcfg));
	memset(dev->vqs, 0, sizeof(dev->vqs));
	if (dev->ops->reset)
		dev->ops->reset(dev);
}

void virtio_dev_reset(struct virtio_dev *dev)
{
	pthread_mutex_lock(&dev->lock);
	reset(dev);
	pthread_mutex_unlock(&dev->lock);
}

static void notify_queue(struct virtio_dev *dev, unsigned int q)
{
	if (!virtio_queue(dev, q))
		return;
	dev->ops->queue_notify(dev, q);
	if (dev->vqs[q].broken)
		virtio_dev_broken(dev, q);
}

void virtio_dev_kick(struct virtio_dev *dev)
{
	unsigned int q;

	pthread_mutex_lock(&dev->lock);
	for (q = 0; q < dev->ops->nr_queues; q++)
		notify_queue(dev, q);
	pthread_mutex_unlock(&dev->lock);
}

static void write_status(struct virtio_dev *dev, uint32_t status)
{
	uint32_t added = status & ~dev->status;

	if (status == 0) {
		reset(dev);
		return;
	}
	if (added & VIRTIO_STATUS_FEATURES_OK) {
		uint64_t driver = dev->driver_features;

		/* A 1.x device refuses legacy drivers and unknown bits. */
		if ((driver & ~offered_features(dev)) ||
		    !(driver & (1ULL << VIRTIO_F_VERSION_1)))
			status &= ~VIRTIO_STATUS_FEATURES_OK;
	}
	/* NEEDS_RESET is the device's to set; the driver cannot clear it. */
	status = (status & ~VIRTIO_STATUS_NEEDS_RESET) |
		 (dev->status & VIRTIO_STATUS_NEEDS_RESET);
	dev->status = status;
	if ((added & VIRTIO_STATUS_DRIVER_OK) && dev->ops->driver_ok)
		dev->ops->driver_ok(dev);
}

static void set_queue_ready(struct virtio_dev *dev, struct virtio_queue_cfg *qc,
			    unsigned int q, uint32_t ready)
{
	if (!ready) {
		qc->ready = false;
		return;
	}
	if (qc->ready)
		return;
	qc->ready = true;
	if (vq_init(&dev->vqs[q], dev->mem, qc->num, qc->desc, qc->avail, qc->used,
		    virtio_has_feature(dev, VIRTIO_F_EVENT_IDX)) < 0)
		virtio_dev_broken(dev, q);
}

static void set_half(uint64_t *field, bool high, uint32_t value)
{
	if (high)
		*field = (*field & 0xffffffffULL) | (uint64_t)value << 32;
	else
		*field = (*field & ~0xffffffffULL) | value;
}

static uint32_t read_reg(struct virtio_dev *dev, uint64_t offset)
{
	unsigned int q = dev->queue_sel;

	switch (offset) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION:
		return MMIO_VERSION;
	case VIRTIO_MMIO_DEVICE_ID:
		return dev->ops->device_id;
	case VIRTIO_MMIO_VENDOR_ID:
		return LGBOX_VENDOR_ID;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		if (dev->device_features_sel > 1)
			return 0;
		return offered_features(dev) >> (32 * dev->device_features_sel);
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		return q < dev->ops->nr_queues ? dev->ops->queue_max : 0;
	case VIRTIO_MMIO_QUEUE_READY:
		return q < dev->ops->nr_queues && dev->qcfg[q].ready;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return dev->interrupt_status;
	case VIRTIO_MMIO_STATUS:
		return dev->status;
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return dev->config_generation;
	default:
		return 0;
	}
}

static void write_queue_reg(struct virtio_dev *dev, uint64_t offset, uint32_t value)
{
	unsigned int q = dev->queue_sel;
	struct virtio_queue_cfg *qc;

	if (q >= dev->ops->nr_queues)
		return;
	qc = &dev->qcfg[q];
	if (offset == VIRTIO_MMIO_QUEUE_READY) {
		set_queue_ready(dev, qc, q, value);
		return;
	}
	if (qc->ready)		/* the layout of a live queue is fixed */
		return;
	switch (offset) {
	case VIRTIO_MMIO_QUEUE_NUM:
		qc->num = value <= dev->ops->queue_max ? value : 0;
		break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		set_half(&qc->desc, offset == VIRTIO_MMIO_QUEUE_DESC_HIGH, value);
		break;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		set_half(&qc->avail, offset == VIRTIO_MMIO_QUEUE_AVAIL_HIGH, value);
		break;
	case VIRTIO_MMIO_QUEUE_USED_LOW:
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		set_half(&qc->used, offset == VIRTIO_MMIO_QUEUE_USED_HIGH, value);
		break;
	}
}

static void write_reg(struct virtio_dev *dev, uint64_t offset, uint32_t value)
{
	switch (offset) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		dev->device_features_sel = value;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		if (dev->driver_features_sel <= 1 &&
		    !(dev->status & VIRTIO_STATUS_FEATURES_OK)) {
			set_half(&dev->driver_features, dev->driver_features_sel, value);
		}
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		dev->driver_features_sel = value;
		break;
	case VIRTIO_MMIO_QUEUE_SEL:
		dev->queue_sel = value;
		break;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		notify_queue(dev, value);
		break;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		dev->interrupt_status &= ~value;
		break;
	case VIRTIO_MMIO_STATUS:
		write_status(dev, value);
		break;
	default:
		write_queue_reg(dev, offset, value);
		break;
	}
}

uint64_t virtio_mmio_read(struct virtio_dev *dev, uint64_t offset, unsigned int size)
{
	uint64_t value = 0;

	pthread_mutex_lock(&dev->lock);
	if (offset >= VIRTIO_MMIO_CONFIG) {
		uint64_t off = offset - VIRTIO_MMIO_CONFIG;

		if (off < dev->config_len && size <= dev->config_len - off)
			memcpy(&value, dev->config + off, size);
	} else if (size == 4) {
		value = read_reg(dev, offset);
	}
	pthread_mutex_unlock(&dev->lock);
	return value;
}

void virtio_mmio_write(struct virtio_dev *dev, uint64_t offset, unsigned int size, uint64_t value)
{
	pthread_mutex_lock(&dev->lock);
	if (offset >= VIRTIO_MMIO_CONFIG) {
		uint64_t off = offset - VIRTIO_MMIO_CONFIG;

		if (dev->ops->config_written && off < dev->config_len &&
		    size <= dev->config_len - off) {
			memcpy(dev->config + off, &value, size);
			dev->ops->config_written(dev, off, size);
		}
	} else if (size == 4) {
		write_reg(dev, offset, (uint32_t)value);
	}
	pthread_mutex_unlock(&dev->lock);
}
