/*
 * virtio-blk request execution on a blkfile, independent of the transport
 * (vhost-user here; virtio-mmio could drive it the same way): feature bits,
 * the config space, and header/data/status handling of each request chain.
 */
#ifndef LGBOX_BLOCKEXPORT_VBLK_H
#define LGBOX_BLOCKEXPORT_VBLK_H

#include "splitq.h"
#include "../lib/blkfile.h"

#include <linux/virtio_blk.h>

struct vblk {
	struct blkfile *bf;
	char serial[VIRTIO_BLK_ID_BYTES];	/* zero-padded, not NUL-terminated */
};

void vblk_init(struct vblk *vb, struct blkfile *bf, const char *serial);

/* Device and ring feature bits offered (without transport ones such as MQ). */
uint64_t vblk_features(const struct vblk *vb);

/* Config space (little-endian) for a device with @num_queues queues. */
void vblk_config(const struct vblk *vb, uint16_t num_queues, struct virtio_blk_config *cfg);

/*
 * Executes every available request of @vr.  Returns 0, or -EINVAL when the
 * driver broke the ring (the caller must stop using it).  Call
 * splitq_should_notify() afterwards.
 */
int vblk_process_queue(struct vblk *vb, struct splitq *vr);

/* Executes one popped request; returns the byte count for its used element, or -EINVAL. */
int vblk_execute(struct vblk *vb, const struct splitq_chain *chain);

#endif
