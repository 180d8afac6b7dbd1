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

/*
 * RFC 7693's function F: compresses the 128-byte block (borrowed) into
 * the state h, with t the byte count after the block (t[0] low word,
 * t[1] high) and, if last is nonzero, the final-block flag.  For the
 * multi-buffer code, which finishes a lane on its own once too few lanes
 * are left for SIMD to pay (blake2b_simd.h, blake2b_x8.c).
 */
void cst_b2b_compress(uint64_t h[8], const uint8_t *block,
    const uint64_t t[2], int last);

/*
 * Four hashes at once (blake2b_x4.c): out[i][0..outlen) = BLAKE2b(
 * prefix[0..prefix_len) || in[i][0..len[i])) for i = 0..3, each of its
 * own length.  The prefix is a domain separation: one byte for the Merkle
 * tree (00 leaves, 01 nodes), a domain string and its NUL for
 * cst_hash_domain_many.  prefix_len is at most 128 (one block); prefix
 * may be NULL only if prefix_len is 0.  out[i] NULL leaves lane i unused
 * (in[i] then is not read); otherwise in[i] may be NULL only if len[i] is
 * 0.  All input is read before any output is written, so an out[i] may
 * alias any input.  All pointers are borrowed.  Uses AVX2 where the CPU
 * has it, else the scalar code.
 */
void cst_b2b_hash_x4(uint8_t *const out[4], size_t outlen,
    const uint8_t *prefix, size_t prefix_len, const uint8_t *const in[4],
    const size_t len[4]);

/* As cst_b2b_hash_x4, but with simd 0 always the scalar code (for tests). */
void cst_b2b_hash_x4_with(int simd, uint8_t *const out[4], size_t outlen,
    const uint8_t *prefix, size_t prefix_len, const uint8_t *const in[4],
    const size_t len[4]);

/* 1 if cst_b2b_hash_x4 runs four lanes in SIMD on this CPU, else 0. */
int cst_b2b_x4_simd(void);

/* SIMD levels, lowest first, for cst_b2b_hash_x8_with (AVX512: F and BW). */
#define CST_B2B_SCALAR 0
#define CST_B2B_AVX2 1
#define CST_B2B_AVX512 2

/* The highest CST_B2B_* level this CPU runs. */
int cst_b2b_simd_level(void);

/*
 * Eight hashes at once (blake2b_x8.c), with cst_b2b_hash_x4's contract
 * for i = 0..7.  Uses AVX-512F and AVX-512BW where the CPU has both,
 * else two cst_b2b_hash_x4 calls (skipping a half with every out[i]
 * NULL).
 */
void cst_b2b_hash_x8(uint8_t *const out[8], size_t outlen,
    const uint8_t *prefix, size_t prefix_len, const uint8_t *const in[8],
    const size_t len[8]);

/*
 * As cst_b2b_hash_x8, but at most at CST_B2B_* level `level` (for tests
 * and benchmarks): CST_B2B_SCALAR is the scalar code, CST_B2B_AVX2 two
 * AVX2 four-lane calls, each where the CPU has it.
 */
void cst_b2b_hash_x8_with(int level, uint8_t *const out[8], size_t outlen,
    const uint8_t *prefix, size_t prefix_len, const uint8_t *const in[8],
    const size_t len[8]);

/*
 * Any number of hashes (blake2b_x8.c): out + i * outlen receives
 * BLAKE2b(prefix[0..prefix_len) || in[i][0..len[i])) for i = 0..n-1,
 * eight at a time with AVX-512, four with AVX2, and a last one (or two)
 * in scalar, at most at CST_B2B_* level `level`.  prefix_len
 * is at most 128.  in[i] may be NULL only if len[i] is 0, prefix only if
 * prefix_len is 0; out[0..n * outlen) must not overlap any input.  All
 * pointers are borrowed.
 */
void cst_b2b_hash_many_with(int level, uint8_t *out, size_t outlen,
    const uint8_t *prefix, size_t prefix_len, const uint8_t *const *in,
    const size_t *len, size_t n);

#endif /* CUSTODY_BLAKE2B_H */
