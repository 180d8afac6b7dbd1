/*
 * The project's BLAKE2b must be BLAKE2b: RFC 7693's test vector, and
 * agreement with libsodium on every length and every way of splitting the
 * input, since every hash in the format goes through it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include "blake2b.h"

#define SEED 20261122u

Test(blake2b, rfc7693_appendix_a)
{
	/* BLAKE2b-512("abc"), RFC 7693 Appendix A. */
	static const uint8_t want[64] = {
		0xba, 0x80, 0xa5, 0x3f, 0x98, 0x1c, 0x4d, 0x0d, 0x6a, 0x27,
		0x97, 0xb6, 0x9f, 0x12, 0xf6, 0xe9, 0x4c, 0x21, 0x2f, 0x14,
		0x68, 0x5a, 0xc4, 0xb7, 0x4b, 0x12, 0xbb, 0x6f, 0xdb, 0xff,
		0xa2, 0xd1, 0x7d, 0x87, 0xc5, 0x39, 0x2a, 0xab, 0x79, 0x2d,
		0xc2, 0x52, 0xd5, 0xde, 0x45, 0x33, 0xcc, 0x95, 0x18, 0xd3,
		0x8a, 0xa8, 0xdb, 0xf1, 0x92, 0x5a, 0xb9, 0x23, 0x86, 0xed,
		0xd4, 0x00, 0x99, 0x23,
	};
	uint8_t out[64];

	cst_b2b_hash(out, sizeof(out), "abc", 3);
	cr_assert(memcmp(out, want, sizeof(want)) == 0);
}

Test(blake2b, matches_libsodium_on_every_length)
{
	uint8_t in[1100], a[32], b[32];
	size_t len, i;

	cr_assert(sodium_init() >= 0);
	for (i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 131 + 7);
	/* 0..1100 crosses every block boundary up to eight blocks. */
	for (len = 0; len <= sizeof(in); len++) {
		cst_b2b_hash(a, sizeof(a), in, len);
		crypto_generichash(b, sizeof(b), in, len, NULL, 0);
		cr_assert(memcmp(a, b, sizeof(a)) == 0, "length %zu", len);
	}
}

Test(blake2b, any_split_gives_the_same_digest)
{
	uint8_t in[777], whole[32], part[32];
	cst_b2b s;
	unsigned seed = SEED;
	size_t off, n;
	int trial;

	printf("blake2b any_split: seed %u\n", SEED);
	for (off = 0; off < sizeof(in); off++)
		in[off] = (uint8_t)rand_r(&seed);
	crypto_generichash(whole, sizeof(whole), in, sizeof(in), NULL, 0);
	for (trial = 0; trial < 500; trial++) {
		cst_b2b_init(&s, sizeof(part));
		for (off = 0; off < sizeof(in); off += n) {
			n = (size_t)rand_r(&seed) % 300;
			if (n > sizeof(in) - off)
				n = sizeof(in) - off;
			cst_b2b_update(&s, in + off, n);
		}
		cst_b2b_final(&s, part);
		cr_assert(memcmp(whole, part, sizeof(part)) == 0, "trial %d",
		    trial);
	}
}

/*
 * The four-lane hash: every lane must be the digest the scalar code (and
 * libsodium) gives for prefix || in, whatever the other lanes' lengths,
 * both on the SIMD path (where the CPU has it) and on the scalar one.
 */

#define X4_MAXLEN 1100

static const size_t x4_lens[] = { 0, 1, 126, 127, 128, 129, 255, 256, 257,
    286, 1000 };
#define X4_NLENS (sizeof(x4_lens) / sizeof(x4_lens[0]))

static uint8_t x4_data[4][X4_MAXLEN];

static void
x4_fill(unsigned seed)
{
	size_t i;
	int lane;

	for (lane = 0; lane < 4; lane++)
		for (i = 0; i < X4_MAXLEN; i++)
			x4_data[lane][i] = (uint8_t)rand_r(&seed);
}

/* The digest of prefix || d[0..len), by libsodium and by cst_b2b_hash. */
static void
x4_ref(uint8_t prefix, const uint8_t *d, size_t len, size_t outlen,
    uint8_t *out)
{
	uint8_t m[1 + X4_MAXLEN], other[64];

	m[0] = prefix;
	memcpy(m + 1, d, len);
	crypto_generichash(out, outlen, m, 1 + len, NULL, 0);
	cst_b2b_hash(other, outlen, m, 1 + len);
	cr_assert(memcmp(out, other, outlen) == 0, "scalar, length %zu", len);
}

static void
x4_every_combination(int simd)
{
	static uint8_t want[2][4][X4_NLENS][32];
	uint8_t got[4][32];
	uint8_t *out[4] = { got[0], got[1], got[2], got[3] };
	const uint8_t *in[4] = { x4_data[0], x4_data[1], x4_data[2],
	    x4_data[3] };
	size_t len[4], c, k;
	int lane, p;

	cr_assert(sodium_init() >= 0);
	x4_fill(SEED);
	for (p = 0; p < 2; p++)
		for (lane = 0; lane < 4; lane++)
			for (k = 0; k < X4_NLENS; k++)
				x4_ref((uint8_t)p, x4_data[lane], x4_lens[k],
				    32, want[p][lane][k]);
	for (c = 0; c < X4_NLENS * X4_NLENS * X4_NLENS * X4_NLENS; c++) {
		p = (int)(c & 1);
		for (lane = 0, k = c; lane < 4; lane++, k /= X4_NLENS)
			len[lane] = x4_lens[k % X4_NLENS];
		memset(got, 0xa5, sizeof(got));
		cst_b2b_hash_x4_with(simd, out, 32, (uint8_t)p, in, len);
		for (lane = 0, k = c; lane < 4; lane++, k /= X4_NLENS)
			cr_assert(memcmp(got[lane],
			    want[p][lane][k % X4_NLENS], 32) == 0,
			    "simd %d lane %d lengths %zu %zu %zu %zu", simd,
			    lane, len[0], len[1], len[2], len[3]);
	}
}

Test(blake2b_x4, every_combination_of_lengths)
{

	printf("blake2b_x4: SIMD %s on this CPU\n",
	    cst_b2b_x4_simd() ? "available" : "not available");
	x4_every_combination(1);
}

Test(blake2b_x4, every_combination_of_lengths_scalar)
{

	x4_every_combination(0);
}

static void
x4_random(int simd)
{
	unsigned seed = SEED + 1;
	uint8_t got[4][64], want[64];
	uint8_t *out[4] = { got[0], got[1], got[2], got[3] };
	const uint8_t *in[4];
	size_t len[4], off[4], outlen;
	uint8_t prefix;
	int trial, lane;

	printf("blake2b_x4 random lengths (simd %d): seed %u\n", simd,
	    SEED + 1);
	cr_assert(sodium_init() >= 0);
	x4_fill(seed);
	for (trial = 0; trial < 3000; trial++) {
		outlen = (size_t)rand_r(&seed) % 64 + 1;
		prefix = (uint8_t)rand_r(&seed);
		for (lane = 0; lane < 4; lane++) {
			len[lane] = (size_t)rand_r(&seed) % 1000;
			/* Unaligned starts, and lanes that share bytes. */
			off[lane] = (size_t)rand_r(&seed) % (X4_MAXLEN - 1000);
			in[lane] = x4_data[rand_r(&seed) % 4] + off[lane];
		}
		cst_b2b_hash_x4_with(simd, out, outlen, prefix, in, len);
		for (lane = 0; lane < 4; lane++) {
			x4_ref(prefix, in[lane], len[lane], outlen, want);
			cr_assert(memcmp(got[lane], want, outlen) == 0,
			    "trial %d lane %d length %zu outlen %zu", trial,
			    lane, len[lane], outlen);
		}
	}
}

Test(blake2b_x4, random_lengths)
{

	x4_random(1);
}

Test(blake2b_x4, random_lengths_scalar)
{

	x4_random(0);
}

/* Unused lanes are neither read nor written; outputs may alias inputs. */
static void
x4_null_lanes_and_aliasing(int simd)
{
	uint8_t buf[4][64], want[4][32], got[32];
	uint8_t *out[4] = { NULL, got, NULL, NULL };
	const uint8_t *in[4] = { NULL, x4_data[1], NULL, NULL };
	size_t len[4] = { 0, 300, 0, 0 };
	int lane;

	x4_fill(SEED + 2);
	cst_b2b_hash_x4_with(simd, out, 32, 0x00, in, len);
	x4_ref(0x00, x4_data[1], 300, 32, want[0]);
	cr_assert(memcmp(got, want[0], 32) == 0, "simd %d", simd);

	/* Merkle nodes hashed in place: out[i] overwrites in[i]. */
	for (lane = 0; lane < 4; lane++) {
		memcpy(buf[lane], x4_data[lane], 64);
		x4_ref(0x01, buf[lane], 64, 32, want[lane]);
		out[lane] = buf[lane];
		in[lane] = buf[lane];
		len[lane] = 64;
	}
	cst_b2b_hash_x4_with(simd, out, 32, 0x01, in, len);
	for (lane = 0; lane < 4; lane++)
		cr_assert(memcmp(buf[lane], want[lane], 32) == 0,
		    "simd %d lane %d", simd, lane);
}

Test(blake2b_x4, null_lanes_and_aliasing)
{

	x4_null_lanes_and_aliasing(1);
	x4_null_lanes_and_aliasing(0);
}

/*
 * The eight-lane hash, with each dispatch level forced: lane i must be the
 * digest of prefix || in[i] by libsodium and cst_b2b_hash, as for x4.
 * Lanes 4..7 read x4_data at an offset, so no two lanes hash the same
 * bytes, and take lengths x4_lens shifted by X8_SHIFT from lanes 0..3:
 * every lane meets every length beside many others.
 */

#define X8_OFF 37
#define X8_SHIFT 5

static const uint8_t *
x8_lane_data(int lane)
{

	return (x4_data[lane % 4] + (lane / 4) * X8_OFF);
}

static void
x8_every_combination(int level)
{
	static uint8_t want[2][8][X4_NLENS][32];
	uint8_t got[8][32];
	uint8_t *out[8];
	const uint8_t *in[8];
	size_t len[8], idx[8], c, k;
	int lane, p;

	printf("blake2b_x8 lengths: level %d of %d on this CPU\n", level,
	    cst_b2b_simd_level());
	cr_assert(sodium_init() >= 0);
	x4_fill(SEED);
	for (lane = 0; lane < 8; lane++) {
		out[lane] = got[lane];
		in[lane] = x8_lane_data(lane);
	}
	for (p = 0; p < 2; p++)
		for (lane = 0; lane < 8; lane++)
			for (k = 0; k < X4_NLENS; k++)
				x4_ref((uint8_t)p, in[lane], x4_lens[k], 32,
				    want[p][lane][k]);
	for (c = 0; c < X4_NLENS * X4_NLENS * X4_NLENS * X4_NLENS; c++) {
		p = (int)(c & 1);
		for (lane = 0, k = c; lane < 4; lane++, k /= X4_NLENS) {
			idx[lane] = k % X4_NLENS;
			idx[lane + 4] = (idx[lane] + X8_SHIFT) % X4_NLENS;
		}
		for (lane = 0; lane < 8; lane++)
			len[lane] = x4_lens[idx[lane]];
		memset(got, 0xa5, sizeof(got));
		cst_b2b_hash_x8_with(level, out, 32, (uint8_t)p, in, len);
		for (lane = 0; lane < 8; lane++)
			cr_assert(memcmp(got[lane], want[p][lane][idx[lane]],
			    32) == 0, "level %d lane %d length %zu combination "
			    "%zu", level, lane, len[lane], c);
	}
}

Test(blake2b_x8, every_combination_of_lengths_avx512)
{

	x8_every_combination(CST_B2B_AVX512);
}

Test(blake2b_x8, every_combination_of_lengths_avx2)
{

	x8_every_combination(CST_B2B_AVX2);
}

Test(blake2b_x8, every_combination_of_lengths_scalar)
{

	x8_every_combination(CST_B2B_SCALAR);
}

static void
x8_random(int level)
{
	unsigned seed = SEED + 3;
	uint8_t got[8][64], want[64];
	uint8_t *out[8];
	const uint8_t *in[8];
	size_t len[8], off, outlen;
	uint8_t prefix;
	int trial, lane;

	printf("blake2b_x8 random lengths (level %d): seed %u\n", level,
	    SEED + 3);
	cr_assert(sodium_init() >= 0);
	x4_fill(seed);
	for (lane = 0; lane < 8; lane++)
		out[lane] = got[lane];
	for (trial = 0; trial < 3000; trial++) {
		outlen = (size_t)rand_r(&seed) % 64 + 1;
		prefix = (uint8_t)rand_r(&seed);
		for (lane = 0; lane < 8; lane++) {
			len[lane] = (size_t)rand_r(&seed) % 1000;
			/* Unaligned starts, and lanes that share bytes. */
			off = (size_t)rand_r(&seed) % (X4_MAXLEN - 1000);
			in[lane] = x4_data[rand_r(&seed) % 4] + off;
		}
		cst_b2b_hash_x8_with(level, out, outlen, prefix, in, len);
		for (lane = 0; lane < 8; lane++) {
			x4_ref(prefix, in[lane], len[lane], outlen, want);
			cr_assert(memcmp(got[lane], want, outlen) == 0,
			    "level %d trial %d lane %d length %zu outlen %zu",
			    level, trial, lane, len[lane], outlen);
		}
	}
}

Test(blake2b_x8, random_lengths_avx512)
{

	x8_random(CST_B2B_AVX512);
}

Test(blake2b_x8, random_lengths_avx2)
{

	x8_random(CST_B2B_AVX2);
}

Test(blake2b_x8, random_lengths_scalar)
{

	x8_random(CST_B2B_SCALAR);
}

/*
 * Unused lanes are neither read nor written, a half of all-unused lanes
 * included; outputs may alias inputs, across halves too (out[i] is
 * in[7 - i], as when a Merkle level is hashed in place).
 */
static void
x8_null_lanes_and_aliasing(int level)
{
	uint8_t buf[8][64], want[8][32], got[2][32];
	uint8_t *out[8] = { NULL, got[0], NULL, NULL, NULL, NULL, got[1],
	    NULL };
	const uint8_t *in[8] = { NULL, x4_data[1], NULL, NULL, NULL, NULL,
	    x4_data[2], NULL };
	size_t len[8] = { 0, 300, 0, 0, 0, 0, 129, 0 };
	int lane;

	x4_fill(SEED + 4);
	cst_b2b_hash_x8_with(level, out, 32, 0x00, in, len);
	x4_ref(0x00, x4_data[1], 300, 32, want[0]);
	x4_ref(0x00, x4_data[2], 129, 32, want[1]);
	cr_assert(memcmp(got[0], want[0], 32) == 0, "level %d", level);
	cr_assert(memcmp(got[1], want[1], 32) == 0, "level %d", level);

	out[1] = got[0];
	in[1] = x4_data[3];
	out[6] = NULL;
	cst_b2b_hash_x8_with(level, out, 32, 0x00, in, len);
	x4_ref(0x00, x4_data[3], 300, 32, want[0]);
	cr_assert(memcmp(got[0], want[0], 32) == 0, "level %d", level);

	for (lane = 0; lane < 8; lane++) {
		memcpy(buf[lane], x4_data[lane % 4] + lane, 64);
		out[lane] = buf[lane];
		len[lane] = 64;
	}
	for (lane = 0; lane < 8; lane++) {
		in[lane] = buf[7 - lane];
		x4_ref(0x01, buf[7 - lane], 64, 32, want[lane]);
	}
	cst_b2b_hash_x8_with(level, out, 32, 0x01, in, len);
	for (lane = 0; lane < 8; lane++)
		cr_assert(memcmp(buf[lane], want[lane], 32) == 0,
		    "level %d lane %d", level, lane);
}

Test(blake2b_x8, null_lanes_and_aliasing)
{

	x8_null_lanes_and_aliasing(CST_B2B_AVX512);
	x8_null_lanes_and_aliasing(CST_B2B_AVX2);
	x8_null_lanes_and_aliasing(CST_B2B_SCALAR);
}
