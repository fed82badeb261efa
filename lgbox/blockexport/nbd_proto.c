/*
 * NBD request validation, separated from the socket code so the rules that
 * protect the image (bounds, read-only, payload limits) are unit-tested on
 * their own.  The policy: anything that leaves the byte stream in an unknown
 * state (bad magic, a payload too large to drain) closes the connection;
 * anything else gets an error reply and the connection carries on, as the
 * NBD specification asks.
 */
#include "nbd_proto.h"

bool nbd_decode_request(const uint8_t raw[NBD_REQUEST_SIZE], struct nbd_request *req)
{
	if (nbd_get32(raw) != NBD_REQUEST_MAGIC)
		return false;
	req->flags = nbd_get16(raw + 4);
	req->type = nbd_get16(raw + 6);
	req->cookie = nbd_get64(raw + 8);
	req->offset = nbd_get64(raw + 16);
	req->length = nbd_get32(raw + 24);
	return true;
}

uint16_t nbd_transmission_flags(const struct nbd_export_caps *caps)
{
	/*
	 * Every connection shares one file descriptor, so a flush on any of
	 * them covers writes completed on all: multi-conn is safe.
	 */
	uint16_t flags = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_FUA |
			 NBD_FLAG_CAN_MULTI_CONN;

	if (caps->read_only)
		return flags | NBD_FLAG_READ_ONLY;
	flags |= NBD_FLAG_SEND_WRITE_ZEROES;
	if (caps->can_trim)
		flags |= NBD_FLAG_SEND_TRIM;
	return flags;
}

static bool in_bounds(const struct nbd_request *req, uint64_t size)
{
	return req->offset <= size && req->length <= size - req->offset;
}

int nbd_check_request(const struct nbd_request *req, const struct nbd_export_caps *caps,
		      const char **close_reason)
{
	const uint16_t known_flags = NBD_CMD_FLAG_FUA | NBD_CMD_FLAG_NO_HOLE;
	bool modifies = req->type == NBD_CMD_WRITE || req->type == NBD_CMD_TRIM ||
			req->type == NBD_CMD_WRITE_ZEROES;

	if ((req->type == NBD_CMD_READ || req->type == NBD_CMD_WRITE) &&
	    req->length > NBD_MAX_PAYLOAD) {
		*close_reason = "payload larger than the advertised 32 MiB maximum";
		return -1;
	}
	switch (req->type) {
	case NBD_CMD_READ:
	case NBD_CMD_WRITE:
	case NBD_CMD_FLUSH:
	case NBD_CMD_WRITE_ZEROES:
		break;
	case NBD_CMD_TRIM:
		if (!caps->can_trim && !caps->read_only)
			return NBD_EINVAL;
		break;
	default:
		return NBD_EINVAL;	/* never advertised (cache, block status ...) */
	}
	if (req->flags & ~known_flags)
		return NBD_EINVAL;
	if (modifies && caps->read_only)
		return NBD_EPERM;
	if (req->type != NBD_CMD_FLUSH && !in_bounds(req, caps->size))
		return modifies ? NBD_ENOSPC : NBD_EINVAL;
	return 0;
}

bool nbd_decode_info_request(const uint8_t *data, uint32_t len, struct nbd_info_request *out)
{
	uint32_t name_len;

	if (len < 4)
		return false;
	name_len = nbd_get32(data);
	if (name_len > len - 4 || len - 4 - name_len < 2)
		return false;
	out->name = (const char *)data + 4;
	out->name_len = name_len;
	out->n_info = nbd_get16(data + 4 + name_len);
	if (len - 4 - name_len - 2 != 2u * out->n_info)
		return false;
	out->info = data + 4 + name_len + 2;
	return true;
}
