/*
 * virtqueue.h - the device side of a virtio 1.x split virtqueue over guest
 * memory (struct guest_mem), with indirect descriptors and event index.
 *
 * Shared by launch's virtio-mmio devices and block-export's vhost-user
 * backend.  The guest is hostile: every index, length and address it
 * writes is checked, each shared field is read once, and any violation
 * marks the queue broken (vq->broken, with a reason) instead of being
 * acted on; the transport then puts the device in NEEDS_RESET.
 */
#ifndef LGBOX_VIRTQUEUE_H
#define LGBOX_VIRTQUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "../lib/guest_mem.h"

#define VQ_MAX_SIZE		1024	/* largest queue size we accept */
#define VQ_MAX_SEGMENTS		1024	/* buffers in one chain, indirect included */

#define VRING_DESC_F_NEXT	1
#define VRING_DESC_F_WRITE	2
#define VRING_DESC_F_INDIRECT	4
#define VRING_AVAIL_F_NO_INTERRUPT 1
#define VRING_USED_F_NO_NOTIFY	1

/* Ring layouts (virtio 1.x 2.7), little-endian as the only host is x86. */
struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vring_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];	/* [num], then used_event */
};

struct vring_used_elem {
	uint32_t id;
	uint32_t len;
};

struct vring_used {
	uint16_t flags;
	uint16_t idx;
	struct vring_used_elem ring[];	/* [num], then avail_event */
};

struct virtqueue {
	const struct guest_mem *mem;
	uint16_t num;
	bool event_idx;
	/* Host views of the rings, checked to lie in guest memory at init. */
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t last_avail;		/* next avail entry to consume */
	uint16_t used_idx;		/* our copy of used->idx */
	uint16_t signalled_used;	/* used_idx when we last decided on an irq */
	bool broken;
	const char *broken_reason;
};

/*
 * One request: the device-readable buffers (out) then the device-writable
 * ones (in), as the spec requires them ordered.
 */
struct vq_chain {
	uint16_t head;
	unsigned int n_out, n_in;
	uint64_t out_len, in_len;	/* total bytes */
	struct iovec iov[VQ_MAX_SEGMENTS];	/* out first, then in */
};

/*
 * Sets up vq for the rings at the given guest-physical addresses; returns
 * -1 (vq->broken_reason set) if num is not a power of two up to
 * VQ_MAX_SIZE or a ring is misaligned or not wholly in guest memory.
 */
int vq_init(struct virtqueue *vq, const struct guest_mem *mem, uint16_t num,
	    uint64_t desc_gpa, uint64_t avail_gpa, uint64_t used_gpa, bool event_idx);

/*
 * Takes the next available chain: 1 if one was taken, 0 if the ring is
 * empty, -1 if the guest broke the ring (vq->broken set; nothing taken).
 * When the ring is empty and event_idx is on, it asks the guest to notify
 * at the next buffer.
 */
int vq_pop(struct virtqueue *vq, struct vq_chain *chain);

/* Gives back the chain just popped (its buffers were not used after all). */
void vq_unpop(struct virtqueue *vq);

/* Returns a chain to the guest, written = bytes written into its in part. */
void vq_push(struct virtqueue *vq, uint16_t head, uint32_t written);

/*
 * After one or more vq_push(): does the guest want an interrupt now
 * (event index or the NO_INTERRUPT flag)?  Call once per batch.
 */
bool vq_need_interrupt(struct virtqueue *vq);

/* Copies up to len bytes between a flat buffer and iovecs; returns bytes. */
size_t iov_to_buf(const struct iovec *iov, unsigned int n, size_t skip, void *buf, size_t len);
size_t iov_from_buf(const struct iovec *iov, unsigned int n, size_t skip, const void *buf, size_t len);

/*
 * Makes dst (at most max entries) describe bytes [skip, skip + len) of src;
 * returns the entry count.  Fewer bytes if src is shorter: callers check.
 */
unsigned int iov_slice(const struct iovec *src, unsigned int n, size_t skip, size_t len,
		       struct iovec *dst, unsigned int max);

#endif /* LGBOX_VIRTQUEUE_H */
