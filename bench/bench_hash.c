/*
 * BLAKE2b speed: the project's portable code against libsodium's (after
 * sodium_init, as every custody program runs it), on the sizes the format
 * hashes: 286-byte Merkle leaves of 200-byte events, 65-byte Merkle nodes,
 * and whole 1 MiB payloads.  Prints MB/s and ns per hash for each.  Then
 * the four-lane hash of blake2b_x4.c against the scalar code on the same
 * leaves and nodes (prefix byte included, as the Merkle tree hashes them),
 * in hashes per second, and the eight-lane hash of blake2b_x8.c at each
 * SIMD level the CPU has.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "blake2b.h"

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
			cst_b2b_hash_x4_with(simd, o, sizeof(out[0]), 0x00,
			    in, l);
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
			cst_b2b_hash_x8_with(level, o, sizeof(out[0]), 0x00,
			    in, l);
		}
		t = cpu_now() - t;
		if (t < best)
			best = t;
	}
	return (best);
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
	n = (1 << 20) + 64;
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
	printf("\n");
	for (i = 0; i < sizeof(x4cases) / sizeof(x4cases[0]); i++) {
		double hashes = 8.0 * (double)(x4cases[i].iters / 2);

		printf("%-22s", x4cases[i].what);
		for (lv = CST_B2B_SCALAR; lv <= cst_b2b_simd_level(); lv++)
			printf(" %14.0f", hashes / time_x8(lv, buf,
			    x4cases[i].len, x4cases[i].iters / 2));
		printf("\n");
	}
	free(buf);
	return (0);
}
