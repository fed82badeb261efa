/*
 * blkfile: bounded raw-image I/O shared by block-export and launch.
 *
 * Regular files and block devices differ in three places only: how the size
 * is found (st_size vs BLKGETSIZE64), how space is given back (hole punching
 * vs BLKDISCARD) and how zeroes are written cheaply (FALLOC_FL_ZERO_RANGE vs
 * BLKZEROOUT).  Everything else is positional vectored I/O, retried on short
 * transfers so callers only ever see "all of it" or an error.
 */
#define _GNU_SOURCE
#include "blkfile.h"
#include "../lgbox.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <linux/fs.h>

#define SECTOR_SIZE 512u

bool blkfile_range_ok(const struct blkfile *bf, uint64_t off, uint64_t len)
{
	return off <= bf->size && len <= bf->size - off;
}

/* Discard support of a block device, as its queue advertises in sysfs. */
static bool block_device_can_discard(dev_t rdev)
{
	static const char *const queue_dirs[] = { "queue", "../queue" };
	char path[96], text[32];

	for (size_t i = 0; i < sizeof(queue_dirs) / sizeof(queue_dirs[0]); i++) {
		uint64_t max;
		FILE *f;
		bool ok;

		snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/%s/discard_max_bytes",
			 major(rdev), minor(rdev), queue_dirs[i]);
		f = fopen(path, "re");
		if (!f)
			continue;
		ok = fgets(text, sizeof(text), f) && lgbox_scan_uint(text, 10, UINT64_MAX, &max) &&
		     max > 0;
		fclose(f);
		return ok;
	}
	return false;
}

/*
 * Whether the file system can punch holes.  Punching past EOF with
 * FALLOC_FL_KEEP_SIZE changes nothing, yet still fails with EOPNOTSUPP where
 * hole punching is not implemented, so it is a side-effect-free probe.
 */
static bool regular_file_can_discard(int fd, uint64_t size)
{
	return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)size, 1) == 0;
}

int blkfile_open(struct blkfile *bf, const char *path, bool read_only)
{
	struct stat st;
	int err;

	memset(bf, 0, sizeof(*bf));
	bf->fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (bf->fd < 0)
		return -errno;
	if (fstat(bf->fd, &st) < 0)
		goto fail_errno;
	bf->read_only = read_only;
	if (S_ISREG(st.st_mode)) {
		bf->size = (uint64_t)st.st_size;
		bf->can_discard = !read_only && regular_file_can_discard(bf->fd, bf->size);
	} else if (S_ISBLK(st.st_mode)) {
		if (ioctl(bf->fd, BLKGETSIZE64, &bf->size) < 0)
			goto fail_errno;
		bf->is_block_device = true;
		bf->can_discard = !read_only && block_device_can_discard(st.st_rdev);
	} else {
		err = -ENOTBLK;
		goto fail;
	}
	bf->can_write_zeroes = !read_only;
	return 0;

fail_errno:
	err = -errno;
fail:
	close(bf->fd);
	bf->fd = -1;
	return err;
}

void blkfile_close(struct blkfile *bf)
{
	if (bf->fd >= 0)
		close(bf->fd);
	bf->fd = -1;
}

/* Total length of an iovec array, or -EINVAL if it overflows or is too long. */
static int64_t iov_total(const struct iovec *iov, int iovcnt)
{
	uint64_t total = 0;

	if (iovcnt < 0 || iovcnt > IOV_MAX)
		return -EINVAL;
	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > (uint64_t)INT64_MAX - total)
			return -EINVAL;
		total += iov[i].iov_len;
	}
	return (int64_t)total;
}

/* Drops the first @n bytes from the iovec array *iov / *iovcnt (which must be writable). */
static void iov_advance(struct iovec **iov, int *iovcnt, size_t n)
{
	while (n > 0 && n >= (*iov)->iov_len) {
		n -= (*iov)->iov_len;
		(*iov)++;
		(*iovcnt)--;
	}
	if (n > 0) {
		(*iov)->iov_base = (char *)(*iov)->iov_base + n;
		(*iov)->iov_len -= n;
	}
}

/*
 * Runs preadv/pwritev until the whole range is transferred.  Short transfers
 * are rare (signals, a file truncated behind our back), so the caller's iovec
 * array is only copied when one happens.
 */
static ssize_t transfer_all(struct blkfile *bf, const struct iovec *iov, int iovcnt,
			    uint64_t off, bool is_write)
{
	struct iovec copy[IOV_MAX];
	struct iovec *rest = NULL;
	int64_t total = iov_total(iov, iovcnt);
	int64_t done = 0;

	if (total < 0 || !blkfile_range_ok(bf, off, (uint64_t)total))
		return -EINVAL;
	if (is_write && bf->read_only)
		return -EROFS;
	if (total == 0)
		return 0;
	for (;;) {
		const struct iovec *cur = rest ? rest : iov;
		ssize_t n = is_write ? pwritev(bf->fd, cur, iovcnt, (off_t)(off + done))
				     : preadv(bf->fd, cur, iovcnt, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;	/* the image shrank below the size we serve */
		done += n;
		if (done == total)
			break;
		if (!rest) {
			memcpy(copy, iov, (size_t)iovcnt * sizeof(*iov));
			rest = copy;
		}
		iov_advance(&rest, &iovcnt, (size_t)n);
	}
	return (ssize_t)total;
}

ssize_t blkfile_preadv(struct blkfile *bf, const struct iovec *iov, int iovcnt, uint64_t off)
{
	return transfer_all(bf, iov, iovcnt, off, false);
}

ssize_t blkfile_pwritev(struct blkfile *bf, const struct iovec *iov, int iovcnt, uint64_t off)
{
	return transfer_all(bf, iov, iovcnt, off, true);
}

int blkfile_flush(struct blkfile *bf)
{
	if (bf->read_only)
		return 0;
	return fdatasync(bf->fd) < 0 ? -errno : 0;
}

static int check_modify(const struct blkfile *bf, uint64_t off, uint64_t len)
{
	if (!blkfile_range_ok(bf, off, len))
		return -EINVAL;
	return bf->read_only ? -EROFS : 0;
}

/* BLKDISCARD/BLKZEROOUT take whole sectors: shrink [off, off+len) to them. */
static bool sector_range(uint64_t off, uint64_t len, uint64_t range[2])
{
	uint64_t start = (off + SECTOR_SIZE - 1) / SECTOR_SIZE * SECTOR_SIZE;
	uint64_t end = (off + len) / SECTOR_SIZE * SECTOR_SIZE;

	if (end <= start)
		return false;
	range[0] = start;
	range[1] = end - start;
	return true;
}

int blkfile_discard(struct blkfile *bf, uint64_t off, uint64_t len)
{
	uint64_t range[2];
	int err = check_modify(bf, off, len);

	if (err)
		return err;
	if (!bf->can_discard)
		return -EOPNOTSUPP;
	if (len == 0)
		return 0;
	if (!bf->is_block_device)
		err = fallocate(bf->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				(off_t)off, (off_t)len);
	else if (sector_range(off, len, range))	/* discard is advisory: partial sectors stay */
		err = ioctl(bf->fd, BLKDISCARD, range);
	return err < 0 ? -errno : 0;
}

static int write_zero_buffers(struct blkfile *bf, uint64_t off, uint64_t len)
{
	static char zeroes[64 * 1024];	/* not const: .bss costs no file bytes */

	while (len > 0) {
		size_t chunk = len < sizeof(zeroes) ? (size_t)len : sizeof(zeroes);
		struct iovec iov = { .iov_base = (void *)zeroes, .iov_len = chunk };
		ssize_t n = blkfile_pwritev(bf, &iov, 1, off);

		if (n < 0)
			return (int)n;
		off += chunk;
		len -= chunk;
	}
	return 0;
}

/* The cheapest way the backing store offers to make a range read as zeroes, or -EOPNOTSUPP. */
static int zero_natively(struct blkfile *bf, uint64_t off, uint64_t len, bool may_unmap)
{
	uint64_t range[2] = { off, len };

	if (bf->is_block_device) {
		if (off % SECTOR_SIZE || len % SECTOR_SIZE)
			return -EOPNOTSUPP;
		return ioctl(bf->fd, BLKZEROOUT, range) < 0 ? -errno : 0;
	}
	/* A punched hole reads back as zeroes, and frees space too. */
	if (may_unmap && bf->can_discard)
		return blkfile_discard(bf, off, len);
	if (fallocate(bf->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)off,
		      (off_t)len) == 0)
		return 0;
	return -errno;
}

int blkfile_write_zeroes(struct blkfile *bf, uint64_t off, uint64_t len, bool may_unmap)
{
	int err = check_modify(bf, off, len);

	if (err || len == 0)
		return err;
	err = zero_natively(bf, off, len, may_unmap);
	if (err == -EOPNOTSUPP || err == -ENOTTY)
		err = write_zero_buffers(bf, off, len);
	return err;
}
