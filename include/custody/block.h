/*
 * Sealing and opening blocks (SPEC section 4).
 *
 * Sealing is split in two so that both cores work: cst_sealer_build does
 * the heavy part (encode, Merkle tree, hash, compress) for a batch on any
 * thread, each thread with its own sealer; cst_block_finish then places
 * the draft in the chain (block number, previous hash, key certificate)
 * and signs it, which must happen in chain order on one thread.
 */
#ifndef CUSTODY_BLOCK_H
#define CUSTODY_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "custody/buf.h"
#include "custody/format.h"
#include "custody/keys.h"
#include "custody/record.h"

/* A block with everything but its chain position and signature. */
typedef struct cst_draft {
	uint16_t type;
	uint32_t record_count;
	uint64_t first_seq;
	int64_t min_time_ns;
	int64_t max_time_ns;
	uint32_t raw_len;
	cst_buf payload; /* the zstd frame */
	uint8_t payload_hash[CST_HASH_LEN];
	uint8_t records_hash[CST_HASH_LEN];
	uint8_t merkle_root[CST_HASH_LEN];
} cst_draft;

/* Where the chain stands: what the next block must say. */
typedef struct cst_chain_state {
	uint8_t chain_id[CST_CHAIN_ID_LEN];
	uint64_t segment_no;
	uint64_t next_block_no;
	uint64_t next_seq;
	uint8_t prev_hash[CST_HASH_LEN];
	uint32_t epoch; /* key epoch of the previous block (even when it is in
	                   an earlier segment); 0 only before block 0 */
} cst_chain_state;

typedef struct cst_sealer cst_sealer;

/*
 * Returns a new sealer (per-thread scratch: zstd context, buffers) for
 * zstd level `level`, to free with cst_sealer_free, or NULL.
 */
cst_sealer *cst_sealer_new(int level);

/* Frees s; NULL is a no-op. */
void cst_sealer_free(cst_sealer *s);

/*
 * Makes d (borrowed) an empty draft that owns nothing; allocates nothing.
 * Call it once on fresh memory before d is given to cst_sealer_build or
 * cst_draft_build_seal, which overwrite d and reuse its payload buffer
 * from one draft to the next.  Release with cst_draft_close.
 */
void cst_draft_init(cst_draft *d);

/*
 * Frees the payload buffer d (borrowed) owns and leaves d as
 * cst_draft_init does, ready for reuse; safe on a draft that was only
 * initialised or already closed.
 */
void cst_draft_close(cst_draft *d);

/*
 * Builds a data draft from recs[0..n) (borrowed; n >= 1; seq must run
 * first_seq, first_seq+1, ...).  out (borrowed, initialised by
 * cst_draft_init) is overwritten.  Returns 0, CST_EINVAL (bad record or
 * sequence), CST_ETOOBIG (R-BLK-2 limits), CST_ECOMPRESS or CST_ENOMEM.
 */
int cst_sealer_build(cst_sealer *s, const cst_record *recs, size_t n,
    cst_draft *out);

/*
 * Builds the draft of a seal block (R-BLK-9) before sequence next_seq into
 * out (borrowed, initialised by cst_draft_init, overwritten); pass the
 * same sealed_ns to cst_block_finish.  Returns 0 or CST_ENOMEM.
 */
int cst_draft_build_seal(cst_draft *out, uint64_t next_seq, int64_t sealed_ns);

/*
 * Places d in the chain after st, signs it with key (borrowed) and appends
 * the frame to frame (borrowed).  Carries key's newest certificate when
 * key->epoch differs from st->epoch (R-KEY-2).  On success advances st
 * and, when hash is not NULL, writes the block hash.  Returns 0,
 * CST_EINVAL (d->first_seq != st->next_seq, or an epoch change other
 * than +1 or with a certificate whose valid_from is not this block, or a
 * key of another chain, or a seal draft whose times are not sealed_ns) or
 * CST_ENOMEM.
 */
int cst_block_finish(const cst_draft *d, cst_chain_state *st,
    const cst_epoch_key *key, int64_t sealed_ns, cst_buf *frame,
    uint8_t hash[CST_HASH_LEN]);

/*
 * Fills h (overwritten) as the header of segment st->segment_no that
 * continues the chain st (borrowed) at its next block (R-SEG-3), made at
 * created_ns.
 */
void cst_chain_seg_hdr(const cst_chain_state *st, int64_t created_ns,
    cst_seg_hdr *h);

/* Checks f's signature with pk (R-BLK-3).  Returns 0 or CST_ESIG. */
int cst_frame_verify_sig(const cst_frame *f, const uint8_t pk[CST_PK_LEN])
    __attribute__((warn_unused_result));

typedef struct cst_opener cst_opener;

/* Returns a new opener (decompression scratch) or NULL. */
cst_opener *cst_opener_new(void);

/* Frees o; NULL is a no-op. */
void cst_opener_free(cst_opener *o);

/*
 * With skip nonzero, cst_block_open no longer checks records_hash.  For
 * readers that need the records authentic but not a full verification
 * (custody-query): the records must still fill the payload exactly
 * (R-BLK-5) and their leaves give the signed merkle_root, which already
 * commits to every byte records_hash covers; the signed payload_hash
 * still authenticates the compressed bytes.  custody-verify never skips
 * it: a verifier checks every rule (R-BLK-4).
 */
void cst_opener_skip_records_hash(cst_opener *o, int skip);

/*
 * Checks f's payload against its header (R-BLK-4, R-BLK-5, R-BLK-7
 * within the block, R-BLK-8, R-BLK-9, R-REC-1, R-REC-2) without checking
 * its signature or place in the chain.  On success the records stay
 * available from o until the next call: cst_opener_raw, cst_opener_record.
 * Returns 0, CST_EHASH, CST_ECORRUPT, CST_ESEQ (records out of sequence,
 * R-BLK-7), CST_ETOOBIG or CST_ENOMEM; on failure *rule (when not NULL)
 * names the rule broken ("R-BLK-4"; NULL for CST_ENOMEM).
 */
int cst_block_open(cst_opener *o, const cst_frame *f, const char **rule)
    __attribute__((warn_unused_result));

/* The most frames one cst_block_open_many call opens. */
#define CST_OPEN_MAX 8

/*
 * cst_block_open for n (1..CST_OPEN_MAX) frames at once, o[i] (distinct
 * openers) opening f[i], with cst_block_open's result in rc[i] and its
 * rule in rule[i] (NULL on success).  The same checks in the same order
 * as n calls of cst_block_open, but the payload and records hashes of the
 * n blocks are computed side by side in SIMD lanes: a verifier opening
 * every block should open them this way.  All arrays are borrowed.
 */
void cst_block_open_many(cst_opener *const *o, const cst_frame *const *f,
    size_t n, int *rc, const char **rule);

/* The opened uncompressed payload; valid until the next cst_block_open. */
const uint8_t *cst_opener_raw(const cst_opener *o, size_t *len);

/* Number of records of the opened block. */
size_t cst_opener_count(const cst_opener *o);

/*
 * Record i of the opened block: its decoded form in *rec (borrowing from
 * the opener) and, when not NULL, its exact encoded bytes.  Returns 0 or
 * CST_EINVAL (i out of range).
 */
int cst_opener_record(const cst_opener *o, size_t i, cst_record *rec,
    cst_bytes *encoded);

/*
 * The kind (CST_REC_*) of record i of the opened block, without decoding
 * it again, or CST_EINVAL (i out of range).
 */
int cst_opener_kind(const cst_opener *o, size_t i);

/* Leaf hashes of the opened block's records (count entries). */
const uint8_t (*cst_opener_leaves(const cst_opener *o))[CST_HASH_LEN];

#endif /* CUSTODY_BLOCK_H */
