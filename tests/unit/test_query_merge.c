/*
 * custody-query's merge of several stores: receive-time order, ties by
 * chain id then sequence number, each chain's own order kept, -n and
 * --reverse, and producers released when the merge stops early.
 */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "custody/format.h"

#include "query_merge.h"

static volatile sig_atomic_t never;

/* A record: "<label>:<seq>\n" with its time. */
struct rec {
	int64_t t;
	uint64_t seq;
};

/* Pushes recs[0..n) as batches of per records, as a store's pool would. */
static void
push_all(struct query_merge_chan *c, char label, const struct rec *recs, size_t n,
    size_t per)
{
	char out[4096];
	size_t ends[64], i, k, len;
	int64_t times[64];
	uint64_t seqs[64];

	for (i = 0; i < n; i += per) {
		len = 0;
		for (k = 0; k < per && i + k < n; k++) {
			len += (size_t)snprintf(out + len, sizeof(out) - len,
			    "%c:%llu\n", label,
			    (unsigned long long)recs[i + k].seq);
			ends[k] = len;
			times[k] = recs[i + k].t;
			seqs[k] = recs[i + k].seq;
		}
		cr_assert_eq(query_merge_push(c, (const uint8_t *)out, ends,
		    times, seqs, k), 0);
	}
	query_merge_close(c);
}

static char *
merge(struct query_merge_chan **c, size_t n, int reverse, int tail, uint64_t limit,
    uint64_t *shown)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_not_null(f);
	cr_assert_eq(query_merge_run(c, n, reverse, tail, limit, &never, f,
	    shown), 0);
	fclose(f);
	return (buf);
}

static const uint8_t chain_lo[CST_CHAIN_ID_LEN] = { 0x01 };
static const uint8_t chain_hi[CST_CHAIN_ID_LEN] = { 0xf0 };

Test(query_merge, order_and_ties)
{
	/* b's chain id sorts first: at equal times b comes before a. */
	static const struct rec a[] = { { 10, 1 }, { 20, 2 }, { 20, 3 },
	    { 35, 4 }, { 50, 5 } };
	static const struct rec b[] = { { 5, 7 }, { 20, 8 }, { 30, 9 },
	    { 50, 10 } };
	struct query_merge_chan *c[2];
	uint64_t shown;
	char *s;

	c[0] = query_merge_chan_new(8, chain_hi);
	c[1] = query_merge_chan_new(8, chain_lo);
	push_all(c[0], 'a', a, 5, 2);
	push_all(c[1], 'b', b, 4, 3);
	s = merge(c, 2, 0, 0, UINT64_MAX, &shown);
	cr_assert_str_eq(s, "b:7\na:1\nb:8\na:2\na:3\nb:9\na:4\nb:10\na:5\n");
	cr_assert_eq(shown, 9);
	free(s);
	query_merge_chan_free(c[0]);
	query_merge_chan_free(c[1]);
}

Test(query_merge, chain_order_kept_when_time_goes_back)
{
	/* A clock step back in a: its records still come in chain order. */
	static const struct rec a[] = { { 10, 1 }, { 40, 2 }, { 15, 3 } };
	static const struct rec b[] = { { 20, 1 }, { 30, 2 } };
	struct query_merge_chan *c[2];
	uint64_t shown;
	char *s;

	c[0] = query_merge_chan_new(8, chain_lo);
	c[1] = query_merge_chan_new(8, chain_hi);
	push_all(c[0], 'a', a, 3, 1);
	push_all(c[1], 'b', b, 2, 1);
	s = merge(c, 2, 0, 0, UINT64_MAX, &shown);
	cr_assert_str_eq(s, "a:1\nb:1\nb:2\na:2\na:3\n");
	free(s);
	query_merge_chan_free(c[0]);
	query_merge_chan_free(c[1]);
}

Test(query_merge, reverse_limit_and_tail)
{
	/* Producers walk newest first when the merge is reversed. */
	static const struct rec a[] = { { 50, 5 }, { 30, 3 }, { 10, 1 } };
	static const struct rec b[] = { { 40, 4 }, { 30, 2 }, { 20, 2 } };
	struct query_merge_chan *c[2];
	uint64_t shown;
	char *s;

	c[0] = query_merge_chan_new(8, chain_lo);
	c[1] = query_merge_chan_new(8, chain_hi);
	push_all(c[0], 'a', a, 3, 2);
	push_all(c[1], 'b', b, 3, 2);
	/* -n 3: the newest three, printed oldest first. */
	s = merge(c, 2, 1, 1, 3, &shown);
	cr_assert_str_eq(s, "b:2\nb:4\na:5\n");
	cr_assert_eq(shown, 3);
	free(s);
	query_merge_chan_free(c[0]);
	query_merge_chan_free(c[1]);
}

Test(query_merge, empty_and_single)
{
	static const struct rec a[] = { { 1, 1 }, { 2, 2 } };
	struct query_merge_chan *c[3];
	uint64_t shown;
	char *s;

	c[0] = query_merge_chan_new(2, chain_lo);
	c[1] = query_merge_chan_new(2, chain_hi);
	c[2] = query_merge_chan_new(2, chain_hi);
	query_merge_close(c[0]);
	push_all(c[1], 'a', a, 2, 1);
	query_merge_close(c[2]);
	s = merge(c, 3, 0, 0, UINT64_MAX, &shown);
	cr_assert_str_eq(s, "a:1\na:2\n");
	free(s);
	query_merge_chan_free(c[0]);
	query_merge_chan_free(c[1]);
	query_merge_chan_free(c[2]);
}

struct producer {
	struct query_merge_chan *c;
	int last;             /* what the last push returned */
	size_t pushed;
};

static void *
produce_forever(void *arg)
{
	struct producer *p = arg;
	char out[] = "x\n";
	size_t end = 2;
	int64_t t;
	uint64_t seq;

	for (seq = 0;; seq++) {
		t = (int64_t)seq;
		if ((p->last = query_merge_push(p->c, (const uint8_t *)out,
		    &end, &t, &seq, 1)) != 0)
			break;
		p->pushed++;
	}
	query_merge_close(p->c);
	return (NULL);
}

Test(query_merge, stopping_early_releases_the_producer)
{
	struct producer p;
	struct query_merge_chan *c[1];
	pthread_t t;
	uint64_t shown;
	char *s;

	memset(&p, 0, sizeof(p));
	c[0] = p.c = query_merge_chan_new(2, chain_lo);
	cr_assert_eq(pthread_create(&t, NULL, produce_forever, &p), 0);
	s = merge(c, 1, 0, 0, 5, &shown);
	cr_assert_eq(shown, 5);
	/* The producer, blocked on a full channel, is told to stop. */
	pthread_join(t, NULL);
	cr_assert_eq(p.last, 1);
	cr_assert(p.pushed <= 5 + 2 + 1, "memory stays bounded: %zu pushed",
	    p.pushed);
	free(s);
	query_merge_chan_free(c[0]);
}

Test(query_merge, cmp)
{
	cr_assert_lt(query_merge_cmp(1, chain_hi, 9, 2, chain_lo, 0), 0);
	cr_assert_lt(query_merge_cmp(2, chain_lo, 9, 2, chain_hi, 0), 0);
	cr_assert_lt(query_merge_cmp(2, chain_lo, 1, 2, chain_lo, 2), 0);
	cr_assert_eq(query_merge_cmp(2, chain_lo, 1, 2, chain_lo, 1), 0);
	cr_assert_gt(query_merge_cmp(-1, chain_lo, 1, -2, chain_lo, 1), 0);
}
