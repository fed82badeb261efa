/*
 * vhost_user_blk.c - launch's vhost-user-blk frontend: a virtio-blk device
 * whose requests are executed by a backend process (lgbox block-export,
 * or any vhost-user-blk backend) over a unix socket.  launch shares guest
 * RAM with it (the memfd, sent once with SET_MEM_TABLE), hands it the
 * rings when the driver sets DRIVER_OK, forwards queue notifications as
 * writes to a kick eventfd, and turns the backend's call eventfd into the
 * device's interrupt.  Data never passes through launch.
 *
 * The transport (virtio/mmio.c) still checks the rings the driver sets
 * up, so a ring outside guest memory puts the device in NEEDS_RESET
 * before any of it reaches the backend.
 */
#define _GNU_SOURCE	/* eventfd */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../lgbox.h"
#include "../lib/vhost_user.h"
#include "../virtio/devices.h"
#include "vhost_user_blk.h"

#define QUEUE		0
#define QUEUE_SIZE	128
#define BLK_CONFIG_SIZE	60	/* virtio_blk_config up to write_zeroes_may_unmap + pad */
#define VIRTIO_BLK_F_MQ	12
#define DEVICE_FEATURE_BITS	((1ULL << 24) - 1)	/* what the transport does not own */

struct vu_blk {
	struct virtio_dev dev;
	const char *socket_path;
	int sock;
	int kick_fd, call_fd;
	const struct guest_ram *ram;
	uint8_t config[BLK_CONFIG_SIZE];
	bool rings_started;
};

struct vu_msg {
	struct vhost_user_header hdr;
	union vhost_user_payload p;
} __attribute__((packed));

static int send_msg(struct vu_blk *b, uint32_t request, const void *payload, uint32_t size,
		    int fd)
{
	struct vu_msg m = { .hdr = { request, VHOST_USER_VERSION, size } };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { &m, sizeof(m.hdr) + size };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cmsg;

	if (size)
		memcpy(&m.p, payload, size);
	if (fd >= 0) {
		mh.msg_control = control.buf;
		mh.msg_controllen = sizeof(control.buf);
		cmsg = CMSG_FIRSTHDR(&mh);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	}
	if (sendmsg(b->sock, &mh, MSG_NOSIGNAL) != (ssize_t)iov.iov_len) {
		lgbox_warn_errno("vhost-user %s: cannot send request %u", b->socket_path, request);
		return -1;
	}
	return 0;
}

static int recv_all(int fd, void *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = recv(fd, (char *)buf + got, len - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += n;
	}
	return 0;
}

/* Sends a request and reads its reply payload (exactly size bytes). */
static int transact(struct vu_blk *b, uint32_t request, const void *payload,
		    uint32_t send_size, void *reply, uint32_t size)
{
	struct vhost_user_header hdr;

	if (send_msg(b, request, payload, send_size, -1) < 0)
		return -1;
	if (recv_all(b->sock, &hdr, sizeof(hdr)) < 0 || hdr.request != request ||
	    !(hdr.flags & VHOST_USER_REPLY) || hdr.size != size ||
	    recv_all(b->sock, reply, size) < 0) {
		lgbox_warn("vhost-user %s: bad or missing reply to request %u", b->socket_path,
			   request);
		return -1;
	}
	return 0;
}

static int get_u64(struct vu_blk *b, uint32_t request, uint64_t *value)
{
	return transact(b, request, NULL, 0, value, sizeof(*value));
}

static int set_u64(struct vu_blk *b, uint32_t request, uint64_t value, int fd)
{
	return send_msg(b, request, &value, sizeof(value), fd);
}

static int set_state(struct vu_blk *b, uint32_t request, uint32_t num)
{
	struct vhost_user_vring_state s = { QUEUE, num };

	return send_msg(b, request, &s, sizeof(s), -1);
}

/* Hands the driver's ring to the backend: it addresses it in our mapping. */
static int start_rings(struct vu_blk *b)
{
	const struct virtio_queue_cfg *q = &b->dev.qcfg[QUEUE];
	uint64_t base = (uintptr_t)b->ram->base;
	struct vhost_user_vring_addr addr = {
		.index = QUEUE,
		.desc_user_addr = base + q->desc,
		.used_user_addr = base + q->used,
		.avail_user_addr = base + q->avail,
	};

	if (set_u64(b, VHOST_USER_SET_FEATURES,
		    b->dev.driver_features | 1ULL << VHOST_USER_F_PROTOCOL_FEATURES, -1) < 0 ||
	    set_state(b, VHOST_USER_SET_VRING_NUM, q->num) < 0 ||
	    set_state(b, VHOST_USER_SET_VRING_BASE, 0) < 0 ||
	    send_msg(b, VHOST_USER_SET_VRING_ADDR, &addr, sizeof(addr), -1) < 0 ||
	    set_u64(b, VHOST_USER_SET_VRING_CALL, QUEUE, b->call_fd) < 0 ||
	    set_u64(b, VHOST_USER_SET_VRING_KICK, QUEUE, b->kick_fd) < 0 ||
	    set_state(b, VHOST_USER_SET_VRING_ENABLE, 1) < 0)
		return -1;
	b->rings_started = true;
	return 0;
}

static void vu_driver_ok(struct virtio_dev *dev)
{
	struct vu_blk *b = dev->priv;

	if (!virtio_queue(dev, QUEUE))
		return;		/* no usable ring: nothing to hand over */
	if (start_rings(b) < 0) {
		dev->status |= VIRTIO_STATUS_NEEDS_RESET;
		virtio_config_changed(dev);
	}
}

/* A driver reset stops the backend's ring (GET_VRING_BASE) until DRIVER_OK. */
static void vu_reset(struct virtio_dev *dev)
{
	struct vu_blk *b = dev->priv;
	struct vhost_user_vring_state s = { QUEUE, 0 };

	if (b->rings_started)
		transact(b, VHOST_USER_GET_VRING_BASE, &s, sizeof(s), &s, sizeof(s));
	b->rings_started = false;
}

static void vu_notify(struct virtio_dev *dev, unsigned int q)
{
	struct vu_blk *b = dev->priv;
	uint64_t one = 1;

	(void)q;
	if (b->rings_started && write(b->kick_fd, &one, sizeof(one)) < 0)
		lgbox_warn_errno("vhost-user %s: cannot kick the backend", b->socket_path);
}

/* The backend completed requests: the guest's interrupt (I/O thread). */
static void call_ready(void *ctx, int fd, short revents)
{
	struct virtio_dev *dev = ctx;
	uint64_t count;

	(void)revents;
	if (read(fd, &count, sizeof(count)) != sizeof(count))
		return;
	pthread_mutex_lock(&dev->lock);
	virtio_queue_interrupt(dev);
	pthread_mutex_unlock(&dev->lock);
}

static const struct virtio_dev_ops vu_blk_ops = {
	.name = "blk (vhost-user)",
	.device_id = VIRTIO_ID_BLOCK,
	.nr_queues = 1,
	.queue_max = QUEUE_SIZE,
	.queue_notify = vu_notify,
	.reset = vu_reset,
	.driver_ok = vu_driver_ok,
};

static int connect_backend(struct vu_blk *b)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(b->socket_path) >= sizeof(sa.sun_path)) {
		lgbox_warn("vhost-user socket path %s is too long", b->socket_path);
		return -1;
	}
	strcpy(sa.sun_path, b->socket_path);
	b->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (b->sock < 0 || connect(b->sock, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		lgbox_warn_errno("cannot connect to vhost-user backend %s (is block-export running?)",
				 b->socket_path);
		return -1;
	}
	return 0;
}

/* Features, config space and guest memory: everything before the driver comes. */
static int negotiate(struct vu_blk *b)
{
	struct vhost_user_config cfg = { .offset = 0, .size = BLK_CONFIG_SIZE };
	struct vhost_user_mem_table table = {
		.nregions = 1,
		.regions[0] = {
			.guest_phys_addr = 0,
			.memory_size = b->ram->size,
			.userspace_addr = (uintptr_t)b->ram->base,
		},
	};
	uint32_t cfg_size = offsetof(struct vhost_user_config, payload) + BLK_CONFIG_SIZE;
	uint64_t features, protocol;

	if (get_u64(b, VHOST_USER_GET_FEATURES, &features) < 0)
		return -1;
	if (!(features & (1ULL << VHOST_USER_F_PROTOCOL_FEATURES)) ||
	    get_u64(b, VHOST_USER_GET_PROTOCOL_FEATURES, &protocol) < 0 ||
	    !(protocol & (1ULL << VHOST_USER_PROTOCOL_F_CONFIG))) {
		lgbox_warn("vhost-user %s: the backend cannot report the disk's config space (no CONFIG protocol feature)",
			   b->socket_path);
		return -1;
	}
	if (set_u64(b, VHOST_USER_SET_PROTOCOL_FEATURES,
		    1ULL << VHOST_USER_PROTOCOL_F_CONFIG, -1) < 0 ||
	    send_msg(b, VHOST_USER_SET_OWNER, NULL, 0, -1) < 0 ||
	    transact(b, VHOST_USER_GET_CONFIG, &cfg, cfg_size, &cfg, cfg_size) < 0 ||
	    send_msg(b, VHOST_USER_SET_MEM_TABLE, &table,
		     offsetof(struct vhost_user_mem_table, regions[1]), b->ram->fd) < 0)
		return -1;
	memcpy(b->config, cfg.payload, BLK_CONFIG_SIZE);
	/* One queue here; the transport offers VERSION_1, EVENT_IDX, INDIRECT itself. */
	b->dev.features = features & DEVICE_FEATURE_BITS & ~(1ULL << VIRTIO_BLK_F_MQ);
	return 0;
}

struct virtio_dev *vhost_user_blk_create(const char *socket_path, const struct guest_ram *ram)
{
	struct vu_blk *b = calloc(1, sizeof(*b));
	struct io_watch w = { .events = POLLIN, .ready = call_ready };

	if (!b)
		return NULL;
	virtio_dev_init(&b->dev, &vu_blk_ops, b, &ram->mem);
	b->socket_path = socket_path;
	b->ram = ram;
	b->sock = -1;
	b->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	b->call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (b->kick_fd < 0 || b->call_fd < 0 || connect_backend(b) < 0 || negotiate(b) < 0)
		goto fail;
	b->dev.config = b->config;
	b->dev.config_len = sizeof(b->config);
	w.fd = b->call_fd;
	w.ctx = &b->dev;
	if (ioloop_add(&w) < 0)
		goto fail;
	return &b->dev;
fail:
	if (b->sock >= 0)
		close(b->sock);
	if (b->kick_fd >= 0)
		close(b->kick_fd);
	if (b->call_fd >= 0)
		close(b->call_fd);
	free(b);
	return NULL;
}
