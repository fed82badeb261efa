/*
 * test_console.c - launch's console back ends (launch/console.c) with the
 * real I/O thread: the socket replays the last 16 KiB then streams live
 * output, attacher input reaches the guest side, a stalled attacher is
 * dropped instead of blocking output, and the log file rotates at its cap.
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../launch/launch.h"
#include "test.h"

static char dir[] = "/tmp/lgbox-test-console-XXXXXX";
static char sock_path[128], log_path[128];
static char typed[64];
static size_t typed_len;
static pthread_mutex_t typed_lock = PTHREAD_MUTEX_INITIALIZER;

static size_t guest_input(void *ctx, const void *buf, size_t len)
{
	(void)ctx;
	pthread_mutex_lock(&typed_lock);
	if (len > sizeof(typed) - typed_len)
		len = sizeof(typed) - typed_len;
	memcpy(typed + typed_len, buf, len);
	typed_len += len;
	pthread_mutex_unlock(&typed_lock);
	return len;
}

static bool guest_has_room(void *ctx)
{
	(void)ctx;
	return true;
}

static int attach(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	strcpy(sa.sun_path, sock_path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	return fd;
}

/* Reads exactly len bytes or fails after 5 s. */
static ssize_t read_exactly(int fd, void *buf, size_t len)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t got = 0;
	ssize_t n;

	while (got < len && poll(&p, 1, 5000) == 1) {
		n = read(fd, (char *)buf + got, len - got);
		if (n <= 0)
			break;
		got += n;
	}
	return got;
}

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 7 + i / 251);
}

static void socket_replays_last_16k_then_streams(void)
{
	static uint8_t out[20000], got[16384];
	size_t i;
	int fd, ok = 1;

	for (i = 0; i < sizeof(out); i++)
		out[i] = pattern(i);
	console_write(out, sizeof(out));
	fd = attach();
	CHECK(fd >= 0);
	CHECK_EQ(read_exactly(fd, got, sizeof(got)), sizeof(got));
	for (i = 0; i < sizeof(got); i++)
		ok &= got[i] == pattern(sizeof(out) - sizeof(got) + i);
	CHECK(ok);
	console_write("live!", 5);
	CHECK_EQ(read_exactly(fd, got, 5), 5);
	CHECK(memcmp(got, "live!", 5) == 0);
	close(fd);
}

static void attacher_input_reaches_the_guest(void)
{
	char drain[16384];
	int fd = attach(), tries;

	CHECK_EQ(read_exactly(fd, drain, sizeof(drain)), sizeof(drain));
	CHECK_EQ(write(fd, "typed", 5), 5);
	for (tries = 0; tries < 500; tries++) {
		pthread_mutex_lock(&typed_lock);
		if (typed_len >= 5) {
			pthread_mutex_unlock(&typed_lock);
			break;
		}
		pthread_mutex_unlock(&typed_lock);
		usleep(10000);
	}
	CHECK_EQ(typed_len, 5);
	CHECK(memcmp(typed, "typed", 5) == 0);
	close(fd);
}

static void stalled_attacher_is_dropped_not_waited_for(void)
{
	static char block[65536];
	char buf[16384];
	int fd = attach(), i;
	ssize_t n;

	/* Once the replay is here, the I/O thread has accepted us. */
	CHECK_EQ(read_exactly(fd, buf, sizeof(buf)), sizeof(buf));
	/* Far more than a socket buffer holds, never read: must not block. */
	alarm(20);
	for (i = 0; i < 64; i++)
		console_write(block, sizeof(block));
	alarm(0);
	/* Once the buffered bytes are read, the dropped attacher sees EOF. */
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	CHECK_EQ(n, 0);
	close(fd);
}

static off_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : -1;
}

static void log_rotates_at_its_cap(void)
{
	char old[160], line[1000];
	int i;

	memset(line, 'x', sizeof(line));
	for (i = 0; i < 40; i++)
		console_write(line, sizeof(line));
	snprintf(old, sizeof(old), "%s.old", log_path);
	CHECK(file_size(log_path) <= 8192 && file_size(log_path) > 0);
	CHECK(file_size(old) <= 8192 && file_size(old) > 0);
}

int main(void)
{
	struct launch_opts opts = { 0 };
	char old[160];

	if (!mkdtemp(dir))
		return 1;
	snprintf(sock_path, sizeof(sock_path), "%s/console", dir);
	snprintf(log_path, sizeof(log_path), "%s/console.log", dir);
	opts.consoles[0] = (struct console_opt){ .kind = CONSOLE_SOCKET };
	opts.consoles[1] = (struct console_opt){ .kind = CONSOLE_LOG, .path = log_path,
						 .max_size = 8192 };
	opts.nr_consoles = 2;
	console_set_input(guest_input, guest_has_room, NULL);
	if (console_setup(&opts, sock_path) < 0 || ioloop_start() < 0)
		return 1;
	TEST_RUN(socket_replays_last_16k_then_streams);
	TEST_RUN(attacher_input_reaches_the_guest);
	TEST_RUN(stalled_attacher_is_dropped_not_waited_for);
	TEST_RUN(log_rotates_at_its_cap);
	console_cleanup();
	snprintf(old, sizeof(old), "%s.old", log_path);
	unlink(log_path);
	unlink(old);
	rmdir(dir);
	return test_summary();
}
