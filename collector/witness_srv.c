/*
 * The witness endpoint (witness_srv.h).
 *
 * A connection: TCP, the TLS filter, the HTTP reader.  When the request
 * is whole, reading stops and the check runs on the thread pool; its
 * answer is encrypted and written, then the connection closes (one
 * request per connection, R-WIT-1).  A connection is freed when its two
 * handles are closed and no check of its is running.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include "custody/error.h"

#include "addr.h"
#include "http.h"
#include "log.h"
#include "srvconn.h"
#include "witness_srv.h"

#define MAX_CONNS 64
/* Refusal records sealed at most per SEAL_WINDOW_MS (R-WIT-7). */
#define SEAL_MAX 100
#define SEAL_WINDOW_MS 60000

struct conn {
	struct witness_srv *s;
	struct conn *next;
	struct srvconn sc;
	uv_work_t work;
	struct tls_sess *tls;
	struct http_req req;
	struct witness_answer ans;
	int ans_rc;
	int in_work;
	int answered;
	unsigned writes;          /* uv_write requests in flight */
	char peer[64];
	char rbuf[16384];
};

struct witness_srv {
	uv_tcp_t server;
	struct tls_server *tls;
	struct witness *w;
	uint64_t idle_ms;
	witness_seal_fn *seal;
	witness_refusal_fn *refusal;
	void *ctx;
	struct conn *conns;
	unsigned nconns;
	int closing;
	int server_open;
	uint64_t seal_window;
	unsigned sealed;
	uint64_t unsealed;
	struct witness_srv_ctr ctr;
	char name[128];
};

struct wreq {
	uv_write_t req;
	struct conn *c;
	uint8_t data[];
};

#define seterr(err, ...) log_seterr(err, WITNESS_SRV_ERR_LEN, __VA_ARGS__)

static void
maybe_free_srv(struct witness_srv *s)
{

	if (s->closing && !s->server_open && s->conns == NULL) {
		tls_server_unref(s->tls);
		free(s);
	}
}

static void
maybe_free(struct conn *c)
{
	struct witness_srv *s = c->s;
	struct conn **pp;

	if (c->sc.handles > 0 || c->in_work || c->writes > 0)
		return;
	for (pp = &s->conns; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	s->nconns--;
	tls_sess_free(c->tls);
	http_req_close(&c->req);
	witness_answer_close(&c->ans);
	free(c);
	maybe_free_srv(s);
}

static void
handle_closed(uv_handle_t *h)
{
	struct conn *c = h->data;

	c->sc.handles--;
	maybe_free(c);
}

static void
conn_close(struct conn *c)
{

	srvconn_close(&c->sc, handle_closed);
}

static void
written(uv_write_t *req, int status)
{
	struct wreq *w = req->data;
	struct conn *c = w->c;

	(void)status;
	free(w);
	c->writes--;
	if (c->answered && c->writes == 0)
		conn_close(c);
	maybe_free(c);
}

static int
conn_send(void *ctx, const uint8_t *p, size_t len)
{
	struct conn *c = ctx;
	struct wreq *w;
	uv_buf_t b;

	if (c->sc.closing)
		return (0);
	if ((w = malloc(sizeof(*w) + len)) == NULL)
		return (CST_ENOMEM);
	memcpy(w->data, p, len);
	w->c = c;
	w->req.data = w;
	b = uv_buf_init((char *)w->data, (unsigned)len);
	if (uv_write(&w->req, (uv_stream_t *)&c->sc.h, &b, 1, written) != 0) {
		free(w);
		return (0);
	}
	c->writes++;
	return (0);
}

/* Writes the answer (status, content type, body) and ends the exchange. */
static void
answer(struct conn *c, unsigned status, const char *ctype, const void *body,
    size_t len)
{
	char head[256];
	int n;

	n = snprintf(head, sizeof(head), "HTTP/1.1 %u %s\r\nContent-Type: "
	    "%s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", status,
	    http_status_text(status), ctype, len);
	c->answered = 1;
	uv_read_stop((uv_stream_t *)&c->sc.h);
	uv_timer_stop(&c->sc.timer);
	if (tls_sess_write(c->tls, (const uint8_t *)head, (size_t)n) != 0 ||
	    (len > 0 && tls_sess_write(c->tls, body, len) != 0))
		conn_close(c);
	else if (c->writes == 0)
		conn_close(c);
}

static void
count_refusal(struct witness_srv *s, unsigned status)
{
	static const unsigned codes[6] = { 400, 403, 404, 409, 422, 500 };
	size_t i;

	for (i = 0; i < 6; i++)
		if (codes[i] == status)
			s->ctr.refused[i]++;
}

/* 1 if one more record may be sealed in this window; else counts it. */
static int
may_seal(struct witness_srv *s, uv_loop_t *loop)
{
	uint64_t now = uv_now(loop);

	if (s->seal_window == 0 || now - s->seal_window >= SEAL_WINDOW_MS) {
		s->seal_window = now;
		s->sealed = 0;
	}
	if (s->sealed >= SEAL_MAX) {
		s->unsealed++;
		return (0);
	}
	return (1);
}

/* R-REC-8: a connection TLS refused, into the chain. */
static void
seal_tls_refusal(struct conn *c)
{
	struct witness_srv *s = c->s;
	const char *cert;
	size_t len;

	if (s->closing || !may_seal(s, c->sc.h.loop))
		return;
	cert = tls_sess_peer(c->tls, &len);
	if (s->refusal(s->ctx, s->name, c->peer, tls_sess_reason(c->tls), cert,
	    s->unsealed) != 0)
		return;
	s->sealed++;
	s->unsealed = 0;
}

/* R-WIT-7: the refusal into the chain, at most SEAL_MAX a window. */
static void
seal_refusal(struct conn *c)
{
	struct witness_srv *s = c->s;
	struct witness_answer *a = &c->ans;
	struct audit_witness aw;
	const char *cert;
	size_t len;

	if (!may_seal(s, c->sc.h.loop))
		return;
	memset(&aw, 0, sizeof(aw));
	aw.origin = a->origin;
	aw.origin_len = a->origin_len;
	aw.old = a->old;
	aw.size = a->size;
	aw.latest = a->latest;
	aw.have_latest = a->have_latest;
	aw.status = a->status;
	aw.reason = a->reason;
	aw.peer = c->peer;
	cert = tls_sess_peer(c->tls, &len);
	aw.cert = cert;
	aw.request_sha256 = a->request_sha256;
	aw.evidence = a->evidence[0] != '\0' ? a->evidence : NULL;
	aw.suppressed = s->unsealed;
	if (s->seal(s->ctx, &aw) != 0)
		return;
	s->sealed++;
	s->unsealed = 0;
}

static void
work_run(uv_work_t *req)
{
	struct conn *c = req->data;
	const uint8_t *body;
	size_t len;

	body = http_req_body(&c->req, &len);
	c->ans_rc = witness_add_checkpoint(c->s->w, body, len, &c->ans);
}

static void
work_done(uv_work_t *req, int status)
{
	struct conn *c = req->data;
	struct witness_srv *s = c->s;
	struct witness_answer *a = &c->ans;

	c->in_work = 0;
	if (status != 0 || c->ans_rc != 0) {
		if (!c->sc.closing)
			answer(c, 503, "text/plain", "busy\n", 5);
		maybe_free(c);
		return;
	}
	if (a->status == 200)
		s->ctr.cosigned++;
	else {
		count_refusal(s, a->status);
		log_warn("witness: %s: refused checkpoint of %s at size %"
		    PRIu64 " (old %" PRIu64 "): %u %s", c->peer, a->origin,
		    a->size, a->old, a->status, a->reason);
		if (!s->closing)
			seal_refusal(c);
	}
	if (!c->sc.closing)
		answer(c, a->status, a->content_type, a->body.p, a->body.len);
	maybe_free(c);
}

static int
conn_plain(void *ctx, const uint8_t *p, size_t len)
{
	struct conn *c = ctx;
	struct witness_srv *s = c->s;
	enum http_state st;
	int rc;

	if (c->answered || c->in_work)
		return (0);
	st = http_req_feed(&c->req, p, len);
	if (st == HTTP_ERROR) {
		s->ctr.bad_http++;
		answer(c, c->req.status, "text/plain", c->req.reason,
		    strlen(c->req.reason));
		return (0);
	}
	if (st != HTTP_DONE)
		return (0);
	uv_read_stop((uv_stream_t *)&c->sc.h);
	uv_timer_stop(&c->sc.timer);
	c->work.data = c;
	if ((rc = uv_queue_work(c->sc.h.loop, &c->work, work_run,
	    work_done)) != 0) {
		answer(c, 503, "text/plain", "busy\n", 5);
		return (0);
	}
	c->in_work = 1;
	return (0);
}

static void
conn_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
	struct conn *c = h->data;

	(void)size;
	*buf = uv_buf_init(c->rbuf, sizeof(c->rbuf));
}

static void
conn_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct conn *c = st->data;
	int rc;

	if (nread == 0)
		return;
	if (nread < 0) {
		conn_close(c);
		return;
	}
	rc = tls_sess_feed(c->tls, (const uint8_t *)buf->base, (size_t)nread);
	if (rc == CST_EPERM) {
		c->s->ctr.tls_refused++;
		log_warn("witness: %s: refused: %s", c->peer,
		    tls_sess_reason(c->tls));
		seal_tls_refusal(c);
		conn_close(c);
	} else if (rc != 0)
		conn_close(c);
}

static void
conn_timeout(uv_timer_t *t)
{
	struct conn *c = t->data;

	/* A handshake left unfinished is a refusal, as on tls:// (R-REC-8). */
	if (c->tls != NULL && !tls_sess_established(c->tls)) {
		char why[80];

		snprintf(why, sizeof(why), "handshake not finished within %"
		    PRIu64 " ms", c->s->idle_ms);
		tls_sess_refuse(c->tls, why);
		c->s->ctr.tls_refused++;
		seal_tls_refusal(c);
	}
	conn_close(c);
}

static void
on_connection(uv_stream_t *server, int status)
{
	struct witness_srv *s = server->data;
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	struct conn *c;

	if (status != 0 || s->closing)
		return;
	if (s->nconns >= MAX_CONNS || (c = calloc(1, sizeof(*c))) == NULL) {
		srvconn_refuse(server);
		return;
	}
	c->s = s;
	c->next = s->conns;
	s->conns = c;
	s->nconns++;
	s->ctr.connections++;
	if (srvconn_accept(&c->sc, server, c) != 0 ||
	    http_req_init(&c->req) != 0 ||
	    tls_sess_new(s->tls, conn_plain, conn_send, c, &c->tls) != 0) {
		conn_close(c);
		return;
	}
	if (uv_tcp_getpeername(&c->sc.h, (struct sockaddr *)&ss, &len) == 0)
		addr_format((struct sockaddr *)&ss, c->peer, sizeof(c->peer));
	uv_timer_start(&c->sc.timer, conn_timeout, s->idle_ms, 0);
	uv_read_start((uv_stream_t *)&c->sc.h, conn_alloc, conn_read);
}

static void
server_closed(uv_handle_t *h)
{
	struct witness_srv *s = h->data;

	s->server_open = 0;
	maybe_free_srv(s);
}

int
witness_srv_open(uv_loop_t *loop, const char *url, struct tls_server *tls,
    struct witness *w, uint64_t idle_ms, witness_seal_fn *seal,
    witness_refusal_fn *refusal, void *ctx, struct witness_srv **out,
    char err[WITNESS_SRV_ERR_LEN])
{
	struct witness_srv *s;
	struct addrinfo *ai;
	struct sockaddr_storage ss;
	char aerr[ADDR_ERR_LEN], name[96];
	int len = sizeof(ss);
	int rc;

	if (strncmp(url, "https://", 8) != 0) {
		seterr(err, "witness.listen %s: not https://HOST:PORT", url);
		return (CST_EINVAL);
	}
	if (addr_resolve(url + 8, SOCK_STREAM, 1, &ai, aerr) != 0) {
		seterr(err, "witness.listen %s: %s", url, aerr);
		return (CST_EINVAL);
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		freeaddrinfo(ai);
		seterr(err, "%s", cst_strerror(CST_ENOMEM));
		return (CST_ENOMEM);
	}
	s->w = w;
	s->idle_ms = idle_ms;
	s->seal = seal;
	s->refusal = refusal;
	s->ctx = ctx;
	uv_tcp_init_ex(loop, &s->server, (unsigned)ai->ai_family);
	s->server.data = s;
	s->server_open = 1;
	if ((rc = uv_tcp_bind(&s->server, ai->ai_addr, 0)) != 0 ||
	    (rc = uv_listen((uv_stream_t *)&s->server, 64,
	    on_connection)) != 0) {
		seterr(err, "witness.listen %s: %s", url, uv_strerror(rc));
		freeaddrinfo(ai);
		s->closing = 1;
		uv_close((uv_handle_t *)&s->server, server_closed);
		return (CST_EIO);
	}
	freeaddrinfo(ai);
	s->tls = tls;
	snprintf(s->name, sizeof(s->name), "%s", url);
	if (uv_tcp_getsockname(&s->server, (struct sockaddr *)&ss,
	    &len) == 0 && addr_format((struct sockaddr *)&ss, name,
	    sizeof(name)) > 0)
		snprintf(s->name, sizeof(s->name), "https://%s", name);
	*out = s;
	return (0);
}

const char *
witness_srv_name(const struct witness_srv *s)
{

	return (s->name);
}

const struct witness_srv_ctr *
witness_srv_counters(const struct witness_srv *s)
{

	return (&s->ctr);
}

void
witness_srv_close(struct witness_srv *s)
{
	struct conn *c, *next;

	if (s == NULL)
		return;
	s->closing = 1;
	for (c = s->conns; c != NULL; c = next) {
		next = c->next;
		conn_close(c);
	}
	uv_close((uv_handle_t *)&s->server, server_closed);
}
