/*
 * console-attach: connect the user's terminal (or a pipe) to a running
 * guest's console socket, /run/lguest/NAME/console, served by launch.
 *
 * The protocol is raw bytes both ways: launch first replays recent output,
 * then streams live output, and passes whatever attachers send to the
 * guest.  On a terminal, console-attach switches to raw mode (the guest's
 * tty does echo and line editing) and watches for the detach key; the
 * terminal mode is restored on every way out: detach, guest gone, stdin
 * hang-up, and SIGTERM/SIGHUP/SIGINT (re-raised after the restore so the
 * parent sees the signal).  Without a terminal it is a script tool: stdin
 * goes to the guest, and after stdin's end it keeps printing until the
 * console has been quiet for the drain time.
 *
 * The socket is non-blocking and stdin is read only once the previous
 * input has been sent, so a guest that stops reading cannot deadlock us
 * while it is still producing output.
 */
//kconfig:config LGBOX_CONSOLE_ATTACH
//kconfig:	bool "console-attach: attach a terminal or a pipe to a guest console"
//kconfig:	default y
//kconfig:	help
//kconfig:	  Connects to the console socket of a guest started by
//kconfig:	  "lgbox launch" (raw terminal, detach key, read-only mode,
//kconfig:	  pipe mode for scripts).
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* ppoll */
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../lgbox.h"
#include "../lib/tty.h"

static int console_attach_main(int argc, char **argv);

LGBOX_APPLET("console-attach", console_attach_main,
	"[-r] [-q] [-e KEY] [--drain SECONDS] [--run-dir DIR] NAME|SOCKET\n"
	"\n"
	"Attach to the console of the running guest NAME (socket RUN-DIR/NAME/console)\n"
	"or to the console socket SOCKET (any argument containing a '/').\n"
	"On a terminal: raw mode, detach with Ctrl-] (the guest keeps running).\n"
	"Without a terminal: stdin is sent to the guest, output is printed until the\n"
	"console has been quiet for the drain time after stdin ends, or the guest closes it.\n"
	"\n"
	"Options:\n"
	"  -r, --read-only      never send anything to the guest\n"
	"  -e, --escape KEY     detach key: ^X style (default ^]), or none\n"
	"  -q, --quiet          no attach/detach notes on stderr\n"
	"  --drain SECONDS      quiet time that ends pipe mode after stdin's end (default 1)\n"
	"  --run-dir DIR        directory of the guests' run dirs (default /run/lguest)\n");

#define DEFAULT_RUN_DIR "/run/lguest"
#define IO_CHUNK 16384

enum end_reason { STILL_ATTACHED, DETACHED, PEER_CLOSED, INPUT_DONE, OUTPUT_CLOSED, SIGNALLED };

struct attach {
	char name[300];		/* for messages: "guest NAME" or "the guest on PATH" */
	int sock;
	bool interactive;	/* stdin is a terminal in raw mode */
	bool read_only;
	int escape_key;
	long drain_ms;
	bool stdin_open;
	char pending[IO_CHUNK];	/* input read but not yet sent */
	size_t pending_len, pending_off;
	struct timespec drain_deadline;
};

static volatile sig_atomic_t caught_signal;
static struct tty_saved saved_tty;

static void on_signal(int sig)
{
	caught_signal = sig;
}

static void restore_tty_at_exit(void)
{
	tty_restore(&saved_tty);
}

/* Blocks the ending signals; they are only let in while waiting in ppoll. */
static void install_signals(sigset_t *wait_mask)
{
	static const int ending[] = { SIGTERM, SIGHUP, SIGINT, SIGQUIT };
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block;
	size_t i;

	sigemptyset(&block);
	for (i = 0; i < sizeof(ending) / sizeof(ending[0]); i++) {
		sigaction(ending[i], &sa, NULL);
		sigaddset(&block, ending[i]);
	}
	sigprocmask(SIG_BLOCK, &block, wait_mask);
	for (i = 0; i < sizeof(ending) / sizeof(ending[0]); i++)
		sigdelset(wait_mask, ending[i]);
	signal(SIGPIPE, SIG_IGN);	/* EPIPE from write() is handled instead */
}

static int socket_path(const char *target, const char *run_dir, char *path, size_t size)
{
	int len;

	if (strchr(target, '/'))
		len = snprintf(path, size, "%s", target);
	else
		len = snprintf(path, size, "%s/%s/console", run_dir, target);
	return len < 0 || (size_t)len >= size ? -ENAMETOOLONG : 0;
}

static int connect_console(const char *what, const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int sock;

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		lgbox_die_errno("cannot create a unix socket");
	if (connect(sock, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
		fcntl(sock, F_SETFL, O_NONBLOCK);
		return sock;
	}
	if (errno == ENOENT)
		lgbox_die("%s is not running (no console socket %s); "
			  "start it with 'lgbox launch' first", what, path);
	if (errno == ECONNREFUSED)
		lgbox_die("%s is not running (nothing listens on %s; "
			  "the socket was left behind by a launch that ended)", what, path);
	lgbox_die_errno("cannot connect to the console of %s at %s", what, path);
}

/* Writes all of buf to a blocking fd; false on failure (errno set). */
static bool write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t done = write(fd, buf, len);

		if (done < 0 && errno == EINTR)
			continue;
		if (done <= 0)
			return false;
		buf += done;
		len -= done;
	}
	return true;
}

static void set_drain_deadline(struct attach *at)
{
	clock_gettime(CLOCK_MONOTONIC, &at->drain_deadline);
	at->drain_deadline.tv_sec += at->drain_ms / 1000;
	at->drain_deadline.tv_nsec += (at->drain_ms % 1000) * 1000000;
	if (at->drain_deadline.tv_nsec >= 1000000000) {
		at->drain_deadline.tv_sec++;
		at->drain_deadline.tv_nsec -= 1000000000;
	}
}

/* Time left to drain, or NULL (wait forever) while stdin is still open. */
static struct timespec *drain_timeout(struct attach *at, struct timespec *left)
{
	struct timespec now;

	if (at->stdin_open || at->interactive || at->read_only)
		return NULL;
	clock_gettime(CLOCK_MONOTONIC, &now);
	left->tv_sec = at->drain_deadline.tv_sec - now.tv_sec;
	left->tv_nsec = at->drain_deadline.tv_nsec - now.tv_nsec;
	if (left->tv_nsec < 0) {
		left->tv_sec--;
		left->tv_nsec += 1000000000;
	}
	if (left->tv_sec < 0)
		left->tv_sec = left->tv_nsec = 0;
	return left;
}

static enum end_reason copy_output(struct attach *at)
{
	char buf[IO_CHUNK];
	ssize_t len = read(at->sock, buf, sizeof(buf));

	if (len < 0 && (errno == EAGAIN || errno == EINTR))
		return STILL_ATTACHED;
	if (len <= 0)
		return PEER_CLOSED;
	if (!write_all(STDOUT_FILENO, buf, len))
		return OUTPUT_CLOSED;
	if (!at->stdin_open)
		set_drain_deadline(at);	/* the drain ends after a quiet period */
	return STILL_ATTACHED;
}

static enum end_reason read_input(struct attach *at)
{
	ssize_t len = read(STDIN_FILENO, at->pending, sizeof(at->pending));
	char *key;

	if (len < 0 && (errno == EAGAIN || errno == EINTR))
		return STILL_ATTACHED;
	if (len <= 0) {
		/* A terminal that hangs up is gone; a pipe's end starts the drain. */
		at->stdin_open = false;
		set_drain_deadline(at);
		return at->interactive ? INPUT_DONE : STILL_ATTACHED;
	}
	key = at->interactive && at->escape_key != TTY_KEY_NONE ?
	      memchr(at->pending, at->escape_key, len) : NULL;
	at->pending_off = 0;
	at->pending_len = key ? (size_t)(key - at->pending) : (size_t)len;
	if (at->read_only)
		at->pending_len = 0;
	return key ? DETACHED : STILL_ATTACHED;
}

static enum end_reason send_input(struct attach *at)
{
	ssize_t done = write(at->sock, at->pending + at->pending_off,
			     at->pending_len - at->pending_off);

	if (done < 0)
		return errno == EAGAIN || errno == EINTR ? STILL_ATTACHED : PEER_CLOSED;
	at->pending_off += done;
	if (at->pending_off == at->pending_len)
		at->pending_len = at->pending_off = 0;
	return STILL_ATTACHED;
}

static enum end_reason relay(struct attach *at, const sigset_t *wait_mask)
{
	enum end_reason end = STILL_ATTACHED;

	while (end == STILL_ATTACHED) {
		bool sending = at->pending_len > 0;
		/* stdin is polled for the detach key even in read-only mode. */
		bool reading = at->stdin_open && !sending && (at->interactive || !at->read_only);
		struct pollfd fds[2] = {
			{ .fd = at->sock, .events = POLLIN | (sending ? POLLOUT : 0) },
			{ .fd = reading ? STDIN_FILENO : -1, .events = POLLIN },
		};
		struct timespec left, *timeout = drain_timeout(at, &left);
		int ready = ppoll(fds, 2, timeout, wait_mask);

		if (caught_signal)
			return SIGNALLED;
		if (ready < 0 && errno != EINTR)
			lgbox_die_errno("waiting for console input/output failed");
		if (ready == 0)
			return INPUT_DONE;	/* the drain time passed quietly */
		if (ready < 0)
			continue;
		if (fds[0].revents & (POLLIN | POLLHUP | POLLERR))
			end = copy_output(at);
		if (end == STILL_ATTACHED && (fds[0].revents & POLLOUT))
			end = send_input(at);
		if (end == STILL_ATTACHED && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			end = read_input(at);
			/* What preceded the detach key: one try, never wait for it. */
			if (end == DETACHED && at->pending_len)
				send_input(at);
		}
	}
	return end;
}

static void note_end(const struct attach *at, enum end_reason end, bool quiet)
{
	if (end == PEER_CLOSED)
		lgbox_warn("%s closed the console (the guest stopped)", at->name);
	else if (quiet)
		return;
	else if (end == DETACHED)
		lgbox_warn("detached from %s (it keeps running)", at->name);
	else if (end == SIGNALLED)
		lgbox_warn("detached from %s on SIG%s", at->name,
			   caught_signal == SIGTERM ? "TERM" : caught_signal == SIGHUP ? "HUP" :
			   caught_signal == SIGINT ? "INT" : "QUIT");
}

static int console_attach_main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "read-only", no_argument, NULL, 'r' },
		{ "escape", required_argument, NULL, 'e' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "drain", required_argument, NULL, 'd' },
		{ "run-dir", required_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 }
	};
	struct attach at = { .escape_key = 0x1d, .drain_ms = 1000, .stdin_open = true };
	uint64_t drain_ms;
	const char *run_dir = DEFAULT_RUN_DIR;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)], key[16];
	enum end_reason end;
	sigset_t wait_mask;
	bool quiet = false;
	int opt;

	while ((opt = lgbox_getopt(argc, argv, "re:q", options)) != -1) {
		switch (opt) {
		case 'r':
			at.read_only = true;
			break;
		case 'e':
			at.escape_key = tty_parse_key(lgbox_optarg);
			if (at.escape_key < TTY_KEY_NONE)
				return lgbox_usage_error("bad value \"%s\" for --escape: expected a "
							 "^X style key (e.g. ^] or ^A) or none", lgbox_optarg);
			break;
		case 'q':
			quiet = true;
			break;
		case 'd':
			if (lgbox_parse_millis(lgbox_optarg, 3600 * 1000, &drain_ms) < 0)
				return lgbox_usage_error("bad value \"%s\" for --drain: expected "
							 "seconds from 0 to 3600, e.g. 0.5", lgbox_optarg);
			at.drain_ms = drain_ms;
			break;
		case 'R':
			run_dir = lgbox_optarg;
			break;
		}
	}
	if (lgbox_optind + 1 != argc)
		return lgbox_usage_error("expected one guest NAME or console SOCKET path");
	if (socket_path(argv[lgbox_optind], run_dir, path, sizeof(path)))
		return lgbox_usage_error("console socket path for %s is too long", argv[lgbox_optind]);
	snprintf(at.name, sizeof(at.name), "%s %s",
		 strchr(argv[lgbox_optind], '/') ? "the guest on" : "guest", argv[lgbox_optind]);

	at.sock = connect_console(at.name, path);
	install_signals(&wait_mask);
	at.interactive = isatty(STDIN_FILENO);
	if (!quiet)
		lgbox_warn("attached to %s%s%s%s", at.name, at.read_only ? " (read-only)" : "",
			   at.interactive ? "; detach key: " : "",
			   at.interactive ? tty_key_name(at.escape_key, key, sizeof(key)) : "");
	if (at.interactive) {
		atexit(restore_tty_at_exit);
		if (tty_enter_raw(STDIN_FILENO, &saved_tty) < 0)
			lgbox_die_errno("cannot put the terminal into raw mode");
	}

	end = relay(&at, &wait_mask);
	tty_restore(&saved_tty);
	close(at.sock);
	note_end(&at, end, quiet);
	if (end == SIGNALLED) {
		signal(caught_signal, SIG_DFL);
		sigprocmask(SIG_SETMASK, &wait_mask, NULL);
		raise(caught_signal);
	}
	return 0;
}
