/*
 * RELP, the Reliable Event Logging Protocol, as rsyslog's librelp speaks
 * it (server side): a frame parser and a session that answers the
 * sender's transactions.  No libuv and no sockets here: bytes come in
 * through relp_sess_feed() and the response bytes go out through the
 * session's out buffer, so that a TLS layer can sit under both.
 *
 * A frame (every field ASCII):
 *
 *   TXNR SP COMMAND SP DATALEN [SP DATA] LF
 *
 *   TXNR     1 to 9 digits: the transaction number, 1 for the first
 *            frame of a session, then one more each frame (999999999
 *            wraps to 1)
 *   COMMAND  1 to 32 letters: open, syslog, close (from the sender),
 *            rsp (the answers), serverclose (a hint to the sender)
 *   DATALEN  1 to 9 digits: the length of DATA; 0 means no SP and no DATA
 *   DATA     DATALEN bytes of anything
 *
 * Every command is answered with an rsp frame of the same TXNR whose data
 * starts with a status: "200 OK", or "500 " and a reason.  The open
 * answer carries the offers after a LF; close is answered with an empty
 * rsp and ends the session.
 *
 * The one property that matters (SPEC section 12, R-RELP-1): a syslog
 * command is answered 200 OK only once the record holding its message is
 * durable.  Each message gets the sequence number of its (last) record;
 * the answers wait in a queue, in TXNR order, until relp_sess_durable()
 * says that every record below a sequence number is durable.
 */
#ifndef CUSTODY_COLLECTOR_RELP_H
#define CUSTODY_COLLECTOR_RELP_H

#include <stddef.h>
#include <stdint.h>

#include "custody/buf.h"

#define RELP_TXNR_MAX 999999999u
#define RELP_CMD_MAX 32
/* Digits of TXNR and DATALEN. */
#define RELP_DIGITS_MAX 9
/*
 * Transactions a session holds unanswered before its connection stops
 * being read: the window a sender may have in flight.  librelp's own
 * sender window is 128 unless configured (omrelp windowSize).  Answers
 * wait for a group commit (at once under store.commit_on_wait, else at
 * store.commit_interval), so one connection's rate is at most
 * min(this, the sender's window) per commit: the room is 16 bytes each,
 * and the records themselves count against pipeline.max_inflight.
 */
#define RELP_WINDOW 16384

/* One frame; every pointer borrowed, valid only during the callback. */
struct relp_frame {
	uint32_t txnr;
	const char *cmd;          /* NUL-terminated */
	size_t cmd_len;
	const uint8_t *data;
	size_t len;
};

/*
 * Receives a complete frame f (borrowed).  Returns 0, or an error that
 * stops the feed and is returned by it.
 */
typedef int relp_frame_fn(void *ctx, const struct relp_frame *f);

/* The incremental frame parser.  Fields are private. */
struct relp_parser {
	relp_frame_fn *fn;
	void *ctx;
	size_t max_data;
	int state;
	unsigned ndig;
	uint32_t txnr;
	char cmd[RELP_CMD_MAX + 1];
	size_t cmd_len;
	size_t len;               /* DATALEN */
	size_t got;               /* DATA bytes held in buf */
	uint8_t *buf;             /* DATA of a frame cut by a read */
	size_t cap;
};

/*
 * Initialises p (borrowed) to call fn(ctx, frame) for each frame, whose
 * DATALEN may be at most max_data; ctx is borrowed.  No allocation until
 * a frame's data is cut by the end of a feed.
 */
void relp_parser_init(struct relp_parser *p, size_t max_data,
    relp_frame_fn *fn, void *ctx);

/* Frees what p (borrowed) holds; p may be initialised again. */
void relp_parser_close(struct relp_parser *p);

/*
 * Parses in[0..n) (borrowed), calling fn for each frame completed.  The
 * frames found do not depend on how the stream is cut into feeds.
 * Returns 0; CST_ECORRUPT for a malformed frame (not RELP: the stream
 * must be closed); CST_ETOOBIG for a DATALEN over max_data; CST_ENOMEM;
 * or fn's error.  After an error p must not be fed again.
 */
int relp_parser_feed(struct relp_parser *p, const uint8_t *in, size_t n);

/* Nonzero when p (borrowed) is between frames (nothing of one held). */
int relp_parser_between(const struct relp_parser *p);

/* ---- the session ---- */

struct relp_sess_ops {
	/*
	 * Records the data of a syslog command msg[0..len) (borrowed) and
	 * sets *seq to the sequence number of its last record.  Returns 0
	 * or an error, which ends the session.
	 */
	int (*message)(void *ctx, const uint8_t *msg, size_t len,
	    uint64_t *seq);
};

/* An answer waiting for its turn. */
struct relp_pending {
	uint32_t txnr;
	uint8_t kind;             /* enum relp_answer, relp.c */
	uint64_t need;            /* sent once durable_next >= need */
};

enum relp_state {
	RELP_S_NEW,               /* waiting for open */
	RELP_S_OPEN,              /* open answered: commands accepted */
	RELP_S_CLOSING,           /* close received or open refused */
	RELP_S_CLOSED,            /* the last answer is in out: end it */
};

struct relp_sess {
	struct relp_parser p;
	struct relp_sess_ops ops;
	void *ctx;
	enum relp_state state;
	uint32_t next_txnr;
	uint64_t durable_next;    /* every record below is durable */
	uint64_t last_need;
	struct relp_pending *q;   /* ring of answers in TXNR order */
	size_t qcap, qhead, qlen;
	uint64_t acked;           /* syslog commands answered 200 OK */
	/* Answer bytes for the connection to send; it empties this. */
	cst_buf out;
	/* Why the session failed (static text), for the log. */
	const char *why;
};

/*
 * Initialises s (borrowed): messages longer than max_data are refused
 * (CST_ETOOBIG), durable_next is the daemon's current durable point, ops
 * is copied and ctx borrowed.
 */
void relp_sess_init(struct relp_sess *s, size_t max_data,
    uint64_t durable_next, const struct relp_sess_ops *ops, void *ctx);

/* Frees what s (borrowed) holds. */
void relp_sess_close(struct relp_sess *s);

/*
 * Takes the bytes in[0..n) (borrowed) from the connection into s
 * (borrowed): records the messages and queues their answers; the answers
 * that can already go are appended to s->out.  Returns 0 or an error of
 * relp_parser_feed (the connection must then be closed; s->why says why).
 */
int relp_sess_feed(struct relp_sess *s, const uint8_t *in, size_t n);

/*
 * Every record with a sequence number below durable_next is durable:
 * appends the answers now due to s->out (s borrowed), in TXNR order.
 * Returns 0 or CST_ENOMEM.
 */
int relp_sess_durable(struct relp_sess *s, uint64_t durable_next);

/* Transactions s (borrowed) received and has not yet answered. */
size_t relp_sess_unanswered(const struct relp_sess *s);

/*
 * Appends the serverclose hint (TXNR 0) to s->out (s borrowed): the
 * daemon is stopping.  Returns 0 or CST_ENOMEM.
 */
int relp_sess_serverclose(struct relp_sess *s);

#endif /* CUSTODY_COLLECTOR_RELP_H */
