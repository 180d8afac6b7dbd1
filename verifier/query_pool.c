/*
 * custody-query's worker pool: blocks are opened (every payload check) on
 * worker threads, a bounded window ahead of the output, and consumed in
 * chain order by the calling thread.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "custody/block.h"
#include "custody/bundle.h"
#include "custody/error.h"
#include "custody/hash.h"
#include "custody/merkle.h"
#include "custody/record.h"

#include "index.h"
#include "query_runs.h"
#include "query.h"
#include "query_cli.h"
#include "query_merge.h"
#include "query_store.h"

/* One block to open: a job of the worker pool. */
struct job {
	size_t bi;            /* index into store->blocks */
	int need_sum;         /* build its index entry while open */
	int rc;
	const char *rule;
	cst_buf out;          /* output of each matching record, back to back */
	size_t *ends;         /* end of each record's output in out */
	size_t nmatch;
	size_t cap;
	uint32_t *leaves;     /* for --bundle: each match's leaf index */
	cst_buf proofs;       /* for --bundle: record and path of each match */
	int64_t *times;       /* for --histogram and the merge */
	uint64_t *seqs;       /* for the merge */
	struct index_entry sum;
	int have_sum;
};

struct pool {
	struct query_opts *o;
	struct query_store *s;
	struct job *jobs;     /* window of W slots */
	size_t *order;        /* block indexes to open, in output order */
	int *need_sum;
	struct query_runs *runs; /* the collector's host name, or NULL */
	size_t njobs;
	size_t w;
	size_t next;
	size_t consumed;
	int *done;            /* per slot: job next - W .. next */
	int stop;
	pthread_mutex_t mu;
	pthread_cond_t cv_space;
	pthread_cond_t cv_done;
};

static void
job_reset(struct job *j)
{

	j->rc = 0;
	j->rule = NULL;
	j->out.len = 0;
	j->nmatch = 0;
	j->proofs.len = 0;
	j->have_sum = 0;
}

static void
job_close(struct job *j)
{

	cst_buf_close(&j->out);
	cst_buf_close(&j->proofs);
	free(j->ends);
	free(j->leaves);
	free(j->times);
	free(j->seqs);
	if (j->have_sum)
		index_entry_close(&j->sum);
}

static int
job_grow(struct job *j)
{
	size_t cap = j->cap == 0 ? 256 : 2 * j->cap;
	size_t *e;
	uint32_t *l;
	int64_t *t;
	uint64_t *q;

	if ((e = realloc(j->ends, cap * sizeof(*e))) == NULL)
		return (CST_ENOMEM);
	j->ends = e;
	if ((l = realloc(j->leaves, cap * sizeof(*l))) == NULL)
		return (CST_ENOMEM);
	j->leaves = l;
	if ((t = realloc(j->times, cap * sizeof(*t))) == NULL)
		return (CST_ENOMEM);
	j->times = t;
	if ((q = realloc(j->seqs, cap * sizeof(*q))) == NULL)
		return (CST_ENOMEM);
	j->seqs = q;
	j->cap = cap;
	return (0);
}

/* One matching record into the job, in the form the output needs. */
static int
job_match(struct job *j, const struct query_opts *o, struct query_runs *runs,
    const uint8_t *chain, cst_opener *op, size_t i, const cst_record *r,
    const cst_bytes *enc, uint64_t block_no)
{
	uint8_t path[CST_MERKLE_MAX_DEPTH][CST_HASH_LEN];
	uint32_t hdr[2];
	size_t plen;
	int rc;

	if (j->nmatch == j->cap && (rc = job_grow(j)) != 0)
		return (rc);
	j->leaves[j->nmatch] = (uint32_t)i;
	j->times[j->nmatch] = r->recv_ns;
	j->seqs[j->nmatch] = r->seq;
	if (o->bundle != NULL) {
		if ((rc = cst_merkle_path(cst_opener_leaves(op),
		    cst_opener_count(op), i, path, &plen)) != 0)
			return (rc);
		hdr[0] = (uint32_t)enc->len;
		hdr[1] = (uint32_t)plen;
		if ((rc = cst_buf_append(&j->proofs, hdr, sizeof(hdr))) != 0 ||
		    (rc = cst_buf_append(&j->proofs, enc->p, enc->len)) != 0 ||
		    (rc = cst_buf_append(&j->proofs, path,
		    plen * CST_HASH_LEN)) != 0)
			return (rc);
	} else if (!o->count && o->histogram == 0 &&
	    (rc = query_out_show_chain(&j->out, o->fmt, o->utc, r, block_no,
	    runs != NULL && query_runs_wanted(r) ?
	    query_runs_host(runs, j->bi) : NULL, chain)) != 0) {
		return (rc);
	}
	j->ends[j->nmatch++] = j->out.len;
	return (0);
}

/* Opens one block (every payload check) and collects its matches. */
static void
run_job(struct pool *p, struct job *j, cst_opener *op, pcre2_match_data *md)
{
	const struct query_block *b = &p->s->blocks[j->bi];
	const struct query_opts *o = p->o;
	struct index_builder ib;
	cst_record r;
	cst_bytes enc;
	const uint8_t *raw;
	size_t n, k, i, rawlen;
	int scan, rc;

	if ((rc = cst_block_open(op, &b->f, &j->rule)) != 0) {
		j->rc = rc;
		if (j->rule == NULL)
			j->rule = "R-BLK-4";
		return;
	}
	n = cst_opener_count(op);
	raw = cst_opener_raw(op, &rawlen);
	scan = query_filter_payload(&o->f, raw, rawlen);
	if (j->need_sum)
		index_builder_init(&ib, b->f.hdr.block_no, b->f.block_hash);
	for (k = 0; k < n && (scan || j->need_sum); k++) {
		i = o->reverse ? n - 1 - k : k;
		if ((rc = cst_opener_record(op, i, &r, &enc)) != 0)
			break;
		if (j->need_sum)
			index_builder_add(&ib, &r);
		if (scan && query_filter_match(&o->f, &r, md) &&
		    (rc = job_match(j, o, p->runs, o->label ?
		    p->s->root.chain_id : NULL, op, i, &r, &enc,
		    b->f.hdr.block_no)) != 0)
			break;
	}
	if (j->need_sum) {
		if (rc == 0 && index_builder_finish(&ib, &j->sum) == 0)
			j->have_sum = 1;
		else if (rc != 0)
			free(ib.items);
	}
	if (rc != 0) {
		j->rc = rc;
		j->rule = "R-BLK-5";
	}
}

static void *
worker(void *arg)
{
	struct pool *p = arg;
	pcre2_match_data *md = NULL;
	cst_opener *op;
	struct job *j;
	size_t k;

	if ((op = cst_opener_new()) == NULL)
		return (NULL);
	cst_opener_skip_records_hash(op, 1);
	if (p->o->f.nres > 0 &&
	    (md = pcre2_match_data_create(1, NULL)) == NULL) {
		cst_opener_free(op);
		return (NULL);
	}
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && p->next < p->njobs &&
		    p->next >= p->consumed + p->w)
			pthread_cond_wait(&p->cv_space, &p->mu);
		if (p->stop || p->next >= p->njobs)
			break;
		k = p->next++;
		j = &p->jobs[k % p->w];
		pthread_mutex_unlock(&p->mu);
		if (j->have_sum)
			index_entry_close(&j->sum);
		job_reset(j);
		j->bi = p->order[k];
		j->need_sum = p->need_sum[k];
		run_job(p, j, op, md);
		pthread_mutex_lock(&p->mu);
		p->done[k % p->w] = 1;
		pthread_cond_broadcast(&p->cv_done);
	}
	pthread_mutex_unlock(&p->mu);
	pcre2_match_data_free(md);
	cst_opener_free(op);
	return (NULL);
}

static int
tail_add(struct query_sink *k, const uint8_t *p, size_t len)
{
	size_t *n, cap;
	int rc;

	if (k->ntail == k->tailcap) {
		cap = k->tailcap == 0 ? 64 : 2 * k->tailcap;
		if ((n = realloc(k->tailends, cap * sizeof(*n))) == NULL)
			return (CST_ENOMEM);
		k->tailends = n;
		k->tailcap = cap;
	}
	if ((rc = cst_buf_append(&k->tailbuf, p, len)) != 0)
		return (rc);
	k->tailends[k->ntail++] = k->tailbuf.len;
	return (0);
}

static int
consume(struct query_sink *k, struct job *j)
{
	const struct query_block *b = &k->s->blocks[j->bi];
	const uint8_t *pp;
	uint32_t hdr[2];
	size_t i, start, n;
	int64_t bk;
	int rc;

	k->opened++;
	if (j->rc != 0) {
		k->report(k->report_arg, k->s->segs[b->seg].path, b->off,
		    (int64_t)b->f.hdr.block_no, j->rule, j->rc,
		    "payload does not match its signed header; block not shown");
		k->s->failures++;
		return (0);
	}
	if (j->have_sum) {
		k->sums[j->bi] = j->sum;
		k->have_sum[j->bi] = 1;
		j->have_sum = 0;
	}
	n = j->nmatch;
	if (k->o->have_limit || k->o->follow) {
		if (k->shown >= k->o->limit) {
			k->full = 1;
			return (0);
		}
		if (n > k->o->limit - k->shown)
			n = (size_t)(k->o->limit - k->shown);
	}
	if (n == 0)
		return (0);
	if (k->bw != NULL) {
		if ((rc = query_bundle_join(k, j->bi)) != 0 ||
		    (rc = query_bundle_block(k, j->bi)) != 0)
			return (rc);
		pp = j->proofs.p;
		for (i = 0; i < n; i++) {
			memcpy(hdr, pp, sizeof(hdr));
			if ((rc = cst_bundle_writer_record(k->bw, j->leaves[i],
			    pp + sizeof(hdr), hdr[0],
			    cst_hash_rows(pp + sizeof(hdr) + hdr[0]),
			    hdr[1])) != 0)
				return (rc);
			pp += sizeof(hdr) + hdr[0] + (size_t)hdr[1] *
			    CST_HASH_LEN;
		}
		k->brecords += n;
	} else if (k->buckets != NULL) {
		for (i = 0; i < n; i++) {
			bk = (j->times[i] - k->h_lo) / k->o->histogram;
			if (j->times[i] >= k->h_lo && bk >= 0 &&
			    (size_t)bk < k->nbuckets)
				k->buckets[bk]++;
		}
	} else if (k->merge != NULL) {
		if ((rc = query_merge_push(k->merge, j->out.p, j->ends,
		    j->times, j->seqs, n)) == 1) {
			k->full = 1;
			return (0);
		}
		if (rc != 0)
			return (rc);
	} else if (k->tail) {
		for (i = 0, start = 0; i < n; i++) {
			if ((rc = tail_add(k, j->out.p + start,
			    j->ends[i] - start)) != 0)
				return (rc);
			start = j->ends[i];
		}
	} else if (!k->o->count && n > 0) {
		if (fwrite(j->out.p, 1, j->ends[n - 1], stdout) !=
		    j->ends[n - 1])
			return (CST_EIO);
	}
	k->shown += n;
	if ((k->o->have_limit || k->o->follow) && k->shown >= k->o->limit)
		k->full = 1;
	return (0);
}

/* Opens order[0..n) on the workers and consumes them in order. */
int
query_pool_run(struct query_opts *o, struct query_store *s, size_t *order,
    int *need_sum, size_t n, struct query_sink *k)
{
	pthread_t t[QUERY_MAX_THREADS];
	struct pool p;
	size_t i;
	int nt = 0, rc = 0;

	if (n == 0)
		return (0);
	memset(&p, 0, sizeof(p));
	p.o = o;
	p.s = s;
	p.order = order;
	p.need_sum = need_sum;
	p.runs = k->runs;
	p.njobs = n;
	p.w = 2 * (size_t)o->threads + 2;
	if ((p.jobs = calloc(p.w, sizeof(*p.jobs))) == NULL ||
	    (p.done = calloc(p.w, sizeof(*p.done))) == NULL) {
		free(p.jobs);
		return (CST_ENOMEM);
	}
	pthread_mutex_init(&p.mu, NULL);
	pthread_cond_init(&p.cv_space, NULL);
	pthread_cond_init(&p.cv_done, NULL);
	for (i = 0; i < (size_t)o->threads; i++)
		if (pthread_create(&t[nt], NULL, worker, &p) == 0)
			nt++;
	if (nt == 0)
		rc = CST_ENOMEM;
	for (i = 0; rc == 0 && i < n; i++) {
		pthread_mutex_lock(&p.mu);
		while (!p.done[i % p.w])
			pthread_cond_wait(&p.cv_done, &p.mu);
		p.done[i % p.w] = 0;
		pthread_mutex_unlock(&p.mu);
		rc = consume(k, &p.jobs[i % p.w]);
		pthread_mutex_lock(&p.mu);
		p.consumed = i + 1;
		if (k->full || *k->stopping)
			p.stop = 1;
		pthread_cond_broadcast(&p.cv_space);
		pthread_mutex_unlock(&p.mu);
		if (k->full || *k->stopping)
			break;
	}
	pthread_mutex_lock(&p.mu);
	p.stop = 1;
	pthread_cond_broadcast(&p.cv_space);
	pthread_mutex_unlock(&p.mu);
	for (i = 0; i < (size_t)nt; i++)
		pthread_join(t[i], NULL);
	for (i = 0; i < p.w; i++)
		job_close(&p.jobs[i]);
	free(p.jobs);
	free(p.done);
	pthread_mutex_destroy(&p.mu);
	pthread_cond_destroy(&p.cv_space);
	pthread_cond_destroy(&p.cv_done);
	return (rc);
}
