/*
 * host_devices.h - the host side of launch's block and net devices: opens
 * images, overlays, vhost-user sockets and tap devices as the options say
 * and wraps them in virtio device models.  NULL (message printed) on error.
 */
#ifndef LGBOX_LAUNCH_HOST_DEVICES_H
#define LGBOX_LAUNCH_HOST_DEVICES_H

#include "launch.h"

struct virtio_dev *host_block_create(const struct block_opt *opt,
				     const struct guest_ram *ram, unsigned int index);
struct virtio_dev *host_net_create(const struct net_opt *opt, const struct guest_mem *mem);

#endif /* LGBOX_LAUNCH_HOST_DEVICES_H */
