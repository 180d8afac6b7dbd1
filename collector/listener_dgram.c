/*
 * Datagram listeners: UDP (RFC 5426) and a local unix datagram socket
 * (the /dev/log kind).  A datagram longer than max_message is cut into
 * flagged pieces, as the deframer cuts a stream's; what cannot be
 * recorded whole, and what the kernel drops on a full queue, is counted
 * for the loss records.  The unix socket is read by hand (libuv only
 * polls it), at most UNIX_READS_PER_WAKEUP datagrams a wakeup, as libuv
 * caps its own reads, so one busy peer cannot starve the others.  Its
 * datagrams carry the sender's pid, uid and gid, which the kernel checks
 * (SO_PASSCRED, as journald reads /dev/log): they go into each record's
 * field 6 in the form of R-REC-9.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <uv.h>

#include "custody/error.h"
#include "custody/record.h"

#include "addr.h"
#include "listener_int.h"
#include "log.h"
#include "parser.h"
#include "udpdrops.h"

/* Datagrams read from the unix socket per wakeup. */
#define UNIX_READS_PER_WAKEUP 64

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
		l->src.peer_len = addr_format(sa, l->src.peer,
		    sizeof(l->src.peer));
	/* A new name must be copied into the batch afresh. */
	l->src.gen = 0;
}

/*
 * Sets the unix listener's current sender's credentials out of mh's
 * (borrowed) control data: R-REC-9's form, or nil without them.
 */
static void
set_cred(struct listener *l, struct msghdr *mh)
{
	struct cmsghdr *cm;
	struct ucred uc;
	char s[sizeof(l->cred)];
	int n = -1;

	for (cm = CMSG_FIRSTHDR(mh); cm != NULL; cm = CMSG_NXTHDR(mh, cm))
		if (cm->cmsg_level == SOL_SOCKET &&
		    cm->cmsg_type == SCM_CREDENTIALS &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(uc))) {
			memcpy(&uc, CMSG_DATA(cm), sizeof(uc));
			n = snprintf(s, sizeof(s), "ucred pid=%ld uid=%lu "
			    "gid=%lu", (long)uc.pid, (unsigned long)uc.uid,
			    (unsigned long)uc.gid);
			break;
		}
	if (n < 0 || (size_t)n >= sizeof(s)) {
		if (l->src.tls_peer != NULL)
			l->src.gen = 0;
		l->src.tls_peer = NULL;
		l->src.tls_peer_len = 0;
		return;
	}
	if (l->src.tls_peer != NULL && (size_t)n == l->src.tls_peer_len &&
	    memcmp(s, l->cred, (size_t)n) == 0)
		return;
	memcpy(l->cred, s, (size_t)n + 1);
	l->src.tls_peer = l->cred;
	l->src.tls_peer_len = (size_t)n;
	/* New credentials must be copied into the batch afresh. */
	l->src.gen = 0;
}

/*
 * Reads one datagram of unix listener l into the set's buffer and makes
 * its sender current.  Returns its length, or -1 with errno.
 */
static ssize_t
unix_recv(struct listener *l)
{
	struct listeners *ls = l->set;
	struct sockaddr_un sun;
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(struct ucred))];
	} ctl;
	struct msghdr mh;
	struct iovec iov;
	ssize_t n;

	memset(&mh, 0, sizeof(mh));
	iov.iov_base = ls->rbuf;
	iov.iov_len = sizeof(ls->rbuf);
	mh.msg_name = &sun;
	mh.msg_namelen = sizeof(sun);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = ctl.buf;
	mh.msg_controllen = sizeof(ctl.buf);
	if ((n = recvmsg(l->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC)) == -1)
		return (-1);
	if (mh.msg_flags & MSG_TRUNC)
		l->ctr.udp_dropped++;
	set_peer(l, (struct sockaddr *)&sun, mh.msg_namelen);
	set_cred(l, &mh);
	return (n);
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
	    clock_real_ns())) != 0)
		ls->env.fatal(ls->env.ctx, rc);
}

static void
unix_readable(uv_poll_t *h, int status, int events)
{
	struct listener *l = h->data;
	struct listeners *ls = l->set;
	ssize_t n;
	int i, rc;

	(void)events;
	if (status != 0) {
		log_warn("%s: %s", l->name, uv_strerror(status));
		return;
	}
	for (i = 0; i < UNIX_READS_PER_WAKEUP && !ls->paused; i++) {
		if ((n = unix_recv(l)) == -1) {
			if (errno != EAGAIN && errno != EINTR)
				log_warn("%s: %s", l->name, strerror(errno));
			break;
		}
		if ((rc = datagram(l, ls->rbuf, (size_t)n,
		    clock_real_ns())) != 0) {
			ls->env.fatal(ls->env.ctx, rc);
			return;
		}
		ls->env.after_read(ls->env.ctx);
	}
}

int
listener_dgram_open_udp(struct listener *l, const char *hostport, char *err)
{
	struct listeners *ls = l->set;
	struct addrinfo *ai;
	struct sockaddr_storage ss;
	struct stat sb;
	uv_os_fd_t fd;
	char msg[ADDR_ERR_LEN], peer[128];
	int len = sizeof(ss);
	int size, rc;

	if ((rc = addr_resolve(hostport, SOCK_DGRAM, 1, &ai, msg)) != 0) {
		listener_seterr(err, "%s", msg);
		return (rc);
	}
	uv_udp_init_ex(ls->env.loop, &l->h.udp,
	    (unsigned)ai->ai_family | UV_UDP_RECVMMSG);
	l->h.udp.data = l;
	l->open = 1;
	ls->handles++;
	if ((rc = uv_udp_bind(&l->h.udp, ai->ai_addr, 0)) != 0) {
		listener_seterr(err, "%s", uv_strerror(rc));
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
	if (uv_udp_getsockname(&l->h.udp, (struct sockaddr *)&ss,
	    &len) == 0) {
		addr_format((struct sockaddr *)&ss, peer, sizeof(peer));
		snprintf(l->name, sizeof(l->name), "udp://%s", peer);
	}
	if (uv_fileno(&l->h.handle, &fd) == 0 && fstat(fd, &sb) == 0)
		l->inode = (uint64_t)sb.st_ino;
	listener_source_init(&l->src, l, CST_TR_UDP);
	return (0);
}

int
listener_dgram_open_unix(struct listener *l, const char *path, char *err)
{
	struct listeners *ls = l->set;
	struct sockaddr_un sun;
	struct stat sb;
	int fd, one = 1;

	if (strlen(path) >= sizeof(sun.sun_path) || path[0] != '/') {
		listener_seterr(err, "an absolute path of at most %zu bytes "
		    "expected", sizeof(sun.sun_path) - 1);
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
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) != 0)
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
	listener_source_init(&l->src, l, CST_TR_UNIX);
	return (0);

err2:
	unlink(path);
err1:
	close(fd);
err0:
	listener_seterr(err, "%s: %s", path, strerror(errno));
	return (CST_EIO);
}

void
listener_dgram_start(struct listener *l)
{

	if (l->type == L_UDP)
		uv_udp_recv_start(&l->h.udp, udp_alloc, udp_read);
	else
		uv_poll_start(&l->h.poll, UV_READABLE, unix_readable);
}

void
listener_dgram_stop(struct listener *l)
{

	if (l->type == L_UDP)
		uv_udp_recv_stop(&l->h.udp);
	else
		uv_poll_stop(&l->h.poll);
}

int
listener_dgram_drain(struct listener *l)
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
		if (l->type == L_UNIX)
			n = unix_recv(l);
		else {
			salen = sizeof(ss);
			n = recvfrom(fd, ls->rbuf, sizeof(ls->rbuf),
			    MSG_DONTWAIT, (struct sockaddr *)&ss, &salen);
			if (n >= 0)
				set_peer(l, (struct sockaddr *)&ss, salen);
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		total += (size_t)n;
		if ((rc = datagram(l, ls->rbuf, (size_t)n,
		    clock_real_ns())) != 0)
			return (rc);
	}
	return (0);
}

/* Reads the drops column of path for the sockets of UDP listeners. */
static void
poll_drops_file(struct listeners *ls, const char *path)
{
	char line[512];
	uint64_t inode, drops;
	FILE *f;
	size_t i;

	if ((f = fopen(path, "re")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (udpdrops_line(line, &inode, &drops) != 0)
			continue;
		for (i = 0; i < ls->n; i++)
			if (ls->l[i]->type == L_UDP && ls->l[i]->inode == inode)
				ls->l[i]->ctr.kernel_dropped = drops;
	}
	fclose(f);
}

void
listener_dgram_poll_drops(struct listeners *ls)
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
