/*
 * The chain tree (SPEC section 13.1): frontier, proofs through a node
 * callback, and the RFC 9162 section 2.1.3.2 and 2.1.4.2 verifiers.
 *
 * Proof generation walks RFC 9162's recursion from the top, keeping the
 * current subtree as [a, b).  Every subtree the recursion names starts at
 * a multiple of a power of two at least its size, so a subtree whose size
 * is a power of two is one stored node, and any other is the right edge:
 * its hash costs one node per set bit of its size (subtree()).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "blake2b.h"
#include "custody/error.h"
#include "custody/format.h"
#include "custody/merkle.h"
#include "custody/tlog.h"

void
cst_tlog_leaf(const uint8_t block_hash[CST_HASH_LEN],
    uint8_t out[CST_HASH_LEN])
{

	cst_merkle_leaf(block_hash, CST_HASH_LEN, out);
}

void
cst_tlog_frontier_init(cst_tlog_frontier *f)
{

	memset(f, 0, sizeof(*f));
}

int
cst_tlog_frontier_append(cst_tlog_frontier *f,
    const uint8_t leaf[CST_HASH_LEN],
    void (*done)(void *arg, unsigned level, uint64_t index,
    const uint8_t hash[CST_HASH_LEN]), void *arg)
{
	uint8_t cur[CST_HASH_LEN];
	uint64_t old = f->size;
	unsigned level = 0;

	if (old == UINT64_MAX)
		return (CST_ETOOBIG);
	memcpy(cur, leaf, CST_HASH_LEN);
	if (done != NULL)
		done(arg, 0, old, cur);
	/* Each set low bit of old is a left sibling the new node completes. */
	while ((old >> level) & 1) {
		cst_merkle_node(f->node[level], cur, cur);
		memset(f->node[level], 0, CST_HASH_LEN);
		level++;
		if (done != NULL)
			done(arg, level, old >> level, cur);
	}
	memcpy(f->node[level], cur, CST_HASH_LEN);
	f->size = old + 1;
	return (0);
}

void
cst_tlog_frontier_root(const cst_tlog_frontier *f, uint8_t out[CST_HASH_LEN])
{
	uint8_t acc[CST_HASH_LEN];
	unsigned l;
	int have = 0;

	if (f->size == 0) {
		cst_b2b_hash(out, CST_HASH_LEN, NULL, 0);
		return;
	}
	/* Smallest subtree rightmost: fold from the low bits up. */
	for (l = 0; l < CST_TLOG_LEVELS; l++) {
		if (!((f->size >> l) & 1))
			continue;
		if (!have) {
			memcpy(acc, f->node[l], CST_HASH_LEN);
			have = 1;
		} else
			cst_merkle_node(f->node[l], acc, acc);
	}
	memcpy(out, acc, CST_HASH_LEN);
}

/* The largest power of two smaller than n (n >= 2). */
static uint64_t
split_point(uint64_t n)
{
	uint64_t k = 1;

	while (k < n - k)
		k <<= 1;
	return (k);
}

static unsigned
log2_exact(uint64_t n)
{
	unsigned l = 0;

	while ((UINT64_C(1) << l) < n)
		l++;
	return (l);
}

/* The hash of leaves [a, b), b > a, a aligned as the recursion leaves it. */
static int
subtree(cst_tlog_node_fn fn, void *arg, uint64_t a, uint64_t b,
    uint8_t out[CST_HASH_LEN])
{
	uint8_t left[CST_HASH_LEN];
	uint64_t n = b - a, k;
	unsigned l;
	int rc;

	if ((n & (n - 1)) == 0) {
		l = log2_exact(n);
		return (fn(arg, l, a >> l, out));
	}
	k = split_point(n);
	if ((rc = fn(arg, log2_exact(k), a >> log2_exact(k), left)) != 0)
		return (rc);
	if ((rc = subtree(fn, arg, a + k, b, out)) != 0)
		return (rc);
	cst_merkle_node(left, out, out);
	return (0);
}

/* Reverses proof[0..n): the walks collect from the top, proofs go up. */
static void
reverse(uint8_t (*proof)[CST_HASH_LEN], size_t n)
{
	uint8_t t[CST_HASH_LEN];
	size_t i;

	for (i = 0; i < n / 2; i++) {
		memcpy(t, proof[i], CST_HASH_LEN);
		memcpy(proof[i], proof[n - 1 - i], CST_HASH_LEN);
		memcpy(proof[n - 1 - i], t, CST_HASH_LEN);
	}
}

int
cst_tlog_inclusion_proof(uint64_t index, uint64_t size,
    cst_tlog_node_fn node_fn, void *arg, uint8_t (*proof)[CST_HASH_LEN],
    size_t *proof_len)
{
	uint64_t a = 0, b = size, k;
	size_t n = 0;
	int rc;

	if (index >= size)
		return (CST_EINVAL);
	while (b - a > 1) {
		k = split_point(b - a);
		if (index < a + k) {
			rc = subtree(node_fn, arg, a + k, b, proof[n]);
			b = a + k;
		} else {
			rc = subtree(node_fn, arg, a, a + k, proof[n]);
			a += k;
		}
		if (rc != 0)
			return (rc);
		n++;
	}
	reverse(proof, n);
	*proof_len = n;
	return (0);
}

int
cst_tlog_consistency_proof(uint64_t m, uint64_t n, cst_tlog_node_fn node_fn,
    void *arg, uint8_t (*proof)[CST_HASH_LEN], size_t *proof_len)
{
	uint64_t a = 0, b = n, k;
	size_t len = 0;
	int whole = 1, rc;

	if (m > n)
		return (CST_EINVAL);
	*proof_len = 0;
	if (m == 0 || m == n)
		return (0);
	/* RFC 9162 SUBPROOF(m, D[n], true), m counted from 0 as an end. */
	for (;;) {
		if (m == b) {
			if (!whole) {
				if ((rc = subtree(node_fn, arg, a, b,
				    proof[len])) != 0)
					return (rc);
				len++;
			}
			break;
		}
		k = split_point(b - a);
		if (m - a <= k) {
			rc = subtree(node_fn, arg, a + k, b, proof[len]);
			b = a + k;
		} else {
			rc = subtree(node_fn, arg, a, a + k, proof[len]);
			a += k;
			whole = 0;
		}
		if (rc != 0)
			return (rc);
		len++;
	}
	reverse(proof, len);
	*proof_len = len;
	return (0);
}

int
cst_tlog_root_at(uint64_t size, cst_tlog_node_fn node_fn, void *arg,
    uint8_t out[CST_HASH_LEN])
{

	if (size == 0) {
		cst_b2b_hash(out, CST_HASH_LEN, NULL, 0);
		return (0);
	}
	return (subtree(node_fn, arg, 0, size, out));
}

int
cst_tlog_verify_inclusion(const uint8_t leaf[CST_HASH_LEN], uint64_t index,
    uint64_t size, const uint8_t (*proof)[CST_HASH_LEN], size_t proof_len,
    const uint8_t root[CST_HASH_LEN])
{
	uint8_t r[CST_HASH_LEN];
	uint64_t fn, sn;
	size_t i;

	if (index >= size)
		return (CST_EHASH);
	fn = index;
	sn = size - 1;
	memcpy(r, leaf, CST_HASH_LEN);
	for (i = 0; i < proof_len; i++) {
		if (sn == 0)
			return (CST_EHASH);
		if ((fn & 1) || fn == sn) {
			cst_merkle_node(proof[i], r, r);
			while (!(fn & 1) && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else
			cst_merkle_node(r, proof[i], r);
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0 || sodium_memcmp(r, root, CST_HASH_LEN) != 0)
		return (CST_EHASH);
	return (0);
}

int
cst_tlog_verify_consistency(uint64_t m, uint64_t n,
    const uint8_t (*proof)[CST_HASH_LEN], size_t proof_len,
    const uint8_t root_m[CST_HASH_LEN], const uint8_t root_n[CST_HASH_LEN])
{
	uint8_t fr[CST_HASH_LEN], sr[CST_HASH_LEN];
	uint64_t fn, sn;
	size_t i = 0;

	if (m > n)
		return (CST_EHASH);
	if (m == n)
		return (proof_len == 0 && sodium_memcmp(root_m, root_n,
		    CST_HASH_LEN) == 0 ? 0 : CST_EHASH);
	if (m == 0)
		return (proof_len == 0 ? 0 : CST_EHASH);
	if (proof_len == 0)
		return (CST_EHASH);
	/* A power-of-two old tree is itself the proof's first node. */
	if ((m & (m - 1)) == 0) {
		memcpy(fr, root_m, CST_HASH_LEN);
	} else {
		memcpy(fr, proof[0], CST_HASH_LEN);
		i = 1;
	}
	memcpy(sr, fr, CST_HASH_LEN);
	fn = m - 1;
	sn = n - 1;
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	for (; i < proof_len; i++) {
		if (sn == 0)
			return (CST_EHASH);
		if ((fn & 1) || fn == sn) {
			cst_merkle_node(proof[i], fr, fr);
			cst_merkle_node(proof[i], sr, sr);
			while (!(fn & 1) && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else
			cst_merkle_node(sr, proof[i], sr);
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0 || sodium_memcmp(fr, root_m, CST_HASH_LEN) != 0 ||
	    sodium_memcmp(sr, root_n, CST_HASH_LEN) != 0)
		return (CST_EHASH);
	return (0);
}
