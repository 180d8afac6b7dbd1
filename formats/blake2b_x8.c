/*
 * Eight BLAKE2b hashes at once: blake2b_x4.c's method on 512-bit vectors
 * (AVX-512F), lane i of each vector holding word j of message i's state.
 * AVX-512 also rotates a 64-bit word in one instruction (vprorq), where
 * AVX2 needs a byte shuffle, or two shifts and an add, per rotation.
 *
 * As in blake2b_x4.c the SIMD code is compiled for its ISA function by
 * function and runs only where the CPU has it; elsewhere the eight hashes
 * are two cst_b2b_hash_x4_with calls, each at the level asked for.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "blake2b.h"
#include "blake2b_simd.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_AVX512_CODE 1
#endif

#ifdef HAVE_AVX512_CODE

static const uint64_t iv[8] = {
	0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL,
	0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
	0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL,
	0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL,
};

#define AVX512 __attribute__((target("avx512f")))

#define G(a, b, c, d, x, y) do {                                              \
	v[a] = _mm512_add_epi64(_mm512_add_epi64(v[a], v[b]), (x));           \
	v[d] = _mm512_ror_epi64(_mm512_xor_si512(v[d], v[a]), 32);            \
	v[c] = _mm512_add_epi64(v[c], v[d]);                                  \
	v[b] = _mm512_ror_epi64(_mm512_xor_si512(v[b], v[c]), 24);            \
	v[a] = _mm512_add_epi64(_mm512_add_epi64(v[a], v[b]), (y));           \
	v[d] = _mm512_ror_epi64(_mm512_xor_si512(v[d], v[a]), 16);            \
	v[c] = _mm512_add_epi64(v[c], v[d]);                                  \
	v[b] = _mm512_ror_epi64(_mm512_xor_si512(v[b], v[c]), 63);            \
} while (0)


/*
 * Compresses block blk[i] into lane i's state h for the lanes set in
 * active, with counter t[i] and, where last is set, the final flag.
 * Inactive lanes are computed and then discarded: their state is kept.
 */
static AVX512 void
compress_x8(__m512i h[8], const uint8_t *const blk[8], __m512i t,
    __m512i last, __mmask8 active)
{
	__m512i m[16], v[16];
	int k;

	/*
	 * Row i of half k is words 8k..8k+7 of blk[i]; an 8x8 transpose of
	 * 64-bit words: pairs of rows, then 128-bit pairs, then halves.
	 */
	for (k = 0; k < 2; k++) {
		__m512i r[8], lo[4], hi[4], e0, e1, e2, e3;
		int i;

		for (i = 0; i < 8; i++)
			r[i] = _mm512_loadu_si512(blk[i] + 64 * k);
		for (i = 0; i < 4; i++) {
			/* Words 2c, 2c+1 of rows 2i, 2i+1 in 128-bit lane c. */
			lo[i] = _mm512_unpacklo_epi64(r[2 * i], r[2 * i + 1]);
			hi[i] = _mm512_unpackhi_epi64(r[2 * i], r[2 * i + 1]);
		}
		/* e0: 128-bit lanes 0, 2 of lo[0], then of lo[1]. */
		e0 = _mm512_shuffle_i64x2(lo[0], lo[1],
		    _MM_SHUFFLE(2, 0, 2, 0));
		e1 = _mm512_shuffle_i64x2(lo[2], lo[3],
		    _MM_SHUFFLE(2, 0, 2, 0));
		e2 = _mm512_shuffle_i64x2(lo[0], lo[1],
		    _MM_SHUFFLE(3, 1, 3, 1));
		e3 = _mm512_shuffle_i64x2(lo[2], lo[3],
		    _MM_SHUFFLE(3, 1, 3, 1));
		m[8 * k + 0] = _mm512_shuffle_i64x2(e0, e1,
		    _MM_SHUFFLE(2, 0, 2, 0));
		m[8 * k + 4] = _mm512_shuffle_i64x2(e0, e1,
		    _MM_SHUFFLE(3, 1, 3, 1));
		m[8 * k + 2] = _mm512_shuffle_i64x2(e2, e3,
		    _MM_SHUFFLE(2, 0, 2, 0));
		m[8 * k + 6] = _mm512_shuffle_i64x2(e2, e3,
		    _MM_SHUFFLE(3, 1, 3, 1));
		e0 = _mm512_shuffle_i64x2(hi[0], hi[1],
		    _MM_SHUFFLE(2, 0, 2, 0));
		e1 = _mm512_shuffle_i64x2(hi[2], hi[3],
		    _MM_SHUFFLE(2, 0, 2, 0));
		e2 = _mm512_shuffle_i64x2(hi[0], hi[1],
		    _MM_SHUFFLE(3, 1, 3, 1));
		e3 = _mm512_shuffle_i64x2(hi[2], hi[3],
		    _MM_SHUFFLE(3, 1, 3, 1));
		m[8 * k + 1] = _mm512_shuffle_i64x2(e0, e1,
		    _MM_SHUFFLE(2, 0, 2, 0));
		m[8 * k + 5] = _mm512_shuffle_i64x2(e0, e1,
		    _MM_SHUFFLE(3, 1, 3, 1));
		m[8 * k + 3] = _mm512_shuffle_i64x2(e2, e3,
		    _MM_SHUFFLE(2, 0, 2, 0));
		m[8 * k + 7] = _mm512_shuffle_i64x2(e2, e3,
		    _MM_SHUFFLE(3, 1, 3, 1));
	}
	for (k = 0; k < 8; k++) {
		v[k] = h[k];
		v[k + 8] = _mm512_set1_epi64((long long)iv[k]);
	}
	/* Messages here are far below 2^64 bytes: the high counter is 0. */
	v[12] = _mm512_xor_si512(v[12], t);
	v[14] = _mm512_xor_si512(v[14], last);

	B2B_TWELVE_ROUNDS();

	for (k = 0; k < 8; k++)
		h[k] = _mm512_mask_xor_epi64(h[k], active, h[k],
		    _mm512_xor_si512(v[k], v[k + 8]));
}

/*
 * Lane i hashes prefix || in[i][0..len[i]), block by block as
 * b2b_lanes_plan and b2b_lane_block (blake2b_simd.h) lay out.
 */
static AVX512 void
hash_x8_avx512(uint8_t *const out[8], size_t outlen, uint8_t prefix,
    const uint8_t *const in[8], const size_t len[8])
{
	static const uint8_t zero[128];
	uint8_t pad[8][128] __attribute__((aligned(64)));
	uint64_t words[8][8] __attribute__((aligned(64)));
	uint8_t digest[64];
	const uint8_t *blk[8];
	uint64_t total[8], nb[8], maxnb, t[8], last[8];
	__m512i h[8];
	__mmask8 active;
	uint64_t b;
	int i, k;

	maxnb = b2b_lanes_plan(out, len, 8, total, nb);
	for (k = 0; k < 8; k++)
		h[k] = _mm512_set1_epi64((long long)iv[k]);
	/* Parameter block: digest length, no key, fanout 1, depth 1. */
	h[0] = _mm512_xor_si512(h[0],
	    _mm512_set1_epi64((long long)(0x01010000ULL ^ outlen)));

	for (b = 0; b < maxnb; b++) {
		active = 0;
		for (i = 0; i < 8; i++)
			if (b2b_lane_block(prefix, in[i], out[i] != NULL,
			    total[i], nb[i], b, pad[i], zero, &blk[i], &t[i],
			    &last[i]))
				active |= (__mmask8)(1u << i);
		compress_x8(h, blk, _mm512_loadu_si512(t),
		    _mm512_loadu_si512(last), active);
	}

	for (k = 0; k < 8; k++)
		_mm512_store_si512(words[k], h[k]);
	/* x86 is little-endian, as the digest's words are (RFC 7693 3.3). */
	for (i = 0; i < 8; i++) {
		if (out[i] == NULL)
			continue;
		for (k = 0; k < 8; k++)
			memcpy(digest + 8 * k, &words[k][i], 8);
		memcpy(out[i], digest, outlen);
	}
}

#endif /* HAVE_AVX512_CODE */

int
cst_b2b_simd_level(void)
{

#ifdef HAVE_AVX512_CODE
	/* libgcc's constructor has filled in the CPU model by now. */
	if (__builtin_cpu_supports("avx512f"))
		return (CST_B2B_AVX512);
#endif
	return (cst_b2b_x4_simd() ? CST_B2B_AVX2 : CST_B2B_SCALAR);
}

/*
 * Below AVX-512, each half of the eight lanes is one four-lane call, and
 * a half with no lane in use costs nothing.  An out of the first half may
 * alias an input of the second, so the digests go to a local buffer until
 * both halves have read their input.
 */
void
cst_b2b_hash_x8_with(int level, uint8_t *const out[8], size_t outlen,
    uint8_t prefix, const uint8_t *const in[8], const size_t len[8])
{
	uint8_t digest[8][64];
	uint8_t *tmp[8];
	int half, i, used;

#ifdef HAVE_AVX512_CODE
	if (level >= CST_B2B_AVX512 && cst_b2b_simd_level() >= CST_B2B_AVX512) {
		hash_x8_avx512(out, outlen, prefix, in, len);
		return;
	}
#endif
	for (i = 0; i < 8; i++)
		tmp[i] = out[i] == NULL ? NULL : digest[i];
	for (half = 0; half < 2; half++) {
		for (used = 0, i = 4 * half; i < 4 * half + 4; i++)
			used |= tmp[i] != NULL;
		if (used)
			cst_b2b_hash_x4_with(level >= CST_B2B_AVX2,
			    tmp + 4 * half, outlen, prefix, in + 4 * half,
			    len + 4 * half);
	}
	for (i = 0; i < 8; i++)
		if (out[i] != NULL)
			memcpy(out[i], digest[i], outlen);
}

void
cst_b2b_hash_x8(uint8_t *const out[8], size_t outlen, uint8_t prefix,
    const uint8_t *const in[8], const size_t len[8])
{

	cst_b2b_hash_x8_with(CST_B2B_AVX512, out, outlen, prefix, in, len);
}
