/*
 * vhost_user_blk.h - launch's vhost-user-blk frontend (vhost_user_blk.c):
 * a virtio-blk device served by a backend process over a unix socket.
 */
#ifndef LGBOX_LAUNCH_VHOST_USER_BLK_H
#define LGBOX_LAUNCH_VHOST_USER_BLK_H

#include "launch.h"

/* Connects and negotiates; NULL with a message if the backend is unusable. */
struct virtio_dev *vhost_user_blk_create(const char *socket_path, const struct guest_ram *ram);

#endif /* LGBOX_LAUNCH_VHOST_USER_BLK_H */
