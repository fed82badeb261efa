/*
 * devices.h - constructors of the virtio device models.  Each returns a
 * struct virtio_dev ready to be placed on the virtio-mmio bus (or NULL with
 * a message printed); host-side I/O is given to them as callbacks or fds so
 * that unit tests and the fuzzer can drive them without a guest.
 */
#ifndef LGBOX_VIRTIO_DEVICES_H
#define LGBOX_VIRTIO_DEVICES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mmio.h"

#define VIRTIO_ID_NET		1
#define VIRTIO_ID_BLOCK		2
#define VIRTIO_ID_CONSOLE	3
#define VIRTIO_ID_RNG		4

/*
 * console (hvc0): output() gets what the guest writes; input is pushed
 * with virtio_console_input(), and rx_ready() is called when the guest
 * has given new receive buffers (so the caller may poll its input again).
 */
struct virtio_dev *virtio_console_create(const struct guest_mem *mem,
					 void (*output)(const void *buf, size_t len),
					 void (*rx_ready)(void));
size_t virtio_console_input(struct virtio_dev *dev, const void *buf, size_t len);
bool virtio_console_has_room(struct virtio_dev *dev);

/* rng: entropy from getrandom(2). */
struct virtio_dev *virtio_rng_create(const struct guest_mem *mem);

struct blk_disk;
/* block over a disk (lib/blkfile, maybe with an overlay; see blk.h). */
struct virtio_dev *virtio_blk_create(const struct guest_mem *mem, struct blk_disk *disk,
				     const char *serial);

/*
 * Where a net device's frames go.  Both calls carry a 12-byte vnet header
 * before the frame and return the bytes moved, header included, or -1
 * (errno EAGAIN: nothing to receive now).  rx_ready, if set, is called when
 * the guest has given new receive buffers.
 */
struct iovec;
struct net_backend {
	ssize_t (*send)(void *ctx, const struct iovec *iov, unsigned int n);
	ssize_t (*receive)(void *ctx, const struct iovec *iov, unsigned int n);
	void (*rx_ready)(void *ctx);
	void *ctx;
};

/*
 * net over a backend.  rx is driven by virtio_net_receive() when the
 * backend has frames; virtio_net_rx_wanted() says whether the guest has
 * buffers for them.
 */
struct virtio_dev *virtio_net_create_backend(const struct guest_mem *mem,
					     const struct net_backend *be, const uint8_t mac[6]);
/*
 * net over an open tap fd (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, vnet header
 * size 12 set); rx_ready (or NULL) as in struct net_backend.
 */
struct virtio_dev *virtio_net_create(const struct guest_mem *mem, int tap_fd,
				     const uint8_t mac[6], void (*rx_ready)(void));
void virtio_net_receive(struct virtio_dev *dev);
bool virtio_net_rx_wanted(struct virtio_dev *dev);

#endif /* LGBOX_VIRTIO_DEVICES_H */
