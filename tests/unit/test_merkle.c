/*
 * Merkle tree hash and audit paths (SPEC section 5, RFC 6962 section 2.1),
 * against a straightforward recursive reference written from the RFC.
 */
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include "custody/error.h"
#include "custody/format.h"
#include "custody/merkle.h"

#define MAX_LEAVES 1100

/* The leaf data: d[i] is i+1 bytes, so no two leaves are alike. */
static void
leaf_data(size_t i, uint8_t *d, size_t *len)
{
	size_t j;

	*len = i % 300 + 1;
	for (j = 0; j < *len; j++)
		d[j] = (uint8_t)(i * 31 + j);
}

static void
ref_leaf(size_t i, uint8_t out[CST_HASH_LEN])
{
	uint8_t m[1 + 300];
	size_t len;

	m[0] = 0x00;
	leaf_data(i, m + 1, &len);
	crypto_generichash(out, CST_HASH_LEN, m, 1 + len, NULL, 0);
}

static void
ref_node(const uint8_t *l, const uint8_t *r, uint8_t out[CST_HASH_LEN])
{
	uint8_t m[1 + 2 * CST_HASH_LEN];

	m[0] = 0x01;
	memcpy(m + 1, l, CST_HASH_LEN);
	memcpy(m + 1 + CST_HASH_LEN, r, CST_HASH_LEN);
	crypto_generichash(out, CST_HASH_LEN, m, sizeof(m), NULL, 0);
}

static size_t
ref_split(size_t n)
{
	size_t k = 1;

	while (2 * k < n)
		k *= 2;
	return (k);
}

/* MTH(D[lo..hi)) exactly as RFC 6962 section 2.1 states it. */
static void
ref_mth(size_t lo, size_t hi, uint8_t out[CST_HASH_LEN])
{
	uint8_t l[CST_HASH_LEN], r[CST_HASH_LEN];
	size_t k;

	if (hi == lo) {
		crypto_generichash(out, CST_HASH_LEN, NULL, 0, NULL, 0);
	} else if (hi - lo == 1) {
		ref_leaf(lo, out);
	} else {
		k = ref_split(hi - lo);
		ref_mth(lo, lo + k, l);
		ref_mth(lo + k, hi, r);
		ref_node(l, r, out);
	}
}

/* PATH(m, D[lo..hi)) of RFC 6962 section 2.1.1; returns its length. */
static size_t
ref_path(size_t m, size_t lo, size_t hi, uint8_t (*path)[CST_HASH_LEN])
{
	size_t k, n;

	if (hi - lo <= 1)
		return (0);
	k = ref_split(hi - lo);
	if (m < k) {
		n = ref_path(m, lo, lo + k, path);
		ref_mth(lo + k, hi, path[n]);
	} else {
		n = ref_path(m - k, lo + k, hi, path);
		ref_mth(lo, lo + k, path[n]);
	}
	return (n + 1);
}

static uint8_t (*leaves_of(size_t n))[CST_HASH_LEN]
{
	static uint8_t leaves[MAX_LEAVES][CST_HASH_LEN];
	uint8_t d[300];
	size_t i, len;

	cr_assert_leq(n, MAX_LEAVES);
	for (i = 0; i < n; i++) {
		leaf_data(i, d, &len);
		cst_merkle_leaf(d, len, leaves[i]);
	}
	return (leaves);
}

Test(merkle, leaf_and_node)
{
	uint8_t a[CST_HASH_LEN], b[CST_HASH_LEN], c[CST_HASH_LEN];
	uint8_t d[300];
	size_t len;

	leaf_data(5, d, &len);
	cst_merkle_leaf(d, len, a);
	ref_leaf(5, b);
	cr_assert(memcmp(a, b, CST_HASH_LEN) == 0, "H(00 || d)");

	ref_leaf(6, c);
	cst_merkle_node(a, c, d);
	ref_node(b, c, a);
	cr_assert(memcmp(a, d, CST_HASH_LEN) == 0, "H(01 || l || r)");

	/* out may be one of the inputs: the in-place root relies on it. */
	ref_leaf(5, a);
	cst_merkle_node(a, c, a);
	cr_assert(memcmp(a, d, CST_HASH_LEN) == 0);
	ref_leaf(5, a);
	cst_merkle_node(a, c, c);
	cr_assert(memcmp(c, d, CST_HASH_LEN) == 0);

	/* The empty leaf is H(00), not H(""). */
	cst_merkle_leaf(NULL, 0, a);
	crypto_generichash(b, CST_HASH_LEN, (const uint8_t *)"", 1, NULL, 0);
	cr_assert(memcmp(a, b, CST_HASH_LEN) == 0);
}

Test(merkle, leaves_match_one_by_one)
{
	static uint8_t d[22][300];
	const uint8_t *data[22];
	size_t len[22];
	uint8_t got[23][CST_HASH_LEN], want[CST_HASH_LEN];
	size_t n, i;

	/* Lengths of one to three blocks, different across a group's lanes. */
	for (i = 0; i < 22; i++) {
		leaf_data(i * 97, d[i], &len[i]);
		data[i] = d[i];
	}
	/*
	 * n = 0..21 covers whole groups of eight (AVX-512) and four, and
	 * every remainder after each.
	 */
	for (n = 0; n <= 21; n++) {
		memset(got, 0xa5, sizeof(got));
		cst_merkle_leaves(data, len, n, got);
		for (i = 0; i < n; i++) {
			cst_merkle_leaf(data[i], len[i], want);
			cr_assert(memcmp(got[i], want, CST_HASH_LEN) == 0,
			    "leaf %zu of %zu", i, n);
		}
		for (; i < 23; i++)
			cr_assert_eq(got[i][0], 0xa5, "past the end, n = %zu",
			    n);
	}

	/* An empty leaf among others is H(00) (data may then be NULL). */
	data[2] = NULL;
	len[2] = 0;
	cst_merkle_leaves(data, len, 4, got);
	crypto_generichash(want, CST_HASH_LEN, (const uint8_t *)"", 1, NULL, 0);
	cr_assert(memcmp(got[2], want, CST_HASH_LEN) == 0);
}

Test(merkle, roots_match_reference)
{
	uint8_t (*leaves)[CST_HASH_LEN];
	uint8_t got[CST_HASH_LEN], want[CST_HASH_LEN];
	size_t n;
	static const size_t big[] = { 31, 32, 33, 63, 64, 65, 100, 127, 128,
	    129, 1000, 1024, 1025, 1099 };

	for (n = 0; n <= 20; n++) {
		leaves = leaves_of(n);
		cst_merkle_root(leaves, n, got);
		ref_mth(0, n, want);
		cr_assert(memcmp(got, want, CST_HASH_LEN) == 0, "n = %zu", n);
	}
	for (n = 0; n < sizeof(big) / sizeof(big[0]); n++) {
		leaves = leaves_of(big[n]);
		cst_merkle_root(leaves, big[n], got);
		ref_mth(0, big[n], want);
		cr_assert(memcmp(got, want, CST_HASH_LEN) == 0, "n = %zu",
		    big[n]);
	}

	/* R-BLK-9: the tree hash of no records is H(""). */
	cst_merkle_root(NULL, 0, got);
	crypto_generichash(want, CST_HASH_LEN, NULL, 0, NULL, 0);
	cr_assert(memcmp(got, want, CST_HASH_LEN) == 0);
}

Test(merkle, paths_verify_for_every_m_n)
{
	uint8_t (*leaves)[CST_HASH_LEN];
	uint8_t copy[41][CST_HASH_LEN];
	uint8_t path[CST_MERKLE_MAX_DEPTH][CST_HASH_LEN];
	uint8_t want[CST_MERKLE_MAX_DEPTH][CST_HASH_LEN];
	uint8_t root[CST_HASH_LEN], bad[CST_HASH_LEN];
	const uint8_t (*cpath)[CST_HASH_LEN] = (const uint8_t (*)[CST_HASH_LEN])path;
	size_t n, m, len, want_len, i, m2;

	for (n = 1; n <= 40; n++) {
		leaves = leaves_of(n);
		memcpy(copy, leaves, n * CST_HASH_LEN);
		ref_mth(0, n, root);
		for (m = 0; m < n; m++) {
			cr_assert_eq(cst_merkle_path(
			    (const uint8_t (*)[CST_HASH_LEN])leaves, n, m,
			    path, &len), 0);
			want_len = ref_path(m, 0, n, want);
			cr_assert_eq(len, want_len, "len (%zu, %zu)", m, n);
			cr_assert(memcmp(path, want, len * CST_HASH_LEN) == 0,
			    "path (%zu, %zu)", m, n);
			cr_assert(memcmp(copy, leaves, n * CST_HASH_LEN) == 0,
			    "leaves left unchanged");

			cr_assert_eq(cst_merkle_verify(leaves[m], m, n, cpath,
			    len, root), 0, "verify (%zu, %zu)", m, n);

			/* A wrong leaf. */
			memcpy(bad, leaves[m], CST_HASH_LEN);
			bad[0] ^= 1;
			cr_assert_eq(cst_merkle_verify(bad, m, n, cpath, len,
			    root), CST_EHASH);
			/* A wrong index: every other one. */
			for (m2 = 0; m2 < n + 2; m2++)
				if (m2 != m)
					cr_assert_eq(cst_merkle_verify(leaves[m],
					    m2, n, cpath, len, root), CST_EHASH,
					    "index %zu for (%zu, %zu)", m2, m, n);
			/* A wrong sibling, each in turn. */
			for (i = 0; i < len; i++) {
				path[i][i % CST_HASH_LEN] ^= 0x80;
				cr_assert_eq(cst_merkle_verify(leaves[m], m, n,
				    cpath, len, root), CST_EHASH);
				path[i][i % CST_HASH_LEN] ^= 0x80;
			}
			/* Too short, too long. */
			if (len > 0)
				cr_assert_eq(cst_merkle_verify(leaves[m], m, n,
				    cpath, len - 1, root), CST_EHASH);
			memcpy(path[len], root, CST_HASH_LEN);
			cr_assert_eq(cst_merkle_verify(leaves[m], m, n, cpath,
			    len + 1, root), CST_EHASH);
			/* A wrong root. */
			memcpy(bad, root, CST_HASH_LEN);
			bad[31] ^= 1;
			cr_assert_eq(cst_merkle_verify(leaves[m], m, n, cpath,
			    len, bad), CST_EHASH);
		}
		cr_assert_eq(cst_merkle_path(
		    (const uint8_t (*)[CST_HASH_LEN])leaves, n, n, path, &len),
		    CST_EINVAL);
	}
}

Test(merkle, paths_in_a_large_tree)
{
	uint8_t (*leaves)[CST_HASH_LEN];
	uint8_t path[CST_MERKLE_MAX_DEPTH][CST_HASH_LEN];
	uint8_t root[CST_HASH_LEN];
	static const size_t ms[] = { 0, 1, 511, 512, 513, 1023, 1024, 1098 };
	size_t i, len, n = 1099;

	leaves = leaves_of(n);
	ref_mth(0, n, root);
	for (i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
		cr_assert_eq(cst_merkle_path(
		    (const uint8_t (*)[CST_HASH_LEN])leaves, n, ms[i], path,
		    &len), 0);
		cr_assert_leq(len, 11);
		cr_assert_eq(cst_merkle_verify(leaves[ms[i]], ms[i], n,
		    (const uint8_t (*)[CST_HASH_LEN])path, len, root), 0);
	}
}

Test(merkle, verify_rejects_degenerate_input)
{
	uint8_t leaf[CST_HASH_LEN], root[CST_HASH_LEN];
	uint8_t path[CST_MERKLE_MAX_DEPTH + 1][CST_HASH_LEN];

	memset(leaf, 7, sizeof(leaf));
	memset(path, 0, sizeof(path));
	/* A single leaf is its own root, with an empty path. */
	memcpy(root, leaf, CST_HASH_LEN);
	cr_assert_eq(cst_merkle_verify(leaf, 0, 1, NULL, 0, root), 0);
	cr_assert_eq(cst_merkle_verify(leaf, 0, 0, NULL, 0, root), CST_EHASH);
	cr_assert_eq(cst_merkle_verify(leaf, 1, 1, NULL, 0, root), CST_EHASH);
	cr_assert_eq(cst_merkle_verify(leaf, SIZE_MAX, SIZE_MAX,
	    (const uint8_t (*)[CST_HASH_LEN])path, CST_MERKLE_MAX_DEPTH + 1,
	    root), CST_EHASH);
	cr_assert_eq(cst_merkle_verify(leaf, 0, SIZE_MAX,
	    (const uint8_t (*)[CST_HASH_LEN])path, CST_MERKLE_MAX_DEPTH,
	    root), CST_EHASH);
}
