/*
 * Self-audit records (SPEC section 7, kinds 1..9 and 12): the collector's own
 * life written into the chain it keeps, in sequence with the events.
 * Each record carries a one-line text in raw and a detail map.  Loop
 * thread only.
 */
#ifndef CUSTODY_COLLECTOR_AUDIT_H
#define CUSTODY_COLLECTOR_AUDIT_H

#include <stdint.h>

#include "batcher.h"
#include "recovery.h"

struct audit_start {
	const char *version;
	const char *config_hash; /* hex SHA-256 of the config file */
	const char *root_fpr;
	uint32_t epoch;
	uint64_t pid;
	const char *hostname;
};

/*
 * Each appends one record to b (borrowed; every other pointer too) with
 * receive time now_ns.  Returns 0 or CST_ENOMEM.
 */
int audit_start(struct batcher *b, const struct audit_start *s,
    int64_t now_ns);
int audit_stop(struct batcher *b, const char *reason, uint64_t received,
    uint64_t sealed, int64_t now_ns);
int audit_recovery(struct batcher *b, const struct recovery *r,
    int64_t now_ns);
int audit_key_epoch(struct batcher *b, uint32_t epoch, const char *fpr,
    int64_t now_ns);
/*
 * Counts since since_ns: the previous loss record of listener, or start.
 * discarded: bytes the kernel held for streams closed without reading
 * them (after bad framing, or past the drain bound at a stop).
 */
int audit_loss(struct batcher *b, const char *listener, uint64_t udp_dropped,
    uint64_t kernel_dropped, uint64_t oversize, uint64_t discarded,
    int64_t since_ns, int64_t now_ns);
int audit_stats(struct batcher *b, uint64_t received, uint64_t parse_failed,
    uint64_t bytes, int64_t now_ns);
int audit_clock(struct batcher *b, int64_t step_ns, int64_t now_ns);
int audit_reload(struct batcher *b, const char *config_hash, int64_t now_ns);
/*
 * A connection refused at listener from peer (R-REC-8): why, the
 * identity of the certificate it showed (NULL: none), and how many
 * refusals of listener were only counted since the previous record.
 */
int audit_refusal(struct batcher *b, const char *listener, const char *peer,
    const char *reason, const char *cert, uint64_t suppressed,
    int64_t now_ns);

/*
 * A replication backlog began (started 1) or ended (started 0), R-REP-9:
 * started: blocks and bytes waiting; ended: blocks and bytes published
 * while it lasted.  since_ns: when it began; reason, why it is sealed.
 */
int audit_replication(struct batcher *b, int started, uint64_t blocks,
    uint64_t bytes, int64_t since_ns, const char *reason, int64_t now_ns);

#endif /* CUSTODY_COLLECTOR_AUDIT_H */
