/*
 * Self-audit records (SPEC section 7).
 *
 * The detail keys are the SPEC's, so that a verifier or an investigator
 * reads them without knowing this collector; the text line in raw is for
 * a human reading a query's output.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "custody/buf.h"
#include "custody/error.h"
#include "custody/record.h"

#include "audit.h"
#include "log.h"

/* The str fields an audit record leaves empty: never nil (R-REC-1). */
static const uint8_t empty[1];

#define TEXT_LEN 512

static int
put_str(cst_buf *d, const char *key, const char *v)
{

	return (cst_detail_put_str(d, key, v, strlen(v)));
}

/* Appends the record of kind with text and the finished detail map. */
static int
emit(struct batcher *b, uint8_t kind, const char *text, const cst_buf *d,
    int64_t now_ns)
{
	cst_record *r;
	uint8_t *raw, *det;
	size_t len = strlen(text);
	int rc;

	if ((rc = batcher_add(b, len, d->len, &r, &raw)) != 0)
		return (rc == CST_ETOOBIG ? CST_ENOMEM : rc);
	memcpy(raw, text, len);
	det = batcher_alloc(b, d->len);
	memcpy(det, d->p, d->len);
	r->kind = kind;
	r->transport = CST_TR_INTERNAL;
	r->recv_ns = now_ns;
	r->listener.p = empty;
	r->peer.p = empty;
	r->raw.p = raw;
	r->raw.len = len;
	r->detail.p = det;
	r->detail.len = d->len;
	return (0);
}

#define text(out, ...) log_seterr(out, TEXT_LEN, __VA_ARGS__)

/* Ends the detail map d and emits; frees d whatever happens. */
static int
finish(struct batcher *b, uint8_t kind, const char *t, cst_buf *d, int rc,
    int64_t now_ns)
{

	if (rc == 0)
		rc = emit(b, kind, t, d, now_ns);
	cst_buf_close(d);
	return (rc);
}

/* Keys put_config adds for c. */
static uint32_t
config_keys(const struct audit_config *c)
{

	return (c->text != NULL ? 2 : 1);
}

/* config_hash, then the text or the flag saying it was too long. */
static int
put_config(cst_buf *d, const struct audit_config *c)
{
	int rc;

	if ((rc = put_str(d, "config_hash", c->hash)) != 0 || c->text == NULL)
		return (rc);
	if (c->len > c->max)
		return (cst_detail_put_bool(d, "config_truncated", 1));
	return (cst_detail_put_str(d, "config", c->text, c->len));
}

int
audit_start(struct batcher *b, const struct audit_start *s, int64_t now_ns)
{
	char t[TEXT_LEN];
	cst_buf d;
	int rc;

	cst_buf_init(&d);
	text(t, "custodyd %s started: pid %" PRIu64 ", host %s, key epoch %"
	    PRIu32 ", root key %s, config sha256 %s", s->version, s->pid,
	    s->hostname, s->epoch, s->root_fpr, s->config.hash);
	if ((rc = cst_detail_begin(&d, 5 + config_keys(&s->config))) == 0 &&
	    (rc = put_str(&d, "version", s->version)) == 0 &&
	    (rc = put_config(&d, &s->config)) == 0 &&
	    (rc = put_str(&d, "root_fpr", s->root_fpr)) == 0 &&
	    (rc = cst_detail_put_u64(&d, "epoch", s->epoch)) == 0 &&
	    (rc = cst_detail_put_u64(&d, "pid", s->pid)) == 0)
		rc = put_str(&d, "hostname", s->hostname);
	return (finish(b, CST_REC_START, t, &d, rc, now_ns));
}

int
audit_stop(struct batcher *b, const char *reason, uint64_t received,
    uint64_t sealed, int64_t now_ns)
{
	char t[TEXT_LEN];
	cst_buf d;
	int rc;

	cst_buf_init(&d);
	/*
	 * received counts every message (or piece) the listeners recorded in
	 * this run, all of which come before this record in the chain;
	 * sealed, the records of this run (events and self-audit) already
	 * durable when the stop began; the rest are sealed with this one.
	 */
	text(t, "custodyd stopping (%s): %" PRIu64 " messages received in "
	    "this run, all recorded before this record; %" PRIu64 " records "
	    "of this run were durable when the stop began, the rest are "
	    "sealed with this one", reason, received, sealed);
	if ((rc = cst_detail_begin(&d, 3)) == 0 &&
	    (rc = put_str(&d, "reason", reason)) == 0 &&
	    (rc = cst_detail_put_u64(&d, "received", received)) == 0)
		rc = cst_detail_put_u64(&d, "sealed", sealed);
	return (finish(b, CST_REC_STOP, t, &d, rc, now_ns));
}

int
audit_recovery(struct batcher *b, const struct recovery *r, int64_t now_ns)
{
	char t[TEXT_LEN];
	cst_buf d;
	uint32_t n = r->cut_len > 0 ? 6 : 4;
	int rc;

	cst_buf_init(&d);
	if (r->cut_len > 0)
		text(t, "recovered from an unclean stop: cut %" PRIu64
		    " bytes from segment %" PRIu64 " at offset %" PRIu64
		    ", moved to quarantine/%s (sha256 %s)", r->cut_len,
		    r->segment_no, r->valid_len, r->quarantine, r->cut_sha256);
	else
		text(t, "recovered from an unclean stop: segment %" PRIu64
		    " ends with a valid block at offset %" PRIu64
		    ", nothing cut", r->segment_no, r->valid_len);
	if ((rc = cst_detail_begin(&d, n)) == 0 &&
	    (rc = cst_detail_put_u64(&d, "segment_no", r->segment_no)) == 0 &&
	    (rc = cst_detail_put_u64(&d, "valid_len", r->valid_len)) == 0 &&
	    (rc = cst_detail_put_u64(&d, "cut_len", r->cut_len)) == 0 &&
	    (rc = cst_detail_put_i64(&d, "last_block_no",
	    r->last_block_no)) == 0 && r->cut_len > 0 &&
	    (rc = put_str(&d, "quarantine", r->quarantine)) == 0)
		rc = put_str(&d, "cut_sha256", r->cut_sha256);
	return (finish(b, CST_REC_RECOVERY, t, &d, rc, now_ns));
}

int
audit_key_epoch(struct batcher *b, uint32_t epoch, const char *fpr,
    int64_t now_ns)
{
	char t[TEXT_LEN];
	cst_buf d;
	int rc;

	cst_buf_init(&d);
	text(t, "signing key epoch %" PRIu32 " (fingerprint %s)", epoch, fpr);
	if ((rc = cst_detail_begin(&d, 2)) == 0 &&
	    (rc = cst_detail_put_u64(&d, "epoch", epoch)) == 0)
		rc = put_str(&d, "fpr", fpr);
	return (finish(b, CST_REC_KEY_EPOCH, t, &d, rc, now_ns));
}

int
audit_loss(struct batcher *b, const char *listener, uint64_t udp_dropped,
    uint64_t kernel_dropped, uint64_t oversize, uint64_t discarded,
    int64_t since_ns, int64_t now_ns)
{
	char t[TEXT_LEN];
	cst_buf d;
	int rc;

	cst_buf_init(&d);
	text(t, "%s: %" PRIu64 " datagrams dropped by custodyd, %" PRIu64
	    " by the kernel, %" PRIu64 " oversized messages split, %" PRIu64
	    " bytes of closed streams not read, since %" PRId64, listener,
	    udp_dropped, kernel_dropped, oversize, discarded, since_ns);
	if ((rc = cst_detail_begin(&d, 6)) == 0 &&
	    (rc = put_str(&d, "listener", listener)) == 0 &&
	    (rc = cst_detail_put_u64(&d, "udp_dropped", udp_dropped)) == 0 &&
	    (rc = cst_detail_put_u64(&d, "kernel_dropped",
	    kernel_dropped)) == 0 &&
	    (rc = cst_detail_put_u64(&d, "oversize", oversize)) == 0 &&
	    (rc = cst_detail_put_u64(&d, "discarded_bytes", discarded)) == 0)
		rc = cst_detail_put_i64(&d, "since_ns", since_ns);
	return (finish(b, CST_REC_LOSS, t, &d, rc, now_ns));
}

int
audit_stats(struct batcher *b, uint64_t received, uint64_t parse_failed,
    uint64_t bytes, int64_t now_ns)
{
	char t[TEXT_LEN];
	cst_buf d;
	int rc;

	cst_buf_init(&d);
	text(t, "since start: %" PRIu64 " events received (%" PRIu64
	    " bytes), %" PRIu64 " did not parse", received, bytes,
	    parse_failed);
	if ((rc = cst_detail_begin(&d, 3)) == 0 &&
	    (rc = cst_detail_put_u64(&d, "received", received)) == 0 &&
	    (rc = cst_detail_put_u64(&d, "parse_failed", parse_failed)) == 0)
		rc = cst_detail_put_u64(&d, "bytes", bytes);
	return (finish(b, CST_REC_STATS, t, &d, rc, now_ns));
}

int
audit_clock(struct batcher *b, int64_t step_ns, int64_t now_ns)
{
	char t[TEXT_LEN];
	cst_buf d;
	int rc;

	cst_buf_init(&d);
	text(t, "the system clock stepped by %" PRId64 " ns", step_ns);
	if ((rc = cst_detail_begin(&d, 1)) == 0)
		rc = cst_detail_put_i64(&d, "step_ns", step_ns);
	return (finish(b, CST_REC_CLOCK, t, &d, rc, now_ns));
}

int
audit_reload(struct batcher *b, const struct audit_config *c,
    int64_t now_ns)
{
	char t[TEXT_LEN];
	cst_buf d;
	int rc;

	cst_buf_init(&d);
	text(t, "configuration reloaded (sha256 %s)", c->hash);
	if ((rc = cst_detail_begin(&d, config_keys(c))) == 0)
		rc = put_config(&d, c);
	return (finish(b, CST_REC_RELOAD, t, &d, rc, now_ns));
}

int
audit_refusal(struct batcher *b, const char *listener, const char *peer,
    const char *reason, const char *cert, uint64_t suppressed,
    int64_t now_ns)
{
	char t[TEXT_LEN];
	cst_buf d;
	int rc;

	cst_buf_init(&d);
	text(t, "%s: %s refused: %s", listener, peer, reason);
	if ((rc = cst_detail_begin(&d, cert != NULL ? 5 : 4)) == 0 &&
	    (rc = put_str(&d, "listener", listener)) == 0 &&
	    (rc = put_str(&d, "peer", peer)) == 0 &&
	    (rc = put_str(&d, "reason", reason)) == 0 &&
	    (rc = cst_detail_put_u64(&d, "suppressed", suppressed)) == 0 &&
	    cert != NULL)
		rc = put_str(&d, "cert", cert);
	return (finish(b, CST_REC_REFUSAL, t, &d, rc, now_ns));
}

int
audit_access(struct batcher *b, const struct audit_access *a, int64_t now_ns)
{
	char t[TEXT_LEN];
	cst_buf d;
	uint32_t n = 5;
	int rc;

	cst_buf_init(&d);
	n += a->user != NULL;
	n += a->command != NULL;
	n += a->has_shown != 0;
	n += a->bundle != NULL;
	n += a->reason != NULL;
	if (a->command != NULL)
		text(t, "access %" PRIu64 " begins: uid %" PRIu64 " (%s) gid %"
		    PRIu64 " pid %" PRIu64 ": %.*s", a->id, a->uid,
		    a->user != NULL ? a->user : "-", a->gid, a->pid,
		    (int)(a->command_len < 400 ? a->command_len : 400),
		    a->command);
	else if (a->has_shown)
		text(t, "access %" PRIu64 " ends: uid %" PRIu64 " pid %" PRIu64
		    " showed %" PRIu64 " records%s%s", a->id, a->uid, a->pid,
		    a->shown, a->bundle != NULL ? ", bundle sha256 " : "",
		    a->bundle != NULL ? a->bundle : "");
	else
		text(t, "access %" PRIu64 " ends: uid %" PRIu64 " pid %" PRIu64
		    " without a count: %s", a->id, a->uid, a->pid,
		    a->reason != NULL ? a->reason : "-");
	if ((rc = cst_detail_begin(&d, n)) == 0 &&
	    (rc = put_str(&d, "phase", a->phase)) == 0 &&
	    (rc = cst_detail_put_u64(&d, "id", a->id)) == 0 &&
	    (rc = cst_detail_put_u64(&d, "uid", a->uid)) == 0 &&
	    (rc = cst_detail_put_u64(&d, "gid", a->gid)) == 0 &&
	    (rc = cst_detail_put_u64(&d, "pid", a->pid)) == 0 &&
	    (a->user == NULL || (rc = put_str(&d, "user", a->user)) == 0) &&
	    (a->command == NULL || (rc = cst_detail_put_str(&d, "command",
	    a->command, a->command_len)) == 0) &&
	    (!a->has_shown || (rc = cst_detail_put_u64(&d, "shown",
	    a->shown)) == 0) &&
	    (a->bundle == NULL || (rc = put_str(&d, "bundle",
	    a->bundle)) == 0) && a->reason != NULL)
		rc = put_str(&d, "reason", a->reason);
	return (finish(b, CST_REC_ACCESS, t, &d, rc, now_ns));
}

int
audit_witness(struct batcher *b, const struct audit_witness *w,
    int64_t now_ns)
{
	char t[TEXT_LEN];
	cst_buf d;
	uint32_t n;
	int rc;

	n = 8 + (w->have_latest != 0) + (w->cert != NULL) +
	    (w->evidence != NULL);
	cst_buf_init(&d);
	text(t, "witness: %s refused checkpoint of %.255s at size %" PRIu64
	    " (old %" PRIu64 "): %u %s", w->peer, w->origin, w->size, w->old,
	    w->status, w->reason);
	if ((rc = cst_detail_begin(&d, n)) == 0 &&
	    (rc = cst_detail_put_str(&d, "origin", w->origin,
	    w->origin_len)) == 0 &&
	    (rc = cst_detail_put_u64(&d, "old", w->old)) == 0 &&
	    (rc = cst_detail_put_u64(&d, "size", w->size)) == 0 &&
	    (rc = cst_detail_put_u64(&d, "status", w->status)) == 0 &&
	    (rc = put_str(&d, "reason", w->reason)) == 0 &&
	    (rc = put_str(&d, "peer", w->peer)) == 0 &&
	    (rc = put_str(&d, "request_sha256", w->request_sha256)) == 0 &&
	    (rc = cst_detail_put_u64(&d, "suppressed", w->suppressed)) == 0 &&
	    w->have_latest)
		rc = cst_detail_put_u64(&d, "latest", w->latest);
	if (rc == 0 && w->cert != NULL)
		rc = put_str(&d, "cert", w->cert);
	if (rc == 0 && w->evidence != NULL)
		rc = put_str(&d, "evidence", w->evidence);
	return (finish(b, CST_REC_WITNESS, t, &d, rc, now_ns));
}

int
audit_replication(struct batcher *b, int started, uint64_t blocks,
    uint64_t bytes, int64_t since_ns, const char *reason, int64_t now_ns)
{
	char t[TEXT_LEN];
	cst_buf d;
	int rc;

	cst_buf_init(&d);
	if (started)
		text(t, "replication backlog: %" PRIu64 " blocks (%" PRIu64
		    " bytes) wait for JetStream since %" PRId64 ": %s",
		    blocks, bytes, since_ns, reason);
	else
		text(t, "replication backlog ended: %" PRIu64 " blocks (%"
		    PRIu64 " bytes) published since %" PRId64 ": %s", blocks,
		    bytes, since_ns, reason);
	if ((rc = cst_detail_begin(&d, 5)) == 0 &&
	    (rc = put_str(&d, "state", started ? "started" : "ended")) == 0 &&
	    (rc = cst_detail_put_u64(&d, "blocks", blocks)) == 0 &&
	    (rc = cst_detail_put_u64(&d, "bytes", bytes)) == 0 &&
	    (rc = cst_detail_put_i64(&d, "since_ns", since_ns)) == 0)
		rc = put_str(&d, "reason", reason);
	return (finish(b, CST_REC_REPLICATION, t, &d, rc, now_ns));
}
