/*
 * The one image block-export serves and the protocol front ends serving it.
 * Every front end runs one connection in its own thread with blocking I/O on
 * the shared blkfile; positional I/O needs no locking between them.
 */
#ifndef LGBOX_BLOCKEXPORT_EXPORT_H
#define LGBOX_BLOCKEXPORT_EXPORT_H

#include "../lib/blkfile.h"

struct export {
	struct blkfile bf;
	const char *name;		/* NBD export name */
	const char *serial;		/* virtio-blk GET_ID answer (at most 20 bytes used) */
	unsigned int max_queues;	/* vhost-user-blk queues offered */
};

/*
 * Serves one NBD client on connected socket @fd until it disconnects or
 * breaks the protocol (logged with @peer).  Does not close @fd.
 */
void nbd_serve(int fd, struct export *exp, const char *peer);

/* Same for one vhost-user-blk frontend (QEMU) on unix socket @fd. */
void vhost_user_blk_serve(int fd, struct export *exp, const char *peer);

#endif
