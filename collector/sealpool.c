/*
 * The sealer stage: worker threads building drafts.
 */
#include <pthread.h>
#include <stdlib.h>

#include "custody/block.h"
#include "custody/error.h"

#include "sealpool.h"

struct worker {
	struct sealpool *pool;
	pthread_t thr;
	cst_sealer *sealer;
	int started;
};

struct sealpool {
	struct sealpool_ops ops;
	void *ctx;
	pthread_mutex_t mtx;
	pthread_cond_t cond;
	struct batch *head;
	struct batch *tail;
	size_t depth;    /* queued plus being built */
	int stop;
	unsigned n;
	struct worker *w;
};

static void
build(struct worker *wk, struct batch *bt)
{
	struct sealpool *p = wk->pool;
	struct batchbuf *buf = bt->buf;

	bt->err = cst_sealer_build(wk->sealer, buf->recs, bt->n, &bt->draft);
	/* The records borrow from buf: it goes back only after the build. */
	bt->buf = NULL;
	/* Only the compressed bytes are touched: that is what is resident. */
	bt->held = bt->draft.payload.len;
	buf->draft_bytes = bt->held;
	p->ops.built(p->ctx, buf);
}

static void *
worker_main(void *arg)
{
	struct worker *wk = arg;
	struct sealpool *p = wk->pool;
	struct batch *bt;

	/* Names an operator sees in top -H and perf. */
	pthread_setname_np(pthread_self(), "custodyd-seal");
	for (;;) {
		pthread_mutex_lock(&p->mtx);
		while (p->head == NULL && !p->stop)
			pthread_cond_wait(&p->cond, &p->mtx);
		if ((bt = p->head) == NULL) {
			pthread_mutex_unlock(&p->mtx);
			break;
		}
		if ((p->head = bt->next) == NULL)
			p->tail = NULL;
		pthread_mutex_unlock(&p->mtx);

		bt->next = NULL;
		if (bt->ctl == BATCH_DATA)
			build(wk, bt);
		p->ops.next(p->ctx, bt);

		pthread_mutex_lock(&p->mtx);
		p->depth--;
		pthread_mutex_unlock(&p->mtx);
	}
	return (NULL);
}

int
sealpool_start(unsigned nthreads, int level, const struct sealpool_ops *ops,
    void *ctx, struct sealpool **out)
{
	struct sealpool *p;
	unsigned i;
	int rc = CST_ENOMEM;

	if (nthreads == 0)
		return (CST_EINVAL);
	if ((p = calloc(1, sizeof(*p))) == NULL)
		goto err0;
	if ((p->w = calloc(nthreads, sizeof(*p->w))) == NULL)
		goto err1;
	p->ops = *ops;
	p->ctx = ctx;
	p->n = nthreads;
	pthread_mutex_init(&p->mtx, NULL);
	pthread_cond_init(&p->cond, NULL);
	for (i = 0; i < nthreads; i++) {
		p->w[i].pool = p;
		if ((p->w[i].sealer = cst_sealer_new(level)) == NULL)
			goto err2;
		if (pthread_create(&p->w[i].thr, NULL, worker_main,
		    &p->w[i]) != 0)
			goto err2;
		p->w[i].started = 1;
	}
	*out = p;
	return (0);

err2:
	sealpool_stop(p);
	return (rc);
err1:
	free(p);
err0:
	return (rc);
}

void
sealpool_put(struct sealpool *p, struct batch *bt)
{

	bt->next = NULL;
	pthread_mutex_lock(&p->mtx);
	if (p->tail != NULL)
		p->tail->next = bt;
	else
		p->head = bt;
	p->tail = bt;
	p->depth++;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->mtx);
}

size_t
sealpool_depth(struct sealpool *p)
{
	size_t d;

	pthread_mutex_lock(&p->mtx);
	d = p->depth;
	pthread_mutex_unlock(&p->mtx);
	return (d);
}

void
sealpool_stop(struct sealpool *p)
{
	unsigned i;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mtx);
	p->stop = 1;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->mtx);
	for (i = 0; i < p->n; i++) {
		if (p->w[i].started)
			pthread_join(p->w[i].thr, NULL);
		cst_sealer_free(p->w[i].sealer);
	}
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->mtx);
	free(p->w);
	free(p);
}
