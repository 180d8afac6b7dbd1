/*
 * The chain tree's node store (SPEC section 13.4): the nodes of
 * perfect subtrees of the chain tree, kept in data_dir/tree/ so that
 * inclusion and consistency proofs cost O(log n) reads.  Derived data:
 * rebuilt from the segments when missing or short, never evidence, never
 * read by a verifier.
 *
 * Files: tree/synced (the size whose nodes are durable), tree/level-NN
 * (NN = 00..63, two decimal digits), each an array
 * of 32-byte hashes: entry i of level-L is the node (L, i), the root of
 * leaves [i * 2^L, (i + 1) * 2^L).  level-00 holds the leaf hashes
 * H(00 || block_hash).  Files only grow (append); at open, nodes past
 * the synced size or past the chain are cut off and recomputed from the
 * segments.  The nodes of a size are written when its block is written,
 * before the block is durable: a proof server should serve only sizes
 * a note checkpoint names.
 *
 * Threads and locking: one writer thread calls treestore_append; any
 * number of other threads may call treestore_size, treestore_root,
 * treestore_inclusion and treestore_consistency at the same time.  A
 * mutex guards the published size and the frontier; node reads use
 * pread() on descriptors that stay open until treestore_close, and only
 * nodes below the published size are read, which append has written
 * before it publishes the new size.  treestore_close must not race with
 * any call.
 */
#ifndef CUSTODY_COLLECTOR_TREESTORE_H
#define CUSTODY_COLLECTOR_TREESTORE_H

#include <stddef.h>
#include <stdint.h>

#include "custody/format.h"
#include "custody/tlog.h"

#define TREESTORE_ERR_LEN 256

struct treestore;

/*
 * Opens (creating it if needed) data_dir/tree/ for the chain whose first
 * `blocks` blocks are in data_dir/segments/, and whose block blocks-1 has
 * block hash head (ignored when blocks is 0).  Nodes past blocks are cut
 * off; missing ones are computed from the segments.  If the stored leaf
 * blocks-1 is not H(00 || head), the store is rebuilt from scratch.
 * *out is returned to free with treestore_close.  Returns 0, CST_EIO,
 * CST_ECORRUPT (the segments do not hold blocks 0..blocks-1), or
 * CST_ENOMEM, with a message in err.
 */
int treestore_open(const char *data_dir, uint64_t blocks,
    const uint8_t head[CST_HASH_LEN], struct treestore **out,
    char err[TREESTORE_ERR_LEN]);

/*
 * Appends the block whose hash is block_hash (borrowed) as leaf
 * treestore_size(): writes the nodes it completes, then publishes the new
 * size.  Writer thread only.  Returns 0 or CST_EIO (the store is then
 * broken: later appends fail too, proofs of the published sizes still
 * work).
 */
int treestore_append(struct treestore *ts,
    const uint8_t block_hash[CST_HASH_LEN]);

/*
 * Makes the nodes written so far durable (fdatasync of the level files
 * written since the last call), then records their count in tree/synced,
 * below which the next open trusts them.  Writer thread only; the writer
 * calls it at most once a minute (a crash then costs recomputing the
 * nodes of the blocks since), and treestore_close calls it.
 * Returns 0 or CST_EIO (or the errno's code).
 */
int treestore_sync(struct treestore *ts);

/* The published tree size.  Any thread. */
uint64_t treestore_size(struct treestore *ts);

/*
 * The root of the tree of size leaves, size <= treestore_size().  Any
 * thread.  Returns 0, CST_EINVAL (size too large) or CST_EIO.
 */
int treestore_root(struct treestore *ts, uint64_t size,
    uint8_t out[CST_HASH_LEN]);

/*
 * The inclusion proof of leaf index in the tree of size leaves (size <=
 * treestore_size()) into proof (room for CST_TLOG_MAX_PROOF hashes),
 * length in *proof_len.  Any thread.  Returns 0, CST_EINVAL or CST_EIO.
 */
int treestore_inclusion(struct treestore *ts, uint64_t index, uint64_t size,
    uint8_t (*proof)[CST_HASH_LEN], size_t *proof_len);

/*
 * The consistency proof from size m to size n (m <= n <=
 * treestore_size()) into proof (room for CST_TLOG_MAX_PROOF hashes),
 * length in *proof_len.  Any thread.  Returns 0, CST_EINVAL or CST_EIO.
 */
int treestore_consistency(struct treestore *ts, uint64_t m, uint64_t n,
    uint8_t (*proof)[CST_HASH_LEN], size_t *proof_len);

/* Syncs (best effort), closes the files and frees ts; NULL is a no-op. */
void treestore_close(struct treestore *ts);

#endif /* CUSTODY_COLLECTOR_TREESTORE_H */
