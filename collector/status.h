/*
 * `custodyd status`: a short summary of a running daemon out of two reads
 * of its counters (metrics.h) a moment apart.
 */
#ifndef CUSTODY_COLLECTOR_STATUS_H
#define CUSTODY_COLLECTOR_STATUS_H

#include <stdint.h>
#include <stdio.h>

#include "metrics.h"

/* The sums `status` shows, read from one Prometheus text. */
struct status_counts {
	uint64_t received;        /* custody_received_total, every listener */
	uint64_t durable;         /* custody_events_durable_total */
	uint64_t udp_dropped;
	uint64_t kernel_dropped;
	uint64_t refused;         /* connections refused, RELP's too */
	uint64_t idle_closed;
	uint64_t paused;
	uint64_t start_s;
	uint64_t free_bytes;
	int have_free;            /* custody_store_free_bytes was given */
	uint64_t rep_blocks;      /* custody_replicate_backlog_blocks */
	uint64_t rep_bytes;
	uint64_t rep_published;
	uint64_t rep_errors;
	uint64_t rep_age;
	uint64_t rep_connected;
	int have_rep;             /* the daemon replicates */
};

/*
 * Adds up the samples of text[0..len) (borrowed) into c; unknown names
 * are ignored, a malformed line too.
 */
void status_parse(const char *text, size_t len, struct status_counts *c);

/*
 * Reads url's (borrowed) counters twice, interval_ms apart, and prints
 * the summary to out (borrowed).  Returns 0, or CST_EINVAL or CST_EIO
 * with a message in err.
 */
int status_summary(const char *url, uint64_t interval_ms, FILE *out,
    char err[METRICS_ERR_LEN]);

#endif /* CUSTODY_COLLECTOR_STATUS_H */
