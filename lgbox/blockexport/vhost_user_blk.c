/*
 * vhost-user-blk backend for one frontend connection (QEMU's
 * vhost-user-blk-pci, later lgbox launch).
 *
 * The frontend shares guest memory as file descriptors (SET_MEM_TABLE); we
 * map each region and hand launch's virtqueue code (virtio/virtqueue.c) a
 * multi-region guest_mem, so every descriptor is followed through the same
 * bounds-checked guest-physical translation launch uses, and requests are
 * executed by the same virtio-blk engine (virtio/blk.c).  Ring addresses
 * arrive as *frontend* virtual addresses and are turned into guest-physical
 * ones through the region table first.
 *
 * One thread serves the control socket and every kick eventfd with poll(),
 * executing requests synchronously: when GET_VRING_BASE stops a ring no
 * request is in flight, so the index we return is exact and a restarted
 * frontend resumes where the old one stopped.
 */
#define _GNU_SOURCE
#include "export.h"
#include "../lgbox.h"
#include "../lib/vhost_user.h"
#include "../lib/guest_mem.h"
#include "../virtio/virtqueue.h"

#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>

/* Ring feature bits (linux/virtio_ring.h clashes with virtqueue.h's ring structs). */
#define VIRTIO_RING_F_INDIRECT_DESC	28
#define VIRTIO_RING_F_EVENT_IDX		29

#define MAX_QUEUES	64

struct vhost_ring {
	int kick_fd;		/* -1: not started */
	int call_fd;		/* -1: the frontend polls */
	bool enabled;
	uint32_t size;
	uint16_t last_avail;	/* SET_VRING_BASE / GET_VRING_BASE */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	bool have_addr;
	struct virtqueue vq;
};

struct mapping {
	void *base;
	size_t len;
};

struct session {
	int fd;
	struct export *exp;
	const char *peer;
	uint64_t features;
	uint64_t protocol_features;
	struct guest_mem mem;
	struct vhost_user_mem_region regions[VHOST_USER_MAX_REGIONS];
	struct mapping maps[VHOST_USER_MAX_REGIONS];
	unsigned int n_regions;
	struct vhost_ring vrings[MAX_QUEUES];
	struct vq_chain chain;		/* one request at a time: requests run synchronously */
};

struct message {
	struct vhost_user_header hdr;
	union vhost_user_payload p;
	int fds[VHOST_USER_MAX_REGIONS];
	unsigned int n_fds;
};

/* What a handler asks the dispatcher to do next. */
enum handled { REPLIED, ACK_OK, ACK_FAILED, DROP_CONNECTION };

static void close_fds(struct message *m)
{
	for (unsigned int i = 0; i < m->n_fds; i++)
		if (m->fds[i] >= 0)
			close(m->fds[i]);
	m->n_fds = 0;
}

/* Takes ownership of the message's only fd, or returns -1 if there is none. */
static int take_fd(struct message *m)
{
	int fd;

	if (m->n_fds != 1)
		return -1;
	fd = m->fds[0];
	m->fds[0] = -1;
	return fd;
}

/* ---- socket I/O ---- */

static int recv_message(struct session *s, struct message *m)
{
	union {
		char buf[CMSG_SPACE(VHOST_USER_MAX_REGIONS * sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = &m->hdr, .iov_len = sizeof(m->hdr) };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = control.buf, .msg_controllen = sizeof(control.buf),
	};
	struct cmsghdr *cmsg;
	ssize_t n;

	m->n_fds = 0;
	do
		n = recvmsg(s->fd, &mh, MSG_CMSG_CLOEXEC | MSG_WAITALL);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return -1;	/* the frontend went away */
	for (cmsg = CMSG_FIRSTHDR(&mh); cmsg; cmsg = CMSG_NXTHDR(&mh, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		m->n_fds = (unsigned int)((cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		memcpy(m->fds, CMSG_DATA(cmsg), m->n_fds * sizeof(int));
	}
	if ((size_t)n != sizeof(m->hdr) || (mh.msg_flags & MSG_CTRUNC)) {
		lgbox_warn("vhost-user frontend %s: truncated message header", s->peer);
		return -1;
	}
	if ((m->hdr.flags & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION ||
	    m->hdr.size > sizeof(m->p)) {
		lgbox_warn("vhost-user frontend %s: bad message (request %u, version %u, %u bytes)",
			   s->peer, m->hdr.request, m->hdr.flags & VHOST_USER_VERSION_MASK,
			   m->hdr.size);
		return -1;
	}
	memset(&m->p, 0, sizeof(m->p));
	if (m->hdr.size && recv(s->fd, &m->p, m->hdr.size, MSG_WAITALL) != (ssize_t)m->hdr.size)
		return -1;
	return 0;
}

static int send_reply(struct session *s, const struct message *m, const void *payload,
		      uint32_t size)
{
	struct vhost_user_header hdr = {
		.request = m->hdr.request,
		.flags = VHOST_USER_VERSION | VHOST_USER_REPLY,
		.size = size,
	};
	struct iovec iov[2] = {
		{ .iov_base = &hdr, .iov_len = sizeof(hdr) },
		{ .iov_base = (void *)payload, .iov_len = size },
	};
	ssize_t want = (ssize_t)(sizeof(hdr) + size);

	return writev(s->fd, iov, 2) == want ? 0 : -1;
}

static int reply_u64(struct session *s, const struct message *m, uint64_t value)
{
	return send_reply(s, m, &value, sizeof(value));
}

/* ---- guest memory ---- */

static void unmap_regions(struct session *s)
{
	for (unsigned int i = 0; i < s->n_regions; i++)
		munmap(s->maps[i].base, s->maps[i].len);
	s->n_regions = 0;
	guest_mem_init(&s->mem);
}

/* Frontend virtual address (ring addresses) -> guest-physical, or false. */
static bool uva_to_gpa(const struct session *s, uint64_t uva, uint64_t *gpa)
{
	for (unsigned int i = 0; i < s->n_regions; i++) {
		const struct vhost_user_mem_region *r = &s->regions[i];

		if (uva >= r->userspace_addr && uva - r->userspace_addr < r->memory_size) {
			*gpa = r->guest_phys_addr + (uva - r->userspace_addr);
			return true;
		}
	}
	return false;
}

static bool map_region(struct session *s, const struct vhost_user_mem_region *r, int fd)
{
	struct mapping *map = &s->maps[s->n_regions];
	void *base;

	if (r->memory_size == 0 || r->mmap_offset > SIZE_MAX - r->memory_size)
		return false;
	map->len = (size_t)(r->mmap_offset + r->memory_size);
	base = mmap(NULL, map->len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED)
		return false;
	map->base = base;
	if (guest_mem_add(&s->mem, r->guest_phys_addr, r->memory_size,
			  (uint8_t *)base + r->mmap_offset) < 0) {
		munmap(base, map->len);
		return false;
	}
	s->regions[s->n_regions++] = *r;
	return true;
}

static void restart_running_vrings(struct session *s);

static enum handled set_mem_table(struct session *s, struct message *m)
{
	const struct vhost_user_mem_table *t = &m->p.mem;

	if (t->nregions == 0 || t->nregions > VHOST_USER_MAX_REGIONS ||
	    m->n_fds != t->nregions) {
		lgbox_warn("vhost-user frontend %s: memory table with %u regions and %u fds",
			   s->peer, t->nregions, m->n_fds);
		return DROP_CONNECTION;
	}
	unmap_regions(s);
	for (unsigned int i = 0; i < t->nregions; i++) {
		if (!map_region(s, &t->regions[i], m->fds[i])) {
			lgbox_warn_errno("vhost-user frontend %s: cannot map memory region %u "
					 "(guest address 0x%llx, %llu bytes)", s->peer, i,
					 (unsigned long long)t->regions[i].guest_phys_addr,
					 (unsigned long long)t->regions[i].memory_size);
			unmap_regions(s);
			return DROP_CONNECTION;
		}
	}
	restart_running_vrings(s);
	return ACK_OK;	/* the mappings keep the memory; the fds are closed by the caller */
}

/* ---- virtqueues ---- */

static void stop_vring(struct vhost_ring *vr)
{
	if (vr->kick_fd >= 0)
		close(vr->kick_fd);
	vr->kick_fd = -1;
}

static void reset_vring(struct vhost_ring *vr)
{
	stop_vring(vr);
	if (vr->call_fd >= 0)
		close(vr->call_fd);
	memset(vr, 0, sizeof(*vr));
	vr->kick_fd = -1;
	vr->call_fd = -1;
}

static struct vhost_ring *vring_of(struct session *s, uint32_t index)
{
	index &= VHOST_USER_VRING_INDEX_MASK;
	return index < s->exp->max_queues ? &s->vrings[index] : NULL;
}

static bool vring_running(const struct vhost_ring *vr)
{
	return vr->kick_fd >= 0 && vr->enabled;
}

/*
 * Builds the virtqueue view of a ring once it has everything: size, address
 * and a kick fd.  The frontend gives the next avail index (SET_VRING_BASE);
 * the used index is whatever the ring holds, which matters when a restarted
 * frontend resumes rings a previous connection left half-used.
 */
static bool start_vring(struct session *s, struct vhost_ring *vr)
{
	bool event_idx = s->features & (1ull << VIRTIO_RING_F_EVENT_IDX);

	if (vq_init(&vr->vq, &s->mem, (uint16_t)vr->size, vr->desc_gpa, vr->avail_gpa,
		    vr->used_gpa, event_idx) < 0) {
		lgbox_warn("vhost-user frontend %s: cannot start queue %ld: %s", s->peer,
			   (long)(vr - s->vrings), vr->vq.broken_reason);
		return false;
	}
	vr->vq.last_avail = vr->last_avail;
	vr->vq.used_idx = __atomic_load_n(&vr->vq.used->idx, __ATOMIC_ACQUIRE);
	vr->vq.signalled_used = vr->vq.used_idx;
	return true;
}

/* A new memory table (memory hotplug) moves the rings: map them again. */
static void restart_running_vrings(struct session *s)
{
	for (unsigned int i = 0; i < s->exp->max_queues; i++) {
		struct vhost_ring *vr = &s->vrings[i];

		if (vr->kick_fd >= 0 && !start_vring(s, vr))
			stop_vring(vr);
	}
}

static void notify_frontend(const struct vhost_ring *vr)
{
	uint64_t one = 1;

	if (vr->call_fd >= 0 && write(vr->call_fd, &one, sizeof(one)) < 0)
		lgbox_warn_errno("cannot signal the call eventfd");
}

/* Executes every available request of a kicked ring; false if the kick fd failed. */
static bool process_vring(struct session *s, struct vhost_ring *vr)
{
	uint64_t count;

	if (read(vr->kick_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		return false;
	while (vq_pop(&vr->vq, &s->chain) > 0)
		vq_push(&vr->vq, s->chain.head, blk_execute(&s->exp->disk, &s->chain));
	vr->last_avail = vr->vq.last_avail;
	if (vq_need_interrupt(&vr->vq))
		notify_frontend(vr);
	if (vr->vq.broken) {
		lgbox_warn("vhost-user frontend %s: queue %ld is broken (%s); stopping it",
			   s->peer, (long)(vr - s->vrings), vr->vq.broken_reason);
		stop_vring(vr);
	}
	return true;
}

/* ---- message handlers ---- */

static uint64_t offered_features(const struct session *s)
{
	return blk_disk_features(&s->exp->disk) | (1ull << VIRTIO_F_VERSION_1) |
	       (1ull << VHOST_USER_F_PROTOCOL_FEATURES) | (1ull << VIRTIO_RING_F_INDIRECT_DESC) |
	       (1ull << VIRTIO_RING_F_EVENT_IDX) | (1ull << VIRTIO_BLK_F_MQ);
}

static uint64_t offered_protocol_features(void)
{
	return (1ull << VHOST_USER_PROTOCOL_F_MQ) | (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK) |
	       (1ull << VHOST_USER_PROTOCOL_F_CONFIG) |
	       (1ull << VHOST_USER_PROTOCOL_F_RESET_DEVICE);
}

static enum handled get_config(struct session *s, struct message *m)
{
	struct virtio_blk_config cfg;
	struct vhost_user_config *c = &m->p.config;

	if (c->offset > sizeof(cfg) || c->size > sizeof(cfg) - c->offset ||
	    m->hdr.size < offsetof(struct vhost_user_config, payload) + c->size) {
		lgbox_warn("vhost-user frontend %s: GET_CONFIG of %u bytes at %u is out of range",
			   s->peer, c->size, c->offset);
		return DROP_CONNECTION;
	}
	blk_disk_config(&s->exp->disk, (uint16_t)s->exp->max_queues, &cfg);
	memcpy(c->payload, (uint8_t *)&cfg + c->offset, c->size);
	return send_reply(s, m, c, m->hdr.size) ? DROP_CONNECTION : REPLIED;
}

static enum handled set_vring_addr(struct session *s, struct vhost_ring *vr,
				   const struct vhost_user_vring_addr *a)
{
	vr->have_addr = uva_to_gpa(s, a->desc_user_addr, &vr->desc_gpa) &&
			uva_to_gpa(s, a->avail_user_addr, &vr->avail_gpa) &&
			uva_to_gpa(s, a->used_user_addr, &vr->used_gpa);
	if (!vr->have_addr) {
		lgbox_warn("vhost-user frontend %s: ring %u lies outside the shared memory",
			   s->peer, a->index);
		return DROP_CONNECTION;
	}
	return ACK_OK;
}

static enum handled set_vring_kick(struct session *s, struct vhost_ring *vr, struct message *m)
{
	stop_vring(vr);
	if (m->p.u64 & VHOST_USER_VRING_NOFD) {
		lgbox_warn("vhost-user frontend %s: polling mode (no kick fd) is not supported",
			   s->peer);
		return DROP_CONNECTION;
	}
	if (!vr->have_addr || !start_vring(s, vr)) {
		lgbox_warn("vhost-user frontend %s: ring %u kicked before it was set up",
			   s->peer, (unsigned int)(m->p.u64 & VHOST_USER_VRING_INDEX_MASK));
		return DROP_CONNECTION;
	}
	vr->kick_fd = take_fd(m);
	/* Without protocol features a ring runs as soon as it is kicked. */
	if (!(s->features & (1ull << VHOST_USER_F_PROTOCOL_FEATURES)))
		vr->enabled = true;
	return vr->kick_fd >= 0 ? ACK_OK : DROP_CONNECTION;
}

static enum handled handle_vring_message(struct session *s, struct message *m)
{
	struct vhost_ring *vr = vring_of(s, m->hdr.request == VHOST_USER_SET_VRING_KICK ||
				    m->hdr.request == VHOST_USER_SET_VRING_CALL ||
				    m->hdr.request == VHOST_USER_SET_VRING_ERR ?
				    (uint32_t)m->p.u64 : m->p.state.index);
	struct vhost_user_vring_state state;

	if (!vr) {
		lgbox_warn("vhost-user frontend %s: request %u names a queue beyond the %u offered",
			   s->peer, m->hdr.request, s->exp->max_queues);
		return DROP_CONNECTION;
	}
	switch (m->hdr.request) {
	case VHOST_USER_SET_VRING_NUM:
		vr->size = m->p.state.num;
		if (vr->size == 0 || vr->size > VQ_MAX_SIZE || (vr->size & (vr->size - 1))) {
			lgbox_warn("vhost-user frontend %s: queue size %u is not a power of two "
				   "up to %u", s->peer, vr->size, VQ_MAX_SIZE);
			return DROP_CONNECTION;
		}
		return ACK_OK;
	case VHOST_USER_SET_VRING_BASE:
		vr->last_avail = (uint16_t)m->p.state.num;
		return ACK_OK;
	case VHOST_USER_SET_VRING_ADDR:
		return set_vring_addr(s, vr, &m->p.addr);
	case VHOST_USER_GET_VRING_BASE:
		stop_vring(vr);
		state.index = m->p.state.index;
		state.num = vr->last_avail;
		return send_reply(s, m, &state, sizeof(state)) ? DROP_CONNECTION : REPLIED;
	case VHOST_USER_SET_VRING_KICK:
		return set_vring_kick(s, vr, m);
	case VHOST_USER_SET_VRING_CALL:
		if (vr->call_fd >= 0)
			close(vr->call_fd);
		vr->call_fd = take_fd(m);
		return ACK_OK;
	case VHOST_USER_SET_VRING_ERR:
		return ACK_OK;	/* errors are logged here instead; the fd is closed */
	default:	/* VHOST_USER_SET_VRING_ENABLE */
		vr->enabled = m->p.state.num != 0;
		return ACK_OK;
	}
}

static void reset_device(struct session *s)
{
	for (unsigned int i = 0; i < MAX_QUEUES; i++)
		reset_vring(&s->vrings[i]);
}

static enum handled handle_message(struct session *s, struct message *m)
{
	switch (m->hdr.request) {
	case VHOST_USER_GET_FEATURES:
		return reply_u64(s, m, offered_features(s)) ? DROP_CONNECTION : REPLIED;
	case VHOST_USER_SET_FEATURES:
		s->features = m->p.u64 & offered_features(s);
		return ACK_OK;
	case VHOST_USER_GET_PROTOCOL_FEATURES:
		return reply_u64(s, m, offered_protocol_features()) ? DROP_CONNECTION : REPLIED;
	case VHOST_USER_SET_PROTOCOL_FEATURES:
		s->protocol_features = m->p.u64 & offered_protocol_features();
		return ACK_OK;
	case VHOST_USER_GET_QUEUE_NUM:
		return reply_u64(s, m, s->exp->max_queues) ? DROP_CONNECTION : REPLIED;
	case VHOST_USER_SET_OWNER:
		return ACK_OK;
	case VHOST_USER_RESET_OWNER:
	case VHOST_USER_RESET_DEVICE:
		reset_device(s);
		return ACK_OK;
	case VHOST_USER_SET_MEM_TABLE:
		return set_mem_table(s, m);
	case VHOST_USER_GET_CONFIG:
		return get_config(s, m);
	case VHOST_USER_SET_VRING_NUM:
	case VHOST_USER_SET_VRING_ADDR:
	case VHOST_USER_SET_VRING_BASE:
	case VHOST_USER_GET_VRING_BASE:
	case VHOST_USER_SET_VRING_KICK:
	case VHOST_USER_SET_VRING_CALL:
	case VHOST_USER_SET_VRING_ERR:
	case VHOST_USER_SET_VRING_ENABLE:
		return handle_vring_message(s, m);
	default:
		/* Only requests for features we did not offer land here. */
		lgbox_warn("vhost-user frontend %s: unsupported request %u ignored", s->peer,
			   m->hdr.request);
		return ACK_FAILED;
	}
}

/* Runs a handler, then sends the REPLY_ACK status if the frontend asked for one. */
static bool dispatch(struct session *s, struct message *m)
{
	enum handled h = handle_message(s, m);
	bool ack_wanted = (m->hdr.flags & VHOST_USER_NEED_REPLY) &&
			  (s->protocol_features & (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK));

	close_fds(m);
	if (h == DROP_CONNECTION)
		return false;
	if (h != REPLIED && ack_wanted)
		return reply_u64(s, m, h == ACK_OK ? 0 : 1) == 0;
	return true;
}

static void serve_loop(struct session *s)
{
	struct pollfd pfd[1 + MAX_QUEUES];
	struct vhost_ring *polled[MAX_QUEUES];
	struct message m;

	for (;;) {
		nfds_t n = 1;

		pfd[0] = (struct pollfd){ .fd = s->fd, .events = POLLIN };
		for (unsigned int i = 0; i < s->exp->max_queues; i++) {
			if (!vring_running(&s->vrings[i]))
				continue;
			polled[n - 1] = &s->vrings[i];
			pfd[n++] = (struct pollfd){ .fd = s->vrings[i].kick_fd, .events = POLLIN };
		}
		if (poll(pfd, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			lgbox_warn_errno("vhost-user frontend %s: poll failed", s->peer);
			return;
		}
		for (nfds_t i = 1; i < n; i++)
			if ((pfd[i].revents & POLLIN) && !process_vring(s, polled[i - 1]))
				return;
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (recv_message(s, &m) < 0) {
				close_fds(&m);
				return;
			}
			if (!dispatch(s, &m))
				return;
		}
	}
}

void vhost_user_blk_serve(int fd, struct export *exp, const char *peer)
{
	struct session *s = calloc(1, sizeof(*s));

	if (!s) {
		lgbox_warn("vhost-user frontend %s: out of memory", peer);
		return;
	}
	s->fd = fd;
	s->exp = exp;
	s->peer = peer;
	guest_mem_init(&s->mem);
	for (unsigned int i = 0; i < MAX_QUEUES; i++) {
		s->vrings[i].kick_fd = -1;
		s->vrings[i].call_fd = -1;
	}
	lgbox_warn("vhost-user frontend %s connected", peer);
	serve_loop(s);
	reset_device(s);
	unmap_regions(s);
	lgbox_warn("vhost-user frontend %s disconnected", peer);
	free(s);
}
