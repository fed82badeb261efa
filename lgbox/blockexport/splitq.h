/*
 * Split virtqueues (virtio 1.x) over guest memory made of several regions,
 * as vhost-user frontends share it.  Every guest-supplied index, address and
 * length is checked: a malformed chain is reported, never followed outside
 * the shared memory.  Indirect descriptors and the event index are handled.
 *
 * This is block-export's engine until launch's lgbox/virtio/virtqueue.h
 * exists; the two are meant to become one (see doc/lgbox.md, block-export).
 */
#ifndef LGBOX_BLOCKEXPORT_SPLITQ_H
#define LGBOX_BLOCKEXPORT_SPLITQ_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "../lib/guest_mem.h"

#define SPLITQ_MAX_CHAIN		1024	/* descriptors per request, indirect ones included */

struct vring_desc;
struct vring_avail;
struct vring_used;

struct splitq {
	const struct guest_mem *mem;
	uint16_t size;
	bool event_idx;
	uint16_t last_avail;
	uint16_t used_at_last_notify;	/* used->idx when the driver was last considered */
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
};

/* One popped request: device-readable buffers first, then device-writable ones. */
struct splitq_chain {
	uint16_t head;
	unsigned int n_out, n_in;
	struct iovec iov[SPLITQ_MAX_CHAIN];
};

/* Returns 0, or -EINVAL if a ring part lies outside guest memory or size is not 2^n. */
int splitq_init(struct splitq *vr, const struct guest_mem *mem, uint16_t size, uint64_t desc_gpa,
	       uint64_t avail_gpa, uint64_t used_gpa, bool event_idx, uint16_t last_avail);

/* 1 and fills @chain if a request is available, 0 if none, -EINVAL if it is malformed. */
int splitq_pop(struct splitq *vr, struct splitq_chain *chain);

/* Returns a finished request with @written bytes stored into its writable buffers. */
void splitq_push(struct splitq *vr, uint16_t head, uint32_t written);

/*
 * With the event index: publishes how far the device has read (so the driver
 * kicks on the next request) and returns true if requests arrived meanwhile,
 * which the caller must then process too.
 */
bool splitq_enable_kicks(struct splitq *vr);

/* Whether the driver wants an interrupt for what was pushed since the last call. */
bool splitq_should_notify(struct splitq *vr);

#endif
