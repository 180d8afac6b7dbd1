/*
 * Output of one record: text for a person, JSON lines for a program, raw
 * bytes for a replay.
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
#include "custody/record.h"

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

const char *
query_out_kind(unsigned k)
{
	static const char *n[] = { "event", "start", "stop", "recovery",
	    "key-epoch", "loss", "stats", "clock", "reload", "refusal" };

	return (k <= CST_REC_KIND_MAX ? n[k] : "-");
}

const char *
query_out_transport(unsigned t)
{
	static const char *n[] = { "internal", "udp", "tcp", "tls", "relp",
	    "unix" };

	return (t <= CST_TR_MAX ? n[t] : "-");
}

/*
 * Length of the valid UTF-8 sequence at p[0..len), or 0 (overlong forms,
 * surrogates and code points past U+10FFFF are invalid).  *cp gets the
 * code point.
 */
static size_t
utf8_len(const uint8_t *p, size_t len, uint32_t *cp)
{
	size_t n, i;
	uint32_t c, min;

	if (p[0] < 0x80) {
		*cp = p[0];
		return (1);
	} else if ((p[0] & 0xe0) == 0xc0) {
		n = 2;
		c = p[0] & 0x1f;
		min = 0x80;
	} else if ((p[0] & 0xf0) == 0xe0) {
		n = 3;
		c = p[0] & 0x0f;
		min = 0x800;
	} else if ((p[0] & 0xf8) == 0xf0) {
		n = 4;
		c = p[0] & 0x07;
		min = 0x10000;
	} else {
		return (0);
	}
	if (n > len)
		return (0);
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return (0);
		c = c << 6 | (p[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return (0);
	*cp = c;
	return (n);
}

static int
utf8_valid(const uint8_t *p, size_t len)
{
	size_t i, n;
	uint32_t cp;

	for (i = 0; i < len; i += n)
		if ((n = utf8_len(p + i, len - i, &cp)) == 0)
			return (0);
	return (1);
}

static int
puts_(cst_buf *o, const char *s)
{

	return (cst_buf_append(o, s, strlen(s)));
}

/* Text: printable UTF-8 as is, everything else as \xNN. */
static int
text_esc(cst_buf *o, const uint8_t *p, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	char e[4] = { '\\', 'x', 0, 0 };
	size_t i, n, run;
	uint32_t cp;
	int rc;

	for (i = 0; i < len; i += n) {
		run = i;
		while (run < len && p[run] >= 0x20 && p[run] < 0x7f &&
		    p[run] != '\\')
			run++;
		if (run > i) {
			if ((rc = cst_buf_append(o, p + i, run - i)) != 0)
				return (rc);
			n = 0;
			i = run;
			continue;
		}
		n = utf8_len(p + i, len - i, &cp);
		if (n > 1 && cp >= 0xa0) {
			if ((rc = cst_buf_append(o, p + i, n)) != 0)
				return (rc);
			continue;
		}
		/* A C0 or C1 control, DEL, backslash or an invalid byte. */
		n = 1;
		if (p[i] == '\\') {
			rc = cst_buf_append(o, "\\\\", 2);
		} else {
			e[2] = hex[p[i] >> 4];
			e[3] = hex[p[i] & 15];
			rc = cst_buf_append(o, e, 4);
		}
		if (rc != 0)
			return (rc);
	}
	return (0);
}

/* A JSON string; invalid UTF-8 becomes U+FFFD. */
static int
json_str(cst_buf *o, const uint8_t *p, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	char u[6] = { '\\', 'u', '0', '0', 0, 0 };
	size_t i, n, run;
	uint32_t cp;
	int rc;

	if ((rc = cst_buf_append(o, "\"", 1)) != 0)
		return (rc);
	for (i = 0; i < len; i += n) {
		run = i;
		while (run < len && p[run] >= 0x20 && p[run] < 0x7f &&
		    p[run] != '"' && p[run] != '\\')
			run++;
		if (run > i) {
			if ((rc = cst_buf_append(o, p + i, run - i)) != 0)
				return (rc);
			n = 0;
			i = run;
			continue;
		}
		n = utf8_len(p + i, len - i, &cp);
		if (n > 1) {
			rc = cst_buf_append(o, p + i, n);
		} else if (n == 0) {
			n = 1;
			rc = cst_buf_append(o, "\xef\xbf\xbd", 3);
		} else if (p[i] == '"') {
			rc = cst_buf_append(o, "\\\"", 2);
		} else if (p[i] == '\\') {
			rc = cst_buf_append(o, "\\\\", 2);
		} else if (p[i] == '\n') {
			rc = cst_buf_append(o, "\\n", 2);
		} else if (p[i] == '\t') {
			rc = cst_buf_append(o, "\\t", 2);
		} else if (p[i] == '\r') {
			rc = cst_buf_append(o, "\\r", 2);
		} else {
			u[4] = hex[p[i] >> 4];
			u[5] = hex[p[i] & 15];
			rc = cst_buf_append(o, u, 6);
		}
		if (rc != 0)
			return (rc);
	}
	return (cst_buf_append(o, "\"", 1));
}

static int
json_span(cst_buf *o, const char *key, const cst_record *r, cst_span s)
{
	int rc;

	if ((rc = puts_(o, key)) != 0)
		return (rc);
	if (!r->has_parsed || s.len == 0)
		return (puts_(o, "null"));
	return (json_str(o, r->raw.p + s.off, s.len));
}

static int
json_int(cst_buf *o, const char *key, long long v)
{
	char b[64];

	snprintf(b, sizeof(b), "%s%lld", key, v);
	return (puts_(o, b));
}

static int
json_u64(cst_buf *o, const char *key, uint64_t v)
{
	char b[64];

	snprintf(b, sizeof(b), "%s%llu", key, (unsigned long long)v);
	return (puts_(o, b));
}

static int
json_b64(cst_buf *o, const uint8_t *p, size_t len)
{
	size_t n = sodium_base64_encoded_len(len,
	    sodium_base64_VARIANT_ORIGINAL);
	size_t at;
	int rc;

	if ((rc = cst_buf_append(o, "\"", 1)) != 0 ||
	    (rc = cst_buf_reserve(o, n)) != 0)
		return (rc);
	at = o->len;
	sodium_bin2base64((char *)o->p + at, n, p, len,
	    sodium_base64_VARIANT_ORIGINAL);
	o->len += n - 1;
	return (cst_buf_append(o, "\"", 1));
}

/* The audit detail map (str keys; uint, int, str, bin, bool, nil). */
static int
json_detail(cst_buf *o, const cst_record *r)
{
	msgpack_unpacked u;
	msgpack_object_kv *kv;
	msgpack_object *v;
	size_t off = 0;
	uint32_t i;
	int rc = 0;

	if (r->detail.p == NULL)
		return (puts_(o, "null"));
	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, (const char *)r->detail.p, r->detail.len,
	    &off) != MSGPACK_UNPACK_SUCCESS || u.data.type != MSGPACK_OBJECT_MAP) {
		rc = puts_(o, "null");
		goto done;
	}
	if ((rc = puts_(o, "{")) != 0)
		goto done;
	for (i = 0; i < u.data.via.map.size; i++) {
		kv = &u.data.via.map.ptr[i];
		if (kv->key.type != MSGPACK_OBJECT_STR)
			continue;
		if ((i > 0 && (rc = puts_(o, ",")) != 0) ||
		    (rc = json_str(o, (const uint8_t *)kv->key.via.str.ptr,
		    kv->key.via.str.size)) != 0 || (rc = puts_(o, ":")) != 0)
			goto done;
		v = &kv->val;
		switch (v->type) {
		case MSGPACK_OBJECT_POSITIVE_INTEGER:
			rc = json_u64(o, "", v->via.u64);
			break;
		case MSGPACK_OBJECT_NEGATIVE_INTEGER:
			rc = json_int(o, "", (long long)v->via.i64);
			break;
		case MSGPACK_OBJECT_STR:
			rc = json_str(o, (const uint8_t *)v->via.str.ptr,
			    v->via.str.size);
			break;
		case MSGPACK_OBJECT_BIN:
			rc = json_b64(o, (const uint8_t *)v->via.bin.ptr,
			    v->via.bin.size);
			break;
		case MSGPACK_OBJECT_BOOLEAN:
			rc = puts_(o, v->via.boolean ? "true" : "false");
			break;
		default:
			rc = puts_(o, "null");
			break;
		}
		if (rc != 0)
			goto done;
	}
	rc = puts_(o, "}");
done:
	msgpack_unpacked_destroy(&u);
	return (rc);
}

static int
out_json(cst_buf *o, const cst_record *r, uint64_t block_no)
{
	const cst_syslog *ps = &r->parsed;
	char t[48];
	int rc;

	query_time_format(r->recv_ns, 9, t, sizeof(t));
	if ((rc = json_u64(o, "{\"seq\":", r->seq)) != 0 ||
	    (rc = json_u64(o, ",\"block\":", block_no)) != 0 ||
	    (rc = json_int(o, ",\"recv_ns\":", (long long)r->recv_ns)) != 0 ||
	    (rc = puts_(o, ",\"recv_time\":\"")) != 0 ||
	    (rc = puts_(o, t)) != 0 ||
	    (rc = puts_(o, "\",\"kind\":\"")) != 0 ||
	    (rc = puts_(o, query_out_kind(r->kind))) != 0 ||
	    (rc = puts_(o, "\",\"transport\":\"")) != 0 ||
	    (rc = puts_(o, query_out_transport(r->transport))) != 0 ||
	    (rc = puts_(o, "\",\"listener\":")) != 0 ||
	    (rc = json_str(o, r->listener.p, r->listener.len)) != 0 ||
	    (rc = puts_(o, ",\"peer\":")) != 0 ||
	    (rc = json_str(o, r->peer.p, r->peer.len)) != 0 ||
	    (rc = puts_(o, ",\"tls_peer\":")) != 0)
		return (rc);
	if (r->tls_peer.p == NULL)
		rc = puts_(o, "null");
	else
		rc = json_str(o, r->tls_peer.p, r->tls_peer.len);
	if (rc != 0 || (rc = json_u64(o, ",\"flags\":", r->flags)) != 0 ||
	    (rc = puts_(o, ",\"format\":")) != 0)
		return (rc);
	if (!r->has_parsed || ps->format == CST_SYSLOG_NONE)
		rc = puts_(o, "null");
	else
		rc = puts_(o, ps->format == CST_SYSLOG_RFC5424 ?
		    "\"rfc5424\"" : "\"rfc3164\"");
	if (rc != 0)
		return (rc);
	if (r->has_parsed && ps->facility >= 0)
		rc = json_int(o, ",\"facility\":", ps->facility);
	else
		rc = puts_(o, ",\"facility\":null");
	if (rc != 0)
		return (rc);
	if (r->has_parsed && ps->severity >= 0)
		rc = json_int(o, ",\"severity\":", ps->severity);
	else
		rc = puts_(o, ",\"severity\":null");
	if (rc != 0)
		return (rc);
	if (r->has_parsed && ps->ts_ns != CST_TS_NONE) {
		query_time_format(ps->ts_ns, 9, t, sizeof(t));
		if ((rc = puts_(o, ",\"timestamp\":\"")) != 0 ||
		    (rc = puts_(o, t)) != 0 || (rc = puts_(o, "\"")) != 0)
			return (rc);
	} else if ((rc = puts_(o, ",\"timestamp\":null")) != 0) {
		return (rc);
	}
	if ((rc = json_span(o, ",\"host\":", r, ps->hostname)) != 0 ||
	    (rc = json_span(o, ",\"app\":", r, ps->app)) != 0 ||
	    (rc = json_span(o, ",\"procid\":", r, ps->procid)) != 0 ||
	    (rc = json_span(o, ",\"msgid\":", r, ps->msgid)) != 0 ||
	    (rc = json_span(o, ",\"sd\":", r, ps->sd)) != 0 ||
	    (rc = json_span(o, ",\"msg\":", r, ps->msg)) != 0 ||
	    (rc = puts_(o, ",\"detail\":")) != 0 ||
	    (rc = json_detail(o, r)) != 0)
		return (rc);
	if (utf8_valid(r->raw.p, r->raw.len)) {
		if ((rc = puts_(o, ",\"raw\":")) != 0 ||
		    (rc = json_str(o, r->raw.p, r->raw.len)) != 0)
			return (rc);
	} else if ((rc = puts_(o, ",\"raw_base64\":")) != 0 ||
	    (rc = json_b64(o, r->raw.p, r->raw.len)) != 0) {
		return (rc);
	}
	return (puts_(o, "}\n"));
}

static int
out_text(cst_buf *o, const cst_record *r)
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
		    (rc = puts_(o, query_out_kind(r->kind))) != 0 ||
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

int
query_out_record(cst_buf *out, enum query_format fmt, const cst_record *r,
    uint64_t block_no)
{
	int rc;

	switch (fmt) {
	case QUERY_JSON:
		return (out_json(out, r, block_no));
	case QUERY_RAW:
		if (r->raw.len > 0 &&
		    (rc = cst_buf_append(out, r->raw.p, r->raw.len)) != 0)
			return (rc);
		return (cst_buf_append(out, "\n", 1));
	case QUERY_TEXT:
	default:
		return (out_text(out, r));
	}
}
