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
 * A query.  Options of different kinds combine with AND; repeated
 * --identifier, --host and --peer accept any of their values (OR);
 * repeated --sd, --grep, --grep-fixed and --regex must all hold.  Strings
 * are borrowed from argv.
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
	const char **greps;   /* --grep-fixed: literal byte strings */
	size_t ngreps;
	pcre2_code **res;     /* owned: --grep and --regex patterns */
	size_t nres;
	int64_t pid;          /* --pid: a local sender's (R-REC-9); -1: any */
	int64_t uid;          /* --uid; -1: any */
	const char **tls_peers; /* --tls-peer: shell patterns on field 6 */
	size_t ntls_peers;
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
 * Adds pattern (borrowed), compiled with PCRE2 (JIT when it can), to the
 * patterns a record's raw bytes must all match.  With smart set, the
 * match ignores ASCII case when the pattern has no upper-case letter
 * (journalctl's --grep); otherwise it is case-sensitive.  On failure
 * writes the reason to err (errlen bytes) and returns -1.
 */
int query_filter_regex(struct query_filter *f, const char *pattern,
    int smart, char *err, size_t errlen);

/*
 * Can a block with header h hold a match, judged from the header alone
 * (time range, sequence range, type)?
 */
int query_filter_block(const struct query_filter *f, const cst_blk_hdr *h);

/* Does the filter use a field the index summarises (host, app, ...)? */
int query_filter_uses_index(const struct query_filter *f);

/*
 * Can an uncompressed payload raw[0..len) hold a match of the
 * --grep-fixed strings?  Every raw byte string is in the payload verbatim, so a block
 * without the text cannot match.
 */
int query_filter_payload(const struct query_filter *f, const uint8_t *raw,
    size_t len);

/*
 * Does r match?  md (borrowed) is the caller's PCRE2 match data, one per
 * thread, from pcre2_match_data_create(1, NULL), or NULL when f has no
 * pattern.
 */
int query_filter_match(const struct query_filter *f, const cst_record *r,
    pcre2_match_data *md);

/*
 * A local sender's credentials: when r (borrowed) came over the unix
 * socket with field 6 in R-REC-9's form, sets *pid, *uid and *gid and
 * returns 1; else 0.
 */
int query_filter_ucred(const cst_record *r, uint64_t *pid, uint64_t *uid,
    uint64_t *gid);

/* The host part of a peer address ("[2001:db8::1]:514" -> "2001:db8::1"). */
void query_filter_peer_host(const uint8_t *p, size_t len, size_t *off,
    size_t *hlen);

/*
 * Parses a time as --since/--until take it, relative to now_ns, as
 * journalctl does: RFC 3339 ("2024-05-01T12:00:00Z", offsets, fractions,
 * a space for T, no seconds, a date alone, a " UTC" suffix),
 * "YYYY-MM-DD HH:MM[:SS]", a clock time "21:00" (today), "today",
 * "yesterday", "tomorrow" (midnight) each optionally followed by a clock
 * time, "now", "@SECONDS", or a duration "-2h", "+30min", "1h30min",
 * "2 days ago" (no sign: in the past).  A time without a zone is local
 * time (TZ), or UTC when utc is set.  Returns 0 or -1.
 */
int query_time_parse(const char *s, int64_t now_ns, int utc, int64_t *out);

/* The time now (CLOCK_REALTIME), ns since 1970 UTC. */
int64_t query_time_now(void);

/* Parses a duration ("5min", "1h", "30s") into ns > 0.  Returns 0 or -1. */
int query_time_duration(const char *s, int64_t *out);

/*
 * Formats t as RFC 3339 UTC with digits fractional digits (0, 3, 6, 9)
 * into out (at least 40 bytes).
 */
void query_time_format(int64_t t, int digits, char *out, size_t len);

/* How a time is shown on screen, after journalctl's output modes. */
enum query_tstyle {
	QUERY_TS_SHORT,   /* "Jun 01 13:00:00" */
	QUERY_TS_PRECISE, /* "Jun 01 13:00:00.123456" */
	QUERY_TS_ISO,     /* "2024-06-01T13:00:00+01:00" */
	QUERY_TS_VERBOSE, /* "Sat 2024-06-01 13:00:00.123456 BST" */
};

/*
 * Formats t in style, in local time (TZ) or in UTC when utc is set, into
 * out (at least 64 bytes).
 */
void query_time_show(int64_t t, enum query_tstyle style, int utc, char *out,
    size_t len);

/*
 * Static names of syslog severities and facilities: "err", "local0"; "-"
 * for none.  Record kinds and transports are named by the library
 * (cst_record_kind_name, cst_transport_name).
 */
const char *query_out_severity(int s);
const char *query_out_facility(int f);

/*
 * Output modes.  QUERY_TEXT is the evidence line custody-verify --bundle
 * --records prints: UTC RFC 3339 with microseconds, host, app[procid],
 * severity, message.  The others are custody-query's -o modes, named as
 * journalctl names them.
 */
enum query_format {
	QUERY_TEXT,
	QUERY_SHORT,         /* "Jun 01 13:00:00 host app[pid]: msg" */
	QUERY_SHORT_ISO,     /* "2024-06-01T13:00:00+01:00 host ..." */
	QUERY_SHORT_PRECISE, /* "Jun 01 13:00:00.123456 host ..." */
	QUERY_JSON,          /* one object per line (--help-json) */
	QUERY_JSON_PRETTY,   /* the same object, indented */
	QUERY_CAT,           /* the message alone */
	QUERY_RAW,           /* the bytes as received */
	QUERY_VERBOSE,       /* every field, one per line */
};

/*
 * Appends the output of r (borrowed), the block_no-th block's record, in
 * mode fmt to out (borrowed), its times in local time (TZ) or in UTC when
 * utc is set.  local_host (borrowed, or NULL) is the collector's host
 * name for a record that names none (query_runs.h): shown as its host in
 * the short and text forms, and as its own field (local_host) in JSON and
 * verbose, never in place of raw or the parsed fields.  Text output
 * escapes every control byte and invalid UTF-8, so a hostile message
 * cannot drive the terminal.  Returns 0 or CST_ENOMEM.
 */
int query_out_show(cst_buf *out, enum query_format fmt, int utc,
    const cst_record *r, uint64_t block_no, const char *local_host);

/*
 * query_out_show with the record's chain named, for output merged from
 * several stores: chain (borrowed, CST_CHAIN_ID_LEN bytes, or NULL for no
 * label) is a "[<first 8 hex digits>] " prefix in the text forms, a
 * "chain" key (all 32 digits, first) in JSON, a chain= line in verbose.
 * raw stays the bytes as received, unlabelled.
 */
int query_out_show_chain(cst_buf *out, enum query_format fmt, int utc,
    const cst_record *r, uint64_t block_no, const char *local_host,
    const uint8_t *chain);

/* query_out_show in UTC. */
int query_out_record(cst_buf *out, enum query_format fmt, const cst_record *r,
    uint64_t block_no);

#endif /* CUSTODY_QUERY_H */
