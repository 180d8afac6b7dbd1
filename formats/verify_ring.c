/*
 * The ring between the scanner and the consumer, and the worker threads
 * that check signatures and open payloads of the frames in it (see
 * verify.c).  A worker takes up to CST_OPEN_MAX frames at a time and opens
 * them together so that their hashes share SIMD lanes; with no workers
 * the consumer does the same when the ring is full.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "custody/block.h"
#include "custody/error.h"
#include "verify_int.h"

/* Counts the opened block's records by kind and copies its audit records. */
static void
work_records(cst_opener *o, struct item *it)
{
	struct audit *a, *na;
	cst_record rec;
	size_t i, n, cap = 0;
	int kind;

	n = cst_opener_count(o);
	for (i = 0; i < n; i++) {
		if ((kind = cst_opener_kind(o, i)) < 0)
			continue;
		it->kinds[kind]++;
		if (kind == CST_REC_EVENT)
			continue;
		if (cst_opener_record(o, i, &rec, NULL) != 0)
			continue;
		if (it->naudits == cap) {
			cap = cap == 0 ? 4 : cap * 2;
			if ((na = realloc(it->audits, cap * sizeof(*na))) ==
			    NULL) {
				it->work_rc = CST_ENOMEM;
				return;
			}
			it->audits = na;
		}
		a = &it->audits[it->naudits];
		a->kind = rec.kind;
		a->seq = rec.seq;
		a->recv_ns = rec.recv_ns;
		a->detail_len = rec.detail.len;
		if ((a->detail = malloc(rec.detail.len + 1)) == NULL) {
			it->work_rc = CST_ENOMEM;
			return;
		}
		if (rec.detail.len > 0)
			memcpy(a->detail, rec.detail.p, rec.detail.len);
		it->naudits++;
	}
}

/*
 * Checks the signatures and opens the payloads of the n (at most
 * CST_OPEN_MAX) frames its[], the openers o[] side by side, so that the
 * blocks' hashes share SIMD lanes.
 */
static void
work_frames(cst_opener *const *o, struct item *const *its, size_t n)
{
	const cst_frame *f[CST_OPEN_MAX];
	struct item *open[CST_OPEN_MAX];
	const char *rule[CST_OPEN_MAX];
	int rc[CST_OPEN_MAX];
	struct item *it;
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		it = its[i];
		it->sig_rc = it->has_pk ? cst_frame_verify_sig(&it->f,
		    it->pk) : CST_EKEY;
		/* R-BLK-3: nothing is decompressed before the signature holds. */
		if (it->sig_rc != 0)
			continue;
		f[k] = &it->f;
		open[k++] = it;
	}
	if (k == 0)
		return;
	cst_block_open_many(o, f, k, rc, rule);
	for (i = 0; i < k; i++) {
		open[i]->open_rc = rc[i];
		open[i]->rule = rule[i];
		if (rc[i] == 0)
			work_records(o[i], open[i]);
	}
}

/* Frees the openers o[0..CST_OPEN_MAX); NULL entries are skipped. */
static void
openers_free(cst_opener **o)
{
	size_t i;

	for (i = 0; i < CST_OPEN_MAX; i++) {
		cst_opener_free(o[i]);
		o[i] = NULL;
	}
}

/* Makes CST_OPEN_MAX openers in o.  Returns 0 or CST_ENOMEM. */
static int
openers_new(cst_opener **o)
{
	size_t i;

	for (i = 0; i < CST_OPEN_MAX; i++)
		if ((o[i] = cst_opener_new()) == NULL) {
			openers_free(o);
			return (CST_ENOMEM);
		}
	return (0);
}

/*
 * Takes up to CST_OPEN_MAX frames not yet taken, from next_job on, into
 * its[] (under v->mtx when there are workers).  Returns how many.
 */
static size_t
take_frames(cst_verifier *v, struct item **its)
{
	struct item *it;
	size_t n = 0;

	/*
	 * Items before head are consumed (their slots may hold newer
	 * ones); non-frame items are done when queued: skip both.
	 */
	if (v->next_job < v->head)
		v->next_job = v->head;
	for (; v->next_job < v->tail && n < CST_OPEN_MAX; v->next_job++) {
		it = &v->ring[v->next_job % v->cap];
		if (!it->done)
			its[n++] = it;
	}
	return (n);
}

static void *
worker_main(void *arg)
{
	cst_verifier *v = arg;
	struct item *its[CST_OPEN_MAX];
	cst_opener *o[CST_OPEN_MAX];
	size_t i, n;
	int rc;

	rc = openers_new(o);
	pthread_mutex_lock(&v->mtx);
	for (;;) {
		if ((n = take_frames(v, its)) == 0) {
			if (v->quit)
				break;
			pthread_cond_wait(&v->cv_work, &v->mtx);
			continue;
		}
		pthread_mutex_unlock(&v->mtx);
		if (rc != 0)
			for (i = 0; i < n; i++)
				its[i]->work_rc = rc;
		else
			work_frames(o, its, n);
		pthread_mutex_lock(&v->mtx);
		for (i = 0; i < n; i++)
			its[i]->done = 1;
		pthread_cond_broadcast(&v->cv_done);
	}
	pthread_mutex_unlock(&v->mtx);
	openers_free(o);
	return (NULL);
}

static void
item_clear(struct item *it)
{
	size_t i;

	for (i = 0; i < it->naudits; i++)
		free(it->audits[i].detail);
	free(it->audits);
	free(it->detail);
	memset(it, 0, sizeof(*it));
}

int
cst_vrf_start_threads(cst_verifier *v)
{
	size_t i;

	/*
	 * Room for every worker's batch of frames and as many again
	 * waiting, so that a worker coming back finds a full batch.
	 */
	v->cap = 2 * CST_OPEN_MAX * ((size_t)v->opts.threads + 1);
	if ((v->ring = calloc(v->cap, sizeof(*v->ring))) == NULL)
		return (CST_ENOMEM);
	if (v->opts.threads == 0)
		return (openers_new(v->openers));
	if ((v->threads = calloc(v->opts.threads, sizeof(*v->threads))) ==
	    NULL)
		return (CST_ENOMEM);
	if (pthread_mutex_init(&v->mtx, NULL) != 0)
		return (CST_EIO);
	if (pthread_cond_init(&v->cv_work, NULL) != 0) {
		pthread_mutex_destroy(&v->mtx);
		return (CST_EIO);
	}
	if (pthread_cond_init(&v->cv_done, NULL) != 0) {
		pthread_cond_destroy(&v->cv_work);
		pthread_mutex_destroy(&v->mtx);
		return (CST_EIO);
	}
	v->sync_ok = 1;
	for (i = 0; i < v->opts.threads; i++) {
		if (pthread_create(&v->threads[i], NULL, worker_main, v) != 0)
			break;
		v->nthreads++;
	}
	/* Fewer threads than asked still verify; none means inline. */
	if (v->nthreads == 0)
		return (openers_new(v->openers));
	return (0);
}

void
cst_vrf_stop_threads(cst_verifier *v)
{
	size_t i;

	if (v->sync_ok) {
		pthread_mutex_lock(&v->mtx);
		v->quit = 1;
		pthread_cond_broadcast(&v->cv_work);
		pthread_mutex_unlock(&v->mtx);
		for (i = 0; i < v->nthreads; i++)
			pthread_join(v->threads[i], NULL);
		pthread_cond_destroy(&v->cv_done);
		pthread_cond_destroy(&v->cv_work);
		pthread_mutex_destroy(&v->mtx);
		v->sync_ok = 0;
	}
	free(v->threads);
	v->threads = NULL;
	v->nthreads = 0;
	openers_free(v->openers);
	if (v->ring != NULL)
		for (i = 0; i < v->cap; i++)
			item_clear(&v->ring[i]);
	free(v->ring);
	v->ring = NULL;
}

/* Takes the oldest item, waiting for its worker, and consumes it. */
void
cst_vrf_consume_one(cst_verifier *v)
{
	struct item *it = &v->ring[v->head % v->cap];
	/* Zeroed only for the optimiser, which cannot see take_frames fill it. */
	struct item *its[CST_OPEN_MAX] = { NULL };
	size_t i, n;

	if (v->nthreads > 0) {
		pthread_mutex_lock(&v->mtx);
		while (!it->done)
			pthread_cond_wait(&v->cv_done, &v->mtx);
		pthread_mutex_unlock(&v->mtx);
	} else if (!it->done) {
		/* Inline, frames wait in the ring to be opened together. */
		n = take_frames(v, its);
		work_frames(v->openers, its, n);
		for (i = 0; i < n; i++)
			its[i]->done = 1;
	}
	switch (it->type) {
	case IT_FRAME:
		cst_vrf_consume_frame(v, it);
		cst_vrf_progress(v, v->done_bytes + it->f.frame_len);
		break;
	case IT_FINDING:
		cst_vrf_consume_finding(v, it);
		break;
	case IT_SEG_BEGIN:
		cst_vrf_consume_seg_begin(v, it);
		break;
	case IT_SEG_END:
		cst_vrf_consume_seg_end(v, it);
		break;
	}
	item_clear(it);
	if (v->nthreads > 0) {
		pthread_mutex_lock(&v->mtx);
		v->head++;
		pthread_mutex_unlock(&v->mtx);
	} else {
		v->head++;
	}
}

/* Returns a free item at the tail of the ring, consuming to make room. */
struct item *
cst_vrf_item_new(cst_verifier *v, int type, size_t file, uint64_t off)
{
	struct item *it;

	while (v->tail - v->head == v->cap)
		cst_vrf_consume_one(v);
	it = &v->ring[v->tail % v->cap];
	memset(it, 0, sizeof(*it));
	it->type = type;
	it->file = file;
	it->off = off;
	return (it);
}

void
cst_vrf_item_push(cst_verifier *v, struct item *it)
{
	int done;

	/* A frame is done once a worker (or consume_one) has opened it. */
	if (it->type != IT_FRAME)
		it->done = 1;
	if (v->nthreads > 0) {
		pthread_mutex_lock(&v->mtx);
		v->tail++;
		pthread_cond_signal(&v->cv_work);
		pthread_mutex_unlock(&v->mtx);
	} else {
		v->tail++;
	}
	/*
	 * Keeps findings flowing while the scanner runs ahead, up to the
	 * first frame not yet opened.
	 */
	for (;;) {
		it = &v->ring[v->head % v->cap];
		if (v->head == v->tail)
			break;
		if (v->nthreads > 0)
			pthread_mutex_lock(&v->mtx);
		done = it->done;
		if (v->nthreads > 0)
			pthread_mutex_unlock(&v->mtx);
		if (!done)
			break;
		cst_vrf_consume_one(v);
	}
}
