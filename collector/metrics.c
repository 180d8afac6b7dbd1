/*
 * Health endpoint: HTTP/1.0, one response per connection, text only.
 *
 * It runs on the event loop, so it is kept small and bounded: a request
 * is read up to its blank line (at most REQ_MAX bytes), a client that
 * sends nothing is dropped after CLIENT_TIMEOUT_MS, and at most
 * MAX_CLIENTS are served at once.
 */
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <uv.h>

#include "custody/buf.h"
#include "custody/error.h"

#include "addr.h"
#include "metrics.h"
#include "log.h"
#include "srvconn.h"

#define REQ_MAX 4096
#define MAX_CLIENTS 16
#define CLIENT_TIMEOUT_MS 5000

struct client {
	struct srvconn sc;
	uv_write_t wr;
	struct metrics *m;
	struct client *next;
	char req[REQ_MAX];
	size_t reqlen;
	cst_buf resp;
};

struct metrics {
	uv_tcp_t server;
	metrics_render_fn *render;
	void *ctx;
	struct client *clients;
	size_t nclients;
	int closing;
	int pending;   /* handles not yet closed, once closing */
	char name[300];
};

/* The reason for a failure, into err (METRICS_ERR_LEN-sized): log.h. */
#define seterr(err, ...) log_seterr(err, METRICS_ERR_LEN, __VA_ARGS__)

/* Resolves tcp://HOST:PORT (addr.h) to bind (passive) or to connect. */
static int
resolve(const char *url, int passive, struct addrinfo **res, char *err)
{
	char msg[ADDR_ERR_LEN];
	int rc;

	if (strncmp(url, "tcp://", 6) != 0) {
		seterr(err, "%s: expected tcp://HOST:PORT", url);
		return (CST_EINVAL);
	}
	if ((rc = addr_resolve(url + 6, SOCK_STREAM, passive, res,
	    msg)) != 0) {
		seterr(err, "%s: %s", url, msg);
		return (rc);
	}
	return (0);
}

static void
maybe_free(struct metrics *m)
{

	if (m->closing && m->pending == 0)
		free(m);
}

static void
client_freed(uv_handle_t *h)
{
	struct client *c = h->data;
	struct metrics *m = c->m;
	struct client **pp;

	if (--c->sc.handles > 0)
		return;
	for (pp = &m->clients; *pp != c; pp = &(*pp)->next)
		;
	*pp = c->next;
	m->nclients--;
	cst_buf_close(&c->resp);
	free(c);
	if (m->closing) {
		m->pending--;
		maybe_free(m);
	}
}

static void
client_close(struct client *c)
{

	srvconn_close(&c->sc, client_freed);
}

static void
client_timeout(uv_timer_t *t)
{

	client_close(t->data);
}

static void
client_written(uv_write_t *wr, int status)
{

	(void)status;
	client_close(wr->data);
}

static void
client_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct client *c = h->data;

	(void)hint;
	buf->base = c->req + c->reqlen;
	buf->len = sizeof(c->req) - c->reqlen;
}

static void
respond(struct client *c)
{
	static const char head_ok[] = "HTTP/1.0 200 OK\r\n"
	    "Content-Type: text/plain; version=0.0.4\r\n"
	    "Connection: close\r\n\r\n";
	uv_buf_t b;

	uv_read_stop((uv_stream_t *)&c->sc.h);
	if (cst_buf_append(&c->resp, head_ok, sizeof(head_ok) - 1) != 0)
		goto err;
	c->m->render(c->m->ctx, &c->resp);
	b = uv_buf_init((char *)c->resp.p, (unsigned)c->resp.len);
	c->wr.data = c;
	if (uv_write(&c->wr, (uv_stream_t *)&c->sc.h, &b, 1,
	    client_written) != 0)
		goto err;
	return;

err:
	client_close(c);
}

static void
client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct client *c = s->data;

	(void)buf;
	if (nread == 0)
		return;
	if (nread < 0) {
		client_close(c);
		return;
	}
	c->reqlen += (size_t)nread;
	if (memmem(c->req, c->reqlen, "\r\n\r\n", 4) != NULL ||
	    memmem(c->req, c->reqlen, "\n\n", 2) != NULL)
		respond(c);
	else if (c->reqlen == sizeof(c->req))
		client_close(c);
}

static void
on_connection(uv_stream_t *server, int status)
{
	struct metrics *m = server->data;
	struct client *c;

	if (status != 0)
		return;
	if (m->nclients >= MAX_CLIENTS) {
		srvconn_refuse(server);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return;
	c->m = m;
	cst_buf_init(&c->resp);
	c->next = m->clients;
	m->clients = c;
	m->nclients++;
	if (srvconn_accept(&c->sc, server, c) != 0) {
		client_close(c);
		return;
	}
	uv_timer_start(&c->sc.timer, client_timeout, CLIENT_TIMEOUT_MS, 0);
	uv_read_start((uv_stream_t *)&c->sc.h, client_alloc, client_read);
}

static void
server_closed(uv_handle_t *h)
{
	struct metrics *m = h->data;

	m->pending--;
	maybe_free(m);
}

int
metrics_open(uv_loop_t *loop, const char *url, metrics_render_fn *render,
    void *ctx, struct metrics **out, char err[METRICS_ERR_LEN])
{
	struct metrics *m;
	struct addrinfo *ai;
	struct sockaddr_storage ss;
	char host[NI_MAXHOST], port[NI_MAXSERV];
	int len = sizeof(ss);
	int rc;

	if ((rc = resolve(url, 1, &ai, err)) != 0)
		return (rc);
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		freeaddrinfo(ai);
		seterr(err, "%s", cst_strerror(CST_ENOMEM));
		return (CST_ENOMEM);
	}
	m->render = render;
	m->ctx = ctx;
	uv_tcp_init_ex(loop, &m->server, (unsigned)ai->ai_family);
	m->server.data = m;
	if ((rc = uv_tcp_bind(&m->server, ai->ai_addr, 0)) != 0 ||
	    (rc = uv_listen((uv_stream_t *)&m->server, 16,
	    on_connection)) != 0) {
		seterr(err, "%s: %s", url, uv_strerror(rc));
		freeaddrinfo(ai);
		m->closing = 1;
		m->pending = 1;
		uv_close((uv_handle_t *)&m->server, server_closed);
		return (CST_EIO);
	}
	freeaddrinfo(ai);
	snprintf(m->name, sizeof(m->name), "%s", url);
	if (uv_tcp_getsockname(&m->server, (struct sockaddr *)&ss, &len) == 0 &&
	    getnameinfo((struct sockaddr *)&ss, (socklen_t)len, host,
	    sizeof(host), port, sizeof(port),
	    NI_NUMERICHOST | NI_NUMERICSERV) == 0)
		snprintf(m->name, sizeof(m->name), ss.ss_family == AF_INET6 ?
		    "tcp://[%s]:%s" : "tcp://%s:%s", host, port);
	*out = m;
	return (0);
}

const char *
metrics_name(const struct metrics *m)
{

	return (m->name);
}

void
metrics_close(struct metrics *m)
{
	struct client *c;

	if (m == NULL)
		return;
	m->closing = 1;
	m->pending = 1 + (int)m->nclients;
	for (c = m->clients; c != NULL; c = c->next)
		client_close(c);
	uv_close((uv_handle_t *)&m->server, server_closed);
}

int
metrics_fetch(const char *url, FILE *out, char err[METRICS_ERR_LEN])
{
	static const char req[] = "GET /metrics HTTP/1.0\r\n\r\n";
	struct addrinfo *ai;
	struct timeval tv = { 5, 0 };
	char buf[65536];
	cst_buf resp;
	const char *body;
	ssize_t n;
	int fd, rc;

	err[0] = '\0';
	if ((rc = resolve(url, 0, &ai, err)) != 0)
		return (rc);
	cst_buf_init(&resp);
	rc = CST_EIO;
	if ((fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		goto err0;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
	    write(fd, req, sizeof(req) - 1) != (ssize_t)(sizeof(req) - 1))
		goto err1;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (cst_buf_append(&resp, buf, (size_t)n) != 0)
			goto err1;
	if (n < 0 || resp.len == 0)
		goto err1;
	if ((body = memmem(resp.p, resp.len, "\r\n\r\n", 4)) == NULL) {
		seterr(err, "%s: not an HTTP response", url);
		goto err2;
	}
	body += 4;
	fwrite(body, 1, resp.len - (size_t)(body - (char *)resp.p), out);
	close(fd);
	cst_buf_close(&resp);
	freeaddrinfo(ai);
	return (0);

err1:
	seterr(err, "%s: %s", url, strerror(errno));
err2:
	close(fd);
err0:
	if (err[0] == '\0')
		seterr(err, "%s: %s", url, strerror(errno));
	cst_buf_close(&resp);
	freeaddrinfo(ai);
	return (rc);
}
