/*
 * Output of one record: text for a person (journalctl's short, short-iso,
 * short-precise, cat and verbose), JSON for a program, raw bytes for a
 * replay.
 *
 * Every message was written by someone the collector does not trust, so
 * text output escapes control bytes (a message cannot move the cursor or
 * retitle the terminal) and JSON output is valid UTF-8 whatever the
 * bytes: derived fields replace invalid bytes with U+FFFD, and the exact
 * bytes are always in "raw" (valid UTF-8) or "raw_base64" (otherwise).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <msgpack.h>
#include <sodium.h>

#include "custody/buf.h"
#include "custody/error.h"
#include "custody/hash.h"
#include "custody/record.h"

#include "json.h"
#include "query.h"

const char *
query_out_severity(int s)
{
	static const char *n[] = { "emerg", "alert", "crit", "err",
	    "warning", "notice", "info", "debug" };

	return (s >= 0 && s <= 7 ? n[s] : "-");
}

const char *
query_out_facility(int f)
{
	static const char *n[] = { "kern", "user", "mail", "daemon", "auth",
	    "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp", "ntp",
	    "security", "console", "solaris-cron", "local0", "local1",
	    "local2", "local3", "local4", "local5", "local6", "local7" };

	return (f >= 0 && f <= 23 ? n[f] : "-");
}

static int
utf8_valid(const uint8_t *p, size_t len)
{
	size_t i, n;
	uint32_t cp;

	for (i = 0; i < len; i += n)
		if ((n = json_utf8_len(p + i, len - i, &cp)) == 0)
			return (0);
	return (1);
}

static int
puts_(cst_buf *o, const char *s)
{

	return (cst_buf_append(o, s, strlen(s)));
}

/* Text: the one text escaper (json.h). */
static int
text_esc(cst_buf *o, const uint8_t *p, size_t len)
{

	return (json_text_escape(o, p, len));
}

static void
json_span(struct json *j, const char *key, const cst_record *r, cst_span s)
{

	json_key(j, key);
	if (!r->has_parsed || s.len == 0)
		json_null(j);
	else
		json_string(j, r->raw.p + s.off, s.len);
}

/* The audit detail map (str keys; uint, int, str, bin, bool, nil). */
static void
json_detail(struct json *j, const cst_record *r)
{
	msgpack_unpacked u;
	msgpack_object_kv *kv;
	msgpack_object *v;
	size_t off = 0;
	uint32_t i;

	if (r->detail.p == NULL) {
		json_null(j);
		return;
	}
	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, (const char *)r->detail.p, r->detail.len,
	    &off) != MSGPACK_UNPACK_SUCCESS || u.data.type != MSGPACK_OBJECT_MAP) {
		json_null(j);
		goto done;
	}
	json_begin_object(j);
	for (i = 0; i < u.data.via.map.size; i++) {
		kv = &u.data.via.map.ptr[i];
		if (kv->key.type != MSGPACK_OBJECT_STR)
			continue;
		json_keyn(j, kv->key.via.str.ptr, kv->key.via.str.size);
		v = &kv->val;
		switch (v->type) {
		case MSGPACK_OBJECT_POSITIVE_INTEGER:
			json_u64(j, v->via.u64);
			break;
		case MSGPACK_OBJECT_NEGATIVE_INTEGER:
			json_i64(j, v->via.i64);
			break;
		case MSGPACK_OBJECT_STR:
			json_string(j, v->via.str.ptr, v->via.str.size);
			break;
		case MSGPACK_OBJECT_BIN:
			json_base64(j, (const uint8_t *)v->via.bin.ptr,
			    v->via.bin.size);
			break;
		case MSGPACK_OBJECT_BOOLEAN:
			json_bool(j, v->via.boolean);
			break;
		default:
			json_null(j);
			break;
		}
	}
	json_end_object(j);
done:
	msgpack_unpacked_destroy(&u);
}

static int
out_json(cst_buf *o, const cst_record *r, uint64_t block_no, int pretty,
    const char *local_host, const uint8_t *chain)
{
	const cst_syslog *ps = &r->parsed;
	struct json j;
	char t[48];
	uint64_t pid, uid, gid;
	int rc;

	if (pretty)
		json_init_pretty(&j, o);
	else
		json_init(&j, o);
	json_begin_object(&j);
	if (chain != NULL) {
		json_key(&j, "chain");
		json_hex(&j, chain, CST_CHAIN_ID_LEN);
	}
	json_key(&j, "seq");
	json_u64(&j, r->seq);
	json_key(&j, "block");
	json_u64(&j, block_no);
	json_key(&j, "recv_ns");
	json_i64(&j, r->recv_ns);
	query_time_format(r->recv_ns, 9, t, sizeof(t));
	json_key(&j, "recv_time");
	json_cstring(&j, t);
	json_key(&j, "kind");
	json_cstring(&j, cst_record_kind_name(r->kind));
	json_key(&j, "transport");
	json_cstring(&j, cst_transport_name(r->transport));
	json_key(&j, "listener");
	json_string(&j, r->listener.p, r->listener.len);
	json_key(&j, "peer");
	json_string(&j, r->peer.p, r->peer.len);
	json_key(&j, "tls_peer");
	if (r->tls_peer.p == NULL)
		json_null(&j);
	else
		json_string(&j, r->tls_peer.p, r->tls_peer.len);
	json_key(&j, "flags");
	json_u64(&j, r->flags);
	json_key(&j, "format");
	if (!r->has_parsed || ps->format == CST_SYSLOG_NONE)
		json_null(&j);
	else
		json_cstring(&j, ps->format == CST_SYSLOG_RFC5424 ?
		    "rfc5424" : "rfc3164");
	json_key(&j, "facility");
	if (r->has_parsed && ps->facility >= 0)
		json_i64(&j, ps->facility);
	else
		json_null(&j);
	json_key(&j, "severity");
	if (r->has_parsed && ps->severity >= 0)
		json_i64(&j, ps->severity);
	else
		json_null(&j);
	json_key(&j, "timestamp");
	if (r->has_parsed && ps->ts_ns != CST_TS_NONE) {
		query_time_format(ps->ts_ns, 9, t, sizeof(t));
		json_cstring(&j, t);
	} else {
		json_null(&j);
	}
	json_span(&j, "host", r, ps->hostname);
	json_span(&j, "app", r, ps->app);
	json_span(&j, "procid", r, ps->procid);
	json_span(&j, "msgid", r, ps->msgid);
	json_span(&j, "sd", r, ps->sd);
	json_span(&j, "msg", r, ps->msg);
	json_key(&j, "detail");
	json_detail(&j, r);
	if (utf8_valid(r->raw.p, r->raw.len)) {
		json_key(&j, "raw");
		json_string(&j, r->raw.p, r->raw.len);
	} else {
		json_key(&j, "raw_base64");
		json_base64(&j, r->raw.p, r->raw.len);
	}
	json_key(&j, "ucred");
	if (query_filter_ucred(r, &pid, &uid, &gid)) {
		json_begin_object(&j);
		json_key(&j, "pid");
		json_u64(&j, pid);
		json_key(&j, "uid");
		json_u64(&j, uid);
		json_key(&j, "gid");
		json_u64(&j, gid);
		json_end_object(&j);
	} else
		json_null(&j);
	if (local_host != NULL) {
		json_key(&j, "local_host");
		json_cstring(&j, local_host);
	}
	json_end_object(&j);
	if ((rc = json_finish(&j)) != 0)
		return (rc);
	return (cst_buf_append(o, "\n", 1));
}

static int
out_text(cst_buf *o, const cst_record *r, const char *local_host)
{
	const cst_syslog *ps = &r->parsed;
	cst_span msg;
	char t[48];
	int rc;

	query_time_format(r->recv_ns, 6, t, sizeof(t));
	if ((rc = puts_(o, t)) != 0 || (rc = puts_(o, " ")) != 0)
		return (rc);
	if (r->kind != CST_REC_EVENT) {
		if ((rc = puts_(o, "custodyd[")) != 0 ||
		    (rc = puts_(o, cst_record_kind_name(r->kind))) != 0 ||
		    (rc = puts_(o, "]: ")) != 0 ||
		    (rc = text_esc(o, r->raw.p, r->raw.len)) != 0)
			return (rc);
		return (puts_(o, "\n"));
	}
	if (!r->has_parsed || ps->format == CST_SYSLOG_NONE) {
		if ((rc = puts_(o, "- - ?: ")) != 0 ||
		    (rc = text_esc(o, r->raw.p, r->raw.len)) != 0)
			return (rc);
		return (puts_(o, "\n"));
	}
	if (ps->hostname.len > 0)
		rc = text_esc(o, r->raw.p + ps->hostname.off, ps->hostname.len);
	else if (local_host != NULL)
		rc = text_esc(o, (const uint8_t *)local_host,
		    strlen(local_host));
	else
		rc = puts_(o, "-");
	if (rc != 0 || (rc = puts_(o, " ")) != 0)
		return (rc);
	if (ps->app.len > 0)
		rc = text_esc(o, r->raw.p + ps->app.off, ps->app.len);
	else
		rc = puts_(o, "-");
	if (rc != 0)
		return (rc);
	if (ps->procid.len > 0 && ((rc = puts_(o, "[")) != 0 ||
	    (rc = text_esc(o, r->raw.p + ps->procid.off, ps->procid.len)) != 0 ||
	    (rc = puts_(o, "]")) != 0))
		return (rc);
	if ((rc = puts_(o, " ")) != 0 ||
	    (rc = puts_(o, query_out_severity(ps->severity))) != 0 ||
	    (rc = puts_(o, ": ")) != 0)
		return (rc);
	msg = ps->msg;
	if (ps->sd.len > 0 && ((rc = text_esc(o, r->raw.p + ps->sd.off,
	    ps->sd.len)) != 0 || (msg.len > 0 && (rc = puts_(o, " ")) != 0)))
		return (rc);
	if ((rc = text_esc(o, r->raw.p + msg.off, msg.len)) != 0)
		return (rc);
	return (puts_(o, "\n"));
}

/* The text of s, escaped, or "-" when it is empty or absent. */
static int
text_span(cst_buf *o, const cst_record *r, cst_span s)
{

	if (!r->has_parsed || s.len == 0)
		return (puts_(o, "-"));
	return (text_esc(o, r->raw.p + s.off, s.len));
}

/*
 * The message part: a collector record's text, the raw bytes of a
 * message that did not parse, or the structured data and message.
 */
static int
text_message(cst_buf *o, const cst_record *r, int with_sd)
{
	const cst_syslog *ps = &r->parsed;
	int rc;

	if (r->kind != CST_REC_EVENT || !r->has_parsed ||
	    ps->format == CST_SYSLOG_NONE)
		return (text_esc(o, r->raw.p, r->raw.len));
	if (with_sd && ps->sd.len > 0 && ((rc = text_esc(o,
	    r->raw.p + ps->sd.off, ps->sd.len)) != 0 ||
	    (ps->msg.len > 0 && (rc = puts_(o, " ")) != 0)))
		return (rc);
	return (text_esc(o, r->raw.p + ps->msg.off, ps->msg.len));
}

/*
 * journalctl's short line: "TIME HOST IDENTIFIER[PID]: MESSAGE".  A
 * collector record is "custodyd[KIND]" of no host ("-"); a message that
 * did not parse has neither host nor identifier.
 */
static int
out_short(cst_buf *o, const cst_record *r, enum query_tstyle ts, int utc,
    const char *local_host)
{
	const cst_syslog *ps = &r->parsed;
	char t[64];
	int rc;

	query_time_show(r->recv_ns, ts, utc, t, sizeof(t));
	if ((rc = puts_(o, t)) != 0 || (rc = puts_(o, " ")) != 0)
		return (rc);
	if (r->kind != CST_REC_EVENT)
		rc = puts_(o, "- custodyd[") || puts_(o,
		    cst_record_kind_name(r->kind)) || puts_(o, "]");
	else if (!r->has_parsed || ps->format == CST_SYSLOG_NONE)
		rc = puts_(o, "- -");
	else if ((rc = (ps->hostname.len == 0 && local_host != NULL ?
	    text_esc(o, (const uint8_t *)local_host, strlen(local_host)) :
	    text_span(o, r, ps->hostname))) == 0 &&
	    (rc = puts_(o, " ")) == 0 &&
	    (rc = text_span(o, r, ps->app)) == 0 && ps->procid.len > 0 &&
	    (rc = puts_(o, "[")) == 0 && (rc = text_esc(o,
	    r->raw.p + ps->procid.off, ps->procid.len)) == 0)
		rc = puts_(o, "]");
	if (rc != 0)
		return (CST_ENOMEM);
	if ((rc = puts_(o, ": ")) != 0 || (rc = text_message(o, r, 1)) != 0)
		return (rc);
	return (puts_(o, "\n"));
}

/* One "    name=value" line of the verbose output; v escaped. */
static int
field(cst_buf *o, const char *name, const uint8_t *v, size_t len)
{
	int rc;

	if ((rc = puts_(o, "    ")) != 0 || (rc = puts_(o, name)) != 0 ||
	    (rc = puts_(o, "=")) != 0 || (rc = text_esc(o, v, len)) != 0)
		return (rc);
	return (puts_(o, "\n"));
}

static int
field_s(cst_buf *o, const char *name, const char *v)
{

	return (field(o, name, (const uint8_t *)v, strlen(v)));
}

static int
field_span(cst_buf *o, const char *name, const cst_record *r, cst_span s)
{

	if (!r->has_parsed || s.len == 0)
		return (0);
	return (field(o, name, r->raw.p + s.off, s.len));
}

/*
 * journalctl's verbose: a line with the time and the record's place in
 * the chain, then every field present, one per line, named as in the
 * JSON output.
 */
static int
out_verbose(cst_buf *o, const cst_record *r, uint64_t block_no, int utc,
    const char *local_host, const uint8_t *chain)
{
	const cst_syslog *ps = &r->parsed;
	struct json j;
	cst_buf d;
	char t[64], n[96];
	int rc;

	query_time_show(r->recv_ns, QUERY_TS_VERBOSE, utc, t, sizeof(t));
	snprintf(n, sizeof(n), " [seq=%llu block=%llu]\n",
	    (unsigned long long)r->seq, (unsigned long long)block_no);
	if ((rc = puts_(o, t)) != 0 || (rc = puts_(o, n)) != 0)
		return (rc);
	if (chain != NULL) {
		cst_hex(chain, CST_CHAIN_ID_LEN, n);
		if ((rc = field_s(o, "chain", n)) != 0)
			return (rc);
	}
	snprintf(n, sizeof(n), "%lld", (long long)r->recv_ns);
	if ((rc = field_s(o, "recv_ns", n)) != 0 ||
	    (rc = field_s(o, "kind", cst_record_kind_name(r->kind))) != 0 ||
	    (rc = field_s(o, "transport",
	    cst_transport_name(r->transport))) != 0 ||
	    (rc = field(o, "listener", r->listener.p, r->listener.len)) != 0 ||
	    (rc = field(o, "peer", r->peer.p, r->peer.len)) != 0 ||
	    (r->tls_peer.p != NULL && (rc = field(o, "tls_peer",
	    r->tls_peer.p, r->tls_peer.len)) != 0))
		return (rc);
	snprintf(n, sizeof(n), "%u", (unsigned)r->flags);
	if ((rc = field_s(o, "flags", n)) != 0)
		return (rc);
	if (r->has_parsed && ps->format != CST_SYSLOG_NONE &&
	    (rc = field_s(o, "format", ps->format == CST_SYSLOG_RFC5424 ?
	    "rfc5424" : "rfc3164")) != 0)
		return (rc);
	if (r->has_parsed && ps->facility >= 0) {
		snprintf(n, sizeof(n), "%d (%s)", ps->facility,
		    query_out_facility(ps->facility));
		if ((rc = field_s(o, "facility", n)) != 0)
			return (rc);
	}
	if (r->has_parsed && ps->severity >= 0) {
		snprintf(n, sizeof(n), "%d (%s)", ps->severity,
		    query_out_severity(ps->severity));
		if ((rc = field_s(o, "severity", n)) != 0)
			return (rc);
	}
	if (r->has_parsed && ps->ts_ns != CST_TS_NONE) {
		query_time_format(ps->ts_ns, 9, t, sizeof(t));
		if ((rc = field_s(o, "timestamp", t)) != 0)
			return (rc);
	}
	if ((local_host != NULL &&
	    (rc = field_s(o, "local_host", local_host)) != 0) ||
	    (rc = field_span(o, "host", r, ps->hostname)) != 0 ||
	    (rc = field_span(o, "app", r, ps->app)) != 0 ||
	    (rc = field_span(o, "procid", r, ps->procid)) != 0 ||
	    (rc = field_span(o, "msgid", r, ps->msgid)) != 0 ||
	    (rc = field_span(o, "sd", r, ps->sd)) != 0 ||
	    (rc = field_span(o, "msg", r, ps->msg)) != 0)
		return (rc);
	if (r->detail.p != NULL) {
		cst_buf_init(&d);
		json_init(&j, &d);
		json_detail(&j, r);
		if ((rc = json_finish(&j)) == 0)
			rc = field(o, "detail", d.p, d.len);
		cst_buf_close(&d);
		if (rc != 0)
			return (rc);
	}
	return (field(o, "raw", r->raw.p, r->raw.len));
}

/*
 * The bytes as received, one record per line: a trailing line feed the
 * sender sent ends the line instead of a second one, so no blank line is
 * printed for it, and a record that is nothing but line feeds prints
 * nothing.  Line feeds inside a record stay as received.
 */
static int
out_raw(cst_buf *o, const cst_record *r)
{
	size_t len = r->raw.len;
	int rc;

	while (len > 0 && r->raw.p[len - 1] == '\n')
		len--;
	if (len == 0)
		return (0);
	if ((rc = cst_buf_append(o, r->raw.p, len)) != 0)
		return (rc);
	return (cst_buf_append(o, "\n", 1));
}

/* "[0123abcd] ": the first 8 hex digits of the chain id, a line's label. */
static int
chain_label(cst_buf *o, const uint8_t *chain)
{
	char h[2 * CST_CHAIN_ID_LEN + 1], l[16];

	cst_hex(chain, CST_CHAIN_ID_LEN, h);
	snprintf(l, sizeof(l), "[%.8s] ", h);
	return (puts_(o, l));
}

int
query_out_show_chain(cst_buf *out, enum query_format fmt, int utc,
    const cst_record *r, uint64_t block_no, const char *local_host,
    const uint8_t *chain)
{
	int rc;

	switch (fmt) {
	case QUERY_JSON:
	case QUERY_JSON_PRETTY:
	case QUERY_RAW:
	case QUERY_VERBOSE:
		break;
	default:
		if (chain != NULL && (rc = chain_label(out, chain)) != 0)
			return (rc);
		break;
	}
	switch (fmt) {
	case QUERY_SHORT:
		return (out_short(out, r, QUERY_TS_SHORT, utc, local_host));
	case QUERY_SHORT_ISO:
		return (out_short(out, r, QUERY_TS_ISO, utc, local_host));
	case QUERY_SHORT_PRECISE:
		return (out_short(out, r, QUERY_TS_PRECISE, utc, local_host));
	case QUERY_JSON:
		return (out_json(out, r, block_no, 0, local_host, chain));
	case QUERY_JSON_PRETTY:
		return (out_json(out, r, block_no, 1, local_host, chain));
	case QUERY_CAT:
		if ((rc = text_message(out, r, 0)) != 0)
			return (rc);
		return (puts_(out, "\n"));
	case QUERY_RAW:
		return (out_raw(out, r));
	case QUERY_VERBOSE:
		return (out_verbose(out, r, block_no, utc, local_host, chain));
	case QUERY_TEXT:
	default:
		return (out_text(out, r, local_host));
	}
}

int
query_out_show(cst_buf *out, enum query_format fmt, int utc,
    const cst_record *r, uint64_t block_no, const char *local_host)
{

	return (query_out_show_chain(out, fmt, utc, r, block_no, local_host,
	    NULL));
}

int
query_out_record(cst_buf *out, enum query_format fmt, const cst_record *r,
    uint64_t block_no)
{

	return (query_out_show(out, fmt, 1, r, block_no, NULL));
}
