/*
 * The listener stage: sockets, framing and flow control on the event loop.
 *
 * One read buffer serves every socket: libuv calls a read callback right
 * after filling the buffer, and each callback consumes the bytes before it
 * returns (the deframer copies only a message cut by the end of a read),
 * so no read ever needs a buffer of its own.  libuv caps the reads per
 * socket per wakeup (32), and so does the unix socket's poll callback,
 * so one busy peer cannot starve the others.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "custody/error.h"
#include "custody/record.h"

#include "framing.h"
#include "listener.h"
#include "log.h"
#include "parser.h"

/* Room for 16 datagrams per recvmmsg (libuv splits it in 64 KiB slots). */
#define RBUF_LEN (16u << 16)
/* A stream read takes at most this much: it bounds one callback's work. */
#define STREAM_READ_LEN (256u << 10)
/* Datagrams read from the unix socket per wakeup. */
#define UNIX_READS_PER_WAKEUP 64
/*
 * At a stop, what the kernel has already accepted for a socket is read
 * first, up to this much (far more than a socket buffer holds), so that a
 * sender that keeps writing cannot hold the stop off for ever.
 */
#define DRAIN_MAX (64u << 20)
#define MAX_LISTENERS 64
#define NAME_LEN 300

enum ltype { L_TCP, L_UDP, L_UNIX };

struct listener {
	struct listeners *set;
	enum ltype type;
	char name[NAME_LEN];
	struct listener_counters ctr;
	union {
		uv_handle_t handle;
		uv_tcp_t tcp;
		uv_udp_t udp;
		uv_poll_t poll;
	} h;
	int fd;                   /* the unix socket, which libuv only polls */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct source src;        /* datagram listeners: the current sender */
	struct sockaddr_storage last_peer;
	socklen_t last_peer_len;
	uint64_t inode;           /* UDP: the socket, to find in /proc */
	int open;                 /* the handle is initialised */
};

struct conn {
	uv_tcp_t h;
	struct listener *l;
	struct conn *prev;
	struct conn *next;
	cst_deframer df;
	struct source src;
	int64_t recv_ns;
	int reading;
};

struct listeners {
	struct listener_env env;
	struct listener *l[MAX_LISTENERS];
	size_t n;
	struct conn *conns;
	size_t nconns;
	uint64_t refused;
	int paused;
	int closing;
	size_t handles;          /* listeners and connections not yet closed */
	void (*done)(void *);
	void *done_ctx;
	uint8_t rbuf[RBUF_LEN];
};

static void
seterr(char *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, LISTENER_ERR_LEN, fmt, ap);
	va_end(ap);
}

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t)ts.tv_sec * INT64_C(1000000000) + ts.tv_nsec);
}

/* Formats a peer address as the SPEC's record field 5 wants it. */
static size_t
format_peer(const struct sockaddr *sa, char *out, size_t len)
{
	char host[INET6_ADDRSTRLEN];
	int n = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		n = snprintf(out, len, "%s:%u", host, ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		n = snprintf(out, len, "[%s]:%u", host, ntohs(in6->sin6_port));
	} else if (len > 0)
		out[0] = '\0';
	if (n < 0)
		n = 0;
	return ((size_t)n >= len ? len - 1 : (size_t)n);
}

static void
source_init(struct source *src, struct listener *l, uint8_t transport)
{

	memset(src, 0, sizeof(*src));
	src->name = l->name;
	src->name_len = strlen(l->name);
	src->transport = transport;
	src->ctr = &l->ctr;
}

/* A handle's close callback ran; the last one after closing ends ls. */
static void
handle_closed(struct listeners *ls)
{

	if (--ls->handles > 0 || !ls->closing)
		return;
	ls->done(ls->done_ctx);
	free(ls);
}

/* ---- TCP connections ---- */

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
	handle_closed(ls);
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
		c->recv_ns = now_ns();
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
	c->recv_ns = now_ns();
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
	source_init(&c->src, l, CST_TR_TCP);
	if (uv_tcp_getpeername(&c->h, (struct sockaddr *)&ss, &len) == 0)
		c->src.peer_len = format_peer((struct sockaddr *)&ss,
		    c->src.peer, sizeof(c->src.peer));
	cst_deframer_init(&c->df, ls->env.max_message, conn_message, c);
	uv_tcp_keepalive(&c->h, 1, 60);
	c->next = ls->conns;
	if (ls->conns != NULL)
		ls->conns->prev = c;
	ls->conns = c;
	ls->nconns++;
	if (!ls->paused) {
		uv_read_start((uv_stream_t *)&c->h, stream_alloc, stream_read);
		c->reading = 1;
	}
}

/* ---- datagrams ---- */

/*
 * Records one datagram; one longer than max_message is cut into pieces
 * as the deframer cuts a stream's (framing.h), flagged, none lost.
 */
static int
datagram(struct listener *l, const uint8_t *p, size_t len, int64_t recv_ns)
{
	struct listeners *ls = l->set;
	size_t max = ls->env.max_message, n;
	unsigned flags = 0;
	int rc;

	do {
		n = len > max ? max : len;
		if (len > max)
			flags |= CST_FRAME_TRUNCATED;
		else
			flags &= ~CST_FRAME_TRUNCATED;
		if ((rc = parser_message(ls->env.batcher, &l->src, p, n, flags,
		    recv_ns)) != 0)
			return (rc);
		flags |= CST_FRAME_CONTINUED;
		p += n;
		len -= n;
	} while (len > 0);
	return (0);
}

/* Sets the datagram listener's current sender. */
static void
set_peer(struct listener *l, const struct sockaddr *sa, socklen_t salen)
{

	if (salen == l->last_peer_len && memcmp(sa, &l->last_peer,
	    (size_t)salen) == 0)
		return;
	memcpy(&l->last_peer, sa, (size_t)salen);
	l->last_peer_len = salen;
	if (sa->sa_family == AF_UNIX) {
		const struct sockaddr_un *un = (const void *)sa;
		size_t plen = (size_t)salen > offsetof(struct sockaddr_un,
		    sun_path) ? (size_t)salen - offsetof(struct sockaddr_un,
		    sun_path) : 0;

		/* Unnamed senders (most syslog(3) callers) give "". */
		if (plen > 0 && un->sun_path[0] == '\0')
			plen = 0;
		plen = strnlen(un->sun_path, plen);
		if (plen >= sizeof(l->src.peer))
			plen = sizeof(l->src.peer) - 1;
		memcpy(l->src.peer, un->sun_path, plen);
		l->src.peer[plen] = '\0';
		l->src.peer_len = plen;
	} else
		l->src.peer_len = format_peer(sa, l->src.peer,
		    sizeof(l->src.peer));
	/* A new name must be copied into the batch afresh. */
	l->src.gen = 0;
}

static void
udp_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct listener *l = h->data;

	(void)hint;
	buf->base = (char *)l->set->rbuf;
	buf->len = RBUF_LEN;
}

static void
udp_read(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
    const struct sockaddr *addr, unsigned flags)
{
	struct listener *l = h->data;
	struct listeners *ls = l->set;
	socklen_t salen;
	int rc;

	if (nread < 0) {
		log_warn("%s: %s", l->name, uv_strerror((int)nread));
		return;
	}
	/*
	 * The end of a burst.  Only here may the daemon pause us: libuv
	 * drops the rest of a recvmmsg batch if reading stops inside it.
	 */
	if (addr == NULL) {
		ls->env.after_read(ls->env.ctx);
		return;
	}
	salen = addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
	    sizeof(struct sockaddr_in);
	set_peer(l, addr, salen);
	/* Cannot happen with 64 KiB slots; counted if it ever does. */
	if (flags & UV_UDP_PARTIAL)
		l->ctr.udp_dropped++;
	if ((rc = datagram(l, (const uint8_t *)buf->base, (size_t)nread,
	    now_ns())) != 0)
		ls->env.fatal(ls->env.ctx, rc);
}

static void
unix_readable(uv_poll_t *h, int status, int events)
{
	struct listener *l = h->data;
	struct listeners *ls = l->set;
	struct sockaddr_un sun;
	struct msghdr mh;
	struct iovec iov;
	ssize_t n;
	int i, rc;

	(void)events;
	if (status != 0) {
		log_warn("%s: %s", l->name, uv_strerror(status));
		return;
	}
	for (i = 0; i < UNIX_READS_PER_WAKEUP && !ls->paused; i++) {
		memset(&mh, 0, sizeof(mh));
		iov.iov_base = ls->rbuf;
		iov.iov_len = sizeof(ls->rbuf);
		mh.msg_name = &sun;
		mh.msg_namelen = sizeof(sun);
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		if ((n = recvmsg(l->fd, &mh, MSG_DONTWAIT)) == -1) {
			if (errno != EAGAIN && errno != EINTR)
				log_warn("%s: %s", l->name, strerror(errno));
			break;
		}
		if (mh.msg_flags & MSG_TRUNC)
			l->ctr.udp_dropped++;
		set_peer(l, (struct sockaddr *)&sun, mh.msg_namelen);
		if ((rc = datagram(l, ls->rbuf, (size_t)n, now_ns())) != 0) {
			ls->env.fatal(ls->env.ctx, rc);
			return;
		}
		ls->env.after_read(ls->env.ctx);
	}
}

/* ---- opening ---- */

/*
 * Splits "HOST:PORT" or "[HOST]:PORT" (in place in buf) and resolves it
 * for a passive socket of type socktype.
 */
static int
resolve(char *buf, int socktype, struct addrinfo **res, char *err)
{
	struct addrinfo hints;
	char *host = buf, *port;
	int rc;

	if (*host == '[') {
		host++;
		if ((port = strchr(host, ']')) == NULL || port[1] != ':')
			goto bad;
		*port = '\0';
		port += 2;
	} else {
		if ((port = strrchr(host, ':')) == NULL)
			goto bad;
		*port++ = '\0';
	}
	if (*host == '\0' || *port == '\0')
		goto bad;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = socktype;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, res)) != 0) {
		seterr(err, "%s: %s", host, gai_strerror(rc));
		return (CST_EINVAL);
	}
	return (0);

bad:
	seterr(err, "expected HOST:PORT or [HOST]:PORT");
	return (CST_EINVAL);
}

/* Writes scheme://addr:port of the bound socket as the listener's name. */
static void
name_bound(struct listener *l, const char *scheme,
    const struct sockaddr *sa)
{
	char peer[128];

	format_peer(sa, peer, sizeof(peer));
	snprintf(l->name, sizeof(l->name), "%s://%s", scheme, peer);
}

static int
open_tcp(struct listener *l, char *hostport, char *err)
{
	struct listeners *ls = l->set;
	struct addrinfo *ai;
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	int rc;

	if ((rc = resolve(hostport, SOCK_STREAM, &ai, err)) != 0)
		return (rc);
	uv_tcp_init_ex(ls->env.loop, &l->h.tcp, (unsigned)ai->ai_family);
	l->h.tcp.data = l;
	l->open = 1;
	ls->handles++;
	if ((rc = uv_tcp_bind(&l->h.tcp, ai->ai_addr, 0)) != 0 ||
	    (rc = uv_listen((uv_stream_t *)&l->h.tcp, 511,
	    tcp_connection)) != 0) {
		seterr(err, "%s", uv_strerror(rc));
		freeaddrinfo(ai);
		return (CST_EIO);
	}
	freeaddrinfo(ai);
	if (uv_tcp_getsockname(&l->h.tcp, (struct sockaddr *)&ss, &len) == 0)
		name_bound(l, "tcp", (struct sockaddr *)&ss);
	return (0);
}

static int
open_udp(struct listener *l, char *hostport, char *err)
{
	struct listeners *ls = l->set;
	struct addrinfo *ai;
	struct sockaddr_storage ss;
	struct stat sb;
	uv_os_fd_t fd;
	int len = sizeof(ss);
	int size, rc;

	if ((rc = resolve(hostport, SOCK_DGRAM, &ai, err)) != 0)
		return (rc);
	uv_udp_init_ex(ls->env.loop, &l->h.udp,
	    (unsigned)ai->ai_family | UV_UDP_RECVMMSG);
	l->h.udp.data = l;
	l->open = 1;
	ls->handles++;
	if ((rc = uv_udp_bind(&l->h.udp, ai->ai_addr, 0)) != 0) {
		seterr(err, "%s", uv_strerror(rc));
		freeaddrinfo(ai);
		return (CST_EIO);
	}
	freeaddrinfo(ai);
	if (ls->env.udp_rcvbuf > 0) {
		size = ls->env.udp_rcvbuf > INT32_MAX / 2 ? INT32_MAX / 2 :
		    (int)ls->env.udp_rcvbuf;
		/* Capped by net.core.rmem_max; what we get is logged below. */
		uv_recv_buffer_size(&l->h.handle, &size);
	}
	if (uv_udp_getsockname(&l->h.udp, (struct sockaddr *)&ss, &len) == 0)
		name_bound(l, "udp", (struct sockaddr *)&ss);
	if (uv_fileno(&l->h.handle, &fd) == 0 && fstat(fd, &sb) == 0)
		l->inode = (uint64_t)sb.st_ino;
	source_init(&l->src, l, CST_TR_UDP);
	return (0);
}

static int
open_unix(struct listener *l, const char *path, char *err)
{
	struct listeners *ls = l->set;
	struct sockaddr_un sun;
	struct stat sb;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path) || path[0] != '/') {
		seterr(err, "an absolute path of at most %zu bytes expected",
		    sizeof(sun.sun_path) - 1);
		return (CST_EINVAL);
	}
	/* A socket left by an earlier run; anything else is not ours. */
	if (lstat(path, &sb) == 0 && S_ISSOCK(sb.st_mode))
		unlink(path);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		goto err0;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path));
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0)
		goto err1;
	/* Any local program may log, as with /dev/log. */
	if (chmod(path, 0666) != 0)
		goto err2;
	if (ls->env.udp_rcvbuf > 0) {
		int size = ls->env.udp_rcvbuf > INT32_MAX / 2 ? INT32_MAX / 2 :
		    (int)ls->env.udp_rcvbuf;

		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	}
	l->fd = fd;
	snprintf(l->path, sizeof(l->path), "%s", path);
	snprintf(l->name, sizeof(l->name), "unix://%s", path);
	if (uv_poll_init(ls->env.loop, &l->h.poll, fd) != 0)
		goto err2;
	l->h.poll.data = l;
	l->open = 1;
	ls->handles++;
	source_init(&l->src, l, CST_TR_UNIX);
	return (0);

err2:
	unlink(path);
err1:
	close(fd);
err0:
	seterr(err, "%s: %s", path, strerror(errno));
	return (CST_EIO);
}

static void
start_reading(struct listeners *ls)
{
	struct listener *l;
	struct conn *c;
	size_t i;

	for (i = 0; i < ls->n; i++) {
		l = ls->l[i];
		if (l->type == L_UDP)
			uv_udp_recv_start(&l->h.udp, udp_alloc, udp_read);
		else if (l->type == L_UNIX)
			uv_poll_start(&l->h.poll, UV_READABLE, unix_readable);
	}
	for (c = ls->conns; c != NULL; c = c->next) {
		if (c->reading)
			continue;
		uv_read_start((uv_stream_t *)&c->h, stream_alloc, stream_read);
		c->reading = 1;
	}
}

static void
listener_freed(uv_handle_t *h)
{
	struct listener *l = h->data;
	struct listeners *ls = l->set;

	if (l->type == L_UNIX) {
		close(l->fd);
		unlink(l->path);
	}
	free(l);
	handle_closed(ls);
}

static void
ignore_done(void *ctx)
{

	(void)ctx;
}

int
listeners_open(const struct listener_env *env, char *const *urls, size_t n,
    struct listeners **out, char err[LISTENER_ERR_LEN])
{
	struct listeners *ls;
	struct listener *l;
	char buf[NAME_LEN], msg[LISTENER_ERR_LEN];
	size_t i;
	int rc;

	if (n > MAX_LISTENERS) {
		seterr(err, "more than %d listeners", MAX_LISTENERS);
		return (CST_EINVAL);
	}
	if ((ls = calloc(1, sizeof(*ls))) == NULL) {
		seterr(err, "%s", cst_strerror(CST_ENOMEM));
		return (CST_ENOMEM);
	}
	ls->env = *env;
	for (i = 0; i < n; i++) {
		msg[0] = '\0';
		if ((l = calloc(1, sizeof(*l))) == NULL) {
			rc = CST_ENOMEM;
			seterr(msg, "%s", cst_strerror(rc));
			goto err;
		}
		l->set = ls;
		l->fd = -1;
		ls->l[ls->n++] = l;
		snprintf(l->name, sizeof(l->name), "%s", urls[i]);
		if (strlen(urls[i]) >= sizeof(buf)) {
			rc = CST_EINVAL;
			seterr(msg, "too long");
		} else if (strncmp(urls[i], "tcp://", 6) == 0) {
			l->type = L_TCP;
			strcpy(buf, urls[i] + 6);
			rc = open_tcp(l, buf, msg);
		} else if (strncmp(urls[i], "udp://", 6) == 0) {
			l->type = L_UDP;
			strcpy(buf, urls[i] + 6);
			rc = open_udp(l, buf, msg);
		} else if (strncmp(urls[i], "unix://", 7) == 0) {
			l->type = L_UNIX;
			rc = open_unix(l, urls[i] + 7, msg);
		} else {
			rc = CST_EINVAL;
			seterr(msg, "expected tcp://, udp:// or unix://");
		}
		if (rc != 0)
			goto err;
	}
	start_reading(ls);
	*out = ls;
	return (0);

err:
	seterr(err, "listen %s: %s", urls[i], msg);
	/* Nothing was read: the handles close with the loop's next turn. */
	ls->closing = 1;
	ls->done = ignore_done;
	ls->handles++;
	for (i = 0; i < ls->n; i++) {
		l = ls->l[i];
		if (l->open)
			uv_close(&l->h.handle, listener_freed);
		else
			free(l);
	}
	handle_closed(ls);
	return (rc);
}

size_t
listeners_count(const struct listeners *ls)
{

	return (ls->n);
}

const char *
listeners_name(const struct listeners *ls, size_t i)
{

	return (ls->l[i]->name);
}

struct listener_counters *
listeners_counters(struct listeners *ls, size_t i)
{

	return (&ls->l[i]->ctr);
}

void
listeners_pause(struct listeners *ls)
{
	struct listener *l;
	struct conn *c;
	size_t i;

	if (ls->paused)
		return;
	ls->paused = 1;
	for (i = 0; i < ls->n; i++) {
		l = ls->l[i];
		if (l->type == L_UDP)
			uv_udp_recv_stop(&l->h.udp);
		else if (l->type == L_UNIX)
			uv_poll_stop(&l->h.poll);
	}
	for (c = ls->conns; c != NULL; c = c->next) {
		if (!c->reading)
			continue;
		uv_read_stop((uv_stream_t *)&c->h);
		c->reading = 0;
	}
}

void
listeners_resume(struct listeners *ls)
{

	if (!ls->paused)
		return;
	ls->paused = 0;
	start_reading(ls);
}

int
listeners_paused(const struct listeners *ls)
{

	return (ls->paused);
}

size_t
listeners_connections(const struct listeners *ls)
{

	return (ls->nconns);
}

uint64_t
listeners_refused(const struct listeners *ls)
{

	return (ls->refused);
}

/* Reads the drops column of path for the sockets of UDP listeners. */
static void
poll_drops_file(struct listeners *ls, const char *path)
{
	char line[512];
	unsigned long long inode, drops;
	unsigned long ref;
	FILE *f;
	size_t i;

	if ((f = fopen(path, "re")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops */
		if (sscanf(line, "%*s %*s %*s %*s %*s %*s %*s %*s %*s %llu %lu "
		    "%*s %llu", &inode, &ref, &drops) != 3)
			continue;
		for (i = 0; i < ls->n; i++)
			if (ls->l[i]->type == L_UDP && ls->l[i]->inode == inode)
				ls->l[i]->ctr.kernel_dropped = drops;
	}
	fclose(f);
}

void
listeners_poll_drops(struct listeners *ls)
{
	size_t i;

	for (i = 0; i < ls->n; i++)
		if (ls->l[i]->type == L_UDP)
			break;
	if (i == ls->n)
		return;
	poll_drops_file(ls, "/proc/net/udp");
	poll_drops_file(ls, "/proc/net/udp6");
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
		c->recv_ns = now_ns();
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

/* Reads the datagrams queued for l, as conn_drain does for a stream. */
static int
datagram_drain(struct listener *l)
{
	struct listeners *ls = l->set;
	struct sockaddr_storage ss;
	socklen_t salen;
	uv_os_fd_t fd;
	size_t total = 0;
	ssize_t n;
	int rc;

	if (l->type == L_UNIX)
		fd = l->fd;
	else if (uv_fileno(&l->h.handle, &fd) != 0)
		return (0);
	while (total < DRAIN_MAX) {
		salen = sizeof(ss);
		n = recvfrom(fd, ls->rbuf, sizeof(ls->rbuf), MSG_DONTWAIT,
		    (struct sockaddr *)&ss, &salen);
		if (n == -1 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		total += (size_t)n;
		set_peer(l, (struct sockaddr *)&ss, salen);
		if ((rc = datagram(l, ls->rbuf, (size_t)n, now_ns())) != 0)
			return (rc);
	}
	return (0);
}

int
listeners_close(struct listeners *ls, void (*done)(void *ctx), void *ctx)
{
	struct listener *l;
	size_t i;
	int rc, first = 0;

	ls->closing = 1;
	ls->done = done;
	ls->done_ctx = ctx;
	/* One for this function, so done cannot run before it returns. */
	ls->handles++;
	for (i = 0; i < ls->n; i++) {
		l = ls->l[i];
		if (l->type != L_TCP && (rc = datagram_drain(l)) != 0 &&
		    first == 0)
			first = rc;
		uv_close(&l->h.handle, listener_freed);
	}
	while (ls->conns != NULL) {
		if ((rc = conn_drain(ls->conns)) != 0 && first == 0)
			first = rc;
		if ((rc = conn_end(ls->conns, 1)) != 0 && first == 0)
			first = rc;
	}
	handle_closed(ls);
	return (first);
}
