/*
 * Records (SPEC section 5): encoding with msgpack-c's packer, in shortest
 * forms only.  The reader is in record_decode.c.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <msgpack.h>

#include "custody/buf.h"
#include "custody/error.h"
#include "custody/record.h"
#include "custody/syslog.h"
#include "record_int.h"

/*
 * msgpack-c's write callback.  The fast path is here, not in buf.c, and
 * the packer's header sizes (1, 2, 3, 5, 9 bytes) are copied with constant
 * sizes: a call to memcpy for each was half the cost of an encode.
 */
static inline int
buf_write(void *data, const char *p, size_t n)
{
	cst_buf *b = data;
	uint8_t *d;

	if (n > b->cap - b->len)
		return (cst_buf_append(b, p, n) != 0 ? -1 : 0);
	d = b->p + b->len;
	switch (n) {
	case 1:
		d[0] = (uint8_t)p[0];
		break;
	case 2:
		memcpy(d, p, 2);
		break;
	case 3:
		memcpy(d, p, 3);
		break;
	case 5:
		memcpy(d, p, 5);
		break;
	case 9:
		memcpy(d, p, 9);
		break;
	default:
		memcpy(d, p, n);
		break;
	}
	b->len += n;
	return (0);
}

/* Checks that b is NULL and empty, or a string msgpack can frame. */
static int
bytes_ok(const cst_bytes *b)
{

	if (b->p == NULL)
		return (b->len == 0);
	return (b->len <= UINT32_MAX);
}

static int
span_ok(const cst_span *s, size_t raw_len)
{

	return ((uint64_t)s->off + s->len <= raw_len);
}

/* The checks of R-REC-1 and R-REC-2 on a record about to be encoded. */
static int
record_ok(const cst_record *r)
{
	const cst_syslog *s = &r->parsed;

	if (r->kind > CST_REC_KIND_MAX || r->transport > CST_TR_MAX ||
	    (r->flags & ~CST_RF_ALL) != 0)
		return (0);
	/* listener and peer are str, never nil: NULL means "". */
	if (!bytes_ok(&r->listener) || !bytes_ok(&r->peer) ||
	    !bytes_ok(&r->tls_peer) || !bytes_ok(&r->raw) ||
	    !bytes_ok(&r->detail))
		return (0);
	if (r->has_parsed) {
		if ((s->format != CST_SYSLOG_RFC5424 &&
		    s->format != CST_SYSLOG_RFC3164) ||
		    s->facility < -1 || s->facility > FACILITY_MAX ||
		    s->severity < -1 || s->severity > SEVERITY_MAX)
			return (0);
		if (!span_ok(&s->timestamp, r->raw.len) ||
		    !span_ok(&s->hostname, r->raw.len) ||
		    !span_ok(&s->app, r->raw.len) ||
		    !span_ok(&s->procid, r->raw.len) ||
		    !span_ok(&s->msgid, r->raw.len) ||
		    !span_ok(&s->sd, r->raw.len) ||
		    !span_ok(&s->msg, r->raw.len))
			return (0);
	}
	if (r->detail.p == NULL) {
		if (r->kind != CST_REC_EVENT)
			return (0);
	} else {
		if (r->kind == CST_REC_EVENT || r->transport != CST_TR_INTERNAL)
			return (0);
		/* Exactly one well-formed detail map, nothing after it. */
		if (cst_detail_check(r->detail.p, r->detail.len) != 0)
			return (0);
	}
	return (1);
}

static inline int
pack_bytes(msgpack_packer *pk, int is_str, const cst_bytes *b)
{

	if (is_str) {
		if (msgpack_pack_str(pk, b->len) != 0)
			return (-1);
		return (b->len > 0 ? msgpack_pack_str_body(pk, b->p, b->len) : 0);
	}
	if (msgpack_pack_bin(pk, b->len) != 0)
		return (-1);
	return (b->len > 0 ? msgpack_pack_bin_body(pk, b->p, b->len) : 0);
}

static inline int
pack_span(msgpack_packer *pk, const cst_span *s)
{

	if (msgpack_pack_uint32(pk, s->off) != 0 ||
	    msgpack_pack_uint32(pk, s->len) != 0)
		return (-1);
	return (0);
}

static int
pack_parsed(msgpack_packer *pk, const cst_syslog *s)
{

	if (msgpack_pack_array(pk, PARSED_FIELDS) != 0 ||
	    msgpack_pack_uint8(pk, s->format) != 0 ||
	    msgpack_pack_int8(pk, s->facility) != 0 ||
	    msgpack_pack_int8(pk, s->severity) != 0)
		return (-1);
	if (s->ts_ns == CST_TS_NONE) {
		if (msgpack_pack_nil(pk) != 0)
			return (-1);
	} else if (msgpack_pack_int64(pk, s->ts_ns) != 0) {
		return (-1);
	}
	if (pack_span(pk, &s->timestamp) != 0 ||
	    pack_span(pk, &s->hostname) != 0 ||
	    pack_span(pk, &s->app) != 0 ||
	    pack_span(pk, &s->procid) != 0 ||
	    pack_span(pk, &s->msgid) != 0 ||
	    pack_span(pk, &s->sd) != 0 ||
	    pack_span(pk, &s->msg) != 0)
		return (-1);
	return (0);
}

/*
 * Longest encoding of a record's fixed parts: the array header, five ints,
 * four str/bin headers, two nils, the parsed array.  Undercounting would
 * only cost a slower append.
 */
#define RECORD_OVERHEAD (1 + 5 * 9 + 4 * 5 + 2 + 3 + PARSED_FIELDS * 9)

int
cst_record_encode(const cst_record *r, cst_buf *out)
{
	msgpack_packer pk;
	size_t start = out->len;
	uint64_t need;
	int rc;

	if (!record_ok(r)) {
		rc = CST_EINVAL;
		goto err0;
	}
	/*
	 * One reservation, so that every write of the packer is a memcpy.
	 * record_ok bounded each length by 2^32, so the sum cannot wrap.
	 */
	need = (uint64_t)RECORD_OVERHEAD + r->listener.len + r->peer.len +
	    r->tls_peer.len + r->raw.len + r->detail.len;
	if (need > SIZE_MAX) {
		rc = CST_ENOMEM;
		goto err0;
	}
	if ((rc = cst_buf_reserve(out, (size_t)need)) != 0)
		goto err0;

	msgpack_packer_init(&pk, out, buf_write);
	if (msgpack_pack_array(&pk, RECORD_FIELDS) != 0 ||
	    msgpack_pack_uint8(&pk, r->kind) != 0 ||
	    msgpack_pack_uint64(&pk, r->seq) != 0 ||
	    msgpack_pack_int64(&pk, r->recv_ns) != 0 ||
	    msgpack_pack_uint8(&pk, r->transport) != 0 ||
	    pack_bytes(&pk, 1, &r->listener) != 0 ||
	    pack_bytes(&pk, 1, &r->peer) != 0)
		goto nomem;
	if (r->tls_peer.p == NULL) {
		if (msgpack_pack_nil(&pk) != 0)
			goto nomem;
	} else if (pack_bytes(&pk, 1, &r->tls_peer) != 0) {
		goto nomem;
	}
	if (msgpack_pack_uint32(&pk, r->flags) != 0 ||
	    pack_bytes(&pk, 0, &r->raw) != 0)
		goto nomem;
	if (!r->has_parsed) {
		if (msgpack_pack_nil(&pk) != 0)
			goto nomem;
	} else if (pack_parsed(&pk, &r->parsed) != 0) {
		goto nomem;
	}
	/* The detail map is already encoded (and checked by record_ok). */
	if (r->detail.p == NULL) {
		if (msgpack_pack_nil(&pk) != 0)
			goto nomem;
	} else if (buf_write(out, (const char *)r->detail.p,
	    r->detail.len) != 0) {
		goto nomem;
	}
	return (0);

nomem:
	rc = CST_ENOMEM;
	out->len = start;
err0:
	return (rc);
}

int
cst_detail_begin(cst_buf *out, uint32_t n)
{
	msgpack_packer pk;

	msgpack_packer_init(&pk, out, buf_write);
	return (msgpack_pack_map(&pk, n) != 0 ? CST_ENOMEM : 0);
}

/* Appends key; on failure leaves out as it was. */
static int
put_key(msgpack_packer *pk, const char *key)
{
	size_t klen = strlen(key);

	if (msgpack_pack_str(pk, klen) != 0 ||
	    msgpack_pack_str_body(pk, key, klen) != 0)
		return (-1);
	return (0);
}

/* One value of a detail pair, in the form its cst_detail_put_* took it. */
struct detail_val {
	enum { DV_U64, DV_I64, DV_BOOL, DV_STR } kind;
	uint64_t u;
	int64_t i;
	int b;
	const char *s;
	size_t slen;
};

static int
pack_val(msgpack_packer *pk, const struct detail_val *v)
{

	switch (v->kind) {
	case DV_U64:
		return (msgpack_pack_uint64(pk, v->u));
	case DV_I64:
		return (msgpack_pack_int64(pk, v->i));
	case DV_BOOL:
		return (v->b ? msgpack_pack_true(pk) : msgpack_pack_false(pk));
	case DV_STR:
		if (msgpack_pack_str(pk, v->slen) != 0 ||
		    (v->slen > 0 && msgpack_pack_str_body(pk, v->s, v->slen) != 0))
			return (-1);
		return (0);
	}
	return (-1);
}

/* Appends key and v; on failure leaves out as it was. */
static int
put_pair(cst_buf *out, const char *key, const struct detail_val *v)
{
	msgpack_packer pk;
	size_t start = out->len;

	msgpack_packer_init(&pk, out, buf_write);
	if (put_key(&pk, key) != 0 || pack_val(&pk, v) != 0) {
		out->len = start;
		return (CST_ENOMEM);
	}
	return (0);
}

int
cst_detail_put_u64(cst_buf *out, const char *key, uint64_t v)
{
	const struct detail_val dv = { .kind = DV_U64, .u = v };

	return (put_pair(out, key, &dv));
}

int
cst_detail_put_i64(cst_buf *out, const char *key, int64_t v)
{
	const struct detail_val dv = { .kind = DV_I64, .i = v };

	return (put_pair(out, key, &dv));
}

int
cst_detail_put_bool(cst_buf *out, const char *key, int v)
{
	const struct detail_val dv = { .kind = DV_BOOL, .b = v };

	return (put_pair(out, key, &dv));
}

int
cst_detail_put_str(cst_buf *out, const char *key, const char *v, size_t vlen)
{
	const struct detail_val dv = { .kind = DV_STR, .s = v, .slen = vlen };

	/* A str32 frames at most 4 GiB - 1; more cannot be represented. */
	if (vlen > UINT32_MAX)
		return (CST_ETOOBIG);
	return (put_pair(out, key, &dv));
}
