/*
 * Syslog message parsing (RFC 5424 and RFC 3164).
 *
 * The parser never copies and never replaces the bytes received: every
 * textual field is an offset and a length into the message as it arrived,
 * so what is derived can always be checked against what was received.
 */
#ifndef CUSTODY_SYSLOG_H
#define CUSTODY_SYSLOG_H

#include <stddef.h>
#include <stdint.h>

enum cst_syslog_format {
	CST_SYSLOG_NONE = 0,    /* did not parse */
	CST_SYSLOG_RFC5424 = 1,
	CST_SYSLOG_RFC3164 = 2,
};

/* A field inside the raw message; len == 0 means absent (or RFC 5424 "-"). */
typedef struct cst_span {
	uint32_t off;
	uint32_t len;
} cst_span;

#define CST_TS_NONE INT64_MIN /* no timestamp, or one that does not parse */

typedef struct cst_syslog {
	uint8_t format;   /* enum cst_syslog_format */
	int8_t facility;  /* 0..23, -1 when there is no PRI */
	int8_t severity;  /* 0..7, -1 when there is no PRI */
	int64_t ts_ns;    /* message timestamp, UTC ns since 1970, or CST_TS_NONE */
	cst_span timestamp; /* the timestamp text as sent */
	cst_span hostname;
	cst_span app;     /* RFC 5424 APP-NAME, RFC 3164 TAG without [pid] */
	cst_span procid;
	cst_span msgid;
	cst_span sd;      /* RFC 5424 STRUCTURED-DATA, whole, brackets included */
	cst_span msg;     /* the free-form message (BOM excluded) */
} cst_syslog;

/*
 * Parses msg[0..len) into out (borrowed; filled on every return).
 * recv_ns, the receive time (UTC ns), supplies the year an RFC 3164
 * timestamp lacks: the one that puts it nearest to recv_ns (none when
 * recv_ns is CST_TS_NONE).  Returns 0 when the message parsed as RFC 5424
 * or RFC 3164, CST_EPARSE when it did not (out->format is then
 * CST_SYSLOG_NONE and out->msg spans the whole input), CST_ETOOBIG with
 * every span empty when len exceeds UINT32_MAX.  Never reads outside
 * msg[0..len).
 *
 * Absent fields, and RFC 5424 "-", are {0, 0}.  A trailing LF, CR or NUL
 * (framing left-overs) is never part of msg; an RFC 5424 BOM neither.
 * RFC 3164 times without a zone are taken as UTC; with a zone other than
 * UTC, or out of range, ts_ns is CST_TS_NONE while timestamp still spans
 * the text.  RFC 3164 header fields are found by heuristics (see
 * formats/syslog_parse.c): a message whose text has no recognisable
 * header is all msg.
 */
int cst_syslog_parse(const uint8_t *msg, size_t len, int64_t recv_ns,
    cst_syslog *out);

#endif /* CUSTODY_SYSLOG_H */
