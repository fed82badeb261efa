/*
 * console.c - virtio-console with a single port (no MULTIPORT): the guest's
 * hvc0.  Transmit buffers go straight from guest memory to the output
 * callback; input waits in a small buffer until the guest posts receive
 * buffers, and the caller stops reading its input while that buffer is
 * full (virtio_console_has_room), so nothing is dropped and nothing grows.
 */
#include <stdlib.h>
#include <string.h>

#include "devices.h"

#define RX_QUEUE	0
#define TX_QUEUE	1
#define PENDING_MAX	4096
#define INPUT_CHUNK	256	/* the most one read of the caller brings */

struct vcon {
	struct virtio_dev dev;
	void (*output)(const void *buf, size_t len);
	void (*rx_ready)(void);
	uint8_t pending[PENDING_MAX];
	size_t pending_len;
	uint8_t config[8];	/* cols, rows, max_nr_ports: unused without features */
	struct vq_chain chain;
};

static void flush_input(struct vcon *c)
{
	struct virtqueue *vq = virtio_queue(&c->dev, RX_QUEUE);
	size_t n;
	int got = 0;

	while (vq && c->pending_len && vq_pop(vq, &c->chain) > 0) {
		n = iov_from_buf(c->chain.iov + c->chain.n_out, c->chain.n_in, 0,
				 c->pending, c->pending_len);
		vq_push(vq, c->chain.head, n);
		memmove(c->pending, c->pending + n, c->pending_len - n);
		c->pending_len -= n;
		got = 1;
	}
	if (got)
		virtio_queue_done(&c->dev, RX_QUEUE);
}

static void transmit(struct vcon *c)
{
	struct virtqueue *vq = virtio_queue(&c->dev, TX_QUEUE);
	unsigned int i;
	int got = 0;

	while (vq && vq_pop(vq, &c->chain) > 0) {
		for (i = 0; i < c->chain.n_out; i++)
			c->output(c->chain.iov[i].iov_base, c->chain.iov[i].iov_len);
		vq_push(vq, c->chain.head, 0);
		got = 1;
	}
	if (got)
		virtio_queue_done(&c->dev, TX_QUEUE);
}

static void console_notify(struct virtio_dev *dev, unsigned int q)
{
	struct vcon *c = dev->priv;

	if (q == TX_QUEUE) {
		transmit(c);
	} else {
		flush_input(c);
		if (c->rx_ready)
			c->rx_ready();
	}
}

static void console_reset(struct virtio_dev *dev)
{
	struct vcon *c = dev->priv;

	c->pending_len = 0;
}

static const struct virtio_dev_ops console_ops = {
	.name = "console",
	.device_id = VIRTIO_ID_CONSOLE,
	.nr_queues = 2,
	.queue_max = 256,
	.queue_notify = console_notify,
	.reset = console_reset,
};

struct virtio_dev *virtio_console_create(const struct guest_mem *mem,
					 void (*output)(const void *buf, size_t len),
					 void (*rx_ready)(void))
{
	struct vcon *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	virtio_dev_init(&c->dev, &console_ops, c, mem);
	c->output = output;
	c->rx_ready = rx_ready;
	c->dev.config = c->config;
	c->dev.config_len = sizeof(c->config);
	return &c->dev;
}

size_t virtio_console_input(struct virtio_dev *dev, const void *buf, size_t len)
{
	struct vcon *c = dev->priv;
	size_t room;

	pthread_mutex_lock(&dev->lock);
	room = PENDING_MAX - c->pending_len;
	if (len > room)
		len = room;
	memcpy(c->pending + c->pending_len, buf, len);
	c->pending_len += len;
	flush_input(c);
	pthread_mutex_unlock(&dev->lock);
	return len;
}

bool virtio_console_has_room(struct virtio_dev *dev)
{
	struct vcon *c = dev->priv;
	bool room;

	pthread_mutex_lock(&dev->lock);
	room = c->pending_len + INPUT_CHUNK <= PENDING_MAX;
	pthread_mutex_unlock(&dev->lock);
	return room;
}
