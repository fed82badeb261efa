/*
 * The one image block-export serves and the protocol front ends serving it.
 * Every front end runs one connection in its own thread with blocking I/O on
 * the shared blkfile; positional I/O needs no locking between them.
 */
#ifndef LGBOX_BLOCKEXPORT_EXPORT_H
#define LGBOX_BLOCKEXPORT_EXPORT_H

#include "../virtio/blk.h"

struct export {
	struct blk_disk disk;		/* NBD uses disk.image; vhost-user the blk engine */
	const char *name;		/* NBD export name */
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
