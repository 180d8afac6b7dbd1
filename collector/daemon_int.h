/*
 * The daemon's state, shared by the files that make up its life on the
 * event loop thread: daemon.c (start, the mailbox, self-audit, signals,
 * the stop), reload.c (SIGHUP) and metrics_render.c (the counters' text).
 * Everything here belongs to the loop thread, except the mailbox, which
 * is guarded by mtx.
 */
#ifndef CUSTODY_COLLECTOR_DAEMON_INT_H
#define CUSTODY_COLLECTOR_DAEMON_INT_H

#include <pthread.h>
#include <stdint.h>

#include <uv.h>

#include "custody/buf.h"
#include "custody/keys.h"

#include "anchor.h"
#include "audit.h"
#include "clock.h"
#include "conf.h"
#include "control.h"
#include "daemon.h"
#include "writer.h"

/* As many as the listener set takes. */
#define MAX_LISTEN 64

enum dstate { RUNNING, STOPPING, STOPPED };

/* What was last sealed in a loss record for one listener. */
struct loss_mark {
	uint64_t udp_dropped;
	uint64_t kernel_dropped;
	uint64_t oversize;
	uint64_t discarded;
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
	struct anchor *anchor;    /* NULL: no [anchor] tsa_url */
	/*
	 * The chain tree's nodes (SPEC 13), for proofs from any thread; NULL
	 * without a log key.  Closed after the writer.
	 */
	struct treestore *tree;
	struct listeners *ls;
	/* Closed by a stop, until every handle is: RELP answers still go. */
	struct listeners *ls_stopping;
	struct metrics *metrics;
	struct control *control; /* NULL: none (off, or it would not open) */
	/* Witnessing (daemon_witness.c); NULL when not configured. */
	struct witness *witness;
	struct witness_srv *wsrv;
	struct submit *submit;
	struct replicate *rep;    /* NULL: no [replicate] */

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
	/* Every record below is in blocks JetStream acknowledged (R-REP-5). */
	uint64_t repl_next;

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
	/* Every record below this sequence number is durable (RELP). */
	uint64_t durable_next;
	/* Batches below this number are durable. */
	uint64_t durable_no;
	/*
	 * Group commit for RELP senders waiting on answers: hurry_no is the
	 * batch the writer was asked to commit at once (while hurrying);
	 * hurry_again, another sender waited meanwhile.
	 */
	int hurrying;
	int hurry_again;
	uint64_t hurry_no;
	struct loss_mark loss[MAX_LISTEN];
	/* A replication backlog sealed as started (R-REP-9), not yet ended. */
	int rep_backlog;
	int64_t rep_since_ns;
	uint64_t rep_published;   /* published blocks, bytes when it began */
	uint64_t rep_published_bytes;
};

/* ---- daemon.c ---- */

/* A self-audit record could not be recorded (rc): the daemon stops. */
void daemon_audit_failed(struct daemon *d, int rc);
/*
 * What a start or reload record says of configuration c (borrowed, and
 * borrowed by *out): d's config hash, c's text, the bound R-CFG-1 sets
 * with d's batch size.
 */
void daemon_config(const struct daemon *d, const struct conf *c,
    struct audit_config *out);

/* ---- daemon_witness.c ---- */

/* The witness endpoint, when witness.listen is set.  0 or an error, logged. */
int daemon_witness_open(struct daemon *d);
/*
 * The submitter, when witness.peer is set, with proofs from d->tree.
 * 0 or an error, logged.
 */
int daemon_submit_start(struct daemon *d);
/*
 * writer_ops.note: a new note checkpoint is stored; the submitter looks
 * at once.  Writer thread; does not block.
 */
void daemon_witness_note(void *ctx, const uint8_t *text, size_t len,
    uint64_t size);
/* Closes the endpoint (at the stop, with the other handles). */
void daemon_witness_close_srv(struct daemon *d);
/* After the loop: joins the submitter, frees the witness. */
void daemon_witness_free(struct daemon *d);
/* Appends the witnessing counters to out (borrowed). */
void daemon_witness_metrics(struct daemon *d, cst_buf *out);

/*
 * The durable point listeners may answer up to: with replicate.ack =
 * replicated, also acknowledged by JetStream (R-REP-5).
 */
uint64_t daemon_answer_point(struct daemon *d);

/* ---- reload.c ---- */

/* The writer's tunables out of configuration c (borrowed). */
void reload_writer_cfg(const struct conf *c, struct writer_cfg *w);
/*
 * SIGHUP: takes the tunables that can change while running from the
 * file again, and rotates the segment.
 */
void reload_run(struct daemon *d);

/* ---- metrics_render.c ---- */

/* Appends the daemon's (ctx) counters as Prometheus text to out (borrowed). */
void metrics_render(void *ctx, cst_buf *out);

#endif /* CUSTODY_COLLECTOR_DAEMON_INT_H */
