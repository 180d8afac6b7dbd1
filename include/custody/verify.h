/*
 * Chain verification: everything SPEC sections 3-9 promise about a store,
 * checked with only the root public key (formats/SPEC.md section 7).
 *
 * A verifier is given the root key and the chain's segment files in any
 * order.  It orders them by the segment_no inside them (R-SEG-2), walks
 * every frame of every segment and checks R-SEG-*, R-BLK-*, R-REC-* and
 * R-KEY-*; a checkpoint given afterwards is checked against what the walk
 * found (R-CKP-*).  It never stops at the first failure: after damage it
 * resynchronises on the next plausible frame and re-anchors the chain on
 * the next authentic block, so that every failure it can locate is
 * reported, each once, with its file, byte offset, block number and
 * sequence range.
 *
 * Nothing here prints: every failure, warning and note is handed to the
 * caller's callback as a cst_finding, in the order of the chain (segment,
 * then offset), whatever the number of threads.  Runs of the same failure
 * on consecutive blocks of one file (e.g. every block of an epoch whose
 * certificate is missing) are coalesced into one finding with a block and
 * sequence range.
 *
 * Lifecycle: cst_verifier_new -> cst_verifier_run (once) ->
 * cst_verifier_check_checkpoint* (any number) -> accessors ->
 * cst_verifier_free.  A verifier is used by one thread; cst_verifier_run
 * may start worker threads of its own and joins them before it returns.
 */
#ifndef CUSTODY_VERIFY_H
#define CUSTODY_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "custody/checkpoint.h"
#include "custody/format.h"
#include "custody/keys.h"
#include "custody/record.h"

/* A finding or summary field that does not apply or is not known. */
#define CST_NONE UINT64_MAX

enum cst_severity {
	/* An integrity failure: the store is not intact. */
	CST_SEV_FAILURE = 0,
	/* Something could not be checked (an input unreadable): not proven. */
	CST_SEV_ERROR = 1,
	/* Allowed by the SPEC but worth an investigator's attention. */
	CST_SEV_WARNING = 2,
	/* Information: e.g. the tail a live collector is writing. */
	CST_SEV_NOTE = 3,
};

/*
 * One thing the verifier found.  Every pointer borrows from the verifier
 * and is valid only during the callback: copy what you keep.
 */
typedef struct cst_finding {
	int severity;          /* enum cst_severity */
	int code;              /* CST_E* naming the kind of failure */
	const char *rule;      /* SPEC rule id, "R-BLK-3"; never NULL */
	const char *file;      /* the input file, or NULL (a missing segment) */
	uint64_t segment_no;   /* CST_NONE when unknown */
	uint64_t offset;       /* byte offset in file, CST_NONE */
	uint64_t block_no;     /* first block concerned, CST_NONE */
	uint64_t block_last;   /* last block concerned (== block_no for one) */
	uint64_t seq_first;    /* sequence range concerned, CST_NONE */
	uint64_t seq_last;
	const char *detail;    /* one plain sentence, no trailing newline */
} cst_finding;

/* Called for each finding, in chain order, on the thread of the call. */
typedef void (*cst_finding_cb)(const cst_finding *f, void *ctx);

/* Called now and then with bytes walked so far out of total. */
typedef void (*cst_progress_cb)(uint64_t done, uint64_t total, void *ctx);

typedef struct cst_verify_opts {
	/*
	 * The store may be being written: a newest segment ending in a
	 * partial frame is noted, not warned about (R-SEG-4), and a
	 * checkpoint read after the run that is ahead of what was read is
	 * an error (not checked), not a failure: growth since the read
	 * cannot be told from truncation.  One read before the run
	 * (CST_CKP_READ_FIRST) is a failure all the same (R-CKP-5).
	 */
	int live;
	/*
	 * Threads that verify blocks (signature, decompression, hashes,
	 * records) beside the in-order chain checks on the calling thread;
	 * 0 does everything on the calling thread.
	 */
	unsigned threads;
	/*
	 * The store's quarantine/ directory (borrowed), for R-REC-4; NULL
	 * when there is none to check.
	 */
	const char *quarantine_dir;
	/* Compute SHA-256 and BLAKE2b-256 of every segment file. */
	int digests;
	cst_progress_cb progress;
	void *progress_ctx;
} cst_verify_opts;

/* SHA-256 and BLAKE2b-256 (unkeyed, RFC 7693) of a whole file. */
typedef struct cst_digests {
	uint8_t sha256[32];
	uint8_t blake2b[32];
} cst_digests;

/* The status of one segment in the table of a report. */
enum cst_seg_status {
	CST_SEG_VALID = 0,     /* every block verifies; sealed */
	CST_SEG_UNSEALED,      /* valid, the newest, not (yet) sealed */
	CST_SEG_INVALID,       /* at least one failure located in it */
	CST_SEG_MISSING,       /* no file holds this segment number */
	CST_SEG_GAP,           /* valid inside, but blocks before it are lost */
	CST_SEG_FOREIGN,       /* a file of another chain */
	CST_SEG_DUPLICATE,     /* a second file claiming a number */
	CST_SEG_UNREADABLE,    /* could not be read, or not a segment at all */
};

/* What a recovery record's quarantine file check found (R-REC-4). */
enum cst_quarantine_state {
	CST_QUAR_NONE = 0,     /* nothing was cut (cut_len 0) */
	CST_QUAR_OK,           /* file present, length and SHA-256 are the
	                          record's: nothing more is shown */
	CST_QUAR_MISMATCH,     /* file present and differs: a failure */
	CST_QUAR_ABSENT,       /* file not present: not checked */
	CST_QUAR_BADNAME,      /* the record names no plain file: a failure */
};

typedef struct cst_seg_info {
	const char *path;      /* NULL for a missing segment */
	uint64_t segment_no;   /* CST_NONE when it cannot be told */
	uint64_t segment_last; /* == segment_no but for a missing range */
	uint64_t size;         /* bytes verified (the mapped length) */
	int status;            /* enum cst_seg_status */
	int sealed;            /* ends with an authentic seal block */
	uint64_t blocks;       /* authentic blocks in the chain */
	uint64_t records;      /* their records */
	uint64_t first_block;  /* CST_NONE when blocks == 0 */
	uint64_t last_block;
	uint64_t first_seq;    /* CST_NONE when records == 0 */
	uint64_t last_seq;
	uint64_t failures;     /* failures located in this file */
	uint64_t tail_bytes;   /* bytes of a partial frame at the end */
	int quarantine;        /* enum cst_quarantine_state of a recovery here */
	int has_digests;
	cst_digests digests;
} cst_seg_info;

typedef struct cst_epoch_info {
	uint32_t epoch;
	uint8_t pk[CST_PK_LEN];
	char fpr[2 * CST_FPR_LEN + 1];
	uint64_t valid_from;   /* block_no of its first block */
	int64_t created_ns;
	const char *file;      /* where its certificate was found */
	uint64_t offset;
	uint64_t blocks;       /* authentic blocks it signed */
	int64_t first_ns;      /* least and greatest sealed_ns of them */
	int64_t last_ns;
} cst_epoch_info;

/*
 * An epoch whose blocks were sealed over a longer span than this is
 * warned about (R-KEY-4): its key, stolen while in use, could re-sign all
 * of them.  The collector's default rotation interval plus a margin for
 * the block that waits on it.
 */
#define CST_EPOCH_SPAN_WARN_NS (INT64_C(20) * 60 * 1000000000)

/* A recovery record (kind 3) and what was checked of it (R-REC-4). */
typedef struct cst_recovery_info {
	uint64_t seq;
	int64_t recv_ns;
	uint64_t segment_no;
	uint64_t valid_len;
	uint64_t cut_len;
	int64_t last_block_no;
	const char *quarantine; /* file name, "" when none */
	const char *cut_sha256; /* hex as recorded, "" when none */
	int state;              /* enum cst_quarantine_state */
} cst_recovery_info;

/* A loss record (kind 5). */
typedef struct cst_loss_info {
	uint64_t seq;
	int64_t recv_ns;
	const char *listener;
	uint64_t udp_dropped;
	uint64_t kernel_dropped;
	uint64_t oversize;
} cst_loss_info;

/* A range of the chain that is not proven: lost, damaged or unreadable. */
typedef struct cst_unproven {
	uint64_t block_first;  /* CST_NONE when not known */
	uint64_t block_last;
	uint64_t seq_first;    /* CST_NONE when not known */
	uint64_t seq_last;
	const char *why;
} cst_unproven;

/* A checkpoint given to cst_verifier_check_checkpoint* and its outcome. */
typedef struct cst_ckp_info {
	const char *path;
	int ok;                /* R-CKP-1 and R-CKP-2 hold */
	uint64_t blocks;
	uint64_t records;
	uint8_t head[CST_HASH_LEN];
	int64_t time_ns;
	uint32_t epoch;
	int from_store;        /* found in the store only, not given (R-CKP-4) */
	const char *why;       /* the failure, "" when ok */
} cst_ckp_info;

/* A note checkpoint (SPEC 13.3) given to cst_verifier_check_note_text. */
typedef struct cst_note_info {
	const char *path;
	int ok;                /* R-NOTE-2..6 hold */
	uint64_t size;         /* blocks, 0 when the note did not parse */
	uint8_t root[CST_HASH_LEN];
	int from_store;        /* found in the store only (R-NOTE-7) */
	const char *why;       /* the failure, "" when ok */
} cst_note_info;

typedef struct cst_verify_summary {
	uint8_t chain_id[CST_CHAIN_ID_LEN];
	uint64_t failures;     /* findings of each severity */
	uint64_t errors;
	uint64_t warnings;
	uint64_t notes;
	uint64_t bytes;        /* bytes of segment files walked */
	uint64_t blocks;       /* authentic blocks in the chain */
	uint64_t data_blocks;
	uint64_t seal_blocks;
	uint64_t blocks_bad;   /* frames or regions that did not verify */
	uint64_t records;      /* records of authentic blocks */
	uint64_t records_verified; /* records whose payload verified too */
	uint64_t kinds[CST_REC_KIND_MAX + 1]; /* verified records by kind */
	uint64_t first_seq;    /* CST_NONE when no record */
	uint64_t last_seq;
	int64_t first_ns;      /* least min_time_ns of a data block */
	int64_t last_ns;       /* greatest max_time_ns */
	int has_head;
	uint64_t head_block_no;          /* the newest authentic block */
	uint8_t head_hash[CST_HASH_LEN];
	uint64_t head_next_seq;          /* its first_seq + record_count */
	int tail_unsealed;     /* the newest segment has no seal */
	uint64_t tail_partial; /* bytes of a partial frame at the very end */
	uint64_t recoveries;   /* recovery records (kind 3) */
	uint64_t losses;       /* loss records (kind 5) */
	uint64_t udp_dropped;  /* totals over the loss records */
	uint64_t kernel_dropped;
	uint64_t oversize;
	/* The greatest blocks/records count a checkpoint proved (R-CKP-3). */
	int has_anchor;
	uint64_t anchor_blocks;
	uint64_t anchor_records;
	/*
	 * The same, counting only checkpoints given from outside the store
	 * (R-CKP-4): one found only in the store proves nothing once it is
	 * deleted with the blocks it covers.
	 */
	int has_given_anchor;
	uint64_t given_anchor_blocks;
	uint64_t given_anchor_records;
	/* Log certificates that verified (R-TLOG-5). */
	uint64_t log_certs;
	/*
	 * The newest note checkpoint that holds (SPEC 13), any and given
	 * from outside the store (R-NOTE-7): its size, in blocks.
	 */
	int has_note;
	uint64_t note_size;
	int has_given_note;
	uint64_t given_note_size;
} cst_verify_summary;

typedef struct cst_verifier cst_verifier;

/*
 * Returns a new verifier for the chain of root (borrowed, copied), with
 * opts (borrowed, copied; NULL for defaults: not live, no threads, no
 * quarantine check, no digests; opts->quarantine_dir is copied).  cb is
 * called with each finding and ctx (borrowed).  Returns NULL when out of
 * memory.
 */
cst_verifier *cst_verifier_new(const cst_root_pub *root,
    const cst_verify_opts *opts, cst_finding_cb cb, void *ctx);

/* Frees v; NULL is a no-op. */
void cst_verifier_free(cst_verifier *v);

/*
 * Verifies the segment files paths[0..n) (borrowed; copied), in any order:
 * each file is mapped read-only, placed by the segment_no inside it, and
 * every rule of SPEC sections 3-7 and 9 is checked, reporting findings
 * to the callback as it goes.  Call once.  Returns 0 when the walk
 * completed, whatever it found (see cst_verifier_summary: failures == 0
 * means intact); CST_EINVAL when called twice; CST_ENOMEM, or CST_EIO
 * when threads could not be started.  A file that cannot be read is a
 * finding of severity CST_SEV_ERROR, not a return code.
 */
int cst_verifier_run(cst_verifier *v, const char *const *paths, size_t n);

/*
 * Checks checkpoint cp (borrowed) against root and against the chain the
 * run found (R-CKP-1, R-CKP-2); path (borrowed, copied; may be NULL) names
 * it in findings.  Call after cst_verifier_run.  Failures are findings;
 * a checkpoint that holds raises the proven-complete anchor (R-CKP-3).
 * Returns 0 or CST_ENOMEM (CST_EINVAL before the run).
 */
int cst_verifier_check_checkpoint(cst_verifier *v, const cst_checkpoint *cp,
    const char *path);

/*
 * Reads, decodes and checks the checkpoint file path (borrowed), as
 * cst_verifier_check_checkpoint; a file that is not a checkpoint is an
 * R-CKP-1 failure, one that cannot be read a CST_SEV_ERROR finding.
 * When digests is not NULL, it receives the file's digests (on return 0
 * with the file read).  Returns 0 or CST_ENOMEM (CST_EINVAL before the
 * run).
 */
int cst_verifier_check_checkpoint_file(cst_verifier *v, const char *path,
    cst_digests *digests);

/* How a checkpoint reached cst_verifier_check_checkpoint_text. */
enum {
	/* Found in the store's checkpoints/, not given (R-CKP-4). */
	CST_CKP_FROM_STORE = 1,
	/*
	 * Read before the run listed and read the segments: with opts.live
	 * too, a checkpoint ahead of the store is then a failure, since the
	 * blocks it covers were written before it was (R-CKP-5).
	 */
	CST_CKP_READ_FIRST = 2,
};

/*
 * Decodes and checks the checkpoint text[0..len) (borrowed), as
 * cst_verifier_check_checkpoint_file; how is a set of CST_CKP_* flags.
 * Returns 0 or CST_ENOMEM (CST_EINVAL before the run).
 */
int cst_verifier_check_checkpoint_text(cst_verifier *v, const uint8_t *text,
    size_t len, const char *path, int how);

/*
 * Adds the log certificate text[0..len) (borrowed) after checking it
 * against the root (R-TLOG-5); path (borrowed, copied) names it.  A
 * certificate that is malformed or not the root's is a failure finding.
 * Give every certificate before the notes.  Returns 0 or CST_ENOMEM
 * (CST_EINVAL before the run).
 */
int cst_verifier_add_log_cert_text(cst_verifier *v, const uint8_t *text,
    size_t len, const char *path);

/*
 * Checks the note checkpoint text[0..len) (borrowed; path names it, may
 * be NULL): its syntax and signature by a log key a certificate given
 * before certifies (R-NOTE-2..5), and that the chain tree of the store's
 * first size blocks has its root (R-NOTE-6); how is a set of CST_CKP_*
 * flags, as for checkpoints.  Failures are findings.  Returns 0 or
 * CST_ENOMEM (CST_EINVAL before the run).
 */
int cst_verifier_check_note_text(cst_verifier *v, const uint8_t *text,
    size_t len, const char *path, int how);

/* The note checkpoints checked, in the order given (borrowed). */
const cst_note_info *cst_verifier_notes(const cst_verifier *v, size_t *n);

/* The summary (borrowed from v; valid until cst_verifier_free). */
const cst_verify_summary *cst_verifier_summary(const cst_verifier *v);

/*
 * The segment table, in chain order with missing segments in place, then
 * the files that could not be placed (foreign, duplicate, unreadable).
 * Sets *n; the array is borrowed from v.
 */
const cst_seg_info *cst_verifier_segments(const cst_verifier *v, size_t *n);

/* The key epochs found, by epoch (borrowed from v). */
const cst_epoch_info *cst_verifier_epochs(const cst_verifier *v, size_t *n);

/*
 * The recovery records (borrowed), in chain order; at most
 * CST_VERIFY_LIST_MAX are kept (summary->recoveries counts them all).
 */
const cst_recovery_info *cst_verifier_recoveries(const cst_verifier *v,
    size_t *n);

/* The loss records, as cst_verifier_recoveries. */
const cst_loss_info *cst_verifier_losses(const cst_verifier *v, size_t *n);

/* The ranges not proven, in chain order, at most CST_VERIFY_LIST_MAX. */
const cst_unproven *cst_verifier_unproven(const cst_verifier *v, size_t *n);

/* The checkpoints checked, in the order given (borrowed). */
const cst_ckp_info *cst_verifier_checkpoints(const cst_verifier *v,
    size_t *n);

/* Lists above stop growing here; their counts go on. */
#define CST_VERIFY_LIST_MAX 10000

/*
 * Digests of p[0..len) (borrowed) into out.  Returns 0 or CST_ENOMEM.
 */
int cst_digests_compute(const uint8_t *p, size_t len, cst_digests *out)
    __attribute__((warn_unused_result));

/*
 * Reads the file path (as a store file: cst_file_open_read, so never a
 * FIFO, device or link) up to the size it had when opened and digests it
 * into out, setting *size.  Returns 0, CST_ENOENT, CST_ENOTREG, CST_EIO,
 * CST_ETRUNC (it shrank while read), CST_ETOOBIG (more than 64 MiB of
 * holes: not read, R-SEG-7) or CST_ENOMEM.
 */
int cst_digests_file(const char *path, cst_digests *out, uint64_t *size);

/*
 * The names of finding severities, segment statuses and quarantine
 * states, one list each, as the reports print them.  XX(NAME, value,
 * "name"); the values are those of the enums above, which formats/names.c
 * checks at compile time.
 */
#define CST_SEVERITY_MAP(XX)                                                  \
	XX(FAILURE, 0, "failure")                                             \
	XX(ERROR, 1, "error")                                                 \
	XX(WARNING, 2, "warning")                                             \
	XX(NOTE, 3, "note")

#define CST_SEG_STATUS_MAP(XX)                                                \
	XX(VALID, 0, "valid")                                                 \
	XX(UNSEALED, 1, "unsealed")                                           \
	XX(INVALID, 2, "invalid")                                             \
	XX(MISSING, 3, "missing")                                             \
	XX(GAP, 4, "gap")                                                     \
	XX(FOREIGN, 5, "foreign")                                             \
	XX(DUPLICATE, 6, "duplicate")                                         \
	XX(UNREADABLE, 7, "unreadable")

#define CST_QUARANTINE_MAP(XX)                                                \
	XX(NONE, 0, "none")                                                   \
	XX(OK, 1, "matches-record")                                           \
	XX(MISMATCH, 2, "mismatch")                                           \
	XX(ABSENT, 3, "absent")                                               \
	XX(BADNAME, 4, "bad-name")

/* The static name of each, or "-" for a value not in its list. */
const char *cst_severity_name(int severity);
const char *cst_seg_status_name(int status);
const char *cst_quarantine_name(int state);

#endif /* CUSTODY_VERIFY_H */
