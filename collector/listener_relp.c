/*
 * RELP connections (relp:// listeners): a TCP connection whose bytes go
 * to a RELP session (relp.h) instead of the deframer, and whose answers
 * go back as the daemon reports records durable (listeners_durable).
 * On relp+tls:// the filter of tls.h is between (listener_tls.c): the
 * bytes come here decrypted and the answers leave encrypted.
 *
 * Two brakes besides the daemon's pause: a connection is not read while
 * RELP_WINDOW transactions wait for their answers, nor while more than
 * OUT_MAX answer bytes wait for a sender that does not read them.  A
 * sender that does not speak RELP is cut at its first bad byte, counted
 * (relp_refused) and logged once per peer per LOG_INTERVAL_MS; nothing
 * of the bad frame is recorded.
 *
 * A stop holds the connections that wait for answers (listener_relp_hold):
 * not read again, they stay open until the stop's last commit lets their
 * answers go, then get the serverclose hint and end, so that a clean
 * restart leaves the sender nothing recorded to send again.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <uv.h>

#include "custody/error.h"

#include "listener_int.h"
#include "log.h"
#include "parser.h"
#include "relp.h"

/* Answer bytes queued to a sender before its connection is not read. */
#define OUT_MAX (1u << 20)
/* Frames over max_message are kept in pieces up to this (librelp's). */
#define RELP_DATA_MIN (128u << 10)

struct wreq {
	uv_write_t req;
	struct conn *c;
	cst_buf buf;
};

/*
 * Records one syslog command's data as a message (R-RELP-2), cut like the
 * deframer cuts (framing.h) when it is longer than max_message.
 */
static int
relp_message(void *ctx, const uint8_t *msg, size_t len, uint64_t *seq)
{
	struct conn *c = ctx;
	struct listeners *ls = c->l->set;
	size_t off = 0, piece;
	unsigned flags;
	int rc;

	listener_stream_touch(c);
	do {
		piece = len - off;
		if (piece > ls->env.max_message)
			piece = ls->env.max_message;
		flags = (off > 0 ? CST_FRAME_CONTINUED : 0) |
		    (off + piece < len ? CST_FRAME_TRUNCATED : 0);
		if ((rc = parser_message(ls->env.batcher, &c->src, msg + off,
		    piece, flags, c->recv_ns)) != 0)
			return (rc);
		off += piece;
	} while (off < len);
	/* The batcher numbers records in the order they are added. */
	*seq = batcher_next_seq(ls->env.batcher) - 1;
	return (0);
}

static const struct relp_sess_ops sess_ops = { relp_message };

int
listener_relp_init(struct conn *c)
{
	struct listeners *ls = c->l->set;
	size_t max_data = ls->env.max_message > RELP_DATA_MIN ?
	    ls->env.max_message : RELP_DATA_MIN;

	if ((c->relp = malloc(sizeof(*c->relp))) == NULL)
		return (CST_ENOMEM);
	/*
	 * Answers are small and the sender waits for them: Nagle's delay
	 * would hold each one back until the sender's next ACK.
	 */
	uv_tcp_nodelay(&c->h, 1);
	relp_sess_init(c->relp, max_data, ls->durable_next, &sess_ops, c);
	return (0);
}

void
listener_relp_free(struct conn *c)
{

	relp_sess_close(c->relp);
	free(c->relp);
	c->relp = NULL;
}

int
listener_relp_braked(const struct conn *c)
{

	if (c->relp == NULL)
		return (0);
	return (c->held || relp_sess_unanswered(c->relp) >= RELP_WINDOW ||
	    c->relp->state >= RELP_S_CLOSING ||
	    uv_stream_get_write_queue_size((const uv_stream_t *)&c->h) >
	    OUT_MAX);
}

int
listener_relp_waiting(const struct conn *c)
{

	return (relp_sess_unanswered(c->relp) > 0);
}

static void
written(uv_write_t *req, int status)
{
	struct wreq *w = req->data;
	struct conn *c = w->c;

	cst_buf_close(&w->buf);
	free(w);
	/* A failed write shows on the read side too: it ends c there. */
	if (status == 0)
		listener_stream_brake(c);
}

static void
shut_done(uv_shutdown_t *req, int status)
{
	struct conn *c = req->data;

	/* Cancelled: c is being closed already. */
	if (status == UV_ECANCELED || c->ending)
		return;
	listener_stream_end(c, 0);
}

/* Hands the answers in c's session to the connection. */
static void
send_out(struct conn *c)
{
	struct relp_sess *s = c->relp;
	struct wreq *w;
	uv_buf_t b;

	if (c->ending || s->out.len == 0)
		goto check;
	if (c->tls != NULL) {
		/* Encrypted and queued by the filter's send (listener_tls.c). */
		if (tls_sess_write(c->tls, s->out.p, s->out.len) != 0) {
			listener_stream_end(c, 0);
			return;
		}
		s->out.len = 0;
		goto check;
	}
	if ((w = malloc(sizeof(*w))) == NULL) {
		/* Lost answers are resent by the sender, after a reconnect. */
		listener_stream_end(c, 0);
		return;
	}
	w->c = c;
	w->buf = s->out;
	w->req.data = w;
	cst_buf_init(&s->out);
	b = uv_buf_init((char *)w->buf.p, (unsigned)w->buf.len);
	if (uv_write(&w->req, (uv_stream_t *)&c->h, &b, 1, written) != 0) {
		cst_buf_close(&w->buf);
		free(w);
		listener_stream_end(c, 0);
		return;
	}
check:
	if ((s->state == RELP_S_CLOSED || (c->held &&
	    relp_sess_unanswered(s) == 0)) && !c->ending) {
		/* The last answer goes out first, then the connection ends. */
		if (c->reading) {
			uv_read_stop((uv_stream_t *)&c->h);
			c->reading = 0;
		}
		if (c->shut.data == NULL) {
			c->shut.data = c;
			/* On relp+tls://, our close_notify before the FIN. */
			if (c->tls != NULL)
				(void)tls_sess_shutdown(c->tls);
			if (uv_shutdown(&c->shut, (uv_stream_t *)&c->h,
			    shut_done) != 0)
				listener_stream_end(c, 0);
		}
		return;
	}
	listener_stream_brake(c);
}

/* Counts what c's session has answered since last time. */
static void
count_acked(struct conn *c, uint64_t before)
{

	c->l->ctr.relp_acked += c->relp->acked - before;
}

int
listener_relp_read(struct conn *c, const uint8_t *in, size_t n)
{
	struct listeners *ls = c->l->set;
	uint64_t before = c->relp->acked;
	int rc;

	/* Ended by an earlier record of the same TLS read: the rest goes. */
	if (c->ending)
		return (0);
	rc = relp_sess_feed(c->relp, in, n);
	count_acked(c, before);
	if (rc == CST_ECORRUPT || rc == CST_ETOOBIG) {
		/* R-RELP-3: the bad frame was never handed on. */
		c->l->ctr.relp_refused++;
		if (peers_may_log(c->peer, PEER_LOG_RELP, uv_now(ls->env.loop),
		    LOG_INTERVAL_MS))
			log_warn("%s: %s: %s: connection closed (logged once "
			    "a minute per peer)", c->l->name, c->src.peer,
			    c->relp->why);
		listener_stream_end(c, 0);
		return (0);
	}
	if (rc != 0)
		return (rc);
	send_out(c);
	if (!c->ending && relp_sess_unanswered(c->relp) != 0 &&
	    ls->env.waiting != NULL)
		ls->env.waiting(ls->env.ctx);
	return (0);
}

void
listener_relp_durable(struct conn *c)
{
	uint64_t before = c->relp->acked;

	if (c->ending)
		return;
	if (relp_sess_durable(c->relp, c->l->set->durable_next) != 0) {
		listener_stream_end(c, 0);
		return;
	}
	count_acked(c, before);
	/* Held by a stop and all answered: the hint, then the end. */
	if (c->held && relp_sess_unanswered(c->relp) == 0 &&
	    relp_sess_serverclose(c->relp) != 0) {
		listener_stream_end(c, 0);
		return;
	}
	send_out(c);
}

int
listener_relp_hold(struct conn *c)
{

	if (c->ending || relp_sess_unanswered(c->relp) == 0)
		return (0);
	c->held = 1;
	c->l->set->held++;
	if (c->reading) {
		uv_read_stop((uv_stream_t *)&c->h);
		c->reading = 0;
	}
	return (1);
}

void
listener_relp_serverclose(struct conn *c)
{
	struct relp_sess *s = c->relp;
	uv_os_fd_t fd;

	/*
	 * Only a hint, and the stop must not wait on a sender: one try
	 * without blocking, and only when no answer is still queued, so
	 * that the hint cannot land inside one.
	 */
	if (uv_stream_get_write_queue_size((uv_stream_t *)&c->h) != 0 ||
	    uv_fileno((uv_handle_t *)&c->h, &fd) != 0)
		return;
	if (relp_sess_serverclose(s) != 0)
		return;
	if (c->tls != NULL) {
		/* The filter tries the socket once, then queues the rest. */
		(void)tls_sess_write(c->tls, s->out.p, s->out.len);
		s->out.len = 0;
		return;
	}
	while (send(fd, s->out.p, s->out.len, MSG_DONTWAIT | MSG_NOSIGNAL) ==
	    -1 && errno == EINTR)
		;
	s->out.len = 0;
}
