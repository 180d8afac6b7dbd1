/*
 * The project's BLAKE2b must be BLAKE2b: RFC 7693's test vector, and
 * agreement with libsodium on every length and every way of splitting the
 * input, since every hash in the format goes through it.
 */
#include <sys/mman.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include "blake2b.h"
#include "testutil.h"

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
 * libsodium) gives for prefix || in, whatever the other lanes' lengths
 * and the prefix, both on the SIMD path (where the CPU has it) and on the
 * scalar one.
 */

#define X4_MAXLEN 1100

static const size_t x4_lens[] = { 0, 1, 126, 127, 128, 129, 255, 256, 257,
    286, 1000 };
#define X4_NLENS (sizeof(x4_lens) / sizeof(x4_lens[0]))

/*
 * The prefixes: none; the Merkle tree's 00 and 01; 19 bytes, as
 * CST_D_RECORDS and its NUL; one short of a block; a whole block.
 */
static const size_t prefix_lens[] = { 0, 1, 1, 19, 127, 128 };
#define NPREFIXES (sizeof(prefix_lens) / sizeof(prefix_lens[0]))

static uint8_t prefixes[NPREFIXES][128];
static uint8_t x4_data[4][X4_MAXLEN];

static void
x4_fill(unsigned seed)
{
	size_t i, j;
	int lane;

	for (lane = 0; lane < 4; lane++)
		for (i = 0; i < X4_MAXLEN; i++)
			x4_data[lane][i] = (uint8_t)rand_r(&seed);
	for (j = 0; j < NPREFIXES; j++)
		for (i = 0; i < sizeof(prefixes[j]); i++)
			prefixes[j][i] = (uint8_t)rand_r(&seed);
	prefixes[1][0] = 0x00;
	prefixes[2][0] = 0x01;
}

/* The digest of prefix || d[0..len), by libsodium and by cst_b2b. */
static void
x4_ref(const uint8_t *prefix, size_t prefix_len, const uint8_t *d,
    size_t len, size_t outlen, uint8_t *out)
{
	crypto_generichash_state st;
	uint8_t other[64];
	cst_b2b s;

	crypto_generichash_init(&st, NULL, 0, outlen);
	crypto_generichash_update(&st, prefix, prefix_len);
	crypto_generichash_update(&st, d, len);
	crypto_generichash_final(&st, out, outlen);
	cst_b2b_init(&s, outlen);
	cst_b2b_update(&s, prefix, prefix_len);
	cst_b2b_update(&s, d, len);
	cst_b2b_final(&s, other);
	cr_assert(memcmp(out, other, outlen) == 0,
	    "scalar, prefix %zu length %zu", prefix_len, len);
}

static void
x4_every_combination(int simd)
{
	static uint8_t want[NPREFIXES][4][X4_NLENS][32];
	uint8_t got[4][32];
	uint8_t *out[4] = { got[0], got[1], got[2], got[3] };
	const uint8_t *in[4] = { x4_data[0], x4_data[1], x4_data[2],
	    x4_data[3] };
	size_t len[4], c, k, p;
	int lane;

	cr_assert(sodium_init() >= 0);
	x4_fill(SEED);
	for (p = 0; p < NPREFIXES; p++)
		for (lane = 0; lane < 4; lane++)
			for (k = 0; k < X4_NLENS; k++)
				x4_ref(prefixes[p], prefix_lens[p],
				    x4_data[lane], x4_lens[k], 32,
				    want[p][lane][k]);
	/* NPREFIXES and X4_NLENS are coprime: each lane meets every
	 * length with every prefix. */
	for (c = 0; c < X4_NLENS * X4_NLENS * X4_NLENS * X4_NLENS; c++) {
		p = c % NPREFIXES;
		for (lane = 0, k = c; lane < 4; lane++, k /= X4_NLENS)
			len[lane] = x4_lens[k % X4_NLENS];
		memset(got, 0xa5, sizeof(got));
		cst_b2b_hash_x4_with(simd, out, 32, prefixes[p],
		    prefix_lens[p], in, len);
		for (lane = 0, k = c; lane < 4; lane++, k /= X4_NLENS)
			cr_assert(memcmp(got[lane],
			    want[p][lane][k % X4_NLENS], 32) == 0,
			    "simd %d lane %d prefix %zu lengths %zu %zu %zu "
			    "%zu", simd, lane, prefix_lens[p], len[0], len[1],
			    len[2], len[3]);
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
	size_t len[4], off[4], outlen, p;
	int trial, lane;

	printf("blake2b_x4 random lengths (simd %d): seed %u\n", simd,
	    SEED + 1);
	cr_assert(sodium_init() >= 0);
	x4_fill(seed);
	for (trial = 0; trial < 3000; trial++) {
		outlen = (size_t)rand_r(&seed) % 64 + 1;
		p = (size_t)rand_r(&seed) % NPREFIXES;
		for (lane = 0; lane < 4; lane++) {
			len[lane] = (size_t)rand_r(&seed) % 1000;
			/* Unaligned starts, and lanes that share bytes. */
			off[lane] = (size_t)rand_r(&seed) % (X4_MAXLEN - 1000);
			in[lane] = x4_data[rand_r(&seed) % 4] + off[lane];
		}
		cst_b2b_hash_x4_with(simd, out, outlen, prefixes[p],
		    prefix_lens[p], in, len);
		for (lane = 0; lane < 4; lane++) {
			x4_ref(prefixes[p], prefix_lens[p], in[lane],
			    len[lane], outlen, want);
			cr_assert(memcmp(got[lane], want, outlen) == 0,
			    "trial %d lane %d prefix %zu length %zu outlen %zu",
			    trial, lane, prefix_lens[p], len[lane], outlen);
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
	static const uint8_t leaf[1] = { 0x00 }, node[1] = { 0x01 };
	uint8_t buf[4][64], want[4][32], got[32];
	uint8_t *out[4] = { NULL, got, NULL, NULL };
	const uint8_t *in[4] = { NULL, x4_data[1], NULL, NULL };
	size_t len[4] = { 0, 300, 0, 0 };
	int lane;

	x4_fill(SEED + 2);
	cst_b2b_hash_x4_with(simd, out, 32, leaf, 1, in, len);
	x4_ref(leaf, 1, x4_data[1], 300, 32, want[0]);
	cr_assert(memcmp(got, want[0], 32) == 0, "simd %d", simd);

	/* Merkle nodes hashed in place: out[i] overwrites in[i]. */
	for (lane = 0; lane < 4; lane++) {
		memcpy(buf[lane], x4_data[lane], 64);
		x4_ref(node, 1, buf[lane], 64, 32, want[lane]);
		out[lane] = buf[lane];
		in[lane] = buf[lane];
		len[lane] = 64;
	}
	cst_b2b_hash_x4_with(simd, out, 32, node, 1, in, len);
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
	static uint8_t want[NPREFIXES][8][X4_NLENS][32];
	uint8_t got[8][32];
	uint8_t *out[8];
	const uint8_t *in[8];
	size_t len[8], idx[8], c, k, p;
	int lane;

	printf("blake2b_x8 lengths: level %d of %d on this CPU\n", level,
	    cst_b2b_simd_level());
	cr_assert(sodium_init() >= 0);
	x4_fill(SEED);
	for (lane = 0; lane < 8; lane++) {
		out[lane] = got[lane];
		in[lane] = x8_lane_data(lane);
	}
	for (p = 0; p < NPREFIXES; p++)
		for (lane = 0; lane < 8; lane++)
			for (k = 0; k < X4_NLENS; k++)
				x4_ref(prefixes[p], prefix_lens[p], in[lane],
				    x4_lens[k], 32, want[p][lane][k]);
	for (c = 0; c < X4_NLENS * X4_NLENS * X4_NLENS * X4_NLENS; c++) {
		p = c % NPREFIXES;
		for (lane = 0, k = c; lane < 4; lane++, k /= X4_NLENS) {
			idx[lane] = k % X4_NLENS;
			idx[lane + 4] = (idx[lane] + X8_SHIFT) % X4_NLENS;
		}
		for (lane = 0; lane < 8; lane++)
			len[lane] = x4_lens[idx[lane]];
		memset(got, 0xa5, sizeof(got));
		cst_b2b_hash_x8_with(level, out, 32, prefixes[p],
		    prefix_lens[p], in, len);
		for (lane = 0; lane < 8; lane++)
			cr_assert(memcmp(got[lane], want[p][lane][idx[lane]],
			    32) == 0, "level %d lane %d prefix %zu length %zu "
			    "combination %zu", level, lane, prefix_lens[p],
			    len[lane], c);
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
	size_t len[8], off, outlen, p;
	int trial, lane;

	printf("blake2b_x8 random lengths (level %d): seed %u\n", level,
	    SEED + 3);
	cr_assert(sodium_init() >= 0);
	x4_fill(seed);
	for (lane = 0; lane < 8; lane++)
		out[lane] = got[lane];
	for (trial = 0; trial < 3000; trial++) {
		outlen = (size_t)rand_r(&seed) % 64 + 1;
		p = (size_t)rand_r(&seed) % NPREFIXES;
		for (lane = 0; lane < 8; lane++) {
			len[lane] = (size_t)rand_r(&seed) % 1000;
			/* Unaligned starts, and lanes that share bytes. */
			off = (size_t)rand_r(&seed) % (X4_MAXLEN - 1000);
			in[lane] = x4_data[rand_r(&seed) % 4] + off;
		}
		cst_b2b_hash_x8_with(level, out, outlen, prefixes[p],
		    prefix_lens[p], in, len);
		for (lane = 0; lane < 8; lane++) {
			x4_ref(prefixes[p], prefix_lens[p], in[lane],
			    len[lane], outlen, want);
			cr_assert(memcmp(got[lane], want, outlen) == 0,
			    "level %d trial %d lane %d prefix %zu length %zu "
			    "outlen %zu", level, trial, lane, prefix_lens[p],
			    len[lane], outlen);
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
	static const uint8_t leaf[1] = { 0x00 }, node[1] = { 0x01 };
	uint8_t buf[8][64], want[8][32], got[2][32];
	uint8_t *out[8] = { NULL, got[0], NULL, NULL, NULL, NULL, got[1],
	    NULL };
	const uint8_t *in[8] = { NULL, x4_data[1], NULL, NULL, NULL, NULL,
	    x4_data[2], NULL };
	size_t len[8] = { 0, 300, 0, 0, 0, 0, 129, 0 };
	int lane;

	x4_fill(SEED + 4);
	cst_b2b_hash_x8_with(level, out, 32, leaf, 1, in, len);
	x4_ref(leaf, 1, x4_data[1], 300, 32, want[0]);
	x4_ref(leaf, 1, x4_data[2], 129, 32, want[1]);
	cr_assert(memcmp(got[0], want[0], 32) == 0, "level %d", level);
	cr_assert(memcmp(got[1], want[1], 32) == 0, "level %d", level);

	out[1] = got[0];
	in[1] = x4_data[3];
	out[6] = NULL;
	cst_b2b_hash_x8_with(level, out, 32, leaf, 1, in, len);
	x4_ref(leaf, 1, x4_data[3], 300, 32, want[0]);
	cr_assert(memcmp(got[0], want[0], 32) == 0, "level %d", level);

	for (lane = 0; lane < 8; lane++) {
		memcpy(buf[lane], x4_data[lane % 4] + lane, 64);
		out[lane] = buf[lane];
		len[lane] = 64;
	}
	for (lane = 0; lane < 8; lane++) {
		in[lane] = buf[7 - lane];
		x4_ref(node, 1, buf[7 - lane], 64, 32, want[lane]);
	}
	cst_b2b_hash_x8_with(level, out, 32, node, 1, in, len);
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

/*
 * Lanes of very unequal lengths, where the SIMD steps stop early and the
 * lanes still running are finished in scalar (blake2b_simd.h): every
 * subset of the lanes is made long, each long lane of its own length and
 * the others short, with every prefix in turn.  Long lanes overlap in
 * long_data at unaligned offsets.
 */

#define LONG_LEN 20000

static uint8_t long_data[LONG_LEN + 64];

static void
unequal_lanes(int lanes, int level)
{
	uint8_t got[8][32], want[32];
	uint8_t *out[8];
	const uint8_t *in[8];
	size_t len[8], p, i;
	unsigned seed = SEED + 5;
	unsigned mask;
	int lane;

	printf("blake2b unequal lanes (%d lanes, level %d): seed %u\n", lanes,
	    level, SEED + 5);
	cr_assert(sodium_init() >= 0);
	x4_fill(seed);
	for (i = 0; i < sizeof(long_data); i++)
		long_data[i] = (uint8_t)rand_r(&seed);
	for (mask = 1; mask < 1u << lanes; mask++) {
		p = mask % NPREFIXES;
		for (lane = 0; lane < lanes; lane++) {
			out[lane] = got[lane];
			if (mask & (1u << lane)) {
				in[lane] = long_data + 7 * lane;
				len[lane] = LONG_LEN - 131 * (size_t)lane;
			} else {
				in[lane] = x8_lane_data(lane);
				len[lane] = x4_lens[(lane + mask) % X4_NLENS];
			}
		}
		if (lanes == 8)
			cst_b2b_hash_x8_with(level, out, 32, prefixes[p],
			    prefix_lens[p], in, len);
		else
			cst_b2b_hash_x4_with(level, out, 32, prefixes[p],
			    prefix_lens[p], in, len);
		for (lane = 0; lane < lanes; lane++) {
			x4_ref(prefixes[p], prefix_lens[p], in[lane],
			    len[lane], 32, want);
			cr_assert(memcmp(got[lane], want, 32) == 0,
			    "%d lanes level %d mask %#x lane %d length %zu",
			    lanes, level, mask, lane, len[lane]);
		}
	}
}

Test(blake2b_x4, unequal_lengths)
{

	unequal_lanes(4, 1);
	unequal_lanes(4, 0);
}

Test(blake2b_x8, unequal_lengths)
{

	unequal_lanes(8, CST_B2B_AVX512);
	unequal_lanes(8, CST_B2B_AVX2);
	unequal_lanes(8, CST_B2B_SCALAR);
}

/*
 * Inputs at the very edges of readable memory: the eight-lane AVX-512
 * code reads a lane's bytes with masked loads that start as far before
 * the input as the prefix is long (block 0 is loaded as if the prefix
 * were there) and run up to 63 bytes past its end, and relies on the CPU
 * not to touch the masked-off bytes (blake2b_x8.c); it writes digests
 * with masked stores.  Here the inputs and the prefix each touch a
 * PROT_NONE page, and the digests end at one, so that any byte read or
 * written outside them faults.  Even lanes start at the first byte of
 * their page, odd lanes end at its last; unused lanes point at a guard
 * page.  Lengths 0..300 cross a block boundary twice with any prefix;
 * prefix lengths 0 (NULL), 1, 19 and 128.
 */

#define EDGE_MAXLEN 300

static void
edges(int level)
{
	static const size_t plens[] = { 0, 1, 19, 128 };
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	uint8_t *lo, *hi, *pre, *outs;
	uint8_t want[32];
	uint8_t *out[8];
	const uint8_t *in[8], *prefix;
	size_t len[8], n, p, i;
	unsigned seed = SEED + 6;
	int lane;

	printf("blake2b edges (level %d): seed %u\n", level, SEED + 6);
	cr_assert(sodium_init() >= 0);
	lo = test_fenced_page();
	hi = test_fenced_page();
	pre = test_fenced_page();
	outs = test_fenced_page();
	for (i = 0; i < pg; i++) {
		lo[i] = (uint8_t)rand_r(&seed);
		hi[i] = (uint8_t)rand_r(&seed);
		pre[i] = (uint8_t)rand_r(&seed);
	}
	for (p = 0; p < sizeof(plens) / sizeof(plens[0]); p++) {
		/* The prefix ends at its page's last byte. */
		prefix = plens[p] == 0 ? NULL : pre + pg - plens[p];
		for (n = 0; n <= EDGE_MAXLEN; n++) {
			for (lane = 0; lane < 8; lane++) {
				/* Each lane its own length, n in lane 0. */
				len[lane] = (n + 37 * (size_t)lane) %
				    (EDGE_MAXLEN + 1);
				in[lane] = lane % 2 == 0 ? lo :
				    hi + pg - len[lane];
				/* Lane 0's digest ends at the page's end,
				 * the others just before the one after. */
				out[lane] = outs + pg - 32 * (size_t)(lane + 1);
				/* All lanes used, all but one, or one alone
				 * (hashed in scalar from its first block). */
				if ((n % 3 == 1 && lane == (int)(n % 8)) ||
				    (n % 3 == 2 && lane != (int)(n % 8))) {
					out[lane] = NULL;
					in[lane] = hi + pg;
				}
			}
			memset(outs + pg - 8 * 32, 0xa5, 8 * 32);
			cst_b2b_hash_x8_with(level, out, 32, prefix, plens[p],
			    in, len);
			for (lane = 0; lane < 8; lane++) {
				if (out[lane] == NULL) {
					for (i = 0; i < 32; i++)
						cr_assert(outs[pg - 32 *
						    (size_t)(lane + 1) + i] ==
						    0xa5, "level %d lane %d",
						    level, lane);
					continue;
				}
				x4_ref(prefix, plens[p], in[lane], len[lane],
				    32, want);
				cr_assert(memcmp(out[lane], want, 32) == 0,
				    "level %d lane %d prefix %zu length %zu",
				    level, lane, plens[p], len[lane]);
			}
		}
	}
	test_fenced_free(lo);
	test_fenced_free(hi);
	test_fenced_free(pre);
	test_fenced_free(outs);
}

Test(blake2b_x8, inputs_at_the_edges_of_mappings)
{

	edges(CST_B2B_AVX512);
	edges(CST_B2B_AVX2);
	edges(CST_B2B_SCALAR);
}
