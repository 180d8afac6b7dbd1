/*
 * Fuzz target for the RELP frame parser and session (collector/relp.c).
 * Input: two bytes choosing where to cut the stream into two feeds, then
 * the stream.  The frames found whole, in two feeds and one byte per feed
 * must agree (and the error that ends them); every frame must keep the
 * grammar of relp.h.  The stream then goes through a session: no syslog
 * command may be answered before the durable point passes its record
 * (R-RELP-1); once everything is durable every transaction is answered;
 * and the answers, parsed back, are well-formed rsp frames in TXNR order.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "custody/error.h"
#include "relp.h"
#include "fuzz.h"

#define MAX_DATA 256
#define MAX_FRAMES 4096

/* What one run delivered: each frame's fields and a hash of its data. */
struct log {
	size_t n;
	uint32_t txnr[MAX_FRAMES];
	char cmd[MAX_FRAMES][RELP_CMD_MAX + 1];
	size_t len[MAX_FRAMES];
	uint64_t hash[MAX_FRAMES];
};

static uint64_t
fnv(const uint8_t *p, size_t n)
{
	uint64_t h = 1469598103934665603u;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211u;
	return (h);
}

static int
record(void *ctx, const struct relp_frame *f)
{
	struct log *l = ctx;
	size_t i;

	REQUIRE(f->txnr <= RELP_TXNR_MAX);
	REQUIRE(f->cmd_len >= 1 && f->cmd_len <= RELP_CMD_MAX);
	REQUIRE(strlen(f->cmd) == f->cmd_len);
	for (i = 0; i < f->cmd_len; i++)
		REQUIRE((f->cmd[i] >= 'a' && f->cmd[i] <= 'z') ||
		    (f->cmd[i] >= 'A' && f->cmd[i] <= 'Z'));
	REQUIRE(f->len <= MAX_DATA);
	REQUIRE(f->len == 0 || f->data != NULL);
	if (l->n == MAX_FRAMES)
		return (0);
	l->txnr[l->n] = f->txnr;
	memcpy(l->cmd[l->n], f->cmd, f->cmd_len + 1);
	l->len[l->n] = f->len;
	l->hash[l->n] = fnv(f->data, f->len);
	l->n++;
	return (0);
}

static int
run(const uint8_t *in, size_t n, const size_t *cuts, size_t ncut,
    struct log *l)
{
	struct relp_parser p;
	size_t at = 0, i, end;
	int rc = 0;

	l->n = 0;
	relp_parser_init(&p, MAX_DATA, record, l);
	for (i = 0; i <= ncut && rc == 0; i++) {
		end = i < ncut ? cuts[i] : n;
		rc = relp_parser_feed(&p, in + at, end - at);
		at = end;
	}
	relp_parser_close(&p);
	return (rc);
}

static int
same(const struct log *a, const struct log *b)
{
	size_t i;

	if (a->n != b->n)
		return (0);
	for (i = 0; i < a->n; i++)
		if (a->txnr[i] != b->txnr[i] || a->len[i] != b->len[i] ||
		    a->hash[i] != b->hash[i] || strcmp(a->cmd[i],
		    b->cmd[i]) != 0)
			return (0);
	return (1);
}

/* ---- the session ---- */

struct sink {
	uint64_t next_seq;
};

static int
message(void *ctx, const uint8_t *msg, size_t len, uint64_t *seq)
{
	struct sink *k = ctx;

	(void)msg;
	REQUIRE(len <= MAX_DATA);
	*seq = k->next_seq++;
	return (0);
}

struct answers {
	size_t n;
	int ok;               /* every frame an rsp with a status */
	uint32_t last;
	int ordered;
};

static int
answer(void *ctx, const struct relp_frame *f)
{
	struct answers *a = ctx;

	if (strcmp(f->cmd, "rsp") != 0 || (f->len > 0 && f->len < 3))
		a->ok = 0;
	/* TXNRs rise, but for the wrap from RELP_TXNR_MAX to 1. */
	if (a->n > 0 && f->txnr <= a->last && !(a->last == RELP_TXNR_MAX &&
	    f->txnr == 1))
		a->ordered = 0;
	a->last = f->txnr;
	a->n++;
	return (0);
}

static void
session(const uint8_t *in, size_t n)
{
	static const struct relp_sess_ops ops = { message };
	struct sink k = { 5 };
	struct relp_sess s;
	struct relp_parser p;
	struct answers a = { 0, 1, 0, 1 };
	size_t before;
	int rc;

	relp_sess_init(&s, MAX_DATA, 5, &ops, &k);
	rc = relp_sess_feed(&s, in, n);
	if (rc != 0) {
		REQUIRE(rc == CST_ECORRUPT || rc == CST_ETOOBIG);
		REQUIRE(s.why != NULL);
		relp_sess_close(&s);
		return;
	}
	/* Nothing recorded is durable yet: no 200 OK for a message. */
	REQUIRE(s.acked == 0);
	before = relp_sess_unanswered(&s);
	REQUIRE(relp_sess_durable(&s, k.next_seq) == 0);
	REQUIRE(relp_sess_unanswered(&s) == 0);
	REQUIRE(before == 0 || s.out.len > 0);
	relp_parser_init(&p, 4096, answer, &a);
	REQUIRE(relp_parser_feed(&p, s.out.p, s.out.len) == 0);
	REQUIRE(relp_parser_between(&p));
	REQUIRE(a.ok && a.ordered);
	relp_parser_close(&p);
	relp_sess_close(&s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct log whole, two, bytes;
	size_t cut, i, n, *cuts;
	const uint8_t *in;
	int rc1, rc2, rc3;

	if (size < 2)
		return (0);
	in = data + 2;
	n = size - 2;
	cut = n > 0 ? ((size_t)data[0] << 8 | data[1]) % (n + 1) : 0;

	rc1 = run(in, n, NULL, 0, &whole);
	rc2 = run(in, n, &cut, 1, &two);
	if ((cuts = malloc((n + 1) * sizeof(*cuts))) == NULL)
		return (0);
	for (i = 0; i + 1 < n; i++)
		cuts[i] = i + 1;
	rc3 = run(in, n, cuts, n > 0 ? n - 1 : 0, &bytes);
	free(cuts);
	REQUIRE(rc1 == 0 || rc1 == CST_ECORRUPT || rc1 == CST_ETOOBIG);
	REQUIRE(rc1 == rc2 && rc1 == rc3);
	REQUIRE(same(&whole, &two) && same(&whole, &bytes));

	session(in, n);
	return (0);
}
