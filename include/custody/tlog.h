/*
 * The chain tree (SPEC section 13, R-TLOG-*): the RFC 6962 / RFC 9162
 * Merkle tree, with BLAKE2b-256 (custody/merkle.h's hashing), whose
 * leaves are the block hashes of a chain in block_no order.  Tree size is
 * the number of blocks.
 *
 * Naming: a *leaf hash* is H(00 || block_hash) (cst_tlog_leaf); the node
 * at (level, index) is the root of the perfect subtree over leaves
 * [index << level, (index + 1) << level); level 0 nodes are leaf hashes.
 *
 * A writer keeps a frontier (compact range over [0, size)): one node per
 * set bit of size, so append and root are O(log n) and need no storage.
 * A proof generator asks a callback for perfect-subtree nodes: a caller
 * with stored nodes (collector/treestore.h) answers each call with one
 * read, and a proof costs O(log n) calls.
 *
 * Nothing here allocates; nothing here prints.
 */
#ifndef CUSTODY_TLOG_H
#define CUSTODY_TLOG_H

#include <stddef.h>
#include <stdint.h>

#include "custody/format.h"

/*
 * Room for any inclusion or consistency proof of a tree of fewer than
 * 2^64 leaves (at most 64 hashes; 65 bounds the consistency proof's
 * extra seed node).
 */
#define CST_TLOG_MAX_PROOF 65

/* Levels a frontier can hold: sizes up to 2^64 - 1. */
#define CST_TLOG_LEVELS 64

/*
 * The compact range [0, size): node[l] is the node at level l covering
 * leaves [size with the bits below l+1 cleared .. + 2^l) when bit l of
 * size is set, and unused (zeros) otherwise.  Plain data: copy it freely.
 */
typedef struct cst_tlog_frontier {
	uint64_t size;
	uint8_t node[CST_TLOG_LEVELS][CST_HASH_LEN];
} cst_tlog_frontier;

/* out = H(00 || block_hash): the leaf hash of a block (R-TLOG-1). */
void cst_tlog_leaf(const uint8_t block_hash[CST_HASH_LEN],
    uint8_t out[CST_HASH_LEN]);

/* Makes f the empty tree (size 0). */
void cst_tlog_frontier_init(cst_tlog_frontier *f);

/*
 * Appends leaf hash `leaf` (borrowed) as leaf f->size.  If done is not
 * NULL, done(arg, level, index, hash) is called for every node the append
 * completes, level 0 (the leaf itself) first and upwards: a node store
 * writes them.  Returns 0 or CST_ETOOBIG (f->size is 2^64 - 1).
 */
int cst_tlog_frontier_append(cst_tlog_frontier *f,
    const uint8_t leaf[CST_HASH_LEN],
    void (*done)(void *arg, unsigned level, uint64_t index,
    const uint8_t hash[CST_HASH_LEN]), void *arg);

/* out = the root of the tree of f->size leaves (H("") for size 0). */
void cst_tlog_frontier_root(const cst_tlog_frontier *f,
    uint8_t out[CST_HASH_LEN]);

/*
 * The node source of proof generation: writes the node at (level, index)
 * to out.  It is only asked for nodes of perfect subtrees that lie wholly
 * inside the tree the proof is for.  Returns 0 or a negative error code,
 * which the proof function returns as it is.
 */
typedef int (*cst_tlog_node_fn)(void *arg, unsigned level, uint64_t index,
    uint8_t out[CST_HASH_LEN]);

/*
 * Writes the inclusion proof (RFC 9162 2.1.3.1, the audit path PATH) of
 * leaf `index` in the tree of `size` leaves into proof (room for
 * CST_TLOG_MAX_PROOF hashes) and its length into *proof_len.  Returns 0,
 * CST_EINVAL (index >= size) or the error of node_fn.
 */
int cst_tlog_inclusion_proof(uint64_t index, uint64_t size,
    cst_tlog_node_fn node_fn, void *arg, uint8_t (*proof)[CST_HASH_LEN],
    size_t *proof_len);

/*
 * Writes the consistency proof (RFC 9162 2.1.4.1, PROOF(m, D[n])) from
 * size m to size n into proof (room for CST_TLOG_MAX_PROOF hashes) and
 * its length into *proof_len; it is empty when m == n or m == 0.  Returns
 * 0, CST_EINVAL (m > n) or the error of node_fn.
 */
int cst_tlog_consistency_proof(uint64_t m, uint64_t n,
    cst_tlog_node_fn node_fn, void *arg, uint8_t (*proof)[CST_HASH_LEN],
    size_t *proof_len);

/*
 * The root of the tree of `size` leaves through node_fn: what a proof
 * server answers for a size it no longer has a frontier of.  Returns 0 or
 * the error of node_fn.
 */
int cst_tlog_root_at(uint64_t size, cst_tlog_node_fn node_fn, void *arg,
    uint8_t out[CST_HASH_LEN]);

/*
 * Checks (RFC 9162 2.1.3.2) that leaf hash `leaf` is leaf `index` of the
 * tree of `size` leaves whose root is `root`, by proof[0..proof_len)
 * (borrowed, untrusted).  Returns 0 or CST_EHASH (also for index >= size
 * or a proof of the wrong length).
 */
int cst_tlog_verify_inclusion(const uint8_t leaf[CST_HASH_LEN],
    uint64_t index, uint64_t size, const uint8_t (*proof)[CST_HASH_LEN],
    size_t proof_len, const uint8_t root[CST_HASH_LEN])
    __attribute__((warn_unused_result));

/*
 * Checks (RFC 9162 2.1.4.2) that the tree of size m with root root_m is a
 * prefix of the tree of size n with root root_n, by proof[0..proof_len)
 * (borrowed, untrusted).  m == n needs an empty proof and equal roots;
 * m == 0 needs an empty proof.  Returns 0 or CST_EHASH (also for m > n or
 * a proof of the wrong length).
 */
int cst_tlog_verify_consistency(uint64_t m, uint64_t n,
    const uint8_t (*proof)[CST_HASH_LEN], size_t proof_len,
    const uint8_t root_m[CST_HASH_LEN], const uint8_t root_n[CST_HASH_LEN])
    __attribute__((warn_unused_result));

#endif /* CUSTODY_TLOG_H */
