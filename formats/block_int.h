/*
 * What formats/block_seal.c and formats/block_open.c share: the message a
 * block's signature covers and the leaf hashing both sides do while the
 * records are still in cache.  Private to the format library.
 */
#ifndef CUSTODY_BLOCK_INT_H
#define CUSTODY_BLOCK_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "custody/format.h"
#include "custody/merkle.h"

/*
 * Leaves are hashed this many records at a time: enough for
 * cst_merkle_leaves to fill its SIMD lanes (four or eight at once), few
 * enough that the sealer hashes records while their bytes are still in
 * cache and the offsets fit on the stack.
 */
#define LEAF_BATCH 64

/* The message signed for a block: D_BLOCKSIG || block_hash. */
static inline void
sig_message(const uint8_t hash[CST_HASH_LEN],
    uint8_t m[sizeof(CST_D_BLOCKSIG) + CST_HASH_LEN])
{

	memcpy(m, CST_D_BLOCKSIG, sizeof(CST_D_BLOCKSIG));
	memcpy(m + sizeof(CST_D_BLOCKSIG), hash, CST_HASH_LEN);
}

/*
 * leaves[i] = H(00 || raw[offs[i]..offs[i + 1])) for i in 0..n (SPEC
 * section 5); offs has n + 1 entries.
 *
 * static, not inline: the compiler then keeps it out of line and folds
 * open_records into cst_block_open_many instead, the code the opener was
 * measured with.  Every file that includes this header calls it.
 */
static void
hash_leaves(const uint8_t *raw, const size_t *offs, size_t n,
    uint8_t (*leaves)[CST_HASH_LEN])
{
	const uint8_t *data[LEAF_BATCH];
	size_t len[LEAF_BATCH];
	size_t i, k;

	for (i = 0; i < n; i += k) {
		for (k = 0; k < LEAF_BATCH && i + k < n; k++) {
			data[k] = raw + offs[i + k];
			len[k] = offs[i + k + 1] - offs[i + k];
		}
		cst_merkle_leaves(data, len, k, leaves + i);
	}
}

#endif /* CUSTODY_BLOCK_INT_H */
