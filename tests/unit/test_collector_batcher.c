/*
 * The batcher: records get gapless sequence numbers in arrival order
 * (R-BLK-7 starts here), batches are cut by records, by bytes and on
 * demand, control batches keep their place in line, and the memory budget
 * tells listeners to stop reading before it is passed by more than one
 * batch.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "custody/error.h"
#include "custody/record.h"

#include "batcher.h"
#include "pipeline.h"

#define MAX_CUT 64

struct sink {
	struct batch *cut[MAX_CUT];
	size_t ncut;
	size_t opened;
};

static void
on_cut(void *ctx, struct batch *bt)
{
	struct sink *s = ctx;

	cr_assert_lt(s->ncut, MAX_CUT);
	s->cut[s->ncut++] = bt;
}

static void
on_opened(void *ctx)
{
	struct sink *s = ctx;

	s->opened++;
}

static const struct batcher_ops ops = { on_cut, on_opened };

static struct batcher *
make(struct sink *s, size_t records, size_t bytes, size_t inflight,
    uint64_t next_seq)
{
	struct batcher_cfg cfg = { records, bytes, inflight };
	struct batcher *b;

	memset(s, 0, sizeof(*s));
	cr_assert_eq(batcher_new(&cfg, &ops, s, next_seq, &b), 0);
	return (b);
}

/* Adds one record whose raw bytes are text. */
static cst_record *
add(struct batcher *b, const char *text)
{
	cst_record *r;
	uint8_t *raw;
	size_t len = strlen(text);

	cr_assert_eq(batcher_add(b, len, 0, &r, &raw), 0);
	memcpy(raw, text, len);
	r->raw.p = raw;
	r->raw.len = len;
	batcher_count_event(b, len);
	return (r);
}

static void
done_all(struct batcher *b, struct sink *s)
{
	size_t i;

	for (i = 0; i < s->ncut; i++)
		batcher_done(b, s->cut[i]);
	s->ncut = 0;
}

Test(batcher, sequence_numbers_are_gapless_in_arrival_order)
{
	struct sink s;
	struct batcher *b = make(&s, 3, 4096, 1 << 20, 1000);
	uint64_t expect = 1000;
	size_t i, j;

	for (i = 0; i < 10; i++)
		cr_assert_eq(add(b, "x")->seq, 1000 + i);
	batcher_cut(b);
	/* Cut by records: 3 + 3 + 3, then the explicit cut of the last. */
	cr_assert_eq(s.ncut, 4);
	for (i = 0; i < s.ncut; i++) {
		struct batch *bt = s.cut[i];

		cr_assert_eq(bt->no, i, "batches are numbered in cut order");
		cr_assert_eq(bt->ctl, BATCH_DATA);
		cr_assert_eq(bt->first_seq, expect);
		for (j = 0; j < bt->n; j++)
			cr_assert_eq(bt->buf->recs[j].seq, expect++);
	}
	cr_assert_eq(expect, 1010);
	cr_assert_eq(batcher_next_seq(b), 1010);
	done_all(b, &s);
	batcher_free(b);
}

Test(batcher, raw_bytes_stay_intact_in_the_batch)
{
	struct sink s;
	struct batcher *b = make(&s, 100, 4096, 1 << 20, 0);

	add(b, "<13>1 - host app - - - first");
	add(b, "second");
	batcher_cut(b);
	cr_assert_eq(s.ncut, 1);
	cr_assert_eq(s.cut[0]->n, 2);
	cr_assert_eq(s.cut[0]->events, 2);
	cr_assert_eq(s.cut[0]->event_bytes, 28 + 6);
	cr_assert_eq(memcmp(s.cut[0]->buf->recs[0].raw.p,
	    "<13>1 - host app - - - first", 28), 0);
	cr_assert_eq(memcmp(s.cut[0]->buf->recs[1].raw.p, "second", 6), 0);
	done_all(b, &s);
	batcher_free(b);
}

Test(batcher, cut_when_the_bytes_would_not_fit)
{
	struct sink s;
	struct batcher *b = make(&s, 1000, 4096, 1 << 20, 0);
	char big[1500];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	add(b, big);
	add(b, big);
	cr_assert_eq(s.ncut, 0, "2998 bytes fit in 4096");
	add(b, big);
	cr_assert_eq(s.ncut, 1, "the third does not: the open batch is cut");
	cr_assert_eq(s.cut[0]->n, 2);
	cr_assert_eq(batcher_pending(b), 1);
	cr_assert_eq(s.opened, 2);
	done_all(b, &s);
	batcher_free(b);
}

Test(batcher, extra_room_is_kept_in_the_same_batch)
{
	struct sink s;
	struct batcher *b = make(&s, 1000, 4096, 1 << 20, 0);
	cst_record *r;
	uint8_t *raw, *peer;
	char big[3000];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	add(b, big);
	/* 1000 raw + 200 extra do not fit after 2999: a new batch. */
	cr_assert_eq(batcher_add(b, 1000, 200, &r, &raw), 0);
	cr_assert_eq(s.ncut, 1);
	peer = batcher_alloc(b, 200);
	cr_assert_eq(peer, raw + 1000, "extra room follows the raw bytes");
	cr_assert_eq(batcher_pending(b), 1);
	done_all(b, &s);
	batcher_free(b);
}

Test(batcher, a_message_larger_than_a_batch_is_refused)
{
	struct sink s;
	struct batcher *b = make(&s, 10, 4096, 1 << 20, 7);
	cst_record *r;
	uint8_t *raw;

	cr_assert_eq(batcher_add(b, 4097, 0, &r, &raw), CST_ETOOBIG);
	cr_assert_eq(batcher_add(b, 4000, 100, &r, &raw), CST_ETOOBIG);
	cr_assert_eq(batcher_next_seq(b), 7, "no sequence number is used up");
	batcher_free(b);
}

Test(batcher, generation_changes_with_each_batch)
{
	struct sink s;
	struct batcher *b = make(&s, 2, 4096, 1 << 20, 0);
	uint64_t g1, g2;

	add(b, "a");
	g1 = batcher_gen(b);
	add(b, "b");
	cr_assert_eq(batcher_gen(b), g1);
	add(b, "c");
	g2 = batcher_gen(b);
	cr_assert_neq(g1, g2, "a peer copied into one batch is not in the next");
	cr_assert_neq(g1, 0, "0 never names a batch");
	batcher_cut(b);
	done_all(b, &s);
	batcher_free(b);
}

Test(batcher, control_batches_keep_their_place)
{
	struct sink s;
	struct batcher *b = make(&s, 100, 4096, 1 << 20, 5);

	add(b, "a");
	add(b, "b");
	cr_assert_eq(batcher_control(b, BATCH_ROTATE), 0);
	add(b, "c");
	cr_assert_eq(batcher_control(b, BATCH_STOP), 0);
	cr_assert_eq(s.ncut, 4);
	cr_assert_eq(s.cut[0]->ctl, BATCH_DATA);
	cr_assert_eq(s.cut[0]->n, 2);
	cr_assert_eq(s.cut[1]->ctl, BATCH_ROTATE);
	cr_assert_eq(s.cut[1]->first_seq, 7);
	cr_assert_null(s.cut[1]->buf);
	cr_assert_eq(s.cut[2]->ctl, BATCH_DATA);
	cr_assert_eq(s.cut[2]->first_seq, 7);
	cr_assert_eq(s.cut[3]->ctl, BATCH_STOP);
	cr_assert_eq(s.cut[3]->first_seq, 8);
	cr_assert_eq(s.cut[3]->no, 3);
	done_all(b, &s);
	batcher_free(b);
}

Test(batcher, an_empty_batch_is_never_cut)
{
	struct sink s;
	struct batcher *b = make(&s, 100, 4096, 1 << 20, 0);

	batcher_cut(b);
	cr_assert_eq(s.ncut, 0);
	cr_assert_eq(batcher_control(b, BATCH_ROTATE), 0);
	cr_assert_eq(s.ncut, 1, "only the control batch");
	done_all(b, &s);
	batcher_free(b);
}

/*
 * Back-pressure: with room for two batch buffers, the batcher says
 * "over" once a second would pass the budget, lets one more be used
 * (bytes already read must go somewhere), and says "not over" again
 * once built buffers come back.
 */
Test(batcher, memory_budget_tells_when_to_stop_reading)
{
	struct sink s;
	size_t bufsize = 10 * sizeof(cst_record) + 4096;
	struct batcher *b = make(&s, 10, 4096, 2 * bufsize, 0);
	struct batchbuf *buf;
	int i;

	cr_assert(!batcher_over(b));
	add(b, "a");
	cr_assert(!batcher_over(b), "one buffer in use, room for another");
	for (i = 0; i < 10; i++)
		add(b, "b");
	cr_assert_eq(s.ncut, 1);
	cr_assert(batcher_over(b), "two in use: a third would pass the budget");
	for (i = 0; i < 10; i++)
		add(b, "c");
	cr_assert_eq(s.ncut, 2, "adds go on past the budget, by one buffer");
	cr_assert_eq(batcher_inflight(b), 3 * bufsize);

	/* A worker built batch 0: its buffer returns, its draft is held. */
	buf = s.cut[0]->buf;
	s.cut[0]->buf = NULL;
	s.cut[0]->held = 100;
	buf->draft_bytes = 100;
	batcher_buf_done(b, buf);
	cr_assert_eq(batcher_inflight(b), 2 * bufsize + 100);
	cr_assert(batcher_over(b));
	done_all(b, &s);
	cr_assert_eq(batcher_inflight(b), bufsize, "the open batch's buffer");
	cr_assert(!batcher_over(b));
	batcher_free(b);
}

/* A budget smaller than one batch must not stop reading for ever. */
Test(batcher, nothing_in_flight_is_never_over)
{
	struct sink s;
	struct batcher *b = make(&s, 10, 4096, 1024, 0);

	cr_assert(!batcher_over(b));
	add(b, "a");
	cr_assert(batcher_over(b));
	batcher_cut(b);
	done_all(b, &s);
	cr_assert_eq(batcher_inflight(b), 0);
	cr_assert(!batcher_over(b), "listeners can always resume");
	batcher_free(b);
}

Test(batcher, buffers_are_reused)
{
	struct sink s;
	struct batcher *b = make(&s, 2, 4096, 1 << 20, 0);
	struct batchbuf *first;

	add(b, "a");
	add(b, "b");
	add(b, "c");
	first = s.cut[0]->buf;
	done_all(b, &s);
	add(b, "d");
	add(b, "e");
	batcher_cut(b);
	cr_assert_eq(s.ncut, 2);
	cr_assert_neq(s.cut[0]->buf, first, "c and d: the buffer still open");
	cr_assert_eq(s.cut[1]->buf, first, "e: the pooled buffer again");
	done_all(b, &s);
	batcher_free(b);
}
