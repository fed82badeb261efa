/*
 * test_virtqueue.c - the split virtqueue (virtio/virtqueue.c) against guest
 * memory held here: chains, indirect tables, event index, index
 * wrap-around, and a hostile driver (loops, out-of-range indices,
 * addresses and lengths), which must break the queue without any access
 * outside guest memory (ASan watches that).
 */
#include "../virtio/virtqueue.h"
#include "test.h"
#include "vq_driver.h"

static struct test_guest g;
static struct virtqueue vq;
static struct vq_chain chain;

static void setup(uint16_t num, bool event_idx)
{
	tg_init(&g, num);
	CHECK_EQ(tg_vq_init(&g, &vq, event_idx), 0);
}

static void chain_of_out_and_in_buffers(void)
{
	struct tg_buf bufs[] = {
		{ TG_DATA, 16, false }, { TG_DATA + 100, 300, false },
		{ TG_DATA + 1000, 512, true }, { TG_DATA + 2000, 1, true },
	};
	uint16_t head;

	setup(8, false);
	head = tg_post(&g, bufs, 4);
	CHECK_EQ(vq_pop(&vq, &chain), 1);
	CHECK_EQ(chain.head, head);
	CHECK_EQ(chain.n_out, 2);
	CHECK_EQ(chain.n_in, 2);
	CHECK_EQ(chain.out_len, 316);
	CHECK_EQ(chain.in_len, 513);
	CHECK(chain.iov[1].iov_base == g.ram + TG_DATA + 100);
	CHECK_EQ(chain.iov[2].iov_len, 512);
	CHECK_EQ(vq_pop(&vq, &chain), 0);

	vq_push(&vq, head, 513);
	CHECK_EQ(tg_used(&g)->idx, 1);
	CHECK_EQ(tg_used(&g)->ring[0].id, head);
	CHECK_EQ(tg_used(&g)->ring[0].len, 513);
}

static void indirect_chain(void)
{
	struct tg_buf bufs[] = {
		{ TG_DATA, 16, false }, { TG_DATA + 64, 4096, true }, { TG_DATA + 8192, 1, true },
	};

	setup(4, false);
	tg_post_indirect(&g, TG_DATA + 0x8000, bufs, 3);
	CHECK_EQ(vq_pop(&vq, &chain), 1);
	CHECK_EQ(chain.n_out, 1);
	CHECK_EQ(chain.n_in, 2);
	CHECK(chain.iov[1].iov_base == g.ram + TG_DATA + 64);
	CHECK(!vq.broken);
}

/* The spec sets no alignment for indirect tables; Linux's may be 8-aligned. */
static void unaligned_indirect_tables_work(void)
{
	struct tg_buf bufs[] = { { TG_DATA, 16, false }, { TG_DATA + 64, 512, true } };
	uint64_t at[] = { TG_DATA + 0x8008, TG_DATA + 0x9003 };
	unsigned int i;

	for (i = 0; i < 2; i++) {
		setup(4, false);
		tg_post_indirect(&g, at[i], bufs, 2);
		CHECK_EQ(vq_pop(&vq, &chain), 1);
		CHECK_EQ(chain.n_in, 1);
		CHECK_EQ(chain.in_len, 512);
	}
}

static void event_index_decides_interrupts(void)
{
	struct tg_buf buf = { TG_DATA, 8, true };
	uint16_t h;

	setup(8, true);
	/* Empty ring: the device asks to be notified at the next buffer. */
	*tg_avail_event(&g) = 0xffff;
	CHECK_EQ(vq_pop(&vq, &chain), 0);
	CHECK_EQ(*tg_avail_event(&g), 0);

	h = tg_post(&g, &buf, 1);
	CHECK_EQ(vq_pop(&vq, &chain), 1);
	*tg_used_event(&g) = 0;		/* wants an irq after used entry 0 */
	vq_push(&vq, h, 8);
	CHECK(vq_need_interrupt(&vq));
	CHECK(!vq_need_interrupt(&vq));	/* nothing new since */

	h = tg_post(&g, &buf, 1);
	CHECK_EQ(vq_pop(&vq, &chain), 1);
	*tg_used_event(&g) = 5;		/* not yet */
	vq_push(&vq, h, 8);
	CHECK(!vq_need_interrupt(&vq));
}

static void no_interrupt_flag_without_event_index(void)
{
	struct tg_buf buf = { TG_DATA, 8, true };
	uint16_t h;

	setup(8, false);
	h = tg_post(&g, &buf, 1);
	CHECK_EQ(vq_pop(&vq, &chain), 1);
	tg_avail(&g)->flags = VRING_AVAIL_F_NO_INTERRUPT;
	vq_push(&vq, h, 8);
	CHECK(!vq_need_interrupt(&vq));
	h = tg_post(&g, &buf, 1);
	CHECK_EQ(vq_pop(&vq, &chain), 1);
	tg_avail(&g)->flags = 0;
	vq_push(&vq, h, 8);
	CHECK(vq_need_interrupt(&vq));
}

static void indices_wrap_around(void)
{
	struct tg_buf buf = { TG_DATA, 8, true };
	unsigned int i, popped = 0;

	setup(4, true);
	/* Start both sides just below the 16-bit wrap. */
	g.avail_idx = 65530;
	tg_avail(&g)->idx = 65530;
	tg_used(&g)->idx = 65530;
	vq.last_avail = vq.used_idx = vq.signalled_used = 65530;
	for (i = 0; i < 20; i++) {
		uint16_t h = tg_post(&g, &buf, 1);

		if (vq_pop(&vq, &chain) == 1 && chain.head == h) {
			vq_push(&vq, h, 8);
			popped++;
		}
	}
	CHECK_EQ(popped, 20);
	CHECK_EQ(tg_used(&g)->idx, (uint16_t)(65530 + 20));
	CHECK(!vq.broken);
}

/* Each case: set up a bad ring, pop must fail and break the queue. */
static void expect_broken(const char *what)
{
	int ret = vq_pop(&vq, &chain);

	if (ret != -1 || !vq.broken)
		fprintf(stderr, "  %s: pop returned %d\n", what, ret);
	CHECK_EQ(ret, -1);
	CHECK(vq.broken);
	CHECK_EQ(vq_pop(&vq, &chain), -1);	/* stays broken */
}

static void malicious_direct_chains(void)
{
	struct tg_buf two[] = { { TG_DATA, 8, false }, { TG_DATA, 8, false } };
	struct tg_buf in_then_out[] = { { TG_DATA, 8, true }, { TG_DATA, 8, false } };
	struct tg_buf far = { TG_MEM_SIZE - 4, 8, false };
	struct tg_buf wrap = { ~0ULL - 3, 8, false };
	struct tg_buf huge = { TG_DATA, 0xffffffff, true };

	setup(8, false);
	tg_post(&g, two, 2);
	tg_desc(&g, TG_DESC, 1)->next = 0;	/* 0 -> 1 -> 0 ... */
	tg_desc(&g, TG_DESC, 1)->flags |= VRING_DESC_F_NEXT;
	expect_broken("loop");

	setup(8, false);
	tg_post(&g, two, 2);
	tg_desc(&g, TG_DESC, 0)->next = 8;
	expect_broken("next out of range");

	setup(8, false);
	tg_post(&g, &far, 1);
	expect_broken("buffer crossing the end of memory");

	setup(8, false);
	tg_post(&g, &wrap, 1);
	expect_broken("address + length wraps");

	setup(8, false);
	tg_post(&g, &huge, 1);
	expect_broken("length beyond memory");

	setup(8, false);
	tg_post(&g, in_then_out, 2);
	expect_broken("readable after writable");

	setup(8, false);
	tg_avail(&g)->ring[0] = 8;
	tg_avail(&g)->idx = 1;
	expect_broken("head out of range");

	setup(8, false);
	tg_avail(&g)->idx = 9;
	expect_broken("avail index ahead by more than the queue size");
}

static void malicious_indirect_tables(void)
{
	struct tg_buf two[] = { { TG_DATA, 8, false }, { TG_DATA, 8, false } };
	struct vring_desc *d;

	setup(8, false);
	tg_post_indirect(&g, TG_DATA + 0x8000, two, 2);
	tg_desc(&g, TG_DATA + 0x8000, 1)->next = 0;
	tg_desc(&g, TG_DATA + 0x8000, 1)->flags |= VRING_DESC_F_NEXT;
	expect_broken("loop inside an indirect table");

	setup(8, false);
	tg_post_indirect(&g, TG_DATA + 0x8000, two, 2);
	tg_desc(&g, TG_DATA + 0x8000, 0)->flags |= VRING_DESC_F_INDIRECT;
	expect_broken("nested indirect");

	setup(8, false);
	tg_post_indirect(&g, TG_DATA + 0x8000, two, 2);
	tg_desc(&g, TG_DESC, 0)->len = 17;
	expect_broken("table length not a multiple of 16");

	setup(8, false);
	tg_post_indirect(&g, TG_MEM_SIZE - 16, two, 1);
	tg_desc(&g, TG_DESC, 0)->len = 32;	/* runs past the end of memory */
	expect_broken("table outside memory");

	setup(8, false);
	tg_post_indirect(&g, TG_DATA + 0x8000, two, 2);
	d = tg_desc(&g, TG_DESC, 0);
	d->flags |= VRING_DESC_F_NEXT;
	expect_broken("indirect with NEXT");

	setup(8, false);
	tg_post_indirect(&g, TG_DATA + 0x8000, two, 2);
	tg_desc(&g, TG_DATA + 0x8000, 0)->next = 5;
	expect_broken("indirect next out of range");
}

static void overlong_indirect_chain_is_refused(void)
{
	static struct tg_buf many[VQ_MAX_SEGMENTS + 1];
	unsigned int i;

	for (i = 0; i < VQ_MAX_SEGMENTS + 1; i++)
		many[i] = (struct tg_buf){ TG_DATA, 1, false };
	setup(8, false);
	tg_post_indirect(&g, TG_DATA + 0x20000, many, VQ_MAX_SEGMENTS + 1);
	expect_broken("more segments than VQ_MAX_SEGMENTS");
}

static void bad_queue_setups_are_refused(void)
{
	tg_init(&g, 8);
	CHECK_EQ(vq_init(&vq, &g.mem, 6, TG_DESC, TG_AVAIL, TG_USED, false), -1);
	CHECK_EQ(vq_init(&vq, &g.mem, 2048, TG_DESC, TG_AVAIL, TG_USED, false), -1);
	CHECK_EQ(vq_init(&vq, &g.mem, 8, TG_DESC + 8, TG_AVAIL, TG_USED, false), -1);
	CHECK_EQ(vq_init(&vq, &g.mem, 8, TG_DESC, TG_AVAIL, TG_MEM_SIZE - 8, false), -1);
	CHECK_EQ(vq_init(&vq, &g.mem, 8, ~0ULL & ~15ULL, TG_AVAIL, TG_USED, false), -1);
	CHECK(vq.broken_reason != NULL);
}

static void guest_mem_regions_bound_every_access(void)
{
	static uint8_t a[4096], b[4096];
	struct guest_mem mem;

	guest_mem_init(&mem);
	CHECK_EQ(guest_mem_add(&mem, 0x10000, sizeof(a), a), 0);
	CHECK_EQ(guest_mem_add(&mem, 0x20000, sizeof(b), b), 0);
	CHECK_EQ(guest_mem_add(&mem, 0x10800, 16, b), -1);	/* overlap */
	CHECK(guest_mem_ptr(&mem, 0x10000, 4096) == a);
	CHECK(guest_mem_ptr(&mem, 0x20010, 16) == b + 16);
	CHECK(guest_mem_ptr(&mem, 0x10ff0, 32) == NULL);	/* crosses the end */
	CHECK(guest_mem_ptr(&mem, 0x10fff, ~0ULL) == NULL);
	CHECK(guest_mem_ptr(&mem, 0x18000, 1) == NULL);	/* between regions */
}

static void iov_helpers_copy_across_segments(void)
{
	char a[3], b[5], out[8];
	struct iovec iov[2] = { { a, 3 }, { b, 5 } }, part[2];
	unsigned int n;

	CHECK_EQ(iov_from_buf(iov, 2, 0, "abcdefgh", 8), 8);
	CHECK(memcmp(a, "abc", 3) == 0 && memcmp(b, "defgh", 5) == 0);
	CHECK_EQ(iov_to_buf(iov, 2, 2, out, 4), 4);
	CHECK(memcmp(out, "cdef", 4) == 0);
	n = iov_slice(iov, 2, 1, 4, part, 2);
	CHECK_EQ(n, 2);
	CHECK(part[0].iov_base == a + 1 && part[0].iov_len == 2);
	CHECK(part[1].iov_base == b && part[1].iov_len == 2);
	CHECK_EQ(iov_to_buf(iov, 2, 7, out, 8), 1);
}

int main(void)
{
	TEST_RUN(chain_of_out_and_in_buffers);
	TEST_RUN(indirect_chain);
	TEST_RUN(unaligned_indirect_tables_work);
	TEST_RUN(event_index_decides_interrupts);
	TEST_RUN(no_interrupt_flag_without_event_index);
	TEST_RUN(indices_wrap_around);
	TEST_RUN(malicious_direct_chains);
	TEST_RUN(malicious_indirect_tables);
	TEST_RUN(overlong_indirect_chain_is_refused);
	TEST_RUN(bad_queue_setups_are_refused);
	TEST_RUN(guest_mem_regions_bound_every_access);
	TEST_RUN(iov_helpers_copy_across_segments);
	free(g.ram);
	return test_summary();
}
