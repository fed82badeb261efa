/*
 * block-export's listening sockets and connection threads.  The main thread
 * polls the listeners and a signalfd; every accepted connection is served by
 * its own thread (blocking I/O keeps the protocol code linear), so one broken
 * client never stalls the others.
 */
#ifndef LGBOX_BLOCKEXPORT_SERVER_H
#define LGBOX_BLOCKEXPORT_SERVER_H

#include "export.h"

enum front_end { FRONT_NBD, FRONT_VHOST_USER_BLK };

#define SERVER_MAX_LISTENERS 8

struct listener {
	int fd;
	enum front_end front_end;
	char *unix_path;	/* removed at shutdown; NULL for TCP */
	char desc[320];	/* "nbd tcp 127.0.0.1:10809", for logs */
	bool busy;		/* vhost-user: a frontend is connected */
};

struct server {
	struct export *exp;
	struct listener listeners[SERVER_MAX_LISTENERS];
	int n_listeners;
};

#include <sys/socket.h>

/* A TCP listening address, checked before anything is opened. */
struct tcp_address {
	struct sockaddr_storage sa;
	socklen_t len;
	char text[64];		/* "127.0.0.1:10809", "[::]:10809" */
};
/* Parses "[ADDR:]PORT" (see server.c); 0, or -1 if it is not one. */
int server_parse_tcp(const char *spec, struct tcp_address *out);

/* Both return 0, or log what failed and return -1. */
int server_listen_tcp(struct server *s, const struct tcp_address *addr, enum front_end fe);
int server_listen_unix(struct server *s, const char *path, enum front_end fe);

/*
 * Serves until SIGTERM or SIGINT, then disconnects every client, waits for
 * their threads, flushes the image and removes the unix sockets.  The caller
 * must have blocked SIGTERM/SIGINT (see server_block_signals) before any
 * thread exists.  Returns 0, or -1 if the final flush failed.
 */
int server_run(struct server *s);
void server_block_signals(void);

#endif
