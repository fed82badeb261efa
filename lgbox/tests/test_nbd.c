/*
 * Unit tests of block-export's NBD code: request decoding and the validation
 * rules (nbd_proto.c) byte by byte, then whole sessions of nbd_serve() over a
 * socketpair against a temporary image, covering the old-style EXPORT_NAME
 * handshake that the system test's clients (which all use GO) never take.
 */
#define _GNU_SOURCE
#include "test.h"
#include "../blockexport/export.h"
#include "../blockexport/nbd_proto.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define EXPORT_SIZE (256u << 10)

static const struct nbd_export_caps rw_caps = { .size = EXPORT_SIZE, .can_trim = true };
static const struct nbd_export_caps ro_caps = { .size = EXPORT_SIZE, .read_only = true };

static struct nbd_request request(uint16_t type, uint64_t offset, uint32_t length)
{
	return (struct nbd_request){ .type = type, .offset = offset, .length = length };
}

/* nbd_check_request's verdict, with the close reason required to be set iff it closes. */
static int verdict(const struct nbd_request *req, const struct nbd_export_caps *caps)
{
	const char *reason = NULL;
	int v = nbd_check_request(req, caps, &reason);

	CHECK((v < 0) == (reason != NULL));
	return v;
}

static void decode_reads_big_endian_fields(void)
{
	static const uint8_t raw[NBD_REQUEST_SIZE] = {
		0x25, 0x60, 0x95, 0x13,	0x00, 0x01, 0x00, 0x06,
		1, 2, 3, 4, 5, 6, 7, 8,	0, 0, 0, 0, 0, 0, 0x10, 0x00,
		0x00, 0x00, 0x02, 0x00,
	};
	struct nbd_request req;

	CHECK(nbd_decode_request(raw, &req));
	CHECK_EQ(req.flags, NBD_CMD_FLAG_FUA);
	CHECK_EQ(req.type, NBD_CMD_WRITE_ZEROES);
	CHECK(req.cookie == 0x0102030405060708ULL);
	CHECK_EQ(req.offset, 4096);
	CHECK_EQ(req.length, 512);
}

static void decode_rejects_bad_magic(void)
{
	uint8_t raw[NBD_REQUEST_SIZE] = { 0x25, 0x60, 0x95, 0x14 };
	struct nbd_request req;

	CHECK(!nbd_decode_request(raw, &req));
}

static void requests_inside_the_export_are_accepted(void)
{
	struct nbd_request r = request(NBD_CMD_READ, 0, EXPORT_SIZE);

	CHECK_EQ(verdict(&r, &rw_caps), 0);
	r = request(NBD_CMD_WRITE, EXPORT_SIZE - 1, 1);
	CHECK_EQ(verdict(&r, &rw_caps), 0);
	r = request(NBD_CMD_TRIM, 4096, 4096);
	CHECK_EQ(verdict(&r, &rw_caps), 0);
	r = request(NBD_CMD_FLUSH, 0, 0);
	CHECK_EQ(verdict(&r, &ro_caps), 0);
	r = request(NBD_CMD_READ, EXPORT_SIZE, 0);
	CHECK_EQ(verdict(&r, &rw_caps), 0);
}

static void requests_past_the_end_get_errors(void)
{
	struct nbd_request r = request(NBD_CMD_READ, EXPORT_SIZE - 1, 2);

	CHECK_EQ(verdict(&r, &rw_caps), NBD_EINVAL);
	r = request(NBD_CMD_WRITE, EXPORT_SIZE, 1);
	CHECK_EQ(verdict(&r, &rw_caps), NBD_ENOSPC);
	r = request(NBD_CMD_WRITE_ZEROES, UINT64_MAX - 10, 4096);	/* must not wrap */
	CHECK_EQ(verdict(&r, &rw_caps), NBD_ENOSPC);
	r = request(NBD_CMD_READ, UINT64_MAX, 1);
	CHECK_EQ(verdict(&r, &rw_caps), NBD_EINVAL);
}

static void oversized_payloads_close_the_connection(void)
{
	struct nbd_request r = request(NBD_CMD_WRITE, 0, NBD_MAX_PAYLOAD + 1);

	CHECK_EQ(verdict(&r, &rw_caps), -1);
	r = request(NBD_CMD_READ, 0, UINT32_MAX);
	CHECK_EQ(verdict(&r, &rw_caps), -1);
	/* Without a payload, length is only a range: large is fine if it fits. */
	r = request(NBD_CMD_WRITE_ZEROES, 0, EXPORT_SIZE);
	CHECK_EQ(verdict(&r, &rw_caps), 0);
}

static void read_only_export_refuses_modifications(void)
{
	struct nbd_request r = request(NBD_CMD_WRITE, 0, 512);

	CHECK_EQ(verdict(&r, &ro_caps), NBD_EPERM);
	r = request(NBD_CMD_TRIM, 0, 512);
	CHECK_EQ(verdict(&r, &ro_caps), NBD_EPERM);
	r = request(NBD_CMD_WRITE_ZEROES, 0, 512);
	CHECK_EQ(verdict(&r, &ro_caps), NBD_EPERM);
	r = request(NBD_CMD_READ, 0, 512);
	CHECK_EQ(verdict(&r, &ro_caps), 0);
}

static void unadvertised_commands_and_flags_get_einval(void)
{
	struct nbd_export_caps no_trim = { .size = EXPORT_SIZE };
	struct nbd_request r = request(NBD_CMD_TRIM, 0, 512);

	CHECK_EQ(verdict(&r, &no_trim), NBD_EINVAL);
	r = request(5 /* NBD_CMD_CACHE */, 0, 512);
	CHECK_EQ(verdict(&r, &rw_caps), NBD_EINVAL);
	r = request(NBD_CMD_READ, 0, 512);
	r.flags = 1u << 3;	/* NBD_CMD_FLAG_REQ_ONE: needs structured replies */
	CHECK_EQ(verdict(&r, &rw_caps), NBD_EINVAL);
}

static void transmission_flags_follow_capabilities(void)
{
	uint16_t rw = nbd_transmission_flags(&rw_caps);
	uint16_t ro = nbd_transmission_flags(&ro_caps);

	CHECK(rw & NBD_FLAG_SEND_TRIM);
	CHECK(rw & NBD_FLAG_SEND_WRITE_ZEROES);
	CHECK(!(rw & NBD_FLAG_READ_ONLY));
	CHECK(ro & NBD_FLAG_READ_ONLY);
	CHECK(!(ro & (NBD_FLAG_SEND_TRIM | NBD_FLAG_SEND_WRITE_ZEROES)));
	CHECK(rw & ro & NBD_FLAG_SEND_FLUSH);
}

static void info_request_payload_is_validated(void)
{
	static const uint8_t good[] = { 0, 0, 0, 4, 'd', 'i', 's', 'k', 0, 1, 0, 3 };
	static const uint8_t name_too_long[] = { 0, 0, 0, 9, 'd', 'i', 's', 'k', 0, 0 };
	static const uint8_t count_mismatch[] = { 0, 0, 0, 0, 0, 2, 0, 3 };
	struct nbd_info_request ir;

	CHECK(nbd_decode_info_request(good, sizeof(good), &ir));
	CHECK_EQ(ir.name_len, 4);
	CHECK(memcmp(ir.name, "disk", 4) == 0);
	CHECK_EQ(ir.n_info, 1);
	CHECK_EQ(nbd_get16(ir.info), NBD_INFO_BLOCK_SIZE);
	CHECK(!nbd_decode_info_request(name_too_long, sizeof(name_too_long), &ir));
	CHECK(!nbd_decode_info_request(count_mismatch, sizeof(count_mismatch), &ir));
	CHECK(!nbd_decode_info_request(good, 3, &ir));
}

/* ---- whole sessions over a socketpair ---- */

struct session {
	struct export exp;
	char path[64];
	int client;
	pthread_t server;
	int server_fd;
};

static void *server_thread(void *arg)
{
	struct session *s = arg;

	nbd_serve(s->server_fd, &s->exp, "socketpair");
	close(s->server_fd);
	return NULL;
}

static bool start_session(struct session *s, bool read_only)
{
	int sv[2], fd;

	strcpy(s->path, "/tmp/test_nbd.XXXXXX");
	fd = mkstemp(s->path);
	if (fd < 0 || ftruncate(fd, EXPORT_SIZE) < 0)
		return false;
	close(fd);
	s->exp.name = "disk";
	s->exp.disk.overlay.fd = -1;	/* NBD serves the image itself */
	if (blkfile_open(&s->exp.disk.image, s->path, read_only) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return false;
	s->client = sv[0];
	s->server_fd = sv[1];
	return pthread_create(&s->server, NULL, server_thread, s) == 0;
}

static void end_session(struct session *s)
{
	close(s->client);
	pthread_join(s->server, NULL);
	blkfile_close(&s->exp.disk.image);
	unlink(s->path);
}

static bool recv_exact(int fd, void *buf, size_t len)
{
	return recv(fd, buf, len, MSG_WAITALL) == (ssize_t)len;
}

/* Client side of the handshake up to the start of transmission, via NBD_OPT_EXPORT_NAME. */
static bool export_name_handshake(int fd, const char *name, uint64_t *size, uint16_t *flags)
{
	uint8_t greeting[18], opt[16 + 64], reply[10], *p;
	uint32_t len = (uint32_t)strlen(name);

	if (!recv_exact(fd, greeting, sizeof(greeting)) || nbd_get64(greeting) != NBD_INIT_MAGIC)
		return false;
	nbd_put32(opt, NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES);
	if (send(fd, opt, 4, 0) != 4)
		return false;
	p = nbd_put64(opt, NBD_OPTS_MAGIC);
	p = nbd_put32(p, NBD_OPT_EXPORT_NAME);
	p = nbd_put32(p, len);
	memcpy(p, name, len);
	if (send(fd, opt, 16 + len, 0) != (ssize_t)(16 + len) ||
	    !recv_exact(fd, reply, sizeof(reply)))
		return false;
	*size = nbd_get64(reply);
	*flags = nbd_get16(reply + 8);
	return true;
}

/* Sends a request (with @payload for writes); returns the reply's error, or -1. */
static int64_t transact(int fd, uint16_t type, uint64_t off, uint32_t len, void *data)
{
	uint8_t req[NBD_REQUEST_SIZE], reply[NBD_SIMPLE_REPLY_SIZE], *p;
	uint32_t error;

	p = nbd_put32(req, NBD_REQUEST_MAGIC);
	p = nbd_put16(p, 0);
	p = nbd_put16(p, type);
	p = nbd_put64(p, 0xc00c1e);
	p = nbd_put64(p, off);
	nbd_put32(p, len);
	if (send(fd, req, sizeof(req), 0) != sizeof(req))
		return -1;
	if (type == NBD_CMD_WRITE && send(fd, data, len, 0) != (ssize_t)len)
		return -1;
	if (!recv_exact(fd, reply, sizeof(reply)) || nbd_get32(reply) != NBD_SIMPLE_REPLY_MAGIC ||
	    nbd_get64(reply + 8) != 0xc00c1e)
		return -1;
	error = nbd_get32(reply + 4);
	if (type == NBD_CMD_READ && error == 0 && !recv_exact(fd, data, len))
		return -1;
	return error;
}

static void export_name_session_reads_writes_and_flushes(void)
{
	struct session s = { 0 };
	uint8_t out[4096], in[4096];
	uint64_t size = 0;
	uint16_t flags = 0;

	memset(out, 0x5a, sizeof(out));
	CHECK(start_session(&s, false));
	CHECK(export_name_handshake(s.client, "disk", &size, &flags));
	CHECK_EQ(size, EXPORT_SIZE);
	CHECK(flags & NBD_FLAG_SEND_FLUSH);
	CHECK_EQ(transact(s.client, NBD_CMD_WRITE, 8192, sizeof(out), out), 0);
	CHECK_EQ(transact(s.client, NBD_CMD_FLUSH, 0, 0, NULL), 0);
	CHECK_EQ(transact(s.client, NBD_CMD_READ, 8192, sizeof(in), in), 0);
	CHECK(memcmp(in, out, sizeof(in)) == 0);
	CHECK_EQ(transact(s.client, NBD_CMD_WRITE, EXPORT_SIZE - 100, sizeof(out), out),
		 NBD_ENOSPC);
	CHECK_EQ(transact(s.client, NBD_CMD_READ, 0, 16, in), 0);	/* still in sync */
	end_session(&s);
}

static void read_only_session_refuses_writes(void)
{
	struct session s = { 0 };
	uint8_t buf[512] = { 1 };
	uint64_t size;
	uint16_t flags = 0;

	CHECK(start_session(&s, true));
	CHECK(export_name_handshake(s.client, "", &size, &flags));	/* "" = default export */
	CHECK(flags & NBD_FLAG_READ_ONLY);
	CHECK_EQ(transact(s.client, NBD_CMD_WRITE, 0, sizeof(buf), buf), NBD_EPERM);
	CHECK_EQ(transact(s.client, NBD_CMD_READ, 0, sizeof(buf), buf), 0);
	CHECK_EQ(buf[0], 0);
	end_session(&s);
}

static void unknown_export_name_hangs_up(void)
{
	struct session s = { 0 };
	uint64_t size;
	uint16_t flags;

	CHECK(start_session(&s, false));
	CHECK(!export_name_handshake(s.client, "other", &size, &flags));
	end_session(&s);
}

int main(void)
{
	TEST_RUN(decode_reads_big_endian_fields);
	TEST_RUN(decode_rejects_bad_magic);
	TEST_RUN(requests_inside_the_export_are_accepted);
	TEST_RUN(requests_past_the_end_get_errors);
	TEST_RUN(oversized_payloads_close_the_connection);
	TEST_RUN(read_only_export_refuses_modifications);
	TEST_RUN(unadvertised_commands_and_flags_get_einval);
	TEST_RUN(transmission_flags_follow_capabilities);
	TEST_RUN(info_request_payload_is_validated);
	TEST_RUN(export_name_session_reads_writes_and_flushes);
	TEST_RUN(read_only_session_refuses_writes);
	TEST_RUN(unknown_export_name_hangs_up);
	return test_summary();
}
