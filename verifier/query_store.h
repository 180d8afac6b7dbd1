/*
 * The read side's view of a store for custody-query: every segment
 * mapped, every block frame located, and the header chain checked without
 * decompressing anything (SPEC sections 3, 4, 6): segment headers, block
 * numbers, sequence numbers, hash links, key certificates from the root
 * down, and each block's signature with its epoch's key.
 *
 * A block's payload is checked later, by whoever opens it
 * (cst_block_open): that is what lets a query skip blocks it does not
 * need while still showing only verified data.  Whole-store verification
 * with a report is custody-verify's job; this module says enough for a
 * query to refuse what is not proven, and where.
 */
#ifndef CUSTODY_QUERY_STORE_H
#define CUSTODY_QUERY_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "custody/checkpoint.h"
#include "custody/format.h"
#include "custody/keys.h"
#include "custody/segment.h"

struct query_seg {
	char *path;           /* owned */
	uint64_t number;      /* from the file name */
	cst_map map;          /* len 0 once released */
	uint64_t scanned;     /* bytes of header and whole frames checked */
	int sealed;           /* ends with a seal block */
	int hdr_ok;           /* hdr decoded (R-SEG-1) */
	cst_seg_hdr hdr;
	int have_first;       /* its first block has been linked */
};

struct query_block {
	cst_frame f;          /* borrows from its segment's map */
	uint32_t seg;         /* index into segs */
	uint64_t off;         /* offset of the frame in its file */
	int rc;               /* 0: signature and key proven; else why not */
	const char *rule;     /* the rule rc breaks */
	uint32_t damaged;     /* regions that are not frames just before it */
};

/*
 * Called for each failure, in chain order: file, byte offset, block
 * number (-1 when none), the rule broken, an error code and a short
 * reason.  Every pointer is valid during the call only.
 */
typedef void query_store_report_fn(void *arg, const char *file, uint64_t off,
    int64_t block_no, const char *rule, int code, const char *what);

struct query_store {
	char *dir;
	cst_root_pub root;
	struct query_seg *segs;
	size_t nsegs;
	struct query_block *blocks;
	size_t nblocks;
	size_t cap;
	cst_cert *certs;      /* certs[i] certifies epoch i+1, proven */
	uint32_t nepochs;
	cst_checkpoint ckp;   /* latest.ckpt when it verified */
	int have_ckp;
	/* The chain after the last block seen (for --follow). */
	int have_prev;
	uint64_t next_block_no;
	uint64_t next_seq;
	uint8_t prev_hash[CST_HASH_LEN];
	uint32_t epoch;
	int prev_failed;
	uint64_t failures;
	int threads;
	query_store_report_fn *report;
	void *arg;
};

/*
 * Opens the store at dir (borrowed) for root (borrowed, copied), maps every
 * segment and checks the header chain with `threads` threads, calling
 * report (with arg) for every failure.  *out is returned to free with
 * query_store_free.  Returns 0 (failures, if any, are counted in
 * (*out)->failures and marked on the blocks) or CST_ENOENT, CST_EIO,
 * CST_ENOMEM when the store cannot be read at all.
 */
int query_store_open(const char *dir, const cst_root_pub *root, int threads,
    query_store_report_fn *report, void *arg, struct query_store **out);

/*
 * For --follow: forgets the blocks found so far (their frames become
 * invalid), then maps the newest segment and any newer ones again and
 * checks the frames appended since, continuing the chain.  New blocks are
 * s->blocks[0..s->nblocks).  Returns 0, CST_EIO or CST_ENOMEM.
 */
int query_store_poll(struct query_store *s);

/* Frees s and unmaps everything; NULL is a no-op. */
void query_store_free(struct query_store *s);

#endif /* CUSTODY_QUERY_STORE_H */
