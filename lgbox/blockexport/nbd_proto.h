/*
 * NBD wire protocol (fixed newstyle handshake, simple replies) as block-export
 * speaks it: constants from the protocol specification and the pure
 * decoding/validation steps, kept free of I/O so unit tests can feed them
 * arbitrary bytes.  All integers on the wire are big-endian.
 */
#ifndef LGBOX_NBD_PROTO_H
#define LGBOX_NBD_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Handshake */
#define NBD_INIT_MAGIC		0x4e42444d41474943ULL	/* "NBDMAGIC" */
#define NBD_OPTS_MAGIC		0x49484156454f5054ULL	/* "IHAVEOPT" */
#define NBD_REP_MAGIC		0x0003e889045565a9ULL
#define NBD_FLAG_FIXED_NEWSTYLE	(1u << 0)
#define NBD_FLAG_NO_ZEROES	(1u << 1)
#define NBD_FLAG_C_FIXED_NEWSTYLE NBD_FLAG_FIXED_NEWSTYLE
#define NBD_FLAG_C_NO_ZEROES	NBD_FLAG_NO_ZEROES

#define NBD_OPT_EXPORT_NAME	1
#define NBD_OPT_ABORT		2
#define NBD_OPT_LIST		3
#define NBD_OPT_STARTTLS	5
#define NBD_OPT_INFO		6
#define NBD_OPT_GO		7

#define NBD_REP_ACK		1
#define NBD_REP_SERVER		2
#define NBD_REP_INFO		3
#define NBD_REP_FLAG_ERROR	(1u << 31)
#define NBD_REP_ERR_UNSUP	(NBD_REP_FLAG_ERROR | 1)
#define NBD_REP_ERR_POLICY	(NBD_REP_FLAG_ERROR | 2)
#define NBD_REP_ERR_INVALID	(NBD_REP_FLAG_ERROR | 3)
#define NBD_REP_ERR_UNKNOWN	(NBD_REP_FLAG_ERROR | 6)

#define NBD_INFO_EXPORT		0
#define NBD_INFO_NAME		1
#define NBD_INFO_DESCRIPTION	2
#define NBD_INFO_BLOCK_SIZE	3

/* Transmission flags, sent with the export size */
#define NBD_FLAG_HAS_FLAGS	(1u << 0)
#define NBD_FLAG_READ_ONLY	(1u << 1)
#define NBD_FLAG_SEND_FLUSH	(1u << 2)
#define NBD_FLAG_SEND_FUA	(1u << 3)
#define NBD_FLAG_SEND_TRIM	(1u << 5)
#define NBD_FLAG_SEND_WRITE_ZEROES (1u << 6)
#define NBD_FLAG_CAN_MULTI_CONN	(1u << 8)

/* Transmission phase */
#define NBD_REQUEST_MAGIC	0x25609513u
#define NBD_SIMPLE_REPLY_MAGIC	0x67446698u
#define NBD_REQUEST_SIZE	28
#define NBD_SIMPLE_REPLY_SIZE	16

#define NBD_CMD_READ		0
#define NBD_CMD_WRITE		1
#define NBD_CMD_DISC		2
#define NBD_CMD_FLUSH		3
#define NBD_CMD_TRIM		4
#define NBD_CMD_WRITE_ZEROES	6

#define NBD_CMD_FLAG_FUA	(1u << 0)
#define NBD_CMD_FLAG_NO_HOLE	(1u << 1)

/* Error values in replies (the protocol's own numbers, not the host's errno) */
#define NBD_EPERM		1
#define NBD_EIO			5
#define NBD_ENOMEM		12
#define NBD_EINVAL		22
#define NBD_ENOSPC		28

/*
 * Largest payload a READ or WRITE may carry; larger requests close the
 * connection.  The same value is advertised as the maximum block size.
 */
#define NBD_MAX_PAYLOAD		(32u << 20)
/* Largest option payload accepted during the handshake (names are <= 4 KiB). */
#define NBD_MAX_OPTION		(8u << 10)

struct nbd_request {
	uint16_t flags;
	uint16_t type;
	uint64_t cookie;
	uint64_t offset;
	uint32_t length;
};

/* What the server can do, as validation needs it. */
struct nbd_export_caps {
	uint64_t size;
	bool read_only;
	bool can_trim;
};

/* Decodes a request header; false if the magic is wrong (the stream is garbage). */
bool nbd_decode_request(const uint8_t raw[NBD_REQUEST_SIZE], struct nbd_request *req);

/*
 * Judges a decoded request: 0 means execute it; a positive NBD_E* value
 * means reply with that error (after draining a WRITE's payload); -1 means
 * the stream cannot be trusted any more and the connection must close, with
 * *close_reason saying why.
 */
int nbd_check_request(const struct nbd_request *req, const struct nbd_export_caps *caps,
		      const char **close_reason);

/* Transmission flags advertised for an export. */
uint16_t nbd_transmission_flags(const struct nbd_export_caps *caps);

/* Payload of NBD_OPT_INFO / NBD_OPT_GO: export name and requested info types. */
struct nbd_info_request {
	const char *name;	/* points into the option data, not NUL-terminated */
	uint32_t name_len;
	uint16_t n_info;
	const uint8_t *info;	/* n_info big-endian uint16 values */
};

/* False if @data (@len bytes) is not a well-formed INFO/GO payload. */
bool nbd_decode_info_request(const uint8_t *data, uint32_t len, struct nbd_info_request *out);

/* Big-endian helpers for the wire format. */
static inline uint16_t nbd_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t nbd_get32(const uint8_t *p)
{
	return (uint32_t)nbd_get16(p) << 16 | nbd_get16(p + 2);
}

static inline uint64_t nbd_get64(const uint8_t *p)
{
	return (uint64_t)nbd_get32(p) << 32 | nbd_get32(p + 4);
}

static inline uint8_t *nbd_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return p + 2;
}

static inline uint8_t *nbd_put32(uint8_t *p, uint32_t v)
{
	return nbd_put16(nbd_put16(p, (uint16_t)(v >> 16)), (uint16_t)v);
}

static inline uint8_t *nbd_put64(uint8_t *p, uint64_t v)
{
	return nbd_put32(nbd_put32(p, (uint32_t)(v >> 32)), (uint32_t)v);
}

#endif
