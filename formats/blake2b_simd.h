/*
 * What the multi-buffer BLAKE2b versions (blake2b_x4.c, blake2b_x8.c)
 * share whatever their width: the twelve rounds (RFC 7693 section 3.2)
 * with the message schedule spelled out so that every index is a
 * constant.  For the rounds the including file defines G(a, b, c, d, x,
 * y) over its own vector type, with the working vector named v[] and the
 * message words m[].  Then, for the code that builds blocks in memory
 * (blake2b_x4.c; AVX-512BW's masked loads let blake2b_x8.c build them in
 * registers), which block each lane compresses at each step and the
 * scalar end of lanes left alone.
 */
#ifndef CUSTODY_BLAKE2B_SIMD_H
#define CUSTODY_BLAKE2B_SIMD_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "blake2b.h"

/*
 * Lane i hashes prefix || in[i][0..len[i]): total[i] bytes in nb[i]
 * blocks of 128.  An unused lane has no block at all.  The prefix, at
 * most a block, is kept as the start of every lane's block 0 with zeros
 * after it, so that building block 0 is one copy of a constant size and
 * one of the input, with no padding to add (most Merkle nodes are one
 * block).  The input pointers are borrowed from the caller of the
 * multi-buffer hash.
 */
struct b2b_plan {
	uint8_t head[128] __attribute__((aligned(64)));
	size_t prefix_len;
	const uint8_t *in[8];
	uint64_t total[8];
	uint64_t nb[8];
	int lanes;
};

/*
 * Plans lanes 0..lanes-1 (out[i] NULL: unused) into p and returns how
 * many steps to run in SIMD: as long as more than `scalar` lanes still
 * have a block, that is the (scalar + 1)-th largest nb[i].  Once only
 * `scalar` lanes or fewer are left, a full-width compress costs more than
 * theirs one by one, and b2b_lanes_finish ends them.
 */
static inline uint64_t
b2b_plan_lanes(struct b2b_plan *p, int lanes, const uint8_t *prefix,
    size_t prefix_len, uint8_t *const *out, const uint8_t *const *in,
    const size_t *len, int scalar)
{
	uint64_t top[8], x, y;
	int i, k;

	assert(prefix_len <= sizeof(p->head));
	memset(p->head, 0, sizeof(p->head));
	/* The Merkle tree's one byte, on every leaf and node, without a
	 * call to memcpy (a few percent of a one-block node). */
	if (prefix_len == 1)
		p->head[0] = prefix[0];
	else if (prefix_len > 0)
		memcpy(p->head, prefix, prefix_len);
	p->prefix_len = prefix_len;
	p->lanes = lanes;
	for (k = 0; k <= scalar; k++)
		top[k] = 0;
	for (i = 0; i < lanes; i++) {
		p->in[i] = in[i];
		p->total[i] = (uint64_t)prefix_len + len[i];
		/* The empty message is one block of padding. */
		if (out[i] == NULL)
			p->nb[i] = 0;
		else if (p->total[i] == 0)
			p->nb[i] = 1;
		else
			p->nb[i] = (p->total[i] + 127) / 128;
		/* Insert into top[0..scalar], kept in decreasing order. */
		for (x = p->nb[i], k = 0; k <= scalar; k++) {
			if (x > top[k]) {
				y = top[k];
				top[k] = x;
				x = y;
			}
		}
	}
	return (top[scalar]);
}

/*
 * Block b of lane i: sets *blk to the 128 bytes to compress, read in
 * place from the input when all 128 are input and otherwise copied (with
 * the prefix, or the zero padding of the last block) into pad; *t to the
 * byte count after the block; *last to all ones for the final block.
 * Returns 1, or 0 when the lane has no block b (then *blk is a block of
 * zeros and *t = *last = 0, to be computed in step and discarded).
 */
static inline int
b2b_lane_block(const struct b2b_plan *p, int i, uint64_t b,
    uint8_t pad[128], const uint8_t **blk, uint64_t *t, uint64_t *last)
{
	static const uint8_t zero[128];
	uint64_t start, end;
	size_t n;

	if (b >= p->nb[i]) {
		*blk = zero;
		*t = *last = 0;
		return (0);
	}
	start = 128 * b;
	end = p->total[i] < start + 128 ? p->total[i] : start + 128;
	n = (size_t)(end - start);
	if (b == 0) {
		/* n >= prefix_len: the message holds the whole prefix. */
		memcpy(pad, p->head, 128);
		if (n > p->prefix_len)
			memcpy(pad + p->prefix_len, p->in[i],
			    n - p->prefix_len);
		*blk = pad;
	} else if (n == 128) {
		*blk = p->in[i] + (start - p->prefix_len);
	} else {
		memcpy(pad, p->in[i] + (start - p->prefix_len), n);
		memset(pad + n, 0, 128 - n);
		*blk = pad;
	}
	*t = end;
	*last = b + 1 == p->nb[i] ? ~(uint64_t)0 : 0;
	return (1);
}

/*
 * Ends every lane of p after the first `steps` steps ran in SIMD: words[k
 * * p->lanes + i] is word k of lane i's state.  A lane with blocks left
 * compresses them in scalar; then out[i] (NULL: lane unused) receives
 * lane i's outlen-byte digest.  Every input is read before the first
 * output is written, so that an out[i] may alias any input.
 */
static inline void
b2b_lanes_finish(const struct b2b_plan *p, uint64_t steps, uint64_t *words,
    uint8_t *const *out, size_t outlen)
{
	uint64_t h[8], ctr[2], last;
	uint8_t pad[128], digest[64];
	const uint8_t *blk;
	uint64_t b;
	int i, k;

	for (i = 0; i < p->lanes; i++) {
		if (steps >= p->nb[i])
			continue;
		for (k = 0; k < 8; k++)
			h[k] = words[k * p->lanes + i];
		ctr[1] = 0;
		for (b = steps; b2b_lane_block(p, i, b, pad, &blk, &ctr[0],
		    &last); b++)
			cst_b2b_compress(h, blk, ctr, last != 0);
		for (k = 0; k < 8; k++)
			words[k * p->lanes + i] = h[k];
	}
	/* x86 is little-endian, as the digest's words are (RFC 7693 3.3). */
	for (i = 0; i < p->lanes; i++) {
		if (out[i] == NULL)
			continue;
		for (k = 0; k < 8; k++)
			memcpy(digest + 8 * k, &words[k * p->lanes + i], 8);
		memcpy(out[i], digest, outlen);
	}
}

#define B2B_ROUND(s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12,    \
    s13, s14, s15) do {                                                       \
	G(0, 4, 8, 12, m[s0], m[s1]);                                         \
	G(1, 5, 9, 13, m[s2], m[s3]);                                         \
	G(2, 6, 10, 14, m[s4], m[s5]);                                        \
	G(3, 7, 11, 15, m[s6], m[s7]);                                        \
	G(0, 5, 10, 15, m[s8], m[s9]);                                        \
	G(1, 6, 11, 12, m[s10], m[s11]);                                      \
	G(2, 7, 8, 13, m[s12], m[s13]);                                       \
	G(3, 4, 9, 14, m[s14], m[s15]);                                       \
} while (0)

#define B2B_TWELVE_ROUNDS() do {                                              \
	B2B_ROUND(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);      \
	B2B_ROUND(14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3);      \
	B2B_ROUND(11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4);      \
	B2B_ROUND(7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8);      \
	B2B_ROUND(9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13);      \
	B2B_ROUND(2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9);      \
	B2B_ROUND(12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11);      \
	B2B_ROUND(13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10);      \
	B2B_ROUND(6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5);      \
	B2B_ROUND(10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0);      \
	B2B_ROUND(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);      \
	B2B_ROUND(14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3);      \
} while (0)

#endif /* CUSTODY_BLAKE2B_SIMD_H */
