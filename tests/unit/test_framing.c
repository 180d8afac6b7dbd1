/*
 * The RFC 6587 deframer: both framings, per-message switching, CR/LF/NUL
 * terminators, oversized messages in flagged pieces, framing errors, end
 * of stream, and the property that matters most: the messages delivered
 * do not depend on how the stream was cut into reads.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "custody/error.h"
#include "framing.h"

#define T CST_FRAME_TRUNCATED
#define C CST_FRAME_CONTINUED
#define I CST_FRAME_INCOMPLETE
#define E CST_FRAME_ERROR
#define O CST_FRAME_OCTET

struct got {
	size_t len;
	unsigned flags;
	const uint8_t *ptr;   /* where the deframer passed it from */
	uint8_t *data;        /* a copy */
};

struct log {
	struct got *g;
	size_t n;
	size_t cap;
	int fail_at;          /* the callback fails on this delivery, or -1 */
};

static int
record(void *ctx, const uint8_t *msg, size_t len, unsigned flags)
{
	struct log *l = ctx;
	struct got *g;

	cr_assert_not_null(msg);
	if (l->fail_at >= 0 && (size_t)l->fail_at == l->n)
		return (CST_ENOMEM);
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->g = realloc(l->g, l->cap * sizeof(*l->g));
		cr_assert_not_null(l->g);
	}
	g = &l->g[l->n++];
	g->len = len;
	g->flags = flags;
	g->ptr = msg;
	g->data = malloc(len + 1);
	cr_assert_not_null(g->data);
	memcpy(g->data, msg, len);
	return (0);
}

static void
log_init(struct log *l)
{

	memset(l, 0, sizeof(*l));
	l->fail_at = -1;
}

static void
log_free(struct log *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->g[i].data);
	free(l->g);
	log_init(l);
}

/* The result of deframing one stream, however fed. */
struct run {
	struct log log;
	int rc;        /* first nonzero return of feed or finish, or 0 */
};

/*
 * Deframes in[0..len) with max_msg, cut at the offsets in cuts[0..ncuts)
 * (ascending), then finishes.  After a framing error it goes on feeding,
 * as a listener keeping what the kernel accepted before it closes does;
 * it stops at any other error.
 */
static void
run_cuts(struct run *r, size_t max_msg, const uint8_t *in, size_t len,
    const size_t *cuts, size_t ncuts)
{
	cst_deframer df;
	size_t i, from = 0, to;
	int rc;

	log_init(&r->log);
	r->rc = 0;
	cr_assert_eq(cst_deframer_init(&df, max_msg, record, &r->log), 0);
	for (i = 0; i <= ncuts && (r->rc == 0 || r->rc == CST_ECORRUPT);
	    i++) {
		to = i < ncuts ? cuts[i] : len;
		rc = cst_deframer_feed(&df, in + from, to - from);
		if (r->rc == 0 || rc != CST_ECORRUPT)
			r->rc = rc;
		from = to;
	}
	if (r->rc == 0)
		r->rc = cst_deframer_finish(&df);
	cst_deframer_close(&df);
}

static void
run_whole(struct run *r, size_t max_msg, const char *in, size_t len)
{

	run_cuts(r, max_msg, (const uint8_t *)in, len, NULL, 0);
}

/* Feeds one byte per call: every message crosses a chunk boundary. */
static void
run_bytewise(struct run *r, size_t max_msg, const uint8_t *in, size_t len)
{
	size_t *cuts, i;

	cuts = malloc((len + 1) * sizeof(*cuts));
	cr_assert_not_null(cuts);
	for (i = 1; i < len; i++)
		cuts[i - 1] = i;
	run_cuts(r, max_msg, in, len, cuts, len > 0 ? len - 1 : 0);
	free(cuts);
}

static void
assert_same(const struct run *a, const struct run *b, const char *what)
{
	size_t i;

	cr_assert_eq(a->rc, b->rc, "%s: rc %d vs %d", what, a->rc, b->rc);
	cr_assert_eq(a->log.n, b->log.n, "%s: %zu vs %zu deliveries", what,
	    a->log.n, b->log.n);
	for (i = 0; i < a->log.n; i++) {
		cr_assert_eq(a->log.g[i].flags, b->log.g[i].flags,
		    "%s: delivery %zu flags %#x vs %#x", what, i,
		    a->log.g[i].flags, b->log.g[i].flags);
		cr_assert_eq(a->log.g[i].len, b->log.g[i].len,
		    "%s: delivery %zu len %zu vs %zu", what, i,
		    a->log.g[i].len, b->log.g[i].len);
		cr_assert(memcmp(a->log.g[i].data, b->log.g[i].data,
		    a->log.g[i].len) == 0, "%s: delivery %zu bytes differ",
		    what, i);
	}
}

struct exp {
	const char *data;
	unsigned flags;
};

/* Asserts r delivered exactly want[0..n), NUL-free strings, and rc. */
static void
assert_got(const struct run *r, int rc, const struct exp *want, size_t n)
{
	size_t i;

	cr_assert_eq(r->rc, rc, "rc %d, want %d", r->rc, rc);
	cr_assert_eq(r->log.n, n, "%zu deliveries, want %zu", r->log.n, n);
	for (i = 0; i < n; i++) {
		cr_assert(r->log.g[i].len == strlen(want[i].data) &&
		    memcmp(r->log.g[i].data, want[i].data,
		    r->log.g[i].len) == 0,
		    "delivery %zu is \"%.*s\", want \"%s\"", i,
		    (int)r->log.g[i].len, (const char *)r->log.g[i].data,
		    want[i].data);
		cr_assert_eq(r->log.g[i].flags, want[i].flags,
		    "delivery %zu flags %#x, want %#x", i, r->log.g[i].flags,
		    want[i].flags);
	}
}

/*
 * Deframes the literal whole, byte by byte and at every 2-way cut, asserts
 * each gives want, and that error-free runs agree with each other exactly.
 */
#define EXPECT(max, lit, rc, ...) do {                                        \
	static const struct exp want_[] = { __VA_ARGS__ };                    \
	expect(max, lit, sizeof(lit) - 1, rc, want_,                          \
	    sizeof(want_) / sizeof(want_[0]));                                \
} while (0)
#define NOTHING { NULL, 0 }

static void
expect(size_t max, const char *in, size_t len, int rc,
    const struct exp *want, size_t n)
{
	struct run whole, other;
	size_t cut;

	/* NOTHING stands for an empty list, which C cannot write. */
	if (n == 1 && want[0].data == NULL)
		n = 0;
	run_whole(&whole, max, in, len);
	assert_got(&whole, rc, want, n);
	/* The bytes a framing error delivers are the rest of the read. */
	if (rc == 0) {
		run_bytewise(&other, max, (const uint8_t *)in, len);
		assert_same(&whole, &other, "bytewise");
		log_free(&other.log);
		for (cut = 0; cut <= len; cut++) {
			run_cuts(&other, max, (const uint8_t *)in, len, &cut,
			    1);
			assert_same(&whole, &other, "2-way cut");
			log_free(&other.log);
		}
	}
	log_free(&whole.log);
}

Test(framing, octet_counted)
{
	EXPECT(1024, "5 hello6 world!", 0, { "hello", O }, { "world!", O });
	/* The count covers the bytes exactly, LF and SP included. */
	EXPECT(1024, "6 a b\nc\n9  <13>x\r\n ", 0, { "a b\nc\n", O },
	    { " <13>x\r\n ", O });
}

Test(framing, lf)
{
	EXPECT(1024, "<13>a\n<14>bb\n", 0, { "<13>a", 0 }, { "<14>bb", 0 });
	EXPECT(1024, "<13>a\r\n<14>b\r\n", 0, { "<13>a", 0 }, { "<14>b", 0 });
	/* Only the CR right before the terminator is framing. */
	EXPECT(1024, "a\rb\nc\r\r\n\r\rd\n", 0, { "a\rb", 0 }, { "c\r", 0 },
	    { "\r\rd", 0 });
	EXPECT(1024, "a\0b\r\0c\n", 0, { "a", 0 }, { "b", 0 }, { "c", 0 });
	/* Leading zero: not a count, so the message is non-transparent. */
	EXPECT(1024, "05 hello\n", 0, { "05 hello", 0 });
}

Test(framing, empty_frames_skipped)
{
	EXPECT(1024, "\n\n\r\n\0", 0, NOTHING);
	EXPECT(1024, "", 0, NOTHING);
	/* A stray LF after an octet-counted message, as some senders add. */
	EXPECT(1024, "3 abc\n3 def\r\n", 0, { "abc", O }, { "def", O });
}

Test(framing, mixed_per_message)
{
	EXPECT(1024, "5 hello<13>x\n3 abc<14>y\0" "1 z", 0, { "hello", O },
	    { "<13>x", 0 }, { "abc", O }, { "<14>y", 0 }, { "z", O });
}

/* The documented oversize rule: pieces of max_msg, flagged, in order. */
Test(framing, oversized)
{
	EXPECT(4, "abcdefghij\nk\n", 0, { "abcd", T }, { "efgh", T | C },
	    { "ij", C }, { "k", 0 });
	/* A multiple of max_msg: the last piece is full, not truncated. */
	EXPECT(4, "abcdefgh\nabcd\nabcd\r\n", 0, { "abcd", T }, { "efgh", C },
	    { "abcd", 0 }, { "abcd", 0 });
	EXPECT(4, "10 abcdefghij8 abcdefgh4 abcd", 0, { "abcd", O | T },
	    { "efgh", O | T | C }, { "ij", O | C }, { "abcd", O | T },
	    { "efgh", O | C }, { "abcd", O });
	/* A CR at a cut is data when no LF follows it. */
	EXPECT(4, "abcd\rx\nabc\r\r\n", 0, { "abcd", T }, { "\rx", C },
	    { "abc\r", 0 });
	EXPECT(1, "ab\n2 cd", 0, { "a", T }, { "b", C }, { "c", O | T },
	    { "d", O | C });
}

Test(framing, oversized_keeps_every_byte)
{
	static uint8_t in[100000];
	struct run r;
	uint8_t *cat;
	size_t i, n = 0;

	/* One 99999-byte LF message, cut into 1000-byte pieces. */
	for (i = 0; i < sizeof(in) - 1; i++)
		in[i] = (uint8_t)('!' + i % 90);
	in[sizeof(in) - 1] = '\n';
	run_cuts(&r, 1000, in, sizeof(in), NULL, 0);
	cr_assert_eq(r.rc, 0);
	cr_assert_eq(r.log.n, 100);
	cat = malloc(sizeof(in));
	cr_assert_not_null(cat);
	for (i = 0; i < r.log.n; i++) {
		cr_assert_eq(r.log.g[i].flags, (i > 0 ? C : 0) |
		    (i < 99 ? T : 0));
		memcpy(cat + n, r.log.g[i].data, r.log.g[i].len);
		n += r.log.g[i].len;
	}
	cr_assert_eq(n, sizeof(in) - 1);
	cr_assert(memcmp(cat, in, n) == 0);
	free(cat);
	log_free(&r.log);
}

/*
 * Digits not followed by a SP are no octet count but the start of a line:
 * forwarded access logs, timestamps.  Each case is also fed byte by byte
 * and at every 2-way cut, so digits held over from an earlier read go
 * back into the line too.
 */
Test(framing, digits_not_a_count)
{
	EXPECT(1024, "192.0.2.7 - - \"GET /x HTTP/1.1\" 200 512\n"
	    "198.51.100.1 - - \"GET /y HTTP/1.1\" 404 0\r\n", 0,
	    { "192.0.2.7 - - \"GET /x HTTP/1.1\" 200 512", 0 },
	    { "198.51.100.1 - - \"GET /y HTTP/1.1\" 404 0", 0 });
	EXPECT(1024, "3 abc12x34\nabc", 0, { "abc", O }, { "12x34", 0 },
	    { "abc", I });
	EXPECT(1024, "12\n<13>x\n", 0, { "12", 0 }, { "<13>x", 0 });
	EXPECT(1024, "7\r\n8\0" "9", 0, { "7", 0 }, { "8", 0 }, { "9", I });
	/* More than 9 digits is no count, even before a SP. */
	EXPECT(1024, "1733520000 started\n999999999999", 0,
	    { "1733520000 started", 0 }, { "999999999999", I });
	/* A line of digits longer than max_msg, cut as any other. */
	EXPECT(4, "1x23456789\n", 0, { "1x23", T }, { "4567", T | C },
	    { "89", C });
	EXPECT(4, "123456789012\n", 0, { "1234", T }, { "5678", T | C },
	    { "9012", C });
	/* Then octet counting again, per message. */
	EXPECT(1024, "2026-12-06 x\n4 abcd", 0, { "2026-12-06 x", 0 },
	    { "abcd", O });
}

Test(framing, bad_count)
{
	/* Everything of the read from the bad frame on, flagged. */
	EXPECT(1024, "3 abc67108865 x\nabc", CST_ECORRUPT, { "abc", O },
	    { "67108865 x\nabc", E });
	EXPECT(1024, "67108865 abc", CST_ECORRUPT, { "67108865 abc", E });
	EXPECT(1024, "999999999 ", CST_ECORRUPT, { "999999999 ", E });
	EXPECT(4, "99999999 123456", CST_ECORRUPT, { "9999", E | T },
	    { "9999", E | T | C }, { " 123", E | T | C }, { "456", E | C });
}

Test(framing, bad_count_across_reads)
{
	static const uint8_t in[] = "3 abc99999999 rest";
	static const size_t cuts[] = { 6, 14 };
	static const struct exp want[] = { { "abc", O },
	    { "99999999 ", E }, { "rest", E } };
	struct run r;

	run_cuts(&r, 1024, in, sizeof(in) - 1, cuts, 2);
	assert_got(&r, CST_ECORRUPT, want, 3);
	log_free(&r.log);
}

Test(framing, largest_count_is_accepted)
{
	EXPECT(1024, "67108864 ab", 0, { "ab", O | I });
}

/*
 * After a framing error, what the caller still feeds (what the kernel had
 * already accepted) is delivered, flagged, one message per feed.
 */
Test(framing, after_error_bytes_kept_flagged)
{
	static const struct exp want[] = { { "6710", E | T },
	    { "8865", E | T | C }, { " ", E | C }, { "a\nb", E },
	    { "cdef", E | T }, { "g", E | C } };
	struct run r;
	cst_deframer df;

	log_init(&r.log);
	cr_assert_eq(cst_deframer_init(&df, 4, record, &r.log), 0);
	cr_assert_eq(cst_deframer_feed(&df, (const uint8_t *)"67108865 ",
	    9), CST_ECORRUPT);
	cr_assert_eq(cst_deframer_feed(&df, (const uint8_t *)"a\nb", 3),
	    CST_ECORRUPT);
	cr_assert_eq(cst_deframer_feed(&df, (const uint8_t *)"", 0),
	    CST_ECORRUPT);
	cr_assert_eq(cst_deframer_feed(&df, (const uint8_t *)"cdefg", 5),
	    CST_ECORRUPT);
	r.rc = cst_deframer_finish(&df);
	assert_got(&r, CST_ECORRUPT, want, 6);
	/* A failing callback then stops it for good. */
	r.log.fail_at = (int)r.log.n;
	cr_assert_eq(cst_deframer_feed(&df, (const uint8_t *)"h", 1),
	    CST_ENOMEM);
	cr_assert_eq(cst_deframer_feed(&df, (const uint8_t *)"i", 1),
	    CST_ENOMEM);
	cr_assert_eq(r.log.n, 6);
	cst_deframer_close(&df);
	log_free(&r.log);
}

Test(framing, eof_partial)
{
	EXPECT(1024, "5 hel", 0, { "hel", O | I });
	EXPECT(1024, "<13>abc", 0, { "<13>abc", I });
	EXPECT(1024, "<13>abc\r", 0, { "<13>abc\r", I });
	/* Only the count came: the digits, and not flagged as a message. */
	EXPECT(1024, "a\n12", 0, { "a", 0 }, { "12", I });
	/* The count and its SP: an announced message with no bytes. */
	EXPECT(1024, "5 ", 0, { "", O | I });
	EXPECT(4, "abcdef", 0, { "abcd", T }, { "ef", C | I });
	EXPECT(4, "abcd", 0, { "abcd", I });
	/* Only the last piece is flagged, even when finish cuts more. */
	EXPECT(4, "abcd\r", 0, { "abcd", T }, { "\r", C | I });
	EXPECT(2, "12345", 0, { "12", T }, { "34", T | C }, { "5", C | I });
	EXPECT(4, "9 abcdefgh", 0, { "abcd", O | T },
	    { "efgh", O | C | I });
	EXPECT(1024, "a\n", 0, { "a", 0 });
}

Test(framing, finish_starts_a_new_stream)
{
	struct log l;
	cst_deframer df;

	log_init(&l);
	cr_assert_eq(cst_deframer_init(&df, 64, record, &l), 0);
	cr_assert_eq(cst_deframer_feed(&df, (const uint8_t *)"5 ab", 4), 0);
	cr_assert_eq(cst_deframer_finish(&df), 0);
	cr_assert_eq(cst_deframer_feed(&df, (const uint8_t *)"xy\n", 3), 0);
	cr_assert_eq(cst_deframer_finish(&df), 0);
	cr_assert_eq(l.n, 2);
	cr_assert(l.g[0].len == 2 && l.g[0].flags == (O | I));
	cr_assert(l.g[1].len == 2 && memcmp(l.g[1].data, "xy", 2) == 0 &&
	    l.g[1].flags == 0);
	cst_deframer_close(&df);
	log_free(&l);
}

/* Whole messages in a read are passed in place, not copied. */
Test(framing, zero_copy)
{
	static const uint8_t in[] = "<13>a\n5 hello<14>partial";
	struct log l;
	cst_deframer df;

	log_init(&l);
	cr_assert_eq(cst_deframer_init(&df, 64, record, &l), 0);
	cr_assert_eq(cst_deframer_feed(&df, in, sizeof(in) - 1), 0);
	cr_assert_eq(l.n, 2);
	cr_assert_eq(l.g[0].ptr, in);
	cr_assert_eq(l.g[1].ptr, in + 8);
	cr_assert_eq(cst_deframer_feed(&df, (const uint8_t *)"\n", 1), 0);
	cr_assert_eq(l.n, 3);
	cr_assert(l.g[2].len == 11 &&
	    memcmp(l.g[2].data, "<14>partial", 11) == 0);
	cst_deframer_close(&df);
	log_free(&l);
}

Test(framing, init_limits)
{
	cst_deframer df;
	struct log l;

	log_init(&l);
	cr_assert_eq(cst_deframer_init(&df, 0, record, &l), CST_EINVAL);
	cr_assert_eq(cst_deframer_init(&df, CST_FRAME_COUNT_MAX + 1, record,
	    &l), CST_EINVAL);
	cr_assert_eq(cst_deframer_init(&df, 64, NULL, &l), CST_EINVAL);
	cr_assert_eq(cst_deframer_init(&df, CST_FRAME_COUNT_MAX, record, &l),
	    0);
	cst_deframer_close(&df);
	cst_deframer_close(NULL);
}

/* A failing callback stops the stream; its code comes back. */
Test(framing, callback_error)
{
	static const uint8_t in[] = "a\nb\nc\n";
	struct log l;
	cst_deframer df;

	log_init(&l);
	l.fail_at = 1;
	cr_assert_eq(cst_deframer_init(&df, 64, record, &l), 0);
	cr_assert_eq(cst_deframer_feed(&df, in, sizeof(in) - 1), CST_ENOMEM);
	cr_assert_eq(l.n, 1);
	cr_assert_eq(cst_deframer_feed(&df, in, sizeof(in) - 1), CST_ENOMEM);
	cr_assert_eq(cst_deframer_finish(&df), CST_ENOMEM);
	cr_assert_eq(l.n, 1);
	cst_deframer_close(&df);
	log_free(&l);
}

/* The same when the callback fails for a piece delivered by finish. */
Test(framing, callback_error_at_finish)
{
	struct log l;
	cst_deframer df;

	log_init(&l);
	l.fail_at = 1;
	cr_assert_eq(cst_deframer_init(&df, 4, record, &l), 0);
	cr_assert_eq(cst_deframer_feed(&df, (const uint8_t *)"9 abcdef", 8),
	    0);
	cr_assert_eq(l.n, 1);
	cr_assert_eq(cst_deframer_finish(&df), CST_ENOMEM);
	cr_assert_eq(cst_deframer_finish(&df), CST_ENOMEM);
	cst_deframer_close(&df);
	log_free(&l);
}

/* A fixed stream with every feature, cut every way into two reads. */
Test(framing, every_split_of_a_fixed_stream)
{
	static const char in[] =
	    "<13>1 - h a - - - first\n"
	    "24 <13>1 - h a - - - second"
	    "<14>crlf\r\n"
	    "\n"
	    "<15>nul\0"
	    "39 <13>1 - h a - - - this one is oversized"
	    "<16>long line, oversized as well\r\r\n"
	    "3 \r\n\0"
	    "<17>partial at eof\r";
	struct run whole, other;
	size_t max, cut;

	for (max = 1; max <= 48; max += 7) {
		run_whole(&whole, max, in, sizeof(in) - 1);
		cr_assert_eq(whole.rc, 0);
		run_bytewise(&other, max, (const uint8_t *)in, sizeof(in) - 1);
		assert_same(&whole, &other, "bytewise");
		log_free(&other.log);
		for (cut = 0; cut <= sizeof(in) - 1; cut++) {
			run_cuts(&other, max, (const uint8_t *)in,
			    sizeof(in) - 1, &cut, 1);
			assert_same(&whole, &other, "2-way cut");
			log_free(&other.log);
		}
		log_free(&whole.log);
	}
}

/*
 * Random messages in random framings fed in random reads come out as
 * they went in.  The seed is fixed and printed, so a failure replays.
 */
Test(framing, random_streams)
{
	const uint32_t seed = 0x5eed1234;
	uint32_t x = seed;
	uint8_t *in, *msgs;
	size_t *lens, *cuts, nmsg = 300, i, j, n, m, off, ncuts, pos;
	struct run r;
	int h;

	fprintf(stderr, "framing random_streams: seed %#x\n", seed);
#define RND() (x ^= x << 13, x ^= x >> 17, x ^= x << 5, x)
	in = malloc(nmsg * 600);
	msgs = malloc(nmsg * 600);
	lens = malloc(nmsg * sizeof(*lens));
	cuts = malloc(nmsg * 600 * sizeof(*cuts));
	cr_assert(in && msgs && lens && cuts);
	for (n = m = i = 0; i < nmsg; i++) {
		lens[i] = 1 + RND() % 500;
		if (RND() % 2) {
			h = sprintf((char *)in + n, "%zu ", lens[i]);
			n += (size_t)h;
			for (j = 0; j < lens[i]; j++)
				in[n++] = msgs[m++] = (uint8_t)RND();
		} else {
			/* LF framing cannot carry LF or NUL, nor a final CR. */
			for (j = 0; j < lens[i]; j++) {
				do
					in[n] = (uint8_t)RND();
				while (in[n] == '\n' || in[n] == '\0' ||
				    (j == 0 && in[n] >= '1' && in[n] <= '9') ||
				    (j == lens[i] - 1 && in[n] == '\r'));
				msgs[m++] = in[n++];
			}
			in[n++] = RND() % 3 ? '\n' : '\0';
		}
	}
	for (ncuts = 0, pos = 0;;) {
		pos += 1 + RND() % 700;
		if (pos >= n)
			break;
		cuts[ncuts++] = pos;
	}
	run_cuts(&r, 256, in, n, cuts, ncuts);
	cr_assert_eq(r.rc, 0);
	for (off = 0, i = j = 0; i < nmsg; i++) {
		/* Each message: ceil(len / 256) pieces. */
		for (pos = 0; pos < lens[i]; j++) {
			cr_assert(j < r.log.n, "seed %#x: too few", seed);
			cr_assert_eq(r.log.g[j].flags & (T | C),
			    (pos > 0 ? C : 0u) |
			    (pos + r.log.g[j].len < lens[i] ? T : 0u));
			cr_assert(memcmp(r.log.g[j].data, msgs + off + pos,
			    r.log.g[j].len) == 0, "seed %#x: bytes", seed);
			pos += r.log.g[j].len;
		}
		cr_assert_eq(pos, lens[i]);
		off += lens[i];
	}
	cr_assert_eq(j, r.log.n);
#undef RND
	log_free(&r.log);
	free(in);
	free(msgs);
	free(lens);
	free(cuts);
}
