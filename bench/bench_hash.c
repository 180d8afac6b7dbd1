/*
 * BLAKE2b speed: the project's portable code against libsodium's (after
 * sodium_init, as every custody program runs it), on the sizes the format
 * hashes: 286-byte Merkle leaves of 200-byte events, 65-byte Merkle nodes,
 * and whole 1 MiB payloads.  Prints MB/s and ns per hash for each.  Then
 * the four-lane hash of blake2b_x4.c against the scalar code on the same
 * leaves and nodes (prefix byte included, as the Merkle tree hashes them),
 * in hashes per second, and the eight-lane hash of blake2b_x8.c at each
 * SIMD level the CPU has.  Then the cost of one 128-byte block in the
 * scalar code and of one step of each SIMD width, which decides when
 * lanes left alone are finished in scalar (blake2b_simd.h); and block
 * records hashes, H(D_RECORDS || NUL || 290 KB..4 MB), eight of them
 * one by one with cst_hash_domain against cst_hash_domain_many, of equal
 * and of mixed lengths, in MB/s.  The eight-lane table ends with the
 * AVX-512 code's time per step (eight blocks), which the per-call costs
 * of short messages (building blocks, the digests) add to what a step of
 * long ones costs ("one block").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "blake2b.h"
#include "custody/format.h"
#include "custody/hash.h"

static const uint8_t leaf_prefix[1] = { 0x00 };

static double
cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

/* Best of five runs of iters hashes of len bytes, in CPU seconds. */
static double
time_hash(int ours, const uint8_t *buf, size_t len, size_t iters)
{
	uint8_t out[32];
	double best = 1e30, t;
	size_t i;
	int run;

	for (run = 0; run < 5; run++) {
		t = cpu_now();
		for (i = 0; i < iters; i++) {
			if (ours)
				cst_b2b_hash(out, sizeof(out), buf + (i & 63),
				    len);
			else
				crypto_generichash(out, sizeof(out),
				    buf + (i & 63), len, NULL, 0);
		}
		t = cpu_now() - t;
		if (t < best)
			best = t;
	}
	return (best);
}

/* Best of five runs of iters groups of four hashes, in CPU seconds. */
static double
time_x4(int simd, const uint8_t *buf, size_t len, size_t iters)
{
	uint8_t out[4][32];
	uint8_t *o[4] = { out[0], out[1], out[2], out[3] };
	const uint8_t *in[4];
	size_t l[4] = { len, len, len, len };
	double best = 1e30, t;
	size_t i, k;
	int run;

	for (run = 0; run < 5; run++) {
		t = cpu_now();
		for (i = 0; i < iters; i++) {
			for (k = 0; k < 4; k++)
				in[k] = buf + ((4 * i + k) & 63) * len;
			cst_b2b_hash_x4_with(simd, o, sizeof(out[0]),
			    leaf_prefix, 1, in, l);
		}
		t = cpu_now() - t;
		if (t < best)
			best = t;
	}
	return (best);
}

/* Best of five runs of iters groups of eight hashes, in CPU seconds. */
static double
time_x8(int level, const uint8_t *buf, size_t len, size_t iters)
{
	uint8_t out[8][32];
	uint8_t *o[8];
	const uint8_t *in[8];
	size_t l[8];
	double best = 1e30, t;
	size_t i, k;
	int run;

	for (k = 0; k < 8; k++) {
		o[k] = out[k];
		l[k] = len;
	}
	for (run = 0; run < 5; run++) {
		t = cpu_now();
		for (i = 0; i < iters; i++) {
			for (k = 0; k < 8; k++)
				in[k] = buf + ((8 * i + k) & 63) * len;
			cst_b2b_hash_x8_with(level, o, sizeof(out[0]),
			    leaf_prefix, 1, in, l);
		}
		t = cpu_now() - t;
		if (t < best)
			best = t;
	}
	return (best);
}

/*
 * Best of five runs of iters hashes of the eight messages in[k][0..l[k]):
 * lanes 0 one by one with cst_hash_domain, else with cst_hash_domain_many.
 * In CPU seconds.
 */
static double
time_records(int lanes, const uint8_t *const in[8], const size_t l[8],
    size_t iters)
{
	uint8_t out[8][CST_HASH_LEN];
	double best = 1e30, t;
	size_t i, k;
	int run;

	for (run = 0; run < 5; run++) {
		t = cpu_now();
		for (i = 0; i < iters; i++) {
			if (lanes)
				cst_hash_domain_many(CST_D_RECORDS, in, l, 8,
				    out);
			else
				for (k = 0; k < 8; k++)
					cst_hash_domain(CST_D_RECORDS, in[k],
					    l[k], out[k]);
		}
		t = cpu_now() - t;
		if (t < best)
			best = t;
	}
	return (best);
}

/*
 * What one 128-byte block costs: the scalar code on a long message, and a
 * step of the four- and eight-lane hashes on four or eight long ones at
 * each level the CPU has (per step, whichever number of lanes it
 * advances).  Lane i reads buf + i * len.
 */
static void
block_costs(const uint8_t *buf, size_t len)
{
	static const char *widths[] = { "scalar", "x4 AVX2", "x8 AVX-512" };
	uint8_t out[8][32];
	uint8_t *o[8];
	const uint8_t *in[8];
	size_t l[8];
	double best, t, blocks = (double)len / 128;
	int k, run, w;

	for (k = 0; k < 8; k++) {
		o[k] = out[k];
		in[k] = buf + (size_t)k * len;
		l[k] = len;
	}
	printf("\n%-22s", "one block (ns)");
	for (w = 0; w <= cst_b2b_simd_level(); w++)
		printf(" %14s", widths[w]);
	printf("\n%-22s", "");
	for (w = 0; w <= cst_b2b_simd_level(); w++) {
		best = 1e30;
		for (run = 0; run < 5; run++) {
			t = cpu_now();
			if (w == CST_B2B_SCALAR)
				cst_b2b_hash(out[0], 32, buf, len);
			else if (w == CST_B2B_AVX2)
				cst_b2b_hash_x4_with(1, o, 32, leaf_prefix, 1,
				    in, l);
			else
				cst_b2b_hash_x8_with(CST_B2B_AVX512, o, 32,
				    leaf_prefix, 1, in, l);
			t = cpu_now() - t;
			if (t < best)
				best = t;
		}
		printf(" %14.0f", best * 1e9 / blocks);
	}
	printf("\n");
}

/* Records hashes of eight blocks, one by one and in lanes. */
static void
records_hashes(const uint8_t *buf)
{
	/* Message k at buf + k * stride. */
	static const struct {
		const char *what;
		size_t len[8], stride, iters;
	} rcases[] = {
		{ "8 x 290 KB", { 290000, 290000, 290000, 290000, 290000,
		    290000, 290000, 290000 }, 300000, 8 },
		{ "8 x 270..300 KB", { 281000, 299000, 270500, 290000,
		    287300, 300000, 275000, 294100 }, 300000, 8 },
		{ "8 mixed 3..300 KB", { 290000, 3000, 150000, 300000, 40000,
		    290000, 210000, 9000 }, 300000, 8 },
		{ "8 x 4 MB", { 4000000, 4000000, 4000000, 4000000, 4000000,
		    4000000, 4000000, 4000000 }, 4000000, 1 },
	};
	const uint8_t *in[8];
	size_t i, k, iters;

	printf("\n%-22s %14s %14s %10s\n", "H(D_RECORDS || ...) of",
	    "one by one MB/s", "many MB/s", "ratio");
	for (i = 0; i < sizeof(rcases) / sizeof(rcases[0]); i++) {
		double mb = 0, one, many;

		iters = rcases[i].iters;
		for (k = 0; k < 8; k++) {
			in[k] = buf + k * rcases[i].stride;
			mb += (double)rcases[i].len[k] * (double)iters / 1e6;
		}
		one = time_records(0, in, rcases[i].len, iters);
		many = time_records(1, in, rcases[i].len, iters);
		printf("%-22s %14.0f %14.0f %9.2fx\n", rcases[i].what,
		    mb / one, mb / many, one / many);
	}
}

int
main(void)
{
	static const struct {
		const char *what;
		size_t len, iters;
	} cases[] = {
		{ "Merkle leaf (286 B)", 286, 200000 },
		{ "Merkle node (65 B)", 65, 400000 },
		{ "payload (1 MiB)", 1 << 20, 64 },
	};
	/* Data lengths: the prefix byte makes 287 and 65 bytes hashed. */
	static const struct {
		const char *what;
		size_t len, iters;
	} x4cases[] = {
		{ "leaf (00 || 286 B)", 286, 50000 },
		{ "node (01 || 64 B)", 64, 100000 },
	};
	static const char *levels[] = { "scalar", "AVX2", "AVX-512" };
	uint8_t *buf;
	size_t i, n;
	int lv;

	if (sodium_init() < 0)
		return (1);
	/* Eight messages of up to 4 MB, for the records hashes. */
	n = 8 * 4000000;
	if ((buf = malloc(n)) == NULL)
		return (1);
	for (i = 0; i < n; i++)
		buf[i] = (uint8_t)(i * 2654435761u >> 13);
	printf("%-22s %14s %14s %10s\n", "BLAKE2b-256 of", "custody MB/s",
	    "libsodium MB/s", "ratio");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double mb = (double)cases[i].len * (double)cases[i].iters / 1e6;
		double ours = time_hash(1, buf, cases[i].len, cases[i].iters);
		double theirs = time_hash(0, buf, cases[i].len, cases[i].iters);

		printf("%-22s %14.0f %14.0f %9.2fx   (%.0f vs %.0f ns/hash)\n",
		    cases[i].what, mb / ours, mb / theirs, theirs / ours,
		    ours * 1e9 / (double)cases[i].iters,
		    theirs * 1e9 / (double)cases[i].iters);
	}
	printf("\n%-22s %14s %14s %10s   (SIMD %s)\n", "4 lanes of",
	    "scalar hash/s", "x4 hash/s", "ratio",
	    cst_b2b_x4_simd() ? "AVX2" : "not available");
	for (i = 0; i < sizeof(x4cases) / sizeof(x4cases[0]); i++) {
		double one = time_x4(0, buf, x4cases[i].len, x4cases[i].iters);
		double four = time_x4(1, buf, x4cases[i].len, x4cases[i].iters);
		double hashes = 4.0 * (double)x4cases[i].iters;

		printf("%-22s %14.0f %14.0f %9.2fx\n", x4cases[i].what,
		    hashes / one, hashes / four, one / four);
	}
	printf("\n%-22s", "8 lanes of (hash/s)");
	for (lv = CST_B2B_SCALAR; lv <= cst_b2b_simd_level(); lv++)
		printf(" %14s", levels[lv]);
	if (cst_b2b_simd_level() >= CST_B2B_AVX512)
		printf(" %8s", "ns/step");
	printf("\n");
	for (i = 0; i < sizeof(x4cases) / sizeof(x4cases[0]); i++) {
		double hashes = 8.0 * (double)(x4cases[i].iters / 2);
		/* Blocks per message, with the prefix byte. */
		double steps = (double)((x4cases[i].len + 1 + 127) / 128);
		double t = 0;

		printf("%-22s", x4cases[i].what);
		for (lv = CST_B2B_SCALAR; lv <= cst_b2b_simd_level(); lv++) {
			t = time_x8(lv, buf, x4cases[i].len,
			    x4cases[i].iters / 2);
			printf(" %14.0f", hashes / t);
		}
		if (cst_b2b_simd_level() >= CST_B2B_AVX512)
			printf(" %8.0f", t * 1e9 * 8 / hashes / steps);
		printf("\n");
	}
	block_costs(buf, 64 * 1024);
	records_hashes(buf);
	free(buf);
	return (0);
}
