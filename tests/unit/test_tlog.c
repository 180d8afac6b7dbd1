/*
 * The chain tree (SPEC section 13.1, R-TLOG-1, R-TLOG-2): frontier roots,
 * inclusion and consistency proofs against a recursive reference written
 * from RFC 6962 section 2.1, every proof of small trees verified and
 * every mutation of it refused, and RFC 6962's own worked example.
 */
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include "custody/error.h"
#include "custody/format.h"
#include "custody/merkle.h"
#include "custody/tlog.h"

#define MAX_LEAVES 72
#define H CST_HASH_LEN

static uint8_t leaves[MAX_LEAVES][H]; /* leaf hashes of blocks 0.. */

static void
ref_hash(const uint8_t *m, size_t len, uint8_t out[H])
{

	crypto_generichash(out, H, m, len, NULL, 0);
}

/* The block hashes are arbitrary: H of the block number. */
static void
make_leaves(void)
{
	uint8_t bh[H], m[1 + H];
	uint64_t i;

	for (i = 0; i < MAX_LEAVES; i++) {
		ref_hash((const uint8_t *)&i, sizeof(i), bh);
		m[0] = 0x00;
		memcpy(m + 1, bh, H);
		ref_hash(m, sizeof(m), leaves[i]);
	}
}

/* MTH(D[a..b)) straight from RFC 6962 2.1. */
static void
ref_mth(uint64_t a, uint64_t b, uint8_t out[H])
{
	uint8_t m[1 + 2 * H];
	uint64_t k = 1;

	if (b == a) {
		ref_hash(NULL, 0, out);
		return;
	}
	if (b - a == 1) {
		memcpy(out, leaves[a], H);
		return;
	}
	while (k * 2 < b - a)
		k *= 2;
	m[0] = 0x01;
	ref_mth(a, a + k, m + 1);
	ref_mth(a + k, b, m + 1 + H);
	ref_hash(m, sizeof(m), out);
}

static int calls;

static int
node_fn(void *arg, unsigned level, uint64_t index, uint8_t out[H])
{
	uint64_t size = *(const uint64_t *)arg;
	uint64_t a = index << level, b = (index + 1) << level;

	cr_assert(b <= size, "node (%u, %lu) outside the tree of %lu",
	    level, (unsigned long)index, (unsigned long)size);
	calls++;
	ref_mth(a, b, out);
	return (0);
}

static void
block_hash(uint64_t i, uint8_t bh[H])
{

	ref_hash((const uint8_t *)&i, sizeof(i), bh);
}

Test(tlog, leaf_is_rfc6962_leaf)
{
	uint8_t bh[H], l[H];

	make_leaves();
	block_hash(5, bh);
	cst_tlog_leaf(bh, l);
	cr_assert(memcmp(l, leaves[5], H) == 0);
}

static int done_ok;

static void
done_fn(void *arg, unsigned level, uint64_t index, const uint8_t hash[H])
{
	uint8_t want[H];

	(void)arg;
	ref_mth(index << level, (index + 1) << level, want);
	if (memcmp(want, hash, H) != 0)
		done_ok = 0;
}

Test(tlog, frontier_roots_match_reference)
{
	cst_tlog_frontier f;
	uint8_t got[H], want[H], at[H];
	uint64_t n;

	make_leaves();
	cst_tlog_frontier_init(&f);
	done_ok = 1;
	for (n = 0; n <= 70; n++) {
		cst_tlog_frontier_root(&f, got);
		ref_mth(0, n, want);
		cr_assert(memcmp(got, want, H) == 0, "size %lu",
		    (unsigned long)n);
		cr_assert(cst_tlog_root_at(n, node_fn, &n, at) == 0);
		cr_assert(memcmp(at, want, H) == 0, "root_at %lu",
		    (unsigned long)n);
		cr_assert(cst_tlog_frontier_append(&f, leaves[n], done_fn,
		    NULL) == 0);
	}
	cr_assert(done_ok, "a completed node differs from the reference");
}

Test(tlog, frontier_refuses_overflow)
{
	cst_tlog_frontier f;

	make_leaves();
	cst_tlog_frontier_init(&f);
	f.size = UINT64_MAX;
	cr_assert(cst_tlog_frontier_append(&f, leaves[0], NULL, NULL) ==
	    CST_ETOOBIG);
}

Test(tlog, every_inclusion_proof_verifies_and_mutations_fail)
{
	uint8_t proof[CST_TLOG_MAX_PROOF + 1][H], root[H], bad[H];
	size_t len, j;
	uint64_t n, i;

	make_leaves();
	for (n = 1; n <= 40; n++) {
		ref_mth(0, n, root);
		for (i = 0; i < n; i++) {
			calls = 0;
			cr_assert(cst_tlog_inclusion_proof(i, n, node_fn, &n,
			    proof, &len) == 0);
			cr_assert(calls <= 2 * 7, "%d node reads", calls);
			cr_assert(cst_tlog_verify_inclusion(leaves[i], i, n,
			    (const uint8_t (*)[H])proof, len, root) == 0,
			    "i=%lu n=%lu", (unsigned long)i, (unsigned long)n);
			/* The merkle.h audit path is the same list. */
			{
				uint8_t path[CST_MERKLE_MAX_DEPTH][H];
				size_t plen;

				cr_assert(cst_merkle_path(
				    (const uint8_t (*)[H])leaves, n, i, path,
				    &plen) == 0);
				cr_assert(plen == len && memcmp(path, proof,
				    len * H) == 0);
			}
			for (j = 0; j < len; j++) {
				proof[j][j % H] ^= 0x40;
				cr_assert(cst_tlog_verify_inclusion(leaves[i],
				    i, n, (const uint8_t (*)[H])proof, len,
				    root) == CST_EHASH);
				proof[j][j % H] ^= 0x40;
			}
			if (len > 0)
				cr_assert(cst_tlog_verify_inclusion(leaves[i],
				    i, n, (const uint8_t (*)[H])proof,
				    len - 1, root) == CST_EHASH);
			memcpy(proof[len], root, H);
			cr_assert(cst_tlog_verify_inclusion(leaves[i], i, n,
			    (const uint8_t (*)[H])proof, len + 1, root) ==
			    CST_EHASH);
			cr_assert(cst_tlog_verify_inclusion(leaves[(i + 1) %
			    MAX_LEAVES], i, n, (const uint8_t (*)[H])proof,
			    len, root) == CST_EHASH);
			memcpy(bad, root, H);
			bad[0] ^= 1;
			cr_assert(cst_tlog_verify_inclusion(leaves[i], i, n,
			    (const uint8_t (*)[H])proof, len, bad) ==
			    CST_EHASH);
		}
		cr_assert(cst_tlog_inclusion_proof(n, n, node_fn, &n, proof,
		    &len) == CST_EINVAL);
	}
}

Test(tlog, every_consistency_proof_verifies_and_mutations_fail)
{
	uint8_t proof[CST_TLOG_MAX_PROOF + 1][H], rm[H], rn[H], bad[H];
	size_t len, j;
	uint64_t n, m;

	make_leaves();
	for (n = 1; n <= 40; n++) {
		ref_mth(0, n, rn);
		for (m = 0; m <= n; m++) {
			ref_mth(0, m, rm);
			cr_assert(cst_tlog_consistency_proof(m, n, node_fn, &n,
			    proof, &len) == 0);
			cr_assert(cst_tlog_verify_consistency(m, n,
			    (const uint8_t (*)[H])proof, len, rm, rn) == 0,
			    "m=%lu n=%lu", (unsigned long)m, (unsigned long)n);
			if (m == 0)
				continue;
			for (j = 0; j < len; j++) {
				proof[j][(j + 3) % H] ^= 0x01;
				cr_assert(cst_tlog_verify_consistency(m, n,
				    (const uint8_t (*)[H])proof, len, rm,
				    rn) == CST_EHASH, "m=%lu n=%lu j=%zu",
				    (unsigned long)m, (unsigned long)n, j);
				proof[j][(j + 3) % H] ^= 0x01;
			}
			if (len > 0)
				cr_assert(cst_tlog_verify_consistency(m, n,
				    (const uint8_t (*)[H])proof, len - 1, rm,
				    rn) == CST_EHASH);
			memcpy(proof[len], rn, H);
			cr_assert(cst_tlog_verify_consistency(m, n,
			    (const uint8_t (*)[H])proof, len + 1, rm, rn) ==
			    CST_EHASH);
			memcpy(bad, rm, H);
			bad[1] ^= 1;
			cr_assert(cst_tlog_verify_consistency(m, n,
			    (const uint8_t (*)[H])proof, len, bad, rn) ==
			    CST_EHASH);
			memcpy(bad, rn, H);
			bad[1] ^= 1;
			cr_assert(cst_tlog_verify_consistency(m, n,
			    (const uint8_t (*)[H])proof, len, rm, bad) ==
			    CST_EHASH);
		}
		cr_assert(cst_tlog_consistency_proof(n + 1, n, node_fn, &n,
		    proof, &len) == CST_EINVAL);
	}
}

Test(tlog, rewritten_history_has_no_consistency_proof)
{
	uint8_t proof[CST_TLOG_MAX_PROOF][H], rm[H], rn[H];
	uint8_t saved[H];
	size_t len;
	uint64_t n = 20, m = 13;

	make_leaves();
	cr_assert(cst_tlog_consistency_proof(m, n, node_fn, &n, proof,
	    &len) == 0);
	ref_mth(0, n, rn);
	/* The old tree as a witness saw it, before block 5 was rewritten. */
	ref_mth(0, m, rm);
	memcpy(saved, leaves[5], H);
	leaves[5][0] ^= 1;
	ref_mth(0, n, rn);
	cr_assert(cst_tlog_consistency_proof(m, n, node_fn, &n, proof,
	    &len) == 0);
	cr_assert(cst_tlog_verify_consistency(m, n,
	    (const uint8_t (*)[H])proof, len, rm, rn) == CST_EHASH);
	memcpy(leaves[5], saved, H);
}

/*
 * The worked example of RFC 6962 section 2.1.3, a tree of seven leaves
 * d0..d6 with nodes named a..l: the audit paths and consistency proofs
 * the RFC lists, node for node (the names, not the hash, are the test:
 * any hash gives the same shape).
 */
Test(tlog, rfc6962_worked_example)
{
	uint8_t a[H], b[H], c[H], d[H], e[H], f[H], g[H], hh[H], i[H], j[H],
	    k[H], l[H], root[H], proof[CST_TLOG_MAX_PROOF][H];
	uint64_t n = 7;
	size_t len, x;

	make_leaves();
	memcpy(a, leaves[0], H);
	memcpy(b, leaves[1], H);
	memcpy(c, leaves[2], H);
	memcpy(d, leaves[3], H);
	memcpy(e, leaves[4], H);
	memcpy(f, leaves[5], H);
	memcpy(j, leaves[6], H);
	cst_merkle_node(a, b, g);
	cst_merkle_node(c, d, hh);
	cst_merkle_node(e, f, i);
	cst_merkle_node(g, hh, k);
	cst_merkle_node(i, j, l);
	cst_merkle_node(k, l, root);
	ref_mth(0, 7, a);
	cr_assert(memcmp(a, root, H) == 0);
	memcpy(a, leaves[0], H);

#define EXPECT(call, ...) do {                                                \
	const uint8_t *w_[] = { __VA_ARGS__ };                                \
	cr_assert_eq(call, 0);                                                \
	cr_assert_eq(len, sizeof(w_) / sizeof(w_[0]), "%s", #call);           \
	for (x = 0; x < len; x++)                                             \
		cr_assert(memcmp(proof[x], w_[x], H) == 0, "%s: node %zu",    \
		    #call, x);                                                \
} while (0)
	/* Audit paths: d0 [b, h, l], d3 [c, g, l], d4 [f, j, k], d6 [i, k]. */
	EXPECT(cst_tlog_inclusion_proof(0, n, node_fn, &n, proof, &len),
	    b, hh, l);
	EXPECT(cst_tlog_inclusion_proof(3, n, node_fn, &n, proof, &len),
	    c, g, l);
	EXPECT(cst_tlog_inclusion_proof(4, n, node_fn, &n, proof, &len),
	    f, j, k);
	EXPECT(cst_tlog_inclusion_proof(6, n, node_fn, &n, proof, &len),
	    i, k);
	/* Consistency: from 3 [c, d, g, l], from 4 [l], from 6 [i, j, k]. */
	EXPECT(cst_tlog_consistency_proof(3, n, node_fn, &n, proof, &len),
	    c, d, g, l);
	EXPECT(cst_tlog_consistency_proof(4, n, node_fn, &n, proof, &len),
	    l);
	EXPECT(cst_tlog_consistency_proof(6, n, node_fn, &n, proof, &len),
	    i, j, k);
#undef EXPECT
}
