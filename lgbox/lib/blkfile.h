/*
 * blkfile: a raw disk image (regular file or block device) seen as a bounded
 * array of bytes.  It is the one storage backend of lgbox: block-export serves
 * it over NBD and vhost-user-blk, launch's virtio-blk device executes guest
 * requests on it.  Every access is checked against the size found at open
 * time, so no protocol bug or hostile peer can grow the image or write past
 * its end.
 */
#ifndef LGBOX_BLKFILE_H
#define LGBOX_BLKFILE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct blkfile {
	int fd;
	uint64_t size;		/* bytes; fixed for the life of the blkfile */
	bool read_only;
	bool is_block_device;
	bool can_discard;	/* discard really frees space (hole punch / BLKDISCARD) */
	bool can_write_zeroes;	/* write_zeroes works (emulated by writing zeroes if need be) */
};

/* Opens @path; returns 0 or -errno (-ENOTBLK: neither a regular file nor a block device). */
int blkfile_open(struct blkfile *bf, const char *path, bool read_only);
void blkfile_close(struct blkfile *bf);

/*
 * Whole transfers only: they return the byte count (sum of the iovecs), or
 * -EINVAL when any byte lies outside [0, size), -EROFS for writes to a
 * read-only image, -EIO when the image shrank under us, or another -errno.
 */
ssize_t blkfile_preadv(struct blkfile *bf, const struct iovec *iov, int iovcnt, uint64_t off);
ssize_t blkfile_pwritev(struct blkfile *bf, const struct iovec *iov, int iovcnt, uint64_t off);

/* Returns once every completed write is on stable storage (fdatasync). */
int blkfile_flush(struct blkfile *bf);

/* Both return 0 or -errno, with the same range and read-only checks as writes. */
int blkfile_discard(struct blkfile *bf, uint64_t off, uint64_t len);
int blkfile_write_zeroes(struct blkfile *bf, uint64_t off, uint64_t len, bool may_unmap);

/* Range check shared by the protocol front ends: true iff [off, off+len) fits. */
bool blkfile_range_ok(const struct blkfile *bf, uint64_t off, uint64_t len);

#endif
