/*
 * console.c - where the guest's console goes: stdio (foreground), a unix
 * socket for console-attach, and/or a log file with a size cap.  Output
 * from the early hypercall console and from virtio-console (hvc0) is one
 * stream; input from stdin and from every attacher is merged in arrival
 * order and handed to virtio-console.
 *
 * Socket protocol (common to launch and console-attach): on connect the
 * attacher first receives the last 16 KiB of output (replay), then live
 * output; raw bytes both ways.  An attacher whose socket buffer is full is
 * disconnected rather than waited for: a stalled terminal must never stall
 * the guest.  The log file is renamed to FILE.old when it reaches its cap,
 * so at most twice the cap is kept.
 *
 * On a terminal the stdio console switches it to raw input, since the
 * guest's own tty echoes and edits lines, but keeps two things cooked:
 * ISIG, so that Ctrl-C still stops launch (the guest never sees it), and
 * output processing, so the early console's bare "\n" still starts a line.
 * The mode is restored at exit.
 */
#define _GNU_SOURCE	/* accept4 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../lgbox.h"
#include "../lib/tty.h"
#include "launch.h"

#define REPLAY_SIZE	16384
#define MAX_ATTACHERS	8

static struct {
	pthread_mutex_t lock;
	bool to_stdout, from_stdin;
	int log_fd;
	char *log_path;
	uint64_t log_size, log_max;
	int listen_fd;
	int attachers[MAX_ATTACHERS];
	unsigned int nr_attachers;
	/* Ring of the last REPLAY_SIZE bytes: replay_len valid, ending at replay_end. */
	size_t replay_end, replay_len;
	/* virtio-console's input side, set once before the I/O thread runs */
	size_t (*input)(void *ctx, const void *buf, size_t len);
	bool (*has_room)(void *ctx);
	void *input_ctx;
} con = { .lock = PTHREAD_MUTEX_INITIALIZER, .log_fd = -1, .listen_fd = -1 };

/* Apart from con: in .bss it costs no bytes in the binary. */
static uint8_t replay[REPLAY_SIZE];

static struct tty_saved stdin_tty;

static void restore_stdin_tty(void)
{
	tty_restore(&stdin_tty);
}

static void stdin_to_raw_input(void)
{
	struct termios mode;

	if (!isatty(STDIN_FILENO) || tty_enter_raw(STDIN_FILENO, &stdin_tty) < 0)
		return;
	atexit(restore_stdin_tty);
	if (tcgetattr(STDIN_FILENO, &mode) == 0) {
		mode.c_lflag |= ISIG;
		mode.c_oflag |= OPOST;
		tcsetattr(STDIN_FILENO, TCSANOW, &mode);
	}
}

static void replay_append(const uint8_t *buf, size_t len)
{
	if (len > REPLAY_SIZE) {
		buf += len - REPLAY_SIZE;
		len = REPLAY_SIZE;
	}
	while (len) {
		size_t chunk = REPLAY_SIZE - con.replay_end;

		if (chunk > len)
			chunk = len;
		memcpy(replay + con.replay_end, buf, chunk);
		con.replay_end = (con.replay_end + chunk) % REPLAY_SIZE;
		con.replay_len = con.replay_len + chunk > REPLAY_SIZE ?
				 REPLAY_SIZE : con.replay_len + chunk;
		buf += chunk;
		len -= chunk;
	}
}

static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

static int open_log(void)
{
	struct stat st;

	con.log_fd = open(con.log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (con.log_fd < 0 || fstat(con.log_fd, &st) < 0)
		return -1;
	con.log_size = st.st_size;
	return 0;
}

static void rotate_log(void)
{
	char old[4096];

	snprintf(old, sizeof(old), "%s.old", con.log_path);
	close(con.log_fd);
	if (rename(con.log_path, old) < 0 || open_log() < 0) {
		lgbox_warn_errno("console log %s: cannot rotate; logging stops", con.log_path);
		con.log_fd = -1;
	}
}

static void log_write(const void *buf, size_t len)
{
	if (con.log_fd < 0)
		return;
	if (con.log_max && con.log_size + len > con.log_max && con.log_size)
		rotate_log();
	if (con.log_fd >= 0 && write_all(con.log_fd, buf, len) == 0)
		con.log_size += len;
}

static void drop_attacher(unsigned int i)
{
	ioloop_remove(con.attachers[i]);
	close(con.attachers[i]);
	con.attachers[i] = con.attachers[--con.nr_attachers];
}

void console_write(const void *buf, size_t len)
{
	unsigned int i;

	pthread_mutex_lock(&con.lock);
	replay_append(buf, len);
	if (con.to_stdout)
		write_all(STDOUT_FILENO, buf, len);
	log_write(buf, len);
	for (i = 0; i < con.nr_attachers;) {
		if (send(con.attachers[i], buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)len)
			drop_attacher(i);
		else
			i++;
	}
	pthread_mutex_unlock(&con.lock);
}

void console_set_input(size_t (*input)(void *ctx, const void *buf, size_t len),
		       bool (*has_room)(void *ctx), void *ctx)
{
	con.input = input;
	con.has_room = has_room;
	con.input_ctx = ctx;
}

static bool input_wanted(void *unused)
{
	(void)unused;
	return con.has_room && con.has_room(con.input_ctx);
}

/* Reads what the device has room for; an attacher that hangs up is dropped. */
static void input_ready(void *unused, int fd, short revents)
{
	uint8_t buf[256];
	ssize_t n;
	unsigned int i;

	(void)unused;
	(void)revents;
	/* Another attacher may have filled the room since poll() began. */
	if (!input_wanted(NULL))
		return;
	n = read(fd, buf, sizeof(buf));
	if (n > 0) {
		/* Not under con.lock: the device's lock nests outside ours. */
		if (con.input)
			con.input(con.input_ctx, buf, n);
		return;
	}
	pthread_mutex_lock(&con.lock);
	if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
		if (fd == STDIN_FILENO) {
			ioloop_remove(fd);	/* stdin ended: output continues */
		} else {
			for (i = 0; i < con.nr_attachers; i++)
				if (con.attachers[i] == fd)
					drop_attacher(i);
		}
	}
	pthread_mutex_unlock(&con.lock);
}

static void send_replay(int fd)
{
	size_t start = (con.replay_end + REPLAY_SIZE - con.replay_len) % REPLAY_SIZE;
	size_t first = con.replay_len < REPLAY_SIZE - start ? con.replay_len : REPLAY_SIZE - start;
	struct timeval timeout = { .tv_sec = 1 };

	/* Blocking with a timeout: 16 KiB may exceed a fresh socket buffer. */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
	write_all(fd, replay + start, first);
	write_all(fd, replay, con.replay_len - first);
}

static void attacher_arrived(void *unused, int fd, short revents)
{
	struct io_watch w = { .events = POLLIN, .wanted = input_wanted, .ready = input_ready };
	int client;

	(void)unused;
	(void)revents;
	client = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
	if (client < 0)
		return;
	pthread_mutex_lock(&con.lock);
	if (con.nr_attachers == MAX_ATTACHERS) {
		pthread_mutex_unlock(&con.lock);
		close(client);
		lgbox_warn("console: more than %d attachers; refusing one", MAX_ATTACHERS);
		return;
	}
	send_replay(client);
	fcntl(client, F_SETFL, O_NONBLOCK);
	con.attachers[con.nr_attachers++] = client;
	w.fd = client;
	ioloop_add(&w);
	pthread_mutex_unlock(&con.lock);
}

static int listen_on(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct io_watch w = { .events = POLLIN, .ready = attacher_arrived };

	if (strlen(path) >= sizeof(sa.sun_path)) {
		lgbox_warn("console socket path %s is too long", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	con.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	unlink(path);
	if (con.listen_fd < 0 || bind(con.listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(con.listen_fd, 4) < 0) {
		lgbox_warn_errno("cannot listen on console socket %s", path);
		return -1;
	}
	w.fd = con.listen_fd;
	return ioloop_add(&w);
}

int console_setup(const struct launch_opts *opts, const char *socket_path)
{
	struct io_watch in = { .fd = STDIN_FILENO, .events = POLLIN,
			       .wanted = input_wanted, .ready = input_ready };
	unsigned int i;

	for (i = 0; i < opts->nr_consoles; i++) {
		const struct console_opt *c = &opts->consoles[i];

		switch (c->kind) {
		case CONSOLE_STDIO:
			con.to_stdout = true;
			if (!con.from_stdin && ioloop_add(&in) == 0) {
				con.from_stdin = true;
				stdin_to_raw_input();
			}
			break;
		case CONSOLE_SOCKET:
			if (con.listen_fd < 0 && listen_on(socket_path) < 0)
				return -1;
			break;
		case CONSOLE_LOG:
			con.log_path = c->path;
			con.log_max = c->max_size;
			if (open_log() < 0) {
				lgbox_warn_errno("cannot open console log %s", c->path);
				return -1;
			}
			break;
		}
	}
	return 0;
}

/* The socket file is the supervisor's to remove: the guest process may no longer. */
void console_cleanup(void)
{
	restore_stdin_tty();
}
