/*
 * The sealing half of the pipeline, threads and all: batcher -> sealpool
 * (parallel workers) -> writer.  Blocks land in batch order whatever order
 * the workers finish in (R-BLK-6, R-BLK-7); segments rotate and are sealed
 * (R-SEG-4); the key rotates at a commit point with a certificate valid
 * from the next block (R-KEY-2); a checkpoint names the durable head
 * (SPEC 8); and a failure stops the writer before anything after it is
 * called durable.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include "custody/block.h"
#include "custody/checkpoint.h"
#include "custody/error.h"
#include "custody/keys.h"
#include "custody/logkey.h"
#include "custody/segment.h"
#include "custody/tlog.h"

#include "batcher.h"
#include "clock.h"
#include "recovery.h"
#include "sealpool.h"
#include "store.h"
#include "treestore.h"
#include "writer.h"
#include "testutil.h"

#define EVENTS 2000

/* What the threads hand back, as the daemon's mailbox does. */
struct harness {
	pthread_mutex_t mtx;
	pthread_cond_t cond;
	struct batchbuf *built;
	struct batch *durable[4096];
	size_t ndurable;
	uint32_t key_epoch;
	int fatal;
	char fatal_msg[256];
	struct sealpool *pool;
	struct writer *w;
	struct batcher *b;
	/* Note checkpoints (SPEC 13), when start() was asked for a log key. */
	struct treestore *tree;
	cst_log_cert lcert;
	size_t notes;
	uint64_t note_size;
	char note[1024];
	size_t note_len;
};

static char dir[64];
static struct harness h;

static void
on_cut(void *ctx, struct batch *bt)
{
	struct harness *x = ctx;

	sealpool_put(x->pool, bt);
}

static void
on_opened(void *ctx)
{

	(void)ctx;
}

static void
on_built(void *ctx, struct batchbuf *buf)
{
	struct harness *x = ctx;

	pthread_mutex_lock(&x->mtx);
	buf->next = x->built;
	x->built = buf;
	pthread_cond_broadcast(&x->cond);
	pthread_mutex_unlock(&x->mtx);
}

static void
on_sealed(void *ctx, struct batch *bt)
{
	struct harness *x = ctx;

	writer_put(x->w, bt);
}

static void
on_durable(void *ctx, struct batch *list)
{
	struct harness *x = ctx;
	struct batch *next;

	pthread_mutex_lock(&x->mtx);
	for (; list != NULL; list = next) {
		next = list->next;
		cr_assert_lt(x->ndurable, 4096);
		x->durable[x->ndurable++] = list;
	}
	pthread_cond_broadcast(&x->cond);
	pthread_mutex_unlock(&x->mtx);
}

static void
on_key_epoch(void *ctx, uint32_t epoch, const char *fpr)
{
	struct harness *x = ctx;

	(void)fpr;
	pthread_mutex_lock(&x->mtx);
	x->key_epoch = epoch;
	pthread_mutex_unlock(&x->mtx);
}

static void
on_note(void *ctx, const uint8_t *text, size_t len, uint64_t size)
{
	struct harness *x = ctx;

	pthread_mutex_lock(&x->mtx);
	x->notes++;
	x->note_size = size;
	x->note_len = len < sizeof(x->note) ? len : 0;
	memcpy(x->note, text, x->note_len);
	pthread_mutex_unlock(&x->mtx);
}

static void
on_fatal(void *ctx, int rc, const char *msg)
{
	struct harness *x = ctx;

	pthread_mutex_lock(&x->mtx);
	x->fatal = rc;
	snprintf(x->fatal_msg, sizeof(x->fatal_msg), "%s", msg);
	pthread_cond_broadcast(&x->cond);
	pthread_mutex_unlock(&x->mtx);
}

/* Gives built buffers back to the batcher (the loop thread's job). */
static void
take_built(void)
{
	struct batchbuf *buf, *next;

	pthread_mutex_lock(&h.mtx);
	buf = h.built;
	h.built = NULL;
	pthread_mutex_unlock(&h.mtx);
	for (; buf != NULL; buf = next) {
		next = buf->next;
		batcher_buf_done(h.b, buf);
	}
}

/* Waits (at most 60 s) until a batch of kind ctl is durable or fatal. */
static void
wait_for(int ctl)
{
	struct timespec ts;
	size_t i;
	int found = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 60;
	pthread_mutex_lock(&h.mtx);
	while (!found && !h.fatal) {
		for (i = 0; i < h.ndurable; i++)
			found |= h.durable[i]->ctl == ctl;
		if (!found && pthread_cond_timedwait(&h.cond, &h.mtx,
		    &ts) != 0)
			break;
	}
	pthread_mutex_unlock(&h.mtx);
	cr_assert(found || h.fatal, "the pipeline did not finish in 60 s");
}

/*
 * Starts the pipeline on a new store whose epoch key is already older
 * than the rotation interval, so the writer rotates it at once; with
 * with_log set, also with a log key and the chain tree (SPEC 13).
 */
static int with_log;
static cst_log_key *lkey_pending;

static void
start(const struct writer_cfg *wc, size_t batch_records)
{
	static const struct batcher_ops bops = { on_cut, on_opened };
	static const struct sealpool_ops sops = { on_built, on_sealed };
	static const struct writer_ops wops = { on_durable, on_key_epoch,
	    on_fatal, on_note };
	struct batcher_cfg bc = { batch_records, 64 << 10, 64 << 20 };
	char err[STORE_ERR_LEN], path[256];
	cst_root_key *root;
	cst_epoch_key *key;
	struct recovery rec;

	cr_assert(sodium_init() >= 0);
	snprintf(dir, sizeof(dir), "/tmp/test_pipeline.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(store_prepare(dir, err), 0, "%s", err);
	cr_assert_eq(cst_root_key_generate(&root), 0);
	cr_assert_eq(cst_epoch_key_first(root, clock_real_ns() - 10 * NS_PER_S,
	    &key), 0);
	snprintf(path, sizeof(path), "%s/keys/epoch.key", dir);
	cr_assert_eq(cst_epoch_key_save(key, path), 0);
	snprintf(path, sizeof(path), "%s/keys/root.pub", dir);
	cr_assert_eq(cst_root_key_save(root, NULL, path), 0);
	cr_assert_eq(recovery_run(dir, key, clock_real_ns(), &rec, err), 0,
	    "%s", err);

	memset(&h, 0, sizeof(h));
	if (with_log) {
		char terr[TREESTORE_ERR_LEN];
		cst_log_key *lk;

		cr_assert_eq(cst_log_key_generate(root->pub.chain_id, &lk), 0);
		cst_log_cert_make(root, lk->pk, &h.lcert);
		cr_assert_eq(treestore_open(dir, rec.st.next_block_no,
		    rec.st.prev_hash, &h.tree, terr), 0, "%s", terr);
		lkey_pending = lk;
	}
	cst_root_key_free(root);
	pthread_mutex_init(&h.mtx, NULL);
	pthread_cond_init(&h.cond, NULL);
	cr_assert_eq(batcher_new(&bc, &bops, &h, rec.st.next_seq, &h.b), 0);
	cr_assert_eq(writer_new(dir, wc, key, &rec, &wops, &h, &h.w, err), 0,
	    "%s", err);
	if (lkey_pending != NULL) {
		cr_assert_eq(writer_set_log(h.w, lkey_pending, &h.lcert,
		    h.tree), 0);
		lkey_pending = NULL;
	}
	cr_assert_eq(sealpool_start(2, 1, &sops, &h, &h.pool), 0);
	cr_assert_eq(writer_start(h.w), 0);
}

static void
stop(void)
{
	size_t i;

	sealpool_stop(h.pool);
	writer_free(h.w);
	treestore_close(h.tree);
	h.tree = NULL;
	take_built();
	for (i = 0; i < h.ndurable; i++)
		batcher_done(h.b, h.durable[i]);
	batcher_free(h.b);
	pthread_cond_destroy(&h.cond);
	pthread_mutex_destroy(&h.mtx);
}

static void
teardown(void)
{

	test_rm_tree(dir);
}

TestSuite(pipeline, .fini = teardown);

static void
add_event(uint64_t i)
{
	char text[64];
	cst_record *r;
	uint8_t *raw;
	int len;

	len = snprintf(text, sizeof(text), "<13>1 - host app - - - event %llu",
	    (unsigned long long)i);
	cr_assert_eq(batcher_add(h.b, (size_t)len, 0, &r, &raw), 0);
	memcpy(raw, text, (size_t)len);
	r->transport = 2;
	r->recv_ns = clock_real_ns();
	r->listener.p = (const uint8_t *)"tcp://test";
	r->listener.len = 10;
	r->peer.p = (const uint8_t *)"127.0.0.1:1";
	r->peer.len = 11;
	r->raw.p = raw;
	r->raw.len = (size_t)len;
	batcher_count_event(h.b, (size_t)len);
	cr_assert_eq(r->seq, i);
}

Test(pipeline, blocks_land_in_order_through_rotations)
{
	struct writer_cfg wc = { .commit_interval_ms = 2,
	    .segment_max_bytes = 8192, .key_rotate_s = 5,
	    .checkpoint_interval_ms = 1 };
	char path[256], name[32];
	cst_epoch_key *key;
	cst_root_pub root;
	cst_opener *o;
	cst_checkpoint cp;
	uint64_t seq = 0, n, blocks = 0, segments = 0;
	cst_map m;
	cst_scan sc;
	size_t off, i;
	FILE *f;
	char text[4096];
	size_t tlen;

	start(&wc, 7);
	for (i = 0; i < EVENTS; i++) {
		add_event(i);
		take_built();
	}
	cr_assert_eq(batcher_control(h.b, BATCH_STOP), 0);
	wait_for(BATCH_STOP);
	cr_assert_eq(h.fatal, 0, "%s", h.fatal_msg);
	/* Durable batches come back in order. */
	for (i = 1; i < h.ndurable; i++)
		cr_assert_eq(h.durable[i]->no, h.durable[i - 1]->no + 1);
	cr_assert_eq(h.key_epoch, 2, "the old key was rotated once");
	stop();

	/* The key file on disk is the new epoch, certified by the old. */
	snprintf(path, sizeof(path), "%s/keys/root.pub", dir);
	cr_assert_eq(cst_root_pub_load(path, &root), 0);
	snprintf(path, sizeof(path), "%s/keys/epoch.key", dir);
	cr_assert_eq(cst_epoch_key_load(path, &root, &key), 0);
	cr_assert_eq(key->epoch, 2);
	cr_assert_eq(key->certs[1].valid_from, 1,
	    "rotated after the first block, valid from the second");

	/* Every segment sealed and valid; every record once, in order. */
	cr_assert_not_null(o = cst_opener_new());
	for (n = 0;; n++) {
		cst_segment_name(n, name);
		snprintf(path, sizeof(path), "%s/segments/%s", dir, name);
		if (cst_map_open(path, &m) != 0)
			break;
		segments++;
		cr_assert_eq(cst_segment_scan(m.p, m.len, key, &sc), 0);
		cr_assert_eq(sc.valid_len, m.len, "%s is whole", name);
		cr_assert(sc.sealed, "%s is sealed", name);
		for (off = CST_SEG_HDR_LEN; off < m.len;) {
			cst_frame fr;
			cst_record r;
			const char *rule;
			char want[64];
			size_t j;

			cr_assert_eq(cst_frame_parse(m.p + off, m.len - off,
			    &fr), 0);
			cr_assert_eq(cst_block_open(o, &fr, &rule), 0);
			for (j = 0; j < cst_opener_count(o); j++) {
				cr_assert_eq(cst_opener_record(o, j, &r, NULL),
				    0);
				cr_assert_eq(r.seq, seq);
				snprintf(want, sizeof(want),
				    "<13>1 - host app - - - event %llu",
				    (unsigned long long)seq);
				cr_assert_eq(r.raw.len, strlen(want));
				cr_assert_eq(memcmp(r.raw.p, want, r.raw.len),
				    0);
				cr_assert(r.has_parsed == 0,
				    "the test records carry no parse");
				seq++;
			}
			blocks++;
			off += fr.frame_len;
		}
		cst_map_close(&m);
	}
	cst_opener_free(o);
	cr_assert_eq(seq, EVENTS);
	cr_assert_gt(segments, 3, "8 KiB segments: several rotations");

	/* The checkpoint names the final head. */
	snprintf(path, sizeof(path), "%s/checkpoints/latest.ckpt", dir);
	cr_assert_not_null(f = fopen(path, "r"));
	tlen = fread(text, 1, sizeof(text), f);
	fclose(f);
	cr_assert_eq(cst_checkpoint_decode(text, tlen, &cp), 0);
	cr_assert_eq(cst_checkpoint_verify(&cp, &root), 0);
	cr_assert_eq(cp.blocks, blocks);
	cr_assert_eq(cp.records, EVENTS);
	cr_assert_eq(cp.epoch, 2);
	cst_checkpoint_close(&cp);
	cst_epoch_key_free(key);
}

Test(pipeline, a_stopped_store_recovers_as_clean)
{
	struct writer_cfg wc = { .commit_interval_ms = 50,
	    .segment_max_bytes = 1 << 30, .checkpoint_interval_ms = 1000 };
	char err[RECOVERY_ERR_LEN], path[256];
	struct recovery rec;
	cst_epoch_key *key;
	size_t i;

	start(&wc, 100);
	for (i = 0; i < 250; i++)
		add_event(i);
	cr_assert_eq(batcher_control(h.b, BATCH_ROTATE), 0);
	add_event(250);
	cr_assert_eq(batcher_control(h.b, BATCH_STOP), 0);
	wait_for(BATCH_STOP);
	cr_assert_eq(h.fatal, 0, "%s", h.fatal_msg);
	stop();

	snprintf(path, sizeof(path), "%s/keys/epoch.key", dir);
	cr_assert_eq(cst_epoch_key_load(path, NULL, &key), 0);
	cr_assert_eq(recovery_run(dir, key, clock_real_ns(), &rec, err), 0,
	    "%s", err);
	cr_assert(!rec.unclean, "a clean stop needs no recovery record");
	cr_assert_eq(rec.st.segment_no, 2, "rotated once, then sealed");
	cr_assert_eq(rec.st.next_seq, 251);
	cst_epoch_key_free(key);
}

/* A batch that failed to build stops the writer: nothing after it is durable. */
Test(pipeline, a_failure_is_fatal_and_nothing_after_it_is_durable)
{
	struct writer_cfg wc = { .commit_interval_ms = 1,
	    .segment_max_bytes = 1 << 30, .checkpoint_interval_ms = 1000 };
	static const uint8_t map[1] = { 0x80 };
	cst_record *r;
	uint8_t *raw;
	size_t i;

	start(&wc, 10);
	for (i = 0; i < 10; i++)
		add_event(i);
	batcher_cut(h.b);
	/* R-REC-2: an event has no detail map, so batch 1 cannot be built. */
	cr_assert_eq(batcher_add(h.b, 1, 0, &r, &raw), 0);
	raw[0] = 'x';
	r->listener.p = r->peer.p = raw;
	r->raw.p = raw;
	r->raw.len = 1;
	r->detail.p = map;
	r->detail.len = sizeof(map);
	cr_assert_eq(batcher_control(h.b, BATCH_STOP), 0);
	wait_for(BATCH_STOP);
	cr_assert_eq(h.fatal, CST_EINVAL, "%d", h.fatal);
	cr_assert_not_null(strstr(h.fatal_msg, "batch 1"), "%s", h.fatal_msg);
	pthread_mutex_lock(&h.mtx);
	for (i = 0; i < h.ndurable; i++)
		cr_assert_lt(h.durable[i]->no, 1, "only batch 0 is durable");
	pthread_mutex_unlock(&h.mtx);
	stop();
}

static struct rlimit saved_nofile;

/* Gives the descriptors back after a moment, as a flood ending would. */
static void *
restore_nofile(void *arg)
{
	struct timespec ts = { 0, 300 * 1000 * 1000 };

	(void)arg;
	nanosleep(&ts, NULL);
	setrlimit(RLIMIT_NOFILE, &saved_nofile);
	return (NULL);
}

/*
 * A rotation whose new segment cannot be created for a moment (no
 * descriptor left, as under a connection flood) waits it out rather than
 * stopping the writer; the chain goes on in the next segment.
 */
Test(pipeline, a_rotation_waits_out_a_moment_without_descriptors)
{
	struct writer_cfg wc = { .commit_interval_ms = 1,
	    .segment_max_bytes = 1 << 30, .checkpoint_interval_ms = 1000 };
	char err[RECOVERY_ERR_LEN], path[256];
	struct recovery rec;
	struct rlimit rl;
	cst_epoch_key *key;
	pthread_t thr;
	size_t i;

	start(&wc, 10);
	for (i = 0; i < 10; i++)
		add_event(i);
	batcher_cut(h.b);
	wait_for(BATCH_DATA);
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &saved_nofile), 0);
	/* Every descriptor from 3 up is taken: open fails with EMFILE. */
	rl = saved_nofile;
	rl.rlim_cur = 3;
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	cr_assert_eq(pthread_create(&thr, NULL, restore_nofile, NULL), 0);
	cr_assert_eq(batcher_control(h.b, BATCH_ROTATE), 0);
	for (i = 10; i < 20; i++)
		add_event(i);
	cr_assert_eq(batcher_control(h.b, BATCH_STOP), 0);
	wait_for(BATCH_STOP);
	pthread_join(thr, NULL);
	cr_assert_eq(h.fatal, 0, "%s", h.fatal_msg);
	stop();

	snprintf(path, sizeof(path), "%s/keys/epoch.key", dir);
	cr_assert_eq(cst_epoch_key_load(path, NULL, &key), 0);
	cr_assert_eq(recovery_run(dir, key, clock_real_ns(), &rec, err), 0,
	    "%s", err);
	cr_assert(!rec.unclean);
	cr_assert_eq(rec.st.segment_no, 2, "rotated once, then sealed");
	cr_assert_eq(rec.st.next_seq, 20);
	cst_epoch_key_free(key);
}

/* Counts the entries of dir whose names end in ext. */
static size_t
count_ext(const char *d, const char *ext)
{
	struct dirent *e;
	size_t n = 0, l, k = strlen(ext);
	DIR *dp;

	cr_assert_not_null(dp = opendir(d));
	while ((e = readdir(dp)) != NULL) {
		l = strlen(e->d_name);
		n += l > k && strcmp(e->d_name + l - k, ext) == 0 &&
		    strncmp(e->d_name, "ckpt-", 5) == 0;
	}
	closedir(dp);
	return (n);
}

Test(pipeline, note_checkpoints_follow_the_chain_tree)
{
	struct writer_cfg wc = { .commit_interval_ms = 2,
	    .segment_max_bytes = 8192, .checkpoint_interval_ms = 1,
	    .checkpoint_history = 3 };
	char path[256], name[32], file[1024];
	uint8_t root[CST_HASH_LEN], want[CST_HASH_LEN], leaf[CST_HASH_LEN];
	cst_tlog_frontier tl;
	cst_frame fr;
	cst_map m;
	uint64_t size, n;
	size_t i, flen, off;
	FILE *f;

	with_log = 1;
	start(&wc, 7);
	with_log = 0;
	for (i = 0; i < EVENTS; i++) {
		add_event(i);
		take_built();
	}
	cr_assert_eq(batcher_control(h.b, BATCH_STOP), 0);
	wait_for(BATCH_STOP);
	cr_assert_eq(h.fatal, 0, "%s", h.fatal_msg);
	stop();

	/* The last note told of is latest.note. */
	cr_assert_gt(h.notes, 1);
	cr_assert_gt(h.note_len, 0);
	snprintf(path, sizeof(path), "%s/checkpoints/latest.note", dir);
	cr_assert_not_null(f = fopen(path, "r"));
	flen = fread(file, 1, sizeof(file), f);
	fclose(f);
	cr_assert(flen == h.note_len && memcmp(file, h.note, flen) == 0);
	cr_assert_eq(cst_log_note_verify(h.note, h.note_len, &h.lcert, &size,
	    root), 0);
	cr_assert_eq(size, h.note_size);

	/* Its root is the chain tree of every block in the segments. */
	cst_tlog_frontier_init(&tl);
	for (n = 0;; n++) {
		cst_segment_name(n, name);
		snprintf(path, sizeof(path), "%s/segments/%s", dir, name);
		if (cst_map_open(path, &m) != 0)
			break;
		for (off = CST_SEG_HDR_LEN; off < m.len; off += fr.frame_len) {
			cr_assert_eq(cst_frame_parse(m.p + off, m.len - off,
			    &fr), 0);
			cst_tlog_leaf(fr.block_hash, leaf);
			cr_assert_eq(cst_tlog_frontier_append(&tl, leaf, NULL,
			    NULL), 0);
		}
		cst_map_close(&m);
	}
	cr_assert_eq(tl.size, size, "the last note covers all %lu blocks",
	    (unsigned long)tl.size);
	cst_tlog_frontier_root(&tl, want);
	cr_assert(memcmp(root, want, CST_HASH_LEN) == 0);

	/* The history of notes is pruned as that of the .ckpt files. */
	snprintf(path, sizeof(path), "%s/checkpoints", dir);
	cr_assert_eq(count_ext(path, ".note"), 3);
	cr_assert_eq(count_ext(path, ".ckpt"), 3);
	snprintf(path, sizeof(path), "%s/checkpoints/log.cert", dir);
	cr_assert_eq(access(path, F_OK), 0);
}
