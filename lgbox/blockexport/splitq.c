/*
 * Split virtqueue processing on the device side.  The rings live in memory
 * the guest writes concurrently, so: indices are read once with acquire
 * semantics, descriptors are copied before they are checked (the guest must
 * not change them between check and use), and the used index is published
 * with release semantics after the used element it covers.
 */
#include "splitq.h"

#include <endian.h>
#include <errno.h>
#include <string.h>
#include <linux/virtio_ring.h>

/* used_event sits after the avail ring, avail_event after the used ring. */
static uint16_t *used_event(struct splitq *vr)
{
	return &vr->avail->ring[vr->size];
}

static uint16_t *avail_event(struct splitq *vr)
{
	return (uint16_t *)&vr->used->ring[vr->size];
}

int splitq_init(struct splitq *vr, const struct guest_mem *mem, uint16_t size, uint64_t desc_gpa,
	       uint64_t avail_gpa, uint64_t used_gpa, bool event_idx, uint16_t last_avail)
{
	uint64_t avail_len = sizeof(struct vring_avail) + (size + 1u) * sizeof(uint16_t);
	uint64_t used_len = sizeof(struct vring_used) + size * sizeof(struct vring_used_elem) +
			    sizeof(uint16_t);

	if (size == 0 || (size & (size - 1)))
		return -EINVAL;
	vr->mem = mem;
	vr->size = size;
	vr->event_idx = event_idx;
	vr->last_avail = last_avail;
	vr->desc = guest_mem_ptr(mem, desc_gpa, (uint64_t)size * sizeof(struct vring_desc));
	vr->avail = guest_mem_ptr(mem, avail_gpa, avail_len);
	vr->used = guest_mem_ptr(mem, used_gpa, used_len);
	if (!vr->desc || !vr->avail || !vr->used)
		return -EINVAL;
	vr->used_at_last_notify = le16toh(__atomic_load_n(&vr->used->idx, __ATOMIC_ACQUIRE));
	return 0;
}

/* Appends one descriptor's buffer to the chain, readable ones strictly before writable ones. */
static int add_buffer(struct splitq *vr, struct splitq_chain *chain, const struct vring_desc *d)
{
	uint64_t addr = le64toh(d->addr);
	uint32_t len = le32toh(d->len);
	bool writable = le16toh(d->flags) & VRING_DESC_F_WRITE;
	void *host = guest_mem_ptr(vr->mem, addr, len);
	unsigned int n = chain->n_out + chain->n_in;

	if (!host || n == SPLITQ_MAX_CHAIN || (!writable && chain->n_in))
		return -EINVAL;
	chain->iov[n] = (struct iovec){ .iov_base = host, .iov_len = len };
	if (writable)
		chain->n_in++;
	else
		chain->n_out++;
	return 0;
}

/* Walks an indirect table of @len bytes at @addr (indirect tables do not nest). */
static int walk_indirect(struct splitq *vr, struct splitq_chain *chain, uint64_t addr, uint32_t len)
{
	const struct vring_desc *table;
	uint32_t n = len / sizeof(struct vring_desc);
	uint32_t i = 0;

	if (len == 0 || len % sizeof(struct vring_desc) || n > SPLITQ_MAX_CHAIN)
		return -EINVAL;
	table = guest_mem_ptr(vr->mem, addr, len);
	if (!table)
		return -EINVAL;
	for (uint32_t steps = 0;; steps++) {
		struct vring_desc d = table[i];
		uint16_t flags = le16toh(d.flags);

		if (steps == n || (flags & VRING_DESC_F_INDIRECT) || add_buffer(vr, chain, &d))
			return -EINVAL;
		if (!(flags & VRING_DESC_F_NEXT))
			return 0;
		i = le16toh(d.next);
		if (i >= n)
			return -EINVAL;
	}
}

int splitq_pop(struct splitq *vr, struct splitq_chain *chain)
{
	uint16_t avail_idx = le16toh(__atomic_load_n(&vr->avail->idx, __ATOMIC_ACQUIRE));
	uint16_t i;

	if (avail_idx == vr->last_avail)
		return 0;
	if ((uint16_t)(avail_idx - vr->last_avail) > vr->size)
		return -EINVAL;	/* the driver claims more requests than the ring holds */
	i = le16toh(vr->avail->ring[vr->last_avail % vr->size]);
	vr->last_avail++;
	chain->head = i;
	chain->n_out = chain->n_in = 0;
	/* A chain visits each descriptor at most once: more steps means a loop. */
	for (unsigned int steps = 0;; steps++) {
		struct vring_desc d;
		uint16_t flags;
		int err;

		if (i >= vr->size || steps == vr->size)
			return -EINVAL;
		d = vr->desc[i];
		flags = le16toh(d.flags);
		if (flags & VRING_DESC_F_INDIRECT) {
			if (flags & VRING_DESC_F_NEXT)
				return -EINVAL;
			err = walk_indirect(vr, chain, le64toh(d.addr), le32toh(d.len));
		} else {
			err = add_buffer(vr, chain, &d);
		}
		if (err)
			return err;
		if (!(flags & VRING_DESC_F_NEXT))
			return 1;
		i = le16toh(d.next);
	}
}

void splitq_push(struct splitq *vr, uint16_t head, uint32_t written)
{
	uint16_t used_idx = le16toh(vr->used->idx);
	struct vring_used_elem *e = &vr->used->ring[used_idx % vr->size];

	e->id = htole32(head);
	e->len = htole32(written);
	__atomic_store_n(&vr->used->idx, htole16((uint16_t)(used_idx + 1)), __ATOMIC_RELEASE);
}

bool splitq_enable_kicks(struct splitq *vr)
{
	if (!vr->event_idx)
		return false;
	__atomic_store_n(avail_event(vr), htole16(vr->last_avail), __ATOMIC_RELAXED);
	/* The store above must be visible before we look for requests queued meanwhile. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return le16toh(__atomic_load_n(&vr->avail->idx, __ATOMIC_ACQUIRE)) != vr->last_avail;
}

bool splitq_should_notify(struct splitq *vr)
{
	uint16_t old = vr->used_at_last_notify;
	uint16_t new = le16toh(vr->used->idx);

	/* The driver's suppression flag/event index must be read after the used index write. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	vr->used_at_last_notify = new;
	if (old == new)
		return false;
	if (!vr->event_idx)
		return !(le16toh(vr->avail->flags) & VRING_AVAIL_F_NO_INTERRUPT);
	/* Interrupt iff the driver's used_event lies in (old, new]. */
	return (uint16_t)(new - le16toh(*used_event(vr)) - 1) < (uint16_t)(new - old);
}
