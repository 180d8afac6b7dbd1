/*
 * The sealer stage: a pool of worker threads, each with its own
 * cst_sealer, building the drafts of cut batches in parallel (encode,
 * Merkle tree, hashes, compression: the heavy part of sealing).  Drafts
 * may finish out of order; the writer puts them back in batch order.
 */
#ifndef CUSTODY_COLLECTOR_SEALPOOL_H
#define CUSTODY_COLLECTOR_SEALPOOL_H

#include "pipeline.h"

struct sealpool_ops {
	/*
	 * A batch's buffer is no longer needed (called on a worker thread;
	 * takes buf).  buf->draft_bytes holds the draft's size.
	 */
	void (*built)(void *ctx, struct batchbuf *buf);
	/* Takes the batch, built (or bt->err set), or a control batch. */
	void (*next)(void *ctx, struct batch *bt);
};

struct sealpool;

/*
 * Starts nthreads workers compressing at zstd level.  ops is copied, ctx
 * borrowed.  *out is returned to stop with sealpool_stop.  Returns 0,
 * CST_EINVAL or CST_ENOMEM.
 */
int sealpool_start(unsigned nthreads, int level, const struct sealpool_ops *ops,
    void *ctx, struct sealpool **out);

/* Queues bt (taken) for a worker.  Any thread. */
void sealpool_put(struct sealpool *p, struct batch *bt);

/* Batches queued and being built. */
size_t sealpool_depth(struct sealpool *p);

/*
 * Lets the workers finish what is queued, joins them and frees p; NULL
 * is a no-op.
 */
void sealpool_stop(struct sealpool *p);

#endif /* CUSTODY_COLLECTOR_SEALPOOL_H */
