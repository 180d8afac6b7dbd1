/*
 * custody-loadgen: sends syslog load to a collector on this machine.
 *
 * N TCP connections (RFC 6587 octet counting or LF framing), N TLS
 * connections (RFC 5425, OpenSSL over memory BIOs, optionally with a
 * client certificate), N UDP
 * sockets, or N unix datagram sockets, each sending pre-rendered RFC 5424
 * messages (bench/msggen.h) that carry the run id, the connection and a
 * sequence number, so that a checker can tell what was lost, repeated,
 * reordered or altered.  As fast as the receiver takes them, or at a
 * target rate; for a count or a duration.  Only loopback targets are
 * accepted: this is a load generator, and the only collector it may load
 * is one on this machine.
 *
 * RELP (relp://): each connection opens a RELP session, sends its
 * messages as syslog commands with at most WINDOW (-w) unanswered, counts
 * the 200 OK answers (acked), and closes the session once every message
 * is answered; the rate printed is of acknowledged messages, with the
 * answers' latency (p50, p99: from writing a command to its answer, to
 * within 9%), and the manifest's SENT is what was acknowledged.
 *
 * Stream connections use uv_write with two buffers in flight each, so a
 * receiver that stops reading stalls the sender (back-pressure) instead of
 * growing its memory.  Datagram sockets are driven by uv_poll and
 * sendmmsg; a unix datagram receiver whose queue is full stalls them too,
 * a UDP receiver does not (the kernel drops), which is why UDP runs want
 * --rate.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "custody/error.h"

#include "msggen.h"
#include "relp.h"

#define LG_BUF_BYTES (128 * 1024) /* one stream write */
#define LG_NBUF 2                 /* stream writes in flight per connection */
#define LG_DGRAM_BATCH 64         /* datagrams per sendmmsg */
#define LG_DGRAM_TURN 1024        /* datagrams per wakeup, so all sockets turn */
#define LG_TICK_MS 1              /* rate and deadline granularity */
#define LG_RELP_WINDOW 1024       /* default unanswered syslog commands */
/* RELP answer latency histogram: 8 buckets per doubling of microseconds. */
#define LG_LAT_SUB 8
#define LG_LAT_BUCKETS (40 * LG_LAT_SUB)
#define LG_RELP_RBUF 65536        /* one read of answers */
/* Ciphertext of one stream write: its plaintext and each record's overhead. */
#define LG_CT_BYTES (LG_BUF_BYTES + 8192)

enum lg_transport { LG_TCP, LG_UDP, LG_UNIX, LG_RELP };
/* Transports on a TCP connection. */
#define LG_STREAM(t) ((t) == LG_TCP || (t) == LG_RELP)
enum lg_framing { LG_OCTET, LG_LF };
enum lg_state { ST_CONNECTING, ST_READY, ST_CLOSING, ST_CLOSED };

struct lg;
struct lg_conn;

struct lg_wbuf {
	uv_write_t req;
	struct lg_conn *c;
	uint8_t *p;
	uint8_t *ct;      /* TLS: the ciphertext written */
	uint64_t nmsg;
	uint64_t bytes;   /* message bytes, framing excluded */
	int busy;
};

struct lg_conn {
	struct lg *lg;
	unsigned id;
	enum lg_state state;
	union {
		uv_tcp_t tcp;
		uv_poll_t poll;
	} h;
	uv_connect_t creq;
	uv_shutdown_t sreq;
	int fd;                   /* datagram socket, or -1 */
	int failed;
	int shut;                 /* all sent: shutdown or close under way */
	struct lg_wbuf wb[LG_NBUF];
	int inflight;
	int polling;
	uint64_t first;
	uint64_t next;            /* next sequence number to render */
	uint64_t end;             /* one past the last to send */
	uint64_t sent;            /* accepted whole by the kernel */
	uint64_t bytes;
	struct mmsghdr *mm;       /* datagram batch */
	struct iovec *iov;
	uint8_t *dbuf;
	/* RELP */
	struct relp_parser rp;    /* the answers */
	uint8_t *rbuf;
	uv_write_t oreq;          /* open or close */
	char obuf[128];
	uint32_t txnr;            /* the next to send */
	uint32_t close_txnr;      /* 0: close not sent */
	uint64_t unacked;         /* syslog commands not yet answered */
	uint64_t acked;           /* answered 200 OK */
	int relp_open;            /* open answered 200 OK */
	uint64_t *sent_at;        /* uv_hrtime each unanswered one was
	                             written, a ring of window entries */
	uint64_t sent_head;       /* written so far */
	uint64_t sent_tail;       /* answered so far */
	/* TLS */
	SSL *ssl;                 /* TLS, with memory BIOs; else NULL */
	BIO *rb;
	BIO *wb_bio;
	uint8_t tbuf[16384];      /* one read of ciphertext */
};

struct lg {
	uv_loop_t *loop;
	enum lg_transport transport;
	enum lg_framing framing;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char target[256];
	struct msggen g;
	struct lg_conn *conns;
	unsigned nconns;
	unsigned nsettled;        /* connected or failed */
	unsigned nclosed;
	uint64_t count;           /* total, 0: until the deadline */
	double duration;          /* seconds, 0: none */
	double rate;              /* events/s, all connections, 0: unlimited */
	double timeout;           /* seconds, 0: none */
	uint64_t window;          /* RELP: unanswered syslog commands at most */
	uint64_t lat[LG_LAT_BUCKETS]; /* RELP: time to each answer */
	uint64_t t0;              /* uv_hrtime when sending started */
	uint64_t t_end;           /* when the last send completed */
	int started;
	int stopping;             /* deadline or timeout: no new sends */
	int timed_out;
	uv_timer_t tick;
	uv_timer_t guard;
	int tick_on;
	int guard_on;
	int tls;                  /* tls://: TCP with TLS */
	SSL_CTX *ssl_ctx;
};

static void conn_kick(struct lg_conn *c);
static void conn_close(struct lg_conn *c);
static void relp_start(struct lg_conn *c);
static void relp_finish(struct lg_conn *c);
static int relp_answer(void *ctx, const struct relp_frame *f);
static int tls_flush(struct lg_conn *c);

static void
usage(void)
{

	fprintf(stderr,
	    "usage: custody-loadgen -t URL [-c CONNS] [-f octet|lf] [-s SIZE]\n"
	    "           [-n COUNT] [-d SECONDS] [-r EVENTS_PER_S] [-g RUNID]\n"
	    "           [-b BASE_TIME] [-m MANIFEST] [-T TIMEOUT] [-w WINDOW]\n"
	    "           [--cert FILE --key FILE] [--ca FILE]\n"
	    "       custody-loadgen          (no argument: time rendering alone,\n"
	    "                                 the generator's own cost per message)\n"
	    "  -t, --target URL      tcp://127.0.0.1:PORT, tls://127.0.0.1:PORT,\n"
	    "                        relp://127.0.0.1:PORT,\n"
	    "                        relp+tls://127.0.0.1:PORT,\n"
	    "                        udp://127.0.0.1:PORT, unix:///PATH (datagram);\n"
	    "                        loopback only\n"
	    "  -c, --connections N   connections or sockets (default 1)\n"
	    "  -f, --framing F       TCP framing: octet (default) or lf\n"
	    "  -s, --size BYTES      message size (default 200)\n"
	    "  -n, --count N         messages in all, split over the connections\n"
	    "                        (default 100000, or unlimited with -d)\n"
	    "  -d, --duration S      stop sending after S seconds\n"
	    "  -r, --rate R          target events/s over all connections\n"
	    "                        (default: as fast as the receiver takes)\n"
	    "  -g, --gen ID          run id in every message, [0-9A-Za-z]{1,16}\n"
	    "  -b, --base T          message timestamps start at T (s since 1970)\n"
	    "  -m, --manifest FILE   write what was sent, for check_store\n"
	    "  -T, --timeout S       give up (exit 1) after S seconds\n"
	    "  -w, --window N        RELP: unanswered messages at most per\n"
	    "                        connection (default 1024)\n"
	    "  --cert FILE, --key FILE  tls://, relp+tls://: the client\n"
	    "                        certificate and key\n"
	    "  --ca FILE             tls://, relp+tls://: check the server's\n"
	    "                        certificate\n"
	    "                        against this bundle (default: no check)\n");
}

static void
now_gen(char *out, size_t len)
{
	uint64_t s;

	s = uv_hrtime() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)time(NULL);
	snprintf(out, len, "%08" PRIx32, (uint32_t)(s ^ (s >> 32)));
}

/*
 * Parses url into lg's transport and address, refusing every address that
 * is not loopback.  Returns 0 or -1 (after saying why).
 */
static int
parse_target(struct lg *lg, const char *url)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&lg->addr;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&lg->addr;
	struct sockaddr_un *sun = (struct sockaddr_un *)&lg->addr;
	char host[128];
	const char *rest, *colon;
	unsigned long port;
	char *endp;
	size_t hl;

	memset(&lg->addr, 0, sizeof(lg->addr));
	snprintf(lg->target, sizeof(lg->target), "%s", url);
	if (strncmp(url, "unix://", 7) == 0) {
		rest = url + 7;
		if (rest[0] != '/' || strlen(rest) >= sizeof(sun->sun_path)) {
			fprintf(stderr, "custody-loadgen: bad unix path in %s\n",
			    url);
			goto err0;
		}
		lg->transport = LG_UNIX;
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, rest, strlen(rest) + 1);
		lg->addrlen = (socklen_t)sizeof(*sun);
		return (0);
	}
	rest = url + 6;
	if (strncmp(url, "tcp://", 6) == 0)
		lg->transport = LG_TCP;
	else if (strncmp(url, "tls://", 6) == 0) {
		lg->transport = LG_TCP;
		lg->tls = 1;
	}
	else if (strncmp(url, "udp://", 6) == 0)
		lg->transport = LG_UDP;
	else if (strncmp(url, "relp://", 7) == 0) {
		lg->transport = LG_RELP;
		rest = url + 7;
	} else if (strncmp(url, "relp+tls://", 11) == 0) {
		lg->transport = LG_RELP;
		lg->tls = 1;
		rest = url + 11;
	} else {
		fprintf(stderr, "custody-loadgen: unknown scheme in %s\n", url);
		goto err0;
	}
	if (rest[0] == '[') {
		if ((colon = strstr(rest, "]:")) == NULL)
			goto bad;
		hl = (size_t)(colon - rest - 1);
		if (hl >= sizeof(host))
			goto bad;
		memcpy(host, rest + 1, hl);
		colon++;
	} else {
		if ((colon = strrchr(rest, ':')) == NULL)
			goto bad;
		hl = (size_t)(colon - rest);
		if (hl >= sizeof(host))
			goto bad;
		memcpy(host, rest, hl);
	}
	host[hl] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &endp, 10);
	if (errno != 0 || *endp != '\0' || port == 0 || port > 65535)
		goto bad;
	if (strcmp(host, "localhost") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		/* 127.0.0.0/8 is loopback; nothing else is. */
		if ((ntohl(sin->sin_addr.s_addr) >> 24) != 127)
			goto remote;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		lg->addrlen = (socklen_t)sizeof(*sin);
		return (0);
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		if (!IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
			goto remote;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		lg->addrlen = (socklen_t)sizeof(*sin6);
		return (0);
	}
remote:
	fprintf(stderr, "custody-loadgen: refusing %s: only loopback targets "
	    "(127.0.0.0/8, ::1, localhost) are allowed\n", url);
	goto err0;
bad:
	fprintf(stderr, "custody-loadgen: bad address in %s\n", url);
err0:
	return (-1);
}

static double
elapsed_s(const struct lg *lg, uint64_t now)
{

	return ((double)(now - lg->t0) / 1e9);
}

/*
 * How many more messages c may render now: what is left of its share,
 * less what the rate does not allow yet.  Past the deadline nothing is.
 */
static uint64_t
conn_quota(struct lg_conn *c)
{
	struct lg *lg = c->lg;
	uint64_t q, allowed, done;
	double t;

	if (lg->stopping || c->failed)
		return (0);
	if (lg->duration > 0 || lg->rate > 0) {
		t = elapsed_s(lg, uv_hrtime());
		if (lg->duration > 0 && t >= lg->duration) {
			lg->stopping = 1;
			return (0);
		}
		if (lg->rate > 0) {
			/* +1: the first message of each connection goes at once. */
			allowed = (uint64_t)(lg->rate * t / lg->nconns) + 1;
			done = c->next - c->first;
			if (allowed <= done)
				return (0);
			q = allowed - done;
			if (q < c->end - c->next)
				return (q);
		}
	}
	if (lg->transport == LG_RELP) {
		if (!c->relp_open || c->unacked >= lg->window)
			return (0);
		if (lg->window - c->unacked < c->end - c->next)
			return (lg->window - c->unacked);
	}
	return (c->end - c->next);
}

/* Writes v in decimal at p; returns the number of digits. */
static size_t
put_uint(uint8_t *p, size_t v)
{
	uint8_t tmp[24];
	size_t n = 0, i;

	do {
		tmp[n++] = (uint8_t)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	for (i = 0; i < n; i++)
		p[i] = tmp[n - 1 - i];
	return (n);
}

static void
all_closed(struct lg *lg)
{

	if (lg->tick_on) {
		uv_close((uv_handle_t *)&lg->tick, NULL);
		lg->tick_on = 0;
	}
	if (lg->guard_on) {
		uv_close((uv_handle_t *)&lg->guard, NULL);
		lg->guard_on = 0;
	}
}

static void
on_closed(uv_handle_t *h)
{
	struct lg_conn *c = h->data;
	struct lg *lg = c->lg;

	c->state = ST_CLOSED;
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	if (++lg->nclosed == lg->nconns)
		all_closed(lg);
}

static void
conn_close(struct lg_conn *c)
{

	if (c->state == ST_CLOSING || c->state == ST_CLOSED)
		return;
	c->state = ST_CLOSING;
	if (LG_STREAM(c->lg->transport)) {
		uv_close((uv_handle_t *)&c->h.tcp, on_closed);
	} else {
		if (c->polling)
			uv_poll_stop(&c->h.poll);
		c->polling = 0;
		uv_close((uv_handle_t *)&c->h.poll, on_closed);
	}
}

static void
conn_fail(struct lg_conn *c, const char *what, int err)
{

	if (!c->failed)
		fprintf(stderr, "custody-loadgen: conn %u: %s: %s\n", c->id,
		    what, uv_strerror(err));
	c->failed = 1;
	conn_close(c);
}

/* The last send of c completed: note when, for the rate printed. */
static void
conn_sent_all(struct lg_conn *c)
{
	uint64_t now = uv_hrtime();

	if (now > c->lg->t_end)
		c->lg->t_end = now;
}

static void
on_shutdown(uv_shutdown_t *req, int status)
{
	struct lg_conn *c = req->data;

	(void)status;
	conn_close(c);
}

/* Ends c once nothing more is to be sent and nothing is in flight. */
static void
conn_maybe_finish(struct lg_conn *c)
{
	int rc;

	if (c->state != ST_READY || c->inflight > 0)
		return;
	if (c->next < c->end && !c->lg->stopping)
		return;
	if (c->shut)
		return;
	if (c->lg->transport == LG_RELP) {
		relp_finish(c);
		return;
	}
	c->shut = 1;
	conn_sent_all(c);
	if (c->ssl != NULL) {
		(void)SSL_shutdown(c->ssl);
		(void)tls_flush(c);
	}
	if (c->lg->transport == LG_TCP) {
		c->sreq.data = c;
		if ((rc = uv_shutdown(&c->sreq, (uv_stream_t *)&c->h.tcp,
		    on_shutdown)) != 0)
			conn_fail(c, "shutdown", rc);
	} else {
		conn_close(c);
	}
}

static void
on_write(uv_write_t *req, int status)
{
	struct lg_wbuf *wb = req->data;
	struct lg_conn *c = wb->c;

	wb->busy = 0;
	c->inflight--;
	if (status < 0) {
		conn_fail(c, "write", status);
		return;
	}
	c->sent += wb->nmsg;
	c->bytes += wb->bytes;
	if (c->state != ST_READY)
		return;
	conn_kick(c);
}

/*
 * TLS: encrypts the pos plaintext bytes of wb into wb->ct; returns the
 * ciphertext's length, 0 on failure.
 */
static size_t
tls_seal(struct lg_conn *c, struct lg_wbuf *wb, size_t pos)
{
	char *p;
	long n;

	if (SSL_write(c->ssl, wb->p, (int)pos) != (int)pos)
		return (0);
	n = BIO_get_mem_data(c->wb_bio, &p);
	if (n <= 0 || (size_t)n > LG_CT_BYTES)
		return (0);
	memcpy(wb->ct, p, (size_t)n);
	(void)BIO_reset(c->wb_bio);
	return ((size_t)n);
}

static void
on_tls_written(uv_write_t *req, int status)
{

	(void)status;
	free(req);
}

/* Writes what OpenSSL put out of band (handshake, close_notify). */
static int
tls_flush(struct lg_conn *c)
{
	uv_write_t *req;
	uv_buf_t b;
	char *p;
	long n;
	int rc;

	if ((n = BIO_get_mem_data(c->wb_bio, &p)) <= 0)
		return (0);
	if ((req = malloc(sizeof(*req) + (size_t)n)) == NULL)
		return (UV_ENOMEM);
	memcpy(req + 1, p, (size_t)n);
	(void)BIO_reset(c->wb_bio);
	b = uv_buf_init((char *)(req + 1), (unsigned)n);
	if ((rc = uv_write(req, (uv_stream_t *)&c->h.tcp, &b, 1,
	    on_tls_written)) != 0)
		free(req);
	return (rc);
}

/* Fills a free buffer with up to q framed messages and writes it. */
static int
tcp_write_one(struct lg_conn *c, struct lg_wbuf *wb, uint64_t q)
{
	struct lg *lg = c->lg;
	uint64_t now;
	size_t room, pos = 0, len, per;
	uv_buf_t b;
	uint8_t *p;
	int rc;

	per = lg->g.maxlen + 40;
	room = LG_BUF_BYTES;
	now = lg->transport == LG_RELP ? uv_hrtime() : 0;
	wb->nmsg = 0;
	wb->bytes = 0;
	while (wb->nmsg < q && pos + per <= room) {
		p = wb->p + pos;
		if (lg->transport == LG_RELP) {
			len = lg->g.var[msggen_variant(c->id, c->next)].len;
			pos += put_uint(p, c->txnr);
			memcpy(wb->p + pos, " syslog ", 8);
			pos += 8;
			pos += put_uint(wb->p + pos, len);
			wb->p[pos++] = ' ';
			pos += msggen_render(&lg->g, c->id, c->next, wb->p + pos);
			wb->p[pos++] = '\n';
			c->txnr = c->txnr == RELP_TXNR_MAX ? 1 : c->txnr + 1;
			c->unacked++;
			c->sent_at[c->sent_head++ % lg->window] = now;
		} else if (lg->framing == LG_OCTET) {
			len = lg->g.var[msggen_variant(c->id, c->next)].len;
			pos += put_uint(p, len);
			wb->p[pos++] = ' ';
			pos += msggen_render(&lg->g, c->id, c->next, wb->p + pos);
		} else {
			len = msggen_render(&lg->g, c->id, c->next, p);
			pos += len;
			wb->p[pos++] = '\n';
		}
		wb->bytes += len;
		wb->nmsg++;
		c->next++;
	}
	if (c->ssl != NULL) {
		if ((pos = tls_seal(c, wb, pos)) == 0) {
			conn_fail(c, "tls", UV_EPROTO);
			return (-1);
		}
		b = uv_buf_init((char *)wb->ct, (unsigned)pos);
	} else
		b = uv_buf_init((char *)wb->p, (unsigned)pos);
	wb->req.data = wb;
	wb->busy = 1;
	c->inflight++;
	if ((rc = uv_write(&wb->req, (uv_stream_t *)&c->h.tcp, &b, 1,
	    on_write)) != 0) {
		wb->busy = 0;
		c->inflight--;
		conn_fail(c, "write", rc);
		return (-1);
	}
	return (0);
}

static void
tcp_pump(struct lg_conn *c)
{
	uint64_t q;
	int i;

	while (c->state == ST_READY && c->inflight < LG_NBUF) {
		if ((q = conn_quota(c)) == 0)
			break;
		for (i = 0; i < LG_NBUF && c->wb[i].busy; i++)
			;
		if (tcp_write_one(c, &c->wb[i], q) != 0)
			return;
	}
	conn_maybe_finish(c);
}

static void on_poll(uv_poll_t *h, int status, int events);

static void
dgram_poll(struct lg_conn *c, int on)
{
	int rc;

	if (on == c->polling || c->state != ST_READY)
		return;
	if (on)
		rc = uv_poll_start(&c->h.poll, UV_WRITABLE, on_poll);
	else
		rc = uv_poll_stop(&c->h.poll);
	if (rc != 0) {
		conn_fail(c, "poll", rc);
		return;
	}
	c->polling = on;
}

/*
 * Sends datagrams while the socket takes them and the quota allows, at
 * most LG_DGRAM_TURN per wakeup.  Returns with polling on when the socket
 * was full or the turn ended, off when the quota ran out.
 */
static void
dgram_pump(struct lg_conn *c)
{
	struct lg *lg = c->lg;
	uint64_t q, turn = 0;
	size_t i, n;
	int sent;

	while (c->state == ST_READY && turn < LG_DGRAM_TURN) {
		if ((q = conn_quota(c)) == 0) {
			dgram_poll(c, 0);
			conn_maybe_finish(c);
			return;
		}
		n = q < LG_DGRAM_BATCH ? (size_t)q : LG_DGRAM_BATCH;
		for (i = 0; i < n; i++) {
			c->iov[i].iov_base = c->dbuf + i * lg->g.maxlen;
			c->iov[i].iov_len = msggen_render(&lg->g, c->id,
			    c->next + i, c->iov[i].iov_base);
			memset(&c->mm[i].msg_hdr, 0, sizeof(c->mm[i].msg_hdr));
			c->mm[i].msg_hdr.msg_iov = &c->iov[i];
			c->mm[i].msg_hdr.msg_iovlen = 1;
		}
		sent = sendmmsg(c->fd, c->mm, (unsigned)n, 0);
		if (sent < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == ENOBUFS)
				break;
			conn_fail(c, "send", uv_translate_sys_error(errno));
			return;
		}
		for (i = 0; i < (size_t)sent; i++)
			c->bytes += c->iov[i].iov_len;
		c->next += (uint64_t)sent;
		c->sent += (uint64_t)sent;
		turn += (uint64_t)sent;
		if ((size_t)sent < n)
			break;
	}
	dgram_poll(c, 1);
}

static void
on_poll(uv_poll_t *h, int status, int events)
{
	struct lg_conn *c = h->data;

	(void)events;
	if (status < 0) {
		conn_fail(c, "poll", status);
		return;
	}
	dgram_pump(c);
}

static void
conn_kick(struct lg_conn *c)
{

	if (c->state != ST_READY)
		return;
	if (LG_STREAM(c->lg->transport)) {
		tcp_pump(c);
	} else if (!c->polling) {
		dgram_pump(c);
	} else if (c->lg->stopping) {
		dgram_poll(c, 0);
		conn_maybe_finish(c);
	}
}

/* ---- RELP: the session around the syslog commands tcp_pump writes ---- */

static void
relp_ctl_written(uv_write_t *req, int status)
{
	struct lg_conn *c = req->data;

	if (status < 0)
		conn_fail(c, "write", status);
}

/* Writes the n bytes of c->obuf (an open or a close). */
static void
relp_write_ctl(struct lg_conn *c, size_t n)
{
	uv_buf_t b = uv_buf_init(c->obuf, (unsigned)n);
	int rc;

	if (c->ssl != NULL) {
		if (SSL_write(c->ssl, c->obuf, (int)n) != (int)n ||
		    (rc = tls_flush(c)) != 0)
			conn_fail(c, "tls", UV_EPROTO);
		return;
	}
	c->oreq.data = c;
	if ((rc = uv_write(&c->oreq, (uv_stream_t *)&c->h.tcp, &b, 1,
	    relp_ctl_written)) != 0)
		conn_fail(c, "write", rc);
}

static void
relp_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct lg_conn *c = h->data;

	(void)hint;
	*buf = uv_buf_init((char *)c->rbuf, LG_RELP_RBUF);
}

/* Answers p[0..n) from the server, in clear (after TLS, if any). */
static void
relp_answers(struct lg_conn *c, const uint8_t *p, size_t n)
{
	int rc;

	if ((rc = relp_parser_feed(&c->rp, p, n)) != 0) {
		if (!c->failed)
			fprintf(stderr, "custody-loadgen: conn %u: RELP "
			    "answer: %s\n", c->id, rc == CST_EINVAL ?
			    "not 200 OK, or serverclose" : cst_strerror(rc));
		c->failed = 1;
		conn_close(c);
	}
}

static void
relp_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct lg_conn *c = s->data;

	if (nread == 0 || c->state != ST_READY)
		return;
	if (nread < 0) {
		conn_fail(c, "read", (int)nread);
		return;
	}
	relp_answers(c, (const uint8_t *)buf->base, (size_t)nread);
}

static void
relp_start(struct lg_conn *c)
{
	static const char offers[] = "relp_version=0\n"
	    "relp_software=custody-loadgen\ncommands=syslog";
	int n, rc;

	n = snprintf(c->obuf, sizeof(c->obuf), "1 open %zu %s\n",
	    sizeof(offers) - 1, offers);
	c->txnr = 2;
	relp_write_ctl(c, (size_t)n);
	/* Over TLS on_tls_read reads, and hands the answers on. */
	if (c->state == ST_READY && c->ssl == NULL &&
	    (rc = uv_read_start((uv_stream_t *)
	    &c->h.tcp, relp_alloc, relp_read)) != 0)
		conn_fail(c, "read", rc);
}

/* Everything is sent: once every answer is in, close the session. */
static void
relp_finish(struct lg_conn *c)
{
	int n;

	if (c->unacked > 0 || c->close_txnr != 0)
		return;
	conn_sent_all(c);
	c->close_txnr = c->txnr;
	n = snprintf(c->obuf, sizeof(c->obuf), "%u close 0\n", c->txnr);
	relp_write_ctl(c, (size_t)n);
}

/* Counts one answer latency of ns nanoseconds. */
static void
lat_add(struct lg *lg, uint64_t ns)
{
	double us = (double)ns / 1e3;
	long i = us < 1 ? 0 : lround(floor(log2(us) * LG_LAT_SUB));

	if (i >= LG_LAT_BUCKETS)
		i = LG_LAT_BUCKETS - 1;
	lg->lat[i]++;
}

/* The latency, in ms, below which a fraction q of the answers came. */
static double
lat_quantile(const struct lg *lg, double q)
{
	uint64_t n = 0, k = 0, want;
	int i;

	for (i = 0; i < LG_LAT_BUCKETS; i++)
		n += lg->lat[i];
	if (n == 0)
		return (0);
	want = (uint64_t)ceil(q * (double)n);
	for (i = 0; i < LG_LAT_BUCKETS; i++) {
		k += lg->lat[i];
		if (k >= want)
			break;
	}
	/* The bucket's upper bound. */
	return (exp2((double)(i + 1) / LG_LAT_SUB) / 1e3);
}

static int
relp_answer(void *ctx, const struct relp_frame *f)
{
	struct lg_conn *c = ctx;
	int ok = f->len >= 3 && memcmp(f->data, "200", 3) == 0;

	if (c->state != ST_READY)
		return (0);
	if (strcmp(f->cmd, "rsp") != 0)
		return (CST_EINVAL);
	if (!c->relp_open) {
		if (f->txnr != 1 || !ok)
			return (CST_EINVAL);
		c->relp_open = 1;
		conn_kick(c);
		return (0);
	}
	if (c->close_txnr != 0 && f->txnr == c->close_txnr) {
		c->shut = 1;
		conn_close(c);
		return (0);
	}
	if (!ok || c->unacked == 0)
		return (CST_EINVAL);
	/* Answers come in the order of the commands (R-RELP-1). */
	lat_add(c->lg, uv_hrtime() -
	    c->sent_at[c->sent_tail++ % c->lg->window]);
	c->acked++;
	c->unacked--;
	conn_kick(c);
	return (0);
}

static void
on_tick(uv_timer_t *t)
{
	struct lg *lg = t->data;
	unsigned i;

	if (lg->duration > 0 && elapsed_s(lg, uv_hrtime()) >= lg->duration)
		lg->stopping = 1;
	for (i = 0; i < lg->nconns; i++)
		conn_kick(&lg->conns[i]);
}

static void
on_guard(uv_timer_t *t)
{
	struct lg *lg = t->data;
	unsigned i;

	fprintf(stderr, "custody-loadgen: timeout after %.1f s\n",
	    lg->timeout);
	lg->timed_out = 1;
	lg->stopping = 1;
	for (i = 0; i < lg->nconns; i++)
		conn_close(&lg->conns[i]);
}

static void
start_sending(struct lg *lg)
{
	unsigned i;

	lg->started = 1;
	lg->t0 = uv_hrtime();
	lg->t_end = lg->t0;
	if (lg->rate > 0 || lg->duration > 0) {
		uv_timer_init(lg->loop, &lg->tick);
		lg->tick.data = lg;
		lg->tick_on = 1;
		uv_timer_start(&lg->tick, on_tick, LG_TICK_MS, LG_TICK_MS);
	}
	for (i = 0; i < lg->nconns; i++)
		conn_kick(&lg->conns[i]);
	if (lg->nclosed == lg->nconns)
		all_closed(lg);
}

static void
settled(struct lg *lg)
{

	if (++lg->nsettled == lg->nconns)
		start_sending(lg);
}

static void
tls_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct lg_conn *c = h->data;

	(void)hint;
	*buf = uv_buf_init((char *)c->tbuf, sizeof(c->tbuf));
}

/*
 * Advances c's handshake; once done c is ready and counts as settled.
 * Returns 0 or -1 (c failed and settled).
 */
static int
tls_step(struct lg_conn *c)
{
	unsigned long e;
	const char *why;
	int n;

	n = SSL_do_handshake(c->ssl);
	if (tls_flush(c) != 0 || (n != 1 &&
	    SSL_get_error(c->ssl, n) != SSL_ERROR_WANT_READ)) {
		e = ERR_get_error();
		why = e != 0 ? ERR_reason_error_string(e) : NULL;
		fprintf(stderr, "custody-loadgen: conn %u: tls: %s\n", c->id,
		    why != NULL ? why : "handshake failed");
		ERR_clear_error();
		conn_fail(c, "tls", UV_EPROTO);
		settled(c->lg);
		return (-1);
	}
	if (n == 1) {
		c->state = ST_READY;
		if (c->lg->transport == LG_RELP)
			relp_start(c);
		settled(c->lg);
	}
	return (0);
}

/*
 * What the server sends: the handshake, then nothing but alerts (syslog
 * over TLS is one way) or RELP's answers.  An end or an alert before we
 * are done is a failure.
 */
static void
on_tls_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct lg_conn *c = s->data;
	uint8_t sink[4096];
	int connecting = c->state == ST_CONNECTING, n;

	if (nread == 0)
		return;
	if (nread < 0) {
		if (connecting || c->next < c->end || !c->shut)
			conn_fail(c, "read", (int)nread);
		if (connecting)
			settled(c->lg);
		return;
	}
	BIO_write(c->rb, buf->base, (int)nread);
	if (connecting) {
		if (tls_step(c) != 0 || c->state == ST_CONNECTING)
			return;
	}
	while ((n = SSL_read(c->ssl, sink, sizeof(sink))) > 0)
		if (c->lg->transport == LG_RELP && c->state == ST_READY)
			relp_answers(c, sink, (size_t)n);
	ERR_clear_error();
	(void)tls_flush(c);
	if (!connecting && SSL_get_shutdown(c->ssl) & SSL_RECEIVED_SHUTDOWN &&
	    !c->shut)
		conn_fail(c, "tls", UV_ECONNRESET);
}

static void
on_connect(uv_connect_t *req, int status)
{
	struct lg_conn *c = req->data;

	if (status < 0) {
		conn_fail(c, "connect", status);
	} else if (c->state == ST_CONNECTING) {
		uv_tcp_nodelay(&c->h.tcp, 1);
		if (c->ssl != NULL) {
			uv_read_start((uv_stream_t *)&c->h.tcp, tls_alloc,
			    on_tls_read);
			(void)tls_step(c);
			return;
		}
		c->state = ST_READY;
		if (c->lg->transport == LG_RELP)
			relp_start(c);
	}
	settled(c->lg);
}

static int
conn_open(struct lg *lg, struct lg_conn *c)
{
	int rc, dom;

	c->fd = -1;
	c->state = ST_CONNECTING;
	if (LG_STREAM(lg->transport)) {
		if ((rc = uv_tcp_init(lg->loop, &c->h.tcp)) != 0)
			goto err0;
		c->h.tcp.data = c;
		c->creq.data = c;
		if ((rc = uv_tcp_connect(&c->creq, &c->h.tcp,
		    (const struct sockaddr *)&lg->addr, on_connect)) != 0) {
			conn_fail(c, "connect", rc);
			settled(lg);
		}
		return (0);
	}

	/* Datagram sockets connect at once: no handshake to wait for. */
	dom = lg->addr.ss_family;
	if ((c->fd = socket(dom, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) < 0) {
		rc = uv_translate_sys_error(errno);
		goto err0;
	}
	if ((rc = uv_poll_init_socket(lg->loop, &c->h.poll, c->fd)) != 0)
		goto err1;
	c->h.poll.data = c;
	if (connect(c->fd, (const struct sockaddr *)&lg->addr,
	    lg->addrlen) != 0) {
		conn_fail(c, "connect", uv_translate_sys_error(errno));
	} else {
		c->state = ST_READY;
	}
	settled(lg);
	return (0);

err1:
	close(c->fd);
	c->fd = -1;
err0:
	fprintf(stderr, "custody-loadgen: conn %u: %s\n", c->id,
	    uv_strerror(rc));
	return (-1);
}

static int
conn_alloc(struct lg *lg, struct lg_conn *c)
{
	int i;

	if (lg->transport == LG_RELP) {
		relp_parser_init(&c->rp, LG_RELP_RBUF, relp_answer, c);
		c->txnr = 1;
		if ((c->rbuf = malloc(LG_RELP_RBUF)) == NULL ||
		    (c->sent_at = calloc(lg->window,
		    sizeof(*c->sent_at))) == NULL)
			return (-1);
	}
	if (LG_STREAM(lg->transport)) {
		for (i = 0; i < LG_NBUF; i++) {
			c->wb[i].c = c;
			if ((c->wb[i].p = malloc(LG_BUF_BYTES)) == NULL)
				return (-1);
			if (lg->tls &&
			    (c->wb[i].ct = malloc(LG_CT_BYTES)) == NULL)
				return (-1);
		}
		if (!lg->tls)
			return (0);
		if ((c->ssl = SSL_new(lg->ssl_ctx)) == NULL ||
		    (c->rb = BIO_new(BIO_s_mem())) == NULL ||
		    (c->wb_bio = BIO_new(BIO_s_mem())) == NULL)
			return (-1);
		BIO_set_mem_eof_return(c->rb, -1);
		SSL_set_bio(c->ssl, c->rb, c->wb_bio);
		SSL_set_connect_state(c->ssl);
		/* The server's name, for its certificate's check (--ca). */
		SSL_set1_host(c->ssl, "localhost");
		return (0);
	}
	c->mm = calloc(LG_DGRAM_BATCH, sizeof(*c->mm));
	c->iov = calloc(LG_DGRAM_BATCH, sizeof(*c->iov));
	c->dbuf = malloc(LG_DGRAM_BATCH * lg->g.maxlen);
	if (c->mm == NULL || c->iov == NULL || c->dbuf == NULL)
		return (-1);
	return (0);
}

static void
conn_free(struct lg_conn *c)
{
	int i;

	for (i = 0; i < LG_NBUF; i++) {
		free(c->wb[i].p);
		free(c->wb[i].ct);
	}
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	else {
		BIO_free(c->rb);
		BIO_free(c->wb_bio);
	}
	free(c->mm);
	free(c->iov);
	free(c->dbuf);
	free(c->rbuf);
	free(c->sent_at);
	relp_parser_close(&c->rp);
}

static int
write_manifest(struct lg *lg, const char *path)
{
	static const char *const tnames[] = { "tcp", "udp", "unix", "relp" };
	struct msggen_manifest m;
	unsigned i;
	int rc;

	memset(&m, 0, sizeof(m));
	memcpy(m.gen, lg->g.gen, sizeof(m.gen));
	m.size = lg->g.size;
	m.base_s = lg->g.base_s;
	snprintf(m.transport, sizeof(m.transport), "%s",
	    lg->tls && lg->transport == LG_TCP ? "tls" :
	    tnames[lg->transport]);
	snprintf(m.framing, sizeof(m.framing), "%s",
	    lg->transport == LG_RELP ? "relp" :
	    lg->transport != LG_TCP ? "dgram" :
	    lg->framing == LG_OCTET ? "octet" : "lf");
	if ((m.conns = calloc(lg->nconns, sizeof(*m.conns))) == NULL)
		return (-1);
	m.nconns = lg->nconns;
	for (i = 0; i < lg->nconns; i++) {
		m.conns[i].conn = lg->conns[i].id;
		m.conns[i].first = lg->conns[i].first;
		/* RELP: only what was answered is sure to be stored. */
		m.conns[i].sent = lg->transport == LG_RELP ?
		    lg->conns[i].acked : lg->conns[i].sent;
		m.conns[i].attempted = lg->conns[i].next - lg->conns[i].first;
	}
	rc = msggen_manifest_write(&m, path);
	msggen_manifest_close(&m);
	return (rc);
}

/*
 * With no argument (as `make bench` runs every bench program): renders
 * and frames messages into memory, no socket, and prints what one costs,
 * which is what the generator takes from the collector it loads.
 */
static int
self_bench(void)
{
	const uint64_t n = 2000000;
	struct msggen g;
	uint8_t *buf;
	size_t pos = 0, len;
	uint64_t i, bytes = 0, t0, t1;

	if (msggen_init(&g, "selfbench", 200, 1750000000) != 0)
		return (1);
	if ((buf = malloc(LG_BUF_BYTES)) == NULL) {
		msggen_close(&g);
		return (1);
	}
	t0 = uv_hrtime();
	for (i = 0; i < n; i++) {
		if (pos + g.maxlen + 12 > LG_BUF_BYTES)
			pos = 0;
		len = g.var[msggen_variant((unsigned)(i % 16), i)].len;
		pos += put_uint(buf + pos, len);
		buf[pos++] = ' ';
		pos += msggen_render(&g, (unsigned)(i % 16), i, buf + pos);
		bytes += len;
	}
	t1 = uv_hrtime();
	printf("custody-loadgen: rendered and framed %" PRIu64 " messages "
	    "(%.1f bytes on average) in %.3f s: %.1f ns each, %.0f messages/s"
	    " on one core\n", n, (double)bytes / n, (double)(t1 - t0) / 1e9,
	    (double)(t1 - t0) / n, n / ((double)(t1 - t0) / 1e9));
	free(buf);
	msggen_close(&g);
	return (0);
}

static int
parse_double(const char *s, double *out)
{
	char *endp;

	errno = 0;
	*out = strtod(s, &endp);
	if (errno != 0 || endp == s || *endp != '\0' || !isfinite(*out) ||
	    *out < 0)
		return (-1);
	return (0);
}

static int
parse_u64(const char *s, uint64_t *out)
{
	char *endp;

	errno = 0;
	if (s[0] == '-')
		return (-1);
	*out = strtoull(s, &endp, 10);
	if (errno != 0 || endp == s || *endp != '\0')
		return (-1);
	return (0);
}

/* The client context for tls://.  Returns 0 or -1 (after saying why). */
static int
tls_setup(struct lg *lg, const char *cert, const char *key, const char *ca)
{
	unsigned long e;

	if ((lg->ssl_ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		goto err;
	SSL_CTX_set_min_proto_version(lg->ssl_ctx, TLS1_2_VERSION);
	if (cert != NULL && (SSL_CTX_use_certificate_chain_file(lg->ssl_ctx,
	    cert) != 1 || SSL_CTX_use_PrivateKey_file(lg->ssl_ctx,
	    key != NULL ? key : cert, SSL_FILETYPE_PEM) != 1))
		goto err;
	if (ca != NULL) {
		if (SSL_CTX_load_verify_locations(lg->ssl_ctx, ca, NULL) != 1)
			goto err;
		SSL_CTX_set_verify(lg->ssl_ctx, SSL_VERIFY_PEER, NULL);
	}
	return (0);

err:
	e = ERR_get_error();
	fprintf(stderr, "custody-loadgen: tls: %s\n",
	    e != 0 ? ERR_reason_error_string(e) : "cannot set up");
	return (-1);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "target", required_argument, NULL, 't' },
		{ "connections", required_argument, NULL, 'c' },
		{ "framing", required_argument, NULL, 'f' },
		{ "size", required_argument, NULL, 's' },
		{ "count", required_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, 'd' },
		{ "rate", required_argument, NULL, 'r' },
		{ "gen", required_argument, NULL, 'g' },
		{ "base", required_argument, NULL, 'b' },
		{ "manifest", required_argument, NULL, 'm' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "window", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ "cert", required_argument, NULL, 'C' },
		{ "key", required_argument, NULL, 'K' },
		{ "ca", required_argument, NULL, 'A' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cert = NULL, *key = NULL, *ca = NULL;
	struct lg lg;
	const char *target = NULL, *manifest = NULL;
	char gen[MSGGEN_GEN_MAX + 1];
	uint64_t v, size = 200, base = (uint64_t)time(NULL), sent = 0;
	uint64_t attempted = 0, bytes = 0, share, extra, acked = 0;
	double el;
	unsigned i, failed = 0;
	int ch, have_count = 0, status = 2;

	if (argc == 1)
		return (self_bench());
	memset(&lg, 0, sizeof(lg));
	lg.nconns = 1;
	lg.framing = LG_OCTET;
	lg.window = LG_RELP_WINDOW;
	now_gen(gen, sizeof(gen));
	while ((ch = getopt_long(argc, argv, "t:c:f:s:n:d:r:g:b:m:T:w:h",
	    longopts, NULL)) != -1) {
		switch (ch) {
		case 't':
			target = optarg;
			break;
		case 'c':
			if (parse_u64(optarg, &v) != 0 || v == 0 ||
			    v > MSGGEN_CONN_MAX + 1)
				goto badarg;
			lg.nconns = (unsigned)v;
			break;
		case 'f':
			if (strcmp(optarg, "octet") == 0)
				lg.framing = LG_OCTET;
			else if (strcmp(optarg, "lf") == 0)
				lg.framing = LG_LF;
			else
				goto badarg;
			break;
		case 's':
			if (parse_u64(optarg, &size) != 0 || size == 0 ||
			    size > MSGGEN_SIZE_MAX)
				goto badarg;
			break;
		case 'n':
			if (parse_u64(optarg, &lg.count) != 0)
				goto badarg;
			have_count = 1;
			break;
		case 'd':
			if (parse_double(optarg, &lg.duration) != 0)
				goto badarg;
			break;
		case 'r':
			if (parse_double(optarg, &lg.rate) != 0)
				goto badarg;
			break;
		case 'g':
			if (!msggen_gen_valid(optarg))
				goto badarg;
			snprintf(gen, sizeof(gen), "%s", optarg);
			break;
		case 'b':
			if (parse_u64(optarg, &base) != 0 ||
			    base > (uint64_t)1 << 40)
				goto badarg;
			break;
		case 'm':
			manifest = optarg;
			break;
		case 'T':
			if (parse_double(optarg, &lg.timeout) != 0)
				goto badarg;
			break;
		case 'w':
			if (parse_u64(optarg, &lg.window) != 0 ||
			    lg.window == 0 || lg.window > RELP_TXNR_MAX / 2)
				goto badarg;
			break;
		case 'C':
			cert = optarg;
			break;
		case 'K':
			key = optarg;
			break;
		case 'A':
			ca = optarg;
			break;
		case 'h':
			usage();
			return (0);
		default:
			usage();
			return (2);
		}
	}
	if (optind != argc || target == NULL) {
		usage();
		return (2);
	}
	if (parse_target(&lg, target) != 0)
		return (2);
	if (lg.tls && tls_setup(&lg, cert, key, ca) != 0)
		return (2);
	if (!have_count && lg.duration == 0)
		lg.count = 100000;
	if (!have_count && lg.duration > 0)
		lg.count = MSGGEN_SEQ_MAX * lg.nconns;
	if (lg.count / lg.nconns > MSGGEN_SEQ_MAX) {
		fprintf(stderr, "custody-loadgen: count too large\n");
		return (2);
	}
	if (msggen_init(&lg.g, gen, (size_t)size, (int64_t)base) != 0) {
		fprintf(stderr, "custody-loadgen: out of memory\n");
		return (2);
	}

	/* A receiver that goes away must show as an error, not kill us. */
	signal(SIGPIPE, SIG_IGN);

	lg.loop = uv_default_loop();
	if ((lg.conns = calloc(lg.nconns, sizeof(*lg.conns))) == NULL)
		goto nomem;
	share = lg.count / lg.nconns;
	extra = lg.count % lg.nconns;
	for (i = 0; i < lg.nconns; i++) {
		lg.conns[i].lg = &lg;
		lg.conns[i].id = i;
		lg.conns[i].first = 0;
		lg.conns[i].next = 0;
		lg.conns[i].end = share + (i < extra ? 1 : 0);
		if (conn_alloc(&lg, &lg.conns[i]) != 0)
			goto nomem;
	}
	if (lg.timeout > 0) {
		uv_timer_init(lg.loop, &lg.guard);
		lg.guard.data = &lg;
		lg.guard_on = 1;
		uv_timer_start(&lg.guard, on_guard,
		    (uint64_t)(lg.timeout * 1000), 0);
	}
	for (i = 0; i < lg.nconns; i++) {
		if (conn_open(&lg, &lg.conns[i]) != 0)
			goto out;
	}
	uv_run(lg.loop, UV_RUN_DEFAULT);

	for (i = 0; i < lg.nconns; i++) {
		sent += lg.conns[i].sent;
		attempted += lg.conns[i].next - lg.conns[i].first;
		bytes += lg.conns[i].bytes;
		acked += lg.conns[i].acked;
		if (lg.conns[i].failed)
			failed++;
	}
	el = lg.started ? (double)(lg.t_end - lg.t0) / 1e9 : 0;
	printf("custody-loadgen gen=%s target=%s conns=%u size=%zu sent=%"
	    PRIu64 " attempted=%" PRIu64 " bytes=%" PRIu64 " elapsed_s=%.3f "
	    "events_per_s=%.0f mb_per_s=%.2f failed_conns=%u",
	    lg.g.gen, lg.target, lg.nconns, lg.g.size, sent, attempted, bytes,
	    el, el > 0 ? (double)sent / el : 0,
	    el > 0 ? (double)bytes / el / 1e6 : 0, failed);
	if (lg.transport == LG_RELP)
		printf(" acked=%" PRIu64 " acked_per_s=%.0f ack_p50_ms=%.3f "
		    "ack_p99_ms=%.3f", acked, el > 0 ? (double)acked / el : 0,
		    lat_quantile(&lg, 0.50), lat_quantile(&lg, 0.99));
	printf("\n");
	status = (failed > 0 || lg.timed_out ||
	    (lg.transport == LG_RELP && acked < attempted)) ? 1 : 0;
	if (manifest != NULL && write_manifest(&lg, manifest) != 0) {
		fprintf(stderr, "custody-loadgen: %s: %s\n", manifest,
		    strerror(errno));
		status = 2;
	}
	goto out;

nomem:
	fprintf(stderr, "custody-loadgen: out of memory\n");
out:
	if (lg.conns != NULL) {
		for (i = 0; i < lg.nconns; i++)
			conn_free(&lg.conns[i]);
	}
	free(lg.conns);
	msggen_close(&lg.g);
	SSL_CTX_free(lg.ssl_ctx);
	uv_loop_close(lg.loop);
	return (status);

badarg:
	fprintf(stderr, "custody-loadgen: bad value for -%c: %s\n", ch, optarg);
	usage();
	return (2);
}
