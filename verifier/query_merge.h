/*
 * custody-query over several stores: each store's matches, in its chain
 * order, pass through a bounded channel to one merge that prints them in
 * receive-time order.
 *
 * Lifecycle: query_merge_chan_new per store; a producer (the store's
 * query_pool_run, on its own thread) calls query_merge_push for each
 * block's matches and query_merge_close when it is done; the main thread
 * calls query_merge_run over all channels, which returns when every
 * channel is closed and drained, or the limit is reached or *stopping is
 * set, and then cancels every channel so that a producer blocked in
 * query_merge_push returns; the producers are joined; query_merge_chan_free.
 *
 * Memory is bounded by the channel capacity (batches, one block's
 * matches each) times the number of stores: nothing is loaded whole.
 */
#ifndef CUSTODY_QUERY_MERGE_H
#define CUSTODY_QUERY_MERGE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "custody/format.h"

struct query_merge_chan;

/*
 * A channel holding up to cap batches, for chain (borrowed, copied).
 * Returns it, or NULL when out of memory.
 */
struct query_merge_chan *query_merge_chan_new(size_t cap,
    const uint8_t chain[CST_CHAIN_ID_LEN]);

/* Frees c; NULL is a no-op.  No thread may be using it. */
void query_merge_chan_free(struct query_merge_chan *c);

/*
 * The records of c that query_merge_run output (after it returned): the
 * share of one store in what was shown.
 */
uint64_t query_merge_chan_taken(const struct query_merge_chan *c);

/*
 * Producer: appends n records (borrowed, copied): record i's output is
 * out[ends[i-1] .. ends[i]) (from 0 for i = 0), its receive time
 * times[i], its sequence number seqs[i].  Waits while c is full.
 * Returns 0, 1 when c was cancelled (stop producing), or CST_ENOMEM.
 */
int query_merge_push(struct query_merge_chan *c, const uint8_t *out,
    const size_t *ends, const int64_t *times, const uint64_t *seqs,
    size_t n);

/* Producer: nothing more will be pushed. */
void query_merge_close(struct query_merge_chan *c);

/*
 * Order of two records of the merged output: by receive time, then by
 * chain id (bytewise), then by sequence number.  Returns <0, 0 or >0.
 */
int query_merge_cmp(int64_t ta, const uint8_t *ca, uint64_t sa, int64_t tb,
    const uint8_t *cb, uint64_t sb);

/*
 * Consumer: merges the records of chans[0..n) (borrowed), each in its
 * chain order, writing each record's output to out: the smallest first
 * (query_merge_cmp), or the largest first when reverse is set (the
 * producers then walk their chains newest first).  Stops after limit
 * records (UINT64_MAX: no limit) or when *stopping is set.  With tail
 * set, the records taken are held and written in the opposite order at
 * the end (-n N: the newest N, oldest first).  Each chain keeps its own
 * order; between chains the merge is exact when each chain's receive
 * times do not go back.  Cancels every channel before returning.  Sets
 * *shown to the records written.  Returns 0, CST_ENOMEM or CST_EIO (a
 * write failed).
 */
int query_merge_run(struct query_merge_chan **chans, size_t n, int reverse,
    int tail, uint64_t limit, volatile sig_atomic_t *stopping, FILE *out,
    uint64_t *shown);

#endif /* CUSTODY_QUERY_MERGE_H */
