/*
 * Checkpoints: signed statements of the chain's head, in a small text form
 * meant to be copied off the machine (SPEC section 8).
 */
#ifndef CUSTODY_CHECKPOINT_H
#define CUSTODY_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "custody/buf.h"
#include "custody/format.h"
#include "custody/keys.h"

typedef struct cst_checkpoint {
	uint8_t chain_id[CST_CHAIN_ID_LEN];
	uint64_t blocks;   /* head block_no + 1 */
	uint64_t records;  /* head first_seq + record_count */
	uint8_t head[CST_HASH_LEN];
	int64_t time_ns;
	uint32_t epoch;
	cst_cert *certs;   /* epoch entries, owned */
	uint8_t sig[CST_SIG_LEN];
	uint8_t *body;     /* the signed text (everything before "sig "), owned */
	size_t body_len;
} cst_checkpoint;

/*
 * Writes the checkpoint text for the given head, signed by key (borrowed),
 * to out (borrowed, appended).  Returns 0, CST_EINVAL (key has no epoch)
 * or CST_ENOMEM.
 */
int cst_checkpoint_encode(const cst_epoch_key *key, uint64_t blocks,
    uint64_t records, const uint8_t head[CST_HASH_LEN], int64_t time_ns,
    cst_buf *out);

/*
 * Parses checkpoint text[0..len) exactly (R-CKP-1 format) into out, which
 * must be released with cst_checkpoint_close (on failure out is left
 * zeroed).  Does not check signatures.  Returns 0, CST_EPARSE or
 * CST_ENOMEM.
 */
int cst_checkpoint_decode(const char *text, size_t len, cst_checkpoint *out);

/*
 * Checks cp's certificates from root down and its signature (R-CKP-1).
 * Returns 0, CST_EFOREIGN, CST_ESIG, CST_ECORRUPT or CST_ENOMEM.
 */
int cst_checkpoint_verify(const cst_checkpoint *cp, const cst_root_pub *root)
    __attribute__((warn_unused_result));

/* Frees what cst_checkpoint_decode allocated; safe on a zeroed struct. */
void cst_checkpoint_close(cst_checkpoint *cp);

#endif /* CUSTODY_CHECKPOINT_H */
