/*
 * Merkle tree hashes and audit paths: RFC 6962 section 2.1 with
 * BLAKE2b-256 (SPEC section 5).  Nothing here allocates.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "blake2b.h"
#include "custody/error.h"
#include "custody/format.h"
#include "custody/merkle.h"

#define LEAF_PREFIX 0x00
#define NODE_PREFIX 0x01

static const uint8_t leaf_prefix[1] = { LEAF_PREFIX };
static const uint8_t node_prefix[1] = { NODE_PREFIX };

void
cst_merkle_leaf(const uint8_t *data, size_t len, uint8_t out[CST_HASH_LEN])
{
	cst_b2b st;

	cst_b2b_init(&st, CST_HASH_LEN);
	cst_b2b_update(&st, leaf_prefix, sizeof(leaf_prefix));
	cst_b2b_update(&st, data, len);
	cst_b2b_final(&st, out);
}

/*
 * Eight leaves per cst_b2b_hash_x8 call where the CPU has AVX-512, and
 * four per cst_b2b_hash_x4 call otherwise.  An unused lane costs what a
 * used one does; eight AVX-512 lanes cost less than four AVX2 ones, and
 * a little less than two scalar hashes, four AVX2 lanes about what two
 * scalar hashes do (bench/bench_hash).  So with AVX-512 a group of two or
 * more leaves is one x8 call, without it a group of three or four is one
 * x4 call, and a last leaf (or two, without AVX-512) is hashed alone.
 */
void
cst_merkle_leaves(const uint8_t *const *data, const size_t *len, size_t n,
    uint8_t (*out)[CST_HASH_LEN])
{
	uint8_t *o[8];
	const uint8_t *in[8];
	size_t l[8];
	size_t i, k;
	int wide = cst_b2b_simd_level() >= CST_B2B_AVX512;

	for (i = 0; wide && i + 1 < n; i += 8) {
		for (k = 0; k < 8; k++) {
			o[k] = i + k < n ? out[i + k] : NULL;
			in[k] = i + k < n ? data[i + k] : NULL;
			l[k] = i + k < n ? len[i + k] : 0;
		}
		cst_b2b_hash_x8(o, CST_HASH_LEN, leaf_prefix,
		    sizeof(leaf_prefix), in, l);
	}
	for (; i + 2 < n; i += 4) {
		for (k = 0; k < 4; k++) {
			o[k] = i + k < n ? out[i + k] : NULL;
			in[k] = i + k < n ? data[i + k] : NULL;
			l[k] = i + k < n ? len[i + k] : 0;
		}
		cst_b2b_hash_x4(o, CST_HASH_LEN, leaf_prefix,
		    sizeof(leaf_prefix), in, l);
	}
	for (; i < n; i++)
		cst_merkle_leaf(data[i], len[i], out[i]);
}

/* out may alias left or right: both are read before out is written. */
void
cst_merkle_node(const uint8_t left[CST_HASH_LEN],
    const uint8_t right[CST_HASH_LEN], uint8_t out[CST_HASH_LEN])
{
	uint8_t m[1 + 2 * CST_HASH_LEN];

	m[0] = NODE_PREFIX;
	memcpy(m + 1, left, CST_HASH_LEN);
	memcpy(m + 1 + CST_HASH_LEN, right, CST_HASH_LEN);
	cst_b2b_hash(out, CST_HASH_LEN, m, sizeof(m));
}

/*
 * Pairing neighbours level by level and carrying an odd last node up
 * unchanged builds the same tree as RFC 6962's split at the largest power
 * of two below n, and lets each level overwrite the one below in place.
 */
void
cst_merkle_root(uint8_t (*leaves)[CST_HASH_LEN], size_t n,
    uint8_t out[CST_HASH_LEN])
{
	uint8_t *o[8];
	const uint8_t *in[8];
	size_t l[8];
	size_t pairs, j, k;
	int wide = cst_b2b_simd_level() >= CST_B2B_AVX512;

	if (n == 0) {
		cst_b2b_hash(out, CST_HASH_LEN, NULL, 0);
		return;
	}
	while (n > 1) {
		/*
		 * Node j of the level above is H(01 || leaves[2j] ||
		 * leaves[2j + 1]), whose 64 bytes are contiguous.  Node j
		 * overwrites leaves[j], which no node j' > j still needs
		 * (2j' > j); within one call all input is read first.  The
		 * pairs are grouped as cst_merkle_leaves groups leaves.
		 */
		pairs = n / 2;
		for (j = 0; wide && j + 1 < pairs; j += 8) {
			for (k = 0; k < 8; k++) {
				o[k] = j + k < pairs ? leaves[j + k] : NULL;
				in[k] = j + k < pairs ? leaves[2 * (j + k)] :
				    NULL;
				l[k] = j + k < pairs ? 2 * CST_HASH_LEN : 0;
			}
			cst_b2b_hash_x8(o, CST_HASH_LEN, node_prefix,
			    sizeof(node_prefix), in, l);
		}
		for (; j + 2 < pairs; j += 4) {
			for (k = 0; k < 4; k++) {
				o[k] = j + k < pairs ? leaves[j + k] : NULL;
				in[k] = j + k < pairs ? leaves[2 * (j + k)] :
				    NULL;
				l[k] = j + k < pairs ? 2 * CST_HASH_LEN : 0;
			}
			cst_b2b_hash_x4(o, CST_HASH_LEN, node_prefix,
			    sizeof(node_prefix), in, l);
		}
		for (; j < pairs; j++)
			cst_merkle_node(leaves[2 * j], leaves[2 * j + 1],
			    leaves[j]);
		if (n & 1)
			memmove(leaves[n / 2], leaves[n - 1], CST_HASH_LEN);
		n = n / 2 + (n & 1);
	}
	memcpy(out, leaves[0], CST_HASH_LEN);
}

/*
 * Tree hash of leaves[lo..hi) (hi > lo) without touching them: a stack of
 * perfect subtrees, merged as soon as two have the same height, then
 * folded from the right.  Heights strictly decrease down the stack, so it
 * never holds more than CST_MERKLE_MAX_DEPTH + 1 entries.
 */
static void
subtree_hash(const uint8_t (*leaves)[CST_HASH_LEN], size_t lo, size_t hi,
    uint8_t out[CST_HASH_LEN])
{
	uint8_t stack[CST_MERKLE_MAX_DEPTH + 1][CST_HASH_LEN];
	uint8_t height[CST_MERKLE_MAX_DEPTH + 1];
	size_t top = 0;
	size_t i;

	for (i = lo; i < hi; i++) {
		memcpy(stack[top], leaves[i], CST_HASH_LEN);
		height[top++] = 0;
		while (top >= 2 && height[top - 1] == height[top - 2]) {
			cst_merkle_node(stack[top - 2], stack[top - 1],
			    stack[top - 2]);
			height[top - 2]++;
			top--;
		}
	}
	while (top >= 2) {
		cst_merkle_node(stack[top - 2], stack[top - 1], stack[top - 2]);
		top--;
	}
	memcpy(out, stack[0], CST_HASH_LEN);
}

/* Largest power of two strictly smaller than n (n >= 2). */
static size_t
split_point(size_t n)
{
	size_t k = 1;

	while (k < n - k)
		k <<= 1;
	return (k);
}

/*
 * PATH(m, D[n]) of RFC 6962 section 2.1.1, walked from the root down: each
 * step yields the sibling of the subtree holding m, so the siblings come
 * out root first and are stored from the end of the path.
 */
int
cst_merkle_path(const uint8_t (*leaves)[CST_HASH_LEN], size_t n, size_t m,
    uint8_t (*path)[CST_HASH_LEN], size_t *path_len)
{
	size_t lo, hi, k, depth, i;

	if (m >= n)
		return (CST_EINVAL);

	depth = 0;
	for (lo = 0, hi = n; hi - lo > 1; depth++) {
		k = split_point(hi - lo);
		if (m - lo < k)
			hi = lo + k;
		else
			lo += k;
	}

	i = depth;
	for (lo = 0, hi = n; hi - lo > 1;) {
		k = split_point(hi - lo);
		i--;
		if (m - lo < k) {
			subtree_hash(leaves, lo + k, hi, path[i]);
			hi = lo + k;
		} else {
			subtree_hash(leaves, lo, lo + k, path[i]);
			lo += k;
		}
	}
	*path_len = depth;
	return (0);
}

/* RFC 9162 section 2.1.3.2, the verification of an inclusion proof. */
int
cst_merkle_verify(const uint8_t leaf[CST_HASH_LEN], size_t m, size_t n,
    const uint8_t (*path)[CST_HASH_LEN], size_t path_len,
    const uint8_t root[CST_HASH_LEN])
{
	uint8_t r[CST_HASH_LEN];
	size_t fn, sn, i;

	if (m >= n || path_len > CST_MERKLE_MAX_DEPTH)
		return (CST_EHASH);
	fn = m;
	sn = n - 1;
	memcpy(r, leaf, CST_HASH_LEN);
	for (i = 0; i < path_len; i++) {
		if (sn == 0)
			return (CST_EHASH);
		if ((fn & 1) || fn == sn) {
			cst_merkle_node(path[i], r, r);
			while (!(fn & 1) && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else {
			cst_merkle_node(r, path[i], r);
		}
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0 || sodium_memcmp(r, root, CST_HASH_LEN) != 0)
		return (CST_EHASH);
	return (0);
}
