/*
 * The listener stage (libuv): UDP (RFC 5426), TCP with RFC 6587 framing
 * (framing.h), and a local unix datagram socket (the /dev/log kind).
 * Every message goes to the parser stage on the loop thread.
 *
 * A stream connection is cut when it completes no message within
 * idle_timeout, so that idle or trickling connections cannot hold every
 * slot of max_connections; one source address holds at most
 * max_connections_per_peer of them.  A connection that cannot be taken
 * (a limit, or no descriptor left) is accepted and closed at once, and
 * counted.
 *
 * Streams are flow-controlled: when the pipeline's memory is full the
 * daemon pauses every listener (uv_read_stop), so TCP senders are slowed
 * by their own send buffers and unix senders block; UDP has no such
 * brake, and what the kernel then drops is counted (listeners_poll_drops)
 * and sealed in loss records.
 *
 * A TLS (RFC 5425) listener is a TCP connection with the filter of tls.h
 * between the read callback and the deframer: the same limits, idle
 * timeout (a handshake unfinished by then is refused) and back-pressure.
 * A refused TLS client gives no event, only a refusal record (R-REC-8).
 *
 * A RELP listener (relp://HOST:PORT, listener_relp.c) replaces the
 * deframer with a RELP session and answers each message once the daemon
 * reports its sequence number durable (listeners_durable).
 */
#ifndef CUSTODY_COLLECTOR_LISTENER_H
#define CUSTODY_COLLECTOR_LISTENER_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "batcher.h"
#include "conf.h"
#include "pipeline.h"

#define LISTENER_ERR_LEN 512

struct listener_env {
	uv_loop_t *loop;
	struct batcher *batcher;
	size_t max_message;
	size_t max_connections;
	size_t max_connections_per_peer;  /* one source address */
	uint64_t idle_timeout_ms; /* a stream without a complete message: cut */
	size_t udp_rcvbuf;       /* 0: the kernel's default */
	/* [tls], borrowed, for tls:// listeners; NULL: none configured. */
	const struct conf_tls *tls;
	/* After every read callback: the daemon checks the memory budget. */
	void (*after_read)(void *ctx);
	/* Recording failed (out of memory): the daemon must stop. */
	void (*fatal)(void *ctx, int rc);
	/*
	 * A RELP sender waits for answers that only a commit lets out: the
	 * daemon may commit at once rather than at commit_interval.
	 */
	void (*waiting)(void *ctx);
	void *ctx;
};

struct listeners;

/*
 * Binds every URL urls[0..n) (borrowed): tcp://HOST:PORT, tls://HOST:PORT,
 * relp://HOST:PORT, udp://HOST:PORT, unix:///PATH; HOST a literal address
 * or name, [v6] in brackets; PORT 0 picks a free port (the name then says
 * which).  env is copied.  Returns
 * 0, CST_EINVAL (bad URL) or CST_EIO (cannot bind) with a message in err.
 */
int listeners_open(const struct listener_env *env, char *const *urls,
    size_t n, struct listeners **out, char err[LISTENER_ERR_LEN]);

/* Nonzero when url (borrowed) is tls:// or relp+tls://: TLS first. */
int listener_url_tls(const char *url);

/*
 * SIGHUP: new TLS connections use the certificates, key, CA and allow
 * list of tls (borrowed); established ones keep theirs.  0, or an error
 * in err with the running ones kept.
 */
int listeners_tls_reload(struct listeners *ls, const struct conf_tls *tls,
    char err[LISTENER_ERR_LEN]);

/* Number of listeners, and listener i's name and counters. */
size_t listeners_count(const struct listeners *ls);
const char *listeners_name(const struct listeners *ls, size_t i);
struct listener_counters *listeners_counters(struct listeners *ls, size_t i);

/* Stops reading everywhere (back-pressure), and starts again. */
void listeners_pause(struct listeners *ls);
void listeners_resume(struct listeners *ls);
int listeners_paused(const struct listeners *ls);

/* Stream connections: open now, refused, and cut for idleness. */
struct listener_conn_stats {
	size_t open;
	uint64_t refused_max;    /* over max_connections */
	uint64_t refused_peer;   /* over max_connections_per_peer */
	uint64_t refused_fd;     /* no descriptor left (EMFILE, ENFILE) */
	uint64_t idle_closed;    /* no complete message within idle_timeout */
};

void listeners_conn_stats(const struct listeners *ls,
    struct listener_conn_stats *out);

/*
 * Every record with a sequence number below durable_next is durable
 * (sealed, signed, fdatasync'ed): RELP connections send the answers that
 * waited for it (R-RELP-1).  The daemon calls this first with the next
 * sequence number of a fresh start, before any record is added.
 */
void listeners_durable(struct listeners *ls, uint64_t durable_next);

/*
 * Refreshes each UDP listener's kernel_dropped counter from
 * /proc/net/udp and /proc/net/udp6 (the socket's drops column).
 */
void listeners_poll_drops(struct listeners *ls);

/*
 * Closes every socket, after recording what the kernel already holds for
 * it (bounded; past the memory budget if need be: a clean stop loses
 * nothing a sender was told was received).  RELP connections are not
 * read again; those with answers outstanding stay open, and ls with
 * them, until listeners_durable lets the answers go (or a bound of a few
 * seconds passes), so the daemon keeps passing it the durable point.  A stream that ends
 * mid-message has that partial message recorded (CST_RF_INCOMPLETE).  done(ctx) is called once
 * every handle is closed; then ls is freed.  Returns 0, or the first
 * recording error (the closing goes on).
 */
int listeners_close(struct listeners *ls, void (*done)(void *ctx), void *ctx);

#endif /* CUSTODY_COLLECTOR_LISTENER_H */
