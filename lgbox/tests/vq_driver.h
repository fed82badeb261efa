/*
 * vq_driver.h - the guest driver's side of a split virtqueue, for tests:
 * guest memory held by the test, rings at fixed guest-physical addresses,
 * and helpers that post chains (direct or indirect) the way a virtio
 * driver does, so device code can be exercised without a guest.
 */
#ifndef LGBOX_TEST_VQ_DRIVER_H
#define LGBOX_TEST_VQ_DRIVER_H

#include <stdlib.h>
#include <string.h>

#include "../virtio/virtqueue.h"

#define TG_MEM_SIZE	(1 << 20)
#define TG_DESC		0x1000
#define TG_AVAIL	0x3000
#define TG_USED		0x4000
#define TG_DATA		0x10000	/* buffers from here */

struct test_guest {
	uint8_t *ram;
	struct guest_mem mem;
	uint16_t num;
	uint16_t next_desc;	/* descriptors are handed out in order */
	uint16_t avail_idx;
};

struct tg_buf {
	uint64_t gpa;
	uint32_t len;
	bool writable;
};

static inline void tg_init(struct test_guest *g, uint16_t num)
{
	if (!g->ram)
		g->ram = aligned_alloc(4096, TG_MEM_SIZE);
	memset(g->ram, 0, TG_MEM_SIZE);
	guest_mem_init(&g->mem);
	guest_mem_add(&g->mem, 0, TG_MEM_SIZE, g->ram);
	g->num = num;
	g->next_desc = 0;
	g->avail_idx = 0;
}

static inline struct vring_desc *tg_desc(struct test_guest *g, uint64_t table, unsigned int i)
{
	return (struct vring_desc *)(g->ram + table) + i;
}

static inline struct vring_avail *tg_avail(struct test_guest *g)
{
	return (struct vring_avail *)(g->ram + TG_AVAIL);
}

static inline struct vring_used *tg_used(struct test_guest *g)
{
	return (struct vring_used *)(g->ram + TG_USED);
}

static inline uint16_t *tg_used_event(struct test_guest *g)
{
	return &tg_avail(g)->ring[g->num];
}

static inline uint16_t *tg_avail_event(struct test_guest *g)
{
	return (uint16_t *)&tg_used(g)->ring[g->num];
}

/* Fills descriptors table[first..first+n) as a chain of bufs. */
static inline void tg_fill(struct test_guest *g, uint64_t table, unsigned int first,
			   const struct tg_buf *bufs, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct vring_desc d = {
			.addr = bufs[i].gpa,
			.len = bufs[i].len,
			.flags = (bufs[i].writable ? VRING_DESC_F_WRITE : 0) |
				 (i + 1 < n ? VRING_DESC_F_NEXT : 0),
			.next = i + 1 < n ? first + i + 1 : 0,
		};

		/* memcpy: indirect tables may be unaligned on purpose. */
		memcpy(tg_desc(g, table, first + i), &d, sizeof(d));
	}
}

static inline void tg_publish(struct test_guest *g, uint16_t head)
{
	tg_avail(g)->ring[g->avail_idx % g->num] = head;
	g->avail_idx++;
	__atomic_store_n(&tg_avail(g)->idx, g->avail_idx, __ATOMIC_RELEASE);
}

/* Posts a direct chain; returns its head. */
static inline uint16_t tg_post(struct test_guest *g, const struct tg_buf *bufs, unsigned int n)
{
	uint16_t head;

	/* Chains are contiguous: start over at 0 rather than run off the table. */
	if (g->next_desc % g->num + n > g->num)
		g->next_desc += g->num - g->next_desc % g->num;
	head = g->next_desc % g->num;
	tg_fill(g, TG_DESC, head, bufs, n);
	g->next_desc += n;
	tg_publish(g, head);
	return head;
}

/* Posts one descriptor pointing at an indirect table at table_gpa. */
static inline uint16_t tg_post_indirect(struct test_guest *g, uint64_t table_gpa,
					const struct tg_buf *bufs, unsigned int n)
{
	uint16_t head = g->next_desc++ % g->num;
	struct vring_desc *d = tg_desc(g, TG_DESC, head);

	tg_fill(g, table_gpa, 0, bufs, n);
	d->addr = table_gpa;
	d->len = n * sizeof(struct vring_desc);
	d->flags = VRING_DESC_F_INDIRECT;
	tg_publish(g, head);
	return head;
}

static inline int tg_vq_init(struct test_guest *g, struct virtqueue *vq, bool event_idx)
{
	return vq_init(vq, &g->mem, g->num, TG_DESC, TG_AVAIL, TG_USED, event_idx);
}

#endif /* LGBOX_TEST_VQ_DRIVER_H */
