/*
 * inflate.c - gzip/deflate decoder; see inflate.h.
 *
 * Deflate blocks are stored, fixed-Huffman or dynamic-Huffman.  Codes are
 * canonical, so a table of "how many codes of each length" plus the
 * symbols in code order decodes them one bit at a time.  Every input read
 * is checked against the end of the input, every output write and
 * back-reference against the output buffer; any violation ends the
 * decoding with a reason instead of touching memory it does not own.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "inflate.h"

#define MAX_BITS	15
#define MAX_LITLEN	288
#define MAX_DIST	30

struct inflater {
	const uint8_t *in;
	size_t in_len, in_pos;
	uint32_t bitbuf;
	unsigned int bitcnt;
	uint8_t *out;
	size_t out_len, out_pos;
	const char *error;	/* first error; later ones are ignored */
};

struct huffman {
	uint16_t count[MAX_BITS + 1];	/* codes of each length */
	uint16_t symbol[MAX_LITLEN];	/* symbols in canonical code order */
};

static int fail(struct inflater *s, const char *why)
{
	if (!s->error)
		s->error = why;
	return -1;
}

/* The next n bits (n <= 16), least significant first; 0 after an error. */
static unsigned int bits(struct inflater *s, unsigned int n)
{
	unsigned int value;

	while (s->bitcnt < n) {
		if (s->in_pos == s->in_len) {
			fail(s, "compressed data ends early");
			return 0;
		}
		s->bitbuf |= (uint32_t)s->in[s->in_pos++] << s->bitcnt;
		s->bitcnt += 8;
	}
	value = s->bitbuf & ((1u << n) - 1);
	s->bitbuf >>= n;
	s->bitcnt -= n;
	return value;
}

/*
 * Builds a decoding table from code lengths.  Over-subscribed sets are
 * invalid; incomplete ones are allowed (a lone distance code is legal) and
 * their unused codes fail in decode().
 */
static int build(struct huffman *h, const uint8_t *lengths, unsigned int n)
{
	uint16_t offset[MAX_BITS + 1];
	unsigned int len, sym;
	int left = 1;

	memset(h->count, 0, sizeof(h->count));
	for (sym = 0; sym < n; sym++)
		h->count[lengths[sym]]++;
	for (len = 1; len <= MAX_BITS; len++) {
		left = left * 2 - h->count[len];
		if (left < 0)
			return -1;
	}
	offset[1] = 0;
	for (len = 1; len < MAX_BITS; len++)
		offset[len + 1] = offset[len] + h->count[len];
	for (sym = 0; sym < n; sym++)
		if (lengths[sym])
			h->symbol[offset[lengths[sym]]++] = sym;
	return 0;
}

static int decode(struct inflater *s, const struct huffman *h)
{
	int code = 0, first = 0, index = 0;
	unsigned int len;

	for (len = 1; len <= MAX_BITS; len++) {
		code |= bits(s, 1);
		if (code - h->count[len] < first)
			return h->symbol[index + (code - first)];
		index += h->count[len];
		first = (first + h->count[len]) << 1;
		code <<= 1;
	}
	return fail(s, "invalid Huffman code");
}

static int put(struct inflater *s, uint8_t byte)
{
	if (s->out_pos == s->out_len)
		return fail(s, "decompressed data longer than announced");
	s->out[s->out_pos++] = byte;
	return 0;
}

static int stored_block(struct inflater *s)
{
	unsigned int len, nlen;

	/* Stored data starts at a byte boundary: drop the partial byte. */
	s->bitbuf = 0;
	s->bitcnt = 0;
	if (s->in_len - s->in_pos < 4)
		return fail(s, "compressed data ends early");
	len = s->in[s->in_pos] | s->in[s->in_pos + 1] << 8;
	nlen = s->in[s->in_pos + 2] | s->in[s->in_pos + 3] << 8;
	s->in_pos += 4;
	if (len != (~nlen & 0xffff))
		return fail(s, "corrupt stored block length");
	if (s->in_len - s->in_pos < len)
		return fail(s, "compressed data ends early");
	if (s->out_len - s->out_pos < len)
		return fail(s, "decompressed data longer than announced");
	memcpy(s->out + s->out_pos, s->in + s->in_pos, len);
	s->in_pos += len;
	s->out_pos += len;
	return 0;
}

static const uint16_t length_base[29] = {
	3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
	35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258 };
static const uint8_t length_extra[29] = {
	0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
	3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0 };
static const uint16_t dist_base[30] = {
	1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193,
	257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577 };
static const uint8_t dist_extra[30] = {
	0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6,
	7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13 };

/* Literals and back-references until the end-of-block symbol. */
static int codes(struct inflater *s, const struct huffman *litlen, const struct huffman *dist)
{
	int sym;

	for (;;) {
		size_t len, back;

		sym = decode(s, litlen);
		if (sym < 0 || s->error)
			return -1;
		if (sym < 256) {
			if (put(s, sym) < 0)
				return -1;
			continue;
		}
		if (sym == 256)
			return 0;
		sym -= 257;
		if (sym >= 29)
			return fail(s, "invalid length code");
		len = length_base[sym] + bits(s, length_extra[sym]);
		sym = decode(s, dist);
		if (sym < 0 || sym >= MAX_DIST)
			return fail(s, "invalid distance code");
		back = dist_base[sym] + bits(s, dist_extra[sym]);
		if (s->error)
			return -1;
		if (back > s->out_pos)
			return fail(s, "back-reference before the start of the data");
		if (len > s->out_len - s->out_pos)
			return fail(s, "decompressed data longer than announced");
		/* Byte by byte: source and destination may overlap. */
		for (; len; len--, s->out_pos++)
			s->out[s->out_pos] = s->out[s->out_pos - back];
	}
}

static int fixed_block(struct inflater *s)
{
	static struct huffman litlen, dist;
	static bool built;
	uint8_t lengths[MAX_LITLEN];
	unsigned int i;

	if (!built) {
		for (i = 0; i < 144; i++)
			lengths[i] = 8;
		for (; i < 256; i++)
			lengths[i] = 9;
		for (; i < 280; i++)
			lengths[i] = 7;
		for (; i < MAX_LITLEN; i++)
			lengths[i] = 8;
		build(&litlen, lengths, MAX_LITLEN);
		memset(lengths, 5, MAX_DIST);
		build(&dist, lengths, MAX_DIST);
		built = true;
	}
	return codes(s, &litlen, &dist);
}

static int dynamic_block(struct inflater *s)
{
	static const uint8_t order[19] = {
		16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15 };
	uint8_t lengths[MAX_LITLEN + MAX_DIST];
	struct huffman lencode, litlen, dist;
	unsigned int nlen = bits(s, 5) + 257, ndist = bits(s, 5) + 1, ncode = bits(s, 4) + 4;
	unsigned int i = 0, repeat;
	uint8_t value;
	int sym;

	if (nlen > 286 || ndist > MAX_DIST)
		return fail(s, "too many codes in a dynamic block");
	memset(lengths, 0, sizeof(lengths));
	for (i = 0; i < ncode; i++)
		lengths[order[i]] = bits(s, 3);
	if (s->error || build(&lencode, lengths, 19) < 0)
		return fail(s, "invalid code-length code");
	for (i = 0; i < nlen + ndist;) {
		sym = decode(s, &lencode);
		if (sym < 0 || s->error)
			return -1;
		if (sym < 16) {
			lengths[i++] = sym;
			continue;
		}
		if (sym == 16) {
			if (i == 0)
				return fail(s, "length repeat with nothing to repeat");
			value = lengths[i - 1];
			repeat = 3 + bits(s, 2);
		} else {
			value = 0;
			repeat = sym == 17 ? 3 + bits(s, 3) : 11 + bits(s, 7);
		}
		if (repeat > nlen + ndist - i)
			return fail(s, "code lengths overrun their table");
		memset(lengths + i, value, repeat);
		i += repeat;
	}
	if (!lengths[256])
		return fail(s, "dynamic block without an end-of-block code");
	if (build(&litlen, lengths, nlen) < 0 || build(&dist, lengths + nlen, ndist) < 0)
		return fail(s, "invalid dynamic Huffman code");
	return codes(s, &litlen, &dist);
}

static int inflate_blocks(struct inflater *s)
{
	unsigned int last, type;

	do {
		last = bits(s, 1);
		type = bits(s, 2);
		if (s->error)
			return -1;
		if ((type == 0 ? stored_block(s) : type == 1 ? fixed_block(s) :
		     type == 2 ? dynamic_block(s) : fail(s, "invalid block type")) < 0)
			return -1;
	} while (!last);
	return 0;
}

static uint32_t crc32(const uint8_t *p, size_t len)
{
	static uint32_t table[256];
	uint32_t crc = ~0u;
	unsigned int i, k;

	if (!table[1]) {
		for (i = 0; i < 256; i++) {
			uint32_t c = i;

			for (k = 0; k < 8; k++)
				c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
			table[i] = c;
		}
	}
	while (len--)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static uint32_t le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Skips the gzip header (RFC 1952 2.3); returns the deflate start or 0. */
static size_t skip_header(const uint8_t *in, size_t len, const char **why)
{
	enum { FHCRC = 2, FEXTRA = 4, FNAME = 8, FCOMMENT = 16 };
	size_t pos = 10;
	uint8_t flags;

	if (len < 18 || in[0] != 0x1f || in[1] != 0x8b || in[2] != 8) {
		*why = "not gzip data (or not deflate-compressed)";
		return 0;
	}
	flags = in[3];
	if (flags & 0xe0) {
		*why = "gzip header has reserved flags set";
		return 0;
	}
	if (flags & FEXTRA)
		pos += 2 + (in[10] | in[11] << 8);
	if (flags & FNAME)
		while (pos < len && in[pos++])
			;
	if (flags & FCOMMENT)
		while (pos < len && in[pos++])
			;
	if (flags & FHCRC)
		pos += 2;
	if (pos > len - 8) {
		*why = "gzip header runs past the data";
		return 0;
	}
	return pos;
}

int gunzip(const uint8_t *in, size_t in_len, size_t max_out,
	   uint8_t **out, size_t *out_len, const char **why)
{
	struct inflater s = { .in = in };
	size_t start = skip_header(in, in_len, why);

	if (!start)
		return -1;
	s.in_pos = start;
	s.in_len = in_len - 8;		/* CRC32 and ISIZE follow the data */
	s.out_len = le32(in + in_len - 4);
	if (s.out_len > max_out) {
		*why = "decompressed size larger than the memory given";
		return -1;
	}
	s.out = malloc(s.out_len ? s.out_len : 1);
	if (!s.out) {
		*why = "out of memory for the decompressed data";
		return -1;
	}
	if (inflate_blocks(&s) == 0 && s.out_pos != s.out_len)
		fail(&s, "decompressed data shorter than announced");
	if (!s.error && crc32(s.out, s.out_len) != le32(in + in_len - 8))
		fail(&s, "CRC mismatch: the compressed data is corrupt");
	if (s.error) {
		*why = s.error;
		free(s.out);
		return -1;
	}
	*out = s.out;
	*out_len = s.out_len;
	return 0;
}
