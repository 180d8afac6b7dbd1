/*
 * custodyd's life on the event loop thread.
 *
 * The threads hand things back through one mutex-guarded mailbox and one
 * uv_async: buffers whose drafts are built (memory to reuse), batches now
 * durable, a new key epoch, or a fatal writer error.  Everything else --
 * the batcher, the counters, the self-audit records -- belongs to the loop
 * thread alone.
 */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <uv.h>

#include "custody/error.h"
#include "custody/hash.h"
#include "custody/keys.h"

#include "custody_version.h"

#include "audit.h"
#include "batcher.h"
#include "daemon_int.h"
#include "fdlimit.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "privdrop.h"
#include "recovery.h"
#include "replicate.h"
#include "sealpool.h"
#include "store.h"
#include "treestore.h"
#include "writer.h"

void
daemon_config(const struct daemon *d, const struct conf *c,
    struct audit_config *out)
{

	out->hash = d->config_hash;
	out->text = c->text;
	out->len = c->text_len;
	/* Half a batch leaves room for the rest of the record (R-CFG-1). */
	out->max = AUDIT_CONFIG_MAX;
	if (d->cfg->batch_bytes / 2 < out->max)
		out->max = (size_t)(d->cfg->batch_bytes / 2);
}

/* How long a stop waits for JetStream to take the last blocks. */
#define REPLICATE_DRAIN_MS 5000

static void begin_stop(struct daemon *d, const char *reason, int code);

/* ---- the pipeline's callbacks ---- */

static void
on_cut(void *ctx, struct batch *bt)
{
	struct daemon *d = ctx;

	uv_timer_stop(&d->batch_timer);
	sealpool_put(d->seal, bt);
}

static void
batch_timeout(uv_timer_t *t)
{
	struct daemon *d = t->data;

	batcher_cut(d->batcher);
}

/*
 * Asks the writer to commit, at once, every batch cut so far, the open
 * one cut first.  One such commit at a time: senders that wait meanwhile
 * are served by the next, which then covers all of them (group commit).
 */
static void
hurry(struct daemon *d)
{
	uint64_t cuts;

	batcher_cut(d->batcher);
	cuts = batcher_cuts(d->batcher);
	if (cuts <= d->durable_no)
		return;         /* all durable: the answers are out */
	d->hurrying = 1;
	d->hurry_no = cuts - 1;
	writer_hurry(d->writer, d->hurry_no);
}

/* Loop thread: a RELP sender waits for answers (listener.h). */
static void
on_waiting(void *ctx)
{
	struct daemon *d = ctx;

	if (!d->cfg->commit_on_wait || d->writer == NULL)
		return;
	if (d->hurrying)
		d->hurry_again = 1;
	else
		hurry(d);
}

static void
on_opened(void *ctx)
{
	struct daemon *d = ctx;

	uv_timer_start(&d->batch_timer, batch_timeout, d->cfg->batch_delay_ms,
	    0);
}

/* Worker thread: the buffer's memory can be reused. */
static void
on_built(void *ctx, struct batchbuf *buf)
{
	struct daemon *d = ctx;

	pthread_mutex_lock(&d->mtx);
	buf->next = d->built;
	d->built = buf;
	pthread_mutex_unlock(&d->mtx);
	uv_async_send(&d->notify);
}

static void
on_sealed(void *ctx, struct batch *bt)
{
	struct daemon *d = ctx;

	writer_put(d->writer, bt);
}

/* Replication thread: JetStream acknowledged every record below seq. */
static void
on_replicated(void *ctx, uint64_t seq)
{
	struct daemon *d = ctx;

	pthread_mutex_lock(&d->mtx);
	if (seq > d->repl_next)
		d->repl_next = seq;
	pthread_mutex_unlock(&d->mtx);
	if (d->cfg->rep.ack_replicated)
		uv_async_send(&d->notify);
}

uint64_t
daemon_answer_point(struct daemon *d)
{
	uint64_t rn;

	if (d->rep == NULL || !d->cfg->rep.ack_replicated)
		return (d->durable_next);
	pthread_mutex_lock(&d->mtx);
	rn = d->repl_next;
	pthread_mutex_unlock(&d->mtx);
	return (rn < d->durable_next ? rn : d->durable_next);
}

/* Writer thread. */
static void
on_durable(void *ctx, struct batch *list)
{
	struct daemon *d = ctx;
	struct batch *last;

	for (last = list; last->next != NULL; last = last->next)
		;
	pthread_mutex_lock(&d->mtx);
	if (d->dur_tail != NULL)
		d->dur_tail->next = list;
	else
		d->dur_head = list;
	d->dur_tail = last;
	pthread_mutex_unlock(&d->mtx);
	/* The writer's counter moved before this call (writer.h). */
	if (d->rep != NULL)
		replicate_durable(d->rep, atomic_load(
		    &writer_stats(d->writer)->durable_blocks));
	uv_async_send(&d->notify);
}

/* Writer thread. */
static void
on_key_epoch(void *ctx, uint32_t epoch, const char *fpr)
{
	struct daemon *d = ctx;

	pthread_mutex_lock(&d->mtx);
	d->new_epoch = epoch;
	snprintf(d->new_fpr, sizeof(d->new_fpr), "%s", fpr);
	pthread_mutex_unlock(&d->mtx);
	uv_async_send(&d->notify);
}

/* Writer thread. */
static void
on_writer_fatal(void *ctx, int rc, const char *msg)
{
	struct daemon *d = ctx;

	pthread_mutex_lock(&d->mtx);
	d->fatal_rc = rc != 0 ? rc : CST_EIO;
	snprintf(d->fatal_msg, sizeof(d->fatal_msg), "%s", msg);
	pthread_mutex_unlock(&d->mtx);
	uv_async_send(&d->notify);
}

/* Anchor thread: the checkpoint being timestamped stays (R-TSA-4). */
static void
on_pin(void *ctx, uint64_t blocks)
{
	struct daemon *d = ctx;

	writer_pin(d->writer, blocks);
}

/*
 * The timestamp fetcher of [anchor] (SPEC section 15), when tsa_url is
 * set.  Returns 0, or -1 when its configuration cannot be used.
 */
static int
open_anchor(struct daemon *d)
{
	const struct conf *c = d->cfg;
	struct anchor_ops ops = { on_pin };
	struct anchor_cfg ac;
	char err[ANCHOR_ERR_LEN];

	if (c->tsa_url == NULL)
		return (0);
	memset(&ac, 0, sizeof(ac));
	ac.url = c->tsa_url;
	ac.ca = c->tsa_ca;
	ac.tsa_cert = c->tsa_cert;
	ac.interval_ms = c->tsa_interval_ms;
	ac.timeout_ms = c->tsa_timeout_ms;
	if (anchor_new(c->data_dir, &ac, &ops, d, &d->anchor, err) != 0) {
		log_err("%s", err);
		return (-1);
	}
	anchor_set_export_dir(d->anchor, c->checkpoint_export_dir);
	return (0);
}

/* A self-audit record could not be recorded: out of memory. */
void
daemon_audit_failed(struct daemon *d, int rc)
{

	log_err("cannot record a self-audit record: %s", cst_strerror(rc));
	if (d->state == RUNNING)
		begin_stop(d, "error", 1);
}

static void
close_handle(uv_handle_t *h)
{

	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/*
 * Everything is durable (or lost to a fatal error): let the loop end.  The
 * mailbox's handle stays open, unreferenced, until the threads that may
 * still post to it are joined.
 */
static void
finish(struct daemon *d)
{
	size_t i;

	d->state = STOPPED;
	uv_unref((uv_handle_t *)&d->notify);
	close_handle((uv_handle_t *)&d->batch_timer);
	close_handle((uv_handle_t *)&d->tick);
	for (i = 0; i < 3; i++)
		close_handle((uv_handle_t *)&d->sigs[i]);
	metrics_close(d->metrics);
	d->metrics = NULL;
	daemon_witness_close_srv(d);
}

/* After the threads are joined: what the mailbox still holds. */
static void
drain(struct daemon *d)
{
	struct batchbuf *buf;
	struct batch *bt;

	while ((buf = d->built) != NULL) {
		d->built = buf->next;
		batcher_buf_done(d->batcher, buf);
	}
	while ((bt = d->dur_head) != NULL) {
		d->dur_head = bt->next;
		batcher_done(d->batcher, bt);
	}
	d->dur_tail = NULL;
}

static void
listeners_closed(void *ctx)
{
	struct daemon *d = ctx;

	d->ls_stopping = NULL;
}

static void
on_notify(uv_async_t *h)
{
	struct daemon *d = h->data;
	struct batchbuf *built, *buf;
	struct batch *dur, *bt;
	uint32_t epoch;
	char fpr[2 * CST_FPR_LEN + 1];
	int fatal, stopped = 0, rc;

	pthread_mutex_lock(&d->mtx);
	built = d->built;
	d->built = NULL;
	dur = d->dur_head;
	d->dur_head = d->dur_tail = NULL;
	epoch = d->new_epoch;
	d->new_epoch = 0;
	memcpy(fpr, d->new_fpr, sizeof(fpr));
	fatal = d->fatal_rc;
	pthread_mutex_unlock(&d->mtx);

	while ((buf = built) != NULL) {
		built = buf->next;
		batcher_buf_done(d->batcher, buf);
	}
	while ((bt = dur) != NULL) {
		dur = bt->next;
		d->events_durable += bt->events;
		/* Batches come back in order: their records below are done. */
		if (bt->ctl == BATCH_DATA && bt->n > 0)
			d->durable_next = bt->first_seq + bt->n;
		if (bt->ctl == BATCH_STOP)
			stopped = 1;
		d->durable_no = bt->no + 1;
		batcher_done(d->batcher, bt);
	}
	if (d->hurrying && d->durable_no > d->hurry_no) {
		d->hurrying = 0;
		if (d->hurry_again && d->state == RUNNING) {
			d->hurry_again = 0;
			hurry(d);
		}
	}
	if (d->ls != NULL)
		listeners_durable(d->ls, daemon_answer_point(d));
	else if (d->ls_stopping != NULL)
		listeners_durable(d->ls_stopping, daemon_answer_point(d));
	if (epoch != 0 && d->state == RUNNING) {
		log_notice("signing key rotated to epoch %" PRIu32 " (%s)",
		    epoch, fpr);
		if ((rc = audit_key_epoch(d->batcher, epoch, fpr,
		    clock_real_ns())) != 0)
			daemon_audit_failed(d, rc);
	}
	if (fatal != 0 && d->state != STOPPED) {
		log_err("%s: stopping; the next start recovers the store",
		    d->fatal_msg);
		d->exit_code = 1;
		if (d->ls != NULL) {
			listeners_close(d->ls, listeners_closed, d);
			d->ls = NULL;
		}
		finish(d);
		return;
	}
	if (stopped) {
		log_notice("stopped: every record is sealed and durable");
		finish(d);
		return;
	}
	if (d->ls != NULL && listeners_paused(d->ls) &&
	    !batcher_over(d->batcher))
		listeners_resume(d->ls);
}

/* After each read: stop reading while the memory budget is spent. */
static void
after_read(void *ctx)
{
	struct daemon *d = ctx;

	if (!batcher_over(d->batcher) || listeners_paused(d->ls))
		return;
	listeners_pause(d->ls);
	d->pauses++;
	/* Nothing more arrives until memory frees: seal what is here. */
	batcher_cut(d->batcher);
}

static void
listener_fatal(void *ctx, int rc)
{
	struct daemon *d = ctx;

	log_err("cannot record a message: %s", cst_strerror(rc));
	if (d->state == RUNNING)
		begin_stop(d, "error", 1);
}

/* ---- periodic self-audit ---- */

/*
 * R-REP-9: a backlog of blocks JetStream has not acknowledged is sealed
 * as started once nothing was acknowledged for replicate.lag_record, or
 * it holds more than replicate.max_backlog bytes; then as ended once it
 * is empty.
 */
static void
report_replication(struct daemon *d, int64_t now)
{
	const struct conf_replicate *c = &d->cfg->rep;
	struct replicate_stats st;
	char why[700];
	int64_t quiet;
	int rc;

	if (d->rep == NULL)
		return;
	replicate_stats(d->rep, &st);
	if (!d->rep_backlog) {
		if (st.backlog_blocks == 0 || st.since_ns == 0)
			return;
		quiet = now - (st.last_ack_ns > st.since_ns ? st.last_ack_ns :
		    st.since_ns);
		if (st.backlog_bytes > c->max_backlog)
			snprintf(why, sizeof(why), "backlog over max_backlog "
			    "(%" PRIu64 " bytes)%s%s", c->max_backlog,
			    st.last_err[0] != '\0' ? ": " : "", st.last_err);
		else if (quiet >= (int64_t)c->lag_record_s * NS_PER_S)
			snprintf(why, sizeof(why), "no acknowledgement from "
			    "JetStream for %" PRId64 " s%s%s", quiet / NS_PER_S,
			    st.last_err[0] != '\0' ? ": " : "", st.last_err);
		else
			return;
		log_warn("replication backlog: %" PRIu64 " blocks, %" PRIu64
		    " bytes: %s", st.backlog_blocks, st.backlog_bytes, why);
		if ((rc = audit_replication(d->batcher, 1, st.backlog_blocks,
		    st.backlog_bytes, st.since_ns, why, now)) != 0) {
			daemon_audit_failed(d, rc);
			return;
		}
		d->rep_backlog = 1;
		d->rep_since_ns = st.since_ns;
		d->rep_published = st.published;
		d->rep_published_bytes = st.published_bytes;
		return;
	}
	if (st.backlog_blocks != 0)
		return;
	log_notice("replication backlog ended: %" PRIu64 " blocks published",
	    st.published - d->rep_published);
	if ((rc = audit_replication(d->batcher, 0,
	    st.published - d->rep_published,
	    st.published_bytes - d->rep_published_bytes, d->rep_since_ns,
	    "JetStream acknowledged every durable block", now)) != 0)
		daemon_audit_failed(d, rc);
	d->rep_backlog = 0;
}

/* Seals the counts of anything lost or split since the last loss record. */
static void
report_losses(struct daemon *d, int64_t now)
{
	struct listener_counters *c;
	struct loss_mark *m;
	size_t i;
	int rc;

	if (d->ls == NULL)
		return;
	listeners_poll_drops(d->ls);
	for (i = 0; i < listeners_count(d->ls) && i < MAX_LISTEN; i++) {
		c = listeners_counters(d->ls, i);
		m = &d->loss[i];
		if (c->udp_dropped == m->udp_dropped &&
		    c->kernel_dropped == m->kernel_dropped &&
		    c->oversize == m->oversize &&
		    c->discarded == m->discarded)
			continue;
		if ((rc = audit_loss(d->batcher, listeners_name(d->ls, i),
		    c->udp_dropped - m->udp_dropped,
		    c->kernel_dropped - m->kernel_dropped,
		    c->oversize - m->oversize, c->discarded - m->discarded,
		    m->since_ns, now)) != 0) {
			daemon_audit_failed(d, rc);
			return;
		}
		m->udp_dropped = c->udp_dropped;
		m->kernel_dropped = c->kernel_dropped;
		m->oversize = c->oversize;
		m->discarded = c->discarded;
		m->since_ns = now;
	}
}

static void
totals(struct daemon *d, uint64_t *received, uint64_t *failed,
    uint64_t *bytes)
{
	struct listener_counters *c;
	size_t i;

	*received = *failed = *bytes = 0;
	if (d->ls == NULL)
		return;
	for (i = 0; i < listeners_count(d->ls); i++) {
		c = listeners_counters(d->ls, i);
		*received += c->received;
		*failed += c->parse_failed;
		*bytes += c->bytes;
	}
}

static void
on_tick(uv_timer_t *t)
{
	struct daemon *d = t->data;
	int64_t real = clock_real_ns(), mono = clock_mono_ns(), step;
	uint64_t received, failed, bytes;
	int rc;

	/* A step: the wall clock moved other than the monotonic one. */
	step = (real - d->tick_real) - (mono - d->tick_mono);
	d->tick_real = real;
	d->tick_mono = mono;
	if (step > (int64_t)d->cfg->clock_step_ms * NS_PER_MS ||
	    -step > (int64_t)d->cfg->clock_step_ms * NS_PER_MS) {
		log_warn("the system clock stepped by %" PRId64 " ms",
		    step / NS_PER_MS);
		if ((rc = audit_clock(d->batcher, step, real)) != 0) {
			daemon_audit_failed(d, rc);
			return;
		}
	}
	report_losses(d, real);
	report_replication(d, real);
	if (d->cfg->stats_interval_s != 0 && mono - d->last_stats >=
	    (int64_t)d->cfg->stats_interval_s * NS_PER_S) {
		d->last_stats = mono;
		totals(d, &received, &failed, &bytes);
		if ((rc = audit_stats(d->batcher, received, failed, bytes,
		    real)) != 0)
			daemon_audit_failed(d, rc);
	}
}

/* ---- stop, signals ---- */

static void
begin_stop(struct daemon *d, const char *reason, int code)
{
	uint64_t received, failed, bytes;
	int rc;

	d->state = STOPPING;
	d->exit_code = code;
	sd_notify(0, "STOPPING=1");
	log_notice("stopping (%s): sealing what was received", reason);
	uv_timer_stop(&d->tick);
	if (d->ls != NULL) {
		/* Partial messages of open streams are recorded here. */
		if ((rc = listeners_close(d->ls, listeners_closed, d)) != 0)
			log_err("recording a partial message: %s",
			    cst_strerror(rc));
		report_losses(d, clock_real_ns());
	}
	/* Accesses still open end before the stop record. */
	control_close(d->control);
	d->control = NULL;
	totals(d, &received, &failed, &bytes);
	d->ls_stopping = d->ls;
	d->ls = NULL;
	if ((rc = audit_stop(d->batcher, reason, received,
	    atomic_load(&writer_stats(d->writer)->records),
	    clock_real_ns())) != 0)
		log_err("recording the stop record: %s", cst_strerror(rc));
	if ((rc = batcher_control(d->batcher, BATCH_STOP)) != 0) {
		log_err("cannot stop the pipeline: %s", cst_strerror(rc));
		d->exit_code = 1;
		finish(d);
	}
}

static void
on_signal(uv_signal_t *s, int signum)
{
	struct daemon *d = s->data;

	if (signum == SIGHUP) {
		if (d->state == RUNNING)
			reload_run(d);
		return;
	}
	if (d->state != RUNNING) {
		log_notice("already stopping");
		return;
	}
	begin_stop(d, signum == SIGTERM ? "SIGTERM" : "SIGINT", 0);
}

/* ---- start ---- */

/* The first records of a run: recovery (R-REC-5), start, key epoch. */
static int
first_records(struct daemon *d, const struct recovery *rec,
    const cst_epoch_key *key)
{
	struct audit_start s;
	char host[256], fpr[2 * CST_FPR_LEN + 1];
	int64_t now = clock_real_ns();
	int rc;

	if (rec->unclean && (rc = audit_recovery(d->batcher, rec, now)) != 0)
		return (rc);
	if (gethostname(host, sizeof(host)) != 0)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	s.version = CUSTODY_VERSION " (" CUSTODY_GIT_COMMIT ")";
	daemon_config(d, d->cfg, &s.config);
	s.root_fpr = d->root_fpr;
	s.epoch = key->epoch;
	s.pid = (uint64_t)getpid();
	s.hostname = host;
	if ((rc = audit_start(d->batcher, &s, now)) != 0)
		return (rc);
	/* A key that signs its first block says so. */
	if (key->epoch != rec->st.epoch) {
		cst_key_fingerprint_hex(key->pk, fpr);
		if ((rc = audit_key_epoch(d->batcher, key->epoch, fpr,
		    now)) != 0)
			return (rc);
	}
	return (0);
}

static void
banner(struct daemon *d)
{
	const char *tcp = NULL, *udp = NULL, *unx = NULL;
	size_t i;

	log_notice("custodyd %s ready: store %s, chain %s, root key %s",
	    CUSTODY_VERSION, d->cfg->data_dir, d->chain_hex, d->root_fpr);
	for (i = 0; i < listeners_count(d->ls); i++) {
		const char *n = listeners_name(d->ls, i);

		log_notice("listening on %s", n);
		if (tcp == NULL && strncmp(n, "tcp://", 6) == 0)
			tcp = n + 6;
		else if (udp == NULL && strncmp(n, "udp://", 6) == 0)
			udp = n + 6;
		else if (unx == NULL && strncmp(n, "unix://", 7) == 0)
			unx = n + 7;
	}
	if (d->metrics != NULL)
		log_notice("counters: custodyd status --metrics %s",
		    metrics_name(d->metrics));
	if (tcp != NULL) {
		const char *colon = strrchr(tcp, ':');

		log_notice("send a test event: logger --tcp --server %.*s "
		    "--port %s --rfc5424 'hello custody'",
		    (int)(colon - tcp), tcp, colon + 1);
	}
	if (udp != NULL) {
		const char *colon = strrchr(udp, ':');

		log_notice("or over UDP:       logger --udp --server %.*s "
		    "--port %s --rfc5424 'hello custody'",
		    (int)(colon - udp), udp, colon + 1);
	}
	if (unx != NULL)
		log_notice("or locally:        logger --socket %s "
		    "'hello custody'", unx);
	log_notice("stop with SIGTERM (kill %ld), then verify: "
	    "custody-verify %s", (long)getpid(), d->cfg->data_dir);
}

/*
 * Loads the log key, if the store has one, into *lk (returned to free)
 * and *cert, and opens the chain tree's node store at the chain's size
 * into d->tree (SPEC 13).  Without a log key, or when the tree cannot be
 * opened, *lk stays NULL and no note checkpoints are written.  Returns
 * 0, or -1 after logging why (a log key that is there but unusable).
 */
static int
open_log(struct daemon *d, const cst_root_pub *root,
    const struct recovery *rec, cst_log_key **lk, cst_log_cert *cert)
{
	const struct conf *c = d->cfg;
	char err[STORE_ERR_LEN], terr[TREESTORE_ERR_LEN];
	int rc;

	*lk = NULL;
	rc = store_log_key(c->data_dir, root, c->keys_create, lk, cert, err);
	if (rc == CST_ENOENT) {
		log_notice("no log key (%s/keys/log.key): no note checkpoints "
		    "are written, and witnesses cannot follow this chain; "
		    "make one with `custodyd keygen --log-key --root-key "
		    "ROOT.KEY --out DIR`", c->data_dir);
		return (0);
	}
	if (rc != 0) {
		log_err("%s", err);
		return (-1);
	}
	/*
	 * The tree is derived data: collecting goes on without it, and only
	 * the notes stop, as they would without a log key.
	 */
	if (treestore_open(c->data_dir, rec->st.next_block_no,
	    rec->st.prev_hash, &d->tree, terr) != 0) {
		log_err("chain tree: %s; no note checkpoints are written this "
		    "run", terr);
		cst_log_key_free(*lk);
		*lk = NULL;
	}
	return (0);
}

/*
 * Prepares the data directory, loads (or creates) the keys into *key
 * (returned to free) and recovers the store (R-REC-5/6) into *rec; then
 * open_log.  Returns 0, or -1 after logging why.
 */
static int
open_store(struct daemon *d, cst_epoch_key **key, struct recovery *rec,
    cst_log_key **lk, cst_log_cert *cert)
{
	const struct conf *c = d->cfg;
	cst_root_pub root;
	uint8_t fp[CST_HASH_LEN];
	char err[STORE_ERR_LEN];
	int created;

	if (store_prepare(c->data_dir, err) != 0 ||
	    store_keys(c->data_dir, c->keys_create, d->start_ns, key, &root,
	    &created, err) != 0) {
		log_err("%s", err);
		return (-1);
	}
	cst_key_fingerprint(root.pk, fp);
	cst_hex(fp, CST_FPR_LEN, d->root_fpr);
	cst_hex(root.chain_id, CST_CHAIN_ID_LEN, d->chain_hex);
	if (created)
		log_notice("created development keys in %s/keys (chain %s); "
		    "for production make them with `custodyd keygen` and "
		    "keep root.key offline", c->data_dir, d->chain_hex);

	if (recovery_run(c->data_dir, *key, clock_real_ns(), rec,
	    err) != 0) {
		log_err("%s", err);
		return (-1);
	}
	if (rec->cut_len > 0)
		log_warn("recovery: cut %" PRIu64 " bytes from segment %"
		    PRIu64 " at offset %" PRIu64 " into quarantine/%s",
		    rec->cut_len, rec->segment_no, rec->valid_len,
		    rec->quarantine);
	else if (rec->unclean)
		log_warn("recovery: the last run did not stop cleanly; "
		    "segment %" PRIu64 " continues at offset %" PRIu64,
		    rec->segment_no, rec->valid_len);
	return (open_log(d, &root, rec, lk, cert));
}

/*
 * Binds the listeners and the metrics endpoint, as root when dropping
 * privileges (privdrop.h), then gives root up for good.  Nothing is read
 * before the loop runs.  A listener that cannot be bound is kept in
 * *listen_err for start_listening, which seals why the daemon stops.
 * Returns 0, or -1 after logging why root could not be given up.
 */
static int
bind_listeners(struct daemon *d, const struct privdrop *pd,
    char listen_err[LISTENER_ERR_LEN])
{
	const struct conf *c = d->cfg;
	struct listener_env env;
	char err[LISTENER_ERR_LEN], perr[PRIVDROP_ERR_LEN];

	listen_err[0] = '\0';
	if (privdrop_regain(pd, perr) != 0) {
		log_err("%s", perr);
		return (-1);
	}
	memset(&env, 0, sizeof(env));
	env.loop = &d->loop;
	env.batcher = d->batcher;
	env.max_message = c->max_message;
	env.max_connections = c->max_connections;
	env.max_connections_per_peer = c->max_connections_per_peer;
	env.idle_timeout_ms = c->idle_timeout_s * 1000;
	env.udp_rcvbuf = c->udp_rcvbuf;
	env.tls = &c->tls;
	env.after_read = after_read;
	env.waiting = on_waiting;
	env.fatal = listener_fatal;
	env.ctx = d;
	if (listeners_open(&env, c->listen, c->nlisten, &d->ls,
	    listen_err) != 0)
		d->ls = NULL;
	else if (c->metrics != NULL && metrics_open(&d->loop, c->metrics,
	    metrics_render, d, &d->metrics, err) != 0)
		log_warn("no metrics endpoint: %s", err);
	/* A witness that cannot serve is a listener that cannot bind. */
	if (d->ls != NULL && daemon_witness_open(d) != 0) {
		snprintf(listen_err, LISTENER_ERR_LEN, "witness.listen %s: "
		    "cannot serve (see above)", c->witness.listen);
		listeners_close(d->ls, listeners_closed, d);
		d->ls = NULL;
	}
	if (privdrop_finish(pd, perr) != 0) {
		log_err("%s", perr);
		return (-1);
	}
	if (pd->active)
		log_notice("running as %s (uid %lu, gid %lu)", pd->name,
		    (unsigned long)pd->uid, (unsigned long)pd->gid);
	return (0);
}

static void
control_failed(void *ctx, int rc)
{

	daemon_audit_failed(ctx, rc);
}

/*
 * The control socket, bound as the final user so that it is the
 * collector's file.  One that cannot be opened costs the access records,
 * not the collection: it is logged and custodyd goes on.
 */
static void
open_control(struct daemon *d)
{
	const struct conf *c = d->cfg;
	struct control_env env;
	char path[4096], err[CONTROL_ERR_LEN], *dir;

	if (c->control_off)
		return;
	if (c->control_socket != NULL)
		snprintf(path, sizeof(path), "%s", c->control_socket);
	else {
		/* A relative data_dir (make run's ./data) made absolute. */
		dir = realpath(c->data_dir, NULL);
		snprintf(path, sizeof(path), "%s/control.sock",
		    dir != NULL ? dir : c->data_dir);
		free(dir);
	}
	memset(&env, 0, sizeof(env));
	env.loop = &d->loop;
	env.batcher = d->batcher;
	env.failed = control_failed;
	env.ctx = d;
	if (control_open(&env, path, &d->control, err) != 0)
		log_err("%s; no access records will be made", err);
}

/*
 * Starts the clock and reading; a listener that could not be bound
 * (listen_err, borrowed) stops the daemon, with the reason in the chain.
 */
static void
start_listening(struct daemon *d, const char *listen_err)
{
	const struct conf *c = d->cfg;
	char err[CONTROL_ERR_LEN];
	size_t i;

	if (d->ls == NULL) {
		log_err("%s", listen_err);
		/* The start is in the chain: so is why it ended. */
		begin_stop(d, "cannot listen", 1);
		return;
	}
	if (d->control != NULL && control_start(d->control, err) != 0) {
		log_err("%s; no access records", err);
		control_close(d->control);
		d->control = NULL;
	}
	listeners_durable(d->ls, daemon_answer_point(d));
	d->tick_real = clock_real_ns();
	d->tick_mono = d->last_stats = clock_mono_ns();
	for (i = 0; i < listeners_count(d->ls) && i < MAX_LISTEN; i++)
		d->loss[i].since_ns = d->start_ns;
	uv_timer_start(&d->tick, on_tick, 1000, 1000);
	/* The start records are sealed without waiting for events. */
	batcher_cut(d->batcher);
	banner(d);
	sd_notifyf(0, "READY=1\nSTATUS=collecting into %s\nMAINPID=%lu",
	    c->data_dir, (unsigned long)getpid());
}

int
daemon_run(struct conf *c, daemon_reload_fn *reload_fn, void *ctx)
{
	static const int signums[3] = { SIGTERM, SIGINT, SIGHUP };
	struct daemon *d;
	struct batcher_cfg bc;
	struct batcher_ops bops = { on_cut, on_opened };
	struct sealpool_ops sops = { on_built, on_sealed };
	struct writer_ops wops = { on_durable, on_key_epoch, on_writer_fatal,
	    daemon_witness_note };
	struct writer_cfg wc;
	struct recovery rec;
	struct privdrop pd;
	cst_epoch_key *key = NULL;
	cst_log_key *lk = NULL;
	cst_log_cert lcert;
	char err[STORE_ERR_LEN], fderr[FDLIMIT_ERR_LEN];
	char perr[PRIVDROP_ERR_LEN], listen_err[LISTENER_ERR_LEN];
	uint64_t fdmax;
	int rc, code = 1;
	size_t i;

	if ((d = calloc(1, sizeof(*d))) == NULL) {
		log_err("%s", cst_strerror(CST_ENOMEM));
		return (1);
	}
	d->cfg = c;
	d->reload = reload_fn;
	d->reload_ctx = ctx;
	d->start_ns = clock_real_ns();
	pthread_mutex_init(&d->mtx, NULL);
	/* With no file there is nothing to hash: the hash of no bytes. */
	snprintf(d->config_hash, sizeof(d->config_hash), "%s",
	    c->sha256_hex[0] != '\0' ? c->sha256_hex :
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

	/* Before anything is opened: a flood must not starve the store. */
	if (fdlimit_fit(c->max_connections, c->nlisten, &fdmax, fderr) != 0) {
		log_err("%s", fderr);
		goto err1;
	}
	/* The store is opened as the user it belongs to (privdrop.h). */
	if (privdrop_begin(c, &pd, perr) != 0) {
		log_err("%s", perr);
		goto err1;
	}
	if (open_store(d, &key, &rec, &lk, &lcert) != 0) {
		if (pd.active)
			log_err("custodyd opens the store as %s: %s and "
			    "everything in it must belong to %s", pd.name,
			    c->data_dir, pd.name);
		goto err1;
	}

	if ((rc = uv_loop_init(&d->loop)) != 0) {
		log_err("uv_loop_init: %s", uv_strerror(rc));
		goto err1;
	}
	bc.max_records = c->batch_records;
	bc.max_bytes = c->batch_bytes;
	bc.max_inflight = c->max_inflight;
	if ((rc = batcher_new(&bc, &bops, d, rec.st.next_seq,
	    &d->batcher)) != 0) {
		log_err("batcher: %s", cst_strerror(rc));
		goto err2;
	}
	d->durable_next = rec.st.next_seq;
	uv_async_init(&d->loop, &d->notify, on_notify);
	d->notify.data = d;
	uv_timer_init(&d->loop, &d->batch_timer);
	d->batch_timer.data = d;
	uv_timer_init(&d->loop, &d->tick);
	d->tick.data = d;
	for (i = 0; i < 3; i++) {
		uv_signal_init(&d->loop, &d->sigs[i]);
		d->sigs[i].data = d;
		uv_signal_start(&d->sigs[i], on_signal, signums[i]);
	}

	/* The records before any event: they go first into the chain. */
	if ((rc = first_records(d, &rec, key)) != 0) {
		log_err("recording the start: %s", cst_strerror(rc));
		goto err3;
	}
	reload_writer_cfg(c, &wc);
	if ((rc = writer_new(c->data_dir, &wc, key, &rec, &wops, d,
	    &d->writer, err)) != 0) {
		log_err("%s", err);
		goto err3;
	}
	key = NULL;
	if (open_anchor(d) != 0)
		goto err4;
	if (lk != NULL) {
		if ((rc = writer_set_log(d->writer, lk, &lcert, d->tree)) != 0) {
			log_err("log key: %s", cst_strerror(rc));
			goto err4;
		}
		lk = NULL;
	}
	if (c->rep.servers != NULL) {
		char rerr[REPLICATE_ERR_LEN];

		if (replicate_new(&c->rep, c->data_dir, d->chain_hex,
		    atomic_load(&writer_stats(d->writer)->durable_blocks),
		    on_replicated, d,
		    &d->rep, rerr) != 0) {
			log_err("replication refused: %s", rerr);
			goto err4;
		}
	}
	/* Before any thread: the identity changes for this one alone. */
	if (bind_listeners(d, &pd, listen_err) != 0) {
		if (d->ls != NULL) {
			listeners_close(d->ls, listeners_closed, d);
			d->ls = NULL;
		}
		goto err4;
	}
	open_control(d);
	/* The submitter first: the writer tells it of each note. */
	if ((rc = daemon_submit_start(d)) != 0 ||
	    (rc = sealpool_start((unsigned)c->seal_threads, c->zstd_level,
	    &sops, d, &d->seal)) != 0 || (rc = writer_start(d->writer)) != 0 ||
	    (d->anchor != NULL && (rc = anchor_start(d->anchor)) != 0) ||
	    (d->rep != NULL && (rc = replicate_start(d->rep)) != 0)) {
		log_err("starting threads: %s", cst_strerror(rc));
		goto err4;
	}

	start_listening(d, listen_err);
	uv_run(&d->loop, UV_RUN_DEFAULT);
	code = d->exit_code;

err4:
	/* It pins checkpoints through the writer: gone before it. */
	anchor_free(d->anchor);
	d->anchor = NULL;
	/* The workers drain into the writer, which has stopped or will. */
	sealpool_stop(d->seal);
	daemon_witness_free(d);
	writer_free(d->writer);
	/* The stop record and the seal go to the replicas too, if they can. */
	replicate_free(d->rep, REPLICATE_DRAIN_MS);
	d->rep = NULL;
	drain(d);
err3:
	control_close(d->control);
	d->control = NULL;
	if (d->state != STOPPED)
		finish(d);
	close_handle((uv_handle_t *)&d->notify);
	uv_run(&d->loop, UV_RUN_DEFAULT);
	batcher_free(d->batcher);
err2:
	uv_loop_close(&d->loop);
err1:
	cst_epoch_key_free(key);
	cst_log_key_free(lk);
	treestore_close(d->tree);
	pthread_mutex_destroy(&d->mtx);
	free(d);
	return (code);
}
