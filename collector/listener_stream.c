/*
 * Stream listeners (TCP, RFC 6587; TLS, RFC 5425, through listener_tls.c;
 * RELP, listener_relp.c): accept, read, the deframer, and the
 * per-connection brake of back-pressure.  libuv caps the reads per socket
 * per wakeup (32), and accept here takes at most ACCEPTS_PER_WAKEUP, so
 * one busy peer cannot starve the others.
 *
 * The listening socket is ours, only polled by libuv, and accept is ours
 * too: libuv's own accept, when no descriptor is left, closes the pending
 * connections behind the caller's back (uv__emfile_trick), so they could
 * not be counted.  Here the same trick is played in the open: the spare
 * descriptor is given up, the waiting connections are accepted, closed
 * and counted, and the spare is taken back.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>

#include "custody/error.h"
#include "custody/record.h"

#include "addr.h"
#include "listener_int.h"
#include "log.h"
#include "parser.h"

/* Connections taken per wakeup of a listening socket. */
#define ACCEPTS_PER_WAKEUP 64
/* Connections refused at most per wakeup when no descriptor is left. */
#define REFUSALS_PER_WAKEUP 1024
/*
 * At a stop, RELP connections are kept this long at most for the answers
 * that wait for the last commit; then what is unanswered is resent to the
 * next run.
 */
#define HOLD_MS 5000

/* Links c at the end of the set's list: the newest last message. */
static void
conn_link_tail(struct listeners *ls, struct conn *c)
{

	c->next = NULL;
	c->prev = ls->conns_tail;
	if (ls->conns_tail != NULL)
		ls->conns_tail->next = c;
	else
		ls->conns = c;
	ls->conns_tail = c;
}

static void
conn_unlink(struct listeners *ls, struct conn *c)
{

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		ls->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		ls->conns_tail = c->prev;
	c->prev = c->next = NULL;
}

void
listener_stream_touch(struct conn *c)
{
	struct listeners *ls = c->l->set;

	/* A message keeps the connection: it goes to the end of the list. */
	c->last_ms = uv_now(ls->env.loop);
	if (ls->conns_tail != c) {
		conn_unlink(ls, c);
		conn_link_tail(ls, c);
	}
}

static int
conn_message(void *ctx, const uint8_t *msg, size_t len, unsigned flags)
{
	struct conn *c = ctx;

	if (flags & CST_FRAME_INCOMPLETE)
		c->l->ctr.incomplete++;
	listener_stream_touch(c);
	return (parser_message(c->l->set->env.batcher, &c->src, msg, len,
	    flags, c->recv_ns));
}

static void
conn_freed(uv_handle_t *h)
{
	struct conn *c = h->data;
	struct listeners *ls = c->l->set;

	if (c->relp != NULL)
		listener_relp_free(c);
	else
		cst_deframer_close(&c->df);
	tls_sess_free(c->tls);
	free(c);
	listener_handle_closed(ls);
}

static void
hold_closed(uv_handle_t *h)
{

	listener_handle_closed(h->data);
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

	c->ending = 1;
	if (c->held && --ls->held == 0)
		uv_close((uv_handle_t *)&ls->hold_timer, hold_closed);
	/* RELP keeps no partial message: what is not answered is resent. */
	if (finish && c->relp == NULL) {
		c->recv_ns = clock_real_ns();
		rc = cst_deframer_finish(&c->df);
		if (rc == CST_ECORRUPT)
			rc = 0;
	}
	conn_unlink(ls, c);
	ls->st.open--;
	c->peer->conns--;
	uv_close((uv_handle_t *)&c->h, conn_freed);
	return (rc);
}

int
listener_stream_end(struct conn *c, int finish)
{

	return (conn_end(c, finish));
}

static int conn_drain(struct conn *c);

/*
 * Bytes read from c: through TLS on a TLS listener, else straight to the
 * deframer.  0, CST_ECORRUPT (framing), CST_EPERM (TLS refused it) or a
 * recording error.
 */
static int
conn_feed(struct conn *c, const uint8_t *p, size_t n)
{

	if (c->tls != NULL)
		return (listener_tls_feed(c, p, n));
	return (cst_deframer_feed(&c->df, p, n));
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
	c->recv_ns = clock_real_ns();
	if (c->relp != NULL) {
		/* Over TLS the plaintext reaches the session through the filter. */
		rc = c->tls != NULL ? listener_tls_feed(c, (const uint8_t *)
		    buf->base, (size_t)nread) : listener_relp_read(c,
		    (const uint8_t *)buf->base, (size_t)nread);
		if (rc == CST_EPERM) {
			if (!c->ending)
				conn_end(c, 0);
		} else if (rc != 0) {
			ls->env.fatal(ls->env.ctx, rc);
			return;
		}
		ls->env.after_read(ls->env.ctx);
		return;
	}
	rc = conn_feed(c, (const uint8_t *)buf->base, (size_t)nread);
	if (rc == CST_EPERM) {
		/* Counted, logged and sealed: none of it is an event. */
		conn_end(c, 0);
	} else if (rc == CST_ECORRUPT) {
		/*
		 * The bad bytes are recorded (CST_RF_FRAMING_ERROR), and so is
		 * everything the kernel has already acknowledged to the
		 * sender; what is left is counted in the loss records.
		 */
		c->bad = 1;
		c->l->ctr.framing_errors++;
		log_warn("%s: %s: bad framing, connection closed", c->l->name,
		    c->src.peer);
		if ((rc = conn_drain(c)) != 0) {
			ls->env.fatal(ls->env.ctx, rc);
			return;
		}
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

	if (c->reading || (c->relp != NULL && listener_relp_braked(c)))
		return;
	uv_read_start((uv_stream_t *)&c->h, stream_alloc, stream_read);
	c->reading = 1;
}

void
listener_stream_brake(struct conn *c)
{

	if (c->ending)
		return;
	if (!c->l->set->paused && !listener_relp_braked(c))
		conn_start(c);
	else if (c->reading) {
		uv_read_stop((uv_stream_t *)&c->h);
		c->reading = 0;
	}
}

static void
conn_refused(uv_handle_t *h)
{

	free(h->data);
}

/* Takes connection fd from sa (borrowed), or refuses it over a limit. */
static void
admit(struct listener *l, int fd, const struct sockaddr *sa)
{
	struct listeners *ls = l->set;
	uint64_t now = uv_now(ls->env.loop);
	struct peer *pe;
	struct conn *c;

	if (ls->st.open >= ls->env.max_connections) {
		ls->st.refused_max++;
		if (ls->logged_max_ms == 0 || now - ls->logged_max_ms >=
		    LOG_INTERVAL_MS) {
			ls->logged_max_ms = now;
			log_warn("%s: %zu connections open, the most "
			    "(input.max_connections): refusing more "
			    "(%" PRIu64 " so far)", l->name,
			    ls->env.max_connections, ls->st.refused_max);
		}
		goto refuse;
	}
	if ((pe = peers_get(ls->peers, sa)) == NULL)
		goto refuse;
	if (pe->conns >= ls->env.max_connections_per_peer) {
		ls->st.refused_peer++;
		if (peers_may_log(pe, PEER_LOG_REFUSED, now, LOG_INTERVAL_MS)) {
			char peer[128];

			addr_format(sa, peer, sizeof(peer));
			log_warn("%s: %s has %zu connections open, the most "
			    "(input.max_connections_per_peer): refusing more",
			    l->name, peer, pe->conns);
		}
		goto refuse;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		goto refuse;
	uv_tcp_init(ls->env.loop, &c->h);
	c->h.data = c;
	if (uv_tcp_open(&c->h, fd) != 0) {
		uv_close((uv_handle_t *)&c->h, conn_refused);
		goto refuse;
	}
	c->l = l;
	c->peer = pe;
	c->last_ms = now;
	pe->conns++;
	ls->handles++;
	/* RELP over TLS is transport relp with a tls_peer (R-REC-7). */
	listener_source_init(&c->src, l, l->type == L_RELP ? CST_TR_RELP :
	    l->type == L_TLS ? CST_TR_TLS : CST_TR_TCP);
	c->src.peer_len = addr_format(sa, c->src.peer, sizeof(c->src.peer));
	if (l->type == L_RELP) {
		if (listener_relp_init(c) != 0) {
			/* Undone as a refusal: the sender retries. */
			pe->conns--;
			ls->handles--;
			uv_close((uv_handle_t *)&c->h, conn_refused);
			return;
		}
	} else
		cst_deframer_init(&c->df, ls->env.max_message, conn_message, c);
	uv_tcp_keepalive(&c->h, 1, 60);
	conn_link_tail(ls, c);
	ls->st.open++;
	if (l->tls && listener_tls_conn_init(c) != 0) {
		conn_end(c, 0);
		return;
	}
	if (!ls->paused)
		conn_start(c);
	return;

refuse:
	/* Closed at once: a refused sender retries. */
	close(fd);
}

/*
 * No descriptor is left for a connection: give up the spare one, accept
 * and close what waits (counted), and take the spare back.
 */
static void
refuse_no_fd(struct listener *l, int err)
{
	struct listeners *ls = l->set;
	uint64_t now = uv_now(ls->env.loop), n = 0;
	int fd;

	if (ls->spare_fd >= 0) {
		close(ls->spare_fd);
		ls->spare_fd = -1;
		while (n < REFUSALS_PER_WAKEUP && ((fd = accept4(l->fd, NULL,
		    NULL, SOCK_CLOEXEC)) >= 0 || errno == EINTR ||
		    errno == ECONNABORTED)) {
			if (fd >= 0) {
				close(fd);
				n++;
			}
		}
		ls->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	ls->st.refused_fd += n;
	if (ls->logged_fd_ms == 0 || now - ls->logged_fd_ms >=
	    LOG_INTERVAL_MS) {
		ls->logged_fd_ms = now;
		log_warn("%s: accept: %s: refusing connections (%" PRIu64
		    " so far)%s", l->name, strerror(err), ls->st.refused_fd,
		    ls->spare_fd < 0 ? "; no spare descriptor to refuse "
		    "them with" : "");
	}
}

static void
tcp_acceptable(uv_poll_t *h, int status, int events)
{
	struct listener *l = h->data;
	struct sockaddr_storage ss;
	socklen_t len;
	int i, fd;

	(void)events;
	if (status != 0) {
		log_warn("%s: %s", l->name, uv_strerror(status));
		return;
	}
	for (i = 0; i < ACCEPTS_PER_WAKEUP; i++) {
		len = sizeof(ss);
		fd = accept4(l->fd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			admit(l, fd, (struct sockaddr *)&ss);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EMFILE || errno == ENFILE) {
			refuse_no_fd(l, errno);
			return;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			log_warn("%s: accept: %s", l->name, strerror(errno));
		return;
	}
}

/* A listening socket for ai (borrowed), bound; -1 with errno if not. */
static int
listen_socket(const struct addrinfo *ai)
{
	int fd, on = 1, e;

	if ((fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		return (-1);
	/* A restart must not wait out the last run's TIME_WAITs. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
	    listen(fd, 511) != 0) {
		e = errno;
		close(fd);
		errno = e;
		return (-1);
	}
	return (fd);
}

int
listener_stream_open_tcp(struct listener *l, const char *hostport,
    char *err)
{
	struct listeners *ls = l->set;
	struct addrinfo *ai;
	struct sockaddr_storage ss;
	char msg[ADDR_ERR_LEN], peer[128];
	socklen_t len = sizeof(ss);
	int rc;

	if ((rc = addr_resolve(hostport, SOCK_STREAM, 1, &ai, msg)) != 0) {
		listener_seterr(err, "%s", msg);
		return (rc);
	}
	l->fd = listen_socket(ai);
	freeaddrinfo(ai);
	if (l->fd == -1) {
		listener_seterr(err, "%s", strerror(errno));
		return (CST_EIO);
	}
	if ((rc = uv_poll_init(ls->env.loop, &l->h.poll, l->fd)) != 0) {
		listener_seterr(err, "%s", uv_strerror(rc));
		close(l->fd);
		l->fd = -1;
		return (CST_EIO);
	}
	l->h.poll.data = l;
	l->open = 1;
	ls->handles++;
	/* Accepting goes on while reading is paused: refusals are counted. */
	uv_poll_start(&l->h.poll, UV_READABLE, tcp_acceptable);
	if (getsockname(l->fd, (struct sockaddr *)&ss, &len) == 0) {
		addr_format((struct sockaddr *)&ss, peer, sizeof(peer));
		snprintf(l->name, sizeof(l->name), "%s://%s",
		    l->type == L_RELP ? (l->tls ? "relp+tls" : "relp") :
		    l->type == L_TLS ? "tls" : "tcp", peer);
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
 * Reads what the kernel holds for connection c before it is closed (a
 * stop, or bad framing: TCP has already acknowledged it to the sender, so
 * it must not be thrown away); after bad framing the deframer keeps
 * delivering the bytes, flagged.  What is left past DRAIN_MAX, or arrived
 * meanwhile, is counted in ctr.discarded.  Returns 0 or a recording
 * error.
 */
static int
conn_drain(struct conn *c)
{
	struct listeners *ls = c->l->set;
	uv_os_fd_t fd;
	size_t total = 0;
	ssize_t n;
	int rc, left;

	/* RELP: what was not answered is sent again; nothing to keep. */
	if (c->relp != NULL || uv_fileno((uv_handle_t *)&c->h, &fd) != 0)
		return (0);
	while (total < DRAIN_MAX) {
		n = recv(fd, ls->rbuf, STREAM_READ_LEN, MSG_DONTWAIT);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		total += (size_t)n;
		c->recv_ns = clock_real_ns();
		rc = conn_feed(c, ls->rbuf, (size_t)n);
		if (rc == CST_EPERM)
			break;
		if (rc == CST_ECORRUPT) {
			if (!c->bad)
				c->l->ctr.framing_errors++;
			c->bad = 1;
			continue;
		}
		if (rc != 0)
			return (rc);
	}
	if (ioctl(fd, FIONREAD, &left) == 0 && left > 0)
		c->l->ctr.discarded += (uint64_t)left;
	return (0);
}

/* The stop's bound ran out: the RELP connections still held end. */
static void
hold_expired(uv_timer_t *t)
{
	struct listeners *ls = t->data;
	struct conn *c, *next;

	for (c = ls->conns; c != NULL; c = next) {
		next = c->next;
		if (c->held)
			conn_end(c, 0);
	}
}

int
listener_stream_close_all(struct listeners *ls)
{
	struct conn *c, *next;
	int rc, first = 0;

	/*
	 * Draining may move c to the end of the list, and conn_end takes it
	 * out: the next is held here, and c is not met again.
	 */
	for (c = ls->conns; c != NULL; c = next) {
		next = c->next;
		if (c->relp != NULL && listener_relp_hold(c))
			continue;
		if ((rc = conn_drain(c)) != 0 && first == 0)
			first = rc;
		if (c->relp != NULL)
			listener_relp_serverclose(c);
		if ((rc = conn_end(c, 1)) != 0 && first == 0)
			first = rc;
	}
	if (ls->held > 0) {
		uv_timer_init(ls->env.loop, &ls->hold_timer);
		ls->hold_timer.data = ls;
		ls->handles++;
		uv_timer_start(&ls->hold_timer, hold_expired, HOLD_MS, 0);
	}
	return (first);
}

void
listener_stream_sweep(struct listeners *ls)
{
	uint64_t now = uv_now(ls->env.loop), since;
	struct conn *c, *next;
	int rc;

	/* While paused nothing is read: no connection can be idle by it. */
	if (ls->paused)
		return;
	for (c = ls->conns; c != NULL; c = next) {
		next = c->next;
		since = c->last_ms > ls->resumed_ms ? c->last_ms :
		    ls->resumed_ms;
		if (now - since < ls->env.idle_timeout_ms)
			break;
		/*
		 * A quiet sender between messages is cut only when slots run
		 * short: a plain TCP sender learns of a close only by losing
		 * the next message it writes.  One that is trickling a
		 * message is cut whatever the load.
		 */
		if (c->relp != NULL && listener_relp_waiting(c))
			continue;
		if ((c->relp != NULL ? relp_parser_between(&c->relp->p) :
		    cst_deframer_between(&c->df)) && (c->tls == NULL ||
		    tls_sess_established(c->tls)) &&
		    ls->st.open < ls->env.max_connections -
		    ls->env.max_connections / 4)
			continue;
		/* A handshake unfinished by now is refused, whatever the load. */
		if (c->tls != NULL && !tls_sess_established(c->tls)) {
			if ((rc = listener_tls_refused(c, "handshake not "
			    "finished within input.idle_timeout")) != 0) {
				ls->env.fatal(ls->env.ctx, rc);
				return;
			}
			conn_end(c, 0);
			continue;
		}
		ls->st.idle_closed++;
		if (peers_may_log(c->peer, PEER_LOG_IDLE, now, LOG_INTERVAL_MS))
			log_warn("%s: %s: no complete message in %" PRIu64
			    " s: closed (logged once a minute per peer)",
			    c->l->name, c->src.peer,
			    ls->env.idle_timeout_ms / 1000);
		/* What it did send of a message is kept, flagged. */
		if ((rc = conn_end(c, 1)) != 0) {
			ls->env.fatal(ls->env.ctx, rc);
			return;
		}
	}
}
