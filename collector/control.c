/*
 * The control socket: access records (SPEC section 18, R-ACC-*, R-CTL-*).
 *
 * A peer may be any member of the collector's group, so it is treated as
 * hostile: it cannot choose the ids sealed (the kernel gives them at
 * accept), cannot hold more than CONTROL_LINE_MAX bytes of the
 * collector's memory, nor a slot longer than the timeouts, nor more
 * than CONTROL_MAX_CONNS slots; answers are written with one
 * non-blocking write, and a peer that does not read them is closed.  The
 * user name is looked up on libuv's thread pool: a name service may be
 * slow, the loop must not be.
 */
#include <errno.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "custody/error.h"

#include "audit.h"
#include "clock.h"
#include "control.h"
#include "log.h"

#define USER_LEN 256

struct conn {
	uv_pipe_t pipe;
	uv_timer_t timer;
	uv_work_t work;
	struct control *ctl;
	struct conn *prev;
	struct conn *next;
	int handles;            /* open handles; freed at 0 */
	int has_timer;
	int work_pending;
	int closing;
	int begun;
	int ended;
	uint64_t id;
	struct ucred cred;
	int has_user;
	char user[USER_LEN];
	size_t len;
	char buf[CONTROL_LINE_MAX];
};

struct control {
	struct control_env env;
	uv_pipe_t srv;
	int srv_open;
	int closing;
	struct conn *conns;
	size_t nconns;
	uint64_t next_id;
	uint64_t overflow;      /* connections closed at accept: too many */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

#define seterr(err, ...) log_seterr(err, CONTROL_ERR_LEN, __VA_ARGS__)

static void
maybe_free(struct control *c)
{

	if (c->closing && !c->srv_open && c->conns == NULL)
		free(c);
}

static void
conn_closed(uv_handle_t *h)
{
	struct conn *k = h->data;
	struct control *c = k->ctl;

	if (--k->handles > 0)
		return;
	if (k->prev != NULL)
		k->prev->next = k->next;
	else
		c->conns = k->next;
	if (k->next != NULL)
		k->next->prev = k->prev;
	c->nconns--;
	free(k);
	maybe_free(c);
}

/* An access record of k's phase: who asked, as the kernel said. */
static void
access_of(const struct conn *k, const char *phase, struct audit_access *a)
{

	memset(a, 0, sizeof(*a));
	a->phase = phase;
	a->id = k->id;
	a->uid = k->cred.uid;
	a->gid = k->cred.gid;
	a->pid = (uint64_t)k->cred.pid;
	a->user = k->has_user ? k->user : NULL;
}

/* The end record of k, with its count or the reason there is none. */
static void
seal_end(struct conn *k, int has_shown, uint64_t shown, const char *bundle,
    const char *reason)
{
	struct audit_access a;
	int rc;

	access_of(k, "end", &a);
	a.has_shown = has_shown;
	a.shown = shown;
	a.bundle = bundle;
	a.reason = has_shown ? NULL : reason;
	k->ended = 1;
	if ((rc = audit_access(k->ctl->env.batcher, &a, clock_real_ns())) != 0)
		k->ctl->env.failed(k->ctl->env.ctx, rc);
}

/*
 * Closes k; a begun access that did not end is ended with reason.  With
 * the name lookup still running, the handles close when it returns.
 */
static void
conn_close(struct conn *k, const char *reason)
{

	if (k->begun && !k->ended)
		seal_end(k, 0, 0, NULL, reason);
	k->closing = 1;
	if (k->work_pending || uv_is_closing((uv_handle_t *)&k->pipe))
		return;
	k->handles = 1;
	uv_close((uv_handle_t *)&k->pipe, conn_closed);
	if (k->has_timer) {
		k->handles++;
		uv_close((uv_handle_t *)&k->timer, conn_closed);
	}
}

/* One non-blocking write of a short answer; 0 or -1 (not all written). */
static int
answer(struct conn *k, const char *text)
{
	uv_buf_t b = uv_buf_init((char *)(uintptr_t)text,
	    (unsigned)strlen(text));

	return (uv_try_write((uv_stream_t *)&k->pipe, &b, 1) ==
	    (int)b.len ? 0 : -1);
}

static void
protocol_error(struct conn *k, const char *why)
{
	char t[128], reason[160];

	snprintf(t, sizeof(t), "error %s\n", why);
	(void)answer(k, t);
	snprintf(reason, sizeof(reason), "protocol error: %s", why);
	conn_close(k, reason);
}

static void
on_timeout(uv_timer_t *t)
{
	struct conn *k = t->data;

	conn_close(k, "no end line within the bound");
}

static void
handle_begin(struct conn *k, const char *cmd, size_t len)
{
	struct audit_access a;
	char t[64];
	int rc;

	k->begun = 1;
	k->id = ++k->ctl->next_id;
	access_of(k, "begin", &a);
	a.command = cmd;
	a.command_len = len;
	if ((rc = audit_access(k->ctl->env.batcher, &a,
	    clock_real_ns())) != 0) {
		k->ended = 1;
		(void)answer(k, "error the collector cannot record it\n");
		conn_close(k, NULL);
		k->ctl->env.failed(k->ctl->env.ctx, rc);
		return;
	}
	snprintf(t, sizeof(t), "ok %" PRIu64 "\n", k->id);
	if (answer(k, t) != 0) {
		conn_close(k, "the reader did not take the answer");
		return;
	}
	uv_timer_start(&k->timer, on_timeout, CONTROL_SESSION_TIMEOUT_MS, 0);
}

/* "end SHOWN BUNDLE": SHOWN decimal, BUNDLE 64 lower-case hex or "-". */
static void
handle_end(struct conn *k, const char *p, size_t len)
{
	char hex[65];
	uint64_t shown = 0;
	size_t i = 0, digits = 0;

	while (i < len && p[i] >= '0' && p[i] <= '9') {
		if (shown > (UINT64_MAX - 9) / 10) {
			protocol_error(k, "a count out of range");
			return;
		}
		shown = shown * 10 + (uint64_t)(p[i] - '0');
		i++;
		digits++;
	}
	if (digits == 0 || i >= len || p[i] != ' ') {
		protocol_error(k, "expected: end SHOWN BUNDLE");
		return;
	}
	p += i + 1;
	len -= i + 1;
	if (len == 1 && p[0] == '-') {
		hex[0] = '\0';
	} else {
		if (len != 64) {
			protocol_error(k, "a bundle digest is 64 hex digits");
			return;
		}
		for (i = 0; i < 64; i++)
			if (!((p[i] >= '0' && p[i] <= '9') ||
			    (p[i] >= 'a' && p[i] <= 'f'))) {
				protocol_error(k, "a bundle digest is 64 "
				    "lower-case hex digits");
				return;
			}
		memcpy(hex, p, 64);
		hex[64] = '\0';
	}
	seal_end(k, 1, shown, hex[0] != '\0' ? hex : NULL, NULL);
	(void)answer(k, "ok\n");
	conn_close(k, NULL);
}

static void
handle_line(struct conn *k, const char *line, size_t len)
{

	if (!k->begun) {
		if (len >= 6 && memcmp(line, "begin ", 6) == 0)
			handle_begin(k, line + 6, len - 6);
		else
			protocol_error(k, "expected: begin COMMAND");
	} else if (len >= 4 && memcmp(line, "end ", 4) == 0) {
		handle_end(k, line + 4, len - 4);
	} else {
		protocol_error(k, "expected: end SHOWN BUNDLE");
	}
}

static void
on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct conn *k = h->data;

	(void)hint;
	b->base = k->buf + k->len;
	b->len = sizeof(k->buf) - k->len;
}

static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct conn *k = s->data;
	char *lf;
	size_t used;

	(void)b;
	if (k->closing)
		return;
	if (n == UV_ENOBUFS) {
		protocol_error(k, "a line longer than 4096 bytes");
		return;
	}
	if (n == UV_EOF) {
		conn_close(k, "the reader closed the connection before its "
		    "end line");
		return;
	}
	if (n < 0) {
		char why[128];

		snprintf(why, sizeof(why), "reading from the reader: %s",
		    uv_strerror((int)n));
		conn_close(k, why);
		return;
	}
	if (memchr(k->buf + k->len, '\0', (size_t)n) != NULL) {
		protocol_error(k, "a NUL byte");
		return;
	}
	k->len += (size_t)n;
	while (!k->closing &&
	    (lf = memchr(k->buf, '\n', k->len)) != NULL) {
		used = (size_t)(lf - k->buf) + 1;
		handle_line(k, k->buf, used - 1);
		memmove(k->buf, k->buf + used, k->len - used);
		k->len -= used;
	}
}

/* On the thread pool: the name of the peer's uid, if it has one. */
static void
lookup_user(uv_work_t *w)
{
	struct conn *k = w->data;
	struct passwd pw, *res = NULL;
	char scratch[4096];

	if (getpwuid_r(k->cred.uid, &pw, scratch, sizeof(scratch),
	    &res) == 0 && res != NULL && strlen(res->pw_name) < USER_LEN) {
		memcpy(k->user, res->pw_name, strlen(res->pw_name) + 1);
		k->has_user = 1;
	}
}

static void
looked_up(uv_work_t *w, int status)
{
	struct conn *k = w->data;

	(void)status;
	k->work_pending = 0;
	if (k->closing) {
		conn_close(k, NULL);
		return;
	}
	uv_read_start((uv_stream_t *)&k->pipe, on_alloc, on_read);
}

static void
on_connection(uv_stream_t *srv, int status)
{
	struct control *c = srv->data;
	struct conn *k;
	socklen_t len = sizeof(k->cred);
	int fd;

	if (status < 0 || c->closing)
		return;
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		log_err("control socket: %s", cst_strerror(CST_ENOMEM));
		return;
	}
	k->ctl = c;
	uv_pipe_init(c->env.loop, &k->pipe, 0);
	k->pipe.data = k;
	k->next = c->conns;
	if (c->conns != NULL)
		c->conns->prev = k;
	c->conns = k;
	c->nconns++;
	if (uv_accept(srv, (uv_stream_t *)&k->pipe) != 0) {
		conn_close(k, NULL);
		return;
	}
	if (c->nconns > CONTROL_MAX_CONNS) {
		if (c->overflow++ == 0)
			log_warn("control socket: more than %d connections at "
			    "once; the newest are closed", CONTROL_MAX_CONNS);
		conn_close(k, NULL);
		return;
	}
	uv_timer_init(c->env.loop, &k->timer);
	k->timer.data = k;
	k->has_timer = 1;
	uv_timer_start(&k->timer, on_timeout, CONTROL_BEGIN_TIMEOUT_MS, 0);
	/* The kernel's word on who connected, never the peer's (R-CTL-1). */
	if (uv_fileno((uv_handle_t *)&k->pipe, &fd) != 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &k->cred, &len) != 0) {
		log_warn("control socket: no peer credentials: %s",
		    strerror(errno));
		conn_close(k, NULL);
		return;
	}
	k->work.data = k;
	if (uv_queue_work(c->env.loop, &k->work, lookup_user,
	    looked_up) != 0) {
		uv_read_start((uv_stream_t *)&k->pipe, on_alloc, on_read);
		return;
	}
	k->work_pending = 1;
}

static void
srv_closed(uv_handle_t *h)
{
	struct control *c = h->data;

	c->srv_open = 0;
	maybe_free(c);
}

/* A socket at path that a process accepts on: another collector's. */
static int
answered(const struct sockaddr_un *sun)
{
	int fd, ok;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return (0);
	ok = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0;
	close(fd);
	return (ok);
}

int
control_open(const struct control_env *env, const char *path,
    struct control **out, char err[CONTROL_ERR_LEN])
{
	struct sockaddr_un sun;
	struct control *c;
	struct stat sb;
	int fd, rc;

	*out = NULL;
	if (strlen(path) >= sizeof(sun.sun_path) || path[0] != '/') {
		seterr(err, "server.control_socket %s: an absolute path of at "
		    "most %zu bytes expected", path, sizeof(sun.sun_path) - 1);
		return (CST_EINVAL);
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path));
	if (lstat(path, &sb) == 0) {
		if (!S_ISSOCK(sb.st_mode)) {
			seterr(err, "%s: exists and is not a socket; not "
			    "replaced", path);
			return (CST_EINVAL);
		}
		if (answered(&sun)) {
			seterr(err, "%s: another process listens on it", path);
			return (CST_EINVAL);
		}
		/* Left by an earlier run. */
		unlink(path);
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		seterr(err, "%s", cst_strerror(CST_ENOMEM));
		return (CST_ENOMEM);
	}
	c->env = *env;
	memcpy(c->path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		goto err1;
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0)
		goto err2;
	/*
	 * Root and the collector's group only (R-CTL-1).  Until this chmod
	 * the umask's mode holds; a peer that connects meanwhile can only
	 * have its own access recorded.
	 */
	if (chmod(path, 0660) != 0)
		goto err3;
	if ((rc = uv_pipe_init(env->loop, &c->srv, 0)) != 0) {
		errno = -rc;
		goto err3;
	}
	c->srv.data = c;
	c->srv_open = 1;
	if ((rc = uv_pipe_open(&c->srv, fd)) != 0) {
		seterr(err, "control socket %s: %s", path, uv_strerror(rc));
		unlink(path);
		close(fd);
		/* Freed by the close callback, once the loop runs. */
		c->closing = 1;
		uv_close((uv_handle_t *)&c->srv, srv_closed);
		return (CST_EIO);
	}
	*out = c;
	return (0);

err3:
	rc = errno;
	unlink(path);
	errno = rc;
err2:
	rc = errno;
	close(fd);
	errno = rc;
err1:
	seterr(err, "control socket %s: %s", path, strerror(errno));
	free(c);
	return (CST_EIO);
}

int
control_start(struct control *c, char err[CONTROL_ERR_LEN])
{
	int rc;

	if ((rc = uv_listen((uv_stream_t *)&c->srv, 16, on_connection)) != 0) {
		seterr(err, "control socket %s: %s", c->path, uv_strerror(rc));
		return (CST_EIO);
	}
	return (0);
}

void
control_close(struct control *c)
{
	struct conn *k;

	if (c == NULL)
		return;
	c->closing = 1;
	for (k = c->conns; k != NULL; k = k->next)
		if (!k->closing)
			conn_close(k, "custodyd stopped");
	unlink(c->path);
	uv_close((uv_handle_t *)&c->srv, srv_closed);
}
