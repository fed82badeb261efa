/*
 * net.c - virtio-net over a backend that sends and receives frames behind
 * a 12-byte vnet header, the size of virtio 1.x's struct virtio_net_hdr:
 * a tap device opened with IFF_VNET_HDR (here: packets move between guest
 * buffers and the tap with one readv/writev and no copy), or launch's
 * shared-memory network (launch/sharenet.c).  No offloads are offered; the
 * guest's transmit header is replaced by a zeroed one so it cannot ask the
 * host kernel for GSO or checksum work that was never negotiated.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices.h"

#define RX_QUEUE	0
#define TX_QUEUE	1
#define VIRTIO_NET_F_MAC	5
#define VNET_HDR_SIZE		12
#define NUM_BUFFERS_OFFSET	10	/* virtio_net_hdr.num_buffers */

struct vnet {
	struct virtio_dev dev;
	struct net_backend be;
	int tap_fd;			/* the tap backend's */
	void (*tap_rx_ready)(void);
	uint8_t config[8];	/* mac, status */
	uint64_t tx_dropped;
	struct vq_chain chain;
	struct iovec iov[VQ_MAX_SEGMENTS + 1];
};

static void transmit(struct vnet *n)
{
	static const uint8_t zero_hdr[VNET_HDR_SIZE];
	struct virtqueue *vq = virtio_queue(&n->dev, TX_QUEUE);
	unsigned int parts;
	int got = 0;

	while (vq && vq_pop(vq, &n->chain) > 0) {
		if (n->chain.out_len >= VNET_HDR_SIZE) {
			n->iov[0] = (struct iovec){ (void *)zero_hdr, VNET_HDR_SIZE };
			parts = iov_slice(n->chain.iov, n->chain.n_out, VNET_HDR_SIZE,
					  n->chain.out_len - VNET_HDR_SIZE, n->iov + 1,
					  VQ_MAX_SEGMENTS);
			/* A full tap queue drops the packet, as a real wire would. */
			if (n->be.send(n->be.ctx, n->iov, parts + 1) < 0)
				n->tx_dropped++;
		}
		vq_push(vq, n->chain.head, 0);
		got = 1;
	}
	if (got)
		virtio_queue_done(&n->dev, TX_QUEUE);
}

void virtio_net_receive(struct virtio_dev *dev)
{
	static const uint16_t one_buffer = 1;
	struct vnet *n = dev->priv;
	struct virtqueue *vq;
	ssize_t len;
	int got = 0;

	pthread_mutex_lock(&dev->lock);
	vq = virtio_queue(dev, RX_QUEUE);
	while (vq && vq_pop(vq, &n->chain) > 0) {
		if (n->chain.in_len < VNET_HDR_SIZE) {
			vq_push(vq, n->chain.head, 0);	/* useless buffer: return it */
			got = 1;
			continue;
		}
		len = n->be.receive(n->be.ctx, n->chain.iov + n->chain.n_out, n->chain.n_in);
		if (len < VNET_HDR_SIZE) {
			vq_unpop(vq);
			break;
		}
		iov_from_buf(n->chain.iov + n->chain.n_out, n->chain.n_in, NUM_BUFFERS_OFFSET,
			     &one_buffer, sizeof(one_buffer));
		vq_push(vq, n->chain.head, len);
		got = 1;
	}
	if (got)
		virtio_queue_done(dev, RX_QUEUE);
	pthread_mutex_unlock(&dev->lock);
}

/* Is there an rx buffer for a packet?  (Checked by the I/O thread.) */
bool virtio_net_rx_wanted(struct virtio_dev *dev)
{
	struct virtqueue *vq;
	bool wanted;

	pthread_mutex_lock(&dev->lock);
	vq = virtio_queue(dev, RX_QUEUE);
	wanted = vq && __atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE) != vq->last_avail;
	pthread_mutex_unlock(&dev->lock);
	return wanted;
}

static void net_notify(struct virtio_dev *dev, unsigned int q)
{
	struct vnet *n = dev->priv;

	if (q == TX_QUEUE)
		transmit(n);
	else if (n->be.rx_ready)
		n->be.rx_ready(n->be.ctx);	/* new rx buffers: receive again */
}

static const struct virtio_dev_ops net_ops = {
	.name = "net",
	.device_id = VIRTIO_ID_NET,
	.nr_queues = 2,
	.queue_max = 256,
	.queue_notify = net_notify,
};

struct virtio_dev *virtio_net_create_backend(const struct guest_mem *mem,
					     const struct net_backend *be, const uint8_t mac[6])
{
	struct vnet *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	virtio_dev_init(&n->dev, &net_ops, n, mem);
	n->be = *be;
	memcpy(n->config, mac, 6);
	n->dev.config = n->config;
	n->dev.config_len = sizeof(n->config);
	n->dev.features = 1ULL << VIRTIO_NET_F_MAC;
	return &n->dev;
}

static ssize_t tap_send(void *ctx, const struct iovec *iov, unsigned int n)
{
	return writev(((struct vnet *)ctx)->tap_fd, iov, n);
}

static ssize_t tap_receive(void *ctx, const struct iovec *iov, unsigned int n)
{
	return readv(((struct vnet *)ctx)->tap_fd, iov, n);
}

static void tap_rx_ready(void *ctx)
{
	struct vnet *n = ctx;

	if (n->tap_rx_ready)
		n->tap_rx_ready();
}

struct virtio_dev *virtio_net_create(const struct guest_mem *mem, int tap_fd,
				     const uint8_t mac[6], void (*rx_ready)(void))
{
	struct net_backend be = { tap_send, tap_receive, tap_rx_ready, NULL };
	struct virtio_dev *dev = virtio_net_create_backend(mem, &be, mac);
	struct vnet *n;

	if (!dev)
		return NULL;
	n = dev->priv;
	n->be.ctx = n;
	n->tap_fd = tap_fd;
	n->tap_rx_ready = rx_ready;
	return dev;
}
