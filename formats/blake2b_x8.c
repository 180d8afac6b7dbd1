/*
 * Eight BLAKE2b hashes at once: blake2b_x4.c's method on 512-bit vectors
 * (AVX-512F and BW), lane i of each vector holding word j of message i's
 * state.  AVX-512 also rotates a 64-bit word in one instruction (vprorq),
 * where AVX2 needs a byte shuffle, or two shifts and an add, per rotation,
 * and its masked byte loads build each lane's blocks in registers: a
 * Merkle node is one block and a leaf three, and building their blocks
 * in buffers, then copying the digests out, was over a quarter of the
 * time of a node (bench/bench_hash).
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

/*
 * AVX-512BW for the masked byte loads and stores below.  The one CPU line
 * with AVX-512F and not BW, Xeon Phi, gets the AVX2 four-lane code: a
 * byte mask there would cost a path of its own for no machine custody
 * runs on.
 */
#define AVX512 __attribute__((target("avx512f,avx512bw")))

/*
 * An eight-lane AVX-512 step costs about two scalar compresses (about 210
 * and 105 ns; bench/bench_hash, "one block"), and building a block for
 * the scalar code costs more than for the eight lanes: a lane left alone
 * is finished in scalar, two are not.
 */
#define X8_SCALAR_LANES 1

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

/* Bits 0..n-1 of a byte mask, for n in 0..64. */
static inline uint64_t
low_bits(size_t n)
{

	return (n >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << n) - 1);
}

/*
 * The 8x8 transpose of 64-bit words: c[j] holds word j of every r[i].
 * Rows of eight lanes' blocks become message words, and state words
 * become the lanes' digests.  Pairs of rows, then 128-bit pairs, then
 * halves.  Written without loops, so that the compiler keeps every
 * vector in a register.
 */
static AVX512 inline void
transpose_x8(const __m512i r[8], __m512i c[8])
{
	__m512i l0, l1, l2, l3, h0, h1, h2, h3, e0, e1, e2, e3;

	/* Words 2c, 2c+1 of rows 2i, 2i+1 in 128-bit lane c. */
	l0 = _mm512_unpacklo_epi64(r[0], r[1]);
	l1 = _mm512_unpacklo_epi64(r[2], r[3]);
	l2 = _mm512_unpacklo_epi64(r[4], r[5]);
	l3 = _mm512_unpacklo_epi64(r[6], r[7]);
	h0 = _mm512_unpackhi_epi64(r[0], r[1]);
	h1 = _mm512_unpackhi_epi64(r[2], r[3]);
	h2 = _mm512_unpackhi_epi64(r[4], r[5]);
	h3 = _mm512_unpackhi_epi64(r[6], r[7]);
	/* e0: 128-bit lanes 0, 2 of l0, then of l1. */
	e0 = _mm512_shuffle_i64x2(l0, l1, _MM_SHUFFLE(2, 0, 2, 0));
	e1 = _mm512_shuffle_i64x2(l2, l3, _MM_SHUFFLE(2, 0, 2, 0));
	e2 = _mm512_shuffle_i64x2(l0, l1, _MM_SHUFFLE(3, 1, 3, 1));
	e3 = _mm512_shuffle_i64x2(l2, l3, _MM_SHUFFLE(3, 1, 3, 1));
	c[0] = _mm512_shuffle_i64x2(e0, e1, _MM_SHUFFLE(2, 0, 2, 0));
	c[4] = _mm512_shuffle_i64x2(e0, e1, _MM_SHUFFLE(3, 1, 3, 1));
	c[2] = _mm512_shuffle_i64x2(e2, e3, _MM_SHUFFLE(2, 0, 2, 0));
	c[6] = _mm512_shuffle_i64x2(e2, e3, _MM_SHUFFLE(3, 1, 3, 1));
	e0 = _mm512_shuffle_i64x2(h0, h1, _MM_SHUFFLE(2, 0, 2, 0));
	e1 = _mm512_shuffle_i64x2(h2, h3, _MM_SHUFFLE(2, 0, 2, 0));
	e2 = _mm512_shuffle_i64x2(h0, h1, _MM_SHUFFLE(3, 1, 3, 1));
	e3 = _mm512_shuffle_i64x2(h2, h3, _MM_SHUFFLE(3, 1, 3, 1));
	c[1] = _mm512_shuffle_i64x2(e0, e1, _MM_SHUFFLE(2, 0, 2, 0));
	c[5] = _mm512_shuffle_i64x2(e0, e1, _MM_SHUFFLE(3, 1, 3, 1));
	c[3] = _mm512_shuffle_i64x2(e2, e3, _MM_SHUFFLE(2, 0, 2, 0));
	c[7] = _mm512_shuffle_i64x2(e2, e3, _MM_SHUFFLE(3, 1, 3, 1));
}

/*
 * Lane i hashes prefix || in[i][0..len[i]): total[i] bytes in nb[i]
 * blocks of 128, message byte j >= prefix_len at address base[i] + j (an
 * unused lane has total[i] = nb[i] = base[i] = 0).  base[i] is an
 * integer, not a pointer: it is before the input, where C has no pointer.
 */
struct x8_lanes {
	uint64_t base[8];
	uint64_t total[8];
	uint64_t nb[8];
	size_t prefix_len;
};

/*
 * The 64 bytes of lane i's message from byte `start` on, in a register:
 * one masked load of those that are input, zeroes for the others (the
 * prefix's, and the padding after the message), the prefix's (head: its
 * bytes start..start+63, zero padded) OR-ed in.
 *
 * Masked-off bytes are never accessed: AVX-512 suppresses their faults
 * (Intel SDM vol. 1 15.6.1; vol. 2A 2.7, whose exception tables raise #PF
 * and #GP only "if fault suppression not set"), so the 64 bytes may start
 * before the input or run past its end.  None starts more than one past
 * the end, so no address strays towards the end of the address space.
 * But a masked-off byte on an unmapped page costs a microcode assist
 * (eight Merkle nodes with six lanes unused, at address 0: 1.3 us instead
 * of 0.24 on Zen 4), so 64 bytes with none of the input load nothing.
 * Those that are all input take a plain load, faster than a masked one
 * on Zen 4 (long messages: 20% at 4 MB a lane, bench_hash).
 */
static AVX512 inline __m512i
lane_half(const struct x8_lanes *l, int i, uint64_t start, __m512i head)
{
	uint64_t lo, hi, keep, at;
	__m512i r;

	lo = l->prefix_len > start ? l->prefix_len - start : 0;
	hi = l->total[i] > start ? l->total[i] - start : 0;
	keep = low_bits(hi) & ~low_bits(lo);
	at = l->base[i] + (start < l->total[i] ? start : l->total[i]);
	if (keep == ~(uint64_t)0)
		return (_mm512_loadu_si512((const void *)(uintptr_t)at));
	r = keep == 0 ? _mm512_setzero_si512() :
	    _mm512_maskz_loadu_epi8(keep, (const void *)(uintptr_t)at);
	return (lo > 0 ? _mm512_or_si512(r, head) : r);
}

/*
 * m[j] = word j of the 64 bytes from message byte `start` on of each
 * lane, head the prefix's bytes there (lane_half).
 */
static AVX512 inline void
lanes_half(const struct x8_lanes *l, uint64_t start, __m512i head,
    __m512i m[8])
{
	__m512i r[8];

	r[0] = lane_half(l, 0, start, head);
	r[1] = lane_half(l, 1, start, head);
	r[2] = lane_half(l, 2, start, head);
	r[3] = lane_half(l, 3, start, head);
	r[4] = lane_half(l, 4, start, head);
	r[5] = lane_half(l, 5, start, head);
	r[6] = lane_half(l, 6, start, head);
	r[7] = lane_half(l, 7, start, head);
	transpose_x8(r, m);
}

/*
 * Compresses message words m (m[j]: word j of each lane's block) into
 * lane i's state h for the lanes set in active, with counter t[i] and,
 * where last is set, the final flag.  Inactive lanes are computed and
 * then discarded: their state is kept.
 */
static AVX512 inline void
compress_x8(__m512i h[8], const __m512i m[16], __m512i t, __mmask8 last,
    __mmask8 active)
{
	__m512i v[16];
	int k;

	for (k = 0; k < 8; k++) {
		v[k] = h[k];
		v[k + 8] = _mm512_set1_epi64((long long)iv[k]);
	}
	/* Messages here are far below 2^64 bytes: the high counter is 0. */
	v[12] = _mm512_xor_si512(v[12], t);
	v[14] = _mm512_mask_xor_epi64(v[14], last, v[14],
	    _mm512_set1_epi64(-1));

	B2B_TWELVE_ROUNDS();

	for (k = 0; k < 8; k++)
		h[k] = _mm512_mask_xor_epi64(h[k], active, h[k],
		    _mm512_xor_si512(v[k], v[k + 8]));
}

/*
 * Ends the lanes of l that have blocks left after `steps` steps, in
 * scalar: words[k][i] is word k of lane i's state.
 */
static AVX512 void
lanes_finish(const struct x8_lanes *l, const __m512i head[2],
    uint64_t steps, uint64_t words[8][8])
{
	uint8_t blk[128] __attribute__((aligned(64)));
	uint64_t h[8], t[2], b;
	int i, k;

	t[1] = 0;
	for (i = 0; i < 8; i++) {
		if (l->nb[i] <= steps)
			continue;
		for (k = 0; k < 8; k++)
			h[k] = words[k][i];
		for (b = steps; b < l->nb[i]; b++) {
			_mm512_store_si512(blk, lane_half(l, i, 128 * b,
			    head[0]));
			_mm512_store_si512(blk + 64, lane_half(l, i,
			    128 * b + 64, head[1]));
			t[0] = l->total[i] < 128 * (b + 1) ? l->total[i] :
			    128 * (b + 1);
			cst_b2b_compress(h, blk, t, b + 1 == l->nb[i]);
		}
		for (k = 0; k < 8; k++)
			words[k][i] = h[k];
	}
}

/*
 * In AVX-512 while more than X8_SCALAR_LANES lanes have a block left,
 * then the lanes still running in scalar; each lane's blocks are built
 * in registers (lane_half).  Nothing but the digests is written to
 * memory, after all input is read.
 */
static AVX512 void
hash_x8_avx512(uint8_t *const out[8], size_t outlen, const uint8_t *prefix,
    size_t prefix_len, const uint8_t *const in[8], const size_t len[8])
{
	uint64_t words[8][8] __attribute__((aligned(64)));
	struct x8_lanes l;
	__m512i h[8], m[16], head[2], total, nb;
	uint64_t steps, top, b;
	int i, k;

	l.prefix_len = prefix_len;
	for (i = 0; i < 8; i++) {
		l.base[i] = l.total[i] = l.nb[i] = 0;
		if (out[i] == NULL)
			continue;
		l.base[i] = (uintptr_t)in[i] - prefix_len;
		l.total[i] = prefix_len + len[i];
		/* The empty message is one block of padding. */
		l.nb[i] = l.total[i] == 0 ? 1 : (l.total[i] + 127) / 128;
	}
	total = _mm512_loadu_si512(l.total);
	nb = _mm512_loadu_si512(l.nb);
	/*
	 * Steps in SIMD: the largest nb[i] that more than X8_SCALAR_LANES
	 * lanes reach.  Once fewer are left, a full-width compress costs
	 * more than theirs one by one.
	 */
	top = steps = 0;
	for (i = 0; i < 8; i++) {
		if (l.nb[i] > top)
			top = l.nb[i];
		if (l.nb[i] > steps && __builtin_popcount(
		    _mm512_cmpge_epu64_mask(nb, _mm512_set1_epi64(
		    (long long)l.nb[i]))) > X8_SCALAR_LANES)
			steps = l.nb[i];
	}

	head[0] = head[1] = _mm512_setzero_si512();
	if (prefix_len > 0)
		head[0] = _mm512_maskz_loadu_epi8(low_bits(prefix_len),
		    prefix);
	if (prefix_len > 64)
		head[1] = _mm512_maskz_loadu_epi8(low_bits(prefix_len - 64),
		    prefix + 64);
	for (k = 0; k < 8; k++)
		h[k] = _mm512_set1_epi64((long long)iv[k]);
	/* Parameter block: digest length, no key, fanout 1, depth 1. */
	h[0] = _mm512_xor_si512(h[0],
	    _mm512_set1_epi64((long long)(0x01010000ULL ^ outlen)));

	for (b = 0; b < steps; b++) {
		lanes_half(&l, 128 * b, head[0], m);
		lanes_half(&l, 128 * b + 64, head[1], m + 8);
		compress_x8(h, m, _mm512_min_epu64(total,
		    _mm512_set1_epi64((long long)(128 * (b + 1)))),
		    _mm512_cmpeq_epu64_mask(nb,
		    _mm512_set1_epi64((long long)(b + 1))),
		    _mm512_cmplt_epu64_mask(_mm512_set1_epi64((long long)b),
		    nb));
	}
	if (top > steps) {
		for (k = 0; k < 8; k++)
			_mm512_store_si512(words[k], h[k]);
		lanes_finish(&l, head, steps, words);
		for (k = 0; k < 8; k++)
			h[k] = _mm512_load_si512(words[k]);
	}

	/* x86 is little-endian, as the digest's words are (RFC 7693 3.3). */
	transpose_x8(h, m);
	for (i = 0; i < 8; i++)
		if (out[i] != NULL)
			_mm512_mask_storeu_epi8(out[i], low_bits(outlen),
			    m[i]);
}

#endif /* HAVE_AVX512_CODE */

int
cst_b2b_simd_level(void)
{

#ifdef HAVE_AVX512_CODE
	/* libgcc's constructor has filled in the CPU model by now. */
	if (__builtin_cpu_supports("avx512f") &&
	    __builtin_cpu_supports("avx512bw"))
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
    const uint8_t *prefix, size_t prefix_len, const uint8_t *const in[8],
    const size_t len[8])
{
	uint8_t digest[8][64];
	uint8_t *tmp[8];
	int half, i, used;

#ifdef HAVE_AVX512_CODE
	if (level >= CST_B2B_AVX512 && cst_b2b_simd_level() >= CST_B2B_AVX512) {
		hash_x8_avx512(out, outlen, prefix, prefix_len, in, len);
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
			    tmp + 4 * half, outlen, prefix, prefix_len,
			    in + 4 * half, len + 4 * half);
	}
	for (i = 0; i < 8; i++)
		if (out[i] != NULL)
			memcpy(out[i], digest[i], outlen);
}

void
cst_b2b_hash_x8(uint8_t *const out[8], size_t outlen, const uint8_t *prefix,
    size_t prefix_len, const uint8_t *const in[8], const size_t len[8])
{

	cst_b2b_hash_x8_with(CST_B2B_AVX512, out, outlen, prefix, prefix_len,
	    in, len);
}

/*
 * Grouped as cst_merkle_leaves groups leaves, for the same costs: with
 * AVX-512 two or more messages left are one eight-lane call, with AVX2
 * three or four one four-lane call, and a last one (or two) is hashed
 * alone.  Lanes of unequal length cost little more than the longest
 * alone: the SIMD steps stop once only one lane is left (two for four
 * lanes), and the lanes still running end in scalar.
 */
void
cst_b2b_hash_many_with(int level, uint8_t *out, size_t outlen,
    const uint8_t *prefix, size_t prefix_len, const uint8_t *const *in,
    const size_t *len, size_t n)
{
	uint8_t *o[8];
	const uint8_t *p[8];
	size_t l[8];
	cst_b2b s;
	size_t i, k;
	int cpu = cst_b2b_simd_level();

	if (level > cpu)
		level = cpu;
	for (i = 0; level >= CST_B2B_AVX512 && i + 1 < n; i += 8) {
		for (k = 0; k < 8; k++) {
			o[k] = i + k < n ? out + (i + k) * outlen : NULL;
			p[k] = i + k < n ? in[i + k] : NULL;
			l[k] = i + k < n ? len[i + k] : 0;
		}
		cst_b2b_hash_x8_with(level, o, outlen, prefix, prefix_len, p,
		    l);
	}
	for (; level >= CST_B2B_AVX2 && i + 2 < n; i += 4) {
		for (k = 0; k < 4; k++) {
			o[k] = i + k < n ? out + (i + k) * outlen : NULL;
			p[k] = i + k < n ? in[i + k] : NULL;
			l[k] = i + k < n ? len[i + k] : 0;
		}
		cst_b2b_hash_x4_with(1, o, outlen, prefix, prefix_len, p, l);
	}
	for (; i < n; i++) {
		cst_b2b_init(&s, outlen);
		cst_b2b_update(&s, prefix, prefix_len);
		cst_b2b_update(&s, in[i], len[i]);
		cst_b2b_final(&s, out + i * outlen);
	}
}
