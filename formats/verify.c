/*
 * Chain verification (SPEC sections 3-9).
 *
 * Three stages, two of them on the calling thread:
 *
 *   placement  maps every file, decodes its header and orders the files
 *              of the chain by segment_no (R-SEG-2);
 *   scanner    walks each segment's bytes into frames, resynchronising
 *              after damage, and verifies key certificates as it meets
 *              them (they decide which key checks which block);
 *   consumer   takes the scanner's items back in order, once workers have
 *              checked each frame's signature and payload, and checks the
 *              chain: links, numbering, key epochs, seals, audit records.
 *
 * Between the scanner and the consumer sits a ring of items; worker
 * threads take frames from it in any order and mark them done, so the
 * expensive part (Ed25519, zstd, BLAKE2b over every record) runs on every
 * core while findings still come out in chain order.  A worker takes up
 * to CST_OPEN_MAX frames at a time and opens them together, so that the
 * blocks' payload and records hashes, one long serial hash each, share
 * SIMD lanes; with no workers the consumer does the same when the ring
 * is full.
 *
 * Authentic means: the frame's signature verifies with the key of its
 * epoch, that key certified from the root.  Only authentic headers move
 * the chain state; after a frame or region that is not authentic the
 * chain is "unanchored" and the next authentic block re-anchors it, so
 * one altered block is one failure, not a cascade.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "blake2b.h"
#include "custody/block.h"
#include "custody/checkpoint.h"
#include "custody/error.h"
#include "custody/format.h"
#include "custody/frame.h"
#include "custody/hash.h"
#include "custody/keys.h"
#include "custody/record.h"
#include "custody/segment.h"
#include "custody/verify.h"

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

static const uint8_t zero_hash[CST_HASH_LEN];

/* Findings. */

static void
fnd_init(struct fnd *f, int sev, int code, const char *rule)
{

	memset(f, 0, sizeof(*f));
	f->sev = sev;
	f->code = code;
	f->rule = rule;
	f->segno = f->off = f->b0 = f->b1 = f->s0 = f->s1 = CST_NONE;
}

static void
fnd_file(struct fnd *f, const struct vfile *vf, uint64_t off)
{

	f->file = vf;
	f->segno = vf->segno;
	f->off = off;
}

/* The block and sequence range of header h, for a finding. */
static void
fnd_block(struct fnd *f, const cst_blk_hdr *h)
{

	f->b0 = f->b1 = h->block_no;
	if (h->record_count > 0 &&
	    h->first_seq <= UINT64_MAX - h->record_count) {
		f->s0 = h->first_seq;
		f->s1 = h->first_seq + h->record_count - 1;
	}
}

static void
deliver(cst_verifier *v, const cst_finding *f)
{

	switch (f->severity) {
	case CST_SEV_FAILURE:
		v->sum.failures++;
		break;
	case CST_SEV_ERROR:
		v->sum.errors++;
		break;
	case CST_SEV_WARNING:
		v->sum.warnings++;
		break;
	default:
		v->sum.notes++;
		break;
	}
	if (v->cb != NULL)
		v->cb(f, v->ctx);
}

static void
flush_pending(cst_verifier *v)
{
	struct pending *p = &v->pend;
	char *d;

	if (!p->active)
		return;
	if (p->count > 1 && asprintf(&d, "%s (%" PRIu64 " frames)",
	    p->detail, p->count) >= 0) {
		free(p->detail);
		p->detail = d;
	}
	p->f.detail = p->detail;
	deliver(v, &p->f);
	free(p->detail);
	p->detail = NULL;
	p->active = 0;
}

static int
can_merge(const struct pending *p, const cst_finding *f, int coal,
    const char *detail)
{

	if (!p->active || p->coal == COAL_NONE || coal != p->coal)
		return (0);
	if (p->f.severity != f->severity || p->f.code != f->code ||
	    strcmp(p->f.rule, f->rule) != 0 || p->f.file != f->file ||
	    p->f.segment_no != f->segment_no ||
	    strcmp(p->detail, detail) != 0)
		return (0);
	if (coal == COAL_BLOCKS && (p->f.block_last == CST_NONE ||
	    f->block_no == CST_NONE || p->f.block_last == UINT64_MAX - 1 ||
	    f->block_no != p->f.block_last + 1))
		return (0);
	return (1);
}

/* Widens the range [*lo, *hi] to cover [lo2, hi2]; CST_NONE is none. */
static void
widen(uint64_t *lo, uint64_t *hi, uint64_t lo2, uint64_t hi2)
{

	if (lo2 == CST_NONE || hi2 == CST_NONE)
		return;
	if (*lo == CST_NONE || *hi == CST_NONE) {
		*lo = lo2;
		*hi = hi2;
		return;
	}
	if (lo2 < *lo)
		*lo = lo2;
	if (hi2 > *hi)
		*hi = hi2;
}

/* Hands finding f with text detail (taken) to the caller, in order. */
static void
emit(cst_verifier *v, const struct fnd *in, char *detail)
{
	struct pending *p = &v->pend;
	cst_finding f;

	if (detail == NULL) {
		v->rc = CST_ENOMEM;
		return;
	}
	f.severity = in->sev;
	f.code = in->code;
	f.rule = in->rule;
	f.file = in->file != NULL ? in->file->path : in->path;
	f.segment_no = in->segno;
	f.offset = in->off;
	f.block_no = in->b0;
	f.block_last = in->b1;
	f.seq_first = in->s0;
	f.seq_last = in->s1;
	f.detail = detail;
	if (in->sev == CST_SEV_FAILURE && in->file != NULL && !in->gap &&
	    in->file->info < v->nsegs)
		v->segs[in->file->info].failures++;

	if (can_merge(p, &f, in->coal, detail)) {
		/* The ranges span both: in file order blocks may go back. */
		widen(&p->f.block_no, &p->f.block_last, f.block_no,
		    f.block_last);
		widen(&p->f.seq_first, &p->f.seq_last, f.seq_first,
		    f.seq_last);
		p->count++;
		free(detail);
		return;
	}
	flush_pending(v);
	if (in->coal == COAL_NONE) {
		f.detail = detail;
		deliver(v, &f);
		free(detail);
		return;
	}
	p->active = 1;
	p->f = f;
	p->detail = detail;
	p->coal = in->coal;
	p->count = 1;
}

static char *
vfmt(const char *fmt, va_list ap)
{
	char *s;

	if (vasprintf(&s, fmt, ap) < 0)
		return (NULL);
	return (s);
}

static char *
fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
fmt(const char *f, ...)
{
	va_list ap;
	char *s;

	va_start(ap, f);
	s = vfmt(f, ap);
	va_end(ap);
	return (s);
}

static void
report(cst_verifier *v, const struct fnd *f, const char *fm, ...)
    __attribute__((format(printf, 3, 4)));

static void
report(cst_verifier *v, const struct fnd *f, const char *fm, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fm);
	s = vfmt(fm, ap);
	va_end(ap);
	emit(v, f, s);
}

static void
hex32(const uint8_t *h, char out[2 * CST_HASH_LEN + 1])
{

	cst_hex(h, CST_HASH_LEN, out);
}

/* Lists that stop growing at CST_VERIFY_LIST_MAX. */

static void
add_unproven(cst_verifier *v, uint64_t b0, uint64_t b1, uint64_t s0,
    uint64_t s1, const char *why)
{
	cst_unproven *u, *n;

	/* Extends the last range when this one continues it. */
	if (v->nunproven > 0) {
		u = &v->unproven[v->nunproven - 1];
		if (u->why == why && u->block_last != CST_NONE &&
		    b0 != CST_NONE && u->block_last + 1 == b0) {
			u->block_last = b1;
			if (s1 != CST_NONE)
				u->seq_last = s1;
			if (u->seq_first == CST_NONE)
				u->seq_first = s0;
			return;
		}
	}
	if (v->nunproven >= CST_VERIFY_LIST_MAX)
		return;
	if ((n = realloc(v->unproven, (v->nunproven + 1) * sizeof(*n))) ==
	    NULL) {
		v->rc = CST_ENOMEM;
		return;
	}
	v->unproven = n;
	u = &n[v->nunproven++];
	u->block_first = b0;
	u->block_last = b1;
	u->seq_first = s0;
	u->seq_last = s1;
	u->why = why;
}

/* Epochs. */

static cst_epoch_info *
epoch_get(cst_verifier *v, uint32_t e)
{

	if (e < 1 || e > v->nepochs)
		return (NULL);
	return (&v->epochs[e - 1]);
}

/*
 * R-KEY-1 for the certificate of the frame at (vf, off): decodes it and
 * verifies it with the root key or the key of the epoch before, adding
 * its key to the table when it is the next epoch.  Returns 0 or the
 * failure: CST_ENOENT when the signing epoch's key is not known, CST_EKEY
 * when the epoch is known with another key.
 */
static int
cert_check(cst_verifier *v, const cst_frame *f, const struct vfile *vf,
    uint64_t off, cst_cert *c)
{
	const uint8_t *signer;
	cst_epoch_info *ep, *n;
	int rc;

	if ((rc = cst_cert_decode(f->cert, CST_CERT_LEN, c)) != 0)
		return (rc);
	if (c->signer_epoch == 0)
		signer = v->root.pk;
	else if ((ep = epoch_get(v, c->signer_epoch)) != NULL)
		signer = ep->pk;
	else
		return (CST_ENOENT);
	if ((rc = cst_cert_verify(c, v->root.chain_id, signer)) != 0)
		return (rc);
	if ((ep = epoch_get(v, c->epoch)) != NULL)
		return (sodium_memcmp(ep->pk, c->public_key,
		    CST_PK_LEN) == 0 ? 0 : CST_EKEY);
	/* Only the next epoch can be certified by a known key. */
	if ((n = realloc(v->epochs, (v->nepochs + 1) * sizeof(*n))) == NULL)
		return (CST_ENOMEM);
	v->epochs = n;
	ep = &n[v->nepochs++];
	memset(ep, 0, sizeof(*ep));
	ep->epoch = c->epoch;
	memcpy(ep->pk, c->public_key, CST_PK_LEN);
	cst_key_fingerprint_hex(c->public_key, ep->fpr);
	ep->valid_from = c->valid_from;
	ep->created_ns = c->created_ns;
	ep->file = vf->path;
	ep->offset = off;
	return (0);
}

/*
 * Whether the frame at p[0..len) is a frame of this chain whose
 * signature verifies with a known key (or a key its own certificate
 * brings): the strict test for resynchronising where a planted fake
 * frame would otherwise be taken for a real one.
 */
static int
frame_authentic(cst_verifier *v, const cst_frame *f)
{
	const uint8_t *signer, *pk;
	cst_epoch_info *ep;
	cst_cert c;

	if (memcmp(f->hdr.chain_id, v->root.chain_id, CST_CHAIN_ID_LEN) != 0)
		return (0);
	if ((ep = epoch_get(v, f->hdr.key_epoch)) != NULL) {
		pk = ep->pk;
	} else {
		if (f->cert == NULL ||
		    cst_cert_decode(f->cert, CST_CERT_LEN, &c) != 0 ||
		    c.epoch != f->hdr.key_epoch)
			return (0);
		if (c.signer_epoch == 0)
			signer = v->root.pk;
		else if ((ep = epoch_get(v, c.signer_epoch)) != NULL)
			signer = ep->pk;
		else
			return (0);
		if (cst_cert_verify(&c, v->root.chain_id, signer) != 0)
			return (0);
		pk = c.public_key;
	}
	return (cst_frame_verify_sig(f, pk) == 0);
}

/* Workers. */

/* Counts the opened block's records by kind and copies its audit records. */
static void
work_records(cst_opener *o, struct item *it)
{
	struct audit *a, *na;
	cst_record rec;
	size_t i, n, cap = 0;
	int kind;

	n = cst_opener_count(o);
	for (i = 0; i < n; i++) {
		if ((kind = cst_opener_kind(o, i)) < 0)
			continue;
		it->kinds[kind]++;
		if (kind == CST_REC_EVENT)
			continue;
		if (cst_opener_record(o, i, &rec, NULL) != 0)
			continue;
		if (it->naudits == cap) {
			cap = cap == 0 ? 4 : cap * 2;
			if ((na = realloc(it->audits, cap * sizeof(*na))) ==
			    NULL) {
				it->work_rc = CST_ENOMEM;
				return;
			}
			it->audits = na;
		}
		a = &it->audits[it->naudits];
		a->kind = rec.kind;
		a->seq = rec.seq;
		a->recv_ns = rec.recv_ns;
		a->detail_len = rec.detail.len;
		if ((a->detail = malloc(rec.detail.len + 1)) == NULL) {
			it->work_rc = CST_ENOMEM;
			return;
		}
		if (rec.detail.len > 0)
			memcpy(a->detail, rec.detail.p, rec.detail.len);
		it->naudits++;
	}
}

/*
 * Checks the signatures and opens the payloads of the n (at most
 * CST_OPEN_MAX) frames its[], the openers o[] side by side, so that the
 * blocks' hashes share SIMD lanes.
 */
static void
work_frames(cst_opener *const *o, struct item *const *its, size_t n)
{
	const cst_frame *f[CST_OPEN_MAX];
	struct item *open[CST_OPEN_MAX];
	const char *rule[CST_OPEN_MAX];
	int rc[CST_OPEN_MAX];
	struct item *it;
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		it = its[i];
		it->sig_rc = it->has_pk ? cst_frame_verify_sig(&it->f,
		    it->pk) : CST_EKEY;
		/* R-BLK-3: nothing is decompressed before the signature holds. */
		if (it->sig_rc != 0)
			continue;
		f[k] = &it->f;
		open[k++] = it;
	}
	if (k == 0)
		return;
	cst_block_open_many(o, f, k, rc, rule);
	for (i = 0; i < k; i++) {
		open[i]->open_rc = rc[i];
		open[i]->rule = rule[i];
		if (rc[i] == 0)
			work_records(o[i], open[i]);
	}
}

/* Frees the openers o[0..CST_OPEN_MAX); NULL entries are skipped. */
static void
openers_free(cst_opener **o)
{
	size_t i;

	for (i = 0; i < CST_OPEN_MAX; i++) {
		cst_opener_free(o[i]);
		o[i] = NULL;
	}
}

/* Makes CST_OPEN_MAX openers in o.  Returns 0 or CST_ENOMEM. */
static int
openers_new(cst_opener **o)
{
	size_t i;

	for (i = 0; i < CST_OPEN_MAX; i++)
		if ((o[i] = cst_opener_new()) == NULL) {
			openers_free(o);
			return (CST_ENOMEM);
		}
	return (0);
}

/*
 * Takes up to CST_OPEN_MAX frames not yet taken, from next_job on, into
 * its[] (under v->mtx when there are workers).  Returns how many.
 */
static size_t
take_frames(cst_verifier *v, struct item **its)
{
	struct item *it;
	size_t n = 0;

	/*
	 * Items before head are consumed (their slots may hold newer
	 * ones); non-frame items are done when queued: skip both.
	 */
	if (v->next_job < v->head)
		v->next_job = v->head;
	for (; v->next_job < v->tail && n < CST_OPEN_MAX; v->next_job++) {
		it = &v->ring[v->next_job % v->cap];
		if (!it->done)
			its[n++] = it;
	}
	return (n);
}

static void *
worker_main(void *arg)
{
	cst_verifier *v = arg;
	struct item *its[CST_OPEN_MAX];
	cst_opener *o[CST_OPEN_MAX];
	size_t i, n;
	int rc;

	rc = openers_new(o);
	pthread_mutex_lock(&v->mtx);
	for (;;) {
		if ((n = take_frames(v, its)) == 0) {
			if (v->quit)
				break;
			pthread_cond_wait(&v->cv_work, &v->mtx);
			continue;
		}
		pthread_mutex_unlock(&v->mtx);
		if (rc != 0)
			for (i = 0; i < n; i++)
				its[i]->work_rc = rc;
		else
			work_frames(o, its, n);
		pthread_mutex_lock(&v->mtx);
		for (i = 0; i < n; i++)
			its[i]->done = 1;
		pthread_cond_broadcast(&v->cv_done);
	}
	pthread_mutex_unlock(&v->mtx);
	openers_free(o);
	return (NULL);
}

/* The consumer. */

/*
 * The chain loses its anchor: frames is how many block positions the
 * damage can account for (0 for a missing segment, whose extent is not
 * known); io says it is an unreadable input, not tampering.
 */
static void
damage(cst_verifier *v, int io, uint64_t frames)
{
	struct chain *cs = &v->cs;

	if (cs->anchored) {
		cs->anchored = 0;
		cs->damaged = 0;
		cs->damage_io = 1;
	}
	cs->damaged += frames;
	if (!io)
		cs->damage_io = 0;
	cs->seg_last_bad = 1;
	v->sum.blocks_bad += frames;
}

static void
progress(cst_verifier *v, uint64_t done)
{

	v->done_bytes = done;
	if (v->opts.progress == NULL)
		return;
	/* About every 1/256th: a terminal needs no more. */
	if (done != v->total_bytes &&
	    done - v->last_progress < v->total_bytes / 256 + 1)
		return;
	v->last_progress = done;
	v->opts.progress(done, v->total_bytes, v->opts.progress_ctx);
}

static int
add_block(cst_verifier *v, const cst_frame *f)
{
	struct blkent *n, *b;
	size_t cap;

	if (v->nblocks == v->capblocks) {
		cap = v->capblocks == 0 ? 1024 : v->capblocks * 2;
		if ((n = realloc(v->blocks, cap * sizeof(*n))) == NULL)
			return (CST_ENOMEM);
		v->blocks = n;
		v->capblocks = cap;
	}
	b = &v->blocks[v->nblocks++];
	b->block_no = f->hdr.block_no;
	b->next_seq = f->hdr.first_seq + f->hdr.record_count;
	memcpy(b->hash, f->block_hash, CST_HASH_LEN);
	return (0);
}

/* Keeps a copy of s[0..len) as a C string in *out. */
static int
dup_bytes(const cst_bytes *b, char **out)
{
	char *s;
	size_t i;

	if ((s = malloc(b->len + 1)) == NULL)
		return (CST_ENOMEM);
	/* A report prints it: no control bytes or NULs survive. */
	for (i = 0; i < b->len; i++)
		s[i] = (b->p[i] < 0x20 || b->p[i] == 0x7f) ? '?' :
		    (char)b->p[i];
	s[b->len] = '\0';
	*out = s;
	return (0);
}

static int
keep_strs(char ***arr, size_t n, char *a, char *b)
{
	char **na;

	if ((na = realloc(*arr, (2 * n + 2) * sizeof(*na))) == NULL)
		return (CST_ENOMEM);
	na[2 * n] = a;
	na[2 * n + 1] = b;
	*arr = na;
	return (0);
}

/* A quarantine name must be one plain file name (R-REC-4). */
static int
plain_name(const char *s)
{

	return (s[0] != '\0' && strchr(s, '/') == NULL &&
	    strcmp(s, ".") != 0 && strcmp(s, "..") != 0);
}

/* Checks the quarantine file a recovery record names (R-REC-4). */
static int
quarantine_check(cst_verifier *v, const cst_recovery_info *r,
    const uint8_t want[32], int want_ok, char **why)
{
	cst_digests d;
	uint64_t size;
	char *path;
	int rc;

	*why = NULL;
	if (r->cut_len == 0 && r->quarantine[0] == '\0')
		return (CST_QUAR_NONE);
	if (!plain_name(r->quarantine)) {
		*why = fmt("the recovery record names no plain file in "
		    "quarantine/ (\"%s\")", r->quarantine);
		return (CST_QUAR_BADNAME);
	}
	if (v->quarantine_dir == NULL)
		return (CST_QUAR_ABSENT);
	if (asprintf(&path, "%s/%s", v->quarantine_dir, r->quarantine) < 0) {
		v->rc = CST_ENOMEM;
		return (CST_QUAR_ABSENT);
	}
	rc = cst_digests_file(path, &d, &size);
	free(path);
	if (rc == CST_ENOENT)
		return (CST_QUAR_ABSENT);
	if (rc == CST_ENOMEM)
		v->rc = rc;
	if (rc != 0) {
		*why = fmt("quarantine/%s cannot be read", r->quarantine);
		return (CST_QUAR_MISMATCH);
	}
	if (size != r->cut_len) {
		*why = fmt("quarantine/%s holds %" PRIu64 " bytes; the "
		    "recovery record says %" PRIu64 " were cut",
		    r->quarantine, size, r->cut_len);
		return (CST_QUAR_MISMATCH);
	}
	if (!want_ok || sodium_memcmp(d.sha256, want, 32) != 0) {
		*why = fmt("quarantine/%s does not have the SHA-256 the "
		    "recovery record states (%s)", r->quarantine,
		    r->cut_sha256);
		return (CST_QUAR_MISMATCH);
	}
	return (CST_QUAR_OK);
}

/* A recovery record (kind 3) in the block of item it (R-REC-4, R-REC-5). */
static void
audit_recovery(cst_verifier *v, const struct item *it, const struct audit *a,
    size_t index)
{
	const struct vfile *vf = &v->files[it->file];
	cst_recovery_info r, *nr;
	cst_bytes q = { NULL, 0 }, h = { NULL, 0 };
	uint8_t want[32];
	char *qs = NULL, *hs = NULL, *why = NULL;
	struct fnd f;
	int want_ok;

	v->sum.recoveries++;
	memset(&r, 0, sizeof(r));
	r.seq = a->seq;
	r.recv_ns = a->recv_ns;
	r.segment_no = r.valid_len = r.cut_len = CST_NONE;
	r.last_block_no = -1;
	/* Every key is optional: absent or mistyped, it stays unknown. */
	(void)cst_detail_get_u64(a->detail, a->detail_len, "segment_no",
	    &r.segment_no);
	(void)cst_detail_get_u64(a->detail, a->detail_len, "valid_len",
	    &r.valid_len);
	if (cst_detail_get_u64(a->detail, a->detail_len, "cut_len",
	    &r.cut_len) != 0)
		r.cut_len = 0;
	(void)cst_detail_get_i64(a->detail, a->detail_len, "last_block_no",
	    &r.last_block_no);
	(void)cst_detail_get_str(a->detail, a->detail_len, "quarantine", &q);
	(void)cst_detail_get_str(a->detail, a->detail_len, "cut_sha256", &h);
	if (dup_bytes(&q, &qs) != 0 || dup_bytes(&h, &hs) != 0) {
		v->rc = CST_ENOMEM;
		goto done;
	}
	r.quarantine = qs;
	r.cut_sha256 = hs;
	want_ok = cst_unhex(hs, strlen(hs), want, sizeof(want)) == 0;

	r.state = quarantine_check(v, &r, want, want_ok, &why);
	fnd_init(&f, CST_SEV_FAILURE, CST_EHASH, "R-REC-4");
	fnd_file(&f, vf, it->off);
	fnd_block(&f, &it->f.hdr);
	f.s0 = f.s1 = a->seq;
	if (r.cut_len > 0 && (q.p == NULL || h.p == NULL)) {
		/* Bytes were cut: the record must say where and what. */
		r.state = CST_QUAR_BADNAME;
		f.code = CST_ECORRUPT;
		report(v, &f, "recovery record (seq %" PRIu64 ") says %" PRIu64
		    " bytes were cut but lacks its %s key", a->seq, r.cut_len,
		    q.p == NULL ? "quarantine" : "cut_sha256");
	} else if (r.state == CST_QUAR_MISMATCH ||
	    r.state == CST_QUAR_BADNAME) {
		report(v, &f, "recovery record (seq %" PRIu64 "): %s", a->seq,
		    why != NULL ? why : "quarantine file differs");
	} else if (r.state == CST_QUAR_ABSENT) {
		f.sev = CST_SEV_NOTE;
		f.code = CST_ENOENT;
		report(v, &f, "recovery record (seq %" PRIu64 ") says %" PRIu64
		    " bytes were cut to quarantine/%s; that file is not "
		    "present, so what was cut is not checked", a->seq,
		    r.cut_len, qs);
	}
	if (r.state != CST_QUAR_NONE && r.segment_no != CST_NONE) {
		size_t i;

		for (i = 0; i < v->nsegs; i++)
			if (v->segs[i].status != CST_SEG_MISSING &&
			    v->segs[i].segment_no == r.segment_no &&
			    v->segs[i].quarantine != CST_QUAR_MISMATCH &&
			    v->segs[i].quarantine != CST_QUAR_BADNAME)
				v->segs[i].quarantine = r.state;
	}

	/*
	 * R-REC-5, R-REC-6: the recovery record is the first record after
	 * the restart, appended where the cut was made.  A writer that
	 * differs is suspicious but not proven to have lost anything.
	 */
	fnd_init(&f, CST_SEV_WARNING, CST_ECHAIN, "R-REC-5");
	fnd_file(&f, vf, it->off);
	fnd_block(&f, &it->f.hdr);
	f.s0 = f.s1 = a->seq;
	if (index != 0 || (r.segment_no != CST_NONE &&
	    (r.segment_no != vf->segno || r.valid_len != it->off)))
		report(v, &f, "recovery record (seq %" PRIu64 ") says the "
		    "cut was in segment %" PRIu64 " at offset %" PRIu64
		    "; it is record %zu of the block at offset %" PRIu64
		    " of segment %" PRIu64, a->seq, r.segment_no, r.valid_len,
		    index, it->off, vf->segno);
	else if (r.last_block_no != (int64_t)it->f.hdr.block_no - 1)
		report(v, &f, "recovery record (seq %" PRIu64 ") names block "
		    "%" PRId64 " as the last kept, but the chain resumes at "
		    "block %" PRIu64, a->seq, r.last_block_no,
		    it->f.hdr.block_no);

	if (v->nrecs < CST_VERIFY_LIST_MAX) {
		if ((nr = realloc(v->recs, (v->nrecs + 1) * sizeof(*nr))) ==
		    NULL || keep_strs(&v->recs_strs, v->nrecs, qs, hs) != 0) {
			if (nr != NULL)
				v->recs = nr;
			v->rc = CST_ENOMEM;
			goto done;
		}
		v->recs = nr;
		v->recs[v->nrecs++] = r;
		qs = hs = NULL;
	}
done:
	free(why);
	free(qs);
	free(hs);
}

static void
audit_loss(cst_verifier *v, const struct audit *a)
{
	cst_loss_info l, *nl;
	cst_bytes lis = { NULL, 0 };
	char *ls = NULL;

	v->sum.losses++;
	memset(&l, 0, sizeof(l));
	l.seq = a->seq;
	l.recv_ns = a->recv_ns;
	(void)cst_detail_get_u64(a->detail, a->detail_len, "udp_dropped",
	    &l.udp_dropped);
	(void)cst_detail_get_u64(a->detail, a->detail_len, "kernel_dropped",
	    &l.kernel_dropped);
	(void)cst_detail_get_u64(a->detail, a->detail_len, "oversize",
	    &l.oversize);
	(void)cst_detail_get_str(a->detail, a->detail_len, "listener", &lis);
	/* Saturating: a hostile record must not wrap the totals. */
	v->sum.udp_dropped += l.udp_dropped > UINT64_MAX - v->sum.udp_dropped ?
	    UINT64_MAX - v->sum.udp_dropped : l.udp_dropped;
	v->sum.kernel_dropped += l.kernel_dropped > UINT64_MAX -
	    v->sum.kernel_dropped ? UINT64_MAX - v->sum.kernel_dropped :
	    l.kernel_dropped;
	v->sum.oversize += l.oversize > UINT64_MAX - v->sum.oversize ?
	    UINT64_MAX - v->sum.oversize : l.oversize;
	if (v->nlosses >= CST_VERIFY_LIST_MAX)
		return;
	if (dup_bytes(&lis, &ls) != 0)
		goto nomem;
	l.listener = ls;
	if ((nl = realloc(v->losses, (v->nlosses + 1) * sizeof(*nl))) == NULL)
		goto nomem;
	v->losses = nl;
	if (keep_strs(&v->loss_strs, v->nlosses, ls, NULL) != 0)
		goto nomem;
	v->losses[v->nlosses++] = l;
	return;

nomem:
	free(ls);
	v->rc = CST_ENOMEM;
}

/*
 * R-KEY-2 for an authentic block h (with certificate c when it carries
 * one) after the chain state cs; linked says whether cs is the block
 * right before it.
 */
static void
check_epochs(cst_verifier *v, const struct item *it, int linked)
{
	const cst_blk_hdr *h = &it->f.hdr;
	const struct vfile *vf = &v->files[it->file];
	struct chain *cs = &v->cs;
	cst_epoch_info *ep, *next;
	struct fnd f;
	int has_cert = it->f.cert != NULL;

	fnd_init(&f, CST_SEV_FAILURE, CST_EKEY, "R-KEY-2");
	fnd_file(&f, vf, it->off);
	fnd_block(&f, h);
	if (linked && cs->epoch_known) {
		if (h->block_no == 0 || h->key_epoch != cs->epoch) {
			if (!has_cert)
				report(v, &f, "key epoch changes from %" PRIu32
				    " to %" PRIu32 " without a certificate",
				    cs->epoch, h->key_epoch);
			else if (h->key_epoch != cs->epoch + 1)
				report(v, &f, "key epoch goes from %" PRIu32
				    " to %" PRIu32 "; it may only step by one",
				    cs->epoch, h->key_epoch);
		} else if (has_cert) {
			report(v, &f, "block carries a certificate but its key "
			    "epoch (%" PRIu32 ") does not change",
			    h->key_epoch);
		}
	}
	if (has_cert && it->cert_rc == 0 && (it->cert.epoch != h->key_epoch ||
	    it->cert.valid_from != h->block_no))
		report(v, &f, "the certificate it carries is for epoch %"
		    PRIu32 " from block %" PRIu64 ", not for this block",
		    it->cert.epoch, it->cert.valid_from);
	/* An epoch key signs only its own range of blocks. */
	if ((ep = epoch_get(v, h->key_epoch)) != NULL) {
		next = epoch_get(v, h->key_epoch + 1);
		if (h->block_no < ep->valid_from)
			report(v, &f, "signed by epoch %" PRIu32 ", whose key "
			    "is valid only from block %" PRIu64, h->key_epoch,
			    ep->valid_from);
		else if (next != NULL && h->block_no >= next->valid_from)
			report(v, &f, "signed by epoch %" PRIu32 " after "
			    "epoch %" PRIu32 " began at block %" PRIu64,
			    h->key_epoch, h->key_epoch + 1,
			    next->valid_from);
		ep->blocks++;
	}
}

/* R-SEG-3: the unsigned header must say what the first block says. */
static void
check_header(cst_verifier *v, const struct item *it)
{
	const struct vfile *vf = &v->files[it->file];
	const cst_blk_hdr *h = &it->f.hdr;
	const cst_seg_hdr *s = &vf->hdr;
	struct fnd f;

	if (vf->hdr_rc != 0)
		return;
	fnd_init(&f, CST_SEV_FAILURE, CST_ECHAIN, "R-SEG-3");
	fnd_file(&f, vf, 0);
	if (memcmp(s->chain_id, h->chain_id, CST_CHAIN_ID_LEN) != 0) {
		f.code = CST_EFOREIGN;
		report(v, &f, "the segment header names another chain than "
		    "its blocks");
	} else if (s->segment_no != h->segment_no ||
	    s->first_block_no != h->block_no || s->first_seq != h->first_seq ||
	    memcmp(s->prev_hash, h->prev_hash, CST_HASH_LEN) != 0) {
		report(v, &f, "the segment header (segment %" PRIu64 ", first "
		    "block %" PRIu64 ", first seq %" PRIu64 ") does not match "
		    "its first block (segment %" PRIu64 ", block %" PRIu64
		    ", seq %" PRIu64 ")", s->segment_no, s->first_block_no,
		    s->first_seq, h->segment_no, h->block_no, h->first_seq);
	}
}

/* The sequence numbers between from and to (exclusive), if any. */
static void
seq_gap(struct fnd *f, uint64_t from, uint64_t to)
{

	if (to > from) {
		f->s0 = from;
		f->s1 = to - 1;
	} else {
		f->s0 = f->s1 = CST_NONE;
	}
}

/*
 * The chain links of authentic block it (R-BLK-6, R-BLK-7).  Returns 1
 * when the block takes its place in the chain, 0 for a block that repeats
 * or goes back (a replay), which is reported and set aside.
 */
static int
check_links(cst_verifier *v, const struct item *it, int *linked)
{
	const struct vfile *vf = &v->files[it->file];
	const cst_blk_hdr *h = &it->f.hdr;
	struct chain *cs = &v->cs;
	uint64_t lost;
	struct fnd f;
	int sev, gap_here;

	*linked = 0;
	fnd_init(&f, CST_SEV_FAILURE, CST_ECHAIN, "R-BLK-6");
	fnd_file(&f, vf, it->off);
	fnd_block(&f, h);
	/* Blocks lost before a segment's first frame: a gap, not damage here. */
	gap_here = cs->seg_items == 1;

	if (h->segment_no != vf->segno) {
		f.coal = COAL_BLOCKS;
		report(v, &f, "the block says it is in segment %" PRIu64
		    ", but its file is segment %" PRIu64, h->segment_no,
		    vf->segno);
		f.coal = COAL_NONE;
	}

	if (h->block_no < cs->next_block) {
		f.code = CST_ESEQ;
		f.coal = COAL_BLOCKS;
		report(v, &f, "block appears again or out of order: the chain "
		    "is already at block %" PRIu64 " (a replayed, duplicated "
		    "or reordered block)", cs->next_block);
		return (0);
	}
	lost = h->block_no - cs->next_block;
	if (cs->anchored || lost == 0) {
		if (lost > 0) {
			f.code = CST_ESEQ;
			f.gap = gap_here;
			f.b0 = cs->next_block;
			f.b1 = h->block_no - 1;
			seq_gap(&f, cs->next_seq, h->first_seq);
			report(v, &f, "blocks %" PRIu64 "..%" PRIu64 " are "
			    "missing before block %" PRIu64 " (deleted, or "
			    "the chain was cut)", cs->next_block,
			    h->block_no - 1, h->block_no);
			add_unproven(v, f.b0, f.b1, f.s0, f.s1, "missing");
			cs->seg_gap = 1;
			return (1);
		}
		if (sodium_memcmp(h->prev_hash, cs->prev_hash,
		    CST_HASH_LEN) != 0) {
			if (cs->anchored)
				report(v, &f, "block %" PRIu64 " does not link "
				    "to block %" PRIu64 " before it (prev_hash "
				    "differs: a block was replaced, or the "
				    "chain forked)", h->block_no,
				    h->block_no - 1);
			return (1);
		}
		if (h->first_seq != cs->next_seq) {
			f.rule = "R-BLK-7";
			f.code = CST_ESEQ;
			report(v, &f, "block %" PRIu64 " starts at seq %" PRIu64
			    "; the block before it ends before seq %" PRIu64,
			    h->block_no, h->first_seq, cs->next_seq);
		}
		*linked = 1;
		return (1);
	}
	/* Unanchored: the damaged frames may account for the gap. */
	f.b0 = cs->next_block;
	f.b1 = h->block_no - 1;
	seq_gap(&f, cs->next_seq, h->first_seq);
	if (lost > cs->damaged) {
		sev = cs->damage_io ? CST_SEV_ERROR : CST_SEV_FAILURE;
		f.sev = sev;
		f.code = CST_ESEQ;
		f.gap = gap_here;
		report(v, &f, "the chain resumes at block %" PRIu64 ": blocks %"
		    PRIu64 "..%" PRIu64 " are missing or destroyed",
		    h->block_no, cs->next_block, h->block_no - 1);
	}
	add_unproven(v, f.b0, f.b1, f.s0, f.s1, cs->damage_io ?
	    "unreadable" : "damaged or missing");
	cs->seg_gap = 1;
	return (1);
}

static void
consume_audits(cst_verifier *v, const struct item *it)
{
	size_t i;

	for (i = 0; i < it->naudits; i++) {
		if (it->audits[i].kind == CST_REC_RECOVERY)
			audit_recovery(v, it, &it->audits[i], i);
		else if (it->audits[i].kind == CST_REC_LOSS)
			audit_loss(v, &it->audits[i]);
	}
}

static void
consume_frame(cst_verifier *v, struct item *it)
{
	const struct vfile *vf = &v->files[it->file];
	cst_seg_info *si = &v->segs[vf->info];
	const cst_blk_hdr *h = &it->f.hdr;
	struct chain *cs = &v->cs;
	char hex[2 * CST_CHAIN_ID_LEN + 1];
	uint64_t nrec;
	struct fnd f;
	size_t k;
	int linked, first = cs->seg_items == 0;

	cs->seg_items++;
	fnd_init(&f, CST_SEV_FAILURE, CST_ECORRUPT, "R-SEG-4");
	fnd_file(&f, vf, it->off);
	fnd_block(&f, h);
	if (it->work_rc != 0) {
		/* Not checked for want of memory: unproven, not altered. */
		v->rc = it->work_rc;
		f.sev = CST_SEV_ERROR;
		f.code = it->work_rc;
		report(v, &f, "out of memory checking this block");
		damage(v, 1, 1);
		return;
	}

	/* R-SEG-4: an authentic seal ends its segment. */
	if (cs->seg_sealed) {
		f.coal = COAL_FILE;
		report(v, &f, "frames follow the seal block of segment %" PRIu64,
		    vf->segno);
		return;
	}
	if (memcmp(h->chain_id, v->root.chain_id, CST_CHAIN_ID_LEN) != 0) {
		cst_hex(h->chain_id, CST_CHAIN_ID_LEN, hex);
		f.rule = "R-BLK-6";
		f.code = CST_EFOREIGN;
		f.coal = COAL_FILE;
		report(v, &f, "block of another chain (chain id %s)", hex);
		damage(v, 0, 1);
		return;
	}
	if (it->cert_rc == CST_ENOENT) {
		f.rule = "R-KEY-1";
		f.code = CST_EKEY;
		report(v, &f, "the key certificate this block carries is signed "
		    "by epoch %" PRIu32 ", whose key is not known: it cannot be "
		    "checked", it->cert.signer_epoch);
	} else if (it->cert_rc == CST_EKEY) {
		f.rule = "R-KEY-2";
		f.code = CST_EKEY;
		report(v, &f, "a second, different certificate for key epoch %"
		    PRIu32 ": two keys claim one epoch", it->cert.epoch);
	} else if (it->cert_rc < 0) {
		f.rule = "R-KEY-1";
		f.code = it->cert_rc;
		report(v, &f, "the key certificate this block carries does not "
		    "verify (%s): its key is not trusted", cst_strerror(
		    it->cert_rc));
	}
	if (!it->has_pk) {
		f.rule = "R-BLK-3";
		f.code = CST_EKEY;
		f.coal = COAL_BLOCKS;
		report(v, &f, "no certificate from the root key is known for "
		    "key epoch %" PRIu32 ": the block signature cannot be "
		    "checked", h->key_epoch);
		damage(v, 0, 1);
		return;
	}
	if (it->sig_rc != 0) {
		f.rule = "R-BLK-3";
		f.code = CST_ESIG;
		report(v, &f, "the block signature does not verify: its header, "
		    "certificate or signature was altered");
		damage(v, 0, 1);
		return;
	}

	/* Authentic from here: its header is what the collector wrote. */
	if (first)
		check_header(v, it);
	if (!check_links(v, it, &linked)) {
		/* A replay: its records are already counted where it belongs. */
		v->sum.blocks_bad++;
		return;
	}
	check_epochs(v, it, linked);

	cs->anchored = 1;
	cs->seg_last_bad = 0;
	cs->damaged = 0;
	cs->damage_io = 0;
	cs->next_block = h->block_no + 1;
	nrec = h->record_count;
	cs->next_seq = h->first_seq + nrec;
	memcpy(cs->prev_hash, it->f.block_hash, CST_HASH_LEN);
	cs->epoch = h->key_epoch;
	cs->epoch_known = 1;
	if (add_block(v, &it->f) != 0)
		v->rc = CST_ENOMEM;

	v->sum.blocks++;
	v->sum.has_head = 1;
	v->sum.head_block_no = h->block_no;
	memcpy(v->sum.head_hash, it->f.block_hash, CST_HASH_LEN);
	v->sum.head_next_seq = cs->next_seq;
	si->blocks++;
	if (si->first_block == CST_NONE)
		si->first_block = h->block_no;
	si->last_block = h->block_no;

	if (h->type == CST_BLOCK_SEAL) {
		v->sum.seal_blocks++;
		cs->seg_sealed = 1;
	} else {
		v->sum.data_blocks++;
		v->sum.records += nrec;
		si->records += nrec;
		if (si->first_seq == CST_NONE)
			si->first_seq = h->first_seq;
		si->last_seq = h->first_seq + nrec - 1;
		if (v->sum.first_seq == CST_NONE) {
			v->sum.first_seq = h->first_seq;
			v->sum.first_ns = h->min_time_ns;
			v->sum.last_ns = h->max_time_ns;
		}
		v->sum.last_seq = h->first_seq + nrec - 1;
		if (h->min_time_ns < v->sum.first_ns)
			v->sum.first_ns = h->min_time_ns;
		if (h->max_time_ns > v->sum.last_ns)
			v->sum.last_ns = h->max_time_ns;
	}

	if (it->open_rc != 0) {
		f.rule = it->rule != NULL ? it->rule : "R-BLK-4";
		f.code = it->open_rc;
		f.coal = COAL_NONE;
		if (it->open_rc == CST_ENOMEM) {
			f.sev = CST_SEV_ERROR;
			report(v, &f, "out of memory opening the payload");
		} else {
			report(v, &f, "the payload does not match the signed "
			    "header (%s): the records of this block were "
			    "altered", cst_strerror(it->open_rc));
		}
		if (nrec > 0)
			add_unproven(v, h->block_no, h->block_no, f.s0, f.s1,
			    "payload altered");
		return;
	}
	v->sum.records_verified += nrec;
	for (k = 0; k <= CST_REC_KIND_MAX; k++)
		v->sum.kinds[k] += it->kinds[k];
	consume_audits(v, it);
}

static void
consume_finding(cst_verifier *v, struct item *it)
{

	v->cs.seg_items++;
	emit(v, &it->fnd, it->detail);
	it->detail = NULL;
	if (it->fnd.damage)
		damage(v, it->fnd.io, it->fnd.io ? 0 : 1);
}

static void
consume_seg_begin(cst_verifier *v, struct item *it)
{
	struct vfile *vf = &v->files[it->file];
	struct chain *cs = &v->cs;

	cs->seg_items = 0;
	cs->seg_sealed = 0;
	cs->seg_gap = 0;
	cs->seg_tail_failed = 0;
	cs->seg_last_bad = 0;
	/* A segment follows a missing one: the chain cannot be followed. */
	if (vf->missing_from != CST_NONE) {
		damage(v, 0, 0);
		cs->seg_gap = 1;
	}
}

static void
consume_seg_end(cst_verifier *v, struct item *it)
{
	struct vfile *vf = &v->files[it->file];
	cst_seg_info *si = &v->segs[vf->info];
	struct chain *cs = &v->cs;
	const cst_seg_hdr *s = &vf->hdr;
	struct fnd f;

	fnd_init(&f, CST_SEV_FAILURE, CST_ETRUNC, "R-SEG-4");
	fnd_file(&f, vf, it->tail_off);
	if (it->has_hdr)
		fnd_block(&f, &it->f.hdr);
	si->sealed = cs->seg_sealed;
	if (it->tail_len > 0) {
		si->tail_bytes = it->tail_len;
		if (vf->newest && !cs->seg_sealed) {
			v->sum.tail_partial = it->tail_len;
			f.sev = v->opts.live ? CST_SEV_NOTE : CST_SEV_WARNING;
			report(v, &f, "the newest segment ends in %" PRIu64
			    " bytes of an incomplete frame (a collector may be "
			    "writing it, or stopped in mid-write); they are "
			    "not verified", it->tail_len);
		} else {
			report(v, &f, "the segment ends in %" PRIu64 " bytes of "
			    "an incomplete frame; only the newest segment may "
			    "(a block was truncated)", it->tail_len);
			damage(v, 0, 1);
			cs->seg_tail_failed = 1;
		}
	}
	if (!cs->seg_sealed) {
		if (vf->newest) {
			v->sum.tail_unsealed = 1;
		} else if (!cs->seg_tail_failed && !cs->seg_last_bad &&
		    cs->seg_items > 0) {
			f.off = vf->map.len;
			f.code = CST_ETRUNC;
			report(v, &f, "segment %" PRIu64 " is not sealed, but "
			    "later segments exist (its end was cut off)",
			    vf->segno);
		}
	}
	if (cs->seg_items == 0 && vf->map.len >= CST_SEG_HDR_LEN) {
		if (!vf->newest) {
			fnd_init(&f, CST_SEV_FAILURE, CST_ETRUNC, "R-SEG-5");
			fnd_file(&f, vf, CST_SEG_HDR_LEN);
			report(v, &f, "segment %" PRIu64 " holds no block, but "
			    "later segments exist", vf->segno);
		} else if (vf->hdr_rc == 0 && cs->anchored &&
		    (s->first_block_no != cs->next_block ||
		    s->first_seq != cs->next_seq ||
		    memcmp(s->prev_hash, cs->prev_hash, CST_HASH_LEN) != 0)) {
			/* R-SEG-3: an empty newest segment still links. */
			fnd_init(&f, CST_SEV_FAILURE, CST_ECHAIN, "R-SEG-3");
			fnd_file(&f, vf, 0);
			report(v, &f, "the empty newest segment's header does not "
			    "continue the chain (block %" PRIu64 ", seq %" PRIu64
			    " expected)", cs->next_block, cs->next_seq);
		}
	}
	if (!vf->mapped)
		si->status = CST_SEG_UNREADABLE;
	else if (si->failures > 0)
		si->status = CST_SEG_INVALID;
	else if (cs->seg_gap)
		si->status = CST_SEG_GAP;
	else if (!cs->seg_sealed)
		si->status = vf->newest ? CST_SEG_UNSEALED : CST_SEG_INVALID;
	else
		si->status = CST_SEG_VALID;
}

static void
item_clear(struct item *it)
{
	size_t i;

	for (i = 0; i < it->naudits; i++)
		free(it->audits[i].detail);
	free(it->audits);
	free(it->detail);
	memset(it, 0, sizeof(*it));
}

/* Takes the oldest item, waiting for its worker, and consumes it. */
static void
consume_one(cst_verifier *v)
{
	struct item *it = &v->ring[v->head % v->cap];
	/* Zeroed only for the optimiser, which cannot see take_frames fill it. */
	struct item *its[CST_OPEN_MAX] = { NULL };
	size_t i, n;

	if (v->nthreads > 0) {
		pthread_mutex_lock(&v->mtx);
		while (!it->done)
			pthread_cond_wait(&v->cv_done, &v->mtx);
		pthread_mutex_unlock(&v->mtx);
	} else if (!it->done) {
		/* Inline, frames wait in the ring to be opened together. */
		n = take_frames(v, its);
		work_frames(v->openers, its, n);
		for (i = 0; i < n; i++)
			its[i]->done = 1;
	}
	switch (it->type) {
	case IT_FRAME:
		consume_frame(v, it);
		progress(v, v->done_bytes + it->f.frame_len);
		break;
	case IT_FINDING:
		consume_finding(v, it);
		break;
	case IT_SEG_BEGIN:
		consume_seg_begin(v, it);
		break;
	case IT_SEG_END:
		consume_seg_end(v, it);
		break;
	}
	item_clear(it);
	if (v->nthreads > 0) {
		pthread_mutex_lock(&v->mtx);
		v->head++;
		pthread_mutex_unlock(&v->mtx);
	} else {
		v->head++;
	}
}

/* The scanner. */

/* Returns a free item at the tail of the ring, consuming to make room. */
static struct item *
item_new(cst_verifier *v, int type, size_t file, uint64_t off)
{
	struct item *it;

	while (v->tail - v->head == v->cap)
		consume_one(v);
	it = &v->ring[v->tail % v->cap];
	memset(it, 0, sizeof(*it));
	it->type = type;
	it->file = file;
	it->off = off;
	return (it);
}

static void
item_push(cst_verifier *v, struct item *it)
{
	int done;

	/* A frame is done once a worker (or consume_one) has opened it. */
	if (it->type != IT_FRAME)
		it->done = 1;
	if (v->nthreads > 0) {
		pthread_mutex_lock(&v->mtx);
		v->tail++;
		pthread_cond_signal(&v->cv_work);
		pthread_mutex_unlock(&v->mtx);
	} else {
		v->tail++;
	}
	/*
	 * Keeps findings flowing while the scanner runs ahead, up to the
	 * first frame not yet opened.
	 */
	for (;;) {
		it = &v->ring[v->head % v->cap];
		if (v->head == v->tail)
			break;
		if (v->nthreads > 0)
			pthread_mutex_lock(&v->mtx);
		done = it->done;
		if (v->nthreads > 0)
			pthread_mutex_unlock(&v->mtx);
		if (!done)
			break;
		consume_one(v);
	}
}

/* Queues a finding (text detail, taken) in chain order. */
static void
queue_finding(cst_verifier *v, size_t file, const struct fnd *f, char *detail)
{
	struct item *it;

	if (detail == NULL) {
		v->rc = CST_ENOMEM;
		return;
	}
	it = item_new(v, IT_FINDING, file, f->off);
	it->fnd = *f;
	it->detail = detail;
	item_push(v, it);
}

static void
push_frame(cst_verifier *v, size_t file, uint64_t off, const cst_frame *fr)
{
	struct vfile *vf = &v->files[file];
	cst_epoch_info *ep;
	struct item *it;
	int rc;

	it = item_new(v, IT_FRAME, file, off);
	it->f = *fr;
	it->cert_rc = 1;
	if (fr->cert != NULL) {
		rc = cert_check(v, fr, vf, off, &it->cert);
		if (rc == CST_ENOMEM)
			v->rc = rc;
		it->cert_rc = rc;
	}
	if (memcmp(fr->hdr.chain_id, v->root.chain_id, CST_CHAIN_ID_LEN) == 0 &&
	    (ep = epoch_get(v, fr->hdr.key_epoch)) != NULL) {
		it->has_pk = 1;
		memcpy(it->pk, ep->pk, CST_PK_LEN);
	}
	item_push(v, it);
}

/*
 * The verifier's resynchronisation policy: a candidate before pos lies
 * inside a frame already taken, whose length may have been altered, so it
 * must be authentic; from pos on, a frame of this chain that parses will
 * do, the damage being reported anyway.  With strict set, every candidate
 * must be authentic.
 */
struct vresync {
	cst_verifier *v;
	int strict;
};

static int
resync_accept(void *arg, const cst_frame *f, uint64_t off, uint64_t pos)
{
	const struct vresync *r = arg;

	return ((off >= pos && !r->strict) || frame_authentic(r->v, f));
}

/* Walks the frames of the chain file index fi. */
static void
scan_file(cst_verifier *v, size_t fi)
{
	struct vfile *vf = &v->files[fi];
	const uint8_t *p = vf->map.p;
	uint64_t len = vf->map.len, pos, q, from;
	int last_seal = 0, rc;
	struct vresync rsa = { v, 0 };
	cst_resync rs = { CST_RESYNC_SKIP, v->root.chain_id, resync_accept,
	    &rsa };
	cst_frame_walk w;
	struct item *it;
	cst_frame f;
	struct fnd fd;

	/* One file at a time: a store may be larger than memory. */
	if (vf->copy == NULL)
		cst_map_will_read(&vf->map);
	cst_frame_walk_init(&w, p, vf->map.len, CST_SEG_HDR_LEN, &rs);
	while (w.pos < len) {
		pos = w.pos;
		rc = cst_frame_walk_next(&w, &f);
		if (rc == 0) {
			push_frame(v, fi, pos, &f);
			last_seal = f.hdr.type == CST_BLOCK_SEAL;
			continue;
		}
		from = w.last == UINT64_MAX ? CST_SEG_HDR_LEN : w.last + 1;
		fnd_init(&fd, CST_SEV_FAILURE, rc, cst_frame_rule(rc));
		fnd_file(&fd, vf, pos);
		fd.damage = 1;
		if (rc == CST_ETRUNC) {
			/*
			 * A frame that does not fit: the tail a writer is
			 * appending, unless an authentic frame follows.
			 */
			if (cst_blk_hdr_decode(p + pos, len - pos, &f.hdr) == 0)
				fnd_block(&fd, &f.hdr);
			rsa.strict = 1;
			q = cst_frame_resync(&w, pos + 1, pos + 1);
			rsa.strict = 0;
			if (q == CST_NONE) {
				if (last_seal) {
					fd.rule = "R-SEG-4";
					queue_finding(v, fi, &fd, fmt("%" PRIu64
					    " bytes follow the seal block",
					    len - pos));
				} else if (cst_frame_looks_partial(p + pos,
				    len - pos)) {
					it = item_new(v, IT_SEG_END, fi, 0);
					it->tail_off = pos;
					it->tail_len = len - pos;
					it->has_hdr = fd.b0 != CST_NONE;
					it->f.hdr = f.hdr;
					item_push(v, it);
					return;
				} else {
					queue_finding(v, fi, &fd, fmt("%" PRIu64
					    " bytes at the end are not a frame",
					    len - pos));
				}
				break;
			}
			queue_finding(v, fi, &fd, fmt("the frame at offset %"
			    PRIu64 " claims a length that runs past the next "
			    "frame at offset %" PRIu64 " (%" PRIu64 " bytes "
			    "not verified)", pos, q, q - pos));
			w.pos = q;
			continue;
		}
		q = cst_frame_resync(&w, from, pos);
		if (q == CST_NONE) {
			if (last_seal)
				fd.rule = "R-SEG-4";
			queue_finding(v, fi, &fd, last_seal ? fmt("%" PRIu64
			    " bytes follow the seal block", len - pos) :
			    fmt("%" PRIu64 " bytes from here to the end of the "
			    "file are not a frame (%s)", len - pos,
			    cst_strerror(rc)));
			break;
		}
		if (q > pos) {
			if (last_seal)
				fd.rule = "R-SEG-4";
			queue_finding(v, fi, &fd, fmt("%" PRIu64 " bytes are "
			    "not a frame (%s); the next frame is at offset %"
			    PRIu64, q - pos, cst_strerror(rc), q));
		}
		/* q < pos: the frame taken last was longer than it said. */
		w.pos = q;
	}
	it = item_new(v, IT_SEG_END, fi, 0);
	item_push(v, it);
}

/* Placement. */

/* The segment number in a file name "seg-NNNNNNNNNN.cst", or CST_NONE. */
static uint64_t
name_segno(const char *path)
{
	const char *b = strrchr(path, '/');
	uint64_t n = 0;
	size_t i;

	b = b == NULL ? path : b + 1;
	if (strncmp(b, "seg-", 4) != 0 || strlen(b) != 18 ||
	    strcmp(b + 14, ".cst") != 0)
		return (CST_NONE);
	for (i = 4; i < 14; i++) {
		if (b[i] < '0' || b[i] > '9')
			return (CST_NONE);
		n = n * 10 + (uint64_t)(b[i] - '0');
	}
	return (n);
}

static int
cmp_order(const void *a, const void *b, void *arg)
{
	const struct vfile *files = arg;
	const struct vfile *x = &files[*(const size_t *)a];
	const struct vfile *y = &files[*(const size_t *)b];

	if (x->segno != y->segno)
		return (x->segno < y->segno ? -1 : 1);
	return (strcmp(x->path, y->path));
}

/*
 * Maps file fi and decides where it belongs: by its header and the
 * segment_no of its first block (signed, unlike the header) when they
 * agree; when they do not, by the one its name agrees with, else the
 * block; by either alone when the other is unusable; else by its name.
 */
static void
place_file(cst_verifier *v, size_t fi)
{
	struct vfile *vf = &v->files[fi];
	cst_frame f;
	int rc, hdr_ok;

	vf->segno = CST_NONE;
	vf->missing_from = vf->missing_to = CST_NONE;
	if ((rc = cst_map_open(vf->path, &vf->map)) != 0) {
		/* Named for a number, it holds that place, unread. */
		vf->hdr_rc = rc;
		vf->segno = name_segno(vf->path);
		vf->place = vf->segno == CST_NONE ? PLACE_UNREADABLE :
		    PLACE_CHAIN;
		return;
	}
	vf->mapped = 1;
	vf->hdr_rc = cst_seg_hdr_decode(vf->map.p, vf->map.len, &vf->hdr);
	memset(&f, 0, sizeof(f));
	hdr_ok = vf->hdr_rc == 0 && memcmp(vf->hdr.chain_id,
	    v->root.chain_id, CST_CHAIN_ID_LEN) == 0;
	if (vf->map.len > CST_SEG_HDR_LEN &&
	    cst_frame_parse(vf->map.p + CST_SEG_HDR_LEN,
	    vf->map.len - CST_SEG_HDR_LEN, &f) == 0 &&
	    memcmp(f.hdr.chain_id, v->root.chain_id, CST_CHAIN_ID_LEN) == 0) {
		vf->segno = f.hdr.segment_no;
		/* An altered first block must not move its file. */
		if (hdr_ok && vf->hdr.segment_no != vf->segno &&
		    name_segno(vf->path) == vf->hdr.segment_no)
			vf->segno = vf->hdr.segment_no;
	} else if (hdr_ok) {
		vf->segno = vf->hdr.segment_no;
	} else if (vf->hdr_rc == 0) {
		vf->place = PLACE_FOREIGN;
		vf->segno = vf->hdr.segment_no;
		return;
	} else if ((vf->segno = name_segno(vf->path)) == CST_NONE) {
		vf->place = PLACE_UNREADABLE;
		return;
	}
	vf->place = PLACE_CHAIN;
}

static int
add_seg_row(cst_verifier *v, const struct vfile *vf, uint64_t from,
    uint64_t to, int status)
{
	cst_seg_info *n, *s;

	if ((n = realloc(v->segs, (v->nsegs + 1) * sizeof(*n))) == NULL)
		return (CST_ENOMEM);
	v->segs = n;
	s = &n[v->nsegs++];
	memset(s, 0, sizeof(*s));
	s->path = vf != NULL ? vf->path : NULL;
	s->segment_no = from;
	s->segment_last = to;
	s->size = vf != NULL ? vf->map.len : 0;
	s->status = status;
	s->first_block = s->last_block = CST_NONE;
	s->first_seq = s->last_seq = CST_NONE;
	return (0);
}

/*
 * Orders the chain's files (R-SEG-2), picks one file per number, and
 * builds the segment table with missing numbers in place.
 */
static int
place_all(cst_verifier *v)
{
	struct vfile *vf, *pv;
	uint64_t expect = 0;
	size_t i, j, k;
	int status;

	if ((v->order = calloc(v->nfiles + 1, sizeof(*v->order))) == NULL)
		return (CST_ENOMEM);
	for (i = 0; i < v->nfiles; i++)
		if (v->files[i].place == PLACE_CHAIN)
			v->order[v->norder++] = i;
	qsort_r(v->order, v->norder, sizeof(*v->order), cmp_order, v->files);

	/*
	 * Of files claiming one number, keep one: a valid header first,
	 * then the one named for the number.
	 */
	for (i = 0, k = 0; i < v->norder; i = j) {
		size_t best = i;

		for (j = i + 1; j < v->norder && v->files[v->order[j]].segno ==
		    v->files[v->order[i]].segno; j++) {
			vf = &v->files[v->order[j]];
			pv = &v->files[v->order[best]];
			if ((vf->hdr_rc == 0 && pv->hdr_rc != 0) ||
			    (vf->hdr_rc == pv->hdr_rc &&
			    name_segno(vf->path) == vf->segno &&
			    name_segno(pv->path) != pv->segno))
				best = j;
		}
		for (size_t m = i; m < j; m++) {
			if (m == best)
				continue;
			v->files[v->order[m]].place = PLACE_DUP;
			v->files[v->order[m]].dup_of = v->order[best];
		}
		v->order[k++] = v->order[best];
	}
	v->norder = k;

	for (i = 0; i < v->norder; i++) {
		vf = &v->files[v->order[i]];
		if (vf->segno > expect) {
			vf->missing_from = expect;
			vf->missing_to = vf->segno - 1;
			if (add_seg_row(v, NULL, expect, vf->segno - 1,
			    CST_SEG_MISSING) != 0)
				return (CST_ENOMEM);
		}
		vf->info = v->nsegs;
		vf->newest = i + 1 == v->norder;
		if (add_seg_row(v, vf, vf->segno, vf->segno, CST_SEG_VALID) != 0)
			return (CST_ENOMEM);
		expect = vf->segno == UINT64_MAX ? vf->segno : vf->segno + 1;
	}
	for (i = 0; i < v->nfiles; i++) {
		vf = &v->files[i];
		if (vf->place == PLACE_CHAIN)
			continue;
		status = vf->place == PLACE_FOREIGN ? CST_SEG_FOREIGN :
		    vf->place == PLACE_DUP ? CST_SEG_DUPLICATE :
		    CST_SEG_UNREADABLE;
		vf->info = v->nsegs;
		if (add_seg_row(v, vf, vf->segno, vf->segno, status) != 0)
			return (CST_ENOMEM);
	}
	return (0);
}

/*
 * Replaces the mapping of file vf by a copy read whole: a collector that
 * restarts cuts a torn tail off its newest segment (R-REC-5), and touching
 * a mapped page past a new end of file would kill the process.  Returns 0
 * or a negative code; the mapping stays on failure.
 */
static int
copy_file(struct vfile *vf)
{
	uint8_t *b = NULL, *nb;
	size_t cap = 0, len = 0;
	ssize_t n;
	int fd, rc = CST_EIO;

	if ((fd = open(vf->path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1)
		return (CST_EIO);
	for (;;) {
		if (len == cap) {
			cap = cap == 0 ? vf->map.len + 65536 : cap * 2;
			if ((nb = realloc(b, cap)) == NULL) {
				rc = CST_ENOMEM;
				goto err0;
			}
			b = nb;
		}
		n = read(fd, b + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto err0;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	cst_map_close(&vf->map);
	vf->copy = b;
	vf->map.p = b;
	vf->map.len = len;
	return (0);

err0:
	free(b);
	close(fd);
	return (rc);
}

/* Reports the files that are not part of the walk. */
static void
report_unplaced(cst_verifier *v)
{
	char hex[2 * CST_CHAIN_ID_LEN + 1];
	struct vfile *vf;
	struct fnd f;
	size_t i;

	for (i = 0; i < v->nfiles; i++) {
		vf = &v->files[i];
		fnd_init(&f, CST_SEV_FAILURE, CST_ECORRUPT, "R-SEG-1");
		fnd_file(&f, vf, 0);
		switch (vf->place) {
		case PLACE_FOREIGN:
			cst_hex(vf->hdr.chain_id, CST_CHAIN_ID_LEN, hex);
			f.rule = "R-SEG-3";
			f.code = CST_EFOREIGN;
			report(v, &f, "this segment belongs to another chain "
			    "(chain id %s) and is not part of the evidence",
			    hex);
			break;
		case PLACE_DUP:
			f.rule = "R-SEG-2";
			f.code = CST_ESEQ;
			report(v, &f, "a second file claims segment %" PRIu64
			    " (the chain uses %s): a duplicated or replayed "
			    "segment", vf->segno, v->files[vf->dup_of].path);
			break;
		case PLACE_UNREADABLE:
			if (vf->mapped) {
				report(v, &f, "not a segment file: its header "
				    "is invalid (%s), its name gives no "
				    "number and no block of this chain "
				    "follows it", cst_strerror(vf->hdr_rc));
			} else {
				f.sev = CST_SEV_ERROR;
				f.code = vf->hdr_rc;
				report(v, &f, "cannot read the file (%s): "
				    "nothing in it is verified",
				    cst_strerror(vf->hdr_rc));
			}
			break;
		default:
			break;
		}
	}
}

/* Walks the chain's segments in order. */
static void
walk(cst_verifier *v)
{
	struct vfile *vf;
	struct item *it;
	struct fnd f;
	size_t i, fi;

	for (i = 0; i < v->norder; i++) {
		fi = v->order[i];
		vf = &v->files[fi];
		if (vf->missing_from != CST_NONE) {
			fnd_init(&f, CST_SEV_FAILURE, CST_ENOENT, "R-SEG-2");
			f.segno = vf->missing_from;
			queue_finding(v, fi, &f, vf->missing_from ==
			    vf->missing_to ? fmt("segment %" PRIu64 " is "
			    "missing", vf->missing_from) : fmt("segments %"
			    PRIu64 "..%" PRIu64 " are missing",
			    vf->missing_from, vf->missing_to));
		}
		it = item_new(v, IT_SEG_BEGIN, fi, 0);
		item_push(v, it);

		/* R-SEG-1 */
		fnd_init(&f, CST_SEV_FAILURE, vf->hdr_rc, "R-SEG-1");
		fnd_file(&f, vf, 0);
		if (!vf->mapped) {
			f.sev = CST_SEV_ERROR;
			f.damage = f.io = 1;
			queue_finding(v, fi, &f, fmt("cannot read the file (%s): "
			    "nothing in this segment is verified",
			    cst_strerror(vf->hdr_rc)));
			it = item_new(v, IT_SEG_END, fi, 0);
			item_push(v, it);
			continue;
		}
		/*
		 * Even the newest: a writer renames a segment into place only
		 * once its header is written (R-SEG-6).
		 */
		if (vf->hdr_rc == CST_ETRUNC) {
			f.damage = 1;
			queue_finding(v, fi, &f, fmt("the file is shorter than "
			    "a segment header (%zu bytes)", vf->map.len));
		} else if (vf->hdr_rc != 0) {
			queue_finding(v, fi, &f, fmt("the segment header is "
			    "invalid (%s): altered or damaged",
			    cst_strerror(vf->hdr_rc)));
		}
		scan_file(v, fi);
	}
}

/* File digests, on a thread of their own. */

static void *
digest_main(void *arg)
{
	uint8_t b2[CST_OPEN_MAX][CST_HASH_LEN];
	const uint8_t *data[CST_OPEN_MAX];
	size_t len[CST_OPEN_MAX];
	cst_verifier *v = arg;
	cst_seg_info *si;
	struct vfile *vf;
	size_t i, j, n;
	int ok;

	/*
	 * SHA-256 file by file; BLAKE2b of several files at once, in SIMD
	 * lanes (a file's BLAKE2b is one serial hash).
	 */
	for (i = 0; i < v->nfiles; i += n) {
		for (n = 0; i + n < v->nfiles && n < CST_OPEN_MAX; n++) {
			vf = &v->files[i + n];
			data[n] = vf->map.p;
			len[n] = vf->mapped ? vf->map.len : 0;
		}
		cst_b2b_hash_many_with(CST_B2B_AVX512, b2[0], CST_HASH_LEN,
		    NULL, 0, data, len, n);
		for (j = 0; j < n; j++) {
			vf = &v->files[i + j];
			if (!vf->mapped)
				continue;
			si = &v->segs[vf->info];
			ok = EVP_Digest(vf->map.p, vf->map.len,
			    si->digests.sha256, NULL, EVP_sha256(), NULL) == 1;
			memcpy(si->digests.blake2b, b2[j], CST_HASH_LEN);
			si->has_digests = ok;
		}
	}
	return (NULL);
}

/*
 * SHA-256 comes from OpenSSL, which uses the CPU's SHA instructions
 * where it has them (about four times libsodium's speed here): an
 * investigator's report digests every input file.
 */
struct digester {
	EVP_MD_CTX *sha;
	cst_b2b b2;
};

static int
digester_init(struct digester *d, cst_digests *out)
{

	if ((d->sha = EVP_MD_CTX_new()) == NULL)
		return (CST_ENOMEM);
	if (EVP_DigestInit_ex(d->sha, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(d->sha);
		return (CST_ENOMEM);
	}
	cst_b2b_init(&d->b2, sizeof(out->blake2b));
	return (0);
}

/* Returns 0 or CST_ENOMEM. */
static int
digester_update(struct digester *d, const uint8_t *p, size_t len)
{

	cst_b2b_update(&d->b2, p, len);
	return (EVP_DigestUpdate(d->sha, p, len) == 1 ? 0 : CST_ENOMEM);
}

/* Writes the digests and frees d, also after a failure (out is then junk). */
static int
digester_final(struct digester *d, cst_digests *out)
{
	unsigned int n = 0;
	int ok;

	ok = EVP_DigestFinal_ex(d->sha, out->sha256, &n) == 1 &&
	    n == sizeof(out->sha256);
	EVP_MD_CTX_free(d->sha);
	cst_b2b_final(&d->b2, out->blake2b);
	return (ok ? 0 : CST_ENOMEM);
}

int
cst_digests_compute(const uint8_t *p, size_t len, cst_digests *out)
{
	struct digester d;
	size_t n;
	int rc;

	if ((rc = digester_init(&d, out)) != 0)
		return (rc);
	/* In slices, so that both stay in cache between the two. */
	while (len > 0 && rc == 0) {
		n = len < (1u << 20) ? len : (1u << 20);
		rc = digester_update(&d, p, n);
		p += n;
		len -= n;
	}
	if (digester_final(&d, out) != 0 || rc != 0)
		return (CST_ENOMEM);
	return (0);
}

int
cst_digests_file(const char *path, cst_digests *out, uint64_t *size)
{
	struct digester d;
	uint8_t buf[65536];
	uint64_t total = 0;
	ssize_t n;
	int fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1)
		return (errno == ENOENT ? CST_ENOENT : CST_EIO);
	if ((rc = digester_init(&d, out)) != 0)
		goto err1;
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = CST_EIO;
			goto err2;
		}
		if (n == 0)
			break;
		if ((rc = digester_update(&d, buf, (size_t)n)) != 0)
			goto err2;
		total += (uint64_t)n;
	}
	close(fd);
	if ((rc = digester_final(&d, out)) != 0)
		return (rc);
	*size = total;
	return (0);

err2:
	(void)digester_final(&d, out);
err1:
	close(fd);
	return (rc);
}

/* Quarantine files no recovery record explains. */
static void
report_quarantine(cst_verifier *v)
{
	struct dirent *e;
	struct fnd f;
	DIR *d;
	size_t i;
	int known;

	if (v->quarantine_dir == NULL ||
	    (d = opendir(v->quarantine_dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		known = 0;
		for (i = 0; i < v->nrecs && !known; i++)
			known = strcmp(v->recs[i].quarantine, e->d_name) == 0;
		if (known || v->sum.recoveries > v->nrecs)
			continue;
		fnd_init(&f, CST_SEV_WARNING, CST_ENOENT, "R-REC-5");
		f.path = v->quarantine_dir;
		report(v, &f, "quarantine/%s is not named by any recovery "
		    "record in the chain: a crash recovery that was not "
		    "recorded, or a file put there by hand", e->d_name);
	}
	closedir(d);
}

/* The verifier. */

cst_verifier *
cst_verifier_new(const cst_root_pub *root, const cst_verify_opts *opts,
    cst_finding_cb cb, void *ctx)
{
	cst_verifier *v;

	if (sodium_init() < 0)
		goto err0;
	if ((v = calloc(1, sizeof(*v))) == NULL)
		goto err0;
	v->root = *root;
	if (opts != NULL)
		v->opts = *opts;
	v->opts.quarantine_dir = NULL;
	if (opts != NULL && opts->quarantine_dir != NULL &&
	    (v->quarantine_dir = strdup(opts->quarantine_dir)) == NULL)
		goto err1;
	v->cb = cb;
	v->ctx = ctx;
	memcpy(v->sum.chain_id, root->chain_id, CST_CHAIN_ID_LEN);
	v->sum.first_seq = v->sum.last_seq = CST_NONE;
	return (v);

err1:
	free(v);
err0:
	return (NULL);
}

static void
free_strs(char **s, size_t n)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < n; i++)
		free(s[i]);
	free(s);
}

void
cst_verifier_free(cst_verifier *v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < v->nfiles; i++) {
		if (v->files[i].copy != NULL)
			free(v->files[i].copy);
		else if (v->files[i].mapped)
			cst_map_close(&v->files[i].map);
		free(v->files[i].path);
	}
	free(v->files);
	free(v->order);
	free(v->segs);
	free(v->epochs);
	free(v->blocks);
	free(v->recs);
	free_strs(v->recs_strs, 2 * v->nrecs);
	free(v->losses);
	free_strs(v->loss_strs, 2 * v->nlosses);
	free(v->unproven);
	free(v->ckps);
	free_strs(v->ckp_strs, 2 * v->nckps);
	free(v->pend.detail);
	free(v->quarantine_dir);
	free(v);
}

static int
start_threads(cst_verifier *v)
{
	size_t i;

	/*
	 * Room for every worker's batch of frames and as many again
	 * waiting, so that a worker coming back finds a full batch.
	 */
	v->cap = 2 * CST_OPEN_MAX * ((size_t)v->opts.threads + 1);
	if ((v->ring = calloc(v->cap, sizeof(*v->ring))) == NULL)
		return (CST_ENOMEM);
	if (v->opts.threads == 0)
		return (openers_new(v->openers));
	if ((v->threads = calloc(v->opts.threads, sizeof(*v->threads))) ==
	    NULL)
		return (CST_ENOMEM);
	if (pthread_mutex_init(&v->mtx, NULL) != 0)
		return (CST_EIO);
	if (pthread_cond_init(&v->cv_work, NULL) != 0) {
		pthread_mutex_destroy(&v->mtx);
		return (CST_EIO);
	}
	if (pthread_cond_init(&v->cv_done, NULL) != 0) {
		pthread_cond_destroy(&v->cv_work);
		pthread_mutex_destroy(&v->mtx);
		return (CST_EIO);
	}
	v->sync_ok = 1;
	for (i = 0; i < v->opts.threads; i++) {
		if (pthread_create(&v->threads[i], NULL, worker_main, v) != 0)
			break;
		v->nthreads++;
	}
	/* Fewer threads than asked still verify; none means inline. */
	if (v->nthreads == 0)
		return (openers_new(v->openers));
	return (0);
}

static void
stop_threads(cst_verifier *v)
{
	size_t i;

	if (v->sync_ok) {
		pthread_mutex_lock(&v->mtx);
		v->quit = 1;
		pthread_cond_broadcast(&v->cv_work);
		pthread_mutex_unlock(&v->mtx);
		for (i = 0; i < v->nthreads; i++)
			pthread_join(v->threads[i], NULL);
		pthread_cond_destroy(&v->cv_done);
		pthread_cond_destroy(&v->cv_work);
		pthread_mutex_destroy(&v->mtx);
		v->sync_ok = 0;
	}
	free(v->threads);
	v->threads = NULL;
	v->nthreads = 0;
	openers_free(v->openers);
	if (v->ring != NULL)
		for (i = 0; i < v->cap; i++)
			item_clear(&v->ring[i]);
	free(v->ring);
	v->ring = NULL;
}

int
cst_verifier_run(cst_verifier *v, const char *const *paths, size_t n)
{
	pthread_t dt;
	int digesting = 0, rc;
	size_t i;

	if (v->ran)
		return (CST_EINVAL);
	v->ran = 1;
	if ((v->files = calloc(n + 1, sizeof(*v->files))) == NULL)
		return (CST_ENOMEM);
	for (i = 0; i < n; i++) {
		if ((v->files[i].path = strdup(paths[i])) == NULL)
			return (CST_ENOMEM);
		v->nfiles++;
	}
	for (i = 0; i < n; i++)
		place_file(v, i);
	if ((rc = place_all(v)) != 0)
		return (rc);
	if (v->opts.live && v->norder > 0 &&
	    v->files[v->order[v->norder - 1]].mapped) {
		struct vfile *nf = &v->files[v->order[v->norder - 1]];

		if ((rc = copy_file(nf)) == CST_ENOMEM)
			return (rc);
		v->segs[nf->info].size = nf->map.len;
	}
	for (i = 0; i < v->norder; i++)
		v->total_bytes += v->files[v->order[i]].map.len;
	v->sum.bytes = v->total_bytes;

	if (v->opts.digests &&
	    pthread_create(&dt, NULL, digest_main, v) == 0)
		digesting = 1;

	/* The start of the chain: block 0, seq 0, no previous hash. */
	v->cs.anchored = 1;
	v->cs.epoch_known = 1;
	memcpy(v->cs.prev_hash, zero_hash, CST_HASH_LEN);

	report_unplaced(v);
	if ((rc = start_threads(v)) == 0) {
		walk(v);
		while (v->head < v->tail)
			consume_one(v);
	}
	stop_threads(v);
	flush_pending(v);
	if (rc == 0)
		report_quarantine(v);
	flush_pending(v);
	if (digesting)
		pthread_join(dt, NULL);
	progress(v, v->total_bytes);
	if (rc != 0)
		return (rc);
	return (v->rc);
}

/* Checkpoints. */

static const struct blkent *
find_block(const cst_verifier *v, uint64_t block_no)
{
	size_t lo = 0, hi = v->nblocks, mid;

	/* Authentic blocks are kept in increasing block_no. */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (v->blocks[mid].block_no < block_no)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < v->nblocks && v->blocks[lo].block_no == block_no)
		return (&v->blocks[lo]);
	return (NULL);
}

static int
ckp_add(cst_verifier *v, const char *path, cst_ckp_info **out)
{
	cst_ckp_info *n;
	char *p = NULL;

	if (path != NULL && (p = strdup(path)) == NULL)
		return (CST_ENOMEM);
	if ((n = realloc(v->ckps, (v->nckps + 1) * sizeof(*n))) == NULL)
		goto err0;
	v->ckps = n;
	if (keep_strs(&v->ckp_strs, v->nckps, p, NULL) != 0)
		goto err0;
	*out = &n[v->nckps++];
	memset(*out, 0, sizeof(**out));
	(*out)->path = p;
	(*out)->why = "";
	return (0);

err0:
	free(p);
	return (CST_ENOMEM);
}

/* Reports checkpoint failure f (text detail, taken) and keeps its text. */
static void
ckp_fail(cst_verifier *v, cst_ckp_info *ci, size_t idx, struct fnd *f,
    char *detail)
{

	ci->ok = 0;
	if (detail != NULL) {
		free(v->ckp_strs[2 * idx + 1]);
		v->ckp_strs[2 * idx + 1] = strdup(detail);
		if (v->ckp_strs[2 * idx + 1] != NULL)
			ci->why = v->ckp_strs[2 * idx + 1];
	}
	emit(v, f, detail);
}

int
cst_verifier_check_checkpoint(cst_verifier *v, const cst_checkpoint *cp,
    const char *path)
{
	char want[2 * CST_HASH_LEN + 1], got[2 * CST_HASH_LEN + 1];
	const struct blkent *b;
	cst_ckp_info *ci;
	struct fnd f;
	size_t idx;
	int rc;

	if (!v->ran)
		return (CST_EINVAL);
	if ((rc = ckp_add(v, path, &ci)) != 0)
		return (rc);
	idx = v->nckps - 1;
	ci->blocks = cp->blocks;
	ci->records = cp->records;
	memcpy(ci->head, cp->head, CST_HASH_LEN);
	ci->time_ns = cp->time_ns;
	ci->epoch = cp->epoch;
	fnd_init(&f, CST_SEV_FAILURE, 0, "R-CKP-1");
	f.path = ci->path;

	/* R-CKP-1 */
	if ((rc = cst_checkpoint_verify(cp, &v->root)) == CST_ENOMEM)
		return (rc);
	if (rc != 0) {
		f.code = rc;
		ckp_fail(v, ci, idx, &f, rc == CST_EFOREIGN ? fmt("the "
		    "checkpoint belongs to another chain") : fmt("the "
		    "checkpoint's signature or key certificates do not verify "
		    "(%s): it is forged or altered", cst_strerror(rc)));
		return (v->rc);
	}

	/* R-CKP-2 */
	f.rule = "R-CKP-2";
	hex32(cp->head, want);
	if (cp->blocks == 0) {
		ci->ok = cp->records == 0;
		if (!ci->ok) {
			f.code = CST_ECORRUPT;
			ckp_fail(v, ci, idx, &f, fmt("the checkpoint names no "
			    "block but %" PRIu64 " records", cp->records));
		}
		return (v->rc);
	}
	f.b0 = f.b1 = cp->blocks - 1;
	if ((b = find_block(v, cp->blocks - 1)) == NULL) {
		if (!v->sum.has_head || v->sum.head_block_no < cp->blocks - 1) {
			f.code = CST_ETRUNC;
			/*
			 * A store being written may have grown past what was
			 * read, and a newer checkpoint been made since.
			 */
			if (v->opts.live) {
				f.sev = CST_SEV_ERROR;
				ckp_fail(v, ci, idx, &f, fmt("the checkpoint "
				    "states the chain had %" PRIu64 " blocks; "
				    "the store, being written, was read up to "
				    "%" PRIu64 ": this cannot tell a truncation "
				    "from growth since the read; verify again "
				    "without --live once the collector has "
				    "stopped", cp->blocks, v->sum.has_head ?
				    v->sum.head_block_no + 1 : 0));
				return (v->rc);
			}
			ckp_fail(v, ci, idx, &f, v->sum.has_head ? fmt("the "
			    "checkpoint states the chain had %" PRIu64
			    " blocks and %" PRIu64 " records; the store ends "
			    "at block %" PRIu64 " (%" PRIu64 " records): its "
			    "newest data was removed or the store was rolled "
			    "back", cp->blocks, cp->records,
			    v->sum.head_block_no, v->sum.head_next_seq) :
			    fmt("the checkpoint states the chain had %" PRIu64
			    " blocks; the store holds none that verifies",
			    cp->blocks));
		} else {
			f.code = CST_ENOENT;
			ckp_fail(v, ci, idx, &f, fmt("block %" PRIu64 ", the "
			    "checkpoint's head, is not among the blocks that "
			    "verify (lost or damaged)", cp->blocks - 1));
		}
		return (v->rc);
	}
	if (sodium_memcmp(b->hash, cp->head, CST_HASH_LEN) != 0) {
		hex32(b->hash, got);
		f.code = CST_ECHAIN;
		ckp_fail(v, ci, idx, &f, fmt("block %" PRIu64 " in the store "
		    "(hash %s) is not the checkpoint's head (hash %s): the "
		    "chain was altered or replaced after the checkpoint (a "
		    "rollback or fork)", cp->blocks - 1, got, want));
		return (v->rc);
	}
	if (b->next_seq != cp->records) {
		f.code = CST_ESEQ;
		ckp_fail(v, ci, idx, &f, fmt("the checkpoint counts %" PRIu64
		    " records up to block %" PRIu64 "; the store counts %"
		    PRIu64, cp->records, cp->blocks - 1, b->next_seq));
		return (v->rc);
	}
	ci->ok = 1;
	if (!v->sum.has_anchor || cp->blocks > v->sum.anchor_blocks) {
		v->sum.has_anchor = 1;
		v->sum.anchor_blocks = cp->blocks;
		v->sum.anchor_records = cp->records;
	}
	return (v->rc);
}

int
cst_verifier_check_checkpoint_file(cst_verifier *v, const char *path,
    cst_digests *digests)
{
	cst_checkpoint cp;
	cst_ckp_info *ci;
	struct fnd f;
	cst_map m;
	int rc;

	if (!v->ran)
		return (CST_EINVAL);
	fnd_init(&f, CST_SEV_ERROR, 0, "R-CKP-1");
	f.path = path;
	if ((rc = cst_map_open(path, &m)) != 0) {
		f.code = rc;
		report(v, &f, "cannot read the checkpoint file (%s)",
		    cst_strerror(rc));
		return (v->rc);
	}
	if (digests != NULL && (rc = cst_digests_compute(m.p, m.len,
	    digests)) != 0) {
		cst_map_close(&m);
		return (rc);
	}
	memset(&cp, 0, sizeof(cp));
	rc = cst_checkpoint_decode((const char *)m.p, m.len, &cp);
	cst_map_close(&m);
	if (rc == CST_ENOMEM)
		return (rc);
	if (rc != 0) {
		if ((rc = ckp_add(v, path, &ci)) != 0)
			return (rc);
		f.sev = CST_SEV_FAILURE;
		f.code = CST_EPARSE;
		ckp_fail(v, ci, v->nckps - 1, &f, fmt("not a checkpoint in the "
		    "exact form of SPEC section 8: altered or not a "
		    "checkpoint"));
		return (v->rc);
	}
	rc = cst_verifier_check_checkpoint(v, &cp, path);
	cst_checkpoint_close(&cp);
	return (rc);
}

/* Accessors. */

const cst_verify_summary *
cst_verifier_summary(const cst_verifier *v)
{

	return (&v->sum);
}

const cst_seg_info *
cst_verifier_segments(const cst_verifier *v, size_t *n)
{

	*n = v->nsegs;
	return (v->segs);
}

const cst_epoch_info *
cst_verifier_epochs(const cst_verifier *v, size_t *n)
{

	*n = v->nepochs;
	return (v->epochs);
}

const cst_recovery_info *
cst_verifier_recoveries(const cst_verifier *v, size_t *n)
{

	*n = v->nrecs;
	return (v->recs);
}

const cst_loss_info *
cst_verifier_losses(const cst_verifier *v, size_t *n)
{

	*n = v->nlosses;
	return (v->losses);
}

const cst_unproven *
cst_verifier_unproven(const cst_verifier *v, size_t *n)
{

	*n = v->nunproven;
	return (v->unproven);
}

const cst_ckp_info *
cst_verifier_checkpoints(const cst_verifier *v, size_t *n)
{

	*n = v->nckps;
	return (v->ckps);
}
