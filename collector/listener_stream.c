/*
 * Stream listeners (TCP, RFC 6587): accept, read, the deframer, and the
 * per-connection brake of back-pressure.  libuv caps the reads per socket
 * per wakeup (32), so one busy peer cannot starve the others.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <uv.h>

#include "custody/error.h"
#include "custody/record.h"

#include "addr.h"
#include "listener_int.h"
#include "log.h"
#include "parser.h"

static int
conn_message(void *ctx, const uint8_t *msg, size_t len, unsigned flags)
{
	struct conn *c = ctx;

	if (flags & CST_FRAME_INCOMPLETE)
		c->l->ctr.incomplete++;
	return (parser_message(c->l->set->env.batcher, &c->src, msg, len,
	    flags, c->recv_ns));
}

static void
conn_freed(uv_handle_t *h)
{
	struct conn *c = h->data;
	struct listeners *ls = c->l->set;

	cst_deframer_close(&c->df);
	free(c);
	listener_handle_closed(ls);
}

/*
 * Ends connection c: records a partial message (when finish), then
 * closes.  Returns the recording error, if any.
 */
static int
conn_end(struct conn *c, int finish)
{
	struct listeners *ls = c->l->set;
	int rc = 0;

	if (finish) {
		c->recv_ns = listener_now_ns();
		rc = cst_deframer_finish(&c->df);
		if (rc == CST_ECORRUPT)
			rc = 0;
	}
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		ls->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	ls->nconns--;
	uv_close((uv_handle_t *)&c->h, conn_freed);
	return (rc);
}

static void
stream_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct conn *c = h->data;

	(void)hint;
	buf->base = (char *)c->l->set->rbuf;
	buf->len = STREAM_READ_LEN;
}

static void
stream_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct conn *c = s->data;
	struct listeners *ls = c->l->set;
	int rc;

	if (nread == 0)
		return;
	if (nread < 0) {
		if (nread != UV_EOF)
			log_info("%s: %s: %s", c->l->name, c->src.peer,
			    uv_strerror((int)nread));
		if ((rc = conn_end(c, 1)) != 0)
			ls->env.fatal(ls->env.ctx, rc);
		return;
	}
	c->recv_ns = listener_now_ns();
	rc = cst_deframer_feed(&c->df, (const uint8_t *)buf->base,
	    (size_t)nread);
	if (rc == CST_ECORRUPT) {
		/* The bad bytes are recorded (CST_RF_FRAMING_ERROR). */
		c->l->ctr.framing_errors++;
		log_warn("%s: %s: bad framing, connection closed", c->l->name,
		    c->src.peer);
		conn_end(c, 0);
	} else if (rc != 0) {
		ls->env.fatal(ls->env.ctx, rc);
		return;
	}
	ls->env.after_read(ls->env.ctx);
}

static void
conn_start(struct conn *c)
{

	if (c->reading)
		return;
	uv_read_start((uv_stream_t *)&c->h, stream_alloc, stream_read);
	c->reading = 1;
}

static void
refused_closed(uv_handle_t *h)
{

	free(h);
}

static void
tcp_connection(uv_stream_t *server, int status)
{
	struct listener *l = server->data;
	struct listeners *ls = l->set;
	struct sockaddr_storage ss;
	struct conn *c;
	uv_tcp_t *t;
	int len = sizeof(ss);

	if (status != 0) {
		log_warn("%s: accept: %s", l->name, uv_strerror(status));
		return;
	}
	if (ls->nconns >= ls->env.max_connections) {
		/* Accept and close at once: a refused sender retries. */
		if ((t = malloc(sizeof(*t))) == NULL)
			return;
		uv_tcp_init(ls->env.loop, t);
		if (uv_accept(server, (uv_stream_t *)t) == 0 &&
		    ls->refused++ == 0)
			log_warn("%s: more than %zu connections: refusing",
			    l->name, ls->env.max_connections);
		uv_close((uv_handle_t *)t, refused_closed);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return;
	uv_tcp_init(ls->env.loop, &c->h);
	c->h.data = c;
	c->l = l;
	if (uv_accept(server, (uv_stream_t *)&c->h) != 0) {
		uv_close((uv_handle_t *)&c->h, refused_closed);
		return;
	}
	ls->handles++;
	listener_source_init(&c->src, l, CST_TR_TCP);
	if (uv_tcp_getpeername(&c->h, (struct sockaddr *)&ss, &len) == 0)
		c->src.peer_len = addr_format((struct sockaddr *)&ss,
		    c->src.peer, sizeof(c->src.peer));
	cst_deframer_init(&c->df, ls->env.max_message, conn_message, c);
	uv_tcp_keepalive(&c->h, 1, 60);
	c->next = ls->conns;
	if (ls->conns != NULL)
		ls->conns->prev = c;
	ls->conns = c;
	ls->nconns++;
	if (!ls->paused)
		conn_start(c);
}

int
listener_stream_open_tcp(struct listener *l, const char *hostport,
    char *err)
{
	struct listeners *ls = l->set;
	struct addrinfo *ai;
	struct sockaddr_storage ss;
	char msg[ADDR_ERR_LEN], peer[128];
	int len = sizeof(ss);
	int rc;

	if ((rc = addr_resolve(hostport, SOCK_STREAM, 1, &ai, msg)) != 0) {
		listener_seterr(err, "%s", msg);
		return (rc);
	}
	uv_tcp_init_ex(ls->env.loop, &l->h.tcp, (unsigned)ai->ai_family);
	l->h.tcp.data = l;
	l->open = 1;
	ls->handles++;
	if ((rc = uv_tcp_bind(&l->h.tcp, ai->ai_addr, 0)) != 0 ||
	    (rc = uv_listen((uv_stream_t *)&l->h.tcp, 511,
	    tcp_connection)) != 0) {
		listener_seterr(err, "%s", uv_strerror(rc));
		freeaddrinfo(ai);
		return (CST_EIO);
	}
	freeaddrinfo(ai);
	if (uv_tcp_getsockname(&l->h.tcp, (struct sockaddr *)&ss,
	    &len) == 0) {
		addr_format((struct sockaddr *)&ss, peer, sizeof(peer));
		snprintf(l->name, sizeof(l->name), "tcp://%s", peer);
	}
	return (0);
}

void
listener_stream_start(struct listeners *ls)
{
	struct conn *c;

	for (c = ls->conns; c != NULL; c = c->next)
		conn_start(c);
}

void
listener_stream_stop(struct listeners *ls)
{
	struct conn *c;

	for (c = ls->conns; c != NULL; c = c->next) {
		if (!c->reading)
			continue;
		uv_read_stop((uv_stream_t *)&c->h);
		c->reading = 0;
	}
}

/*
 * Reads what the kernel holds for connection c (a stop: TCP has already
 * acknowledged it to the sender, so it must not be thrown away).
 */
static int
conn_drain(struct conn *c)
{
	struct listeners *ls = c->l->set;
	uv_os_fd_t fd;
	size_t total = 0;
	ssize_t n;
	int rc;

	if (uv_fileno((uv_handle_t *)&c->h, &fd) != 0)
		return (0);
	while (total < DRAIN_MAX) {
		n = recv(fd, ls->rbuf, STREAM_READ_LEN, MSG_DONTWAIT);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		total += (size_t)n;
		c->recv_ns = listener_now_ns();
		rc = cst_deframer_feed(&c->df, ls->rbuf, (size_t)n);
		if (rc == CST_ECORRUPT) {
			c->l->ctr.framing_errors++;
			break;
		}
		if (rc != 0)
			return (rc);
	}
	return (0);
}

int
listener_stream_close_all(struct listeners *ls)
{
	int rc, first = 0;

	while (ls->conns != NULL) {
		if ((rc = conn_drain(ls->conns)) != 0 && first == 0)
			first = rc;
		if ((rc = conn_end(ls->conns, 1)) != 0 && first == 0)
			first = rc;
	}
	return (first);
}
