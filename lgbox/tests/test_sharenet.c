/*
 * test_sharenet.c - launch's shared-memory network (launch/sharenet.c),
 * several ports of one network file in this process: the file is created
 * when missing; broadcast and multicast frames reach every other port,
 * unicast ones only the port with that MAC, never the sender; a receiver
 * that stops reading never blocks a sender and later gets the newest
 * frames in order; a sender wakes the receivers' eventfds; garbage another
 * launcher writes into the file (a huge length, a head that leaps or goes
 * back) is never delivered; the port of a launcher that died is taken over.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../launch/sharenet.h"
#include "../virtio/devices.h"
#include "test.h"

/* The file's layout, as sharenet.c documents it. */
#define PAGE		4096
#define SLOTS		64
#define SLOT_SIZE	2048
#define PORT_SIZE	(PAGE + SLOTS * SLOT_SIZE)
#define FILE_SIZE	(PAGE + 16 * PORT_SIZE)
#define HDR		12

static char path[] = "/tmp/lgbox-test-sharenet-XXXXXX";

struct port {
	struct net_backend be;
	int event_fd;
	uint8_t mac[6];
};

static struct port a, b, c;

static void join(struct port *p, uint8_t last)
{
	memcpy(p->mac, "\x02\x00\x00\x00\x00", 5);
	p->mac[5] = last;
	p->event_fd = sharenet_join(path, p->mac, &p->be);
	CHECK(p->event_fd >= 0);
}

/* A frame to dest with a one-byte payload tag. */
static ssize_t send_frame(struct port *from, const uint8_t *dest, uint8_t tag)
{
	uint8_t hdr[HDR] = { 0 }, frame[60] = { 0 };
	struct iovec iov[2] = { { hdr, HDR }, { frame, sizeof(frame) } };

	memcpy(frame, dest, 6);
	memcpy(frame + 6, from->mac, 6);
	frame[12] = 0x88;
	frame[13] = 0xb5;
	frame[14] = tag;
	return from->be.send(from->be.ctx, iov, 2);
}

/* The next frame's tag, or -1 when none is there. */
static int receive_tag(struct port *to)
{
	uint8_t buf[HDR + 1522];
	struct iovec iov = { buf, sizeof(buf) };
	ssize_t len = to->be.receive(to->be.ctx, &iov, 1);

	return len >= HDR + 15 ? buf[HDR + 14] : -1;
}

static const uint8_t broadcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t multicast[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };

static void network_file_is_created(void)
{
	struct stat st;

	CHECK(stat(path, &st) == 0 && st.st_size == FILE_SIZE);
}

static void broadcast_and_multicast_reach_every_other_port(void)
{
	CHECK(send_frame(&a, broadcast, 1) == HDR + 60);
	CHECK_EQ(receive_tag(&b), 1);
	CHECK_EQ(receive_tag(&c), 1);
	CHECK_EQ(receive_tag(&a), -1);		/* not back to the sender */
	CHECK(send_frame(&b, multicast, 2) > 0);
	CHECK_EQ(receive_tag(&a), 2);
	CHECK_EQ(receive_tag(&c), 2);
	CHECK_EQ(receive_tag(&b), -1);
}

static void unicast_reaches_its_mac_only(void)
{
	CHECK(send_frame(&a, b.mac, 3) > 0);
	CHECK_EQ(receive_tag(&c), -1);
	CHECK_EQ(receive_tag(&b), 3);
	CHECK_EQ(receive_tag(&b), -1);
}

static void a_sender_wakes_the_receivers(void)
{
	struct pollfd pfd = { .fd = c.event_fd, .events = POLLIN };
	uint64_t count;

	while (read(c.event_fd, &count, sizeof(count)) > 0)
		;
	CHECK(send_frame(&a, broadcast, 4) > 0);
	CHECK_EQ(poll(&pfd, 1, 3000), 1);
	CHECK_EQ(receive_tag(&c), 4);
	CHECK_EQ(receive_tag(&b), 4);
}

static void a_stalled_receiver_blocks_nobody(void)
{
	int i, tag, expected, ok = 1;

	for (i = 0; i < 200; i++)
		ok &= send_frame(&a, broadcast, i) > 0;
	CHECK(ok);
	/* b read nothing meanwhile: it gets the newest frames, in order. */
	expected = 200 - SLOTS;
	while ((tag = receive_tag(&b)) >= 0) {
		CHECK_EQ(tag, expected);
		expected++;
	}
	CHECK_EQ(expected, 200);
	while (receive_tag(&c) >= 0)
		;
}

static void garbage_in_the_file_is_never_delivered(void)
{
	uint8_t *file;
	uint64_t *head;
	int fd = open(path, O_RDWR);

	file = mmap(NULL, FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	CHECK(file != MAP_FAILED);
	/* a's port is port 0, the first taken. */
	head = (uint64_t *)(file + PAGE);
	/* The next slot claims a complete frame of 60000 bytes. */
	{
		uint64_t n = *head;
		uint8_t *slot = file + PAGE + PAGE + (n % SLOTS) * SLOT_SIZE;

		*(uint64_t *)slot = 2 * n + 2;
		*(uint32_t *)(slot + 8) = 60000;
		memset(slot + 16, 0xff, 6);
		__atomic_store_n(head, n + 1, __ATOMIC_RELEASE);
	}
	CHECK_EQ(receive_tag(&b), -1);
	/* A head that leaps far ahead: nothing there is complete. */
	__atomic_store_n(head, 1ULL << 62, __ATOMIC_RELEASE);
	CHECK_EQ(receive_tag(&b), -1);
	/* a's next frame moves the head back: b reads on from there. */
	CHECK(send_frame(&a, broadcast, 5) > 0);
	CHECK_EQ(receive_tag(&b), -1);
	CHECK(send_frame(&a, broadcast, 6) > 0);
	CHECK_EQ(receive_tag(&b), 6);
	munmap(file, FILE_SIZE);
	while (receive_tag(&c) >= 0)
		;
}

static void a_dead_launchers_port_is_taken_over(void)
{
	struct port d, e;
	pid_t pid = fork();
	int status;

	if (pid == 0) {		/* a launcher that joins (port 3) and dies */
		join(&d, 4);
		_exit(send_frame(&d, broadcast, 7) > 0 ? 0 : 1);
	}
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_EQ(receive_tag(&a), 7);	/* its frame still arrives */
	CHECK_EQ(receive_tag(&b), 7);
	join(&e, 5);			/* takes port 3 over */
	CHECK(send_frame(&e, a.mac, 8) > 0);
	CHECK_EQ(receive_tag(&a), 8);
	CHECK_EQ(receive_tag(&b), -1);
	CHECK(send_frame(&a, e.mac, 9) > 0);
	CHECK_EQ(receive_tag(&e), 9);
}

int main(void)
{
	int fd = mkstemp(path);

	close(fd);
	unlink(path);		/* sharenet_join creates it */
	join(&a, 1);
	join(&b, 2);
	join(&c, 3);
	TEST_RUN(network_file_is_created);
	TEST_RUN(broadcast_and_multicast_reach_every_other_port);
	TEST_RUN(unicast_reaches_its_mac_only);
	TEST_RUN(a_sender_wakes_the_receivers);
	TEST_RUN(a_stalled_receiver_blocks_nobody);
	TEST_RUN(garbage_in_the_file_is_never_delivered);
	TEST_RUN(a_dead_launchers_port_is_taken_over);
	unlink(path);
	return test_summary();
}
