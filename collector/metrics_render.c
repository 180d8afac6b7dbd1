/*
 * The daemon's counters as Prometheus text, for the health endpoint
 * (metrics.c serves it).  Runs on the loop thread; the writer's counters
 * are atomics it updates from its own thread.
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>

#include "batcher.h"
#include "daemon_int.h"
#include "listener.h"
#include "replicate.h"
#include "sealpool.h"
#include "writer.h"

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

/* Connections accepted and closed at once, by why. */
static void
refused(cst_buf *out, const struct listener_conn_stats *cs)
{
	static const char name[] = "custody_connections_refused_total";
	const struct {
		const char *reason;
		uint64_t v;
	} r[] = {
		{ "max_connections", cs->refused_max },
		{ "per_peer", cs->refused_peer },
		{ "descriptors", cs->refused_fd },
	};
	char line[512];
	size_t i;
	int n;

	n = snprintf(line, sizeof(line), "# HELP %s Stream connections "
	    "refused: over input.max_connections, over "
	    "input.max_connections_per_peer, or no descriptor left.\n"
	    "# TYPE %s counter\n", name, name);
	if (n > 0 && (size_t)n < sizeof(line))
		cst_buf_append(out, line, (size_t)n);
	for (i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
		n = snprintf(line, sizeof(line), "%s{reason=\"%s\"} %" PRIu64
		    "\n", name, r[i].reason, r[i].v);
		if (n > 0 && (size_t)n < sizeof(line))
			cst_buf_append(out, line, (size_t)n);
	}
}

/* Timestamps (SPEC section 15), when [anchor] tsa_url is set. */
static void
anchor_metrics(struct daemon *d, cst_buf *out)
{
	const struct anchor_stats *as = anchor_stats(d->anchor);
	int64_t gen = (int64_t)atomic_load(&as->newest_gen_ns);
	int64_t now = clock_real_ns();

	metric(out, "custody_tsa_tokens_total", "counter",
	    "RFC 3161 timestamp tokens obtained and stored beside a "
	    "checkpoint.", atomic_load(&as->tokens));
	metric(out, "custody_tsa_failures_total", "counter",
	    "Timestamp requests that failed (no answer, HTTP error, refused "
	    "or unusable response, store error); each is retried.",
	    atomic_load(&as->failures));
	/* Left out until a token exists: a 0 would read as a fresh one. */
	if (gen > 0) {
		metric(out, "custody_tsa_newest_token_age_seconds", "gauge",
		    "Seconds since the genTime of the newest token obtained.",
		    now > gen ? (uint64_t)((now - gen) / NS_PER_S) : 0);
		metric(out, "custody_tsa_newest_token_blocks", "gauge",
		    "Blocks the checkpoint of the newest token covers.",
		    atomic_load(&as->newest_blocks));
	}
}

#define LC(f) offsetof(struct listener_counters, f)

/* [replicate]'s counters (SPEC section 17). */
static void
replication(struct daemon *d, cst_buf *out)
{
	struct replicate_stats st;
	int64_t now = clock_real_ns(), ref;

	replicate_stats(d->rep, &st);
	metric(out, "custody_replicate_backlog_blocks", "gauge",
	    "Durable blocks JetStream has not acknowledged yet.",
	    st.backlog_blocks);
	metric(out, "custody_replicate_backlog_bytes", "gauge",
	    "Segment bytes after the last block JetStream acknowledged.",
	    st.backlog_bytes);
	metric(out, "custody_replicate_published_total", "counter",
	    "Blocks JetStream acknowledged since start.", st.published);
	metric(out, "custody_replicate_published_bytes_total", "counter",
	    "Bytes of those blocks.", st.published_bytes);
	metric(out, "custody_replicate_errors_total", "counter",
	    "Failed connections, publishes and stream queries.", st.errors);
	metric(out, "custody_replicate_connected", "gauge",
	    "1 while connected to NATS.", (uint64_t)st.connected);
	metric(out, "custody_replicate_refused", "gauge",
	    "1 when replication stopped: the stream is unfit or holds "
	    "another store's block (see the log).", (uint64_t)st.refused);
	/* The age of the oldest unacknowledged wait, or of the last ack. */
	ref = st.last_ack_ns != 0 ? st.last_ack_ns : d->start_ns;
	if (st.backlog_blocks == 0)
		ref = now;
	metric(out, "custody_replicate_last_ack_age_seconds", "gauge",
	    "Seconds since JetStream last acknowledged a block while blocks "
	    "wait (0 when none waits).",
	    now > ref ? (uint64_t)((now - ref) / NS_PER_S) : 0);
}

void
metrics_render(void *ctx, cst_buf *out)
{
	struct daemon *d = ctx;
	const struct writer_stats *ws = writer_stats(d->writer);
	struct listener_conn_stats cs;
	struct statvfs vfs;

	memset(&cs, 0, sizeof(cs));
	if (d->ls != NULL)
		listeners_conn_stats(d->ls, &cs);

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
	metric_per_listener(d, out, "custody_discarded_bytes_total",
	    "Bytes the kernel held for streams closed without reading them "
	    "(sealed in loss records); on tls:// and relp+tls:// listeners "
	    "the encrypted bytes, as they came off the wire.", LC(discarded));
	metric_per_listener(d, out, "custody_incomplete_total",
	    "Messages cut short by the end of their stream (kept, flagged).",
	    LC(incomplete));
	metric_per_listener(d, out, "custody_udp_dropped_total",
	    "Datagrams custodyd could not record whole.", LC(udp_dropped));
	metric_per_listener(d, out, "custody_kernel_dropped_total",
	    "Datagrams the kernel dropped on a full socket queue.",
	    LC(kernel_dropped));
	metric_per_listener(d, out, "custody_relp_acked_total",
	    "RELP messages answered 200 OK, each once its record was durable.",
	    LC(relp_acked));
	metric_per_listener(d, out, "custody_relp_refused_total",
	    "RELP connections closed for not speaking RELP (nothing of them "
	    "recorded).", LC(relp_refused));
	metric_per_listener(d, out, "custody_tls_refused_total",
	    "TLS connections refused (plain text, failed handshake, "
	    "certificate not allowed); sealed as refusal records.",
	    LC(tls_refused));
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
	    "Open stream connections.", cs.open);
	refused(out, &cs);
	metric(out, "custody_connections_idle_closed_total", "counter",
	    "Stream connections closed after input.idle_timeout without a "
	    "complete message.", cs.idle_closed);
	metric(out, "custody_start_time_seconds", "gauge",
	    "UTC time custodyd started.", (uint64_t)(d->start_ns / NS_PER_S));
	if (d->anchor != NULL)
		anchor_metrics(d, out);
	if (d->rep != NULL)
		replication(d, out);
	/* Left out when unknown: a 0 would read as a full disk. */
	if (statvfs(d->cfg->data_dir, &vfs) == 0)
		metric(out, "custody_store_free_bytes", "gauge",
		    "Bytes free to custodyd on the store's file system.",
		    (uint64_t)vfs.f_bavail * vfs.f_frsize);
	daemon_witness_metrics(d, out);
}
