/*
 * RFC 6587 stream deframing; the rules are in framing.h.
 *
 * The common case is many small messages per read, so each message that
 * lies whole in the chunk fed is handed to the callback in place, found
 * with memchr; only a message cut by the end of a chunk is copied.  Pieces
 * of an oversized message are cut at fixed multiples of max_msg counted
 * from the message's start, so that a test (or a verifier of a capture)
 * sees the same pieces however the stream was chunked.
 */
#include <stdlib.h>
#include <string.h>

#include "custody/error.h"
#include "framing.h"

enum {
	ST_START,  /* between messages */
	ST_COUNT,  /* reading the digits of an octet count */
	ST_OCTETS, /* reading the bytes an octet count announced */
	ST_LINE    /* reading a message that ends at LF or NUL */
};

/* Passes one piece of the current message to the callback. */
static int
piece(cst_deframer *df, const uint8_t *p, size_t len, int last)
{
	unsigned flags = df->mflags;
	int rc;

	if (df->continued)
		flags |= CST_FRAME_CONTINUED;
	if (!last)
		flags |= CST_FRAME_TRUNCATED;
	else
		flags |= df->lastflags;
	df->continued = !last;
	if ((rc = df->cb(df->ctx, p, len, flags)) != 0)
		goto err0;
	return (0);

err0:
	return (rc < 0 ? rc : CST_EINVAL);
}

/*
 * Adds p[0..len), the next bytes of the current message; final says the
 * message ends after them.  A full buffer is delivered only when another
 * byte arrives, because only then is it known not to be the last piece.
 * An empty message (final, nothing before) delivers nothing.
 */
static int
content(cst_deframer *df, const uint8_t *p, size_t len, int final)
{
	size_t take;
	int rc;

	while (len > 0) {
		if (df->buflen == df->max_msg) {
			if ((rc = piece(df, df->buf, df->buflen, 0)) != 0)
				goto err0;
			df->buflen = 0;
		}
		if (df->buflen == 0 && len > df->max_msg) {
			if ((rc = piece(df, p, df->max_msg, 0)) != 0)
				goto err0;
			p += df->max_msg;
			len -= df->max_msg;
			continue;
		}
		if (df->buflen == 0 && final) {
			/* The common case: the whole message, in place. */
			if ((rc = piece(df, p, len, 1)) != 0)
				goto err0;
			goto done;
		}
		if (df->buf == NULL &&
		    (df->buf = malloc(df->max_msg)) == NULL) {
			rc = CST_ENOMEM;
			goto err0;
		}
		take = df->max_msg - df->buflen;
		if (take > len)
			take = len;
		memcpy(df->buf + df->buflen, p, take);
		df->buflen += take;
		p += take;
		len -= take;
	}
	if (final && df->buflen > 0) {
		if ((rc = piece(df, df->buf, df->buflen, 1)) != 0)
			goto err0;
		df->buflen = 0;
	}
done:
	return (0);

err0:
	return (rc);
}

/* Starts the next message: its framing is still unknown. */
static void
next_message(cst_deframer *df)
{

	df->state = ST_START;
	df->mflags = 0;
	df->lastflags = 0;
	df->continued = 0;
	df->buflen = 0;
	df->pending_cr = 0;
	df->hdrlen = 0;
	df->remaining = 0;
}

/*
 * Delivers the bad frame, its count digits and the rest of the chunk
 * rest[0..len), with CST_FRAME_ERROR, and returns CST_ECORRUPT (or the
 * callback's error).
 */
static int
framing_error(cst_deframer *df, const uint8_t *rest, size_t len)
{
	int rc;

	df->mflags = CST_FRAME_ERROR;
	if ((rc = content(df, df->hdr, df->hdrlen, len == 0)) != 0 ||
	    (rc = content(df, rest, len, 1)) != 0)
		goto err0;
	rc = CST_ECORRUPT;
err0:
	return (rc);
}

/*
 * Reads an octet count's digits at b[*pp..end); moves *pp past the SP
 * ending it, if there.  Digits not followed by a SP were no count but the
 * start of a line (an access log's "192.0.2.7 - -", a timestamp): the
 * message goes on as LF-framed, from its first digit.  Returns 0, or
 * CST_ECORRUPT after delivering the bad bytes.
 */
static int
count(cst_deframer *df, const uint8_t *b, size_t *pp, size_t end)
{
	size_t p, start = *pp, before = df->hdrlen;
	uint8_t c;
	int rc;

	for (p = *pp; p < end; p++) {
		c = b[p];
		if (c == ' ' && df->hdrlen > 0) {
			/* A count's form, but more than any message may be. */
			if (df->remaining > CST_FRAME_COUNT_MAX)
				goto bad;
			df->state = ST_OCTETS;
			df->mflags = CST_FRAME_OCTET;
			p++;
			break;
		}
		if (c < '0' || c > '9' || df->hdrlen == sizeof(df->hdr))
			goto line;
		df->hdr[df->hdrlen++] = c;
		df->remaining = df->remaining * 10 + (c - '0');
	}
	*pp = p;
	return (0);

line:
	df->state = ST_LINE;
	df->remaining = 0;
	df->hdrlen = 0;
	/* Digits of earlier reads are only in hdr; this read's stay in b. */
	if (before > 0 && (rc = content(df, df->hdr, before, 0)) != 0)
		goto err0;
	*pp = start;
	return (0);

bad:
	rc = framing_error(df, b + p, end - p);
err0:
	return (rc);
}

/*
 * Reads a message ending at LF or NUL from b[*pp..end), as much of it as
 * is there, and moves *pp past what it used.
 */
static int
line(cst_deframer *df, const uint8_t *b, size_t *pp, size_t end)
{
	static const uint8_t cr = '\r';
	const uint8_t *t, *z;
	size_t p = *pp, e;
	int rc;

	if (df->pending_cr) {
		df->pending_cr = 0;
		if (b[p] == '\n' || b[p] == '\0') {
			if ((rc = content(df, b + p, 0, 1)) != 0)
				goto err0;
			p++;
			next_message(df);
			goto done;
		}
		if ((rc = content(df, &cr, 1, 0)) != 0)
			goto err0;
	}
	/* LF is what nearly every sender uses: search for it first, fast. */
	t = memchr(b + p, '\n', end - p);
	e = t != NULL ? (size_t)(t - b) : end;
	if ((z = memchr(b + p, '\0', e - p)) != NULL) {
		t = z;
		e = (size_t)(z - b);
	}
	if (t != NULL) {
		*pp = e + 1;
		if (e > p && b[e - 1] == '\r')
			e--;
		if ((rc = content(df, b + p, e - p, 1)) != 0)
			goto err0;
		next_message(df);
		return (0);
	}
	/* A CR at the end of the chunk is data only if no LF comes next. */
	if (b[end - 1] == '\r') {
		df->pending_cr = 1;
		e--;
	}
	if ((rc = content(df, b + p, e - p, 0)) != 0)
		goto err0;
	p = end;
done:
	*pp = p;
	return (0);

err0:
	return (rc);
}

/*
 * Prepares df (borrowed) for a new stream whose messages go to cb with ctx
 * (borrowed; passed through).  max_msg is the largest piece delivered,
 * 1..CST_FRAME_COUNT_MAX.  Returns 0 or CST_EINVAL.  Allocates nothing;
 * cst_deframer_close() releases what use allocates.
 */
int
cst_deframer_init(cst_deframer *df, size_t max_msg, cst_deframe_cb *cb,
    void *ctx)
{

	if (max_msg == 0 || max_msg > CST_FRAME_COUNT_MAX || cb == NULL)
		goto err0;
	memset(df, 0, sizeof(*df));
	df->cb = cb;
	df->ctx = ctx;
	df->max_msg = max_msg;
	next_message(df);
	return (0);

err0:
	return (CST_EINVAL);
}

/*
 * Deframes buf[0..len) (borrowed), the next bytes of the stream, calling
 * back for each message or piece completed.  Returns 0; CST_ECORRUPT on a
 * framing error (after delivering the bad bytes with CST_FRAME_ERROR);
 * CST_ENOMEM; or the callback's negative code.  After CST_ECORRUPT each
 * feed delivers its bytes flagged CST_FRAME_ERROR and returns CST_ECORRUPT
 * (or the callback's code); after any other error nothing is delivered any
 * more and every call returns the same error, as finish does after any.
 */
int
cst_deframer_feed(cst_deframer *df, const uint8_t *buf, size_t len)
{
	size_t n, p = 0;
	int rc;

	if ((rc = df->err) == CST_ECORRUPT)
		goto salvage;
	if (rc != 0)
		goto err0;
	while (p < len) {
		switch (df->state) {
		case ST_START:
			df->state = buf[p] >= '1' && buf[p] <= '9' ?
			    ST_COUNT : ST_LINE;
			break;
		case ST_COUNT:
			if ((rc = count(df, buf, &p, len)) != 0)
				goto err1;
			break;
		case ST_OCTETS:
			n = len - p < df->remaining ? len - p : df->remaining;
			df->remaining -= n;
			if ((rc = content(df, buf + p, n,
			    df->remaining == 0)) != 0)
				goto err1;
			p += n;
			if (df->remaining == 0)
				next_message(df);
			break;
		default:
			if ((rc = line(df, buf, &p, len)) != 0)
				goto err1;
			break;
		}
	}
	return (0);

salvage:
	/* Bytes TCP already acknowledged: kept, though no framing holds. */
	next_message(df);
	df->mflags = CST_FRAME_ERROR;
	if ((rc = content(df, buf, len, 1)) == 0)
		rc = CST_ECORRUPT;
err1:
	df->err = rc;
err0:
	return (rc);
}

/*
 * Ends the stream: delivers a partial message, if any, with
 * CST_FRAME_INCOMPLETE.  Returns 0, or the error as cst_deframer_feed()
 * does.  On success df is ready for a new stream.
 */
int
cst_deframer_finish(cst_deframer *df)
{
	static const uint8_t cr = '\r';
	int rc = 0;

	if ((rc = df->err) != 0)
		goto err0;
	df->lastflags = CST_FRAME_INCOMPLETE;
	switch (df->state) {
	case ST_START:
		break;
	case ST_COUNT:
		/* Not CST_FRAME_OCTET: these are a count, no message yet. */
		rc = content(df, df->hdr, df->hdrlen, 1);
		break;
	case ST_OCTETS:
		/* Even an empty one: a message was announced and never came. */
		if (!df->continued && df->buflen == 0)
			rc = piece(df, df->hdr, 0, 1);
		else
			rc = content(df, df->hdr, 0, 1);
		break;
	default:
		if (df->pending_cr)
			rc = content(df, &cr, 1, 0);
		if (rc == 0)
			rc = content(df, df->hdr, 0, 1);
		break;
	}
	if (rc != 0)
		goto err1;
	next_message(df);
	return (0);

err1:
	df->err = rc;
err0:
	return (rc);
}

/* Frees what df (borrowed) holds; df may be NULL.  Partial data is lost. */
void
cst_deframer_close(cst_deframer *df)
{

	if (df == NULL)
		return;
	free(df->buf);
	df->buf = NULL;
	df->buflen = 0;
}

int
cst_deframer_between(const cst_deframer *df)
{

	return (df->state == ST_START);
}
