/*
 * The segment writer stage: one thread that takes built batches in batch
 * order, places each in the chain and signs it (cst_block_finish),
 * appends it to the segment, and makes it durable with group commit: at
 * most one fdatasync per commit interval, and none while nothing waits.
 * It also rotates segments (size, age, on request), rotates the epoch key
 * at a commit point, and writes checkpoints after commits.
 */
#ifndef CUSTODY_COLLECTOR_WRITER_H
#define CUSTODY_COLLECTOR_WRITER_H

#include <stdatomic.h>
#include <stdint.h>

#include "custody/keys.h"

#include "pipeline.h"
#include "recovery.h"

/* What may change on reload; copied under the writer's lock. */
struct writer_cfg {
	uint64_t commit_interval_ms;
	uint64_t segment_max_bytes;
	uint64_t segment_max_age_s;     /* 0: none */
	uint64_t key_rotate_s;          /* 0: never */
	uint64_t checkpoint_interval_ms;
	uint64_t checkpoint_history;    /* numbered checkpoints kept */
	char checkpoint_export_dir[1024]; /* "": none */
};

struct writer_ops {
	/*
	 * Takes a list (linked by next, in batch order) of batches whose
	 * blocks are now durable.  Called on the writer thread.
	 */
	void (*durable)(void *ctx, struct batch *list);
	/* The key is now epoch (fingerprint fpr); called on the writer thread. */
	void (*key_epoch)(void *ctx, uint32_t epoch, const char *fpr);
	/*
	 * The writer failed and stopped (rc, message); the store stays as
	 * an unclean stop leaves it.  Called on the writer thread, once.
	 */
	void (*fatal)(void *ctx, int rc, const char *msg);
};

/* Counters for metrics; written by the writer, read anywhere. */
struct writer_stats {
	_Atomic uint64_t blocks;        /* data blocks durable */
	_Atomic uint64_t records;       /* records durable */
	_Atomic uint64_t bytes;         /* frame bytes written */
	_Atomic uint64_t syncs;
	_Atomic uint64_t last_commit_ns; /* UTC of the last fdatasync */
	_Atomic uint64_t segment_no;
	_Atomic uint64_t next_block_no;
	/* Every block below this block_no is durable (replication reads it). */
	_Atomic uint64_t durable_blocks;
	_Atomic uint64_t epoch;
	_Atomic uint64_t checkpoints;
	_Atomic uint64_t checkpoint_errors;
};

struct writer;

/*
 * Opens the segment rec (borrowed) says to write (appending after the cut,
 * or creating it) under data_dir (borrowed, copied), and returns in *out a
 * writer that takes key (freed with the writer; rotated keys are saved to
 * data_dir/keys/epoch.key).  cfg and ops are copied, ctx borrowed.
 * Returns 0, CST_EIO, CST_EEXIST or CST_ENOMEM with a message in err.
 */
int writer_new(const char *data_dir, const struct writer_cfg *cfg,
    cst_epoch_key *key, const struct recovery *rec,
    const struct writer_ops *ops, void *ctx, struct writer **out,
    char err[256]);

/* Starts the writer thread.  Returns 0 or CST_ENOMEM. */
int writer_start(struct writer *w);

/* Hands bt (taken) to the writer.  Any thread. */
void writer_put(struct writer *w, struct batch *bt);

/*
 * Group commit: commits as soon as every batch up to number no (cut
 * already) is written, instead of at the next commit_interval, so that a
 * sender waiting for answers that only a commit lets out (RELP) is not
 * held for the interval.  Requests made before that commit merge into it.
 * Any thread.
 */
void writer_hurry(struct writer *w, uint64_t no);

/* Replaces the tunables (reload).  Any thread. */
void writer_set_cfg(struct writer *w, const struct writer_cfg *cfg);

/* The counters. */
const struct writer_stats *writer_stats(const struct writer *w);

/*
 * Waits for the thread to end (after a BATCH_STOP, or a fatal error) and
 * frees w, closing its segment; NULL is a no-op.  A writer never started
 * is just freed.
 */
void writer_free(struct writer *w);

#endif /* CUSTODY_COLLECTOR_WRITER_H */
