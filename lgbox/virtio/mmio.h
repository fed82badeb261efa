/*
 * mmio.h - the virtio-mmio transport (register layout version 2) and the
 * interface between it and the device models (console, blk, net, rng).
 *
 * A device model fills a struct virtio_dev_ops; the transport owns feature
 * negotiation, queue setup, status and interrupts.  All guest accesses to
 * one device and the device's own I/O thread are serialised by dev->lock.
 * A device whose queue the guest broke goes to NEEDS_RESET with a config
 * interrupt, and ignores that queue until the driver resets it.
 */
#ifndef LGBOX_VIRTIO_MMIO_H
#define LGBOX_VIRTIO_MMIO_H

#include <linux/virtio_mmio.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "virtqueue.h"

#define VIRTIO_MMIO_SLOT_SIZE	0x1000	/* one device per 4 KiB */
#define VIRTIO_MAX_QUEUES	4

/* Device status bits. */
#define VIRTIO_STATUS_ACKNOWLEDGE	1
#define VIRTIO_STATUS_DRIVER		2
#define VIRTIO_STATUS_DRIVER_OK		4
#define VIRTIO_STATUS_FEATURES_OK	8
#define VIRTIO_STATUS_NEEDS_RESET	0x40
#define VIRTIO_STATUS_FAILED		0x80

/* Transport feature bits. */
#define VIRTIO_F_INDIRECT_DESC	28
#define VIRTIO_F_EVENT_IDX	29
#define VIRTIO_F_VERSION_1	32

struct virtio_dev;

struct virtio_dev_ops {
	const char *name;		/* for messages: "blk", "console" ... */
	uint32_t device_id;		/* virtio device type */
	unsigned int nr_queues;
	uint16_t queue_max;		/* QueueNumMax for every queue */
	/* The guest wrote QueueNotify for queue q (lock held). */
	void (*queue_notify)(struct virtio_dev *dev, unsigned int q);
	/* Optional: the driver reset the device (lock held). */
	void (*reset)(struct virtio_dev *dev);
	/* Optional: DRIVER_OK was set (lock held). */
	void (*driver_ok)(struct virtio_dev *dev);
	/* Optional: the guest wrote config bytes [off, off + len) (lock held). */
	void (*config_written)(struct virtio_dev *dev, unsigned int off, unsigned int len);
};

struct virtio_queue_cfg {
	uint16_t num;
	bool ready;
	uint64_t desc, avail, used;
};

struct virtio_dev {
	const struct virtio_dev_ops *ops;
	void *priv;			/* device model state */
	uint64_t features;		/* device-specific offered bits */
	uint8_t *config;		/* device config space */
	unsigned int config_len;
	const struct guest_mem *mem;
	/* Set by the owner: raise this device's interrupt line. */
	void (*raise_irq)(struct virtio_dev *dev);
	void *irq_ctx;
	uint32_t irq;
	pthread_mutex_t lock;

	/* Transport state, reset by a status write of 0. */
	uint32_t status;
	uint32_t device_features_sel, driver_features_sel, queue_sel;
	uint64_t driver_features;
	uint32_t interrupt_status;
	uint32_t config_generation;
	struct virtio_queue_cfg qcfg[VIRTIO_MAX_QUEUES];
	struct virtqueue vqs[VIRTIO_MAX_QUEUES];
};

void virtio_dev_init(struct virtio_dev *dev, const struct virtio_dev_ops *ops,
		     void *priv, const struct guest_mem *mem);

/* Guest access at offset inside the device's slot; size 1, 2, 4 or 8. */
uint64_t virtio_mmio_read(struct virtio_dev *dev, uint64_t offset, unsigned int size);
void virtio_mmio_write(struct virtio_dev *dev, uint64_t offset, unsigned int size, uint64_t value);

/* Frees a device made by one of the virtio_*_create() (priv is its allocation). */
void virtio_dev_free(struct virtio_dev *dev);

/* A reboot or teardown: back to the power-on state (takes the lock). */
void virtio_dev_reset(struct virtio_dev *dev);
/* Process every live queue as if the guest had notified it (takes the lock). */
void virtio_dev_kick(struct virtio_dev *dev);

/* Live queue q, or NULL if the driver has not made it ready (or it broke). */
struct virtqueue *virtio_queue(struct virtio_dev *dev, unsigned int q);

/*
 * Device helpers (lock held): after pushing used buffers on queue q,
 * interrupt the guest if it wants one; report a broken queue; signal a
 * config space change.
 */
void virtio_queue_done(struct virtio_dev *dev, unsigned int q);
/* Used buffers were added elsewhere (a vhost-user backend): interrupt now. */
void virtio_queue_interrupt(struct virtio_dev *dev);
void virtio_dev_broken(struct virtio_dev *dev, unsigned int q);
void virtio_config_changed(struct virtio_dev *dev);

/* Does the driver use feature bit? */
bool virtio_has_feature(const struct virtio_dev *dev, unsigned int bit);

#endif /* LGBOX_VIRTIO_MMIO_H */
