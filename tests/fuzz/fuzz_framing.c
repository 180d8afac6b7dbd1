/*
 * Fuzz target for the RFC 6587 deframer.  Input: one byte choosing
 * max_msg (1..256), two choosing where to cut the stream into two reads,
 * then the stream.  The stream is deframed in one read, in two, and one
 * byte per read; the three must agree, every run must keep the piece and
 * flag rules of framing.h, and the whole messages must be those a small,
 * independent, byte-at-a-time deframer (ref() below) finds.  After a
 * framing error the rest of the stream is still fed, as a listener does
 * before it closes: no byte may be lost, however the stream was read.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "custody/error.h"
#include "framing.h"
#include "fuzz.h"

#define PIECE_FLAGS (CST_FRAME_TRUNCATED | CST_FRAME_CONTINUED)

/* What one run delivered: pieces, their bytes back to back. */
struct log {
	size_t max_msg;
	size_t n;
	size_t *len;
	unsigned *flags;
	uint8_t *bytes;
	size_t nbytes;
	size_t cap;       /* of len and flags; bytes holds the input size */
};

static int
record(void *ctx, const uint8_t *msg, size_t len, unsigned flags)
{
	struct log *l = ctx;

	REQUIRE(len <= l->max_msg);
	REQUIRE(l->n < l->cap);
	REQUIRE(len <= l->cap - l->nbytes);
	/* CONTINUED exactly when the piece before was TRUNCATED. */
	REQUIRE(!!(flags & CST_FRAME_CONTINUED) == (l->n > 0 &&
	    (l->flags[l->n - 1] & CST_FRAME_TRUNCATED)));
	REQUIRE(!(flags & CST_FRAME_TRUNCATED) || len == l->max_msg);
	REQUIRE(!((flags & CST_FRAME_TRUNCATED) &&
	    (flags & CST_FRAME_INCOMPLETE)));
	REQUIRE(!((flags & CST_FRAME_ERROR) &&
	    (flags & (CST_FRAME_INCOMPLETE | CST_FRAME_OCTET))));
	/* After an error, only error bytes; after the end, nothing more. */
	if (l->n > 0 && (l->flags[l->n - 1] & CST_FRAME_ERROR))
		REQUIRE(flags & CST_FRAME_ERROR);
	if (l->n > 0 && (l->flags[l->n - 1] & CST_FRAME_INCOMPLETE))
		REQUIRE(flags & CST_FRAME_CONTINUED);
	REQUIRE(len > 0 || (flags & CST_FRAME_INCOMPLETE));
	l->len[l->n] = len;
	l->flags[l->n++] = flags;
	if (len > 0)
		memcpy(l->bytes + l->nbytes, msg, len);
	l->nbytes += len;
	return (0);
}

static void
log_init(struct log *l, size_t max_msg, size_t size)
{

	l->max_msg = max_msg;
	l->n = l->nbytes = 0;
	/* Never more pieces or bytes than input bytes, plus an empty one. */
	l->cap = size + 1;
	l->len = malloc(l->cap * sizeof(*l->len));
	l->flags = malloc(l->cap * sizeof(*l->flags));
	l->bytes = malloc(l->cap);
	REQUIRE(l->len && l->flags && l->bytes);
}

static void
log_free(struct log *l)
{

	free(l->len);
	free(l->flags);
	free(l->bytes);
}

/* Deframes in[0..size) read by read, cut at cuts[0..ncuts); returns rc. */
static int
run(struct log *l, size_t max_msg, const uint8_t *in, size_t size,
    const size_t *cuts, size_t ncuts)
{
	cst_deframer df;
	size_t i, from = 0, to;
	int rc = 0;

	log_init(l, max_msg, size);
	REQUIRE(cst_deframer_init(&df, max_msg, record, l) == 0);
	for (i = 0; i <= ncuts && (rc == 0 || rc == CST_ECORRUPT); i++) {
		to = i < ncuts ? cuts[i] : size;
		rc = cst_deframer_feed(&df, in + from, to - from);
		from = to;
	}
	if (rc == 0)
		rc = cst_deframer_finish(&df);
	cst_deframer_close(&df);
	REQUIRE(rc == 0 || rc == CST_ECORRUPT);
	REQUIRE((rc == CST_ECORRUPT) ==
	    (l->n > 0 && (l->flags[l->n - 1] & CST_FRAME_ERROR)));
	if (l->n > 0)
		REQUIRE(!(l->flags[l->n - 1] & CST_FRAME_TRUNCATED));
	return (rc);
}

/* Index of the first error piece, or l->n; *off: its byte offset. */
static size_t
first_error(const struct log *l, size_t *off)
{
	size_t i;

	for (i = 0, *off = 0; i < l->n; i++) {
		if (l->flags[i] & CST_FRAME_ERROR)
			break;
		*off += l->len[i];
	}
	return (i);
}

/*
 * Asserts that b, from another cut of the same stream, agrees with a: the
 * same pieces up to a framing error, then the same error bytes, however
 * differently cut into pieces (each read after an error is one message).
 */
static void
same(const struct log *a, int rca, const struct log *b, int rcb)
{
	size_t ea, eb, oa, ob;

	REQUIRE(rca == rcb);
	ea = first_error(a, &oa);
	eb = first_error(b, &ob);
	REQUIRE(ea == eb && oa == ob);
	REQUIRE(memcmp(a->len, b->len, ea * sizeof(*a->len)) == 0);
	REQUIRE(memcmp(a->flags, b->flags, ea * sizeof(*a->flags)) == 0);
	REQUIRE(memcmp(a->bytes, b->bytes, oa) == 0);
	REQUIRE(b->nbytes == a->nbytes);
	REQUIRE(memcmp(a->bytes + oa, b->bytes + ob, b->nbytes - ob) == 0);
}

/*
 * The reference: the rules of framing.h for whole messages, one byte at a
 * time, no pieces.  Checks that the pieces of l, joined, are its messages.
 */
static void
ref(const struct log *l, const uint8_t *in, size_t size)
{
	size_t i = 0, j, k, pi = 0, pb = 0, mlen, want_len, count;
	unsigned want_flags, got_flags;
	const uint8_t *want;

	while (i < size) {
		for (count = 0, j = i; j < size && j - i < 10 &&
		    in[j] >= '0' && in[j] <= '9'; j++)
			count = count * 10 + (in[j] - '0');
		/* "LEN SP": 1 to 9 digits, the first not 0, then a SP. */
		if (in[i] >= '1' && in[i] <= '9' && j - i <= 9 &&
		    (j == size || in[j] == ' ')) {
			if (j < size && count > CST_FRAME_COUNT_MAX) {
				want = in + i;
				want_len = size - i;
				want_flags = CST_FRAME_ERROR;
				i = size;
			} else if (j == size) {
				want = in + i;
				want_len = size - i;
				want_flags = CST_FRAME_INCOMPLETE;
				i = size;
			} else if (size - (j + 1) < count) {
				want = in + j + 1;
				want_len = size - (j + 1);
				want_flags = CST_FRAME_OCTET |
				    CST_FRAME_INCOMPLETE;
				i = size;
			} else {
				want = in + j + 1;
				want_len = count;
				want_flags = CST_FRAME_OCTET;
				i = j + 1 + count;
			}
		} else {
			for (j = i; j < size && in[j] != '\n' && in[j] != '\0';
			    j++)
				;
			want = in + i;
			want_len = j - i;
			want_flags = 0;
			if (j == size)
				want_flags = CST_FRAME_INCOMPLETE;
			else if (want_len > 0 && in[j - 1] == '\r')
				want_len--;
			i = j + 1;
			if (want_len == 0 && want_flags == 0)
				continue;
		}
		/* Join this message's pieces. */
		got_flags = 0;
		mlen = 0;
		do {
			REQUIRE(pi < l->n);
			got_flags = l->flags[pi] & ~PIECE_FLAGS;
			for (k = 0; k < l->len[pi]; k++)
				REQUIRE(mlen + k < want_len &&
				    l->bytes[pb + k] == want[mlen + k]);
			mlen += l->len[pi];
			pb += l->len[pi];
		} while (l->flags[pi++] & CST_FRAME_TRUNCATED);
		REQUIRE(mlen == want_len);
		REQUIRE(got_flags == want_flags);
	}
	REQUIRE(pi == l->n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct log whole, two, bytewise;
	size_t max_msg, cut, *cuts, i;
	int rc_whole, rc;

	if (size < 3)
		return (0);
	max_msg = 1 + (size_t)data[0];
	cut = ((size_t)data[1] << 8 | data[2]);
	data += 3;
	size -= 3;
	cut = size > 0 ? cut % (size + 1) : 0;

	rc_whole = run(&whole, max_msg, data, size, NULL, 0);
	REQUIRE(whole.nbytes <= size);
	ref(&whole, data, size);

	rc = run(&two, max_msg, data, size, &cut, 1);
	same(&whole, rc_whole, &two, rc);
	log_free(&two);

	if ((cuts = malloc((size + 1) * sizeof(*cuts))) != NULL) {
		for (i = 1; i < size; i++)
			cuts[i - 1] = i;
		rc = run(&bytewise, max_msg, data, size, cuts,
		    size > 0 ? size - 1 : 0);
		same(&whole, rc_whole, &bytewise, rc);
		log_free(&bytewise);
		free(cuts);
	}
	log_free(&whole);
	return (0);
}
