/*
 * inflate.h - a small gzip decompressor (RFC 1951 deflate in an RFC 1952
 * gzip member), so launch can boot a bzImage built with CONFIG_KERNEL_GZIP
 * without a zlib in the static binary.  Written for size and clear bounds
 * checks, not speed: a 10 MB kernel takes a fraction of a second.
 */
#ifndef LGBOX_INFLATE_H
#define LGBOX_INFLATE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Decompresses the gzip member in[0..in_len) into a malloc'ed buffer of
 * exactly the size the gzip trailer announces (refused above max_out).
 * Returns 0 with *out and *out_len set, or -1 with *why saying what is
 * wrong (bad header, corrupt data, size or CRC mismatch, too big).
 */
int gunzip(const uint8_t *in, size_t in_len, size_t max_out,
	   uint8_t **out, size_t *out_len, const char **why);

#endif /* LGBOX_INFLATE_H */
