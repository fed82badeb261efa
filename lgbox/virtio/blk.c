/*
 * blk.c - virtio-blk request engine and copy-on-write overlay; see blk.h.
 *
 * Requests are checked before any I/O: the header must be there, the
 * status byte must be writable, sector * 512 must not overflow, data
 * lengths must be whole sectors and the range must lie inside the disk
 * (blkfile checks that again).  Anything else gets IOERR or UNSUPP.
 */
#define _GNU_SOURCE	/* SEEK_DATA, SEEK_HOLE */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blk.h"

#define SECTOR_SIZE	512ULL

struct blk_req_header {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

struct blk_discard_segment {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;		/* bit 0: unmap (write zeroes) */
};

static bool has_overlay(const struct blk_disk *disk)
{
	return disk->overlay.fd >= 0;
}

uint64_t blk_disk_size(const struct blk_disk *disk)
{
	return disk->image.size;
}

/* Discard and write-zeroes would have to hide the image: not with an overlay. */
bool blk_disk_can_discard(const struct blk_disk *disk)
{
	return !has_overlay(disk) && !disk->read_only && disk->image.can_discard;
}

bool blk_disk_can_write_zeroes(const struct blk_disk *disk)
{
	return !has_overlay(disk) && !disk->read_only && disk->image.can_write_zeroes;
}

static bool cluster_in_overlay(const struct blk_disk *disk, uint64_t c)
{
	return disk->in_overlay[c / 8] & (1 << (c % 8));
}

static void mark_in_overlay(struct blk_disk *disk, uint64_t c)
{
	disk->in_overlay[c / 8] |= 1 << (c % 8);
}

/* The overlay's data ranges are the clusters written so far. */
static int scan_overlay(struct blk_disk *disk)
{
	uint64_t clusters = (disk->image.size + BLK_OVERLAY_CLUSTER - 1) / BLK_OVERLAY_CLUSTER;
	off_t data = 0, hole;
	uint64_t c;

	disk->in_overlay = calloc(clusters / 8 + 1, 1);
	if (!disk->in_overlay)
		return -ENOMEM;
	for (;;) {
		data = lseek(disk->overlay.fd, data, SEEK_DATA);
		if (data < 0)
			return errno == ENXIO ? 0 : -errno;
		hole = lseek(disk->overlay.fd, data, SEEK_HOLE);
		if (hole < 0)
			return -errno;
		for (c = data / BLK_OVERLAY_CLUSTER; c * BLK_OVERLAY_CLUSTER < (uint64_t)hole; c++)
			mark_in_overlay(disk, c);
		data = hole;
	}
}

static int open_overlay(struct blk_disk *disk, const char *path)
{
	struct stat st;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644), ret;

	if (fd < 0 || fstat(fd, &st) < 0)
		goto fail;
	/* A new overlay is a hole as large as the image. */
	if (st.st_size == 0 && ftruncate(fd, disk->image.size) < 0)
		goto fail;
	if (st.st_size != 0 && (uint64_t)st.st_size != disk->image.size) {
		close(fd);
		return BLK_E_OVERLAY_SIZE;
	}
	close(fd);
	ret = blkfile_open(&disk->overlay, path, false);
	if (ret < 0)
		return ret;
	return scan_overlay(disk);
fail:
	ret = -errno;
	if (fd >= 0)
		close(fd);
	return ret;
}

/* A disk is a whole number of sectors, and at least one. */
static int check_image_size(const struct blk_disk *disk)
{
	if (disk->image.size == 0)
		return BLK_E_EMPTY;
	return disk->image.size % 512 ? BLK_E_PARTIAL_SECTOR : 0;
}

const char *blk_disk_strerror(int err)
{
	switch (err) {
	case BLK_E_EMPTY:
		return "the image is empty (0 bytes)";
	case BLK_E_PARTIAL_SECTOR:
		return "the image's size is not a multiple of 512 bytes (a disk has whole sectors)";
	case BLK_E_OVERLAY_SIZE:
		return "the overlay has another size than the image: it belongs to another image";
	default:
		return strerror(-err);
	}
}

int blk_disk_check(const char *path, bool read_only, const char *overlay_path,
		   const char **what)
{
	struct blk_disk disk;
	struct stat st;
	int ret;

	ret = blk_disk_open(&disk, path, true, NULL, what);
	if (ret == 0 && !read_only && !overlay_path && access(path, W_OK) < 0)
		ret = -errno;
	if (ret == 0 && overlay_path && stat(overlay_path, &st) == 0 &&
	    (uint64_t)st.st_size != disk.image.size) {
		*what = overlay_path;
		ret = BLK_E_OVERLAY_SIZE;
	}
	if (disk.image.fd >= 0)
		blk_disk_close(&disk);
	return ret;
}

int blk_disk_open(struct blk_disk *disk, const char *path, bool read_only,
		  const char *overlay_path, const char **what)
{
	const char *base;
	int ret;

	memset(disk, 0, sizeof(*disk));
	disk->overlay.fd = -1;
	disk->read_only = read_only;
	*what = path;
	/* With an overlay the image is only ever read. */
	ret = blkfile_open(&disk->image, path, read_only || overlay_path);
	if (ret < 0)
		return ret;
	ret = check_image_size(disk);
	if (ret < 0) {
		blk_disk_close(disk);
		return ret;
	}
	base = strrchr(path, '/');
	strncpy(disk->serial, base ? base + 1 : path, VIRTIO_BLK_ID_BYTES);
	if (overlay_path) {
		*what = overlay_path;
		ret = open_overlay(disk, overlay_path);
		if (ret < 0) {
			blk_disk_close(disk);
			return ret;
		}
	}
	return 0;
}

void blk_disk_close(struct blk_disk *disk)
{
	if (disk->image.fd >= 0)
		blkfile_close(&disk->image);
	if (has_overlay(disk))
		blkfile_close(&disk->overlay);
	disk->overlay.fd = -1;
	free(disk->in_overlay);
	disk->in_overlay = NULL;
}

static int whole(ssize_t done, uint64_t len)
{
	if (done < 0)
		return done;
	return (uint64_t)done == len ? 0 : -EIO;
}

/* Cluster c written with the bytes [pos, pos + len) of the request from data. */
static int copy_up(struct blk_disk *disk, uint64_t c, const struct iovec *data,
		   unsigned int n, size_t data_off, uint64_t pos, uint64_t len)
{
	uint8_t cluster[BLK_OVERLAY_CLUSTER];
	uint64_t start = c * BLK_OVERLAY_CLUSTER;
	uint64_t size = disk->image.size - start < BLK_OVERLAY_CLUSTER ?
			disk->image.size - start : BLK_OVERLAY_CLUSTER;
	struct iovec iov = { cluster, size };
	int ret;

	ret = whole(blkfile_preadv(&disk->image, &iov, 1, start), size);
	if (ret < 0)
		return ret;
	iov_to_buf(data, n, data_off, cluster + (pos - start), len);
	ret = whole(blkfile_pwritev(&disk->overlay, &iov, 1, start), size);
	if (ret == 0)
		mark_in_overlay(disk, c);
	return ret;
}

/* Does [pos, end) cover all of cluster c (the last one may be short)? */
static bool covers_cluster(const struct blk_disk *disk, uint64_t c, uint64_t pos, uint64_t end)
{
	uint64_t start = c * BLK_OVERLAY_CLUSTER;

	return pos == start && (end - start == BLK_OVERLAY_CLUSTER || end == disk->image.size);
}

/*
 * Reads or writes [off, off + len) through the overlay, one run of
 * clusters at a time: a read run has clusters all in or all out of the
 * overlay; a write run is one cluster.
 */
static int overlay_rw(struct blk_disk *disk, const struct iovec *data, unsigned int n,
		      uint64_t off, uint64_t len, bool write)
{
	struct iovec part[VQ_MAX_SEGMENTS];
	uint64_t pos = off, end = off + len;

	while (pos < end) {
		uint64_t c = pos / BLK_OVERLAY_CLUSTER, run_end = (c + 1) * BLK_OVERLAY_CLUSTER;
		bool in = cluster_in_overlay(disk, c);
		unsigned int parts;
		ssize_t done;

		if (!write)
			while (run_end < end && cluster_in_overlay(disk, run_end / BLK_OVERLAY_CLUSTER) == in)
				run_end += BLK_OVERLAY_CLUSTER;
		if (run_end > end)
			run_end = end;
		if (write && !in && !covers_cluster(disk, c, pos, run_end)) {
			if (copy_up(disk, c, data, n, pos - off, pos, run_end - pos) < 0)
				return -EIO;
			pos = run_end;
			continue;
		}
		parts = iov_slice(data, n, pos - off, run_end - pos, part, VQ_MAX_SEGMENTS);
		if (write)
			done = blkfile_pwritev(&disk->overlay, part, parts, pos);
		else
			done = blkfile_preadv(in ? &disk->overlay : &disk->image, part, parts, pos);
		if (whole(done, run_end - pos) < 0)
			return -EIO;
		if (write)
			mark_in_overlay(disk, c);
		pos = run_end;
	}
	return 0;
}

static int disk_rw(struct blk_disk *disk, const struct iovec *data, unsigned int n,
		   uint64_t off, uint64_t len, bool write)
{
	if (!blkfile_range_ok(&disk->image, off, len))
		return -EINVAL;
	if (has_overlay(disk))
		return overlay_rw(disk, data, n, off, len, write);
	return whole(write ? blkfile_pwritev(&disk->image, data, n, off) :
			     blkfile_preadv(&disk->image, data, n, off), len);
}

/* Sector range to bytes; false if it overflows or is not whole sectors. */
static bool byte_range(uint64_t sector, uint64_t len, uint64_t *off)
{
	if (sector > UINT64_MAX / SECTOR_SIZE || len % SECTOR_SIZE)
		return false;
	*off = sector * SECTOR_SIZE;
	return true;
}

static uint8_t do_rw(struct blk_disk *disk, const struct blk_req_header *hdr,
		     const struct iovec *iov, unsigned int n, size_t skip, uint64_t len, bool write)
{
	struct iovec data[VQ_MAX_SEGMENTS];
	unsigned int parts;
	uint64_t off;

	if (write && disk->read_only)
		return VIRTIO_BLK_S_IOERR;
	if (!byte_range(hdr->sector, len, &off))
		return VIRTIO_BLK_S_IOERR;
	parts = iov_slice(iov, n, skip, len, data, VQ_MAX_SEGMENTS);
	return disk_rw(disk, data, parts, off, len, write) < 0 ?
	       VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
}

/* One segment (max_discard_seg = 1) after the header. */
static uint8_t do_discard(struct blk_disk *disk, const struct vq_chain *chain, bool zeroes)
{
	struct blk_discard_segment seg;
	uint64_t off, len;
	int ret;

	if (zeroes ? !blk_disk_can_write_zeroes(disk) : !blk_disk_can_discard(disk))
		return VIRTIO_BLK_S_UNSUPP;
	if (chain->out_len != sizeof(struct blk_req_header) + sizeof(seg) ||
	    iov_to_buf(chain->iov, chain->n_out, sizeof(struct blk_req_header), &seg,
		       sizeof(seg)) != sizeof(seg))
		return VIRTIO_BLK_S_IOERR;
	len = (uint64_t)seg.num_sectors * SECTOR_SIZE;
	if (!byte_range(seg.sector, len, &off) || (seg.flags & ~1u) || (!zeroes && seg.flags))
		return VIRTIO_BLK_S_UNSUPP;
	ret = zeroes ? blkfile_write_zeroes(&disk->image, off, len, seg.flags & 1) :
		       blkfile_discard(&disk->image, off, len);
	return ret < 0 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
}

static int flush(struct blk_disk *disk)
{
	if (has_overlay(disk))
		return blkfile_flush(&disk->overlay);
	return blkfile_flush(&disk->image);
}

uint32_t blk_execute(struct blk_disk *disk, const struct vq_chain *chain)
{
	const struct iovec *in = chain->iov + chain->n_out;
	struct blk_req_header hdr;
	uint64_t in_data = chain->in_len ? chain->in_len - 1 : 0;
	uint32_t written = 1;	/* the status byte */
	uint8_t status;

	if (!chain->in_len || iov_to_buf(chain->iov, chain->n_out, 0, &hdr, sizeof(hdr)) != sizeof(hdr))
		return 0;
	switch (hdr.type) {
	case VIRTIO_BLK_T_IN:
		/* The used length is 32 bits: refuse what it cannot report. */
		if (in_data >= UINT32_MAX) {
			status = VIRTIO_BLK_S_IOERR;
			break;
		}
		status = do_rw(disk, &hdr, in, chain->n_in, 0, in_data, false);
		if (status == VIRTIO_BLK_S_OK)
			written += in_data;
		break;
	case VIRTIO_BLK_T_OUT:
		status = do_rw(disk, &hdr, chain->iov, chain->n_out, sizeof(hdr),
			       chain->out_len - sizeof(hdr), true);
		break;
	case VIRTIO_BLK_T_FLUSH:
		status = flush(disk) < 0 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
		break;
	case VIRTIO_BLK_T_GET_ID:
		written += iov_from_buf(in, chain->n_in, 0, disk->serial,
					in_data < VIRTIO_BLK_ID_BYTES ? in_data : VIRTIO_BLK_ID_BYTES);
		status = VIRTIO_BLK_S_OK;
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		status = do_discard(disk, chain, hdr.type == VIRTIO_BLK_T_WRITE_ZEROES);
		break;
	default:
		status = VIRTIO_BLK_S_UNSUPP;
		break;
	}
	iov_from_buf(in, chain->n_in, in_data, &status, 1);
	return written;
}

uint64_t blk_disk_features(const struct blk_disk *disk)
{
	uint64_t features = 1ULL << VIRTIO_BLK_F_SEG_MAX | 1ULL << VIRTIO_BLK_F_BLK_SIZE |
			    1ULL << VIRTIO_BLK_F_FLUSH;

	if (disk->read_only)
		features |= 1ULL << VIRTIO_BLK_F_RO;
	if (blk_disk_can_discard(disk))
		features |= 1ULL << VIRTIO_BLK_F_DISCARD;
	if (blk_disk_can_write_zeroes(disk))
		features |= 1ULL << VIRTIO_BLK_F_WRITE_ZEROES;
	return features;
}

void blk_disk_config(const struct blk_disk *disk, uint16_t nr_queues,
		     struct virtio_blk_config *config)
{
	memset(config, 0, sizeof(*config));
	config->capacity = htole64(blk_disk_size(disk) / 512);
	config->seg_max = htole32(VQ_MAX_SEGMENTS - 2);	/* header and status take two */
	config->blk_size = htole32(512);
	config->num_queues = htole16(nr_queues);
	if (blk_disk_can_discard(disk)) {
		config->max_discard_sectors = htole32(UINT32_MAX);
		config->max_discard_seg = htole32(1);
		config->discard_sector_alignment = htole32(1);
	}
	if (blk_disk_can_write_zeroes(disk)) {
		config->max_write_zeroes_sectors = htole32(UINT32_MAX);
		config->max_write_zeroes_seg = htole32(1);
		config->write_zeroes_may_unmap = 1;
	}
}
