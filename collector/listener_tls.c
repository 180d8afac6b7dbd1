/*
 * TLS connections (RFC 5425): the filter of tls.h between a stream
 * connection's read and its deframer (tls://) or its RELP session
 * (relp+tls://, listener_relp.c), and the refusals.
 *
 * A refused connection (plain text on the port, a failed handshake, a
 * certificate not allowed, a handshake past the idle timeout) gives no
 * event: it is counted per listener, logged once per interval per peer,
 * and sealed as a refusal record (R-REC-8).  Sealing is bounded per
 * listener (REFUSAL_RECORDS per LOG_INTERVAL_MS) so that a flood of
 * refused connections cannot flood the chain; what is only counted is
 * carried in the next record's `suppressed`.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "custody/error.h"

#include "audit.h"
#include "listener_int.h"
#include "log.h"

/* Refusal records sealed at most per listener per LOG_INTERVAL_MS. */
#define REFUSAL_RECORDS 100

struct wreq {
	uv_write_t req;
	struct conn *c;
	uint8_t data[];
};

static int
conn_plain(void *ctx, const uint8_t *p, size_t len)
{
	struct conn *c = ctx;
	int rc;

	/* Set once the handshake checked it, before the first message. */
	if (c->src.tls_peer == NULL)
		c->src.tls_peer = tls_sess_peer(c->tls, &c->src.tls_peer_len);
	if (c->relp != NULL)
		return (listener_relp_read(c, p, len));
	rc = cst_deframer_feed(&c->df, p, len);
	/*
	 * After a framing error the deframer records every byte, flagged
	 * (framing.h): the rest of what TLS decrypts still goes to it, or
	 * the records left in the filter would be neither kept nor counted.
	 */
	if (rc == CST_ECORRUPT) {
		c->tls_bad = 1;
		rc = 0;
	}
	return (rc);
}

static void
written(uv_write_t *req, int status)
{
	struct wreq *w = req->data;
	struct conn *c = w->c;

	free(w);
	/* RELP reads no more while its answers queue up: this may resume. */
	if (status == 0 && c->relp != NULL)
		listener_stream_brake(c);
}

/*
 * The handshake's replies and alerts: written at once when the socket
 * takes them, which it nearly always does (a few KiB); the rest waits in
 * a write request, freed when written or when the connection closes.
 */
static int
conn_send(void *ctx, const uint8_t *p, size_t len)
{
	struct conn *c = ctx;
	struct wreq *w;
	uv_buf_t b;
	int n;

	b = uv_buf_init((char *)(uintptr_t)p, (unsigned)len);
	n = uv_try_write((uv_stream_t *)&c->h, &b, 1);
	if (n == (int)len)
		return (0);
	if (n < 0 && n != UV_EAGAIN)
		return (0);
	if (n < 0)
		n = 0;
	if ((w = malloc(sizeof(*w) + len - (size_t)n)) == NULL)
		return (CST_ENOMEM);
	memcpy(w->data, p + n, len - (size_t)n);
	w->c = c;
	w->req.data = w;
	b = uv_buf_init((char *)w->data, (unsigned)(len - (size_t)n));
	if (uv_write(&w->req, (uv_stream_t *)&c->h, &b, 1, written) != 0)
		free(w);
	return (0);
}

int
listener_tls_conn_init(struct conn *c)
{

	return (tls_sess_new(c->l->set->tls, conn_plain, conn_send, c,
	    &c->tls));
}

int
listener_tls_refused(struct conn *c, const char *reason)
{
	struct listener *l = c->l;
	struct listeners *ls = l->set;
	uint64_t now = uv_now(ls->env.loop), suppressed;
	const char *cert;
	size_t len;
	int rc;

	if (reason != NULL)
		tls_sess_refuse(c->tls, reason);
	reason = tls_sess_reason(c->tls);
	cert = tls_sess_peer(c->tls, &len);
	l->ctr.tls_refused++;
	if (peers_may_log(c->peer, PEER_LOG_TLS, now, LOG_INTERVAL_MS))
		log_warn("%s: %s: refused: %s (logged once a minute per peer; "
		    "%" PRIu64 " refused here so far)", l->name, c->src.peer,
		    reason, l->ctr.tls_refused);
	if (l->refusal_ms == 0 || now - l->refusal_ms >= LOG_INTERVAL_MS) {
		l->refusal_ms = now;
		l->refusals_sealed = 0;
	}
	if (l->refusals_sealed >= REFUSAL_RECORDS) {
		l->refusals_unsealed++;
		return (0);
	}
	suppressed = l->refusals_unsealed;
	if ((rc = audit_refusal(ls->env.batcher, l->name, c->src.peer, reason,
	    cert, suppressed, clock_real_ns())) != 0)
		return (rc);
	l->refusals_sealed++;
	l->refusals_unsealed = 0;
	return (0);
}

int
listener_tls_feed(struct conn *c, const uint8_t *p, size_t n)
{
	int rc;

	rc = tls_sess_feed(c->tls, p, n);
	if (rc == CST_EPERM && (rc = listener_tls_refused(c, NULL)) == 0)
		rc = CST_EPERM;
	else if (rc == 0 && c->tls_bad)
		rc = CST_ECORRUPT;
	return (rc);
}
