/*
 * Trusted time: a thread that asks an RFC 3161 time-stamping authority
 * for a token over the newest numbered checkpoint, at most once per
 * anchor.tsa_interval, and stores it beside the checkpoint and in the
 * export directory (SPEC section 15).
 *
 * It never blocks ingest or the writer: it only reads checkpoint files
 * the writer has made durable, and the one thing it asks of the writer
 * is that the checkpoint it is fetching for is not pruned meanwhile
 * (ops.pin).  Failures are retried with back-off, counted, and logged
 * once per episode with the reason.
 *
 * Lifecycle: anchor_new -> anchor_start -> anchor_free (stops the thread,
 * aborting a transfer under way).
 */
#ifndef CUSTODY_COLLECTOR_ANCHOR_H
#define CUSTODY_COLLECTOR_ANCHOR_H

#include <stdatomic.h>
#include <stdint.h>

#define ANCHOR_ERR_LEN 256

struct anchor_cfg {
	const char *url;        /* http:// or https:// (borrowed, copied) */
	const char *ca;         /* PEM CAs for https; NULL: the system's */
	const char *tsa_cert;   /* PEM: check the token's signature; NULL */
	uint64_t interval_ms;   /* at most one token per interval */
	uint64_t timeout_ms;    /* of one request, connection included */
};

struct anchor_ops {
	/*
	 * Keeps the numbered checkpoint of blocks from being pruned until
	 * the next call (0: none).  Called on the anchor thread.
	 */
	void (*pin)(void *ctx, uint64_t blocks);
};

/* Counters for metrics; written by the anchor thread, read anywhere. */
struct anchor_stats {
	_Atomic uint64_t tokens;        /* tokens obtained and stored */
	_Atomic uint64_t failures;      /* requests that failed, any reason */
	_Atomic uint64_t newest_gen_ns; /* genTime of the newest token; 0 */
	_Atomic uint64_t newest_blocks; /* blocks its checkpoint covers */
};

struct anchor;

/*
 * Returns in *out an anchor for the store data_dir (borrowed, copied)
 * with cfg (borrowed, copied); ops copied, ctx borrowed.  Loads
 * cfg->tsa_cert.  Returns 0, CST_EINVAL, CST_ENOENT, CST_EPARSE or
 * CST_ENOMEM with a message in err.
 */
int anchor_new(const char *data_dir, const struct anchor_cfg *cfg,
    const struct anchor_ops *ops, void *ctx, struct anchor **out,
    char err[ANCHOR_ERR_LEN]);

/*
 * Sets the export directory (borrowed, copied; NULL: none) tokens are
 * copied to, beside the exported checkpoints.  Any thread.
 */
void anchor_set_export_dir(struct anchor *a, const char *dir);

/* Starts the thread.  Returns 0 or CST_ENOMEM. */
int anchor_start(struct anchor *a);

/* The counters. */
const struct anchor_stats *anchor_stats(const struct anchor *a);

/* Stops and joins the thread and frees a; NULL is a no-op. */
void anchor_free(struct anchor *a);

#endif /* CUSTODY_COLLECTOR_ANCHOR_H */
