/*
 * custody-query's filters, times and output formats.
 *
 * query_filter.c: what a record must be to match, and which blocks can
 * hold a match; query_time.c: the time syntax of --since/--until and the
 * printed time; query_out.c: the text, JSON and raw output of a record.
 */
#ifndef CUSTODY_QUERY_H
#define CUSTODY_QUERY_H

#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "custody/buf.h"
#include "custody/format.h"
#include "custody/record.h"

/* One --sd test: element id, and optionally a parameter and its value. */
struct query_sd {
	const char *id;
	const char *param;  /* NULL: the element is present */
	const char *value;  /* NULL: the parameter is present */
};

/*
 * A query.  Options of different kinds combine with AND; repeated --host,
 * --app and --peer accept any of their values (OR); repeated --sd and
 * --grep must all hold.  Strings are borrowed from argv.
 */
struct query_filter {
	int64_t since;        /* recv_ns >= since; INT64_MIN when absent */
	int64_t until;        /* recv_ns < until; INT64_MAX when absent */
	uint64_t seq_lo;      /* inclusive */
	uint64_t seq_hi;      /* inclusive */
	const char **hosts;
	size_t nhosts;
	const char **apps;
	size_t napps;
	const char **peers;
	size_t npeers;
	uint32_t sev_mask;    /* bit s: severity s; all ones: no filter */
	uint32_t fac_mask;    /* bit f: facility f; all ones: no filter */
	uint32_t kind_mask;   /* bit k: record kind k */
	struct query_sd *sds;
	size_t nsds;
	const char **greps;
	size_t ngreps;
	pcre2_code *re;       /* owned; NULL: no --regex */
};

#define QUERY_ALL_MASK 0xffffffffu

/* Sets f to match everything. */
void query_filter_init(struct query_filter *f);

/* Frees what f owns (the compiled regex and the arrays). */
void query_filter_close(struct query_filter *f);

/*
 * Option parsers.  Each returns 0 or -1 when arg is not valid; arg is
 * borrowed and must outlive f.
 */
int query_filter_severity(struct query_filter *f, const char *arg);
int query_filter_facility(struct query_filter *f, const char *arg);
int query_filter_kind(struct query_filter *f, const char *arg);
int query_filter_seq(struct query_filter *f, const char *arg);
int query_filter_sd(struct query_filter *f, const char *arg);
int query_filter_add(const char ***list, size_t *n, const char *arg);

/*
 * Compiles pattern (borrowed) with PCRE2, JIT when it can.  On failure
 * writes the reason to err (errlen bytes) and returns -1.
 */
int query_filter_regex(struct query_filter *f, const char *pattern,
    char *err, size_t errlen);

/*
 * Can a block with header h hold a match, judged from the header alone
 * (time range, sequence range, type)?
 */
int query_filter_block(const struct query_filter *f, const cst_blk_hdr *h);

/* Does the filter use a field the index summarises (host, app, ...)? */
int query_filter_uses_index(const struct query_filter *f);

/*
 * Can an uncompressed payload raw[0..len) hold a match of the --grep
 * strings?  Every raw byte string is in the payload verbatim, so a block
 * without the text cannot match.
 */
int query_filter_payload(const struct query_filter *f, const uint8_t *raw,
    size_t len);

/*
 * Does r match?  md (borrowed) is the caller's PCRE2 match data, one per
 * thread, or NULL when f has no regex.
 */
int query_filter_match(const struct query_filter *f, const cst_record *r,
    pcre2_match_data *md);

/* The host part of a peer address ("[2001:db8::1]:514" -> "2001:db8::1"). */
void query_filter_peer_host(const uint8_t *p, size_t len, size_t *off,
    size_t *hlen);

/*
 * Parses a time as --since/--until take it, relative to now_ns: RFC 3339
 * ("2024-05-01T12:00:00Z", offsets, fractions, a space for T, a date
 * alone; no zone means UTC), "now", "today", "yesterday", "tomorrow",
 * "@SECONDS", or a duration "-2h", "+30min", "1h30min", "2 days ago" (no
 * sign: in the past).  Returns 0 or -1.
 */
int query_time_parse(const char *s, int64_t now_ns, int64_t *out);

/* The time now (CLOCK_REALTIME), ns since 1970 UTC. */
int64_t query_time_now(void);

/* Parses a duration ("5min", "1h", "30s") into ns > 0.  Returns 0 or -1. */
int query_time_duration(const char *s, int64_t *out);

/*
 * Formats t as RFC 3339 UTC with digits fractional digits (0, 3, 6, 9)
 * into out (at least 40 bytes).
 */
void query_time_format(int64_t t, int digits, char *out, size_t len);

/*
 * Static names of syslog severities and facilities: "err", "local0"; "-"
 * for none.  Record kinds and transports are named by the library
 * (cst_record_kind_name, cst_transport_name).
 */
const char *query_out_severity(int s);
const char *query_out_facility(int f);

enum query_format {
	QUERY_TEXT,
	QUERY_JSON,
	QUERY_RAW,
};

/*
 * Appends the output line of r (borrowed), the block_no-th block's record,
 * in format fmt to out (borrowed).  Text output escapes every control
 * byte and invalid UTF-8, so a hostile message cannot drive the terminal.
 * Returns 0 or CST_ENOMEM.
 */
int query_out_record(cst_buf *out, enum query_format fmt, const cst_record *r,
    uint64_t block_no);

#endif /* CUSTODY_QUERY_H */
