/*
 * The merge of several stores' matches in receive-time order
 * (query_merge.h).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "custody/buf.h"
#include "custody/error.h"
#include "custody/format.h"

#include "query_merge.h"

/* One block's matches, copied out of the pool's job. */
struct batch {
	cst_buf out;
	size_t *ends;
	int64_t *times;
	uint64_t *seqs;
	size_t n;
	size_t pos;           /* next record to take */
};

struct query_merge_chan {
	uint8_t chain[CST_CHAIN_ID_LEN];
	pthread_mutex_t mu;
	pthread_cond_t cv;    /* a batch pushed, popped, or the end */
	struct batch *ring;
	size_t cap;
	size_t head;
	size_t count;
	int closed;
	int cancelled;
	struct batch cur;     /* the consumer's batch, out of the ring */
	int have_cur;
	uint64_t taken;       /* records of this channel output */
};

static void
batch_close(struct batch *b)
{

	cst_buf_close(&b->out);
	free(b->ends);
	free(b->times);
	free(b->seqs);
	memset(b, 0, sizeof(*b));
}

uint64_t
query_merge_chan_taken(const struct query_merge_chan *c)
{

	return (c->taken);
}

struct query_merge_chan *
query_merge_chan_new(size_t cap, const uint8_t chain[CST_CHAIN_ID_LEN])
{
	struct query_merge_chan *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return (NULL);
	if ((c->ring = calloc(cap, sizeof(*c->ring))) == NULL) {
		free(c);
		return (NULL);
	}
	c->cap = cap;
	memcpy(c->chain, chain, CST_CHAIN_ID_LEN);
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	return (c);
}

void
query_merge_chan_free(struct query_merge_chan *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->count; i++)
		batch_close(&c->ring[(c->head + i) % c->cap]);
	batch_close(&c->cur);
	free(c->ring);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	free(c);
}

int
query_merge_push(struct query_merge_chan *c, const uint8_t *out,
    const size_t *ends, const int64_t *times, const uint64_t *seqs, size_t n)
{
	struct batch b;

	if (n == 0)
		return (0);
	memset(&b, 0, sizeof(b));
	cst_buf_init(&b.out);
	if (cst_buf_append(&b.out, out, ends[n - 1]) != 0 ||
	    (b.ends = malloc(n * sizeof(*b.ends))) == NULL ||
	    (b.times = malloc(n * sizeof(*b.times))) == NULL ||
	    (b.seqs = malloc(n * sizeof(*b.seqs))) == NULL) {
		batch_close(&b);
		return (CST_ENOMEM);
	}
	memcpy(b.ends, ends, n * sizeof(*ends));
	memcpy(b.times, times, n * sizeof(*times));
	memcpy(b.seqs, seqs, n * sizeof(*seqs));
	b.n = n;
	pthread_mutex_lock(&c->mu);
	while (!c->cancelled && c->count == c->cap)
		pthread_cond_wait(&c->cv, &c->mu);
	if (c->cancelled) {
		pthread_mutex_unlock(&c->mu);
		batch_close(&b);
		return (1);
	}
	c->ring[(c->head + c->count) % c->cap] = b;
	c->count++;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	return (0);
}

void
query_merge_close(struct query_merge_chan *c)
{

	pthread_mutex_lock(&c->mu);
	c->closed = 1;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

static void
chan_cancel(struct query_merge_chan *c)
{

	pthread_mutex_lock(&c->mu);
	c->cancelled = 1;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

/*
 * Makes c->cur a batch with a record left, waiting for the producer.
 * Returns 1, or 0 when c is closed and drained.
 */
static int
chan_ready(struct query_merge_chan *c)
{

	if (c->have_cur && c->cur.pos < c->cur.n)
		return (1);
	if (c->have_cur) {
		batch_close(&c->cur);
		c->have_cur = 0;
	}
	pthread_mutex_lock(&c->mu);
	while (c->count == 0 && !c->closed)
		pthread_cond_wait(&c->cv, &c->mu);
	if (c->count > 0) {
		c->cur = c->ring[c->head];
		memset(&c->ring[c->head], 0, sizeof(c->ring[c->head]));
		c->head = (c->head + 1) % c->cap;
		c->count--;
		c->have_cur = 1;
		pthread_cond_broadcast(&c->cv);
	}
	pthread_mutex_unlock(&c->mu);
	return (c->have_cur);
}

int
query_merge_cmp(int64_t ta, const uint8_t *ca, uint64_t sa, int64_t tb,
    const uint8_t *cb, uint64_t sb)
{
	int d;

	if (ta != tb)
		return (ta < tb ? -1 : 1);
	if ((d = memcmp(ca, cb, CST_CHAIN_ID_LEN)) != 0)
		return (d);
	if (sa != sb)
		return (sa < sb ? -1 : 1);
	return (0);
}

static int
chan_cmp(const struct query_merge_chan *a, const struct query_merge_chan *b)
{
	const struct batch *x = &a->cur, *y = &b->cur;

	return (query_merge_cmp(x->times[x->pos], a->chain, x->seqs[x->pos],
	    y->times[y->pos], b->chain, y->seqs[y->pos]));
}

/* Holds one record's output for the tail. */
static int
hold(cst_buf *tb, size_t **ends, size_t *n, size_t *cap, const uint8_t *p,
    size_t len)
{
	size_t *e, c;
	int rc;

	if (*n == *cap) {
		c = *cap == 0 ? 64 : 2 * *cap;
		if ((e = realloc(*ends, c * sizeof(*e))) == NULL)
			return (CST_ENOMEM);
		*ends = e;
		*cap = c;
	}
	if ((rc = cst_buf_append(tb, p, len)) != 0)
		return (rc);
	(*ends)[(*n)++] = tb->len;
	return (0);
}

int
query_merge_run(struct query_merge_chan **chans, size_t n, int reverse,
    int tail, uint64_t limit, volatile sig_atomic_t *stopping, FILE *out,
    uint64_t *shown)
{
	struct query_merge_chan *best;
	struct batch *b;
	cst_buf tb;
	size_t *ends = NULL, nt = 0, cap = 0, i, start, len;
	int live, rc = 0;

	*shown = 0;
	cst_buf_init(&tb);
	while (rc == 0 && *shown < limit && !*stopping) {
		best = NULL;
		live = 0;
		for (i = 0; i < n; i++) {
			if (!chan_ready(chans[i]))
				continue;
			live = 1;
			if (best == NULL || (reverse ?
			    chan_cmp(chans[i], best) > 0 :
			    chan_cmp(chans[i], best) < 0))
				best = chans[i];
		}
		if (!live)
			break;
		b = &best->cur;
		start = b->pos > 0 ? b->ends[b->pos - 1] : 0;
		len = b->ends[b->pos] - start;
		if (tail)
			rc = hold(&tb, &ends, &nt, &cap, b->out.p + start, len);
		else if (fwrite(b->out.p + start, 1, len, out) != len)
			rc = CST_EIO;
		b->pos++;
		best->taken++;
		(*shown)++;
	}
	for (i = 0; i < n; i++)
		chan_cancel(chans[i]);
	for (i = nt; rc == 0 && i > 0; i--) {
		start = i > 1 ? ends[i - 2] : 0;
		if (fwrite(tb.p + start, 1, ends[i - 1] - start, out) !=
		    ends[i - 1] - start)
			rc = CST_EIO;
	}
	free(ends);
	cst_buf_close(&tb);
	return (rc);
}
