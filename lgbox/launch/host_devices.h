/*
 * host_devices.h - the host side of launch's block and net devices: opens
 * images, overlays, vhost-user sockets, tap devices and network files as
 * the options say and wraps them in virtio device models.  NULL (message
 * printed) on error.  dry_run: check, but create and change nothing.
 */
#ifndef LGBOX_LAUNCH_HOST_DEVICES_H
#define LGBOX_LAUNCH_HOST_DEVICES_H

#include "launch.h"

struct virtio_dev *host_block_create(const struct block_opt *opt,
				     const struct guest_ram *ram, unsigned int index, bool dry_run);
/* guest: the guest's name (default MACs on a network file depend on it). */
struct virtio_dev *host_net_create(const struct net_opt *opt, const char *guest,
				   const struct guest_mem *mem, bool dry_run);

#endif /* LGBOX_LAUNCH_HOST_DEVICES_H */
