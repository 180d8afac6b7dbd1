/*
 * BLAKE2b speed: the project's portable code against libsodium's (after
 * sodium_init, as every custody program runs it), on the sizes the format
 * hashes: 286-byte Merkle leaves of 200-byte events, 65-byte Merkle nodes,
 * and whole 1 MiB payloads.  Prints MB/s and ns per hash for each.
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
	uint8_t *buf;
	size_t i, n;

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
	free(buf);
	return (0);
}
