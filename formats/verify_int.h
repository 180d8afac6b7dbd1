/*
 * The verifier's private header: the structs handed between its stages
 * and the functions each stage offers the others.  Only formats/verify*.c
 * include it.
 *
 *   verify.c         the public run: cst_verifier_new, _run, _free, results
 *   verify_place.c   placement: map every file, order the chain (R-SEG-2)
 *   verify_scan.c    the scanner: frames and resynchronisation (SPEC 7)
 *   verify_ring.c    the ring between scanner and consumer; worker threads
 *   verify_chain.c   the consumer: links, numbering, keys, seals
 *   verify_audit.c   collector audit records: recovery, loss, quarantine
 *   verify_find.c    findings: record, coalesce, emit in chain order
 *   verify_ckpt.c    checkpoints (R-CKP-*)
 *   verify_note.c    log certificates and note checkpoints (R-TLOG-*,
 *                    R-NOTE-*)
 *   verify_digest.c  file digests (OpenSSL SHA-256, BLAKE2b)
 *
 * See verify.c for how the stages fit together.
 */
#ifndef CUSTODY_VERIFY_INT_H
#define CUSTODY_VERIFY_INT_H

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "custody/block.h"
#include "custody/format.h"
#include "custody/keys.h"
#include "custody/logkey.h"
#include "custody/record.h"
#include "custody/segment.h"
#include "custody/tlog.h"
#include "custody/verify.h"

/* Log certificates a verifier keeps (distinct ones that verified). */
#define VRF_MAX_LOG_CERTS 8

/* Where a file stands after placement. */
enum place {
	PLACE_CHAIN = 0,
	PLACE_FOREIGN,
	PLACE_DUP,
	PLACE_UNREADABLE,
};

struct vfile {
	char *path;
	cst_map map;
	int mapped;
	uint8_t *copy;         /* map.p when the file was read, not mapped */
	int hdr_rc;            /* cst_seg_hdr_decode's result */
	cst_seg_hdr hdr;
	uint64_t segno;        /* where it is placed; CST_NONE */
	int place;             /* enum place */
	int newest;
	size_t info;           /* its row in v->segs */
	uint64_t missing_from; /* segments missing just before it; CST_NONE */
	uint64_t missing_to;
	size_t dup_of;         /* PLACE_DUP: the file placed instead */
};

/* A collector audit record (kinds 1..8) copied out of a worker. */
struct audit {
	uint8_t kind;
	uint64_t seq;
	int64_t recv_ns;
	uint8_t *detail;
	size_t detail_len;
};

/* How a finding may merge with the one before it. */
enum coalesce {
	COAL_NONE = 0,
	COAL_BLOCKS,           /* same text, next block number */
	COAL_FILE,             /* same text, same file */
};

/* A finding before it is formatted. */
struct fnd {
	int sev;
	int code;
	const char *rule;
	const struct vfile *file;
	const char *path;      /* when file is NULL */
	uint64_t segno;
	uint64_t off;
	uint64_t b0, b1;
	uint64_t s0, s1;
	int coal;
	int damage;            /* as an item: the chain loses its anchor */
	int io;                /* the damage is an I/O error, not tampering */
	int gap;               /* lost before its file: not the file's fault */
};

enum item_type {
	IT_FRAME = 0,
	IT_FINDING,
	IT_SEG_BEGIN,
	IT_SEG_END,
};

struct item {
	int type;
	size_t file;
	uint64_t off;
	/* IT_FRAME, from the scanner */
	cst_frame f;
	int cert_rc;           /* 1: no certificate; 0 verified; < 0 */
	cst_cert cert;
	int has_pk;
	uint8_t pk[CST_PK_LEN];
	/* IT_FRAME, from a worker */
	int sig_rc;
	int open_rc;
	const char *rule;
	uint64_t kinds[CST_REC_KIND_MAX + 1];
	struct audit *audits;
	size_t naudits;
	int work_rc;           /* CST_ENOMEM copying audit records */
	/* IT_FINDING */
	struct fnd fnd;
	char *detail;
	/* IT_SEG_END: an incomplete frame at the end (f.hdr when has_hdr) */
	uint64_t tail_off;
	uint64_t tail_len;
	int has_hdr;
	int done;
};

/* An authentic block of the chain, for checkpoints (R-CKP-2). */
struct blkent {
	uint64_t block_no;
	uint64_t next_seq;
	uint8_t hash[CST_HASH_LEN];
};

/* The consumer's view of the chain. */
struct chain {
	int anchored;          /* the previous frame was authentic */
	uint64_t next_block;
	uint64_t next_seq;
	uint8_t prev_hash[CST_HASH_LEN];
	uint32_t epoch;
	int epoch_known;
	uint64_t damaged;      /* damaged frames since the anchor */
	int damage_io;         /* all of that damage was I/O */
	/* the segment being consumed */
	uint64_t seg_items;
	int seg_sealed;
	int seg_gap;
	int seg_tail_failed;
	int seg_last_bad;      /* the segment's last item was damage */
};

struct pending {
	int active;
	cst_finding f;
	char *detail;
	int coal;
	uint64_t count;
};

struct cst_verifier {
	cst_root_pub root;
	cst_verify_opts opts;
	char *quarantine_dir;
	cst_finding_cb cb;
	void *ctx;
	int ran;
	int rc;                /* a resource failure during the run */

	struct vfile *files;
	size_t nfiles;
	size_t *order;         /* PLACE_CHAIN files by segno */
	size_t norder;

	cst_seg_info *segs;
	size_t nsegs;

	/* epochs[i] is epoch i + 1, certified from the root down */
	cst_epoch_info *epochs;
	size_t nepochs;

	struct blkent *blocks;
	size_t nblocks, capblocks;

	cst_recovery_info *recs;
	size_t nrecs;
	char **recs_strs;      /* their owned strings, two per record */
	cst_loss_info *losses;
	size_t nlosses;
	char **loss_strs;
	cst_unproven *unproven;
	size_t nunproven;
	cst_ckp_info *ckps;
	size_t nckps;
	char **ckp_strs;       /* two per checkpoint: path, why */
	cst_log_cert lcerts[VRF_MAX_LOG_CERTS];
	size_t nlcerts;
	cst_note_info *notes;
	size_t nnotes;
	char **note_strs;      /* two per note: path, why */
	/* The chain tree over blocks[0..tl_pos): resumed by each note. */
	cst_tlog_frontier tl;
	size_t tl_pos;

	cst_verify_summary sum;
	struct chain cs;
	struct pending pend;

	/* the ring between the scanner and the consumer */
	struct item *ring;
	size_t cap;
	uint64_t head, tail, next_job;
	pthread_mutex_t mtx;
	pthread_cond_t cv_work, cv_done;
	int quit;
	int sync_ok;           /* mtx and the condition variables exist */
	pthread_t *threads;
	size_t nthreads;
	cst_opener *openers[CST_OPEN_MAX]; /* the calling thread's, for
	                                      threads == 0 */

	uint64_t total_bytes;
	uint64_t done_bytes;
	uint64_t last_progress;
};

/* verify_find.c: findings, coalesced, in order. */

/* Delivers the finding held back for coalescing, if any. */
void cst_vrf_flush_pending(cst_verifier *v);

/* Hands finding f with text detail (taken) to the caller, in order. */
void cst_vrf_emit(cst_verifier *v, const struct fnd *in, char *detail);

/* verify_ring.c: the ring and its workers. */

/*
 * Makes the ring and starts the workers (none: the consumer opens frames
 * itself).  Returns 0, CST_ENOMEM or CST_EIO.
 */
int cst_vrf_start_threads(cst_verifier *v);

/*
 * Stops and joins the workers and frees the ring; safe after a failed
 * cst_vrf_start_threads.
 */
void cst_vrf_stop_threads(cst_verifier *v);

/* Takes the oldest item, waiting for its worker, and consumes it. */
void cst_vrf_consume_one(cst_verifier *v);

/* Returns a free item at the tail of the ring, consuming to make room. */
struct item *cst_vrf_item_new(cst_verifier *v, int type, size_t file,
    uint64_t off);

/*
 * Queues item it (from cst_vrf_item_new) and consumes the items done
 * before it.
 */
void cst_vrf_item_push(cst_verifier *v, struct item *it);

/* verify_scan.c: the scanner. */

/* Walks the chain's segments in order. */
void cst_vrf_walk(cst_verifier *v);

/* verify_place.c: placement (R-SEG-2). */

/*
 * Maps file fi and decides where it belongs: by its header and the
 * segment_no of its first block (signed, unlike the header) when they
 * agree; when they do not, by the one its name agrees with, else the
 * block; by either alone when the other is unusable; else by its name.
 */
void cst_vrf_place_file(cst_verifier *v, size_t fi);

/*
 * Orders the chain's files (R-SEG-2), picks one file per number, and
 * builds the segment table with missing numbers in place.
 */
int cst_vrf_place_all(cst_verifier *v);

/*
 * Replaces the mapping of file vf by a copy read whole: a collector that
 * restarts cuts a torn tail off its newest segment (R-REC-5), and touching
 * a mapped page past a new end of file would kill the process.  Returns 0
 * or a negative code; the mapping stays on failure.
 */
int cst_vrf_copy_file(struct vfile *vf);

/* Reports the files that are not part of the walk. */
void cst_vrf_report_unplaced(cst_verifier *v);

/*
 * R-SEG-7 for every mapped file: holes in it, and a truncation while it
 * was read (after every reader of the mappings, digests included, is
 * done).
 */
void cst_vrf_report_changed(cst_verifier *v);

/* verify_chain.c: the consumer, chain and block checks. */

/*
 * done bytes of the chain's files are consumed: tells opts.progress,
 * about every 1/256th.
 */
void cst_vrf_progress(cst_verifier *v, uint64_t done);

/* Checks the frame item it against the chain state (SPEC sections 4-6). */
void cst_vrf_consume_frame(cst_verifier *v, struct item *it);

/* Emits the scanner's finding item it; damage unanchors the chain. */
void cst_vrf_consume_finding(cst_verifier *v, struct item *it);

/* A segment begins: resets the per-segment state. */
void cst_vrf_consume_seg_begin(cst_verifier *v, struct item *it);

/* A segment ends: its tail, seal and status (R-SEG-3, R-SEG-4, R-SEG-5). */
void cst_vrf_consume_seg_end(cst_verifier *v, struct item *it);

/* Epochs whose blocks span more than CST_EPOCH_SPAN_WARN_NS (R-KEY-4). */
void cst_vrf_report_epochs(cst_verifier *v);

/* verify_audit.c: collector audit records. */

/*
 * Appends the owned strings a and b (taken) as the pair n of *arr.
 * Returns 0 or CST_ENOMEM (a and b are then still the caller's).
 */
int cst_vrf_keep_strs(char ***arr, size_t n, char *a, char *b);

/* The collector audit records of the authentic block item it. */
void cst_vrf_consume_audits(cst_verifier *v, const struct item *it);

/* Quarantine files no recovery record explains. */
void cst_vrf_report_quarantine(cst_verifier *v);

/* verify_digest.c: file digests. */

/*
 * The digest thread (arg: the verifier): SHA-256 and BLAKE2b of every
 * mapped input file, into its segment row.
 */
void *cst_vrf_digest_main(void *arg);

/*
 * Helpers every stage uses, many on hot paths: inline, as the build has
 * no LTO.
 */

static inline void
fnd_init(struct fnd *f, int sev, int code, const char *rule)
{

	memset(f, 0, sizeof(*f));
	f->sev = sev;
	f->code = code;
	f->rule = rule;
	f->segno = f->off = f->b0 = f->b1 = f->s0 = f->s1 = CST_NONE;
}

static inline void
fnd_file(struct fnd *f, const struct vfile *vf, uint64_t off)
{

	f->file = vf;
	f->segno = vf->segno;
	f->off = off;
}

/* The block and sequence range of header h, for a finding. */
static inline void
fnd_block(struct fnd *f, const cst_blk_hdr *h)
{

	f->b0 = f->b1 = h->block_no;
	if (h->record_count > 0 &&
	    h->first_seq <= UINT64_MAX - h->record_count) {
		f->s0 = h->first_seq;
		f->s1 = h->first_seq + h->record_count - 1;
	}
}

static inline cst_epoch_info *
epoch_get(cst_verifier *v, uint32_t e)
{

	if (e < 1 || e > v->nepochs)
		return (NULL);
	return (&v->epochs[e - 1]);
}

/*
 * printf-like formatting into a new string, returned to free; NULL when
 * out of memory.
 */
static inline char *
vfmt(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

static inline char *
vfmt(const char *fmt, va_list ap)
{
	char *s;

	if (vasprintf(&s, fmt, ap) < 0)
		return (NULL);
	return (s);
}

static inline char *
fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static inline char *
fmt(const char *f, ...)
{
	va_list ap;
	char *s;

	va_start(ap, f);
	s = vfmt(f, ap);
	va_end(ap);
	return (s);
}

/* Emits finding f (borrowed) with the text printf(fm, ...). */
static inline void
report(cst_verifier *v, const struct fnd *f, const char *fm, ...)
    __attribute__((format(printf, 3, 4)));

static inline void
report(cst_verifier *v, const struct fnd *f, const char *fm, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fm);
	s = vfmt(fm, ap);
	va_end(ap);
	cst_vrf_emit(v, f, s);
}

#endif /* CUSTODY_VERIFY_INT_H */
