/*
 * NBD server side of one connection: fixed newstyle handshake (EXPORT_NAME,
 * INFO, GO, LIST, ABORT) then the transmission phase with simple replies.
 * Requests are executed in arrival order on the shared blkfile; clients that
 * want parallelism open several connections (multi-conn is advertised).
 * Structured replies are optional in the protocol and not offered.
 */
#include "export.h"
#include "nbd_proto.h"
#include "../lgbox.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

struct nbd_conn {
	int fd;
	struct export *exp;
	struct nbd_export_caps caps;
	const char *peer;
	bool no_zeroes;
	uint8_t *buf;		/* payload buffer, grown on demand up to NBD_MAX_PAYLOAD */
	size_t buf_size;
};

/* Outcome of one handshake option. */
enum option_result { OPTION_NEXT, OPTION_TRANSMIT, OPTION_END };

static int recv_all(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = recv(fd, p, len, MSG_WAITALL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n == 0 ? -EPIPE : -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int send_iov(int fd, struct iovec *iov, int iovcnt)
{
	while (iovcnt > 0) {
		ssize_t n = writev(fd, iov, iovcnt);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		while (iovcnt > 0 && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			iovcnt--;
		}
		if (iovcnt > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

static int send_all(int fd, const void *buf, size_t len)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

	return send_iov(fd, &iov, 1);
}

/* Logs why the connection ends; returns false for "stop serving" call sites. */
static bool close_with(const struct nbd_conn *c, const char *reason)
{
	lgbox_warn("nbd client %s: %s; closing the connection", c->peer, reason);
	return false;
}

static uint8_t *conn_buffer(struct nbd_conn *c, size_t len)
{
	if (len > c->buf_size) {
		uint8_t *bigger = realloc(c->buf, len);

		if (!bigger)
			return NULL;
		c->buf = bigger;
		c->buf_size = len;
	}
	return c->buf;
}

/* ---- handshake ---- */

static int send_option_reply(struct nbd_conn *c, uint32_t option, uint32_t type,
			     const void *data, uint32_t len)
{
	uint8_t hdr[20], *p = hdr;
	struct iovec iov[2] = {
		{ .iov_base = hdr, .iov_len = sizeof(hdr) },
		{ .iov_base = (void *)data, .iov_len = len },
	};

	p = nbd_put64(p, NBD_REP_MAGIC);
	p = nbd_put32(p, option);
	p = nbd_put32(p, type);
	nbd_put32(p, len);
	return send_iov(c->fd, iov, len ? 2 : 1);
}

static bool is_our_export(const struct nbd_conn *c, const char *name, uint32_t len)
{
	/* The empty name is the protocol's "default export": ours is the only one. */
	return len == 0 || (strlen(c->exp->name) == len && memcmp(c->exp->name, name, len) == 0);
}

static int send_info_replies(struct nbd_conn *c, uint32_t option,
			     const struct nbd_info_request *ir)
{
	uint8_t info[14], *p;
	int err;

	p = nbd_put16(info, NBD_INFO_EXPORT);
	p = nbd_put64(p, c->caps.size);
	nbd_put16(p, nbd_transmission_flags(&c->caps));
	err = send_option_reply(c, option, NBD_REP_INFO, info, 12);
	for (uint16_t i = 0; i < ir->n_info && !err; i++) {
		if (nbd_get16(ir->info + 2 * i) != NBD_INFO_BLOCK_SIZE)
			continue;	/* the spec lets servers ignore other requests */
		p = nbd_put16(info, NBD_INFO_BLOCK_SIZE);
		p = nbd_put32(p, 1);		/* minimum: any byte granularity works */
		p = nbd_put32(p, 4096);		/* preferred */
		nbd_put32(p, NBD_MAX_PAYLOAD);
		err = send_option_reply(c, option, NBD_REP_INFO, info, 14);
	}
	return err ? err : send_option_reply(c, option, NBD_REP_ACK, NULL, 0);
}

static enum option_result option_info_or_go(struct nbd_conn *c, uint32_t option,
					    const uint8_t *data, uint32_t len)
{
	struct nbd_info_request ir;
	uint32_t error = 0;

	if (!nbd_decode_info_request(data, len, &ir))
		error = NBD_REP_ERR_INVALID;
	else if (!is_our_export(c, ir.name, ir.name_len))
		error = NBD_REP_ERR_UNKNOWN;
	if (error)
		return send_option_reply(c, option, error, NULL, 0) ? OPTION_END : OPTION_NEXT;
	if (send_info_replies(c, option, &ir))
		return OPTION_END;
	return option == NBD_OPT_GO ? OPTION_TRANSMIT : OPTION_NEXT;
}

static enum option_result option_export_name(struct nbd_conn *c, const uint8_t *data,
					     uint32_t len)
{
	uint8_t reply[10 + 124] = { 0 };
	uint8_t *p;

	/* This old-style option has no error reply: the spec says to hang up. */
	if (!is_our_export(c, (const char *)data, len)) {
		close_with(c, "asked for an unknown export name");
		return OPTION_END;
	}
	p = nbd_put64(reply, c->caps.size);
	nbd_put16(p, nbd_transmission_flags(&c->caps));
	if (send_all(c->fd, reply, c->no_zeroes ? 10 : sizeof(reply)))
		return OPTION_END;
	return OPTION_TRANSMIT;
}

static enum option_result option_list(struct nbd_conn *c, uint32_t len)
{
	uint32_t name_len = (uint32_t)strlen(c->exp->name);
	uint8_t *reply;
	int err;

	if (len != 0)
		return send_option_reply(c, NBD_OPT_LIST, NBD_REP_ERR_INVALID, NULL, 0) ?
			OPTION_END : OPTION_NEXT;
	reply = conn_buffer(c, 4 + name_len);
	if (!reply)
		return OPTION_END;
	nbd_put32(reply, name_len);
	memcpy(reply + 4, c->exp->name, name_len);
	err = send_option_reply(c, NBD_OPT_LIST, NBD_REP_SERVER, reply, 4 + name_len);
	if (!err)
		err = send_option_reply(c, NBD_OPT_LIST, NBD_REP_ACK, NULL, 0);
	return err ? OPTION_END : OPTION_NEXT;
}

static enum option_result handle_option(struct nbd_conn *c)
{
	uint8_t hdr[16], data[NBD_MAX_OPTION];
	uint32_t option, len;

	if (recv_all(c->fd, hdr, sizeof(hdr)))
		return OPTION_END;
	if (nbd_get64(hdr) != NBD_OPTS_MAGIC) {
		close_with(c, "bad option magic during the handshake");
		return OPTION_END;
	}
	option = nbd_get32(hdr + 8);
	len = nbd_get32(hdr + 12);
	if (len > sizeof(data)) {
		close_with(c, "oversized handshake option");
		return OPTION_END;
	}
	if (recv_all(c->fd, data, len))
		return OPTION_END;
	switch (option) {
	case NBD_OPT_EXPORT_NAME:
		return option_export_name(c, data, len);
	case NBD_OPT_INFO:
	case NBD_OPT_GO:
		return option_info_or_go(c, option, data, len);
	case NBD_OPT_LIST:
		return option_list(c, len);
	case NBD_OPT_ABORT:
		send_option_reply(c, option, NBD_REP_ACK, NULL, 0);
		return OPTION_END;
	case NBD_OPT_STARTTLS:
		return send_option_reply(c, option, NBD_REP_ERR_POLICY, NULL, 0) ?
			OPTION_END : OPTION_NEXT;
	default:	/* structured replies, meta contexts ...: not offered */
		return send_option_reply(c, option, NBD_REP_ERR_UNSUP, NULL, 0) ?
			OPTION_END : OPTION_NEXT;
	}
}

/* Returns true when the client reached the transmission phase. */
static bool handshake(struct nbd_conn *c)
{
	uint8_t greeting[18], *p;
	uint8_t client_flags[4];
	uint32_t flags;
	enum option_result r;

	p = nbd_put64(greeting, NBD_INIT_MAGIC);
	p = nbd_put64(p, NBD_OPTS_MAGIC);
	nbd_put16(p, NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
	if (send_all(c->fd, greeting, sizeof(greeting)) ||
	    recv_all(c->fd, client_flags, sizeof(client_flags)))
		return false;
	flags = nbd_get32(client_flags);
	if (flags & ~(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES)) {
		close_with(c, "unknown client flags in the handshake");
		return false;
	}
	c->no_zeroes = flags & NBD_FLAG_C_NO_ZEROES;
	do
		r = handle_option(c);
	while (r == OPTION_NEXT);
	return r == OPTION_TRANSMIT;
}

/* ---- transmission ---- */

static uint32_t nbd_error_from_errno(int err)
{
	switch (err) {
	case 0:
		return 0;
	case -EPERM:
	case -EROFS:
		return NBD_EPERM;
	case -EINVAL:
	case -EOPNOTSUPP:
		return NBD_EINVAL;
	case -ENOSPC:
		return NBD_ENOSPC;
	case -ENOMEM:
		return NBD_ENOMEM;
	default:
		return NBD_EIO;
	}
}

static int send_simple_reply(struct nbd_conn *c, uint64_t cookie, uint32_t error,
			     const void *data, size_t len)
{
	uint8_t hdr[NBD_SIMPLE_REPLY_SIZE], *p;
	struct iovec iov[2] = {
		{ .iov_base = hdr, .iov_len = sizeof(hdr) },
		{ .iov_base = (void *)data, .iov_len = len },
	};

	p = nbd_put32(hdr, NBD_SIMPLE_REPLY_MAGIC);
	p = nbd_put32(p, error);
	nbd_put64(p, cookie);
	return send_iov(c->fd, iov, error || !len ? 1 : 2);
}

/* FUA: the write must be stable before it is acknowledged. */
static int finish_modification(struct nbd_conn *c, const struct nbd_request *req, int err)
{
	if (!err && (req->flags & NBD_CMD_FLAG_FUA))
		err = blkfile_flush(&c->exp->disk.image);
	return err;
}

/* Executes a validated request; returns the reply's NBD error. */
static uint32_t execute(struct nbd_conn *c, const struct nbd_request *req, uint8_t *payload)
{
	struct blkfile *bf = &c->exp->disk.image;
	struct iovec iov = { .iov_base = payload, .iov_len = req->length };
	int err;

	switch (req->type) {
	case NBD_CMD_READ:
		err = (int)blkfile_preadv(bf, &iov, 1, req->offset);
		break;
	case NBD_CMD_WRITE:
		err = (int)blkfile_pwritev(bf, &iov, 1, req->offset);
		break;
	case NBD_CMD_FLUSH:
		err = blkfile_flush(bf);
		break;
	case NBD_CMD_TRIM:
		err = blkfile_discard(bf, req->offset, req->length);
		break;
	default:	/* NBD_CMD_WRITE_ZEROES, the only other type validation lets through */
		err = blkfile_write_zeroes(bf, req->offset, req->length,
					   !(req->flags & NBD_CMD_FLAG_NO_HOLE));
		break;
	}
	if (err > 0)
		err = 0;
	if (req->type != NBD_CMD_READ)
		err = finish_modification(c, req, err);
	return nbd_error_from_errno(err);
}

/* Handles one request; returns false when the connection must end. */
static bool handle_request(struct nbd_conn *c)
{
	uint8_t raw[NBD_REQUEST_SIZE];
	struct nbd_request req;
	const char *reason;
	uint8_t *payload = NULL;
	bool has_payload;
	int verdict;
	uint32_t error;

	if (recv_all(c->fd, raw, sizeof(raw)))
		return false;
	if (!nbd_decode_request(raw, &req))
		return close_with(c, "bad request magic (not an NBD request)");
	if (req.type == NBD_CMD_DISC)
		return false;
	verdict = nbd_check_request(&req, &c->caps, &reason);
	if (verdict < 0)
		return close_with(c, reason);
	has_payload = req.type == NBD_CMD_READ || req.type == NBD_CMD_WRITE;
	if (has_payload) {
		payload = conn_buffer(c, req.length);
		if (!payload)
			return close_with(c, "out of memory for the request payload");
	}
	/* A rejected WRITE still carries its payload: drain it to stay in sync. */
	if (req.type == NBD_CMD_WRITE && recv_all(c->fd, payload, req.length))
		return false;
	error = verdict ? (uint32_t)verdict : execute(c, &req, payload);
	return send_simple_reply(c, req.cookie, error, payload,
				 req.type == NBD_CMD_READ ? req.length : 0) == 0;
}

void nbd_serve(int fd, struct export *exp, const char *peer)
{
	struct nbd_conn c = {
		.fd = fd,
		.exp = exp,
		.peer = peer,
		.caps = {
			.size = exp->disk.image.size,
			.read_only = exp->disk.image.read_only,
			.can_trim = exp->disk.image.can_discard,
		},
	};

	if (handshake(&c))
		while (handle_request(&c))
			;
	free(c.buf);
}
