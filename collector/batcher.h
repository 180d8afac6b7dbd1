/*
 * The batcher: gathers records on the event loop thread into batches,
 * assigns their sequence numbers in arrival order, and cuts a batch when
 * it is full (records or bytes) or when the caller says so (time, stop).
 *
 * It also keeps the pipeline's memory bound: batch buffers come from a
 * pool, and batcher_over() tells the listeners to stop reading when one
 * more buffer would pass max_inflight.  An add never fails for lack of
 * room in the budget: the bytes a listener has already read must go
 * somewhere, so the budget may be passed by at most one buffer.
 */
#ifndef CUSTODY_COLLECTOR_BATCHER_H
#define CUSTODY_COLLECTOR_BATCHER_H

#include <stddef.h>
#include <stdint.h>

#include "custody/record.h"

#include "pipeline.h"

struct batcher_cfg {
	size_t max_records;   /* records per batch */
	size_t max_bytes;     /* arena bytes per batch */
	size_t max_inflight;  /* bytes of buffers in use plus held drafts */
};

struct batcher_ops {
	/* Takes b (a cut batch, data or control), in cut order. */
	void (*cut)(void *ctx, struct batch *b);
	/* A new batch got its first record (to start the time limit). */
	void (*opened)(void *ctx);
};

struct batcher;

/*
 * Returns in *out a new batcher whose first record gets sequence number
 * next_seq and whose first batch is number 0.  cfg and ops are copied;
 * ctx is borrowed.  Returns 0, CST_EINVAL or CST_ENOMEM.
 */
int batcher_new(const struct batcher_cfg *cfg, const struct batcher_ops *ops,
    void *ctx, uint64_t next_seq, struct batcher **out);

/* Frees b, its pool and its open batch (whose records are lost); NULL is a no-op. */
void batcher_free(struct batcher *b);

/*
 * Appends a record with len raw bytes and room for extra more arena bytes
 * (for batcher_alloc) in the same batch, cutting the open batch first if
 * they do not fit.  *rec (returned, owned by the batch) is zeroed but for
 * seq; *raw (returned) points to len arena bytes for the caller to fill.
 * Returns 0, CST_ETOOBIG (len + extra exceeds a batch) or CST_ENOMEM.
 */
int batcher_add(struct batcher *b, size_t len, size_t extra, cst_record **rec,
    uint8_t **raw);

/*
 * Returns n bytes of the open batch's arena, from the room reserved by
 * the last batcher_add's extra (the caller must not ask for more).
 */
uint8_t *batcher_alloc(struct batcher *b, size_t n);

/*
 * Counts the record just added as an event of len raw bytes (for the
 * batch's event totals, which the durable notification reports).
 */
void batcher_count_event(struct batcher *b, size_t len);

/* Cuts the open batch if it holds any record. */
void batcher_cut(struct batcher *b);

/* The number of batches cut so far (the next cut's number). */
uint64_t batcher_cuts(const struct batcher *b);

/*
 * Cuts the open batch, then emits a control batch (BATCH_ROTATE,
 * BATCH_STOP) behind it.  Returns 0 or CST_ENOMEM.
 */
int batcher_control(struct batcher *b, int ctl);

/*
 * Returns buf (taken), whose batch has been built, to the pool, and from
 * then on counts buf->draft_bytes against the budget instead, until the
 * batch is done.
 */
void batcher_buf_done(struct batcher *b, struct batchbuf *buf);

/* Nonzero when one more batch buffer would pass max_inflight. */
int batcher_over(const struct batcher *b);

/* The generation of the open batch: changes whenever a batch is opened. */
uint64_t batcher_gen(const struct batcher *b);

/* The sequence number the next record will get. */
uint64_t batcher_next_seq(const struct batcher *b);

/* Records in the open batch (0 when none is open). */
size_t batcher_pending(const struct batcher *b);

/* Bytes counted against max_inflight (buffers in use and held drafts). */
size_t batcher_inflight(const struct batcher *b);

/*
 * Frees bt (taken), a batch that came out of the pipeline (durable, or
 * abandoned on a fatal error), its draft and its buffer if it still has
 * one, and stops counting its draft against the budget.  NULL is a no-op.
 */
void batcher_done(struct batcher *b, struct batch *bt);

#endif /* CUSTODY_COLLECTOR_BATCHER_H */
