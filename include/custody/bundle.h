/*
 * Evidence bundles: selected records with the proofs a third party needs
 * to check them with only the root public key (SPEC section 11).
 *
 * The writer is given blocks and records in chain order by a caller that
 * has already verified them (custody-query); the verifier trusts nothing
 * but the root key and checks every rule R-BND-1..R-BND-17 before it
 * hands a single record to its caller.
 */
#ifndef CUSTODY_BUNDLE_H
#define CUSTODY_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include "custody/buf.h"
#include "custody/checkpoint.h"
#include "custody/format.h"
#include "custody/keys.h"
#include "custody/record.h"

#define CST_D_BUNDLE "custody/v1/bundle"

#define CST_BND_HDR_LEN 64
#define CST_BND_REC_HDR_LEN 16
#define CST_BND_TRAILER_LEN 32
#define CST_BND_MAX_NOTE 65536u        /* R-BND-1 */
#define CST_BND_MAX_CERTS 65536u       /* R-BND-1 */
#define CST_BND_MAX_BLOCKS (1u << 24)  /* R-BND-1 */
#define CST_BND_MAX_RECORDS (1u << 24) /* R-BND-1 */
#define CST_BND_MAX_CHECKPOINTS 64u    /* R-BND-1 */
#define CST_BND_MAX_CKP_LEN 65536u     /* R-BND-1 */
#define CST_BND_MAX_LOGCERT_LEN 4096u  /* R-BND-13 */
#define CST_BND_MAX_TNOTE_LEN 65536u   /* R-BND-13 */
#define CST_BND_PROOF_HDR_LEN 24       /* R-BND-13 */

typedef struct cst_bundle_writer cst_bundle_writer;

/*
 * Returns in *out a new writer for chain chain_id (borrowed), to free with
 * cst_bundle_writer_free.  note[0..note_len) (borrowed, copied) is the
 * unproven free text of SPEC 11.1.  Returns 0, CST_ETOOBIG (note longer
 * than CST_BND_MAX_NOTE) or CST_ENOMEM.
 */
int cst_bundle_writer_new(const uint8_t chain_id[CST_CHAIN_ID_LEN],
    int64_t created_ns, const char *note, size_t note_len,
    cst_bundle_writer **out);

/* Frees w; NULL is a no-op. */
void cst_bundle_writer_free(cst_bundle_writer *w);

/*
 * Gives w the certificates of epochs 1..n, certs[i] certifying epoch i+1
 * (borrowed, copied; replaces any given before).  At least the greatest
 * key_epoch of the blocks added must be covered by the time of
 * cst_bundle_writer_finish; only that many are written (R-BND-3).
 * Returns 0, CST_EINVAL (certs[i].epoch != i+1, n == 0 or too many) or
 * CST_ENOMEM.
 */
int cst_bundle_writer_certs(cst_bundle_writer *w, const cst_cert *certs,
    uint32_t n);

/*
 * Adds block f (borrowed; its header, certificate and signature are
 * copied, never its payload).  Block numbers must strictly increase
 * (R-BND-4).  Records added next belong to this block.  Returns 0,
 * CST_EINVAL (order, chain id), CST_ETOOBIG or CST_ENOMEM.
 */
int cst_bundle_writer_block(cst_bundle_writer *w, const cst_frame *f);

/*
 * Adds leaf leaf_index of the block added last: its encoded bytes
 * rec[0..len) and its audit path path[0..path_len) (both borrowed,
 * copied), as cst_merkle_path gives them.  Leaf indexes within a block
 * must strictly increase (R-BND-7).  Returns 0, CST_EINVAL (no block,
 * order, a seal block, leaf_index out of range, path too long),
 * CST_ETOOBIG or CST_ENOMEM.
 */
int cst_bundle_writer_record(cst_bundle_writer *w, uint32_t leaf_index,
    const uint8_t *rec, size_t len, const uint8_t (*path)[CST_HASH_LEN],
    size_t path_len);

/*
 * Adds checkpoint text[0..len) (borrowed, copied) as it was written, sig
 * line included.  Returns 0, CST_ETOOBIG (too long or too many) or
 * CST_ENOMEM.
 */
int cst_bundle_writer_checkpoint(cst_bundle_writer *w, const char *text,
    size_t len);

/*
 * Makes the bundle version 2 (SPEC 11.4): logcert[0..cert_len) is the
 * log.cert text, LF included, and tnote[0..tnote_len) the note checkpoint
 * of tree size `size` as stored, cosignatures included (both borrowed,
 * copied; the caller has verified them).  Returns 0, CST_EINVAL (given
 * twice), CST_ETOOBIG or CST_ENOMEM.
 */
int cst_bundle_writer_anchor(cst_bundle_writer *w, const char *logcert,
    size_t cert_len, const char *tnote, size_t tnote_len, uint64_t size);

/*
 * Adds the inclusion proof path[0..path_len) (borrowed, copied) of block
 * block_no in the chain tree of the anchor's size (R-BND-16).  block_no
 * must be that of a block added, below the size, and greater than that
 * of the proof added before.  Returns 0, CST_EINVAL (no anchor, order,
 * range, path length) or CST_ENOMEM.
 */
int cst_bundle_writer_proof(cst_bundle_writer *w, uint64_t block_no,
    const uint8_t (*path)[CST_HASH_LEN], size_t path_len);

/*
 * Appends the bundle to out (borrowed) and, when digest is not NULL,
 * writes its trailer there.  Returns 0, CST_EINVAL (no block, or a block
 * whose epoch has no certificate) or CST_ENOMEM.  w may be freed after.
 */
int cst_bundle_writer_finish(cst_bundle_writer *w, cst_buf *out,
    uint8_t digest[CST_HASH_LEN]);

/*
 * What the verifier hands back.  Every pointer borrows from the bundle
 * buffer given to cst_bundle_verify.
 */
typedef struct cst_bundle_info {
	uint8_t chain_id[CST_CHAIN_ID_LEN];
	uint8_t digest[CST_HASH_LEN];   /* the trailer (R-BND-1) */
	int64_t created_ns;              /* unproven */
	const uint8_t *note;             /* unproven; note_len bytes */
	uint32_t note_len;
	uint32_t cert_count;
	uint32_t block_count;
	uint32_t record_count;
	uint32_t checkpoint_count;
	uint32_t runs;                   /* runs of consecutive blocks (R-BND-6) */
	/*
	 * Runs whose head is that of a checkpoint the bundle carries
	 * (R-BND-10).  Such a checkpoint is signed by an epoch key, as the
	 * blocks are: it is the maker's claim, not an anchor (R-BND-12).
	 */
	uint32_t anchored_runs;
	/* Runs joined to a checkpoint given to the verifier (R-BND-12). */
	uint32_t given_runs;

	/* Version 2 (SPEC 11.4); all zero in a version 1 bundle. */
	uint16_t version;
	uint32_t proof_count;
	uint32_t note_blocks;            /* block entries the note anchors */
	uint64_t tree_size;              /* the note's N */
	uint8_t tree_root[CST_HASH_LEN]; /* the note's R */
	const uint8_t *tnote;            /* the note checkpoint, tnote_len bytes */
	uint32_t tnote_len;

	/* On failure: the first rule broken and where. */
	const char *rule;                /* "R-BND-5"; NULL on success */
	const char *part;                /* "header", "cert", "block", ... */
	int64_t entry;                   /* index within part, -1 if none */
	int64_t block_no;                /* the block it names, -1 if none */
	uint64_t offset;                 /* byte offset of that entry */
} cst_bundle_info;

/*
 * Callbacks, each optional (NULL), called only once the whole bundle has
 * verified: the note checkpoint (version 2), then every block, then every
 * record, then every checkpoint.  A callback returning nonzero stops the
 * walk and cst_bundle_verify returns that value.  Every pointer borrows from the
 * bundle buffer or from the verifier and is valid during the call only.
 */
/* The bits of a block's anchored, in cst_bundle_cb. */
enum {
	CST_BND_CARRIED = 1,  /* a checkpoint the bundle carries (R-BND-10) */
	CST_BND_GIVEN = 2,    /* a checkpoint given to the verifier (R-BND-12) */
	CST_BND_NOTE = 4,     /* the note checkpoint of the bundle (R-BND-17) */
};

typedef struct cst_bundle_cb {
	/* run: index of the block's run; anchored: CST_BND_* bits. */
	int (*block)(void *arg, uint32_t index, const cst_blk_hdr *h,
	    const uint8_t block_hash[CST_HASH_LEN], uint32_t run, int anchored);
	int (*record)(void *arg, uint32_t block_index, const cst_blk_hdr *h,
	    uint32_t leaf_index, const cst_record *rec, const uint8_t *bytes,
	    size_t len);
	/* anchor: index of the block entry that is its head, or -1. */
	int (*checkpoint)(void *arg, uint32_t index, const cst_checkpoint *cp,
	    int64_t anchor);
	/*
	 * Version 2 only, called first: the note checkpoint text[0..len),
	 * cosignature lines included, of tree size `size` and root `root`
	 * (R-BND-15).
	 */
	int (*note)(void *arg, const uint8_t *text, size_t len, uint64_t size,
	    const uint8_t root[CST_HASH_LEN]);
} cst_bundle_cb;

/*
 * Verifies the bundle buf[0..len) (borrowed, hostile) against root
 * (borrowed) by SPEC 11.3, then calls cb (borrowed, may be NULL) with arg.
 * info (borrowed, may be NULL) is filled on every return.  Returns 0;
 * CST_ECORRUPT, CST_ETRUNC, CST_EVERSION or CST_ETOOBIG (structure,
 * R-BND-1, R-BND-4, R-BND-7, R-BND-8), CST_EHASH (trailer, Merkle path),
 * CST_EFOREIGN (R-BND-2), CST_ESIG (R-BND-3, R-BND-5, R-BND-10),
 * CST_ECHAIN or CST_ESEQ (R-BND-6, R-BND-10), CST_EPARSE, CST_EFOREIGN,
 * CST_ENOENT or CST_ESIG (R-BND-14, R-BND-15), CST_EHASH (R-BND-16, part
 * "proof", entry the proof's index), CST_ENOMEM, or a callback's value.
 */
int cst_bundle_verify(const uint8_t *buf, size_t len,
    const cst_root_pub *root, const cst_bundle_cb *cb, void *arg,
    cst_bundle_info *info) __attribute__((warn_unused_result));

/*
 * As cst_bundle_verify, and also against the checkpoints given[0..ngiven)
 * (borrowed), which the caller holds from outside the bundle, e.g. copied
 * off the machine (R-BND-12): each must verify by R-CKP-1, and every
 * block entry at or below a given checkpoint's head must be in the run
 * that ends in that head, with its hash and record count.  A failure
 * there is CST_ESIG or CST_EFOREIGN (part "given", entry k) or CST_ECHAIN
 * or CST_ESEQ (part "block").
 */
int cst_bundle_verify_given(const uint8_t *buf, size_t len,
    const cst_root_pub *root, const cst_checkpoint *given, size_t ngiven,
    const cst_bundle_cb *cb, void *arg, cst_bundle_info *info)
    __attribute__((warn_unused_result));

/*
 * The length of the RFC 6962 audit path of leaf m in a tree of n leaves
 * (m < n), as R-BND-9 requires it.
 */
size_t cst_bundle_path_len(size_t m, size_t n);

#endif /* CUSTODY_BUNDLE_H */
