/*
 * Replication of the store to NATS JetStream (SPEC section 17): one
 * thread that publishes every durable block, in block order, read back
 * from the segment files (nothing is held in memory for it, so ingest
 * never waits for JetStream), with the segment headers, the numbered
 * checkpoints and the public key files.  It resumes from the last block
 * the stream holds (R-REP-6), and reports each block JetStream
 * acknowledged, for answers that wait for the replicas (R-REP-5).
 *
 * Lifecycle: replicate_new (connects once, checks or creates the
 * stream) -> replicate_start -> replicate_poke / replicate_stats from
 * any thread -> replicate_free (after the writer is done).
 */
#ifndef CUSTODY_COLLECTOR_REPLICATE_H
#define CUSTODY_COLLECTOR_REPLICATE_H

#include <stdatomic.h>
#include <stdint.h>

#include "conf.h"

#define REPLICATE_ERR_LEN 512

/* Called on the replication thread: every record below seq_next is in
 * blocks JetStream acknowledged. */
typedef void replicate_acked_fn(void *ctx, uint64_t seq_next);

struct replicate_stats {
	uint64_t backlog_blocks;   /* durable, not yet acknowledged */
	uint64_t backlog_bytes;    /* segment bytes after the last ack */
	uint64_t published;        /* blocks acknowledged, this run */
	uint64_t published_bytes;
	uint64_t errors;           /* failed connects, publishes, resumes */
	int64_t last_ack_ns;       /* UTC of the last ack; 0: none yet */
	int64_t since_ns;          /* UTC the backlog began; 0: none */
	int connected;
	int refused;               /* the stream is unfit (R-REP-1, -6) */
	char last_err[REPLICATE_ERR_LEN]; /* "" when none */
};

struct replicate;

/*
 * Makes a replicator of chain chain_hex from the store data_dir (both
 * borrowed, copied) to the servers of c (borrowed, copied), reading
 * durable_blocks (borrowed; the writer's) to know what it may publish.
 * Tries to connect once: when the servers answer, checks the stream (or
 * creates it) and returns CST_EINVAL with err when the stream is unfit
 * (R-REP-1) or holds another chain's block (R-REP-6).  Servers that do
 * not answer are not an error: the thread keeps trying.  Returns 0 with
 * *out (returned to free), CST_EINVAL or CST_ENOMEM.
 */
int replicate_new(const struct conf_replicate *c, const char *data_dir,
    const char *chain_hex, const _Atomic uint64_t *durable_blocks,
    replicate_acked_fn *acked, void *ctx, struct replicate **out,
    char err[REPLICATE_ERR_LEN]);

/* Starts the thread.  Returns 0 or CST_ENOMEM. */
int replicate_start(struct replicate *r);

/* More blocks may be durable: look now.  Any thread. */
void replicate_poke(struct replicate *r);

/* The counters into *out (borrowed).  Any thread. */
void replicate_stats(struct replicate *r, struct replicate_stats *out);

/*
 * Publishes what is durable for at most drain_ms more, then stops the
 * thread and frees r; NULL is a no-op.
 */
void replicate_free(struct replicate *r, uint64_t drain_ms);

#endif /* CUSTODY_COLLECTOR_REPLICATE_H */
