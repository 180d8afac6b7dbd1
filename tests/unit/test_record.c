/*
 * Records (SPEC section 5): encode/decode round trips, the strict
 * decoder's rejections (R-REC-1, R-REC-2), cst_msgpack_skip and the
 * detail map helpers.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "custody/buf.h"
#include "custody/error.h"
#include "custody/record.h"
#include "custody/syslog.h"

static const char msg5424[] =
    "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 "
    "[exampleSDID@32473 iut=\"3\"] 'su root' failed for lonvick on /dev/pts/8";

static cst_bytes
bytes_of(const char *s)
{
	cst_bytes b = { (const uint8_t *)s, strlen(s) };

	return (b);
}

static cst_span
span_of(const char *within, const char *needle)
{
	const char *p = strstr(within, needle);
	cst_span s;

	cr_assert_not_null(p);
	s.off = (uint32_t)(p - within);
	s.len = (uint32_t)strlen(needle);
	return (s);
}

/* An event as the collector would make it from msg5424 over TLS. */
static void
make_event(cst_record *r)
{

	memset(r, 0, sizeof(*r));
	r->kind = CST_REC_EVENT;
	r->seq = 123456;
	r->recv_ns = 1714645293123456789LL;
	r->transport = CST_TR_TLS;
	r->listener = bytes_of("tls://0.0.0.0:6514");
	r->peer = bytes_of("[2001:db8::1]:5140");
	r->tls_peer = bytes_of("CN=host.example.org,O=Example");
	r->flags = 0;
	r->raw = bytes_of(msg5424);
	r->has_parsed = 1;
	r->parsed.format = CST_SYSLOG_RFC5424;
	r->parsed.facility = 4;
	r->parsed.severity = 2;
	r->parsed.ts_ns = 1065910455003000000LL;
	r->parsed.timestamp = span_of(msg5424, "2003-10-11T22:14:15.003Z");
	r->parsed.hostname = span_of(msg5424, "mymachine.example.com");
	r->parsed.app = span_of(msg5424, "su");
	r->parsed.procid = (cst_span){ 0, 0 };
	r->parsed.msgid = span_of(msg5424, "ID47");
	r->parsed.sd = span_of(msg5424, "[exampleSDID@32473 iut=\"3\"]");
	r->parsed.msg = span_of(msg5424, "'su root' failed for lonvick on "
	    "/dev/pts/8");
}

/* A collector audit record of the given kind; detail is built in d. */
static void
make_audit(cst_record *r, uint8_t kind, cst_buf *d)
{
	static const char line[] = "custodyd: started";

	cst_buf_init(d);
	cr_assert_eq(cst_detail_begin(d, 4), 0);
	cr_assert_eq(cst_detail_put_str(d, "version", "0.1.0", 5), 0);
	cr_assert_eq(cst_detail_put_u64(d, "pid", 4242), 0);
	cr_assert_eq(cst_detail_put_i64(d, "last_block_no", -1), 0);
	cr_assert_eq(cst_detail_put_str(d, "quarantine", "", 0), 0);

	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->seq = kind;
	r->recv_ns = 1700000000000000000LL;
	r->transport = CST_TR_INTERNAL;
	r->listener = bytes_of("");
	r->peer = bytes_of("");
	r->raw = bytes_of(line);
	r->detail.p = d->p;
	r->detail.len = d->len;
}

static void
assert_bytes_eq(cst_bytes a, cst_bytes b, const char *what)
{

	cr_assert_eq(a.p == NULL, b.p == NULL, "%s: nil differs", what);
	cr_assert_eq(a.len, b.len, "%s: length", what);
	if (a.len > 0)
		cr_assert(memcmp(a.p, b.p, a.len) == 0, "%s: bytes", what);
}

static void
assert_span_eq(cst_span a, cst_span b)
{

	cr_assert_eq(a.off, b.off);
	cr_assert_eq(a.len, b.len);
}

static void
assert_record_eq(const cst_record *a, const cst_record *b)
{

	cr_assert_eq(a->kind, b->kind);
	cr_assert_eq(a->seq, b->seq);
	cr_assert_eq(a->recv_ns, b->recv_ns);
	cr_assert_eq(a->transport, b->transport);
	cr_assert_eq(a->flags, b->flags);
	/* The writer encodes a NULL listener or peer as "". */
	cr_assert_eq(a->listener.len, b->listener.len);
	cr_assert_eq(a->peer.len, b->peer.len);
	if (a->listener.len > 0)
		assert_bytes_eq(a->listener, b->listener, "listener");
	if (a->peer.len > 0)
		assert_bytes_eq(a->peer, b->peer, "peer");
	assert_bytes_eq(a->tls_peer, b->tls_peer, "tls_peer");
	cr_assert_eq(a->raw.len, b->raw.len);
	if (a->raw.len > 0)
		assert_bytes_eq(a->raw, b->raw, "raw");
	cr_assert_eq(!!a->has_parsed, !!b->has_parsed);
	if (a->has_parsed) {
		cr_assert_eq(a->parsed.format, b->parsed.format);
		cr_assert_eq(a->parsed.facility, b->parsed.facility);
		cr_assert_eq(a->parsed.severity, b->parsed.severity);
		cr_assert_eq(a->parsed.ts_ns, b->parsed.ts_ns);
		assert_span_eq(a->parsed.timestamp, b->parsed.timestamp);
		assert_span_eq(a->parsed.hostname, b->parsed.hostname);
		assert_span_eq(a->parsed.app, b->parsed.app);
		assert_span_eq(a->parsed.procid, b->parsed.procid);
		assert_span_eq(a->parsed.msgid, b->parsed.msgid);
		assert_span_eq(a->parsed.sd, b->parsed.sd);
		assert_span_eq(a->parsed.msg, b->parsed.msg);
	}
	assert_bytes_eq(a->detail, b->detail, "detail");
}

/*
 * Encodes r, decodes it back, checks they agree and that re-encoding the
 * decoded record gives the same bytes.  Returns the encoding in out.
 */
static void
roundtrip(const cst_record *r, cst_buf *out)
{
	cst_record d;
	cst_buf again;
	uint8_t *copy;
	size_t used = 0;

	cst_buf_init(out);
	cr_assert_eq(cst_record_encode(r, out), 0);
	/* Exactly sized, so that ASan sees any read past the end. */
	copy = malloc(out->len);
	cr_assert_not_null(copy);
	memcpy(copy, out->p, out->len);
	cr_assert_eq(cst_record_decode(copy, out->len, &d, &used), 0);
	cr_assert_eq(used, out->len);
	assert_record_eq(r, &d);

	cst_buf_init(&again);
	cr_assert_eq(cst_record_encode(&d, &again), 0);
	cr_assert_eq(again.len, out->len);
	cr_assert(memcmp(again.p, out->p, out->len) == 0);
	cst_buf_close(&again);

	cr_assert_eq(cst_msgpack_skip(copy, out->len, &used), 0);
	cr_assert_eq(used, out->len);
	free(copy);
}

/* Decodes buf[0..len) from an exactly sized copy. */
static int
decode_copy(const uint8_t *buf, size_t len, cst_record *out, size_t *used)
{
	uint8_t *copy = malloc(len > 0 ? len : 1);
	int rc;

	cr_assert_not_null(copy);
	if (len > 0)
		memcpy(copy, buf, len);
	rc = cst_record_decode(len > 0 ? copy : NULL, len, out, used);
	free(copy);
	return (rc);
}

Test(record, roundtrip_every_kind)
{
	cst_record r;
	cst_buf d, out;
	uint8_t kind;

	make_event(&r);
	roundtrip(&r, &out);
	cst_buf_close(&out);
	for (kind = 1; kind <= CST_REC_KIND_MAX; kind++) {
		make_audit(&r, kind, &d);
		roundtrip(&r, &out);
		cst_buf_close(&out);
		cst_buf_close(&d);
	}
}

Test(record, roundtrip_every_transport_and_flag)
{
	cst_record r;
	cst_buf out;
	uint8_t tr;
	uint32_t bit;

	for (tr = 0; tr <= CST_TR_MAX; tr++) {
		make_event(&r);
		r.transport = tr;
		roundtrip(&r, &out);
		cst_buf_close(&out);
	}
	for (bit = 0; bit < 5; bit++) {
		make_event(&r);
		r.flags = 1u << bit;
		roundtrip(&r, &out);
		cst_buf_close(&out);
	}
	make_event(&r);
	r.flags = CST_RF_ALL;
	roundtrip(&r, &out);
	cst_buf_close(&out);
}

Test(record, nil_versus_empty)
{
	cst_record r, d;
	cst_buf out;
	size_t used;

	/* tls_peer nil: no TLS at all. */
	make_event(&r);
	r.transport = CST_TR_TCP;
	r.tls_peer.p = NULL;
	r.tls_peer.len = 0;
	roundtrip(&r, &out);
	cr_assert_eq(cst_record_decode(out.p, out.len, &d, &used), 0);
	cr_assert_null(d.tls_peer.p);
	cst_buf_close(&out);

	/* tls_peer "": TLS with an empty subject, which is not nil. */
	r.tls_peer.p = (const uint8_t *)"";
	roundtrip(&r, &out);
	cr_assert_eq(cst_record_decode(out.p, out.len, &d, &used), 0);
	cr_assert_not_null(d.tls_peer.p);
	cr_assert_eq(d.tls_peer.len, 0);
	cst_buf_close(&out);

	/* listener, peer and raw are never nil: NULL is written as empty. */
	make_event(&r);
	r.listener.p = NULL;
	r.listener.len = 0;
	r.peer.p = NULL;
	r.peer.len = 0;
	r.raw.p = NULL;
	r.raw.len = 0;
	r.has_parsed = 0;
	roundtrip(&r, &out);
	cr_assert_eq(cst_record_decode(out.p, out.len, &d, &used), 0);
	cr_assert_not_null(d.listener.p);
	cr_assert_not_null(d.peer.p);
	cr_assert_not_null(d.raw.p);
	cr_assert_eq(d.raw.len, 0);
	cst_buf_close(&out);
}

Test(record, parsed_present_and_absent)
{
	cst_record r, d;
	cst_buf out;
	size_t used;

	make_event(&r);
	r.has_parsed = 0;
	r.flags = CST_RF_PARSE_FAILED;
	roundtrip(&r, &out);
	cr_assert_eq(cst_record_decode(out.p, out.len, &d, &used), 0);
	cr_assert_eq(d.has_parsed, 0);
	cr_assert_eq(d.parsed.format, CST_SYSLOG_NONE);
	cr_assert_eq(d.parsed.facility, -1);
	cr_assert_eq(d.parsed.severity, -1);
	cr_assert_eq(d.parsed.ts_ns, CST_TS_NONE);
	cst_buf_close(&out);

	/* No PRI, no timestamp: -1, -1 and nil. */
	make_event(&r);
	r.parsed.format = CST_SYSLOG_RFC3164;
	r.parsed.facility = -1;
	r.parsed.severity = -1;
	r.parsed.ts_ns = CST_TS_NONE;
	r.parsed.timestamp = (cst_span){ 0, 0 };
	roundtrip(&r, &out);
	cst_buf_close(&out);

	/* The largest facility and severity; spans that end at raw's end. */
	make_event(&r);
	r.parsed.facility = 23;
	r.parsed.severity = 7;
	r.parsed.ts_ns = -1;
	r.parsed.msg = (cst_span){ (uint32_t)r.raw.len, 0 };
	r.parsed.sd = (cst_span){ 0, (uint32_t)r.raw.len };
	roundtrip(&r, &out);
	cst_buf_close(&out);
}

/* The length of the shortest MessagePack encoding of v. */
static size_t
int_size(int64_t v, int is_unsigned, uint64_t u)
{

	if (is_unsigned || v >= 0) {
		if (!is_unsigned)
			u = (uint64_t)v;
		return (u < 128 ? 1 : u < 256 ? 2 : u < 65536 ? 3 :
		    u <= UINT32_MAX ? 5 : 9);
	}
	return (v >= -32 ? 1 : v >= -128 ? 2 : v >= -32768 ? 3 :
	    v >= INT32_MIN ? 5 : 9);
}

Test(record, shortest_integer_forms)
{
	static const uint64_t useq[] = { 0, 1, 127, 128, 255, 256, 65535,
	    65536, UINT32_MAX, (uint64_t)UINT32_MAX + 1, UINT64_MAX };
	static const int64_t times[] = { 0, 127, 128, -1, -32, -33, -128,
	    -129, -32768, -32769, INT32_MIN, (int64_t)INT32_MIN - 1,
	    INT64_MIN, INT64_MAX };
	cst_record r;
	cst_buf out;
	size_t base, i;

	make_event(&r);
	r.seq = 0;
	r.recv_ns = 0;
	roundtrip(&r, &out);
	base = out.len;
	cst_buf_close(&out);

	for (i = 0; i < sizeof(useq) / sizeof(useq[0]); i++) {
		r.seq = useq[i];
		roundtrip(&r, &out);
		cr_assert_eq(out.len, base - 1 + int_size(0, 1, useq[i]),
		    "seq %llu", (unsigned long long)useq[i]);
		cst_buf_close(&out);
	}
	r.seq = 0;
	for (i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		r.recv_ns = times[i];
		roundtrip(&r, &out);
		cr_assert_eq(out.len, base - 1 + int_size(times[i], 0, 0),
		    "recv_ns %lld", (long long)times[i]);
		cst_buf_close(&out);
	}
}

Test(record, golden_bytes)
{
	/* [0, 1, -1, 1, "u", "", nil, 0, bin "x", nil, nil] */
	static const uint8_t event[] = { 0x9b, 0x00, 0x01, 0xff, 0x01, 0xa1,
	    'u', 0xa0, 0xc0, 0x00, 0xc4, 0x01, 'x', 0xc0, 0xc0 };
	/* [7, 300, 2^32, 0, "", "", nil, 31, bin "", nil, {"step_ns": -200}] */
	static const uint8_t audit[] = { 0x9b, 0x07, 0xcd, 0x01, 0x2c, 0xcf,
	    0, 0, 0, 1, 0, 0, 0, 0, 0x00, 0xa0, 0xa0, 0xc0, 0x1f, 0xc4, 0x00,
	    0xc0, 0x81, 0xa7, 's', 't', 'e', 'p', '_', 'n', 's', 0xd1, 0xff,
	    0x38 };
	cst_record r;
	cst_buf out, d;

	memset(&r, 0, sizeof(r));
	r.seq = 1;
	r.recv_ns = -1;
	r.transport = CST_TR_UDP;
	r.listener = bytes_of("u");
	r.peer = bytes_of("");
	r.raw = bytes_of("x");
	cst_buf_init(&out);
	cr_assert_eq(cst_record_encode(&r, &out), 0);
	cr_assert_eq(out.len, sizeof(event));
	cr_assert(memcmp(out.p, event, sizeof(event)) == 0);
	cst_buf_close(&out);

	cst_buf_init(&d);
	cr_assert_eq(cst_detail_begin(&d, 1), 0);
	cr_assert_eq(cst_detail_put_i64(&d, "step_ns", -200), 0);
	memset(&r, 0, sizeof(r));
	r.kind = CST_REC_CLOCK;
	r.seq = 300;
	r.recv_ns = (int64_t)1 << 32;
	r.flags = CST_RF_ALL;
	r.detail.p = d.p;
	r.detail.len = d.len;
	cst_buf_init(&out);
	cr_assert_eq(cst_record_encode(&r, &out), 0);
	cr_assert_eq(out.len, sizeof(audit));
	cr_assert(memcmp(out.p, audit, sizeof(audit)) == 0);
	cst_buf_close(&out);
	cst_buf_close(&d);
}

Test(record, long_strings_use_wider_headers)
{
	static uint8_t big[70000];
	static char lis[41];
	cst_record r, d;
	cst_buf out;
	size_t used;

	memset(big, 'a', sizeof(big));
	memset(lis, 'l', sizeof(lis) - 1);
	make_event(&r);
	r.has_parsed = 0;
	r.listener = bytes_of(lis);
	r.raw.p = big;
	r.raw.len = 300;
	roundtrip(&r, &out);
	cr_assert_eq(out.p[17], 0xd9, "str8 for a 40-byte listener");
	cst_buf_close(&out);

	r.raw.len = sizeof(big);
	r.tls_peer.p = big;
	r.tls_peer.len = 65536;
	roundtrip(&r, &out);
	cr_assert_eq(cst_record_decode(out.p, out.len, &d, &used), 0);
	cr_assert_eq(d.raw.len, sizeof(big));
	cr_assert_eq(d.tls_peer.len, 65536);
	cr_assert_eq(d.raw.p[-5], 0xc6, "bin32 for 70000 bytes");
	cr_assert_eq(d.tls_peer.p[-5], 0xdb, "str32 for 65536 bytes");
	cst_buf_close(&out);
}

/* A byte builder for hand-made encodings. */
struct bb {
	uint8_t b[4096];
	size_t n;
};

static void
bb_put(struct bb *bb, const void *p, size_t n)
{

	cr_assert_leq(bb->n + n, sizeof(bb->b));
	memcpy(bb->b + bb->n, p, n);
	bb->n += n;
}

#define BB(bb, ...) do {                                                     \
	static const uint8_t bb_lit_[] = { __VA_ARGS__ };                    \
	bb_put((bb), bb_lit_, sizeof(bb_lit_));                              \
} while (0)

Test(record, decoder_accepts_any_valid_encoding)
{
	struct bb bb = { .n = 0 };
	cst_record r;
	size_t used;
	uint64_t u;
	int64_t s;
	cst_bytes str;

	BB(&bb, 0xdc, 0x00, 0x0b);                     /* array16 of 11 */
	BB(&bb, 0xcc, 0x03);                           /* kind 3 as uint8 */
	BB(&bb, 0xcf, 0, 0, 0, 0, 0, 0, 0, 9);         /* seq 9 as uint64 */
	BB(&bb, 0xd3, 0, 0, 0, 0, 0, 0, 0x01, 0x00);   /* 256 as int64 */
	BB(&bb, 0xd0, 0x00);                           /* transport 0, int8 */
	BB(&bb, 0xda, 0x00, 0x02, 'l', 'i');           /* str16 "li" */
	BB(&bb, 0xdb, 0, 0, 0, 0);                     /* str32 "" */
	BB(&bb, 0xd9, 0x01, 'T');                      /* str8 "T" */
	BB(&bb, 0xce, 0, 0, 0, 0x11);                  /* flags 17, uint32 */
	BB(&bb, 0xc6, 0, 0, 0, 4, 'a', 'b', 'c', 'd'); /* bin32 */
	BB(&bb, 0xdd, 0, 0, 0, 18);                    /* array32 of 18 */
	BB(&bb, 0xd2, 0, 0, 0, 2);                     /* format 2, int32 */
	BB(&bb, 0xd1, 0xff, 0xff);                     /* facility -1, int16 */
	BB(&bb, 0xd0, 0x07);                           /* severity 7 */
	BB(&bb, 0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe);
	BB(&bb, 0, 0, 0, 0xcd, 0, 1, 0xcc, 3, 0, 0, 0, 0, 0, 0, 0, 0, 4);
	BB(&bb, 0xde, 0x00, 0x03);                     /* map16 of 3 */
	BB(&bb, 0xd9, 0x01, 'a', 0xc3);                /* "a": true */
	BB(&bb, 0xa1, 'b', 0xc4, 0x01, 0x00);          /* "b": bin */
	BB(&bb, 0xa1, 'c', 0xd2, 0xff, 0xff, 0xff, 0xfd); /* "c": -3 */
	BB(&bb, 0xff);                                 /* not part of it */

	cr_assert_eq(cst_record_decode(bb.b, bb.n, &r, &used), 0);
	cr_assert_eq(used, bb.n - 1);
	cr_assert_eq(r.kind, 3);
	cr_assert_eq(r.seq, 9);
	cr_assert_eq(r.recv_ns, 256);
	cr_assert_eq(r.transport, 0);
	cr_assert_eq(r.listener.len, 2);
	cr_assert_eq(r.peer.len, 0);
	cr_assert_eq(r.tls_peer.len, 1);
	cr_assert_eq(r.flags, 17);
	cr_assert_eq(r.raw.len, 4);
	cr_assert(r.has_parsed);
	cr_assert_eq(r.parsed.format, 2);
	cr_assert_eq(r.parsed.facility, -1);
	cr_assert_eq(r.parsed.severity, 7);
	cr_assert_eq(r.parsed.ts_ns, -2);
	cr_assert_eq(r.parsed.hostname.len, 1);
	cr_assert_eq(r.parsed.app.off, 3);
	cr_assert_eq(r.parsed.msg.len, 4);
	cr_assert_eq(cst_msgpack_skip(bb.b, bb.n, &used), 0);
	cr_assert_eq(used, bb.n - 1);

	cr_assert_eq(cst_detail_get_i64(r.detail.p, r.detail.len, "c", &s), 0);
	cr_assert_eq(s, -3);
	cr_assert_eq(cst_detail_get_u64(r.detail.p, r.detail.len, "c", &u),
	    CST_ECORRUPT);
	cr_assert_eq(cst_detail_get_str(r.detail.p, r.detail.len, "a", &str),
	    CST_ECORRUPT);
	cr_assert_eq(cst_detail_get_str(r.detail.p, r.detail.len, "zz", &str),
	    CST_ENOENT);
}

/* Field boundaries of an encoded record: off[i]..off[i+1] is field i. */
static void
split(const uint8_t *enc, size_t len, size_t hdr, size_t nfields,
    size_t *off)
{
	size_t i, used;

	off[0] = hdr;
	for (i = 0; i < nfields; i++) {
		cr_assert_eq(cst_msgpack_skip(enc + off[i], len - off[i],
		    &used), 0);
		off[i + 1] = off[i] + used;
	}
}

/* enc with bytes [from, to) replaced by repl, decoded. */
static int
decode_replaced(const cst_buf *enc, size_t from, size_t to,
    const uint8_t *repl, size_t rlen)
{
	struct bb bb = { .n = 0 };
	cst_record r;
	size_t used;

	bb_put(&bb, enc->p, from);
	bb_put(&bb, repl, rlen);
	bb_put(&bb, enc->p + to, enc->len - to);
	return (decode_copy(bb.b, bb.n, &r, &used));
}

struct enc {
	const char *what;
	size_t len;
	uint8_t b[12];
};

#define ENC(what, ...) { what, sizeof((uint8_t[]){ __VA_ARGS__ }), { __VA_ARGS__ } }

static const struct enc not_uint[] = {
	ENC("str", 0xa1, 'x'),
	ENC("nil", 0xc0),
	ENC("negative fixint", 0xff),
	ENC("negative int8", 0xd0, 0x80),
	ENC("negative int64", 0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0),
	ENC("true", 0xc3),
	ENC("float32", 0xca, 0, 0, 0, 0),
	ENC("float64", 0xcb, 0, 0, 0, 0, 0, 0, 0, 0),
	ENC("array", 0x90),
	ENC("map", 0x80),
	ENC("bin", 0xc4, 0x00),
	ENC("ext", 0xd4, 0x01, 0x00),
	ENC("never used", 0xc1),
};

static const struct enc not_int[] = {
	ENC("str", 0xa1, 'x'),
	ENC("nil", 0xc0),
	ENC("false", 0xc2),
	ENC("float64", 0xcb, 0, 0, 0, 0, 0, 0, 0, 0),
	ENC("array", 0x91, 0x01),
	ENC("bin", 0xc4, 0x00),
	ENC("uint64 past int64", 0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0),
	ENC("fixext", 0xd5, 0x01, 0x00, 0x00),
};

static const struct enc not_str[] = {
	ENC("nil", 0xc0),
	ENC("int", 0x05),
	ENC("bin", 0xc4, 0x01, 'x'),
	ENC("array", 0x91, 0xa0),
	ENC("true", 0xc3),
	ENC("ext8", 0xc7, 0x01, 0x01, 'x'),
};

static const struct enc not_str_or_nil[] = {
	ENC("int", 0x05),
	ENC("bin", 0xc4, 0x01, 'x'),
	ENC("array", 0x90),
	ENC("false", 0xc2),
};

static const struct enc not_bin[] = {
	ENC("nil", 0xc0),
	ENC("str", 0xa1, 'x'),
	ENC("str8", 0xd9, 0x01, 'x'),
	ENC("int", 0x00),
	ENC("array", 0x90),
};

static const struct enc not_parsed[] = {
	ENC("int", 0x01),
	ENC("str", 0xa0),
	ENC("true", 0xc3),
	ENC("map", 0x80),
	ENC("empty array", 0x90),
	ENC("array of 1", 0x91, 0x01),
};

static const struct enc not_detail[] = {
	ENC("int", 0x01),
	ENC("str", 0xa0),
	ENC("array", 0x90),
	ENC("true", 0xc3),
	ENC("bin", 0xc4, 0x00),
	ENC("int key", 0x81, 0x01, 0x01),
	ENC("bin key", 0x81, 0xc4, 0x00, 0x01),
	ENC("nil key", 0x81, 0xc0, 0x01),
	ENC("map value", 0x81, 0xa0, 0x80),
	ENC("array value", 0x81, 0xa0, 0x90),
	ENC("float value", 0x81, 0xa0, 0xca, 0, 0, 0, 0),
	ENC("ext value", 0x81, 0xa0, 0xd4, 0x01, 0x00),
};

static void
reject_all(const cst_buf *enc, const size_t *off, size_t field,
    const struct enc *bad, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		cr_assert_eq(decode_replaced(enc, off[field], off[field + 1],
		    bad[i].b, bad[i].len), CST_ECORRUPT,
		    "field %zu as %s", field, bad[i].what);
	}
}

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

Test(record, rejects_wrong_type_at_each_index)
{
	cst_record r;
	cst_buf ev, au, d;
	size_t off[12];

	/* R-REC-1: the types of the SPEC table, index by index. */
	make_event(&r);
	cst_buf_init(&ev);
	cr_assert_eq(cst_record_encode(&r, &ev), 0);
	split(ev.p, ev.len, 1, 11, off);
	cr_assert_eq(off[11], ev.len);

	reject_all(&ev, off, 0, not_uint, NELEM(not_uint));
	reject_all(&ev, off, 1, not_uint, NELEM(not_uint));
	reject_all(&ev, off, 2, not_int, NELEM(not_int));
	reject_all(&ev, off, 3, not_uint, NELEM(not_uint));
	reject_all(&ev, off, 4, not_str, NELEM(not_str));
	reject_all(&ev, off, 5, not_str, NELEM(not_str));
	reject_all(&ev, off, 6, not_str_or_nil, NELEM(not_str_or_nil));
	reject_all(&ev, off, 7, not_uint, NELEM(not_uint));
	reject_all(&ev, off, 8, not_bin, NELEM(not_bin));
	reject_all(&ev, off, 9, not_parsed, NELEM(not_parsed));

	make_audit(&r, CST_REC_START, &d);
	cst_buf_init(&au);
	cr_assert_eq(cst_record_encode(&r, &au), 0);
	split(au.p, au.len, 1, 11, off);
	reject_all(&au, off, 10, not_detail, NELEM(not_detail));

	cst_buf_close(&ev);
	cst_buf_close(&au);
	cst_buf_close(&d);
}

Test(record, rejects_wrong_array_length)
{
	cst_record r, d;
	cst_buf ev;
	struct bb bb;
	size_t off[12], used;
	uint8_t n;

	make_event(&r);
	cst_buf_init(&ev);
	cr_assert_eq(cst_record_encode(&r, &ev), 0);
	split(ev.p, ev.len, 1, 11, off);

	/* 10 elements: drop detail; 12: add a nil. */
	bb.n = 0;
	BB(&bb, 0x9a);
	bb_put(&bb, ev.p + 1, off[10] - 1);
	cr_assert_eq(decode_copy(bb.b, bb.n, &d, &used), CST_ECORRUPT);
	bb.n = 0;
	BB(&bb, 0x9c);
	bb_put(&bb, ev.p + 1, ev.len - 1);
	BB(&bb, 0xc0);
	cr_assert_eq(decode_copy(bb.b, bb.n, &d, &used), CST_ECORRUPT);
	/* Only the header changed: 0..15 elements claimed. */
	for (n = 0; n < 16; n++) {
		if (n == 11)
			continue;
		bb.n = 0;
		bb_put(&bb, ev.p, ev.len);
		bb.b[0] = (uint8_t)(0x90 | n);
		cr_assert_eq(decode_copy(bb.b, bb.n, &d, &used), CST_ECORRUPT,
		    "array of %u", n);
	}
	/* Not an array. */
	bb.n = 0;
	bb_put(&bb, ev.p, ev.len);
	bb.b[0] = 0x8b;
	cr_assert_eq(decode_copy(bb.b, bb.n, &d, &used), CST_ECORRUPT);
	bb.b[0] = 0x0b;
	cr_assert_eq(decode_copy(bb.b, bb.n, &d, &used), CST_ECORRUPT);

	/* parsed with 17 and 19 elements. */
	bb.n = 0;
	bb_put(&bb, ev.p, ev.len);
	cr_assert_eq(bb.b[off[9]], 0xdc);
	bb.b[off[9] + 2] = 17;
	cr_assert_eq(decode_copy(bb.b, bb.n, &d, &used), CST_ECORRUPT);
	bb.b[off[9] + 2] = 19;
	cr_assert_eq(decode_copy(bb.b, bb.n, &d, &used), CST_ECORRUPT);
	cst_buf_close(&ev);
}

Test(record, rejects_bad_values)
{
	static const struct enc bad_kind[] = { ENC("9", 0x09),
	    ENC("uint8 9", 0xcc, 0x09), ENC("255", 0xcc, 0xff),
	    ENC("2^32", 0xcf, 0, 0, 0, 1, 0, 0, 0, 0) };
	static const struct enc bad_transport[] = { ENC("6", 0x06),
	    ENC("127", 0x7f), ENC("uint16", 0xcd, 0x01, 0x00) };
	static const struct enc bad_flags[] = { ENC("0x20", 0x20),
	    ENC("0x3f", 0x3f), ENC("0x80", 0xcc, 0x80),
	    ENC("bit 31", 0xce, 0x80, 0, 0, 0),
	    ENC("bit 63", 0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0) };
	cst_record r;
	cst_buf ev;
	size_t off[12];

	make_event(&r);
	cst_buf_init(&ev);
	cr_assert_eq(cst_record_encode(&r, &ev), 0);
	split(ev.p, ev.len, 1, 11, off);
	/* R-REC-1: kind <= 8, transport <= 5, no flag above bit 4. */
	reject_all(&ev, off, 0, bad_kind, NELEM(bad_kind));
	reject_all(&ev, off, 3, bad_transport, NELEM(bad_transport));
	reject_all(&ev, off, 7, bad_flags, NELEM(bad_flags));
	cst_buf_close(&ev);
}

Test(record, rejects_bad_parsed_fields)
{
	static const struct enc bad_format[] = { ENC("0", 0x00),
	    ENC("3", 0x03), ENC("-1", 0xff), ENC("str", 0xa0),
	    ENC("nil", 0xc0) };
	static const struct enc bad_facility[] = { ENC("24", 0x18),
	    ENC("-2", 0xfe), ENC("int16 -129", 0xd1, 0xff, 0x7f),
	    ENC("nil", 0xc0), ENC("str", 0xa0), ENC("float", 0xca, 0, 0, 0, 0),
	    ENC("uint64 max", 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	    0xff) };
	static const struct enc bad_severity[] = { ENC("8", 0x08),
	    ENC("-2", 0xfe), ENC("nil", 0xc0), ENC("true", 0xc3) };
	static const struct enc bad_ts[] = { ENC("str", 0xa0),
	    ENC("true", 0xc3), ENC("float", 0xcb, 0, 0, 0, 0, 0, 0, 0, 0),
	    ENC("uint64 past int64", 0xcf, 0xff, 0, 0, 0, 0, 0, 0, 0) };
	cst_record r;
	cst_buf ev;
	size_t off[12], sub[19];
	size_t i;

	make_event(&r);
	cst_buf_init(&ev);
	cr_assert_eq(cst_record_encode(&r, &ev), 0);
	split(ev.p, ev.len, 1, 11, off);
	split(ev.p, ev.len, off[9] + 3, 18, sub);
	cr_assert_eq(sub[18], off[10]);

	reject_all(&ev, sub, 0, bad_format, NELEM(bad_format));
	reject_all(&ev, sub, 1, bad_facility, NELEM(bad_facility));
	reject_all(&ev, sub, 2, bad_severity, NELEM(bad_severity));
	reject_all(&ev, sub, 3, bad_ts, NELEM(bad_ts));
	for (i = 4; i < 18; i++)
		reject_all(&ev, sub, i, not_uint, NELEM(not_uint));
	cst_buf_close(&ev);
}

Test(record, rejects_span_outside_raw)
{
	cst_record r, d;
	cst_buf ev;
	size_t off[12], sub[19];
	size_t i, used;
	struct bb bb;
	uint32_t rl;

	make_event(&r);
	rl = (uint32_t)r.raw.len;
	cst_buf_init(&ev);
	cr_assert_eq(cst_record_encode(&r, &ev), 0);
	split(ev.p, ev.len, 1, 11, off);
	split(ev.p, ev.len, off[9] + 3, 18, sub);

	/* R-REC-1: off + len <= len(raw), for each of the seven spans. */
	for (i = 4; i < 18; i += 2) {
		uint8_t pair[3][20];
		size_t plen[3];
		int k;

		/* One past the end; start past the end; 2^64 - 1 + 1 wraps. */
		plen[0] = 0;
		pair[0][plen[0]++] = 0xcd;
		pair[0][plen[0]++] = (uint8_t)((rl - 3) >> 8);
		pair[0][plen[0]++] = (uint8_t)(rl - 3);
		pair[0][plen[0]++] = 0x04;
		plen[1] = 0;
		pair[1][plen[1]++] = 0xcd;
		pair[1][plen[1]++] = (uint8_t)((rl + 1) >> 8);
		pair[1][plen[1]++] = (uint8_t)(rl + 1);
		pair[1][plen[1]++] = 0x00;
		plen[2] = 0;
		pair[2][plen[2]++] = 0x01;
		pair[2][plen[2]++] = 0xcf;
		memset(&pair[2][plen[2]], 0xff, 8);
		plen[2] += 8;
		for (k = 0; k < 3; k++)
			cr_assert_eq(decode_replaced(&ev, sub[i], sub[i + 2],
			    pair[k], plen[k]), CST_ECORRUPT, "span %zu case %d",
			    (i - 4) / 2, k);

		/* Exactly at the end is inside. */
		plen[0] = 0;
		pair[0][plen[0]++] = 0xcd;
		pair[0][plen[0]++] = (uint8_t)((rl - 4) >> 8);
		pair[0][plen[0]++] = (uint8_t)(rl - 4);
		pair[0][plen[0]++] = 0x04;
		cr_assert_eq(decode_replaced(&ev, sub[i], sub[i + 2], pair[0],
		    plen[0]), 0);
	}

	/* A span checked against this record's raw, not a longer one. */
	make_event(&r);
	r.raw.len = 10;
	r.has_parsed = 0;
	cst_buf_close(&ev);
	cst_buf_init(&ev);
	cr_assert_eq(cst_record_encode(&r, &ev), 0);
	bb.n = 0;
	bb_put(&bb, ev.p, ev.len - 2);
	BB(&bb, 0xdc, 0x00, 0x12, 1, 1, 1, 0xc0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0, 0, 5, 6, 0xc0);
	cr_assert_eq(decode_copy(bb.b, bb.n, &d, &used), CST_ECORRUPT);
	bb.b[bb.n - 2] = 5;
	cr_assert_eq(decode_copy(bb.b, bb.n, &d, &used), 0);
	cst_buf_close(&ev);
}

Test(record, rejects_kind_detail_mismatch)
{
	cst_record r, d;
	cst_buf ev, au, det;
	size_t off[12], used;
	struct bb bb;
	uint8_t kind;

	/* R-REC-2: an event with a detail map. */
	make_event(&r);
	cst_buf_init(&ev);
	cr_assert_eq(cst_record_encode(&r, &ev), 0);
	split(ev.p, ev.len, 1, 11, off);
	cr_assert_eq(decode_replaced(&ev, off[10], off[11],
	    (const uint8_t *)"\x80", 1), CST_ECORRUPT);
	cr_assert_eq(decode_replaced(&ev, off[10], off[11],
	    (const uint8_t *)"\x81\xa1k\x01", 4), CST_ECORRUPT);
	cst_buf_close(&ev);

	for (kind = 1; kind <= CST_REC_KIND_MAX; kind++) {
		make_audit(&r, kind, &det);
		cst_buf_init(&au);
		cr_assert_eq(cst_record_encode(&r, &au), 0);
		split(au.p, au.len, 1, 11, off);
		/* An audit record without detail. */
		cr_assert_eq(decode_replaced(&au, off[10], off[11],
		    (const uint8_t *)"\xc0", 1), CST_ECORRUPT, "kind %u", kind);
		/* An audit record from a network transport. */
		cr_assert_eq(decode_replaced(&au, off[3], off[4],
		    (const uint8_t *)"\x02", 1), CST_ECORRUPT, "kind %u", kind);
		/* An empty map is a map. */
		cr_assert_eq(decode_replaced(&au, off[10], off[11],
		    (const uint8_t *)"\x80", 1), 0);
		cst_buf_close(&au);
		cst_buf_close(&det);
	}

	/* The kind decides: change only kind 0 <-> 1. */
	make_audit(&r, CST_REC_START, &det);
	cst_buf_init(&au);
	cr_assert_eq(cst_record_encode(&r, &au), 0);
	bb.n = 0;
	bb_put(&bb, au.p, au.len);
	cr_assert_eq(bb.b[1], 0x01);
	bb.b[1] = 0x00;
	cr_assert_eq(decode_copy(bb.b, bb.n, &d, &used), CST_ECORRUPT);
	cst_buf_close(&au);
	cst_buf_close(&det);
}

Test(record, truncated_at_every_byte)
{
	static uint8_t big[300];
	cst_record r, d;
	cst_buf enc[4], det;
	size_t i, len, used;

	make_event(&r);
	cst_buf_init(&enc[0]);
	cr_assert_eq(cst_record_encode(&r, &enc[0]), 0);
	make_audit(&r, CST_REC_RECOVERY, &det);
	cst_buf_init(&enc[1]);
	cr_assert_eq(cst_record_encode(&r, &enc[1]), 0);
	make_event(&r);
	memset(big, 'b', sizeof(big));
	r.raw.p = big;
	r.raw.len = sizeof(big);
	r.seq = UINT64_MAX;
	r.recv_ns = INT64_MIN;
	r.parsed.ts_ns = CST_TS_NONE;
	cst_buf_init(&enc[2]);
	cr_assert_eq(cst_record_encode(&r, &enc[2]), 0);
	r.has_parsed = 0;
	r.tls_peer.p = NULL;
	r.tls_peer.len = 0;
	cst_buf_init(&enc[3]);
	cr_assert_eq(cst_record_encode(&r, &enc[3]), 0);

	for (i = 0; i < 4; i++) {
		for (len = 0; len < enc[i].len; len++)
			cr_assert_eq(decode_copy(enc[i].p, len, &d, &used),
			    CST_ETRUNC, "record %zu cut at %zu", i, len);
		cr_assert_eq(decode_copy(enc[i].p, enc[i].len, &d, &used), 0);
		for (len = 0; len < enc[i].len; len++) {
			uint8_t *copy = malloc(len > 0 ? len : 1);

			memcpy(copy, enc[i].p, len);
			cr_assert_eq(cst_msgpack_skip(len > 0 ? copy : NULL,
			    len, &used), CST_ETRUNC);
			free(copy);
		}
		cst_buf_close(&enc[i]);
	}
	cst_buf_close(&det);
}

Test(record, records_back_to_back)
{
	cst_record r, d;
	cst_buf out, det;
	size_t pos, used, n;

	cst_buf_init(&out);
	make_event(&r);
	cr_assert_eq(cst_record_encode(&r, &out), 0);
	make_audit(&r, CST_REC_STATS, &det);
	cr_assert_eq(cst_record_encode(&r, &out), 0);
	make_event(&r);
	r.seq++;
	cr_assert_eq(cst_record_encode(&r, &out), 0);

	for (pos = 0, n = 0; pos < out.len; n++) {
		cr_assert_eq(cst_record_decode(out.p + pos, out.len - pos, &d,
		    &used), 0);
		pos += used;
	}
	cr_assert_eq(n, 3);
	cr_assert_eq(pos, out.len);
	cr_assert_eq(d.seq, 123457);
	cst_buf_close(&out);
	cst_buf_close(&det);
}

Test(record, encode_rejects_invalid_records)
{
	cst_record r, base;
	cst_buf out, det;
	static const uint8_t bad_map[] = { 0x81, 0x01, 0x01 };
	static const uint8_t map_and_more[] = { 0x80, 0xc0 };
	static const uint8_t short_map[] = { 0x81, 0xa1, 'k' };
	/* {"k": 1, "k": 2}: two readers could disagree on k (R-REC-1). */
	static const uint8_t dup_map[] = { 0x82, 0xa1, 'k', 0x01, 0xa1, 'k',
	    0x02 };
	cst_buf big;
	uint32_t i;
	char key[8];

	cst_buf_init(&out);
	cr_assert_eq(cst_buf_append(&out, "prefix", 6), 0);
	make_event(&base);

#define REJECT(stmt) do {                                                    \
	r = base;                                                            \
	stmt;                                                                \
	cr_assert_eq(cst_record_encode(&r, &out), CST_EINVAL, #stmt);        \
	cr_assert_eq(out.len, 6, "nothing appended: " #stmt);                \
} while (0)

	REJECT(r.kind = 9);
	REJECT(r.transport = 6);
	REJECT(r.flags = 0x20);
	REJECT(r.flags = 0x80000000u);
	REJECT(r.listener.p = NULL);
	REJECT(r.raw.p = NULL);
	REJECT(r.tls_peer.p = NULL);
	REJECT(r.parsed.format = 0);
	REJECT(r.parsed.format = 3);
	REJECT(r.parsed.facility = 24);
	REJECT(r.parsed.facility = -2);
	REJECT(r.parsed.severity = 8);
	REJECT(r.parsed.msg.len++);
	REJECT(r.parsed.app.off = (uint32_t)r.raw.len + 1);
	REJECT(r.parsed.timestamp = ((cst_span){ UINT32_MAX, 2 }));
	REJECT(r.parsed.sd.len = UINT32_MAX);
	/* R-REC-2 */
	REJECT((r.detail.p = (const uint8_t *)"\x80", r.detail.len = 1));

	make_audit(&base, CST_REC_LOSS, &det);
	REJECT((r.detail.p = NULL, r.detail.len = 0));
	REJECT(r.transport = CST_TR_UDP);
	REJECT(r.kind = CST_REC_EVENT);
	REJECT((r.detail.p = bad_map, r.detail.len = sizeof(bad_map)));
	REJECT((r.detail.p = map_and_more, r.detail.len = 2));
	REJECT((r.detail.p = short_map, r.detail.len = 3));
	REJECT((r.detail.p = (const uint8_t *)"\x90", r.detail.len = 1));
	REJECT(r.detail.len = 0);
	REJECT((r.detail.p = dup_map, r.detail.len = sizeof(dup_map)));
	/* More keys than R-REC-1 allows, all distinct. */
	cst_buf_init(&big);
	cr_assert_eq(cst_detail_begin(&big, CST_DETAIL_MAX_KEYS + 1), 0);
	for (i = 0; i <= CST_DETAIL_MAX_KEYS; i++) {
		snprintf(key, sizeof(key), "k%u", (unsigned)i);
		cr_assert_eq(cst_detail_put_u64(&big, key, i), 0);
	}
	REJECT((r.detail.p = big.p, r.detail.len = big.len));
	cst_buf_close(&big);
#undef REJECT

	cr_assert_eq(cst_record_encode(&base, &out), 0);
	cr_assert_gt(out.len, 6);
	cr_assert(memcmp(out.p, "prefix", 6) == 0);
	cst_buf_close(&out);
	cst_buf_close(&det);
}

Test(msgpack_skip, every_type)
{
	static const struct enc one[] = {
		ENC("fixint", 0x05), ENC("neg fixint", 0xe0), ENC("nil", 0xc0),
		ENC("false", 0xc2), ENC("true", 0xc3),
		ENC("uint8", 0xcc, 1), ENC("uint16", 0xcd, 1, 2),
		ENC("uint32", 0xce, 1, 2, 3, 4),
		ENC("uint64", 0xcf, 1, 2, 3, 4, 5, 6, 7, 8),
		ENC("int8", 0xd0, 1), ENC("int16", 0xd1, 1, 2),
		ENC("int32", 0xd2, 1, 2, 3, 4),
		ENC("int64", 0xd3, 1, 2, 3, 4, 5, 6, 7, 8),
		ENC("float32", 0xca, 1, 2, 3, 4),
		ENC("float64", 0xcb, 1, 2, 3, 4, 5, 6, 7, 8),
		ENC("fixstr", 0xa3, 'a', 'b', 'c'),
		ENC("str8", 0xd9, 2, 'a', 'b'),
		ENC("str16", 0xda, 0, 2, 'a', 'b'),
		ENC("str32", 0xdb, 0, 0, 0, 2, 'a', 'b'),
		ENC("bin8", 0xc4, 1, 0), ENC("bin16", 0xc5, 0, 1, 0),
		ENC("bin32", 0xc6, 0, 0, 0, 1, 0),
		ENC("fixext1", 0xd4, 1, 0), ENC("fixext2", 0xd5, 1, 0, 0),
		ENC("fixext4", 0xd6, 1, 0, 0, 0, 0),
		ENC("ext8", 0xc7, 2, 1, 0, 0),
		ENC("ext16", 0xc8, 0, 2, 1, 0, 0),
		ENC("ext32", 0xc9, 0, 0, 0, 1, 1, 0),
		ENC("fixarray", 0x92, 0x01, 0xa0),
		ENC("array16", 0xdc, 0, 2, 0xc0, 0xc3),
		ENC("array32", 0xdd, 0, 0, 0, 1, 0x92, 0x01, 0x02),
		ENC("fixmap", 0x81, 0xa1, 'k', 0x90),
		ENC("map16", 0xde, 0, 1, 0x01, 0x81, 0x01, 0x02),
		ENC("map32", 0xdf, 0, 0, 0, 1, 0xc0, 0xc0),
		ENC("empty map32", 0xdf, 0, 0, 0, 0),
	};
	uint8_t buf[40];
	size_t i, len, used;

	for (i = 0; i < NELEM(one); i++) {
		/* Followed by junk that must not be counted. */
		memcpy(buf, one[i].b, one[i].len);
		buf[one[i].len] = 0xc1;
		cr_assert_eq(cst_msgpack_skip(buf, one[i].len + 1, &used), 0,
		    "%s", one[i].what);
		cr_assert_eq(used, one[i].len, "%s", one[i].what);
		for (len = 0; len < one[i].len; len++)
			cr_assert_eq(cst_msgpack_skip(one[i].b, len, &used),
			    CST_ETRUNC, "%s cut at %zu", one[i].what, len);
	}

	{
		/* fixext8 and fixext16: 10 and 18 bytes. */
		uint8_t e8[10] = { 0xd7, 1 }, e16[18] = { 0xd8, 1 };

		cr_assert_eq(cst_msgpack_skip(e8, sizeof(e8), &used), 0);
		cr_assert_eq(used, 10);
		cr_assert_eq(cst_msgpack_skip(e16, sizeof(e16), &used), 0);
		cr_assert_eq(used, 18);
		cr_assert_eq(cst_msgpack_skip(e16, 17, &used), CST_ETRUNC);
	}
	cr_assert_eq(cst_msgpack_skip((const uint8_t *)"\xc1", 1, &used),
	    CST_ECORRUPT);
	cr_assert_eq(cst_msgpack_skip((const uint8_t *)"\x92\x01\xc1", 3,
	    &used), CST_ECORRUPT);
}

Test(msgpack_skip, nesting_limit_and_hostile_counts)
{
	static uint8_t deep[100000];
	uint8_t buf[32];
	size_t i, used;

	/* Eight containers deep is allowed, nine is not. */
	for (i = 0; i < 8; i++)
		buf[i] = 0x91;
	buf[8] = 0x01;
	cr_assert_eq(cst_msgpack_skip(buf, 9, &used), 0);
	cr_assert_eq(used, 9);
	buf[7] = 0x81;
	buf[8] = 0xa0;
	buf[9] = 0x01;
	cr_assert_eq(cst_msgpack_skip(buf, 10, &used), 0);
	for (i = 0; i < 9; i++)
		buf[i] = 0x91;
	buf[9] = 0x01;
	cr_assert_eq(cst_msgpack_skip(buf, 10, &used), CST_ECORRUPT);
	buf[8] = 0x90;
	cr_assert_eq(cst_msgpack_skip(buf, 9, &used), CST_ECORRUPT,
	    "an empty ninth container is still nine deep");

	/* Siblings do not add depth. */
	buf[0] = 0x9f;
	for (i = 1; i < 16; i++)
		buf[i] = 0x90;
	cr_assert_eq(cst_msgpack_skip(buf, 16, &used), 0);
	cr_assert_eq(used, 16);

	/* 100000 levels: rejected, no recursion to blow up. */
	memset(deep, 0x91, sizeof(deep));
	cr_assert_eq(cst_msgpack_skip(deep, sizeof(deep), &used),
	    CST_ECORRUPT);
	memset(deep, 0xdf, sizeof(deep));
	cr_assert_eq(cst_msgpack_skip(deep, sizeof(deep), &used),
	    CST_ECORRUPT);

	/* Claimed counts and lengths far past the input. */
	cr_assert_eq(cst_msgpack_skip((const uint8_t *)"\xdd\xff\xff\xff\xff"
	    "\x01\x01", 7, &used), CST_ETRUNC);
	cr_assert_eq(cst_msgpack_skip((const uint8_t *)"\xdf\xff\xff\xff\xff"
	    "\x01\x01", 7, &used), CST_ETRUNC);
	cr_assert_eq(cst_msgpack_skip((const uint8_t *)"\xdb\xff\xff\xff\xff"
	    "\x01\x01", 7, &used), CST_ETRUNC);
	cr_assert_eq(cst_msgpack_skip((const uint8_t *)"\xc9\xff\xff\xff\xff"
	    "\x01\x01", 7, &used), CST_ETRUNC);
	cr_assert_eq(cst_msgpack_skip(NULL, 0, &used), CST_ETRUNC);
}

Test(detail, build_and_look_up)
{
	static const uint64_t us[] = { 0, 127, 128, 65535, 65536, UINT32_MAX,
	    UINT64_MAX };
	static const int64_t is[] = { 0, -1, -32, -33, -32768, INT64_MIN,
	    INT64_MAX };
	static char longstr[300];
	cst_buf d;
	char key[16];
	uint64_t u;
	int64_t s;
	cst_bytes str;
	size_t i, used;

	memset(longstr, 'z', sizeof(longstr));
	cst_buf_init(&d);
	cr_assert_eq(cst_detail_begin(&d, 2 * NELEM(us) + 2), 0);
	for (i = 0; i < NELEM(us); i++) {
		snprintf(key, sizeof(key), "u%zu", i);
		cr_assert_eq(cst_detail_put_u64(&d, key, us[i]), 0);
		snprintf(key, sizeof(key), "i%zu", i);
		cr_assert_eq(cst_detail_put_i64(&d, key, is[i]), 0);
	}
	cr_assert_eq(cst_detail_put_str(&d, "s", "hello", 5), 0);
	cr_assert_eq(cst_detail_put_str(&d, "long", longstr, sizeof(longstr)),
	    0);
	cr_assert_eq(d.p[0], 0xde, "map16 for 16 pairs");
	cr_assert_eq(cst_msgpack_skip(d.p, d.len, &used), 0);
	cr_assert_eq(used, d.len);

	for (i = 0; i < NELEM(us); i++) {
		snprintf(key, sizeof(key), "u%zu", i);
		cr_assert_eq(cst_detail_get_u64(d.p, d.len, key, &u), 0);
		cr_assert_eq(u, us[i]);
		snprintf(key, sizeof(key), "i%zu", i);
		cr_assert_eq(cst_detail_get_i64(d.p, d.len, key, &s), 0);
		cr_assert_eq(s, is[i]);
	}
	/* A uint is an int when it fits; a negative int is no uint. */
	cr_assert_eq(cst_detail_get_i64(d.p, d.len, "u3", &s), 0);
	cr_assert_eq(s, 65535);
	cr_assert_eq(cst_detail_get_i64(d.p, d.len, "u6", &s), CST_ECORRUPT);
	cr_assert_eq(cst_detail_get_u64(d.p, d.len, "i1", &u), CST_ECORRUPT);
	cr_assert_eq(cst_detail_get_u64(d.p, d.len, "s", &u), CST_ECORRUPT);
	cr_assert_eq(cst_detail_get_str(d.p, d.len, "u0", &str),
	    CST_ECORRUPT);

	cr_assert_eq(cst_detail_get_str(d.p, d.len, "s", &str), 0);
	cr_assert_eq(str.len, 5);
	cr_assert(memcmp(str.p, "hello", 5) == 0);
	cr_assert_eq(cst_detail_get_str(d.p, d.len, "long", &str), 0);
	cr_assert_eq(str.len, sizeof(longstr));
	cr_assert_eq(cst_detail_get_u64(d.p, d.len, "missing", &u),
	    CST_ENOENT);
	/* Keys match whole, not by prefix. */
	cr_assert_eq(cst_detail_get_u64(d.p, d.len, "u", &u), CST_ENOENT);
	cr_assert_eq(cst_detail_get_str(d.p, d.len, "longer", &str),
	    CST_ENOENT);

	/* A cut map is malformed wherever it is cut, up to the key's value. */
	for (i = 0; i < d.len; i++)
		cr_assert_eq(cst_detail_get_str(d.p, i, "long", &str),
		    CST_ECORRUPT, "cut at %zu", i);
	cr_assert_eq(cst_detail_get_u64(NULL, 0, "x", &u), CST_ECORRUPT);
	cr_assert_eq(cst_detail_get_u64((const uint8_t *)"\x90", 1, "x", &u),
	    CST_ECORRUPT);
	cr_assert_eq(cst_detail_get_u64((const uint8_t *)"\x81\x01\x01", 3,
	    "x", &u), CST_ECORRUPT);
	cr_assert_eq(cst_detail_get_u64((const uint8_t *)"\x80", 1, "x", &u),
	    CST_ENOENT);
	cst_buf_close(&d);
}

Test(detail, shortest_forms)
{
	cst_buf d;

	cst_buf_init(&d);
	cr_assert_eq(cst_detail_begin(&d, 15), 0);
	cr_assert_eq(cst_detail_begin(&d, 16), 0);
	cr_assert_eq(cst_detail_begin(&d, 65536), 0);
	cr_assert_eq(d.len, 1 + 3 + 5);
	cr_assert_eq(d.p[0], 0x8f);
	cr_assert_eq(d.p[1], 0xde);
	cr_assert_eq(d.p[4], 0xdf);
	d.len = 0;
	cr_assert_eq(cst_detail_put_i64(&d, "k", 5), 0);
	cr_assert_eq(d.len, 3, "a non-negative int is a positive fixint");
	cr_assert_eq(d.p[2], 0x05);
	d.len = 0;
	cr_assert_eq(cst_detail_put_i64(&d, "k", 200), 0);
	cr_assert_eq(d.p[2], 0xcc);
	d.len = 0;
	cr_assert_eq(cst_detail_put_str(&d, "k", "", 0), 0);
	cr_assert_eq(d.len, 3);
	cr_assert_eq(d.p[2], 0xa0);
	cst_buf_close(&d);
}
