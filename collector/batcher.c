/*
 * The batcher: sequence numbers, batches, and the memory budget.
 *
 * Runs on the event loop thread only; what other threads hand back (built
 * buffers, durable batches) comes through the loop.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "custody/block.h"
#include "custody/error.h"

#include "batcher.h"

struct batcher {
	struct batcher_cfg cfg;
	struct batcher_ops ops;
	void *ctx;
	size_t bufsize;         /* bytes one batchbuf takes */
	uint64_t next_seq;
	uint64_t next_no;       /* batch number of the next cut */
	uint64_t gen;
	struct batch *open;     /* NULL when no batch is open */
	size_t reserved;        /* arena bytes the last add set aside */
	struct batchbuf *pool;  /* free buffers */
	size_t nalloc;          /* buffers allocated, pooled or in use */
	size_t nused;           /* buffers in use */
	size_t held;            /* draft bytes of built, not yet done, batches */
};

int
batcher_new(const struct batcher_cfg *cfg, const struct batcher_ops *ops,
    void *ctx, uint64_t next_seq, struct batcher **out)
{
	struct batcher *b;

	if (cfg->max_records == 0 || cfg->max_bytes == 0 ||
	    cfg->max_records > SIZE_MAX / sizeof(cst_record) / 2)
		goto err0;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return (CST_ENOMEM);
	b->cfg = *cfg;
	b->ops = *ops;
	b->ctx = ctx;
	b->bufsize = cfg->max_records * sizeof(cst_record) + cfg->max_bytes;
	b->next_seq = next_seq;
	*out = b;
	return (0);

err0:
	return (CST_EINVAL);
}

static void
buf_free(struct batchbuf *buf)
{

	if (buf == NULL)
		return;
	free(buf->recs);
	free(buf->arena);
	free(buf);
}

/* Takes a buffer from the pool or allocates one, budget or not. */
static struct batchbuf *
buf_get(struct batcher *b)
{
	struct batchbuf *buf;

	if ((buf = b->pool) != NULL) {
		b->pool = buf->next;
		goto done;
	}
	if ((buf = calloc(1, sizeof(*buf))) == NULL)
		goto err0;
	buf->cap_recs = b->cfg.max_records;
	buf->cap_bytes = b->cfg.max_bytes;
	/* malloc, not calloc: pages are touched only as records fill them. */
	if ((buf->recs = malloc(buf->cap_recs * sizeof(cst_record))) == NULL ||
	    (buf->arena = malloc(buf->cap_bytes)) == NULL)
		goto err1;
	b->nalloc++;
done:
	buf->next = NULL;
	buf->draft_bytes = 0;
	b->nused++;
	return (buf);

err1:
	buf_free(buf);
err0:
	return (NULL);
}

static void
buf_put(struct batcher *b, struct batchbuf *buf)
{

	b->nused--;
	/* A buffer allocated past the budget is not kept. */
	if (b->nalloc * b->bufsize + b->held > b->cfg.max_inflight) {
		b->nalloc--;
		buf_free(buf);
		return;
	}
	buf->next = b->pool;
	b->pool = buf;
}

void
batcher_done(struct batcher *b, struct batch *bt)
{

	if (bt == NULL)
		return;
	if (bt->buf != NULL)
		buf_put(b, bt->buf);
	b->held -= bt->held;
	cst_draft_close(&bt->draft);
	free(bt);
}

void
batcher_free(struct batcher *b)
{
	struct batchbuf *buf;

	if (b == NULL)
		return;
	batcher_done(b, b->open);
	while ((buf = b->pool) != NULL) {
		b->pool = buf->next;
		buf_free(buf);
	}
	free(b);
}

static struct batch *
batch_new(void)
{
	struct batch *bt;

	if ((bt = calloc(1, sizeof(*bt))) == NULL)
		return (NULL);
	cst_draft_init(&bt->draft);
	return (bt);
}

static int
open_batch(struct batcher *b)
{
	struct batch *bt;

	if ((bt = batch_new()) == NULL)
		goto err0;
	if ((bt->buf = buf_get(b)) == NULL)
		goto err1;
	bt->ctl = BATCH_DATA;
	bt->first_seq = b->next_seq;
	b->open = bt;
	b->gen++;
	return (0);

err1:
	free(bt);
err0:
	return (CST_ENOMEM);
}

void
batcher_cut(struct batcher *b)
{
	struct batch *bt = b->open;

	if (bt == NULL || bt->n == 0)
		return;
	b->open = NULL;
	b->reserved = 0;
	bt->no = b->next_no++;
	b->ops.cut(b->ctx, bt);
}

int
batcher_add(struct batcher *b, size_t len, size_t extra, cst_record **rec,
    uint8_t **raw)
{
	struct batch *bt;
	cst_record *r;
	int opened = 0;
	int rc;

	if (len > b->cfg.max_bytes || extra > b->cfg.max_bytes - len)
		return (CST_ETOOBIG);
	bt = b->open;
	if (bt != NULL && (bt->n == bt->buf->cap_recs ||
	    len + extra > bt->buf->cap_bytes - bt->used))
		batcher_cut(b);
	if (b->open == NULL) {
		if ((rc = open_batch(b)) != 0)
			return (rc);
		opened = 1;
	}
	bt = b->open;
	r = &bt->buf->recs[bt->n++];
	memset(r, 0, sizeof(*r));
	r->seq = b->next_seq++;
	*raw = bt->buf->arena + bt->used;
	bt->used += len;
	b->reserved = extra;
	*rec = r;
	if (opened)
		b->ops.opened(b->ctx);
	return (0);
}

uint8_t *
batcher_alloc(struct batcher *b, size_t n)
{
	struct batch *bt = b->open;
	uint8_t *p;

	/* The caller reserved n with the add; anything else is a bug here. */
	if (bt == NULL || n > b->reserved)
		abort();
	p = bt->buf->arena + bt->used;
	bt->used += n;
	b->reserved -= n;
	return (p);
}

void
batcher_count_event(struct batcher *b, size_t len)
{

	b->open->events++;
	b->open->event_bytes += len;
}

uint64_t
batcher_cuts(const struct batcher *b)
{

	return (b->next_no);
}

int
batcher_control(struct batcher *b, int ctl)
{
	struct batch *bt;

	batcher_cut(b);
	if ((bt = batch_new()) == NULL)
		return (CST_ENOMEM);
	bt->ctl = ctl;
	bt->first_seq = b->next_seq;
	bt->no = b->next_no++;
	b->ops.cut(b->ctx, bt);
	return (0);
}

void
batcher_buf_done(struct batcher *b, struct batchbuf *buf)
{

	b->held += buf->draft_bytes;
	buf_put(b, buf);
}

int
batcher_over(const struct batcher *b)
{

	/* With nothing in flight, nothing would ever free memory to resume. */
	if (b->nused == 0 && b->held == 0)
		return (0);
	return ((b->nused + 1) * b->bufsize + b->held > b->cfg.max_inflight);
}

uint64_t
batcher_gen(const struct batcher *b)
{

	return (b->gen);
}

uint64_t
batcher_next_seq(const struct batcher *b)
{

	return (b->next_seq);
}

size_t
batcher_pending(const struct batcher *b)
{

	return (b->open != NULL ? b->open->n : 0);
}

size_t
batcher_inflight(const struct batcher *b)
{

	return (b->nused * b->bufsize + b->held);
}
