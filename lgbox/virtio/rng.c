/*
 * rng.c - virtio-rng: fills each device-writable buffer the guest posts
 * with bytes from getrandom(2) (the host's urandom pool; it never blocks
 * once the host pool is initialised, which is long done when guests run).
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

#include "devices.h"

struct vrng {
	struct virtio_dev dev;
	struct vq_chain chain;
};

static size_t fill_random(const struct iovec *iov, unsigned int n)
{
	size_t total = 0;
	unsigned int i;

	for (i = 0; i < n; i++) {
		size_t done = 0;

		while (done < iov[i].iov_len) {
			ssize_t got = getrandom((char *)iov[i].iov_base + done,
						iov[i].iov_len - done, 0);

			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0)
				return total + done;
			done += got;
		}
		total += done;
	}
	return total;
}

static void rng_notify(struct virtio_dev *dev, unsigned int q)
{
	struct vrng *r = dev->priv;
	struct virtqueue *vq = virtio_queue(dev, q);
	int got = 0;

	while (vq && vq_pop(vq, &r->chain) > 0) {
		vq_push(vq, r->chain.head,
			fill_random(r->chain.iov + r->chain.n_out, r->chain.n_in));
		got = 1;
	}
	if (got)
		virtio_queue_done(dev, q);
}

static const struct virtio_dev_ops rng_ops = {
	.name = "rng",
	.device_id = VIRTIO_ID_RNG,
	.nr_queues = 1,
	.queue_max = 64,
	.queue_notify = rng_notify,
};

struct virtio_dev *virtio_rng_create(const struct guest_mem *mem)
{
	struct vrng *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	virtio_dev_init(&r->dev, &rng_ops, r, mem);
	return &r->dev;
}
