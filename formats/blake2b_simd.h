/*
 * What the multi-buffer BLAKE2b versions (blake2b_x4.c, blake2b_x8.c)
 * share whatever their width: which block each lane compresses at each
 * step, and the twelve rounds (RFC 7693 section 3.2) with the message
 * schedule spelled out so that every index is a constant.  For the rounds
 * the including file defines G(a, b, c, d, x, y) over its own vector type,
 * with the working vector named v[] and the message words m[].
 */
#ifndef CUSTODY_BLAKE2B_SIMD_H
#define CUSTODY_BLAKE2B_SIMD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * Lane i hashes prefix || in[i][0..len[i]): total[i] = len[i] + 1 bytes in
 * nb[i] = ceil(total[i] / 128) blocks; an unused lane (out[i] NULL) is
 * planned as one block of one byte so that it runs in step and is then
 * discarded.  Returns the most blocks of any lane.
 */
static inline uint64_t
b2b_lanes_plan(uint8_t *const *out, const size_t *len, int lanes,
    uint64_t *total, uint64_t *nb)
{
	uint64_t maxnb = 0;
	int i;

	for (i = 0; i < lanes; i++) {
		total[i] = out[i] == NULL ? 1 : (uint64_t)len[i] + 1;
		nb[i] = (total[i] + 127) / 128;
		if (nb[i] > maxnb)
			maxnb = nb[i];
	}
	return (maxnb);
}

/*
 * Block b of a lane planned by b2b_lanes_plan: sets *blk to the 128 bytes
 * to compress, read in place from in when all 128 are input and otherwise
 * copied (the prefix, or the zero padding of the last block) into pad;
 * *t to the byte count after the block; *last to all ones for the final
 * block.  An unused lane (used 0) compresses zero.  Returns 0 when the
 * lane has no block b (*blk = zero, *t = *last = 0), 1 when it does.
 */
static inline int
b2b_lane_block(uint8_t prefix, const uint8_t *in, int used, uint64_t total,
    uint64_t nb, uint64_t b, uint8_t pad[128], const uint8_t *zero,
    const uint8_t **blk, uint64_t *t, uint64_t *last)
{
	uint64_t end;
	size_t n;

	if (b >= nb) {
		*blk = zero;
		*t = *last = 0;
		return (0);
	}
	end = total < 128 * (b + 1) ? total : 128 * (b + 1);
	n = (size_t)(end - 128 * b);
	if (!used) {
		*blk = zero;
	} else if (b == 0) {
		pad[0] = prefix;
		if (n > 1)
			memcpy(pad + 1, in, n - 1);
		memset(pad + n, 0, 128 - n);
		*blk = pad;
	} else if (n == 128) {
		*blk = in + 128 * b - 1;
	} else {
		memcpy(pad, in + 128 * b - 1, n);
		memset(pad + n, 0, 128 - n);
		*blk = pad;
	}
	*t = end;
	*last = b + 1 == nb ? ~(uint64_t)0 : 0;
	return (1);
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
