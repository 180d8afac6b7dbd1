/*
 * Four BLAKE2b hashes at once (RFC 7693 section 3.2, function F, run on
 * four messages side by side): lane i of each 256-bit vector holds word j
 * of message i's state, so one AVX2 instruction advances all four.  The
 * Merkle leaves of a block, and the nodes of one level of its tree, are
 * independent of each other, which is what lets them be hashed this way.
 *
 * The AVX2 code is compiled for AVX2 function by function, so that the
 * rest of the build runs on any x86-64, and it runs only where the CPU
 * has AVX2; elsewhere the four hashes are the scalar code's.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "blake2b.h"
#include "blake2b_simd.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_AVX2_CODE 1
#endif

/* Lane i of the scalar path; out[i] NULL means the lane is unused. */
static void
hash_x4_scalar(uint8_t *const out[4], size_t outlen, const uint8_t *prefix,
    size_t prefix_len, const uint8_t *const in[4], const size_t len[4])
{
	uint8_t digest[4][64];
	cst_b2b s;
	int i;

	/* All input is read before any output is written: out may alias in. */
	for (i = 0; i < 4; i++) {
		if (out[i] == NULL)
			continue;
		cst_b2b_init(&s, outlen);
		cst_b2b_update(&s, prefix, prefix_len);
		cst_b2b_update(&s, in[i], len[i]);
		cst_b2b_final(&s, digest[i]);
	}
	for (i = 0; i < 4; i++)
		if (out[i] != NULL)
			memcpy(out[i], digest[i], outlen);
}

#ifdef HAVE_AVX2_CODE

static const uint64_t iv[8] = {
	0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL,
	0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
	0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL,
	0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL,
};

#define AVX2 __attribute__((target("avx2")))

/*
 * A four-lane AVX2 compress costs about two and a half scalar ones (about
 * 250 and 100 ns; bench/bench_hash, "one block"): two lanes left alone
 * are finished in scalar, three are not.
 */
#define X4_SCALAR_LANES 2

/*
 * Rotations right by 32, 24 and 16 move whole bytes, so a shuffle does
 * them in one instruction; by 63 is a rotation left by one.
 */
#define ROT32(x) _mm256_shuffle_epi32((x), _MM_SHUFFLE(2, 3, 0, 1))
#define ROT24(x) _mm256_shuffle_epi8((x), r24)
#define ROT16(x) _mm256_shuffle_epi8((x), r16)
#define ROT63(x) _mm256_xor_si256(_mm256_srli_epi64((x), 63),                \
	_mm256_add_epi64((x), (x)))

#define G(a, b, c, d, x, y) do {                                              \
	v[a] = _mm256_add_epi64(_mm256_add_epi64(v[a], v[b]), (x));           \
	v[d] = ROT32(_mm256_xor_si256(v[d], v[a]));                           \
	v[c] = _mm256_add_epi64(v[c], v[d]);                                  \
	v[b] = ROT24(_mm256_xor_si256(v[b], v[c]));                           \
	v[a] = _mm256_add_epi64(_mm256_add_epi64(v[a], v[b]), (y));           \
	v[d] = ROT16(_mm256_xor_si256(v[d], v[a]));                           \
	v[c] = _mm256_add_epi64(v[c], v[d]);                                  \
	v[b] = ROT63(_mm256_xor_si256(v[b], v[c]));                           \
} while (0)


/*
 * Compresses block blk[i] into lane i's state h for the lanes set in
 * active, with counter t[i] and, where last is set, the final flag.
 * Inactive lanes are computed and then discarded: their state is kept.
 */
static AVX2 void
compress_x4(__m256i h[8], const uint8_t *const blk[4], __m256i t,
    __m256i last, __m256i active)
{
	const __m256i r24 = _mm256_setr_epi8(
	    3, 4, 5, 6, 7, 0, 1, 2, 11, 12, 13, 14, 15, 8, 9, 10,
	    3, 4, 5, 6, 7, 0, 1, 2, 11, 12, 13, 14, 15, 8, 9, 10);
	const __m256i r16 = _mm256_setr_epi8(
	    2, 3, 4, 5, 6, 7, 0, 1, 10, 11, 12, 13, 14, 15, 8, 9,
	    2, 3, 4, 5, 6, 7, 0, 1, 10, 11, 12, 13, 14, 15, 8, 9);
	__m256i m[16], v[16];
	int k;

	/* Row k of lane i is words 4k..4k+3 of blk[i]; transpose 4x4. */
	for (k = 0; k < 4; k++) {
		__m256i r0, r1, r2, r3, t0, t1, t2, t3;

		r0 = _mm256_loadu_si256((const __m256i *)(blk[0] + 32 * k));
		r1 = _mm256_loadu_si256((const __m256i *)(blk[1] + 32 * k));
		r2 = _mm256_loadu_si256((const __m256i *)(blk[2] + 32 * k));
		r3 = _mm256_loadu_si256((const __m256i *)(blk[3] + 32 * k));
		t0 = _mm256_unpacklo_epi64(r0, r1);
		t1 = _mm256_unpackhi_epi64(r0, r1);
		t2 = _mm256_unpacklo_epi64(r2, r3);
		t3 = _mm256_unpackhi_epi64(r2, r3);
		m[4 * k + 0] = _mm256_permute2x128_si256(t0, t2, 0x20);
		m[4 * k + 1] = _mm256_permute2x128_si256(t1, t3, 0x20);
		m[4 * k + 2] = _mm256_permute2x128_si256(t0, t2, 0x31);
		m[4 * k + 3] = _mm256_permute2x128_si256(t1, t3, 0x31);
	}
	for (k = 0; k < 8; k++) {
		v[k] = h[k];
		v[k + 8] = _mm256_set1_epi64x((long long)iv[k]);
	}
	/* Messages here are far below 2^64 bytes: the high counter is 0. */
	v[12] = _mm256_xor_si256(v[12], t);
	v[14] = _mm256_xor_si256(v[14], last);

	B2B_TWELVE_ROUNDS();

	for (k = 0; k < 8; k++)
		h[k] = _mm256_xor_si256(h[k], _mm256_and_si256(active,
		    _mm256_xor_si256(v[k], v[k + 8])));
}

/*
 * Lane i hashes prefix || in[i][0..len[i]), block by block as
 * b2b_plan_lanes and b2b_lane_block (blake2b_simd.h) lay out, in AVX2
 * while more than X4_SCALAR_LANES lanes have a block left.
 */
static AVX2 void
hash_x4_avx2(uint8_t *const out[4], size_t outlen, const uint8_t *prefix,
    size_t prefix_len, const uint8_t *const in[4], const size_t len[4])
{
	struct b2b_plan p;
	uint8_t pad[4][128] __attribute__((aligned(64)));
	uint64_t words[8][4] __attribute__((aligned(32)));
	const uint8_t *blk[4];
	uint64_t steps, t[4], last[4], active[4];
	__m256i h[8];
	uint64_t b;
	int i, k;

	steps = b2b_plan_lanes(&p, 4, prefix, prefix_len, out, in, len,
	    X4_SCALAR_LANES);
	for (k = 0; k < 8; k++)
		h[k] = _mm256_set1_epi64x((long long)iv[k]);
	/* Parameter block: digest length, no key, fanout 1, depth 1. */
	h[0] = _mm256_xor_si256(h[0],
	    _mm256_set1_epi64x((long long)(0x01010000ULL ^ outlen)));

	for (b = 0; b < steps; b++) {
		for (i = 0; i < 4; i++)
			active[i] = b2b_lane_block(&p, i, b, pad[i], &blk[i],
			    &t[i], &last[i]) ? ~(uint64_t)0 : 0;
		compress_x4(h, blk,
		    _mm256_loadu_si256((const __m256i *)t),
		    _mm256_loadu_si256((const __m256i *)last),
		    _mm256_loadu_si256((const __m256i *)active));
	}

	for (k = 0; k < 8; k++)
		_mm256_store_si256((__m256i *)words[k], h[k]);
	b2b_lanes_finish(&p, steps, &words[0][0], out, outlen);
}

#endif /* HAVE_AVX2_CODE */

int
cst_b2b_x4_simd(void)
{

#ifdef HAVE_AVX2_CODE
	/* libgcc's constructor has filled in the CPU model by now. */
	return (__builtin_cpu_supports("avx2") != 0);
#else
	return (0);
#endif
}

void
cst_b2b_hash_x4_with(int simd, uint8_t *const out[4], size_t outlen,
    const uint8_t *prefix, size_t prefix_len, const uint8_t *const in[4],
    const size_t len[4])
{

#ifdef HAVE_AVX2_CODE
	if (simd && cst_b2b_x4_simd()) {
		hash_x4_avx2(out, outlen, prefix, prefix_len, in, len);
		return;
	}
#else
	(void)simd;
#endif
	hash_x4_scalar(out, outlen, prefix, prefix_len, in, len);
}

void
cst_b2b_hash_x4(uint8_t *const out[4], size_t outlen, const uint8_t *prefix,
    size_t prefix_len, const uint8_t *const in[4], const size_t len[4])
{

	cst_b2b_hash_x4_with(1, out, outlen, prefix, prefix_len, in, len);
}
