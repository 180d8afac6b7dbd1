/*
 * Merkle tree hashes and inclusion proofs over a block's records
 * (RFC 6962 section 2.1 with BLAKE2b-256; SPEC section 5).
 */
#ifndef CUSTODY_MERKLE_H
#define CUSTODY_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#include "custody/format.h"

#define CST_MERKLE_MAX_DEPTH 64

/* out = H(00 || data). */
void cst_merkle_leaf(const uint8_t *data, size_t len,
    uint8_t out[CST_HASH_LEN]);

/*
 * out[i] = H(00 || data[i][0..len[i])) for i in 0..n, several at a time
 * (SIMD where the CPU has it): the same hashes as n calls of
 * cst_merkle_leaf.  data, len and out are borrowed; data[i] may be NULL
 * only if len[i] is 0; out must not overlap the data.  Cannot fail.
 */
void cst_merkle_leaves(const uint8_t *const *data, const size_t *len,
    size_t n, uint8_t (*out)[CST_HASH_LEN]);

/* out = H(01 || left || right). */
void cst_merkle_node(const uint8_t left[CST_HASH_LEN],
    const uint8_t right[CST_HASH_LEN], uint8_t out[CST_HASH_LEN]);

/*
 * Computes the tree hash of n leaf hashes leaves[0..n) (borrowed; the
 * array is overwritten as scratch).  n == 0 gives H("").  Cannot fail.
 */
void cst_merkle_root(uint8_t (*leaves)[CST_HASH_LEN], size_t n,
    uint8_t out[CST_HASH_LEN]);

/*
 * Writes the audit path of leaf m among n leaves into path (room for
 * CST_MERKLE_MAX_DEPTH hashes) and its length into *path_len.  leaves is
 * borrowed and left unchanged.  Returns 0, CST_EINVAL (m >= n) or
 * CST_ENOMEM.
 */
int cst_merkle_path(const uint8_t (*leaves)[CST_HASH_LEN], size_t n,
    size_t m, uint8_t (*path)[CST_HASH_LEN], size_t *path_len);

/*
 * Checks that leaf hash `leaf`, at index m of a tree of n leaves, with
 * audit path path[0..path_len), gives root.  Returns 0 or CST_EHASH.
 */
int cst_merkle_verify(const uint8_t leaf[CST_HASH_LEN], size_t m, size_t n,
    const uint8_t (*path)[CST_HASH_LEN], size_t path_len,
    const uint8_t root[CST_HASH_LEN]) __attribute__((warn_unused_result));

#endif /* CUSTODY_MERKLE_H */
