/*
 * The daemon's witnessing (SPEC section 14): the witness endpoint
 * (witness.h, witness_srv.h) on the loop, and the submitter thread
 * (submit.h).  Loop thread.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "custody/error.h"

#include "audit.h"
#include "daemon_int.h"
#include "log.h"
#include "submit.h"
#include "tls.h"
#include "treestore.h"
#include "witness.h"
#include "witness_srv.h"

/* How long a witness connection may take to send its request. */
#define WITNESS_IDLE_MS 10000

static int
seal(void *ctx, const struct audit_witness *a)
{
	struct daemon *d = ctx;
	int rc;

	if ((rc = audit_witness(d->batcher, a, clock_real_ns())) != 0)
		daemon_audit_failed(d, rc);
	return (rc);
}

static int
refusal(void *ctx, const char *listener, const char *peer, const char *reason,
    const char *cert, uint64_t suppressed)
{
	struct daemon *d = ctx;
	int rc;

	if ((rc = audit_refusal(d->batcher, listener, peer, reason, cert,
	    suppressed, clock_real_ns())) != 0)
		daemon_audit_failed(d, rc);
	return (rc);
}

int
daemon_witness_open(struct daemon *d)
{
	const struct conf *c = d->cfg;
	struct tls_server *tls = NULL;
	char terr[TLS_ERR_LEN], werr[WITNESS_ERR_LEN];
	char serr[WITNESS_SRV_ERR_LEN];
	cst_buf vk;
	int rc;

	if (c->witness.listen == NULL)
		return (0);
	if ((rc = witness_open(c->data_dir, c->witness.key, c->witness.logs,
	    c->witness.nlogs, &d->witness, werr)) != 0) {
		log_err("%s", werr);
		return (rc);
	}
	if ((rc = tls_server_new(&c->tls, &tls, terr)) != 0) {
		log_err("witness: %s", terr);
		return (rc);
	}
	if ((rc = witness_srv_open(&d->loop, c->witness.listen, tls,
	    d->witness, WITNESS_IDLE_MS, seal, refusal, d, &d->wsrv,
	    serr)) != 0) {
		tls_server_unref(tls);
		log_err("%s", serr);
		return (rc);
	}
	cst_buf_init(&vk);
	if (cst_note_vkey_format(witness_vkey(d->witness), &vk) == 0)
		log_notice("witness %.*s on %s for %zu log(s)", (int)vk.len,
		    (const char *)vk.p, witness_srv_name(d->wsrv),
		    c->witness.nlogs);
	cst_buf_close(&vk);
	return (0);
}

/* Proofs for the submitter's thread from the node store (treestore.h). */
static int
prove(void *arg, uint64_t m, uint64_t n, uint8_t (*proof)[CST_HASH_LEN],
    size_t *len)
{

	return (treestore_consistency(arg, m, n, proof, len));
}

int
daemon_submit_start(struct daemon *d)
{
	const struct conf *c = d->cfg;
	char err[SUBMIT_ERR_LEN];
	int rc;

	if (c->witness.npeers == 0)
		return (0);
	/* Ingest goes on without notes; witnessing cannot. */
	if (d->tree == NULL) {
		log_warn("witness.peer: no note checkpoints to submit (no log "
		    "key, or its chain tree could not be opened): nothing is "
		    "witnessed");
		return (0);
	}
	if ((rc = submit_new(c->data_dir, c->checkpoint_export_dir,
	    &c->witness, &c->tls, prove,
	    d->tree, &d->submit, err)) != 0) {
		log_err("%s", err);
		return (rc);
	}
	if ((rc = submit_start(d->submit)) != 0) {
		log_err("witness submitter: %s", cst_strerror(rc));
		return (rc);
	}
	return (0);
}

void
daemon_witness_note(void *ctx, const uint8_t *text, size_t len,
    uint64_t size)
{
	struct daemon *d = ctx;

	(void)text;
	(void)len;
	(void)size;
	if (d->submit != NULL)
		submit_kick(d->submit);
}

void
daemon_witness_close_srv(struct daemon *d)
{

	witness_srv_close(d->wsrv);
	d->wsrv = NULL;
}

void
daemon_witness_free(struct daemon *d)
{

	submit_free(d->submit);
	d->submit = NULL;
	witness_close(d->witness);
	d->witness = NULL;
}

static void
line(cst_buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
line(cst_buf *out, const char *fmt, ...)
{
	char buf[768];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0 && (size_t)n < sizeof(buf))
		cst_buf_append(out, buf, (size_t)n);
}

/* One counter of every peer this log submits to, labelled by its name. */
static void
peer_u64(cst_buf *out, struct submit *sub, const char *name,
    const char *help, const char *type, size_t off)
{
	struct submit_peer_ctr *p;
	size_t i, n = submit_npeers(sub);

	line(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
	for (i = 0; i < n; i++) {
		p = submit_peer(sub, i);
		line(out, "%s{witness=\"%s\"} %" PRIu64 "\n", name, p->name,
		    atomic_load((_Atomic uint64_t *)(void *)((char *)p + off)));
	}
}

void
daemon_witness_metrics(struct daemon *d, cst_buf *out)
{
	static const unsigned codes[6] = { 400, 403, 404, 409, 422, 500 };
	const struct witness_srv_ctr *w;
	struct submit_peer_ctr *p;
	int64_t now = (int64_t)time(NULL), at;
	size_t i, n;

	if (d->wsrv != NULL) {
		w = witness_srv_counters(d->wsrv);
		line(out, "# HELP custody_witness_answers_total add-checkpoint "
		    "answers of this witness, by HTTP status\n# TYPE "
		    "custody_witness_answers_total counter\n"
		    "custody_witness_answers_total{status=\"200\"} %" PRIu64
		    "\n", w->cosigned);
		for (i = 0; i < 6; i++)
			line(out, "custody_witness_answers_total{status=\"%u\"}"
			    " %" PRIu64 "\n", codes[i], w->refused[i]);
		line(out, "# HELP custody_witness_bad_requests_total requests "
		    "the witness's HTTP reader refused\n# TYPE "
		    "custody_witness_bad_requests_total counter\n"
		    "custody_witness_bad_requests_total %" PRIu64 "\n",
		    w->bad_http);
	}
	if (d->submit == NULL)
		return;
	n = submit_npeers(d->submit);
	peer_u64(out, d->submit, "custody_witness_submissions_total",
	    "checkpoints submitted to a witness", "counter",
	    offsetof(struct submit_peer_ctr, submissions));
	peer_u64(out, d->submit, "custody_witness_failures_total",
	    "submissions that got no cosignature", "counter",
	    offsetof(struct submit_peer_ctr, failures));
	peer_u64(out, d->submit, "custody_witness_cosigned_size",
	    "the tree size a witness last cosigned", "gauge",
	    offsetof(struct submit_peer_ctr, cosigned_size));
	line(out, "# HELP custody_witness_cosigned_age_seconds seconds "
	    "since a witness last cosigned (-1: not since start)\n# TYPE "
	    "custody_witness_cosigned_age_seconds gauge\n");
	for (i = 0; i < n; i++) {
		p = submit_peer(d->submit, i);
		at = atomic_load(&p->cosigned_at_s);
		line(out, "custody_witness_cosigned_age_seconds{witness=\"%s\"}"
		    " %" PRId64 "\n", p->name, at == 0 ? -1 : now - at);
	}
	line(out, "# HELP custody_witness_stale 1 while no witness has "
	    "cosigned the store's checkpoints for witness.stale_after\n"
	    "# TYPE custody_witness_stale gauge\ncustody_witness_stale %d\n",
	    submit_stale(d->submit));
}
