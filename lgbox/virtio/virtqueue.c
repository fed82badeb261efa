/*
 * virtqueue.c - device side of split virtqueues; see virtqueue.h.
 *
 * The guest can change its rings while we read them, so every field it
 * controls is read exactly once into a local (READ_ONCE) and checked
 * there; the check and the use then see the same value.  Ring memory was
 * checked once in vq_init: guest memory regions never move while a queue
 * is live, so the ring pointers stay valid.
 */
#include <string.h>

#include "virtqueue.h"

#define READ_ONCE(x)		__atomic_load_n(&(x), __ATOMIC_RELAXED)
#define WRITE_ONCE(x, v)	__atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

static int vq_fail(struct virtqueue *vq, const char *reason)
{
	vq->broken = true;
	vq->broken_reason = reason;
	return -1;
}

int vq_init(struct virtqueue *vq, const struct guest_mem *mem, uint16_t num,
	    uint64_t desc_gpa, uint64_t avail_gpa, uint64_t used_gpa, bool event_idx)
{
	memset(vq, 0, sizeof(*vq));
	vq->mem = mem;
	vq->num = num;
	vq->event_idx = event_idx;
	if (num == 0 || num > VQ_MAX_SIZE || (num & (num - 1)))
		return vq_fail(vq, "queue size is not a power of two up to 1024");
	if ((desc_gpa & 15) || (avail_gpa & 1) || (used_gpa & 3))
		return vq_fail(vq, "misaligned ring address");
	/* The trailing 2 bytes are used_event / avail_event. */
	vq->desc = guest_mem_ptr(mem, desc_gpa, sizeof(struct vring_desc) * num);
	vq->avail = guest_mem_ptr(mem, avail_gpa, sizeof(struct vring_avail) + 2 * num + 2);
	vq->used = guest_mem_ptr(mem, used_gpa,
				 sizeof(struct vring_used) + sizeof(struct vring_used_elem) * num + 2);
	if (!vq->desc || !vq->avail || !vq->used)
		return vq_fail(vq, "ring outside guest memory");
	/* Indices start at 0 (vhost-user may then set them from VRING_BASE). */
	return 0;
}

static uint16_t *used_event(struct virtqueue *vq)
{
	return &vq->avail->ring[vq->num];
}

static uint16_t *avail_event(struct virtqueue *vq)
{
	return (uint16_t *)&vq->used->ring[vq->num];
}

/* Adds one buffer to the chain, enforcing "device-writable ones last". */
static int add_segment(struct virtqueue *vq, struct vq_chain *chain,
		       const struct vring_desc *d)
{
	unsigned int n = chain->n_out + chain->n_in;
	void *p;

	if (n == VQ_MAX_SEGMENTS)
		return vq_fail(vq, "descriptor chain too long");
	p = guest_mem_ptr(vq->mem, d->addr, d->len);
	if (!p)
		return vq_fail(vq, "buffer outside guest memory");
	if (d->flags & VRING_DESC_F_WRITE) {
		chain->n_in++;
		chain->in_len += d->len;
	} else {
		if (chain->n_in)
			return vq_fail(vq, "device-readable buffer after a writable one");
		chain->n_out++;
		chain->out_len += d->len;
	}
	chain->iov[n] = (struct iovec){ .iov_base = p, .iov_len = d->len };
	return 0;
}

/*
 * One copy of a descriptor: all checks and uses see these values.  memcpy,
 * because an indirect table may sit at any guest address (found by the
 * fuzzer once the 16-byte alignment check had to go), and the barrier
 * keeps the compiler from re-reading guest memory instead of the copy.
 */
static void read_desc(const struct vring_desc *src, struct vring_desc *d)
{
	memcpy(d, src, sizeof(*d));
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

/*
 * Walks an indirect table.  Its length bounds the walk, so a loop of
 * next pointers inside it is cut off as "chain too long for its table".
 */
static int walk_indirect(struct virtqueue *vq, struct vq_chain *chain,
			 const struct vring_desc *ind)
{
	const struct vring_desc *table;
	unsigned int count, i = 0, seen;
	struct vring_desc d;

	if (ind->len == 0 || ind->len % sizeof(struct vring_desc))
		return vq_fail(vq, "indirect table length is not a multiple of 16");
	/*
	 * No alignment check: the spec requires none for indirect tables, and
	 * Linux's virtio-blk allocates them with kmalloc, 8-byte aligned at times.
	 */
	table = guest_mem_ptr(vq->mem, ind->addr, ind->len);
	if (!table)
		return vq_fail(vq, "indirect table outside guest memory");
	count = ind->len / sizeof(struct vring_desc);
	for (seen = 0;; seen++) {
		if (seen == count)
			return vq_fail(vq, "loop in indirect descriptor table");
		read_desc(&table[i], &d);
		if (d.flags & VRING_DESC_F_INDIRECT)
			return vq_fail(vq, "nested indirect descriptor");
		if (add_segment(vq, chain, &d) < 0)
			return -1;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		if (d.next >= count)
			return vq_fail(vq, "indirect next index out of range");
		i = d.next;
	}
}

static int walk_chain(struct virtqueue *vq, struct vq_chain *chain, uint16_t head)
{
	unsigned int i = head, seen;
	struct vring_desc d;

	chain->head = head;
	chain->n_out = chain->n_in = 0;
	chain->out_len = chain->in_len = 0;
	for (seen = 0;; seen++) {
		if (seen == vq->num)
			return vq_fail(vq, "loop in descriptor chain");
		read_desc(&vq->desc[i], &d);
		if (d.flags & VRING_DESC_F_INDIRECT) {
			if (d.flags & VRING_DESC_F_NEXT)
				return vq_fail(vq, "indirect descriptor with NEXT");
			return walk_indirect(vq, chain, &d);
		}
		if (add_segment(vq, chain, &d) < 0)
			return -1;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		if (d.next >= vq->num)
			return vq_fail(vq, "next index out of range");
		i = d.next;
	}
}

int vq_pop(struct virtqueue *vq, struct vq_chain *chain)
{
	uint16_t avail_idx, head;

	if (vq->broken)
		return -1;
	avail_idx = __atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE);
	if ((uint16_t)(avail_idx - vq->last_avail) > vq->num)
		return vq_fail(vq, "available index moved by more than the queue size");
	if (avail_idx == vq->last_avail) {
		if (!vq->event_idx)
			return 0;
		/*
		 * Ask for a notification at the next buffer, then look again:
		 * the guest may have added one before it could see the request.
		 */
		WRITE_ONCE(*avail_event(vq), vq->last_avail);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		avail_idx = __atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE);
		if (avail_idx == vq->last_avail)
			return 0;
		if ((uint16_t)(avail_idx - vq->last_avail) > vq->num)
			return vq_fail(vq, "available index moved by more than the queue size");
	}
	head = READ_ONCE(vq->avail->ring[vq->last_avail & (vq->num - 1)]);
	if (head >= vq->num)
		return vq_fail(vq, "available ring names a descriptor out of range");
	if (walk_chain(vq, chain, head) < 0)
		return -1;
	vq->last_avail++;
	return 1;
}

void vq_unpop(struct virtqueue *vq)
{
	vq->last_avail--;
}

void vq_push(struct virtqueue *vq, uint16_t head, uint32_t written)
{
	struct vring_used_elem *e = &vq->used->ring[vq->used_idx & (vq->num - 1)];

	WRITE_ONCE(e->id, head);
	WRITE_ONCE(e->len, written);
	vq->used_idx++;
	__atomic_store_n(&vq->used->idx, vq->used_idx, __ATOMIC_RELEASE);
}

bool vq_need_interrupt(struct virtqueue *vq)
{
	uint16_t old = vq->signalled_used, new = vq->used_idx, event;

	if (old == new)
		return false;
	vq->signalled_used = new;
	/* Our used->idx store must be visible before we read the guest's wish. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!vq->event_idx)
		return !(READ_ONCE(vq->avail->flags) & VRING_AVAIL_F_NO_INTERRUPT);
	event = READ_ONCE(*used_event(vq));
	/* virtio 1.x 2.7.10: interrupt if event lies in [old, new). */
	return (uint16_t)(new - event - 1) < (uint16_t)(new - old);
}

/* Copies between iovecs (after skipping skip bytes) and a flat buffer. */
static size_t iov_copy(const struct iovec *iov, unsigned int n, size_t skip,
		       void *buf, size_t len, bool into_iov)
{
	size_t done = 0;
	unsigned int i;

	for (i = 0; i < n && done < len; i++) {
		uint8_t *seg = iov[i].iov_base;
		size_t chunk;

		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		chunk = iov[i].iov_len - skip;
		if (chunk > len - done)
			chunk = len - done;
		if (into_iov)
			memcpy(seg + skip, (uint8_t *)buf + done, chunk);
		else
			memcpy((uint8_t *)buf + done, seg + skip, chunk);
		done += chunk;
		skip = 0;
	}
	return done;
}

size_t iov_to_buf(const struct iovec *iov, unsigned int n, size_t skip, void *buf, size_t len)
{
	return iov_copy(iov, n, skip, buf, len, false);
}

size_t iov_from_buf(const struct iovec *iov, unsigned int n, size_t skip, const void *buf, size_t len)
{
	return iov_copy(iov, n, skip, (void *)buf, len, true);
}

unsigned int iov_slice(const struct iovec *src, unsigned int n, size_t skip, size_t len,
		       struct iovec *dst, unsigned int max)
{
	unsigned int i, out = 0;

	for (i = 0; i < n && len && out < max; i++) {
		size_t chunk;

		if (skip >= src[i].iov_len) {
			skip -= src[i].iov_len;
			continue;
		}
		chunk = src[i].iov_len - skip;
		if (chunk > len)
			chunk = len;
		dst[out++] = (struct iovec){ (uint8_t *)src[i].iov_base + skip, chunk };
		len -= chunk;
		skip = 0;
	}
	return out;
}
