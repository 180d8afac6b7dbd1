/*
 * RFC 6587 stream deframing: octet counting and non-transparent framing.
 *
 * Pure: no I/O, no event loop.  The listener feeds the bytes of one stream
 * (TCP, TLS) in whatever chunks they arrive; the deframer calls back once
 * per message, or per piece of an oversized message.
 *
 * Framing is chosen per message, by how it starts:
 *   "LEN SP"   octet counting: "LEN SP MSG", LEN 1..CST_FRAME_COUNT_MAX
 *              with no leading zero and at most 9 digits.
 *   otherwise  non-transparent: MSG ends at LF or NUL; a CR just before
 *              the terminator is dropped; empty frames (blank lines, or a
 *              stray LF after an octet-counted message) are skipped, as
 *              they hold no bytes.
 * A run of digits that is not followed by a SP (a forwarded access-log
 * line "192.0.2.7 - - ...", a timestamp), or that is longer than 9
 * digits, is not an octet count: that message is LF-framed, its digits
 * included.  rsyslog decides by the first digit alone and so takes such
 * lines for broken counts; a sender sending them would lose its stream.
 *
 * Nothing is lost silently (DESIGN "Hard rules"):
 *   - A message longer than max_msg is delivered in pieces of exactly
 *     max_msg bytes, the last of 1..max_msg bytes, in order.  Every piece
 *     but the last has CST_FRAME_TRUNCATED, every piece but the first has
 *     CST_FRAME_CONTINUED.  The cut points depend only on the stream, never
 *     on how it was chunked.
 *   - An octet count above CST_FRAME_COUNT_MAX is a framing error: the
 *     bytes of the bad frame received so far and the rest of the chunk
 *     being fed are delivered (in pieces as above, each flagged
 *     CST_FRAME_ERROR), then feed returns CST_ECORRUPT and the stream
 *     must be closed.  Before closing, the caller feeds what the kernel
 *     already accepted: each later feed delivers its bytes as one more
 *     message flagged CST_FRAME_ERROR (in pieces) and returns
 *     CST_ECORRUPT again.
 *   - At end of stream, cst_deframer_finish() delivers what is left of a
 *     partial message, its last piece flagged CST_FRAME_INCOMPLETE: the
 *     rest of an octet-counted message (0 bytes when only its count came),
 *     a line without terminator, or the digits of a count cut short (these
 *     without CST_FRAME_OCTET: no message began).
 *
 * Messages and pieces that lie whole inside the chunk fed are passed
 * straight from it; only a message cut by the end of a chunk is copied,
 * into a buffer of max_msg bytes allocated on first need.
 */
#ifndef CUSTODY_FRAMING_H
#define CUSTODY_FRAMING_H

#include <stddef.h>
#include <stdint.h>

/* The largest octet count accepted, and so the largest max_msg. */
#define CST_FRAME_COUNT_MAX ((size_t)64 << 20)

/* Flags of a delivered piece. */
#define CST_FRAME_TRUNCATED 0x01u  /* more of this message follows */
#define CST_FRAME_CONTINUED 0x02u  /* continues the previous piece */
#define CST_FRAME_INCOMPLETE 0x04u /* stream ended inside this message */
#define CST_FRAME_ERROR 0x08u      /* bytes of a frame that broke framing */
#define CST_FRAME_OCTET 0x10u      /* was octet-counted (else LF/NUL) */

/*
 * Receives one message or piece: msg[0..len) (borrowed: valid only during
 * the call) and flags (CST_FRAME_*).  Returns 0, or a negative code which
 * stops the deframer: feed or finish returns it, and the stream must be
 * closed.  It must not call back into the same deframer.
 */
typedef int cst_deframe_cb(void *ctx, const uint8_t *msg, size_t len,
    unsigned flags);

/* One stream's state.  Embed it; its fields are private. */
typedef struct cst_deframer {
	cst_deframe_cb *cb;
	void *ctx;
	size_t max_msg;
	uint8_t *buf;      /* max_msg bytes, or NULL until first needed */
	size_t buflen;     /* bytes of the current piece held in buf */
	size_t remaining;  /* octet counting: message bytes still to come */
	unsigned mflags;   /* flags every piece of this message gets */
	unsigned lastflags; /* flags its last piece gets as well */
	int state;
	int continued;     /* a piece of this message was delivered */
	int pending_cr;    /* a chunk ended in CR: framing or data? */
	int err;           /* once nonzero, returned by every call */
	uint8_t hdr[9];    /* octet count digits read so far */
	size_t hdrlen;
} cst_deframer;

/*
 * Whether df (borrowed) is between messages: every byte fed so far has
 * been delivered and no message is begun.
 */
int cst_deframer_between(const cst_deframer *df);

/*
 * Prepares df (borrowed) for a new stream whose messages go to cb with ctx
 * (borrowed; passed through).  max_msg is the largest piece delivered,
 * 1..CST_FRAME_COUNT_MAX.  Returns 0 or CST_EINVAL.  Allocates nothing;
 * cst_deframer_close() releases what use allocates.
 */
int cst_deframer_init(cst_deframer *df, size_t max_msg, cst_deframe_cb *cb,
    void *ctx);

/*
 * Deframes buf[0..len) (borrowed), the next bytes of the stream, calling
 * back for each message or piece completed.  Returns 0; CST_ECORRUPT on a
 * framing error (after delivering the bad bytes with CST_FRAME_ERROR);
 * CST_ENOMEM; or the callback's negative code.  After CST_ECORRUPT each
 * feed delivers its bytes flagged CST_FRAME_ERROR and returns CST_ECORRUPT
 * (or the callback's code); after any other error nothing is delivered any
 * more and every call returns the same error, as finish does after any.
 */
int cst_deframer_feed(cst_deframer *df, const uint8_t *buf, size_t len);

/*
 * Ends the stream: delivers a partial message, if any, with
 * CST_FRAME_INCOMPLETE.  Returns 0, or the error as cst_deframer_feed()
 * does.  On success df is ready for a new stream.
 */
int cst_deframer_finish(cst_deframer *df);

/* Frees what df (borrowed) holds; df may be NULL.  Partial data is lost. */
void cst_deframer_close(cst_deframer *df);

#endif /* CUSTODY_FRAMING_H */
