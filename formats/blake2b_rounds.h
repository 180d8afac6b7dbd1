/*
 * BLAKE2b's twelve rounds (RFC 7693 section 3.2) with the message schedule
 * spelled out, so that every index is a constant, for the SIMD versions
 * (blake2b_x4.c, blake2b_x8.c).  The including file defines
 * G(a, b, c, d, x, y) over its own vector type, with the working vector
 * named v[] and the message words m[].
 */
#ifndef CUSTODY_BLAKE2B_ROUNDS_H
#define CUSTODY_BLAKE2B_ROUNDS_H

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

#endif /* CUSTODY_BLAKE2B_ROUNDS_H */
