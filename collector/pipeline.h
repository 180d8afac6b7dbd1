/*
 * The structs handed between the collector's pipeline stages:
 *
 *   listener -> parser -> batcher -> sealpool -> writer -> (loop) durable
 *
 * The listener, parser and batcher run on the event loop thread; the
 * sealpool's workers build drafts (encode, Merkle tree, hash, compress) in
 * parallel; the writer thread places drafts in the chain in batch order,
 * signs, appends and fsyncs, then hands each batch back to the loop, which
 * learns that its records are durable.
 *
 * A batch is split in two so that the big memory goes back as soon as
 * possible: its batchbuf (records and raw bytes) is released once the
 * draft is built; the batch itself (with the compressed draft, a fraction
 * of the size) lives until its block is durable.
 */
#ifndef CUSTODY_COLLECTOR_PIPELINE_H
#define CUSTODY_COLLECTOR_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "custody/block.h"
#include "custody/record.h"

/* What a batch carries through the pipeline, in batch order. */
enum batch_ctl {
	BATCH_DATA = 0,   /* records to seal into one data block */
	BATCH_ROTATE = 1, /* seal the segment and start the next one */
	BATCH_STOP = 2,   /* seal the segment and stop: the last batch */
};

/*
 * Storage for one batch's records: record structs and an arena for every
 * byte they point to (raw bytes, peer names, detail maps) so that nothing
 * a record borrows can go away before the draft is built.  Allocated once
 * at its full size and reused through the batcher's pool: nothing here is
 * ever reallocated, so pointers into the arena stay valid.
 */
struct batchbuf {
	struct batchbuf *next; /* pool link, or the sealpool's "built" list */
	cst_record *recs;
	size_t cap_recs;
	uint8_t *arena;
	size_t cap_bytes;
	size_t draft_bytes;    /* set by the sealpool: the built draft's size */
};

struct batch {
	struct batch *next;   /* queue link (sealpool, writer, durable list) */
	uint64_t no;          /* cut order: blocks are written in this order */
	int ctl;              /* enum batch_ctl */
	uint64_t first_seq;
	size_t n;             /* records used in buf */
	size_t used;          /* arena bytes used in buf */
	uint64_t events;      /* records of kind event */
	uint64_t event_bytes; /* their raw bytes */
	struct batchbuf *buf; /* NULL for control batches and once built */
	cst_draft draft;      /* built by a sealpool worker */
	int err;              /* build error, 0 if none */
	size_t held;          /* draft bytes counted against max_inflight */
};

/*
 * Where a message came from: one per listener (datagram sockets) or per
 * connection (streams).  The parser copies name and peer into each batch
 * that uses them, once per batch: a batch may outlive its listener (a
 * worker still sealing it while the daemon stops).
 */
struct source {
	const char *name;     /* listener URL, borrowed from the listener */
	size_t name_len;
	uint8_t transport;    /* enum cst_transport */
	char peer[128];       /* "198.51.100.7:5140", "[::1]:5140", a path */
	size_t peer_len;
	/*
	 * The authenticated peer, borrowed; NULL: nil.  TLS: the client's
	 * certificate (R-REC-7); unix: the sender's credentials (R-REC-9).
	 */
	const char *tls_peer;
	size_t tls_peer_len;
	const uint8_t *tls_peer_copy;
	uint64_t gen;         /* batch generation the copies belong to */
	const uint8_t *name_copy; /* name inside that batch's arena */
	const uint8_t *peer_copy; /* peer inside that batch's arena */
	/* Counters of this source's listener (the listener owns them). */
	struct listener_counters *ctr;
};

/* Counters a listener keeps; read by metrics and the loss records. */
struct listener_counters {
	uint64_t received;       /* messages (pieces) recorded */
	uint64_t bytes;          /* their raw bytes */
	uint64_t parse_failed;
	uint64_t oversize;       /* messages cut into pieces (CST_RF_TRUNCATED) */
	uint64_t framing_errors; /* streams closed on bad framing */
	uint64_t discarded;      /* bytes the kernel held for a stream that
	                            was closed, not read (loss records) */
	uint64_t incomplete;     /* streams closed mid-message */
	uint64_t udp_dropped;    /* datagrams we could not record */
	uint64_t kernel_dropped; /* the kernel's receive queue drops */
	uint64_t relp_acked;     /* RELP messages answered, once durable */
	uint64_t relp_refused;   /* RELP connections cut: not RELP */
	uint64_t tls_refused;    /* TLS connections refused (R-REC-8) */
};

#endif /* CUSTODY_COLLECTOR_PIPELINE_H */
