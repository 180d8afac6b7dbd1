/*
 * RELP (collector/relp.c): the frame parser, table-driven over good frames
 * and every kind of malformed one, each case fed whole, cut in two at
 * every byte, and one byte per feed; and the session: the open answer and
 * its offers, and the property that matters (R-RELP-1): a syslog command
 * is answered only once its record is durable, in TXNR order.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "custody/error.h"
#include "relp.h"

#define MAX_DATA 64
#define SESS_MAX 128

/* The frames of one run, as text: "TXNR CMD [DATA];" each. */
struct log {
	char text[4096];
	size_t len;
	int fail_at;          /* the callback fails on this frame, or -1 */
	size_t n;
};

static int
record(void *ctx, const struct relp_frame *f)
{
	struct log *l = ctx;
	int n;

	if (l->fail_at >= 0 && (size_t)l->fail_at == l->n)
		return (CST_ENOMEM);
	l->n++;
	cr_assert_eq(strlen(f->cmd), f->cmd_len);
	cr_assert(f->len == 0 || f->data != NULL);
	n = snprintf(l->text + l->len, sizeof(l->text) - l->len,
	    "%u %s [%.*s];", f->txnr, f->cmd, (int)f->len,
	    f->len > 0 ? (const char *)f->data : "");
	cr_assert(n > 0 && (size_t)n < sizeof(l->text) - l->len);
	l->len += (size_t)n;
	return (0);
}

struct pcase {
	const char *name;
	const char *in;       /* NUL-free unless len is given */
	size_t len;           /* 0: strlen(in) */
	int rc;
	const char *frames;   /* what is delivered before rc */
	int between;          /* relp_parser_between at the end (rc 0) */
};

static const struct pcase pcases[] = {
	{ "open", "1 open 14 relp_version=0\n", 0, 0,
	    "1 open [relp_version=0];", 1 },
	{ "no data", "7 close 0\n", 0, 0, "7 close [];", 1 },
	{ "two frames", "1 syslog 3 abc\n2 syslog 1 x\n", 0, 0,
	    "1 syslog [abc];2 syslog [x];", 1 },
	{ "data with LF and SP", "3 syslog 5 a\n b \n", 0, 0,
	    "3 syslog [a\n b ];", 1 },
	{ "nine digits", "999999999 syslog 000000002 ab\n", 0, 0,
	    "999999999 syslog [ab];", 1 },
	{ "command of 32", "1 abcdefghijklmnopqrstuvwxyzABCDEF 0\n", 0, 0,
	    "1 abcdefghijklmnopqrstuvwxyzABCDEF [];", 1 },
	{ "data at the limit", "1 syslog 64 "
	    "0123456789012345678901234567890123456789012345678901234567890123"
	    "\n", 0, 0, "1 syslog [0123456789012345678901234567890123456789"
	    "012345678901234567890123];", 1 },
	{ "mid frame", "1 syslog 3 ab", 0, 0, "", 0 },
	{ "mid header", "12 sys", 0, 0, "", 0 },
	{ "empty", "", 0, 0, "", 1 },
	{ "binary data", "1 syslog 3 \0\1\2\n", 15, 0, "1 syslog [];", 1 },

	{ "not a digit first", "<13>Oct 11 22:14:15 host app: hi\n", 0,
	    CST_ECORRUPT, "", 0 },
	{ "space first", " 1 open 0\n", 0, CST_ECORRUPT, "", 0 },
	{ "ten digit txnr", "1234567890 open 0\n", 0, CST_ECORRUPT, "", 0 },
	{ "letter in txnr", "1x open 0\n", 0, CST_ECORRUPT, "", 0 },
	{ "empty command", "1  0\n", 0, CST_ECORRUPT, "", 0 },
	{ "digit in command", "1 sys1og 0\n", 0, CST_ECORRUPT, "", 0 },
	{ "command of 33", "1 abcdefghijklmnopqrstuvwxyzABCDEFG 0\n", 0,
	    CST_ECORRUPT, "", 0 },
	{ "LF in command", "1 open\n", 0, CST_ECORRUPT, "", 0 },
	{ "empty datalen", "1 open \n", 0, CST_ECORRUPT, "", 0 },
	{ "ten digit datalen", "1 open 0000000001 x\n", 0, CST_ECORRUPT, "",
	    0 },
	{ "letter in datalen", "1 open 1a x\n", 0, CST_ECORRUPT, "", 0 },
	{ "SP after datalen 0", "1 close 0 \n", 0, CST_ECORRUPT, "", 0 },
	{ "LF after datalen", "1 syslog 3\nabc\n", 0, CST_ECORRUPT, "", 0 },
	{ "data too long", "1 syslog 65 x", 0, CST_ETOOBIG, "", 0 },
	{ "no trailer", "1 syslog 3 abcd\n", 0, CST_ECORRUPT, "", 0 },
	{ "CR trailer", "1 close 0\r\n", 0, CST_ECORRUPT, "", 0 },
	{ "good then bad", "1 syslog 1 a\n2 syslog 1 bX", 0, CST_ECORRUPT,
	    "1 syslog [a];", 0 },
	{ "garbage after frame", "1 close 0\nGET / HTTP/1.0\r\n", 0,
	    CST_ECORRUPT, "1 close [];", 0 },
};

/* Feeds in[0..n) in pieces cut at cuts[0..ncut); the first error stops. */
static int
run(const struct pcase *tc, const size_t *cuts, size_t ncut, struct log *l,
    int *between)
{
	struct relp_parser p;
	size_t len = tc->len ? tc->len : strlen(tc->in), at = 0, i, end;
	int rc = 0;

	memset(l, 0, sizeof(*l));
	l->fail_at = -1;
	relp_parser_init(&p, MAX_DATA, record, l);
	for (i = 0; i <= ncut && rc == 0; i++) {
		end = i < ncut ? cuts[i] : len;
		rc = relp_parser_feed(&p, (const uint8_t *)tc->in + at,
		    end - at);
		at = end;
	}
	*between = relp_parser_between(&p);
	relp_parser_close(&p);
	return (rc);
}

static void
check(const struct pcase *tc, const char *how, int rc, const struct log *l,
    int between)
{

	cr_assert_eq(rc, tc->rc, "%s (%s): rc %d, want %d", tc->name, how, rc,
	    tc->rc);
	cr_assert_str_eq(l->text, tc->frames, "%s (%s): frames", tc->name,
	    how);
	if (rc == 0)
		cr_assert_eq(between, tc->between, "%s (%s): between",
		    tc->name, how);
}

Test(relp_parser, table_whole_split_and_bytewise)
{
	size_t k, cut, len, *cuts;
	struct log l;
	int rc, between;

	for (k = 0; k < sizeof(pcases) / sizeof(pcases[0]); k++) {
		const struct pcase *tc = &pcases[k];

		len = tc->len ? tc->len : strlen(tc->in);
		rc = run(tc, NULL, 0, &l, &between);
		check(tc, "whole", rc, &l, between);
		for (cut = 0; cut <= len; cut++) {
			rc = run(tc, &cut, 1, &l, &between);
			check(tc, "in two", rc, &l, between);
		}
		cuts = malloc((len + 1) * sizeof(*cuts));
		cr_assert_not_null(cuts);
		for (cut = 0; cut < len; cut++)
			cuts[cut] = cut + 1;
		rc = run(tc, cuts, len > 0 ? len - 1 : 0, &l, &between);
		check(tc, "bytewise", rc, &l, between);
		free(cuts);
	}
}

Test(relp_parser, binary_data_intact)
{
	static const uint8_t in[] = "1 syslog 3 \0\1\n\n";
	uint8_t copy[sizeof(in)];
	struct relp_parser p;
	struct log l;

	memset(&l, 0, sizeof(l));
	l.fail_at = -1;
	memcpy(copy, in, sizeof(in));
	relp_parser_init(&p, MAX_DATA, record, &l);
	cr_assert_eq(relp_parser_feed(&p, copy, sizeof(in) - 1), 0);
	cr_assert_eq(l.n, 1);
	relp_parser_close(&p);
}

Test(relp_parser, callback_error_stops_the_feed)
{
	static const char in[] = "1 syslog 1 a\n2 syslog 1 b\n3 syslog 1 c\n";
	struct relp_parser p;
	struct log l;

	memset(&l, 0, sizeof(l));
	l.fail_at = 1;
	relp_parser_init(&p, MAX_DATA, record, &l);
	cr_assert_eq(relp_parser_feed(&p, (const uint8_t *)in,
	    strlen(in)), CST_ENOMEM);
	cr_assert_str_eq(l.text, "1 syslog [a];");
	relp_parser_close(&p);
}

/* ---- the session ---- */

struct sink {
	uint64_t next_seq;    /* the sequence number the next record gets */
	char msgs[1024];
	size_t mlen;
	int fail;
};

static int
message(void *ctx, const uint8_t *msg, size_t len, uint64_t *seq)
{
	struct sink *k = ctx;

	if (k->fail)
		return (CST_ENOMEM);
	cr_assert(k->mlen + len + 1 < sizeof(k->msgs));
	memcpy(k->msgs + k->mlen, msg, len);
	k->mlen += len;
	k->msgs[k->mlen++] = '|';
	*seq = k->next_seq++;
	return (0);
}

static const struct relp_sess_ops ops = { message };

/* What s has to send, as a string; s->out is emptied. */
static char *
take_out(struct relp_sess *s)
{
	static char text[2048];

	cr_assert(s->out.len < sizeof(text));
	if (s->out.len > 0)
		memcpy(text, s->out.p, s->out.len);
	text[s->out.len] = '\0';
	s->out.len = 0;
	return (text);
}

static int
feed(struct relp_sess *s, const char *in)
{

	return (relp_sess_feed(s, (const uint8_t *)in, strlen(in)));
}

#define OPEN "1 open 86 relp_version=0\nrelp_software=librelp,1.11.0," \
    "http://librelp.adiscon.com\ncommands=syslog"
#define OPEN_RSP "1 rsp 59 200 OK\nrelp_version=0\n" \
    "relp_software=custody\ncommands=syslog\n"

Test(relp_sess, open_echoes_the_offers)
{
	struct sink k = { .next_seq = 10 };
	struct relp_sess s;

	relp_sess_init(&s, SESS_MAX, 10, &ops, &k);
	cr_assert_eq(feed(&s, OPEN "\n"), 0);
	cr_assert_str_eq(take_out(&s), OPEN_RSP);
	cr_assert_eq(s.state, RELP_S_OPEN);
	relp_sess_close(&s);
}

/* R-RELP-1: no 200 OK before the record is durable; then in TXNR order. */
Test(relp_sess, ok_only_once_durable)
{
	struct sink k = { .next_seq = 100 };
	struct relp_sess s;

	relp_sess_init(&s, SESS_MAX, 100, &ops, &k);
	cr_assert_eq(feed(&s, OPEN "\n2 syslog 3 one\n3 syslog 3 two\n"
	    "4 syslog 5 three\n"), 0);
	cr_assert_str_eq(take_out(&s), OPEN_RSP);
	cr_assert_str_eq(k.msgs, "one|two|three|");
	cr_assert_eq(relp_sess_unanswered(&s), 3);
	/* Records 100..102; nothing below 100 is news. */
	cr_assert_eq(relp_sess_durable(&s, 100), 0);
	cr_assert_str_eq(take_out(&s), "");
	cr_assert_eq(relp_sess_durable(&s, 102), 0);
	cr_assert_str_eq(take_out(&s), "2 rsp 6 200 OK\n3 rsp 6 200 OK\n");
	cr_assert_eq(relp_sess_unanswered(&s), 1);
	/* A durable point never goes back. */
	cr_assert_eq(relp_sess_durable(&s, 50), 0);
	cr_assert_str_eq(take_out(&s), "");
	cr_assert_eq(relp_sess_durable(&s, 103), 0);
	cr_assert_str_eq(take_out(&s), "4 rsp 6 200 OK\n");
	cr_assert_eq(s.acked, 3);
	relp_sess_close(&s);
}

Test(relp_sess, close_waits_for_the_messages_before_it)
{
	struct sink k = { .next_seq = 0 };
	struct relp_sess s;

	relp_sess_init(&s, SESS_MAX, 0, &ops, &k);
	cr_assert_eq(feed(&s, OPEN "\n2 syslog 1 a\n3 close 0\n"
	    "4 syslog 1 b\n"), 0);
	cr_assert_str_eq(take_out(&s), OPEN_RSP);
	cr_assert_eq(s.state, RELP_S_CLOSING);
	/* What follows close is neither recorded nor answered. */
	cr_assert_str_eq(k.msgs, "a|");
	cr_assert_eq(relp_sess_durable(&s, 1), 0);
	cr_assert_str_eq(take_out(&s), "2 rsp 6 200 OK\n3 rsp 0\n");
	cr_assert_eq(s.state, RELP_S_CLOSED);
	relp_sess_close(&s);
}

Test(relp_sess, unknown_command_answered_500_in_order)
{
	struct sink k = { .next_seq = 0 };
	struct relp_sess s;

	relp_sess_init(&s, SESS_MAX, 0, &ops, &k);
	cr_assert_eq(feed(&s, OPEN "\n2 syslog 1 a\n3 starttls 0\n"), 0);
	cr_assert_str_eq(take_out(&s), OPEN_RSP);
	cr_assert_eq(relp_sess_durable(&s, 1), 0);
	cr_assert_str_eq(take_out(&s), "2 rsp 6 200 OK\n"
	    "3 rsp 25 500 command not supported\n");
	relp_sess_close(&s);
}

Test(relp_sess, open_without_syslog_is_refused)
{
	struct sink k = { .next_seq = 0 };
	struct relp_sess s;

	relp_sess_init(&s, SESS_MAX, 0, &ops, &k);
	cr_assert_eq(feed(&s, "1 open 29 relp_version=0\ncommands=other\n"),
	    0);
	cr_assert_str_eq(take_out(&s),
	    "1 rsp 44 500 required command not supported by client\n");
	cr_assert_eq(s.state, RELP_S_CLOSED);
	relp_sess_close(&s);
}

Test(relp_sess, protocol_errors)
{
	static const struct {
		const char *in;
		int rc;
	} bad[] = {
		{ "2 open 15 commands=syslog\n", CST_ECORRUPT },
		{ "1 syslog 1 a\n", CST_ECORRUPT },
		{ "1 open 15 commands=syslog\n1 syslog 1 a\n", CST_ECORRUPT },
		{ "1 open 15 commands=syslog\n3 syslog 1 a\n", CST_ECORRUPT },
		{ "1 open 15 commands=syslog\n2 open 15 commands=syslog\n",
		    CST_ECORRUPT },
		{ "<13>hello\n", CST_ECORRUPT },
		{ "1 open 15 commands=syslog\n2 syslog 129 ", CST_ETOOBIG },
	};
	struct sink k = { .next_seq = 0 };
	struct relp_sess s;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		relp_sess_init(&s, SESS_MAX, 0, &ops, &k);
		cr_assert_eq(feed(&s, bad[i].in), bad[i].rc, "case %zu", i);
		cr_assert_not_null(s.why);
		relp_sess_close(&s);
	}
	relp_sess_init(&s, SESS_MAX, 0, &ops, &k);
	k.fail = 1;
	cr_assert_eq(feed(&s, OPEN "\n2 syslog 1 a\n"), CST_ENOMEM);
	relp_sess_close(&s);
}

Test(relp_sess, txnr_wraps_to_one)
{
	struct sink k = { .next_seq = 0 };
	struct relp_sess s;

	relp_sess_init(&s, SESS_MAX, 0, &ops, &k);
	cr_assert_eq(feed(&s, OPEN "\n"), 0);
	s.next_txnr = RELP_TXNR_MAX;
	cr_assert_eq(feed(&s, "999999999 syslog 1 a\n1 syslog 1 b\n"), 0);
	cr_assert_eq(relp_sess_durable(&s, 2), 0);
	cr_assert_str_eq(take_out(&s), OPEN_RSP "999999999 rsp 6 200 OK\n"
	    "1 rsp 6 200 OK\n");
	relp_sess_close(&s);
}

Test(relp_sess, serverclose_hint)
{
	struct sink k = { .next_seq = 0 };
	struct relp_sess s;

	relp_sess_init(&s, SESS_MAX, 0, &ops, &k);
	cr_assert_eq(relp_sess_serverclose(&s), 0);
	cr_assert_str_eq(take_out(&s), "0 serverclose 0\n");
	relp_sess_close(&s);
}

Test(relp_sess, queue_grows_past_its_first_ring)
{
	struct sink k = { .next_seq = 0 };
	struct relp_sess s;
	char frame[64];
	uint32_t t;

	relp_sess_init(&s, SESS_MAX, 0, &ops, &k);
	cr_assert_eq(feed(&s, OPEN "\n"), 0);
	take_out(&s);
	/* Answer some, so the ring's head is not at 0 when it grows. */
	for (t = 2; t < 12; t++) {
		snprintf(frame, sizeof(frame), "%u syslog 1 x\n", t);
		cr_assert_eq(feed(&s, frame), 0);
	}
	cr_assert_eq(relp_sess_durable(&s, 5), 0);
	take_out(&s);
	k.mlen = 0;
	for (t = 12; t < 60; t++) {
		snprintf(frame, sizeof(frame), "%u syslog 1 x\n", t);
		cr_assert_eq(feed(&s, frame), 0);
		k.mlen = 0;
	}
	cr_assert_eq(relp_sess_unanswered(&s), 58 - 5);
	cr_assert_eq(relp_sess_durable(&s, 58), 0);
	cr_assert_eq(relp_sess_unanswered(&s), 0);
	/* The last answer is for TXNR 59, after every other in order. */
	cr_assert(s.out.len > 0);
	cr_assert_eq(memcmp(s.out.p + s.out.len - 16, "59 rsp 6 200 OK\n",
	    16), 0);
	relp_sess_close(&s);
}
