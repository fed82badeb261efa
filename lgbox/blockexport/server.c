/*
 * Listeners, the accept loop and per-connection threads of block-export.
 *
 * Shutdown works by shutdown(2)ing every client socket: each thread then
 * sees end-of-stream wherever it is blocked and unwinds through its normal
 * exit path, so there is no thread cancellation and no lost cleanup.
 */
#define _GNU_SOURCE
#include "server.h"
#include "../lgbox.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS 256

struct conn {
	int fd;
	char peer[96];
	struct server *server;
	struct listener *listener;
	struct conn *next;
};

static pthread_mutex_t conns_lock = PTHREAD_MUTEX_INITIALIZER;
static struct conn *conns;
static int n_conns;

static struct listener *new_listener(struct server *s, int fd, enum front_end fe)
{
	struct listener *l;

	if (s->n_listeners == SERVER_MAX_LISTENERS) {
		lgbox_warn("too many listening sockets (at most %d)", SERVER_MAX_LISTENERS);
		close(fd);
		return NULL;
	}
	l = &s->listeners[s->n_listeners++];
	memset(l, 0, sizeof(*l));
	l->fd = fd;
	l->front_end = fe;
	return l;
}

static const char *front_end_name(enum front_end fe)
{
	return fe == FRONT_NBD ? "nbd" : "vhost-user-blk";
}

/*
 * "[ADDR:]PORT": ADDR a numeric IPv4 or IPv6 address ("[v6]" too) or
 * localhost, no ADDR meaning loopback only.  Host names are not resolved: a
 * listening address is the machine's own, and the resolver would cost
 * lgbox 13 KB.
 */
int server_parse_tcp(const char *spec, struct tcp_address *out)
{
	const char *colon = strrchr(spec, ':'), *port_text = colon ? colon + 1 : spec;
	struct sockaddr_in *in = (struct sockaddr_in *)&out->sa;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&out->sa;
	char host[INET6_ADDRSTRLEN];
	size_t host_len = colon ? (size_t)(colon - spec) : 0;
	uint64_t port;

	memset(out, 0, sizeof(*out));
	if (host_len >= 2 && spec[0] == '[' && spec[host_len - 1] == ']') {
		spec++;
		host_len -= 2;
	}
	if ((colon && !host_len) || host_len >= sizeof(host) ||
	    lgbox_parse_uint(port_text, 65535, &port) < 0)
		return -1;
	memcpy(host, colon ? spec : "127.0.0.1", colon ? host_len : 10);
	host[colon ? host_len : 9] = '\0';
	if (!strcmp(host, "localhost"))
		strcpy(host, "127.0.0.1");
	if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		out->len = sizeof(*in);
	} else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		out->len = sizeof(*in6);
	} else {
		return -1;
	}
	snprintf(out->text, sizeof(out->text), "%s%s%s:%u", out->len == sizeof(*in) ? "" : "[",
		 host, out->len == sizeof(*in) ? "" : "]", (unsigned int)port);
	return 0;
}

int server_listen_tcp(struct server *s, const struct tcp_address *addr, enum front_end fe)
{
	struct listener *l;
	int fd, one = 1;

	fd = socket(addr->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (const struct sockaddr *)&addr->sa, addr->len) < 0 || listen(fd, 64) < 0) {
		lgbox_warn_errno("cannot listen on TCP %s", addr->text);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	l = new_listener(s, fd, fe);
	if (!l)
		return -1;
	snprintf(l->desc, sizeof(l->desc), "%s tcp %s", front_end_name(fe), addr->text);
	return 0;
}

/*
 * A socket file left by a crashed server is removed; one that still accepts
 * connections belongs to a live server and is left alone.
 */
static int remove_stale_socket(const struct sockaddr_un *addr)
{
	struct stat st;
	int probe, in_use;

	if (lstat(addr->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(st.st_mode)) {
		errno = EEXIST;
		return -1;
	}
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe < 0)
		return -1;
	in_use = connect(probe, (const struct sockaddr *)addr, sizeof(*addr)) == 0;
	close(probe);
	if (in_use) {
		errno = EADDRINUSE;
		return -1;
	}
	return unlink(addr->sun_path);
}

int server_listen_unix(struct server *s, const char *path, enum front_end fe)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct listener *l;
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		lgbox_warn("unix socket path \"%s\" is too long (at most %zu bytes)", path,
			   sizeof(addr.sun_path) - 1);
		return -1;
	}
	strcpy(addr.sun_path, path);
	if (remove_stale_socket(&addr) < 0) {
		lgbox_warn_errno("cannot use %s as a socket path", path);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 16) < 0) {
		lgbox_warn_errno("cannot listen on unix socket %s", path);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	l = new_listener(s, fd, fe);
	if (!l)
		return -1;
	l->unix_path = strdup(path);
	snprintf(l->desc, sizeof(l->desc), "%s unix %s", front_end_name(fe), path);
	return 0;
}

static void describe_peer(const struct listener *l, const struct sockaddr_storage *ss,
			  char *out, size_t size)
{
	static unsigned long unix_clients;
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned int port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
	} else {
		snprintf(out, size, "#%lu on %s", ++unix_clients, l->unix_path);
		return;
	}
	snprintf(out, size, "%s:%u", host, port);
}

static void *conn_thread(void *arg)
{
	struct conn *c = arg;
	struct conn **pp;

	if (c->listener->front_end == FRONT_NBD)
		nbd_serve(c->fd, c->server->exp, c->peer);
	else
		vhost_user_blk_serve(c->fd, c->server->exp, c->peer);

	pthread_mutex_lock(&conns_lock);
	for (pp = &conns; *pp != c; pp = &(*pp)->next)
		;
	*pp = c->next;
	if (c->listener->front_end == FRONT_VHOST_USER_BLK)
		c->listener->busy = false;
	close(c->fd);
	n_conns--;
	pthread_mutex_unlock(&conns_lock);
	free(c);
	return NULL;
}

/* Refuses a connection the server cannot take, telling the log why. */
static bool admit(const struct listener *l, const char *peer)
{
	if (n_conns >= MAX_CLIENTS) {
		lgbox_warn("%s: refusing client %s: already %d clients", l->desc, peer, n_conns);
		return false;
	}
	if (l->busy) {
		/* vhost-user is one frontend per socket; a second one would fight the first. */
		lgbox_warn("%s: refusing client %s: another frontend is connected", l->desc, peer);
		return false;
	}
	return true;
}

static void accept_client(struct server *s, struct listener *l)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	pthread_attr_t attr;
	pthread_t tid;
	struct conn *c;
	int fd, one = 1;

	fd = accept4(l->fd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
			lgbox_warn_errno("%s: accept failed", l->desc);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		lgbox_warn("%s: out of memory for a new client", l->desc);
		close(fd);
		return;
	}
	c->fd = fd;
	c->server = s;
	c->listener = l;
	describe_peer(l, &ss, c->peer, sizeof(c->peer));
	if (ss.ss_family != AF_UNIX)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

	pthread_mutex_lock(&conns_lock);
	if (!admit(l, c->peer))
		goto refuse;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	if (pthread_create(&tid, &attr, conn_thread, c) != 0) {
		pthread_attr_destroy(&attr);
		lgbox_warn("%s: cannot start a thread for client %s", l->desc, c->peer);
		goto refuse;
	}
	pthread_attr_destroy(&attr);
	c->next = conns;
	conns = c;
	n_conns++;
	if (l->front_end == FRONT_VHOST_USER_BLK)
		l->busy = true;
	pthread_mutex_unlock(&conns_lock);
	return;

refuse:
	pthread_mutex_unlock(&conns_lock);
	close(fd);
	free(c);
}

void server_block_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);	/* a vanished client is an EPIPE, not a death */
}

/* Once, at shutdown: polling costs less than a condition variable (2 KB). */
static void disconnect_all_clients(void)
{
	struct timespec tick = { .tv_nsec = 10 * 1000 * 1000 };

	pthread_mutex_lock(&conns_lock);
	for (struct conn *c = conns; c; c = c->next)
		shutdown(c->fd, SHUT_RDWR);
	while (n_conns > 0) {
		pthread_mutex_unlock(&conns_lock);
		nanosleep(&tick, NULL);
		pthread_mutex_lock(&conns_lock);
	}
	pthread_mutex_unlock(&conns_lock);
}

static void close_listeners(struct server *s)
{
	for (int i = 0; i < s->n_listeners; i++) {
		struct listener *l = &s->listeners[i];

		close(l->fd);
		if (l->unix_path) {
			unlink(l->unix_path);
			free(l->unix_path);
		}
	}
	s->n_listeners = 0;
}

int server_run(struct server *s)
{
	struct pollfd pfd[SERVER_MAX_LISTENERS + 1];
	sigset_t set;
	int sfd, err;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0)
		lgbox_die_errno("cannot create a signalfd");
	for (int i = 0; i < s->n_listeners; i++)
		pfd[i] = (struct pollfd){ .fd = s->listeners[i].fd, .events = POLLIN };
	pfd[s->n_listeners] = (struct pollfd){ .fd = sfd, .events = POLLIN };

	while (!(pfd[s->n_listeners].revents & POLLIN)) {
		if (poll(pfd, (nfds_t)s->n_listeners + 1, -1) < 0 && errno != EINTR)
			lgbox_die_errno("poll failed");
		for (int i = 0; i < s->n_listeners; i++)
			if (pfd[i].revents & POLLIN)
				accept_client(s, &s->listeners[i]);
	}
	close(sfd);
	close_listeners(s);
	disconnect_all_clients();
	err = blkfile_flush(&s->exp->disk.image);
	if (err)
		lgbox_warn("final flush of the image failed: %s", strerror(-err));
	return err ? -1 : 0;
}
