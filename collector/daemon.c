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
#include "daemon.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "recovery.h"
#include "sealpool.h"
#include "store.h"
#include "writer.h"

#define NS_PER_MS INT64_C(1000000)
#define NS_PER_S INT64_C(1000000000)
/* As many as listener.c takes. */
#define MAX_LISTEN 64

enum dstate { RUNNING, STOPPING, STOPPED };

/* What was last sealed in a loss record for one listener. */
struct loss_mark {
	uint64_t udp_dropped;
	uint64_t kernel_dropped;
	uint64_t oversize;
	int64_t since_ns;
};

struct daemon {
	uv_loop_t loop;
	struct conf *cfg;
	daemon_reload_fn *reload;
	void *reload_ctx;
	char config_hash[65];
	char root_fpr[2 * CST_FPR_LEN + 1];
	char chain_hex[2 * CST_CHAIN_ID_LEN + 1];

	struct batcher *batcher;
	struct sealpool *seal;
	struct writer *writer;
	struct listeners *ls;
	struct metrics *metrics;

	/* The mailbox, filled by other threads. */
	uv_async_t notify;
	pthread_mutex_t mtx;
	struct batchbuf *built;
	struct batch *dur_head;
	struct batch *dur_tail;
	uint32_t new_epoch;       /* 0: none */
	char new_fpr[2 * CST_FPR_LEN + 1];
	int fatal_rc;
	char fatal_msg[256];

	uv_timer_t batch_timer;
	uv_timer_t tick;
	uv_signal_t sigs[3];

	enum dstate state;
	int exit_code;
	int64_t start_ns;
	int64_t tick_real;
	int64_t tick_mono;
	int64_t last_stats;
	uint64_t pauses;
	uint64_t events_durable;
	struct loss_mark loss[MAX_LISTEN];
};

static int64_t
real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec);
}

static int64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec);
}

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

/* A self-audit record could not be recorded: out of memory. */
static void
audit_failed(struct daemon *d, int rc)
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

	(void)ctx;
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
		if (bt->ctl == BATCH_STOP)
			stopped = 1;
		batcher_done(d->batcher, bt);
	}
	if (epoch != 0 && d->state == RUNNING) {
		log_notice("signing key rotated to epoch %" PRIu32 " (%s)",
		    epoch, fpr);
		if ((rc = audit_key_epoch(d->batcher, epoch, fpr,
		    real_ns())) != 0)
			audit_failed(d, rc);
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
		    c->oversize == m->oversize)
			continue;
		if ((rc = audit_loss(d->batcher, listeners_name(d->ls, i),
		    c->udp_dropped - m->udp_dropped,
		    c->kernel_dropped - m->kernel_dropped,
		    c->oversize - m->oversize, m->since_ns, now)) != 0) {
			audit_failed(d, rc);
			return;
		}
		m->udp_dropped = c->udp_dropped;
		m->kernel_dropped = c->kernel_dropped;
		m->oversize = c->oversize;
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
	int64_t real = real_ns(), mono = mono_ns(), step;
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
			audit_failed(d, rc);
			return;
		}
	}
	report_losses(d, real);
	if (d->cfg->stats_interval_s != 0 && mono - d->last_stats >=
	    (int64_t)d->cfg->stats_interval_s * NS_PER_S) {
		d->last_stats = mono;
		totals(d, &received, &failed, &bytes);
		if ((rc = audit_stats(d->batcher, received, failed, bytes,
		    real)) != 0)
			audit_failed(d, rc);
	}
}

/* ---- stop, reload ---- */

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
		report_losses(d, real_ns());
	}
	totals(d, &received, &failed, &bytes);
	d->ls = NULL;
	if ((rc = audit_stop(d->batcher, reason, received,
	    atomic_load(&writer_stats(d->writer)->records), real_ns())) != 0)
		log_err("recording the stop record: %s", cst_strerror(rc));
	if ((rc = batcher_control(d->batcher, BATCH_STOP)) != 0) {
		log_err("cannot stop the pipeline: %s", cst_strerror(rc));
		d->exit_code = 1;
		finish(d);
	}
}

static void
writer_cfg_of(const struct conf *c, struct writer_cfg *w)
{

	memset(w, 0, sizeof(*w));
	w->commit_interval_ms = c->commit_interval_ms;
	w->segment_max_bytes = c->segment_max_bytes;
	w->segment_max_age_s = c->segment_max_age_s;
	w->key_rotate_s = c->key_rotate_s;
	w->checkpoint_interval_ms = c->checkpoint_interval_ms;
	if (c->checkpoint_export_dir != NULL)
		snprintf(w->checkpoint_export_dir,
		    sizeof(w->checkpoint_export_dir), "%s",
		    c->checkpoint_export_dir);
}

/*
 * SIGHUP: the tunables that can change while running are taken from the
 * file again; a change to anything else (listeners, sizes, data
 * directory) waits for a restart, and says so.  The segment is rotated
 * either way.
 */
static void
reload(struct daemon *d)
{
	struct writer_cfg wc;
	struct conf nc;
	char err[CONF_ERR_LEN];
	int rc;

	conf_init(&nc);
	if (d->reload == NULL ||
	    (rc = d->reload(d->reload_ctx, &nc, err)) != 0 ||
	    (rc = conf_check(&nc, err)) != 0) {
		if (d->reload != NULL)
			log_err("reload: %s; keeping the running configuration",
			    err);
		goto rotate;
	}
	if (nc.batch_records != d->cfg->batch_records ||
	    nc.batch_bytes != d->cfg->batch_bytes ||
	    nc.max_inflight != d->cfg->max_inflight ||
	    nc.max_message != d->cfg->max_message ||
	    nc.seal_threads != d->cfg->seal_threads ||
	    nc.zstd_level != d->cfg->zstd_level ||
	    nc.nlisten != d->cfg->nlisten ||
	    strcmp(nc.data_dir, d->cfg->data_dir) != 0)
		log_notice("reload: listeners, sizes, threads and the data "
		    "directory change only on restart");
	d->cfg->batch_delay_ms = nc.batch_delay_ms;
	d->cfg->commit_interval_ms = nc.commit_interval_ms;
	d->cfg->segment_max_bytes = nc.segment_max_bytes;
	d->cfg->segment_max_age_s = nc.segment_max_age_s;
	d->cfg->key_rotate_s = nc.key_rotate_s;
	d->cfg->checkpoint_interval_ms = nc.checkpoint_interval_ms;
	d->cfg->stats_interval_s = nc.stats_interval_s;
	d->cfg->clock_step_ms = nc.clock_step_ms;
	free(d->cfg->checkpoint_export_dir);
	d->cfg->checkpoint_export_dir = nc.checkpoint_export_dir;
	nc.checkpoint_export_dir = NULL;
	writer_cfg_of(d->cfg, &wc);
	writer_set_cfg(d->writer, &wc);
	if (nc.sha256_hex[0] != '\0')
		memcpy(d->config_hash, nc.sha256_hex, sizeof(d->config_hash));
	log_notice("reloaded the configuration (sha256 %s)", d->config_hash);
	if ((rc = audit_reload(d->batcher, d->config_hash, real_ns())) != 0)
		audit_failed(d, rc);
rotate:
	conf_close(&nc);
	if (d->state == RUNNING &&
	    (rc = batcher_control(d->batcher, BATCH_ROTATE)) != 0)
		audit_failed(d, rc);
}

static void
on_signal(uv_signal_t *s, int signum)
{
	struct daemon *d = s->data;

	if (signum == SIGHUP) {
		if (d->state == RUNNING)
			reload(d);
		return;
	}
	if (d->state != RUNNING) {
		log_notice("already stopping");
		return;
	}
	begin_stop(d, signum == SIGTERM ? "SIGTERM" : "SIGINT", 0);
}

/* ---- health ---- */

static void
metric(cst_buf *out, const char *name, const char *type, const char *help,
    uint64_t v)
{
	char line[512];
	int n;

	n = snprintf(line, sizeof(line), "# HELP %s %s\n# TYPE %s %s\n%s %"
	    PRIu64 "\n", name, help, name, type, name, v);
	if (n > 0 && (size_t)n < sizeof(line))
		cst_buf_append(out, line, (size_t)n);
}

/* One counter per listener, labelled with its name. */
static void
metric_per_listener(struct daemon *d, cst_buf *out, const char *name,
    const char *help, size_t off)
{
	char line[600];
	size_t i;
	int n;

	n = snprintf(line, sizeof(line), "# HELP %s %s\n# TYPE %s counter\n",
	    name, help, name);
	cst_buf_append(out, line, (size_t)n);
	if (d->ls == NULL)
		return;
	for (i = 0; i < listeners_count(d->ls); i++) {
		uint64_t v;

		memcpy(&v, (char *)listeners_counters(d->ls, i) + off,
		    sizeof(v));
		n = snprintf(line, sizeof(line), "%s{listener=\"%s\"} %" PRIu64
		    "\n", name, listeners_name(d->ls, i), v);
		if (n > 0 && (size_t)n < sizeof(line))
			cst_buf_append(out, line, (size_t)n);
	}
}

#define LC(f) offsetof(struct listener_counters, f)

static void
render(void *ctx, cst_buf *out)
{
	struct daemon *d = ctx;
	const struct writer_stats *ws = writer_stats(d->writer);

	metric_per_listener(d, out, "custody_received_total",
	    "Messages (or pieces of split messages) recorded.", LC(received));
	metric_per_listener(d, out, "custody_received_bytes_total",
	    "Raw bytes recorded.", LC(bytes));
	metric_per_listener(d, out, "custody_parse_failed_total",
	    "Messages kept raw because they did not parse.", LC(parse_failed));
	metric_per_listener(d, out, "custody_oversize_total",
	    "Messages longer than max_message, kept in pieces.", LC(oversize));
	metric_per_listener(d, out, "custody_framing_errors_total",
	    "Streams closed on bad framing (bytes kept, flagged).",
	    LC(framing_errors));
	metric_per_listener(d, out, "custody_incomplete_total",
	    "Messages cut short by the end of their stream (kept, flagged).",
	    LC(incomplete));
	metric_per_listener(d, out, "custody_udp_dropped_total",
	    "Datagrams custodyd could not record whole.", LC(udp_dropped));
	metric_per_listener(d, out, "custody_kernel_dropped_total",
	    "Datagrams the kernel dropped on a full socket queue.",
	    LC(kernel_dropped));
	metric(out, "custody_events_durable_total", "counter",
	    "Events sealed, signed and fsynced.", d->events_durable);
	metric(out, "custody_records_durable_total", "counter",
	    "Records (events and self-audit) durable.",
	    atomic_load(&ws->records));
	metric(out, "custody_blocks_total", "counter",
	    "Data blocks durable.", atomic_load(&ws->blocks));
	metric(out, "custody_written_bytes_total", "counter",
	    "Bytes of block frames written.", atomic_load(&ws->bytes));
	metric(out, "custody_commits_total", "counter",
	    "fdatasync group commits.", atomic_load(&ws->syncs));
	metric(out, "custody_last_commit_timestamp_seconds", "gauge",
	    "UTC time of the last commit.",
	    atomic_load(&ws->last_commit_ns) / NS_PER_S);
	metric(out, "custody_checkpoints_total", "counter",
	    "Checkpoints written.", atomic_load(&ws->checkpoints));
	metric(out, "custody_checkpoint_errors", "gauge",
	    "Checkpoint writes failed in a row.",
	    atomic_load(&ws->checkpoint_errors));
	metric(out, "custody_next_seq", "gauge",
	    "Sequence number of the next record.",
	    batcher_next_seq(d->batcher));
	metric(out, "custody_segment_number", "gauge",
	    "Segment being written.", atomic_load(&ws->segment_no));
	metric(out, "custody_next_block_number", "gauge",
	    "Number of the next block.", atomic_load(&ws->next_block_no));
	metric(out, "custody_key_epoch", "gauge",
	    "Epoch of the signing key.", atomic_load(&ws->epoch));
	metric(out, "custody_open_batch_records", "gauge",
	    "Records waiting in the open batch.",
	    batcher_pending(d->batcher));
	metric(out, "custody_seal_queue_batches", "gauge",
	    "Batches queued for or being sealed.", sealpool_depth(d->seal));
	metric(out, "custody_inflight_bytes", "gauge",
	    "Pipeline memory in use.", batcher_inflight(d->batcher));
	metric(out, "custody_inflight_limit_bytes", "gauge",
	    "pipeline.max_inflight.", d->cfg->max_inflight);
	metric(out, "custody_paused", "gauge",
	    "1 while listeners are paused for memory (back-pressure).",
	    d->ls != NULL && listeners_paused(d->ls));
	metric(out, "custody_pauses_total", "counter",
	    "Times the listeners were paused.", d->pauses);
	metric(out, "custody_connections", "gauge",
	    "Open stream connections.",
	    d->ls != NULL ? listeners_connections(d->ls) : 0);
	metric(out, "custody_connections_refused_total", "counter",
	    "Connections refused over max_connections.",
	    d->ls != NULL ? listeners_refused(d->ls) : 0);
	metric(out, "custody_start_time_seconds", "gauge",
	    "UTC time custodyd started.", (uint64_t)(d->start_ns / NS_PER_S));
}

/* ---- start ---- */

/* The first records of a run: recovery (R-REC-5), start, key epoch. */
static int
first_records(struct daemon *d, const struct recovery *rec,
    const cst_epoch_key *key)
{
	struct audit_start s;
	char host[256], fpr[2 * CST_FPR_LEN + 1];
	int64_t now = real_ns();
	int rc;

	if (rec->unclean && (rc = audit_recovery(d->batcher, rec, now)) != 0)
		return (rc);
	if (gethostname(host, sizeof(host)) != 0)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	s.version = CUSTODY_VERSION " (" CUSTODY_GIT_COMMIT ")";
	s.config_hash = d->config_hash;
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

int
daemon_run(struct conf *c, daemon_reload_fn *reload_fn, void *ctx)
{
	static const int signums[3] = { SIGTERM, SIGINT, SIGHUP };
	struct daemon *d;
	struct listener_env env;
	struct batcher_cfg bc;
	struct batcher_ops bops = { on_cut, on_opened };
	struct sealpool_ops sops = { on_built, on_sealed };
	struct writer_ops wops = { on_durable, on_key_epoch, on_writer_fatal };
	struct writer_cfg wc;
	struct recovery rec;
	cst_epoch_key *key = NULL;
	cst_root_pub root;
	uint8_t fp[CST_HASH_LEN];
	char err[STORE_ERR_LEN];
	int created, rc, code = 1;
	size_t i;

	if ((d = calloc(1, sizeof(*d))) == NULL) {
		log_err("%s", cst_strerror(CST_ENOMEM));
		return (1);
	}
	d->cfg = c;
	d->reload = reload_fn;
	d->reload_ctx = ctx;
	d->start_ns = real_ns();
	pthread_mutex_init(&d->mtx, NULL);
	/* With no file there is nothing to hash: the hash of no bytes. */
	snprintf(d->config_hash, sizeof(d->config_hash), "%s",
	    c->sha256_hex[0] != '\0' ? c->sha256_hex :
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

	if (store_prepare(c->data_dir, err) != 0 ||
	    store_keys(c->data_dir, c->keys_create, d->start_ns, &key, &root,
	    &created, err) != 0) {
		log_err("%s", err);
		goto err0;
	}
	cst_key_fingerprint(root.pk, fp);
	cst_hex(fp, CST_FPR_LEN, d->root_fpr);
	cst_hex(root.chain_id, CST_CHAIN_ID_LEN, d->chain_hex);
	if (created)
		log_notice("created development keys in %s/keys (chain %s); "
		    "for production make them with `custodyd keygen` and "
		    "keep root.key offline", c->data_dir, d->chain_hex);

	if ((rc = recovery_run(c->data_dir, key, real_ns(), &rec, err)) != 0) {
		log_err("%s", err);
		goto err1;
	}
	if (rec.cut_len > 0)
		log_warn("recovery: cut %" PRIu64 " bytes from segment %"
		    PRIu64 " at offset %" PRIu64 " into quarantine/%s",
		    rec.cut_len, rec.segment_no, rec.valid_len,
		    rec.quarantine);
	else if (rec.unclean)
		log_warn("recovery: the last run did not stop cleanly; "
		    "segment %" PRIu64 " continues at offset %" PRIu64,
		    rec.segment_no, rec.valid_len);

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
	writer_cfg_of(c, &wc);
	if ((rc = writer_new(c->data_dir, &wc, key, &rec, &wops, d,
	    &d->writer, err)) != 0) {
		log_err("%s", err);
		goto err3;
	}
	key = NULL;
	if ((rc = sealpool_start((unsigned)c->seal_threads, c->zstd_level,
	    &sops, d, &d->seal)) != 0 || (rc = writer_start(d->writer)) != 0) {
		log_err("starting threads: %s", cst_strerror(rc));
		goto err4;
	}

	memset(&env, 0, sizeof(env));
	env.loop = &d->loop;
	env.batcher = d->batcher;
	env.max_message = c->max_message;
	env.max_connections = c->max_connections;
	env.udp_rcvbuf = c->udp_rcvbuf;
	env.after_read = after_read;
	env.fatal = listener_fatal;
	env.ctx = d;
	if ((rc = listeners_open(&env, c->listen, c->nlisten, &d->ls,
	    err)) != 0) {
		log_err("%s", err);
		/* The start is in the chain: so is why it ended. */
		begin_stop(d, "cannot listen", 1);
	} else {
		if (c->metrics != NULL && metrics_open(&d->loop, c->metrics,
		    render, d, &d->metrics, err) != 0)
			log_warn("no metrics endpoint: %s", err);
		d->tick_real = real_ns();
		d->tick_mono = d->last_stats = mono_ns();
		for (i = 0; i < listeners_count(d->ls) && i < MAX_LISTEN; i++)
			d->loss[i].since_ns = d->start_ns;
		uv_timer_start(&d->tick, on_tick, 1000, 1000);
		/* The start records are sealed without waiting for events. */
		batcher_cut(d->batcher);
		banner(d);
		sd_notifyf(0, "READY=1\nSTATUS=collecting into %s\nMAINPID=%lu",
		    c->data_dir, (unsigned long)getpid());
	}
	uv_run(&d->loop, UV_RUN_DEFAULT);
	code = d->exit_code;

err4:
	/* The workers drain into the writer, which has stopped or will. */
	sealpool_stop(d->seal);
	writer_free(d->writer);
	drain(d);
err3:
	if (d->state != STOPPED)
		finish(d);
	close_handle((uv_handle_t *)&d->notify);
	uv_run(&d->loop, UV_RUN_DEFAULT);
	batcher_free(d->batcher);
err2:
	uv_loop_close(&d->loop);
err1:
	cst_epoch_key_free(key);
err0:
	pthread_mutex_destroy(&d->mtx);
	free(d);
	return (code);
}
