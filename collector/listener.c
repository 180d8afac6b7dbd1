/*
 * The listener set: the configured URLs turned into listeners, reading
 * started, paused and resumed together (back-pressure), and the stop.
 * The sockets themselves are in listener_stream.c and listener_dgram.c
 * (listener_int.h).
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "custody/error.h"

#include "listener_int.h"

/* The idle sweep's period: a quarter of idle_timeout, 50 ms to 1 s. */
#define SWEEP_MS(t) ((t) / 4 < 50 ? 50 : (t) / 4 > 1000 ? 1000 : (t) / 4)

void
listener_source_init(struct source *src, struct listener *l,
    uint8_t transport)
{

	memset(src, 0, sizeof(*src));
	src->name = l->name;
	src->name_len = strlen(l->name);
	src->transport = transport;
	src->ctr = &l->ctr;
}

void
listener_handle_closed(struct listeners *ls)
{
	size_t i;

	if (--ls->handles > 0 || !ls->closing)
		return;
	ls->done(ls->done_ctx);
	/* Connections a stop held name their listener until the end. */
	for (i = 0; i < ls->n; i++)
		free(ls->l[i]);
	tls_server_unref(ls->tls);
	if (ls->spare_fd >= 0)
		close(ls->spare_fd);
	peers_free(ls->peers);
	free(ls);
}

static void
start_reading(struct listeners *ls)
{
	size_t i;

	for (i = 0; i < ls->n; i++)
		if (!LISTENER_STREAM(ls->l[i]->type))
			listener_dgram_start(ls->l[i]);
	listener_stream_start(ls);
}

static void
listener_freed(uv_handle_t *h)
{
	struct listener *l = h->data;
	struct listeners *ls = l->set;

	if (l->fd >= 0)
		close(l->fd);
	if (l->type == L_UNIX)
		unlink(l->path);
	listener_handle_closed(ls);
}

static void
ignore_done(void *ctx)
{

	(void)ctx;
}

static void
sweep_tick(uv_timer_t *t)
{
	struct listeners *ls = t->data;

	listener_stream_sweep(ls);
	peers_expire(ls->peers, uv_now(ls->env.loop), LOG_INTERVAL_MS);
}

static void
sweep_closed(uv_handle_t *h)
{

	listener_handle_closed(h->data);
}

int
listener_url_tls(const char *url)
{

	return (strncmp(url, "tls://", 6) == 0 ||
	    strncmp(url, "relp+tls://", 11) == 0);
}

/* The TLS server for the set's TLS listeners, from env's [tls]. */
static int
open_tls(struct listeners *ls, char *msg)
{
	char err[TLS_ERR_LEN];
	int rc;

	if (ls->env.tls == NULL) {
		listener_seterr(msg, "no [tls] configuration");
		return (CST_EINVAL);
	}
	if ((rc = tls_server_new(ls->env.tls, &ls->tls, err)) != 0)
		listener_seterr(msg, "%s", err);
	return (rc);
}

int
listeners_tls_reload(struct listeners *ls, const struct conf_tls *tls,
    char err[LISTENER_ERR_LEN])
{
	struct tls_server *srv;
	char msg[TLS_ERR_LEN];
	int rc;

	if (ls->tls == NULL)
		return (0);
	if ((rc = tls_server_new(tls, &srv, msg)) != 0) {
		listener_seterr(err, "%s", msg);
		return (rc);
	}
	/* Established connections keep the old one (their reference). */
	tls_server_unref(ls->tls);
	ls->tls = srv;
	return (0);
}

/* Opens listener l for url (both borrowed).  0 or an error, in msg. */
static int
open_one(struct listener *l, const char *url, char *msg)
{

	if (strlen(url) >= NAME_LEN) {
		listener_seterr(msg, "too long");
		return (CST_EINVAL);
	}
	if (strncmp(url, "tcp://", 6) == 0) {
		l->type = L_TCP;
		return (listener_stream_open_tcp(l, url + 6, msg));
	}
	if (strncmp(url, "relp://", 7) == 0) {
		l->type = L_RELP;
		return (listener_stream_open_tcp(l, url + 7, msg));
	}
	if (strncmp(url, "relp+tls://", 11) == 0) {
		l->type = L_RELP;
		l->tls = 1;
		return (listener_stream_open_tcp(l, url + 11, msg));
	}
	if (strncmp(url, "tls://", 6) == 0) {
		l->type = L_TLS;
		l->tls = 1;
		return (listener_stream_open_tcp(l, url + 6, msg));
	}
	if (strncmp(url, "udp://", 6) == 0) {
		l->type = L_UDP;
		return (listener_dgram_open_udp(l, url + 6, msg));
	}
	if (strncmp(url, "unix://", 7) == 0) {
		l->type = L_UNIX;
		return (listener_dgram_open_unix(l, url + 7, msg));
	}
	listener_seterr(msg, "expected tcp://, relp://, relp+tls://, tls://, "
	    "udp:// or unix://");
	return (CST_EINVAL);
}

int
listeners_open(const struct listener_env *env, char *const *urls, size_t n,
    struct listeners **out, char err[LISTENER_ERR_LEN])
{
	struct listeners *ls;
	struct listener *l;
	char msg[LISTENER_ERR_LEN];
	size_t i;
	int rc;

	if (n > MAX_LISTENERS) {
		listener_seterr(err, "more than %d listeners", MAX_LISTENERS);
		return (CST_EINVAL);
	}
	if ((ls = calloc(1, sizeof(*ls))) == NULL) {
		listener_seterr(err, "%s", cst_strerror(CST_ENOMEM));
		return (CST_ENOMEM);
	}
	ls->env = *env;
	/*
	 * Kept to be given up when accept finds no descriptor left, so that
	 * the connection can still be taken and closed (and counted) rather
	 * than left to wake the loop again and again.
	 */
	ls->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	i = 0;
	if ((rc = peers_new(env->max_connections, &ls->peers)) != 0) {
		listener_seterr(msg, "%s", cst_strerror(rc));
		goto err;
	}
	for (i = 0; i < n; i++) {
		msg[0] = '\0';
		if (listener_url_tls(urls[i]) && ls->tls == NULL &&
		    (rc = open_tls(ls, msg)) != 0)
			goto err;
		if ((l = calloc(1, sizeof(*l))) == NULL) {
			rc = CST_ENOMEM;
			listener_seterr(msg, "%s", cst_strerror(rc));
			goto err;
		}
		l->set = ls;
		l->fd = -1;
		ls->l[ls->n++] = l;
		snprintf(l->name, sizeof(l->name), "%s", urls[i]);
		if ((rc = open_one(l, urls[i], msg)) != 0)
			goto err;
	}
	uv_timer_init(ls->env.loop, &ls->sweep);
	ls->sweep.data = ls;
	ls->handles++;
	/* A connection is cut within a quarter of idle_timeout past it. */
	uv_timer_start(&ls->sweep, sweep_tick, SWEEP_MS(env->idle_timeout_ms),
	    SWEEP_MS(env->idle_timeout_ms));
	ls->resumed_ms = uv_now(ls->env.loop);
	start_reading(ls);
	*out = ls;
	return (0);

err:
	listener_seterr(err, "listen %s: %s", i < n ? urls[i] : "", msg);
	/* Nothing was read: the handles close with the loop's next turn. */
	ls->closing = 1;
	ls->done = ignore_done;
	ls->handles++;
	for (i = 0; i < ls->n; i++) {
		l = ls->l[i];
		if (l->open)
			uv_close(&l->h.handle, listener_freed);
	}
	listener_handle_closed(ls);
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
	size_t i;

	if (ls->paused)
		return;
	ls->paused = 1;
	for (i = 0; i < ls->n; i++)
		if (!LISTENER_STREAM(ls->l[i]->type))
			listener_dgram_stop(ls->l[i]);
	listener_stream_stop(ls);
}

void
listeners_resume(struct listeners *ls)
{

	if (!ls->paused)
		return;
	ls->paused = 0;
	/* Time spent paused is ours, not the connections' idleness. */
	ls->resumed_ms = uv_now(ls->env.loop);
	start_reading(ls);
}

int
listeners_paused(const struct listeners *ls)
{

	return (ls->paused);
}

void
listeners_conn_stats(const struct listeners *ls,
    struct listener_conn_stats *out)
{

	*out = ls->st;
}

void
listeners_durable(struct listeners *ls, uint64_t durable_next)
{
	struct conn *c, *next;

	if (durable_next <= ls->durable_next)
		return;
	ls->durable_next = durable_next;
	/* An answer may end its connection: the next is held here. */
	for (c = ls->conns; c != NULL; c = next) {
		next = c->next;
		if (c->relp != NULL)
			listener_relp_durable(c);
	}
}

void
listeners_poll_drops(struct listeners *ls)
{

	listener_dgram_poll_drops(ls);
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
	uv_close((uv_handle_t *)&ls->sweep, sweep_closed);
	for (i = 0; i < ls->n; i++) {
		l = ls->l[i];
		if (!LISTENER_STREAM(l->type) &&
		    (rc = listener_dgram_drain(l)) != 0 &&
		    first == 0)
			first = rc;
		uv_close(&l->h.handle, listener_freed);
	}
	if ((rc = listener_stream_close_all(ls)) != 0 && first == 0)
		first = rc;
	listener_handle_closed(ls);
	return (first);
}
