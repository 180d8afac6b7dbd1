/*
 * BLAKE2b (RFC 7693), unkeyed, for the format's hashes.
 *
 * Why not libsodium's: once sodium_init() has run, libsodium dispatches
 * BLAKE2b to its AVX2 code, which on the machines custody is measured on
 * runs at about half the speed of the portable code; hashing is most of
 * the cost of sealing, verifying and querying.  bench/bench_hash prints
 * both, and tests/unit/test_blake2b.c checks this code against libsodium
 * and RFC 7693's test vector.
 */
#ifndef CUSTODY_BLAKE2B_H
#define CUSTODY_BLAKE2B_H

#include <stddef.h>
#include <stdint.h>

typedef struct cst_b2b {
	uint64_t h[8];
	uint64_t t[2];
	uint8_t buf[128];
	size_t buflen;
	size_t outlen;
} cst_b2b;

/* Starts an unkeyed hash of outlen bytes (1..64; callers pass constants). */
void cst_b2b_init(cst_b2b *s, size_t outlen);

/* Absorbs in[0..len) (borrowed); len 0 (and then in NULL) is allowed. */
void cst_b2b_update(cst_b2b *s, const void *in, size_t len);

/* Writes the outlen-byte digest to out and wipes s. */
void cst_b2b_final(cst_b2b *s, uint8_t *out);

/* One call: out[0..outlen) = BLAKE2b(in[0..len)). */
void cst_b2b_hash(uint8_t *out, size_t outlen, const void *in, size_t len);

#endif /* CUSTODY_BLAKE2B_H */
