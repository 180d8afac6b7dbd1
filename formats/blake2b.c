/*
 * BLAKE2b, RFC 7693 section 3, written from the RFC.  See blake2b.h for
 * why the project carries it.
 */
#include <string.h>

#include "blake2b.h"

static const uint64_t iv[8] = {
	0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL,
	0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
	0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL,
	0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL,
};

static const uint8_t sigma[12][16] = {
	{ 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 },
	{ 14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3 },
	{ 11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4 },
	{ 7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8 },
	{ 9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13 },
	{ 2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9 },
	{ 12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11 },
	{ 13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10 },
	{ 6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5 },
	{ 10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0 },
	{ 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 },
	{ 14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3 },
};

static inline uint64_t
rotr64(uint64_t x, unsigned n)
{

	return ((x >> n) | (x << (64 - n)));
}

static inline uint64_t
load64(const uint8_t *p)
{
	uint64_t v;

	/* The format is little-endian and so are the machines we target;
	 * memcpy keeps this free of alignment assumptions. */
	memcpy(&v, p, sizeof(v));
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return (v);
}

#define G(a, b, c, d, x, y) do {                                              \
	v[a] = v[a] + v[b] + (x);                                             \
	v[d] = rotr64(v[d] ^ v[a], 32);                                       \
	v[c] = v[c] + v[d];                                                   \
	v[b] = rotr64(v[b] ^ v[c], 24);                                       \
	v[a] = v[a] + v[b] + (y);                                             \
	v[d] = rotr64(v[d] ^ v[a], 16);                                       \
	v[c] = v[c] + v[d];                                                   \
	v[b] = rotr64(v[b] ^ v[c], 63);                                       \
} while (0)

#define ROUND(r) do {                                                         \
	G(0, 4, 8, 12, m[sigma[r][0]], m[sigma[r][1]]);                       \
	G(1, 5, 9, 13, m[sigma[r][2]], m[sigma[r][3]]);                       \
	G(2, 6, 10, 14, m[sigma[r][4]], m[sigma[r][5]]);                      \
	G(3, 7, 11, 15, m[sigma[r][6]], m[sigma[r][7]]);                      \
	G(0, 5, 10, 15, m[sigma[r][8]], m[sigma[r][9]]);                      \
	G(1, 6, 11, 12, m[sigma[r][10]], m[sigma[r][11]]);                    \
	G(2, 7, 8, 13, m[sigma[r][12]], m[sigma[r][13]]);                     \
	G(3, 4, 9, 14, m[sigma[r][14]], m[sigma[r][15]]);                     \
} while (0)

/* RFC 7693 section 3.2, function F. */
void
cst_b2b_compress(uint64_t h[8], const uint8_t *block, const uint64_t t[2],
    int last)
{
	uint64_t m[16], v[16];
	int i;

	for (i = 0; i < 16; i++)
		m[i] = load64(block + 8 * i);
	for (i = 0; i < 8; i++) {
		v[i] = h[i];
		v[i + 8] = iv[i];
	}
	v[12] ^= t[0];
	v[13] ^= t[1];
	if (last)
		v[14] = ~v[14];
	ROUND(0);
	ROUND(1);
	ROUND(2);
	ROUND(3);
	ROUND(4);
	ROUND(5);
	ROUND(6);
	ROUND(7);
	ROUND(8);
	ROUND(9);
	ROUND(10);
	ROUND(11);
	for (i = 0; i < 8; i++)
		h[i] ^= v[i] ^ v[i + 8];
}

static inline void
count(cst_b2b *s, size_t n)
{

	s->t[0] += n;
	if (s->t[0] < n)
		s->t[1]++;
}

void
cst_b2b_init(cst_b2b *s, size_t outlen)
{

	memcpy(s->h, iv, sizeof(s->h));
	/* Parameter block: digest length, no key, fanout 1, depth 1. */
	s->h[0] ^= 0x01010000ULL ^ (uint64_t)outlen;
	s->t[0] = s->t[1] = 0;
	s->buflen = 0;
	s->outlen = outlen;
}

void
cst_b2b_update(cst_b2b *s, const void *in, size_t len)
{
	const uint8_t *p = in;
	size_t n;

	if (len == 0)
		return;
	/* The last block must be compressed with the final flag, so a full
	 * buffer waits until more input proves it is not the last. */
	if (s->buflen > 0) {
		n = sizeof(s->buf) - s->buflen;
		if (len <= n) {
			memcpy(s->buf + s->buflen, p, len);
			s->buflen += len;
			return;
		}
		memcpy(s->buf + s->buflen, p, n);
		p += n;
		len -= n;
		count(s, sizeof(s->buf));
		cst_b2b_compress(s->h, s->buf, s->t, 0);
		s->buflen = 0;
	}
	while (len > sizeof(s->buf)) {
		count(s, sizeof(s->buf));
		cst_b2b_compress(s->h, p, s->t, 0);
		p += sizeof(s->buf);
		len -= sizeof(s->buf);
	}
	memcpy(s->buf, p, len);
	s->buflen = len;
}

void
cst_b2b_final(cst_b2b *s, uint8_t *out)
{
	uint8_t digest[64];
	int i;

	count(s, s->buflen);
	memset(s->buf + s->buflen, 0, sizeof(s->buf) - s->buflen);
	cst_b2b_compress(s->h, s->buf, s->t, 1);
	for (i = 0; i < 8; i++) {
		uint64_t h = s->h[i];
		int j;

		for (j = 0; j < 8; j++)
			digest[8 * i + j] = (uint8_t)(h >> (8 * j));
	}
	memcpy(out, digest, s->outlen);
	memset(s, 0, sizeof(*s));
}

void
cst_b2b_hash(uint8_t *out, size_t outlen, const void *in, size_t len)
{
	cst_b2b s;

	cst_b2b_init(&s, outlen);
	cst_b2b_update(&s, in, len);
	cst_b2b_final(&s, out);
}
