/*
 * The per-segment query index under DIR/index/: for each block, which
 * severities, facilities and record kinds occur in it, and a Bloom filter
 * of its hostnames, app-names and peer hosts.  It only ever lets a query
 * skip a block; it never adds or changes what is shown.
 *
 * It is derived and never evidence.  An entry names its block by
 * block_no and block hash, so an entry for a block that changed (stale,
 * or copied from another block) is ignored.  Because anyone who can write
 * the store could also write a well-formed index that hides blocks, each
 * file carries a keyed BLAKE2b MAC with a key private to the user who
 * queries ($CUSTODY_INDEX_KEY, else $XDG_STATE_HOME/custody/index.key,
 * else ~/.local/state/custody/index.key, made on first use, 0600): an
 * index the user's own tool did not write is rebuilt, not believed.
 *
 * File layout, little-endian:
 *
 *   OFFSET  SIZE  DESCRIPTION
 *   0       8     magic "CSTIDX2\0" (version 1 filed hosts and apps
 *                 as sent; version 2 in ASCII lower case)
 *   8       4     entry count
 *   12      4     0
 *   16      16    chain_id
 *   32      8     segment_no
 *   40      ...   entries: block_no (8), block_hash (32), severity mask
 *                 (4; bit 8: a record without severity), facility mask
 *                 (4; bit 24: without), kind mask (4), bloom_len (4, a
 *                 power of two, 64..65536), bloom (bloom_len)
 *   len-32  32    MAC: BLAKE2b-256 keyed with the user's key, of all
 *                 bytes before it
 */
#ifndef CUSTODY_INDEX_H
#define CUSTODY_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "custody/format.h"
#include "custody/record.h"

#include "query.h"

#define INDEX_KEY_LEN 32

struct index_entry {
	uint64_t block_no;
	uint8_t hash[CST_HASH_LEN];
	uint32_t sev_mask;
	uint32_t fac_mask;
	uint32_t kind_mask;
	uint32_t bloom_len;
	uint8_t *bloom;       /* owned by the entry or its index_seg */
};

struct index_seg {
	uint64_t segment_no;
	struct index_entry *e;  /* by increasing block_no */
	size_t n;
	uint8_t *file;          /* the loaded file; blooms point into it */
};

/*
 * Loads (or makes, 0600, in a 0700 directory) the user's index key into
 * key.  Returns 0, CST_EPERM (readable by others) or CST_EIO.
 */
int index_key_load(uint8_t key[INDEX_KEY_LEN]);

/*
 * Loads DIR/index/seg-N.idx of chain chain_id if its MAC holds under key.
 * *out is returned to free with index_seg_free.  Returns 0, CST_ENOENT,
 * CST_ECORRUPT (wrong MAC or malformed: to be rebuilt) or CST_ENOMEM.
 */
int index_seg_load(const char *dir, uint64_t segment_no,
    const uint8_t chain_id[CST_CHAIN_ID_LEN], const uint8_t key[INDEX_KEY_LEN],
    struct index_seg **out);

/* Frees x; NULL is a no-op. */
void index_seg_free(struct index_seg *x);

/* x's entry for block_no whose hash is hash, or NULL. */
const struct index_entry *index_seg_find(const struct index_seg *x,
    uint64_t block_no, const uint8_t hash[CST_HASH_LEN]);

/*
 * Writes entries e[0..n) as the index of segment segment_no, atomically.
 * Returns 0, CST_EIO or CST_ENOMEM.
 */
int index_seg_save(const char *dir, uint64_t segment_no,
    const uint8_t chain_id[CST_CHAIN_ID_LEN], const uint8_t key[INDEX_KEY_LEN],
    const struct index_entry *e, size_t n);

/* Can the block e summarises hold a match of f? */
int index_may_match(const struct index_entry *e, const struct query_filter *f);

/* Builds one block's entry from its records. */
struct index_builder {
	struct index_entry e;
	uint64_t *items;
	size_t n;
	size_t cap;
	int oom;
};

void index_builder_init(struct index_builder *b, uint64_t block_no,
    const uint8_t hash[CST_HASH_LEN]);
void index_builder_add(struct index_builder *b, const cst_record *r);

/*
 * Finishes b's entry into *out (its bloom returned to free with
 * index_entry_close) and releases b.  Returns 0 or CST_ENOMEM.
 */
int index_builder_finish(struct index_builder *b, struct index_entry *out);

/* Frees what an entry from index_builder_finish owns. */
void index_entry_close(struct index_entry *e);

#endif /* CUSTODY_INDEX_H */
