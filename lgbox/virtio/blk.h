/*
 * blk.h - the virtio-blk request engine, kept apart from any transport:
 * launch's virtio-mmio device and block-export's vhost-user back end both
 * hand it chains popped from a struct virtqueue.
 *
 * A struct blk_disk is a raw image (lib/blkfile) and optionally a
 * copy-on-write overlay: then the image is opened read-only and may be
 * shared by several guests, and every write lands in the overlay file.
 * The overlay is a sparse file of the image's size; a 4 KiB cluster is
 * "in the overlay" exactly when the file has data there (SEEK_DATA), so it
 * needs no metadata and survives restarts.  A partial write to a cluster
 * not yet in the overlay first copies the cluster from the image.
 */
#ifndef LGBOX_VIRTIO_BLK_H
#define LGBOX_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/virtio_blk.h>	/* request types, status codes, config layout */

#include "../lib/blkfile.h"
#include "virtqueue.h"

#define BLK_OVERLAY_CLUSTER	4096ULL

struct blk_disk {
	struct blkfile image;
	struct blkfile overlay;		/* fd < 0 without an overlay */
	uint8_t *in_overlay;		/* bitmap, one bit per cluster */
	bool read_only;			/* as the guest sees it */
	char serial[VIRTIO_BLK_ID_BYTES + 1];
};

/* blk_disk_open()'s own errors, besides -errno. */
#define BLK_E_EMPTY		(-4096 - 1)	/* a 0-byte image */
#define BLK_E_PARTIAL_SECTOR	(-4096 - 2)	/* a size that is not a multiple of 512 */
#define BLK_E_OVERLAY_SIZE	(-4096 - 3)	/* overlay and image sizes differ */

/*
 * 0 or one of the errors above or -errno; *what names the file that failed
 * (image or overlay).  A missing overlay is created.
 */
int blk_disk_open(struct blk_disk *disk, const char *path, bool read_only,
		  const char *overlay_path, const char **what);
/* What blk_disk_open() would say, without creating or changing anything. */
int blk_disk_check(const char *path, bool read_only, const char *overlay_path,
		   const char **what);
/* Words for blk_disk_open()'s error. */
const char *blk_disk_strerror(int err);
void blk_disk_close(struct blk_disk *disk);
uint64_t blk_disk_size(const struct blk_disk *disk);
bool blk_disk_can_discard(const struct blk_disk *disk);
bool blk_disk_can_write_zeroes(const struct blk_disk *disk);

/*
 * Executes one request (header, data, status byte) and writes its status;
 * returns the bytes written into the chain's device-writable part, the
 * used length to report.  A chain too short for header and status gets 0.
 */
uint32_t blk_execute(struct blk_disk *disk, const struct vq_chain *chain);

/*
 * What a virtio-blk device on this disk offers, whatever carries it: the
 * device's feature bits (a transport adds its own) and its config space,
 * little-endian, for nr_queues request queues.
 */
uint64_t blk_disk_features(const struct blk_disk *disk);
void blk_disk_config(const struct blk_disk *disk, uint16_t nr_queues,
		     struct virtio_blk_config *config);

#endif /* LGBOX_VIRTIO_BLK_H */
