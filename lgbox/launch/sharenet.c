/*
 * sharenet.c - a network segment in a shared file (lguest's --sharenet):
 * every launcher that maps the same file gets a port in it, and the ports
 * form one Ethernet hub with address filtering, with no tap, bridge or
 * root-owned host interface.
 *
 * Layout (all sizes fixed, checked when an existing file is opened):
 *
 *   page 0      header: magic, geometry, and "wake", a futex word that
 *               every sender bumps
 *   port p      one page of port header (its "head": frames sent so far)
 *               and SLOTS slots of one frame each, written only by the
 *               port's owner
 *
 * A sender writes each frame once, into the next slot of its own port, and
 * never waits for anybody: slots are reused round-robin, so a slow or dead
 * receiver only loses frames (as on a real wire under overload) and can
 * never wedge a sender.  Receivers keep their own read position in every
 * other port and take the frames addressed to their MAC, to a group
 * address (broadcast, multicast), in order.  A slot's sequence word is
 * odd while its owner writes it and 2 * (frame number + 1) once it is
 * complete; a receiver copies the frame and then checks that the word did
 * not change, so it never delivers a half-written frame.
 *
 * Ports are claimed with an open-file-description lock on their first
 * byte: the kernel drops it when the owner dies, and the next launcher
 * takes the port over, continuing its frame numbering.
 *
 * Another guest's launcher writes everything a receiver reads here, so
 * nothing from the file is trusted: lengths are bounded, sequence words
 * checked, a head that goes backwards or leaps ahead only moves the
 * receiver's position, and at most SLOTS frames per port are looked at per
 * call.  Wake-ups: a watcher thread sleeps on the futex (with a timeout,
 * so a lost wake-up costs at most a second) and signals an eventfd that
 * launch's I/O thread polls.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../lgbox.h"
#include "../virtio/devices.h"
#include "../virtio/virtqueue.h"
#include "launch.h"
#include "sharenet.h"

#define SN_MAGIC	"lgbox sharenet 1"	/* 16 bytes, no NUL */
#define SN_PORTS	16
#define SN_SLOTS	64
#define SN_SLOT_SIZE	2048
#define SN_FRAME_MIN	14		/* an Ethernet header */
#define SN_FRAME_MAX	1522		/* 1500 bytes of payload, a VLAN tag */
#define SN_PAGE		4096
#define SN_PORT_SIZE	(SN_PAGE + SN_SLOTS * SN_SLOT_SIZE)
#define SN_FILE_SIZE	(SN_PAGE + SN_PORTS * SN_PORT_SIZE)
#define VNET_HDR_SIZE	12

struct sn_header {
	char magic[16];
	uint32_t ports, slots, slot_size, frame_max;
	uint32_t wake;		/* futex word */
};

struct sn_slot {
	uint64_t seq;		/* odd: being written; 2 * (n + 1): frame n */
	uint32_t len;
	uint32_t unused;
	uint8_t frame[SN_SLOT_SIZE - 16];
};

struct sn_port {
	uint64_t head;		/* frames sent so far */
};

struct sharenet {
	uint8_t *base;
	unsigned int port;		/* ours */
	uint64_t sent;			/* our head, kept here: the file's copy is public */
	uint64_t cursor[SN_PORTS];	/* next frame to read from each port */
	unsigned int next_port;		/* round robin over the senders */
	uint8_t mac[6];
	int event_fd;
	uint32_t wake_seen;		/* for the watcher's start */
};

static struct sn_header *header(struct sharenet *sn)
{
	return (struct sn_header *)sn->base;
}

static struct sn_port *port_at(struct sharenet *sn, unsigned int p)
{
	return (struct sn_port *)(sn->base + SN_PAGE + (size_t)p * SN_PORT_SIZE);
}

static struct sn_slot *slot_at(struct sharenet *sn, unsigned int p, uint64_t n)
{
	return (struct sn_slot *)((uint8_t *)port_at(sn, p) + SN_PAGE +
				  (n % SN_SLOTS) * SN_SLOT_SIZE);
}

static long futex(uint32_t *word, int op, uint32_t value, const struct timespec *timeout)
{
	return syscall(SYS_futex, word, op, value, timeout, NULL, 0);
}

static ssize_t sharenet_send(void *ctx, const struct iovec *iov, unsigned int n)
{
	struct sharenet *sn = ctx;
	struct sn_port *port = port_at(sn, sn->port);
	struct sn_slot *slot = slot_at(sn, sn->port, sn->sent);
	size_t total = 0, len;
	unsigned int i;

	for (i = 0; i < n; i++)
		total += iov[i].iov_len;
	if (total < VNET_HDR_SIZE + SN_FRAME_MIN || total > VNET_HDR_SIZE + SN_FRAME_MAX) {
		errno = EMSGSIZE;	/* the device counts it as dropped */
		return -1;
	}
	len = total - VNET_HDR_SIZE;
	__atomic_store_n(&slot->seq, 2 * sn->sent + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	iov_to_buf(iov, n, VNET_HDR_SIZE, slot->frame, len);
	__atomic_store_n(&slot->len, len, __ATOMIC_RELAXED);
	__atomic_store_n(&slot->seq, 2 * sn->sent + 2, __ATOMIC_RELEASE);
	sn->sent++;
	__atomic_store_n(&port->head, sn->sent, __ATOMIC_RELEASE);
	__atomic_add_fetch(&header(sn)->wake, 1, __ATOMIC_RELEASE);
	futex(&header(sn)->wake, FUTEX_WAKE, INT_MAX, NULL);
	return total;
}

static bool addressed_to(const struct sharenet *sn, const uint8_t *dest)
{
	return (dest[0] & 1) || !memcmp(dest, sn->mac, 6);	/* group bit: everyone */
}

/*
 * The next frame of port p for us into the guest's buffers; its length
 * with the vnet header, or 0 when the port has none.
 */
static ssize_t receive_from(struct sharenet *sn, unsigned int p, const struct iovec *iov,
			    unsigned int n)
{
	static const uint8_t zero_hdr[VNET_HDR_SIZE];
	uint64_t head = __atomic_load_n(&port_at(sn, p)->head, __ATOMIC_ACQUIRE);
	uint64_t *cursor = &sn->cursor[p];
	size_t room = 0;
	unsigned int i;

	for (i = 0; i < n; i++)
		room += iov[i].iov_len;
	/*
	 * A head that went back: read on from there.  One that leapt ahead:
	 * the frames in between are gone (overwritten), the newest are left.
	 */
	if (head < *cursor)
		*cursor = head;
	else if (head - *cursor > SN_SLOTS)
		*cursor = head - SN_SLOTS;
	while (*cursor < head) {
		uint64_t number = (*cursor)++;
		struct sn_slot *slot = slot_at(sn, p, number);
		uint64_t seq = __atomic_load_n(&slot->seq, __ATOMIC_ACQUIRE);
		uint32_t len = __atomic_load_n(&slot->len, __ATOMIC_RELAXED);
		uint8_t dest[6];

		if (seq != 2 * number + 2 || len < SN_FRAME_MIN || len > SN_FRAME_MAX)
			continue;	/* overwritten, being written, or garbage */
		memcpy(dest, slot->frame, 6);
		if (!addressed_to(sn, dest) || VNET_HDR_SIZE + len > room)
			continue;
		iov_from_buf(iov, n, 0, zero_hdr, VNET_HDR_SIZE);
		iov_from_buf(iov, n, VNET_HDR_SIZE, slot->frame, len);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&slot->seq, __ATOMIC_RELAXED) != seq)
			continue;	/* rewritten while we copied: the buffer is reused */
		return VNET_HDR_SIZE + len;
	}
	return 0;
}

static ssize_t sharenet_receive(void *ctx, const struct iovec *iov, unsigned int n)
{
	struct sharenet *sn = ctx;
	unsigned int i, p;
	ssize_t len;

	for (i = 0; i < SN_PORTS; i++) {
		p = (sn->next_port + i) % SN_PORTS;
		if (p == sn->port)
			continue;
		len = receive_from(sn, p, iov, n);
		if (len > 0) {
			sn->next_port = p + 1;
			return len;
		}
	}
	errno = EAGAIN;
	return -1;
}

static void poke(int event_fd)
{
	uint64_t one = 1;

	if (write(event_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		lgbox_warn_errno("sharenet: cannot signal the I/O thread");
}

/* The guest gave receive buffers: frames may be waiting for them. */
static void sharenet_rx_ready(void *ctx)
{
	poke(((struct sharenet *)ctx)->event_fd);
	ioloop_wake();
}

/* seen: the wake word when the port was joined, so no frame since is missed. */
static void *watch_wake_word(void *arg)
{
	struct sharenet *sn = arg;
	uint32_t *wake = &header(sn)->wake;
	uint32_t seen = sn->wake_seen, now;
	struct timespec second = { .tv_sec = 1 };

	for (;;) {
		now = __atomic_load_n(wake, __ATOMIC_ACQUIRE);
		if (now != seen) {
			seen = now;
			poke(sn->event_fd);
		}
		futex(wake, FUTEX_WAIT, seen, &second);
	}
	return NULL;
}

/* Another launcher may create the file at the same time: flock() orders us. */
static int map_network_file(const char *path, int fd, struct sharenet *sn)
{
	struct sn_header *h;
	struct stat st;

	if (flock(fd, LOCK_EX) < 0 || fstat(fd, &st) < 0) {
		lgbox_warn_errno("--sharenet %s: cannot lock it", path);
		return -1;
	}
	if (st.st_size == 0 && ftruncate(fd, SN_FILE_SIZE) < 0) {
		lgbox_warn_errno("--sharenet %s: cannot create the network file", path);
		return -1;
	}
	if (st.st_size != 0 && st.st_size != SN_FILE_SIZE) {
		lgbox_warn("--sharenet %s: %lld bytes, not a network file (%d bytes); another file of that name?",
			   path, (long long)st.st_size, SN_FILE_SIZE);
		return -1;
	}
	sn->base = mmap(NULL, SN_FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (sn->base == MAP_FAILED) {
		lgbox_warn_errno("--sharenet %s: cannot map it", path);
		return -1;
	}
	h = header(sn);
	if (st.st_size == 0) {
		*h = (struct sn_header){ .ports = SN_PORTS, .slots = SN_SLOTS,
					 .slot_size = SN_SLOT_SIZE, .frame_max = SN_FRAME_MAX };
		memcpy(h->magic, SN_MAGIC, sizeof(h->magic));
	} else if (memcmp(h->magic, SN_MAGIC, sizeof(h->magic)) || h->ports != SN_PORTS ||
		   h->slots != SN_SLOTS || h->slot_size != SN_SLOT_SIZE ||
		   h->frame_max != SN_FRAME_MAX) {
		lgbox_warn("--sharenet %s: not a network file of this lgbox (magic or geometry differ)",
			   path);
		return -1;
	}
	flock(fd, LOCK_UN);
	return 0;
}

/* The first free port; its lock lives as long as fd. */
static int claim_port(const char *path, int fd, struct sharenet *sn)
{
	unsigned int p;

	for (p = 0; p < SN_PORTS; p++) {
		struct flock lock = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
				      .l_start = SN_PAGE + (off_t)p * SN_PORT_SIZE, .l_len = 1 };

		if (fcntl(fd, F_OFD_SETLK, &lock) == 0) {
			sn->port = p;
			return 0;
		}
	}
	lgbox_warn("--sharenet %s: all %d ports are taken", path, SN_PORTS);
	return -1;
}

static int start_watcher(struct sharenet *sn)
{
	pthread_attr_t attr;
	pthread_t thread;
	sigset_t all, old;
	int err;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	sigfillset(&all);	/* signals are the vCPU thread's */
	pthread_sigmask(SIG_BLOCK, &all, &old);
	err = pthread_create(&thread, &attr, watch_wake_word, sn);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (err) {
		errno = err;
		lgbox_warn_errno("--sharenet: cannot start its watcher thread");
		return -1;
	}
	return 0;
}

int sharenet_join(const char *path, const uint8_t mac[6], struct net_backend *be)
{
	struct sharenet *sn = calloc(1, sizeof(*sn));
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	unsigned int p;

	if (!sn)
		lgbox_die("out of memory");
	if (fd < 0) {
		lgbox_warn_errno("--sharenet %s: cannot open or create it", path);
		return -1;
	}
	if (map_network_file(path, fd, sn) < 0 || claim_port(path, fd, sn) < 0)
		return -1;
	/* fd stays open: it holds our port. */
	memcpy(sn->mac, mac, 6);
	sn->wake_seen = __atomic_load_n(&header(sn)->wake, __ATOMIC_ACQUIRE);
	sn->sent = __atomic_load_n(&port_at(sn, sn->port)->head, __ATOMIC_ACQUIRE);
	for (p = 0; p < SN_PORTS; p++)
		sn->cursor[p] = __atomic_load_n(&port_at(sn, p)->head, __ATOMIC_ACQUIRE);
	sn->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (sn->event_fd < 0) {
		lgbox_warn_errno("--sharenet %s: cannot create an eventfd", path);
		return -1;
	}
	if (start_watcher(sn) < 0)
		return -1;
	*be = (struct net_backend){ sharenet_send, sharenet_receive, sharenet_rx_ready, sn };
	return sn->event_fd;
}

int sharenet_check(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return errno == ENOENT ? 0 : (lgbox_warn_errno("--sharenet %s", path), -1);
	if (st.st_size != SN_FILE_SIZE) {
		lgbox_warn("--sharenet %s: not a network file (%d bytes expected)", path,
			   SN_FILE_SIZE);
		return -1;
	}
	return 0;
}
