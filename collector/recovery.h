/*
 * Crash recovery at start (SPEC section 9): find where the chain stands,
 * move a torn tail of the newest segment aside into quarantine/ (never
 * deleting it), and say what the first records of this run must report.
 */
#ifndef CUSTODY_COLLECTOR_RECOVERY_H
#define CUSTODY_COLLECTOR_RECOVERY_H

#include <stdint.h>

#include "custody/block.h"
#include "custody/keys.h"

#define RECOVERY_ERR_LEN 256

struct recovery {
	/* Where the chain continues; st.segment_no is the segment to write. */
	cst_chain_state st;
	int fresh;            /* the store held no segment */
	int append;           /* append to st.segment_no after append_len bytes */
	uint64_t append_len;
	int64_t seg_created_ns; /* created_ns of the segment appended to */

	/* The previous run ended uncleanly: write a recovery record (R-REC-6). */
	int unclean;
	uint64_t segment_no;  /* the segment cut (or found unsealed) */
	uint64_t valid_len;   /* bytes kept */
	uint64_t cut_len;     /* bytes moved to quarantine/ (0: none) */
	char quarantine[96];  /* file name inside quarantine/, "" if none */
	char cut_sha256[65];  /* hex SHA-256 of the bytes cut */
	int64_t last_block_no; /* last valid block, -1 if none */
};

/*
 * Examines the store at data_dir (borrowed) whose blocks key (borrowed)
 * may sign, makes the cut R-REC-5 asks for (quarantine first, durably,
 * then truncate), and fills out.  Checks that key can continue the chain:
 * its epoch equals the chain's, or is one more with a certificate valid
 * from the next block (a rotation saved before its first block).
 * Returns 0; CST_EFOREIGN (another chain's store), CST_ECORRUPT (damage a
 * collector must not repair alone), CST_EKEY, CST_EIO or CST_ENOMEM, with
 * a message in err.
 */
int recovery_run(const char *data_dir, const cst_epoch_key *key,
    int64_t now_ns, struct recovery *out, char err[RECOVERY_ERR_LEN]);

/*
 * Finds the highest segment number in dir (borrowed, a segments/
 * directory).  Returns 0 and sets *n, CST_ENOENT when there is none, or
 * CST_EIO.
 */
int recovery_newest_segment(const char *dir, uint64_t *n);

#endif /* CUSTODY_COLLECTOR_RECOVERY_H */
