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
