/*
 * The listener stage's internals, shared by its files:
 *
 *   listener.c         the set: URLs to listeners, start, pause, close
 *   listener_stream.c  stream listeners (TCP, TLS, RELP): accept, read,
 *                      the deframer, back-pressure per connection
 *   listener_tls.c     a TLS connection's filter (tls.h) between the
 *                      read and the deframer; refusals counted and sealed
 *   listener_relp.c    RELP connections: the session, answers sent as
 *                      the records become durable, the window's brake
 *   listener_dgram.c   datagram listeners (UDP, unix): read, cut, count
 *                      what is dropped
 *
 * One read buffer serves every socket: libuv calls a read callback right
 * after filling the buffer, and each callback consumes the bytes before it
 * returns (the deframer copies only a message cut by the end of a read),
 * so no read ever needs a buffer of its own.
 */
#ifndef CUSTODY_COLLECTOR_LISTENER_INT_H
#define CUSTODY_COLLECTOR_LISTENER_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <uv.h>

#include "clock.h"
#include "framing.h"
#include "listener.h"
#include "peers.h"
#include "relp.h"
#include "log.h"
#include "tls.h"

/* Room for 16 datagrams per recvmmsg (libuv splits it in 64 KiB slots). */
#define RBUF_LEN (16u << 16)
/* A stream read takes at most this much: it bounds one callback's work. */
#define STREAM_READ_LEN (256u << 10)
/*
 * At a stop, what the kernel has already accepted for a socket is read
 * first, up to this much (far more than a socket buffer holds), so that a
 * sender that keeps writing cannot hold the stop off for ever.
 */
#define DRAIN_MAX (64u << 20)
#define MAX_LISTENERS 64
#define NAME_LEN 300
/* What is logged about refused or idle connections: once per this. */
#define LOG_INTERVAL_MS 60000u

enum ltype { L_TCP, L_UDP, L_UNIX, L_RELP, L_TLS };

/* Stream listeners: their connections are struct conn, the idle sweep. */
#define LISTENER_STREAM(t) ((t) == L_TCP || (t) == L_RELP || (t) == L_TLS)

struct listener {
	struct listeners *set;
	enum ltype type;
	char name[NAME_LEN];
	struct listener_counters ctr;
	union {
		uv_handle_t handle;
		uv_udp_t udp;
		uv_poll_t poll;
	} h;
	/* TCP and unix: the socket, which libuv only polls; else -1. */
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char cred[64];            /* unix: the current sender's (R-REC-9) */
	struct source src;        /* datagram listeners: the current sender */
	struct sockaddr_storage last_peer;
	socklen_t last_peer_len;
	uint64_t inode;           /* UDP: the socket, to find in /proc */
	int tls;                  /* tls:// and relp+tls://: TLS first */
	uint64_t refusal_ms;      /* TLS: loop time the sealing window began */
	uint64_t refusals_sealed; /* in that window */
	uint64_t refusals_unsealed; /* counted only, since the last sealed */
	int open;                 /* the handle is initialised */
};

/*
 * A stream connection.  The set's list of them is in the order of their
 * last complete message (last_ms), the oldest first, so the idle sweep
 * stops at the first one still active.
 */
struct conn {
	uv_tcp_t h;
	struct listener *l;
	struct conn *prev;
	struct conn *next;
	struct peer *peer;
	cst_deframer df;
	struct tls_sess *tls;     /* TLS listeners: the filter; else NULL */
	struct source src;
	int64_t recv_ns;
	uint64_t last_ms;         /* loop time: accepted, or last message */
	int reading;
	int bad;                  /* its framing failed (counted once) */
	int tls_bad;              /* TLS: the deframer failed in a feed */
	int ending;               /* conn_end ran: only callbacks remain */
	int held;                 /* RELP, a stop: kept for its answers */
	/* RELP connections (L_RELP), else NULL; df is then unused. */
	struct relp_sess *relp;
	uv_shutdown_t shut;       /* RELP: the last answer, then the end */
};

struct listeners {
	struct listener_env env;
	struct listener *l[MAX_LISTENERS];
	size_t n;
	struct conn *conns;       /* oldest last message first */
	struct conn *conns_tail;
	struct peers *peers;
	struct tls_server *tls;   /* for new TLS connections; NULL: none */
	struct listener_conn_stats st;  /* st.open: the connections */
	uv_timer_t sweep;         /* the idle sweep */
	uint64_t resumed_ms;      /* loop time reading last resumed */
	uint64_t logged_max_ms;   /* refusals for max_connections, logged */
	uint64_t logged_fd_ms;    /* refusals for descriptors, logged */
	int spare_fd;             /* given up to refuse when none is left */
	/* Every record with a sequence number below is durable (RELP). */
	uint64_t durable_next;
	/* A stop: RELP connections kept open for their answers, and the
	 * bound on how long they are kept. */
	size_t held;
	uv_timer_t hold_timer;
	int paused;
	int closing;
	size_t handles;          /* listeners and connections not yet closed */
	void (*done)(void *);
	void *done_ctx;
	uint8_t rbuf[RBUF_LEN];
};

/* ---- listener.c: what the other two share ---- */

#define listener_seterr(err, ...) \
	log_seterr(err, LISTENER_ERR_LEN, __VA_ARGS__)
/* Makes src (borrowed) name listener l (borrowed) with transport. */
void listener_source_init(struct source *src, struct listener *l,
    uint8_t transport);
/* A handle's close callback ran; the last one after closing frees ls. */
void listener_handle_closed(struct listeners *ls);

/* ---- listener_stream.c ---- */

/* Binds and listens on hostport (borrowed).  0 or an error, in err. */
int listener_stream_open_tcp(struct listener *l, const char *hostport,
    char *err);
/* Cuts the connections with no complete message within idle_timeout. */
void listener_stream_sweep(struct listeners *ls);
/* Starts and stops reading every connection of ls. */
void listener_stream_start(struct listeners *ls);
void listener_stream_stop(struct listeners *ls);
/*
 * Records what the kernel holds for every connection and ends them all.
 * Returns the first recording error, if any.
 */
int listener_stream_close_all(struct listeners *ls);

/* Ends connection c (borrowed): see listener_stream.c. */
int listener_stream_end(struct conn *c, int finish);
/* c (borrowed) completed a message: it moves to the end of the list. */
void listener_stream_touch(struct conn *c);
/* Starts or stops reading c (borrowed) as the brakes say. */
void listener_stream_brake(struct conn *c);

/* ---- listener_relp.c ---- */

/*
 * Makes c (borrowed, just admitted) a RELP connection.  Returns 0 or
 * CST_ENOMEM.
 */
int listener_relp_init(struct conn *c);
/* Frees c's session (the close callback). */
void listener_relp_free(struct conn *c);
/*
 * Takes the bytes in[0..n) (borrowed) read from c.  Returns 0, or an
 * error for the daemon to stop on (c is ended when its sender is at
 * fault, and counted).
 */
int listener_relp_read(struct conn *c, const uint8_t *in, size_t n);
/* Nonzero when c (borrowed) must not be read: its window is full. */
int listener_relp_braked(const struct conn *c);
/* Nonzero when c (borrowed) is waiting for answers: not idle. */
int listener_relp_waiting(const struct conn *c);
/* Sends c's (borrowed) answers that are now due. */
void listener_relp_durable(struct conn *c);
/* A stop: tells c's (borrowed) sender, best effort, without blocking. */
void listener_relp_serverclose(struct conn *c);
/*
 * A stop: when c (borrowed) waits for answers, stops reading it and keeps
 * it open until they are sent (listener_relp_durable ends it then), and
 * returns nonzero; else returns 0.
 */
int listener_relp_hold(struct conn *c);
/* ---- listener_tls.c ---- */

/* Starts TLS on connection c.  0 or CST_ENOMEM. */
int listener_tls_conn_init(struct conn *c);
/*
 * Feeds ciphertext p[0..n) (borrowed) of c through TLS to its deframer.
 * Returns 0, CST_EPERM (refused: listener_tls_refused was called and c
 * must be closed, nothing recorded), CST_ECORRUPT (bad framing) or a
 * recording error.
 */
int listener_tls_feed(struct conn *c, const uint8_t *p, size_t n);
/*
 * Counts, logs (once per interval per peer) and seals (R-REC-8) the
 * refusal of c, with reason (borrowed; NULL: the filter's).  Returns 0
 * or the recording error.
 */
int listener_tls_refused(struct conn *c, const char *reason);

/* ---- listener_dgram.c ---- */

int listener_dgram_open_udp(struct listener *l, const char *hostport,
    char *err);
int listener_dgram_open_unix(struct listener *l, const char *path,
    char *err);
void listener_dgram_start(struct listener *l);
void listener_dgram_stop(struct listener *l);
/* Records the datagrams queued for l (a stop). */
int listener_dgram_drain(struct listener *l);
/* Refreshes kernel_dropped of the UDP listeners of ls from /proc. */
void listener_dgram_poll_drops(struct listeners *ls);

#endif /* CUSTODY_COLLECTOR_LISTENER_INT_H */
