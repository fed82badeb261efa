/*
 * host_devices.c - opens the host side of block and net devices for
 * launch (see host_devices.h).
 */
#include "../lgbox.h"
#include "../virtio/devices.h"
#include "host_devices.h"

struct virtio_dev *host_block_create(const struct block_opt *opt,
				     const struct guest_mem *mem, unsigned int index)
{
	(void)mem;
	(void)index;
	lgbox_warn("--block %s: virtio-blk is not in this build yet", opt->path);
	return NULL;
}

struct virtio_dev *host_net_create(const struct net_opt *opt,
				   const struct guest_mem *mem, unsigned int index)
{
	(void)mem;
	(void)index;
	lgbox_warn("--net tap:%s: virtio-net is not in this build yet", opt->tap);
	return NULL;
}
