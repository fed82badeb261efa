/*
 * virtio-blk requests: a 16-byte header (type, sector) in the readable
 * buffers, data after it (writes) or in the writable buffers (reads), and a
 * final status byte in the last writable byte.  Buffers may split the header
 * or the segments anywhere, so they are read through iovec helpers rather
 * than assumed to be one descriptor each.  All range checking is blkfile's.
 */
#include "vblk.h"

#include <endian.h>
#include <errno.h>
#include <string.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#define SECTOR_SHIFT		9
#define SEG_MAX			254
#define MAX_RANGE_SECTORS	0x3fffffu	/* per discard / write-zeroes segment */

void vblk_init(struct vblk *vb, struct blkfile *bf, const char *serial)
{
	vb->bf = bf;
	memset(vb->serial, 0, sizeof(vb->serial));
	strncpy(vb->serial, serial, sizeof(vb->serial));
}

uint64_t vblk_features(const struct vblk *vb)
{
	uint64_t f = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_RING_F_INDIRECT_DESC) |
		     (1ull << VIRTIO_RING_F_EVENT_IDX) | (1ull << VIRTIO_BLK_F_SEG_MAX) |
		     (1ull << VIRTIO_BLK_F_BLK_SIZE) | (1ull << VIRTIO_BLK_F_FLUSH);

	if (vb->bf->read_only)
		f |= 1ull << VIRTIO_BLK_F_RO;
	if (vb->bf->can_discard)
		f |= 1ull << VIRTIO_BLK_F_DISCARD;
	if (vb->bf->can_write_zeroes)
		f |= 1ull << VIRTIO_BLK_F_WRITE_ZEROES;
	return f;
}

void vblk_config(const struct vblk *vb, uint16_t num_queues, struct virtio_blk_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->capacity = htole64(vb->bf->size >> SECTOR_SHIFT);
	cfg->seg_max = htole32(SEG_MAX);
	cfg->blk_size = htole32(1u << SECTOR_SHIFT);
	cfg->num_queues = htole16(num_queues);
	cfg->max_discard_sectors = htole32(MAX_RANGE_SECTORS);
	cfg->max_discard_seg = htole32(1);
	cfg->discard_sector_alignment = htole32(1);
	cfg->max_write_zeroes_sectors = htole32(MAX_RANGE_SECTORS);
	cfg->max_write_zeroes_seg = htole32(1);
	cfg->write_zeroes_may_unmap = 1;
}

static size_t iov_length(const struct iovec *iov, unsigned int n)
{
	size_t len = 0;

	for (unsigned int i = 0; i < n; i++)
		len += iov[i].iov_len;
	return len;
}

/*
 * Describes bytes [skip, skip+len) of @src in @dst (at most SPLITQ_MAX_CHAIN
 * entries); returns the entry count, or -1 if @src is shorter.
 */
static int iov_slice(const struct iovec *src, unsigned int n, size_t skip, size_t len,
		     struct iovec *dst)
{
	int out = 0;

	for (unsigned int i = 0; i < n && len > 0; i++) {
		size_t take;

		if (skip >= src[i].iov_len) {
			skip -= src[i].iov_len;
			continue;
		}
		take = src[i].iov_len - skip;
		if (take > len)
			take = len;
		dst[out++] = (struct iovec){ (uint8_t *)src[i].iov_base + skip, take };
		len -= take;
		skip = 0;
	}
	return len ? -1 : out;
}

/* Copies between @buf and bytes [skip, skip+len) of the iovecs; false if they are shorter. */
static bool iov_copy(const struct iovec *iov, unsigned int n, size_t skip, void *buf, size_t len,
		     bool to_iov)
{
	struct iovec parts[SPLITQ_MAX_CHAIN];
	int np = iov_slice(iov, n, skip, len, parts);
	uint8_t *p = buf;

	for (int i = 0; i < np; i++) {
		if (to_iov)
			memcpy(parts[i].iov_base, p, parts[i].iov_len);
		else
			memcpy(p, parts[i].iov_base, parts[i].iov_len);
		p += parts[i].iov_len;
	}
	return np >= 0;
}

/* Discard / write-zeroes: one segment (max_*_seg = 1) after the header. */
static uint8_t execute_range(struct vblk *vb, const struct splitq_chain *c, bool zeroes)
{
	struct virtio_blk_discard_write_zeroes seg;
	size_t data_len = iov_length(c->iov, c->n_out) - sizeof(struct virtio_blk_outhdr);
	uint64_t sector;
	uint32_t sectors, flags;
	int err;

	if (data_len != sizeof(seg) ||
	    !iov_copy(c->iov, c->n_out, sizeof(struct virtio_blk_outhdr), &seg, sizeof(seg), false))
		return VIRTIO_BLK_S_UNSUPP;
	sector = le64toh(seg.sector);
	sectors = le32toh(seg.num_sectors);
	flags = le32toh(seg.flags);
	if (sectors > MAX_RANGE_SECTORS || sector > (UINT64_MAX >> SECTOR_SHIFT) ||
	    (flags & ~(uint32_t)VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) ||
	    (!zeroes && flags))
		return VIRTIO_BLK_S_UNSUPP;
	if (zeroes)
		err = blkfile_write_zeroes(vb->bf, sector << SECTOR_SHIFT,
					   (uint64_t)sectors << SECTOR_SHIFT,
					   flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	else
		err = blkfile_discard(vb->bf, sector << SECTOR_SHIFT,
				      (uint64_t)sectors << SECTOR_SHIFT);
	return err ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
}

/* Byte offset of @sector, or UINT64_MAX if it overflows (blkfile then refuses it). */
static uint64_t sector_offset(uint64_t sector)
{
	return sector > (UINT64_MAX >> SECTOR_SHIFT) ? UINT64_MAX : sector << SECTOR_SHIFT;
}

int vblk_execute(struct vblk *vb, const struct splitq_chain *c)
{
	const struct iovec *in = c->iov + c->n_out;
	struct iovec data[SPLITQ_MAX_CHAIN];
	struct virtio_blk_outhdr hdr;
	size_t out_len = iov_length(c->iov, c->n_out);
	size_t in_len = iov_length(in, c->n_in);
	size_t data_in = in_len ? in_len - 1 : 0;	/* the last writable byte is the status */
	uint8_t status = VIRTIO_BLK_S_OK;
	uint32_t written = 1;
	size_t id_len;
	int n;

	if (in_len == 0 || !iov_copy(c->iov, c->n_out, 0, &hdr, sizeof(hdr), false))
		return -EINVAL;
	switch (le32toh(hdr.type)) {
	case VIRTIO_BLK_T_IN:
		n = iov_slice(in, c->n_in, 0, data_in, data);
		if (blkfile_preadv(vb->bf, data, n, sector_offset(le64toh(hdr.sector))) < 0)
			status = VIRTIO_BLK_S_IOERR;
		else
			written += (uint32_t)data_in;
		break;
	case VIRTIO_BLK_T_OUT:
		n = iov_slice(c->iov, c->n_out, sizeof(hdr), out_len - sizeof(hdr), data);
		if (blkfile_pwritev(vb->bf, data, n, sector_offset(le64toh(hdr.sector))) < 0)
			status = VIRTIO_BLK_S_IOERR;
		break;
	case VIRTIO_BLK_T_FLUSH:
		if (blkfile_flush(vb->bf) < 0)
			status = VIRTIO_BLK_S_IOERR;
		break;
	case VIRTIO_BLK_T_GET_ID:
		id_len = data_in < sizeof(vb->serial) ? data_in : sizeof(vb->serial);
		iov_copy(in, c->n_in, 0, vb->serial, id_len, true);
		written += (uint32_t)id_len;
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		if (vb->bf->read_only)
			status = VIRTIO_BLK_S_IOERR;
		else
			status = execute_range(vb, c, le32toh(hdr.type) == VIRTIO_BLK_T_WRITE_ZEROES);
		break;
	default:
		status = VIRTIO_BLK_S_UNSUPP;
	}
	iov_copy(in, c->n_in, data_in, &status, 1, true);
	return (int)written;
}

int vblk_process_queue(struct vblk *vb, struct splitq *vr)
{
	struct splitq_chain chain;
	int got, written;

	do {
		while ((got = splitq_pop(vr, &chain)) > 0) {
			written = vblk_execute(vb, &chain);
			if (written < 0)
				return written;
			splitq_push(vr, chain.head, (uint32_t)written);
		}
		if (got < 0)
			return got;
	} while (splitq_enable_kicks(vr));
	return 0;
}
