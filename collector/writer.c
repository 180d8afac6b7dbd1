/*
 * The segment writer stage: chain order, signatures, appends, group
 * commit, segment and key rotation, checkpoints.
 *
 * Everything that touches the chain state, the key or the segment file
 * happens on the writer thread, so none of it needs a lock; the lock
 * guards only the hand-over list and the tunables.  The chain tree's node
 * store has its own lock (treestore.h): proofs are served from it by
 * other threads while this one appends.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "custody/block.h"
#include "custody/checkpoint.h"
#include "custody/error.h"
#include "custody/hash.h"
#include "custody/logkey.h"
#include "custody/segment.h"

#include "ckptfiles.h"
#include "clock.h"
#include "log.h"
#include "treestore.h"
#include "writer.h"

#define PATH_LEN 4096
/* How often the chain tree's nodes are synced (treestore_sync). */
#define TREE_SYNC_S 60
/* How long a new segment that cannot be created is retried. */
#define SEGMENT_RETRY_S 60

struct writer {
	/* Shared with other threads, under mtx. */
	pthread_mutex_t mtx;
	pthread_cond_t cond;
	struct batch *ready;     /* handed over, sorted by batch number */
	struct writer_cfg cfg;

	/* The writer thread's own. */
	struct writer_cfg cur;   /* the tunables in force */
	uint64_t next_no;        /* the batch number to write next */
	cst_chain_state st;
	cst_epoch_key *key;
	cst_segw *seg;
	uint64_t seg_blocks;     /* blocks in seg, appended or written */
	int64_t seg_created_ns;
	struct batch *pend_head; /* written, not yet durable */
	struct batch *pend_tail;
	uint64_t pend_blocks;
	uint64_t pend_records;
	int dirty;
	int64_t last_sync;       /* CLOCK_MONOTONIC ns */
	/*
	 * Group commit (writer_hurry): once every batch up to hurry_no is
	 * written, commit without waiting out commit_interval.  Under mtx.
	 */
	int hurry;
	uint64_t hurry_no;
	int64_t last_ckpt;
	uint64_t ckpt_blocks;    /* blocks the newest checkpoint covers */
	cst_buf frame;
	cst_buf ckpt;
	/* A checkpoint whose token is being fetched: not pruned (R-TSA-4). */
	_Atomic uint64_t pinned;

	/* Note checkpoints (SPEC 13); lk NULL: none are written. */
	cst_log_key *lk;
	cst_log_cert lcert;
	struct treestore *tree;  /* borrowed */
	int tree_broken;
	int64_t tree_synced;     /* CLOCK_MONOTONIC ns of the last sync */
	cst_buf note;
	cst_buf certtext;
	int cert_stored;         /* log.cert written to: 1 store, 2 export */

	char segdir[PATH_LEN];
	char keypath[PATH_LEN];
	char ckptdir[PATH_LEN];
	struct writer_ops ops;
	void *ctx;
	struct writer_stats stats;
	pthread_t thr;
	int started;
	char msg[256];           /* what failed, for ops.fatal */
};


#define STAT_ADD(w, f, v)                                                     \
	atomic_fetch_add_explicit(&(w)->stats.f, (v), memory_order_relaxed)
#define STAT_SET(w, f, v)                                                     \
	atomic_store_explicit(&(w)->stats.f, (v), memory_order_relaxed)

static int
create_segment(struct writer *w)
{
	char name[32], path[PATH_LEN];
	cst_seg_hdr h;
	int rc;

	cst_segment_name(w->st.segment_no, name);
	if (snprintf(path, sizeof(path), "%s/%s", w->segdir, name) >=
	    (int)sizeof(path))
		return (CST_EIO);
	cst_chain_seg_hdr(&w->st, clock_real_ns(), &h);
	if ((rc = cst_segw_create(path, &h, &w->seg)) != 0) {
		log_seterr(w->msg, sizeof(w->msg), "%s: cannot create: %s",
		    path, cst_strerror(rc));
		return (rc);
	}
	w->seg_created_ns = h.created_ns;
	w->seg_blocks = 0;
	STAT_SET(w, segment_no, w->st.segment_no);
	return (0);
}

int
writer_new(const char *data_dir, const struct writer_cfg *cfg,
    cst_epoch_key *key, const struct recovery *rec,
    const struct writer_ops *ops, void *ctx, struct writer **out,
    char err[256])
{
	struct writer *w;
	pthread_condattr_t ca;
	char name[32], path[PATH_LEN];
	int rc = CST_ENOMEM;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		goto err0;
	rc = CST_EIO;
	if (snprintf(w->segdir, PATH_LEN, "%s/segments", data_dir) >=
	    PATH_LEN ||
	    snprintf(w->keypath, PATH_LEN, "%s/keys/epoch.key", data_dir) >=
	    PATH_LEN ||
	    snprintf(w->ckptdir, PATH_LEN, "%s/checkpoints", data_dir) >=
	    PATH_LEN) {
		log_seterr(err, 256, "%s: path too long", data_dir);
		goto err1;
	}
	pthread_mutex_init(&w->mtx, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &ca);
	pthread_condattr_destroy(&ca);
	w->cfg = *cfg;
	w->cur = *cfg;
	w->st = rec->st;
	w->ops = *ops;
	w->ctx = ctx;
	cst_buf_init(&w->frame);
	cst_buf_init(&w->ckpt);
	cst_buf_init(&w->note);
	cst_buf_init(&w->certtext);
	w->last_sync = clock_mono_ns();
	/* The first commit writes a checkpoint at once. */
	w->last_ckpt = w->last_sync - (int64_t)cfg->checkpoint_interval_ms *
	    NS_PER_MS;

	if (rec->append) {
		cst_segment_name(rec->st.segment_no, name);
		if (snprintf(path, sizeof(path), "%s/%s", w->segdir, name) >=
		    (int)sizeof(path))
			goto err3;
		if ((rc = cst_segw_open(path, rec->append_len, &w->seg)) != 0) {
			log_seterr(err, 256, "%s: cannot open for appending: "
			    "%s", path, cst_strerror(rc));
			goto err3;
		}
		w->seg_created_ns = rec->seg_created_ns;
		w->seg_blocks = rec->append_len > CST_SEG_HDR_LEN;
		STAT_SET(w, segment_no, w->st.segment_no);
	} else if ((rc = create_segment(w)) != 0) {
		log_seterr(err, 256, "%s", w->msg);
		goto err3;
	}
	STAT_SET(w, next_block_no, w->st.next_block_no);
	/*
	 * The run before may have checkpointed this very size: that file
	 * stays as it is (R-CKP-6), since a copy of it may be in a replica.
	 */
	ckptfiles_name(w->st.next_block_no, "ckpt", name);
	if (snprintf(path, sizeof(path), "%s/%s", w->ckptdir, name) <
	    (int)sizeof(path) && access(path, F_OK) == 0)
		w->ckpt_blocks = w->st.next_block_no;
	/* What recovery kept is on disk: the replicas may have it. */
	STAT_SET(w, durable_blocks, w->st.next_block_no);
	STAT_SET(w, epoch, key->epoch);
	w->key = key;
	*out = w;
	return (0);

err3:
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->mtx);
err1:
	free(w);
err0:
	if (rc == CST_ENOMEM)
		log_seterr(err, 256, "%s", cst_strerror(rc));
	return (rc);
}

/*
 * Adds the block just written (its hash is the chain state's prev_hash)
 * to the chain tree.  A node store that cannot be written stops the note
 * checkpoints, not the collector: the blocks and the v1 checkpoints are
 * the evidence, the tree is derived from them.
 */
static void
tree_add(struct writer *w)
{
	int rc;

	if (w->tree == NULL || w->tree_broken)
		return;
	if ((rc = treestore_append(w->tree, w->st.prev_hash)) != 0) {
		w->tree_broken = 1;
		log_warn("chain tree: cannot write a node: %s; no further note "
		    "checkpoints until restart", cst_strerror(rc));
	}
}

/* Places d in the chain, signs it and appends its frame. */
static int
write_block(struct writer *w, const cst_draft *d)
{
	int rc;

	w->frame.len = 0;
	if ((rc = cst_block_finish(d, &w->st, w->key, clock_real_ns(),
	    &w->frame, NULL)) != 0) {
		log_seterr(w->msg, sizeof(w->msg), "block %" PRIu64 ": %s",
		    w->st.next_block_no, cst_strerror(rc));
		return (rc);
	}
	if ((rc = cst_segw_append(w->seg, w->frame.p, w->frame.len)) != 0) {
		log_seterr(w->msg, sizeof(w->msg), "segment %" PRIu64
		    ": write: %s", w->st.segment_no, strerror(errno));
		return (rc);
	}
	w->dirty = 1;
	w->seg_blocks++;
	tree_add(w);
	STAT_ADD(w, bytes, w->frame.len);
	STAT_SET(w, next_block_no, w->st.next_block_no);
	return (0);
}

/*
 * Writes the checkpoint in w->ckpt to dir as the numbered one of its
 * history, trims the history, and then makes it latest.ckpt, so that
 * whoever sees a new latest.ckpt sees the history it belongs to (R-CKP-6).
 */
static int
store_checkpoint(struct writer *w, const char *dir)
{
	char name[CKPTFILES_NAME_LEN];
	int rc;

	ckptfiles_name(w->st.next_block_no, "ckpt", name);
	if ((rc = ckptfiles_write(dir, name, w->ckpt.p, w->ckpt.len)) != 0)
		return (rc);
	ckptfiles_prune(dir, w->cur.checkpoint_history > 0 ?
	    w->cur.checkpoint_history : 1, &w->pinned);
	return (ckptfiles_write(dir, "latest.ckpt", w->ckpt.p, w->ckpt.len));
}

/*
 * Writes the note checkpoint in w->note to dir as ckpt-<size>.note and
 * latest.note, with the same history as the .ckpt files, and log.cert
 * beside it once per run (R-TLOG-4, R-NOTE-7).  which is 1 for the store,
 * 2 for the export directory.
 */
static int
store_note(struct writer *w, const char *dir, int which)
{
	char name[CKPTFILES_NAME_LEN];
	int rc;

	if (!(w->cert_stored & which)) {
		if ((rc = ckptfiles_write(dir, "log.cert", w->certtext.p,
		    w->certtext.len)) != 0)
			return (rc);
		w->cert_stored |= which;
	}
	/* Trimmed with its .ckpt by store_checkpoint (ckptfiles_prune). */
	ckptfiles_name(w->st.next_block_no, "note", name);
	if ((rc = ckptfiles_write(dir, name, w->note.p, w->note.len)) != 0)
		return (rc);
	return (ckptfiles_write(dir, "latest.note", w->note.p, w->note.len));
}

/*
 * Makes the note checkpoint of the chain tree at the chain's size into
 * w->note.  Returns 0, or CST_ENOENT when none is to be written (no log
 * key, or a broken node store), or an error.
 */
static int
make_note(struct writer *w)
{
	uint8_t root[CST_HASH_LEN];
	int rc;

	if (w->lk == NULL || w->tree == NULL || w->tree_broken)
		return (CST_ENOENT);
	if (treestore_size(w->tree) != w->st.next_block_no)
		return (CST_ECORRUPT);
	/*
	 * The nodes are derived data: synced now and then, not with every
	 * note, so that a checkpoint costs no fdatasync of a dozen files.
	 */
	if (clock_mono_ns() - w->tree_synced >= TREE_SYNC_S * NS_PER_S) {
		if ((rc = treestore_sync(w->tree)) != 0)
			return (rc);
		w->tree_synced = clock_mono_ns();
	}
	if ((rc = treestore_root(w->tree, w->st.next_block_no, root)) != 0)
		return (rc);
	w->note.len = 0;
	return (cst_log_note_encode(w->lk, w->st.next_block_no, root,
	    &w->note));
}

/* Signs and stores a checkpoint of the chain as now durable (SPEC 8). */
static void
checkpoint(struct writer *w)
{
	int notes, rc;

	if (w->st.next_block_no == 0)
		return;
	w->ckpt.len = 0;
	if ((rc = cst_checkpoint_encode(w->key, w->st.next_block_no,
	    w->st.next_seq, w->st.prev_hash, clock_real_ns(), &w->ckpt)) != 0)
		goto err;
	if ((rc = store_checkpoint(w, w->ckptdir)) != 0)
		goto err;
	w->ckpt_blocks = w->st.next_block_no;
	notes = (rc = make_note(w)) == 0;
	if ((rc != 0 && rc != CST_ENOENT) ||
	    (notes && (rc = store_note(w, w->ckptdir, 1)) != 0))
		goto err_note;
	if (notes && w->ops.note != NULL)
		w->ops.note(w->ctx, w->note.p, w->note.len,
		    w->st.next_block_no);
	if (w->cur.checkpoint_export_dir[0] != '\0' &&
	    ((rc = store_checkpoint(w, w->cur.checkpoint_export_dir)) != 0 ||
	    (notes && (rc = store_note(w, w->cur.checkpoint_export_dir,
	    2)) != 0))) {
		/* Logged once per failure streak: it may last. */
		if (atomic_load(&w->stats.checkpoint_errors) == 0)
			log_warn("cannot export the checkpoint to %s",
			    w->cur.checkpoint_export_dir);
		STAT_ADD(w, checkpoint_errors, 1);
		return;
	}
	STAT_SET(w, checkpoint_errors, 0);
	STAT_ADD(w, checkpoints, 1);
	return;

err:
	if (atomic_load(&w->stats.checkpoint_errors) == 0)
		log_warn("cannot write a checkpoint in %s: %s", w->ckptdir,
		    cst_strerror(rc));
	STAT_ADD(w, checkpoint_errors, 1);
	return;

err_note:
	/* The .ckpt is written; the note (SPEC 13) is what is missing. */
	if (atomic_load(&w->stats.checkpoint_errors) == 0)
		log_warn("cannot write a note checkpoint in %s: %s",
		    w->ckptdir, cst_strerror(rc));
	STAT_ADD(w, checkpoint_errors, 1);
}

/*
 * Makes every block written durable, then hands their batches back.
 * A checkpoint follows when one is due (or force).
 */
static int
commit(struct writer *w, int force_ckpt)
{
	struct batch *list;
	int64_t now;
	int rc;

	if (w->dirty && (rc = cst_segw_sync(w->seg)) != 0) {
		log_seterr(w->msg, sizeof(w->msg), "segment %" PRIu64
		    ": fdatasync: %s", w->st.segment_no, strerror(errno));
		return (rc);
	}
	now = clock_mono_ns();
	w->last_sync = now;
	w->dirty = 0;
	STAT_ADD(w, syncs, 1);
	STAT_SET(w, last_commit_ns, (uint64_t)clock_real_ns());
	STAT_SET(w, durable_blocks, w->st.next_block_no);
	STAT_ADD(w, blocks, w->pend_blocks);
	STAT_ADD(w, records, w->pend_records);
	w->pend_blocks = 0;
	w->pend_records = 0;
	if ((list = w->pend_head) != NULL) {
		w->pend_head = w->pend_tail = NULL;
		w->ops.durable(w->ctx, list);
	}
	/* One checkpoint per chain size (R-CKP-6): none again for no block. */
	if (w->st.next_block_no != w->ckpt_blocks && (force_ckpt ||
	    now - w->last_ckpt >= (int64_t)w->cur.checkpoint_interval_ms *
	    NS_PER_MS)) {
		checkpoint(w);
		w->last_ckpt = now;
	}
	return (0);
}

/* Ends the segment with a seal block (R-SEG-4, R-BLK-9), durably. */
static int
seal_segment(struct writer *w, int force_ckpt)
{
	cst_draft d;
	int64_t now = clock_real_ns();
	int rc;

	cst_draft_init(&d);
	if ((rc = cst_draft_build_seal(&d, w->st.next_seq, now)) != 0)
		goto err0;
	w->frame.len = 0;
	if ((rc = cst_block_finish(&d, &w->st, w->key, now, &w->frame,
	    NULL)) != 0)
		goto err0;
	if ((rc = cst_segw_append(w->seg, w->frame.p, w->frame.len)) != 0)
		goto err0;
	cst_draft_close(&d);
	w->dirty = 1;
	tree_add(w);
	STAT_ADD(w, bytes, w->frame.len);
	STAT_SET(w, next_block_no, w->st.next_block_no);
	return (commit(w, force_ckpt));

err0:
	cst_draft_close(&d);
	log_seterr(w->msg, sizeof(w->msg), "sealing segment %" PRIu64 ": %s",
	    w->st.segment_no, cst_strerror(rc));
	return (rc);
}

/*
 * Creates the next segment, retrying a failure that may pass (no
 * descriptor or no space left for a moment) with a back-off from 10 ms
 * doubling to 1 s, for at most SEGMENT_RETRY_S; then it is fatal.  The
 * segment before is sealed and durable, so nothing waits on the disk
 * meanwhile but the batches, and back-pressure holds the senders.
 */
static int
create_segment_retry(struct writer *w)
{
	int64_t start = clock_mono_ns(), delay = 10 * NS_PER_MS;
	struct timespec ts;
	unsigned tries = 0;
	int rc;

	while ((rc = create_segment(w)) != 0) {
		/* A file of that name is not ours to replace: no retry. */
		if (rc == CST_EEXIST || clock_mono_ns() - start >=
		    SEGMENT_RETRY_S * NS_PER_S)
			return (rc);
		if (tries++ % 10 == 0)
			log_warn("%s; retrying for up to %d s", w->msg,
			    SEGMENT_RETRY_S);
		ts.tv_sec = (time_t)(delay / NS_PER_S);
		ts.tv_nsec = (long)(delay % NS_PER_S);
		nanosleep(&ts, NULL);
		delay = delay * 2 > NS_PER_S ? NS_PER_S : delay * 2;
	}
	if (tries > 0)
		log_notice("segment %" PRIu64 " created after %u retries",
		    w->st.segment_no, tries);
	return (0);
}

static int
rotate_segment(struct writer *w)
{
	int rc;

	if ((rc = seal_segment(w, 0)) != 0)
		return (rc);
	if ((rc = cst_segw_close(w->seg)) != 0) {
		w->seg = NULL;
		log_seterr(w->msg, sizeof(w->msg), "segment %" PRIu64
		    ": close: %s", w->st.segment_no, cst_strerror(rc));
		return (rc);
	}
	w->seg = NULL;
	w->st.segment_no++;
	return (create_segment_retry(w));
}

static int
maybe_rotate_segment(struct writer *w)
{
	int64_t age;

	if (w->seg_blocks == 0)
		return (0);
	age = clock_real_ns() - w->seg_created_ns;
	if (cst_segw_size(w->seg) >= w->cur.segment_max_bytes ||
	    (w->cur.segment_max_age_s != 0 &&
	    age >= (int64_t)w->cur.segment_max_age_s * NS_PER_S))
		return (rotate_segment(w));
	return (0);
}

/*
 * Forward security (SPEC section 6): at a commit point -- every block
 * before it durable -- make the next epoch valid from the next block,
 * save it over the old key file, then wipe the old secret.  A crash
 * anywhere in between leaves a key file whose newest certificate matches
 * the chain (R-KEY-2): either the old key, or the new one valid from the
 * block the chain continues with.
 */
static int
maybe_rotate_key(struct writer *w)
{
	cst_epoch_key *nk;
	const cst_cert *c;
	char fpr[2 * CST_FPR_LEN + 1];
	int rc;

	if (w->cur.key_rotate_s == 0 || w->key->epoch != w->st.epoch)
		return (0);
	c = &w->key->certs[w->key->epoch - 1];
	if (clock_real_ns() - c->created_ns < (int64_t)w->cur.key_rotate_s *
	    NS_PER_S)
		return (0);
	if ((rc = commit(w, 0)) != 0)
		return (rc);
	if ((rc = cst_epoch_key_next(w->key, w->st.next_block_no,
	    clock_real_ns(), &nk)) != 0)
		goto err0;
	if ((rc = cst_epoch_key_save(nk, w->keypath)) != 0) {
		cst_epoch_key_free(nk);
		goto err0;
	}
	cst_epoch_key_free(w->key);
	w->key = nk;
	STAT_SET(w, epoch, nk->epoch);
	cst_key_fingerprint_hex(nk->pk, fpr);
	w->ops.key_epoch(w->ctx, nk->epoch, fpr);
	return (0);

err0:
	log_seterr(w->msg, sizeof(w->msg), "key rotation to epoch %" PRIu32
	    ": %s", w->key->epoch + 1, cst_strerror(rc));
	return (rc);
}

/*
 * When the writer must wake with nothing to write, CLOCK_MONOTONIC ns, or
 * -1: a checkpoint of durable blocks that none covers yet is due
 * checkpoint_interval after the one before, even when no block follows
 * (R-CKP-6); a key that has signed blocks is rotated on time even when no
 * more come, so that its theft reaches back at most key_rotate_s.
 */
static int64_t
idle_due(const struct writer *w)
{
	const cst_cert *c;
	int64_t due = -1, t;

	if (w->dirty)
		return (-1);
	if (w->st.next_block_no != w->ckpt_blocks)
		due = w->last_ckpt + (int64_t)w->cur.checkpoint_interval_ms *
		    NS_PER_MS;
	if (w->cur.key_rotate_s != 0 && w->key->epoch == w->st.epoch) {
		c = &w->key->certs[w->key->epoch - 1];
		t = clock_mono_ns() + (c->created_ns +
		    (int64_t)w->cur.key_rotate_s * NS_PER_S - clock_real_ns());
		if (due < 0 || t < due)
			due = t;
	}
	return (due);
}

/* The work idle_due waits for, once every block written is durable. */
static int
idle_work(struct writer *w)
{
	int64_t now = clock_mono_ns();

	if (w->dirty)
		return (0);
	if (w->st.next_block_no != w->ckpt_blocks && now - w->last_ckpt >=
	    (int64_t)w->cur.checkpoint_interval_ms * NS_PER_MS) {
		checkpoint(w);
		w->last_ckpt = now;
	}
	return (maybe_rotate_key(w));
}

static void
pend(struct writer *w, struct batch *bt)
{

	bt->next = NULL;
	if (w->pend_tail != NULL)
		w->pend_tail->next = bt;
	else
		w->pend_head = bt;
	w->pend_tail = bt;
}

/* Writes one batch in its turn.  Sets *stop after BATCH_STOP. */
static int
process(struct writer *w, struct batch *bt, int *stop)
{
	int rc;

	switch (bt->ctl) {
	case BATCH_DATA:
		if (bt->err != 0) {
			log_seterr(w->msg, sizeof(w->msg), "sealing batch %"
			    PRIu64 ": %s", bt->no, cst_strerror(bt->err));
			return (bt->err);
		}
		if ((rc = maybe_rotate_segment(w)) != 0 ||
		    (rc = maybe_rotate_key(w)) != 0 ||
		    (rc = write_block(w, &bt->draft)) != 0)
			return (rc);
		w->pend_blocks++;
		w->pend_records += bt->n;
		pend(w, bt);
		return (0);
	case BATCH_ROTATE:
		pend(w, bt);
		if (w->seg_blocks == 0)
			return (0);
		return (rotate_segment(w));
	default:
		pend(w, bt);
		if ((rc = seal_segment(w, 1)) != 0)
			return (rc);
		rc = cst_segw_close(w->seg);
		w->seg = NULL;
		if (rc != 0) {
			log_seterr(w->msg, sizeof(w->msg), "segment %" PRIu64
			    ": close: %s", w->st.segment_no,
			    cst_strerror(rc));
			return (rc);
		}
		*stop = 1;
		return (0);
	}
}

static void
free_list(struct batch *bt)
{
	struct batch *next;

	for (; bt != NULL; bt = next) {
		next = bt->next;
		cst_draft_close(&bt->draft);
		free(bt);
	}
}

/* A group commit is asked for and its batches are all taken.  Under mtx. */
static int
hurried(const struct writer *w)
{

	return (w->hurry && w->next_no > w->hurry_no);
}

static void *
writer_main(void *arg)
{
	struct writer *w = arg;
	struct batch *run, *last, *bt;
	struct timespec ts;
	int64_t due;
	int stop = 0, hurry;
	int rc = 0;

	pthread_setname_np(pthread_self(), "custodyd-write");
	pthread_mutex_lock(&w->mtx);
	for (;;) {
		/* Wait for the next batch in order, or for a commit due. */
		while (w->ready == NULL || w->ready->no != w->next_no) {
			if (hurried(w))
				break;
			if (!w->dirty) {
				if ((due = idle_due(w)) < 0) {
					pthread_cond_wait(&w->cond, &w->mtx);
					continue;
				}
			} else {
				due = w->last_sync +
				    (int64_t)w->cur.commit_interval_ms *
				    NS_PER_MS;
			}
			if (clock_mono_ns() >= due)
				break;
			ts.tv_sec = due / NS_PER_S;
			ts.tv_nsec = due % NS_PER_S;
			pthread_cond_timedwait(&w->cond, &w->mtx, &ts);
		}
		/* Take the whole run of consecutive batches at once. */
		run = last = NULL;
		while (w->ready != NULL && w->ready->no == w->next_no) {
			bt = w->ready;
			w->ready = bt->next;
			bt->next = NULL;
			if (last != NULL)
				last->next = bt;
			else
				run = bt;
			last = bt;
			w->next_no++;
		}
		w->cur = w->cfg;
		hurry = hurried(w);
		if (hurry)
			w->hurry = 0;
		pthread_mutex_unlock(&w->mtx);

		while ((bt = run) != NULL) {
			run = bt->next;
			bt->next = NULL;
			if ((rc = process(w, bt, &stop)) != 0) {
				if (bt->ctl == BATCH_DATA)
					free_list(bt);
				goto fatal;
			}
		}
		if (stop)
			return (NULL);
		if (((w->dirty && clock_mono_ns() >= w->last_sync +
		    (int64_t)w->cur.commit_interval_ms * NS_PER_MS) ||
		    (hurry && (w->dirty || w->pend_head != NULL))) &&
		    (rc = commit(w, 0)) != 0)
			goto fatal;
		if ((rc = idle_work(w)) != 0)
			goto fatal;
		pthread_mutex_lock(&w->mtx);
	}

fatal:
	free_list(run);
	w->ops.fatal(w->ctx, rc, w->msg);
	return (NULL);
}

int
writer_set_log(struct writer *w, cst_log_key *lk, const cst_log_cert *cert,
    struct treestore *tree)
{
	int rc;

	w->certtext.len = 0;
	if ((rc = cst_log_cert_encode(cert, &w->certtext)) != 0)
		return (rc);
	cst_log_key_free(w->lk);
	w->lk = lk;
	w->lcert = *cert;
	w->tree = tree;
	return (0);
}

int
writer_start(struct writer *w)
{

	if (pthread_create(&w->thr, NULL, writer_main, w) != 0)
		return (CST_ENOMEM);
	w->started = 1;
	return (0);
}

void
writer_put(struct writer *w, struct batch *bt)
{
	struct batch **pp;

	pthread_mutex_lock(&w->mtx);
	for (pp = &w->ready; *pp != NULL && (*pp)->no < bt->no;
	    pp = &(*pp)->next)
		;
	bt->next = *pp;
	*pp = bt;
	if (w->ready->no == w->next_no)
		pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->mtx);
}

void
writer_hurry(struct writer *w, uint64_t no)
{

	pthread_mutex_lock(&w->mtx);
	if (!w->hurry || no > w->hurry_no)
		w->hurry_no = no;
	w->hurry = 1;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->mtx);
}

void
writer_set_cfg(struct writer *w, const struct writer_cfg *cfg)
{

	pthread_mutex_lock(&w->mtx);
	w->cfg = *cfg;
	pthread_mutex_unlock(&w->mtx);
}

void
writer_pin(struct writer *w, uint64_t blocks)
{

	atomic_store(&w->pinned, blocks);
}

const struct writer_stats *
writer_stats(const struct writer *w)
{

	return (&w->stats);
}

void
writer_free(struct writer *w)
{

	if (w == NULL)
		return;
	if (w->started)
		pthread_join(w->thr, NULL);
	/* Left by a fatal error: written but never durable, or never written. */
	free_list(w->pend_head);
	free_list(w->ready);
	cst_segw_close(w->seg);
	cst_epoch_key_free(w->key);
	cst_buf_close(&w->frame);
	cst_buf_close(&w->ckpt);
	cst_buf_close(&w->note);
	cst_buf_close(&w->certtext);
	cst_log_key_free(w->lk);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->mtx);
	free(w);
}
