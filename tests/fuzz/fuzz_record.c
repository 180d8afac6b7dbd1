/*
 * Fuzz target for the record reader (SPEC section 5): the input is read as
 * a payload, records back to back, as a verifier reads a decompressed
 * block.  Beyond not crashing, it checks what the verifier relies on:
 * a decoded record satisfies R-REC-1/R-REC-2, borrows only from the
 * input, has the length cst_msgpack_skip finds, and encodes again to a
 * record that decodes to the same values.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "custody/buf.h"
#include "custody/error.h"
#include "custody/record.h"
#include "custody/syslog.h"
#include "fuzz.h"

static int
inside(const cst_bytes *b, const uint8_t *p, size_t len)
{

	if (b->p == NULL)
		return (b->len == 0);
	return (b->p >= p && b->len <= len && b->p - p <= (ptrdiff_t)(len -
	    b->len));
}

static int
span_inside(cst_span s, size_t raw_len)
{

	return ((uint64_t)s.off + s.len <= raw_len);
}

static int
same_bytes(const cst_bytes *a, const cst_bytes *b)
{

	if ((a->p == NULL) != (b->p == NULL) || a->len != b->len)
		return (0);
	return (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

static int
same_record(const cst_record *a, const cst_record *b)
{

	return (a->kind == b->kind && a->seq == b->seq &&
	    a->recv_ns == b->recv_ns && a->transport == b->transport &&
	    a->flags == b->flags && same_bytes(&a->listener, &b->listener) &&
	    same_bytes(&a->peer, &b->peer) &&
	    same_bytes(&a->tls_peer, &b->tls_peer) &&
	    same_bytes(&a->raw, &b->raw) && a->has_parsed == b->has_parsed &&
	    memcmp(&a->parsed, &b->parsed, sizeof(a->parsed)) == 0 &&
	    same_bytes(&a->detail, &b->detail));
}

static void
check_record(const uint8_t *p, size_t len, const cst_record *r)
{
	const cst_syslog *s = &r->parsed;
	cst_record again;
	cst_buf enc, enc2;
	cst_bytes str;
	uint64_t u;
	int64_t i;
	size_t used;

	/* R-REC-1 */
	REQUIRE(r->kind <= CST_REC_KIND_MAX);
	REQUIRE(r->transport <= CST_TR_MAX);
	REQUIRE((r->flags & ~CST_RF_ALL) == 0);
	REQUIRE(r->listener.p != NULL && r->peer.p != NULL && r->raw.p != NULL);
	REQUIRE(inside(&r->listener, p, len) && inside(&r->peer, p, len) &&
	    inside(&r->tls_peer, p, len) && inside(&r->raw, p, len) &&
	    inside(&r->detail, p, len));
	if (r->has_parsed) {
		REQUIRE(s->format == CST_SYSLOG_RFC5424 ||
		    s->format == CST_SYSLOG_RFC3164);
		REQUIRE(span_inside(s->timestamp, r->raw.len) &&
		    span_inside(s->hostname, r->raw.len) &&
		    span_inside(s->app, r->raw.len) &&
		    span_inside(s->procid, r->raw.len) &&
		    span_inside(s->msgid, r->raw.len) &&
		    span_inside(s->sd, r->raw.len) &&
		    span_inside(s->msg, r->raw.len));
	}
	/* R-REC-2 */
	if (r->kind == CST_REC_EVENT)
		REQUIRE(r->detail.p == NULL);
	else
		REQUIRE(r->transport == CST_TR_INTERNAL && r->detail.p != NULL);

	if (r->detail.p != NULL) {
		(void)cst_detail_get_u64(r->detail.p, r->detail.len, "pid", &u);
		(void)cst_detail_get_i64(r->detail.p, r->detail.len, "step_ns",
		    &i);
		if (cst_detail_get_str(r->detail.p, r->detail.len, "version",
		    &str) == 0)
			REQUIRE(str.p >= r->detail.p && str.p + str.len <=
			    r->detail.p + r->detail.len);
	}

	/*
	 * What the reader accepts, the writer accepts, never longer (the
	 * writer's forms are the shortest), and reads back.
	 */
	cst_buf_init(&enc);
	REQUIRE(cst_record_encode(r, &enc) == 0);
	REQUIRE(enc.len <= len);
	REQUIRE(cst_record_decode(enc.p, enc.len, &again, &used) == 0);
	REQUIRE(used == enc.len);
	REQUIRE(same_record(r, &again));
	/* Shortest forms are a fixed point. */
	cst_buf_init(&enc2);
	REQUIRE(cst_record_encode(&again, &enc2) == 0);
	REQUIRE(enc2.len == enc.len && memcmp(enc2.p, enc.p, enc.len) == 0);
	cst_buf_close(&enc2);
	cst_buf_close(&enc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cst_record r;
	size_t pos = 0, used, skipped;
	cst_bytes str;
	uint64_t u;
	int rc;

	/* The input as a detail map, for the lookups' own parsing. */
	(void)cst_detail_get_u64(data, size, "pid", &u);
	(void)cst_detail_get_str(data, size, "", &str);

	while (pos < size) {
		rc = cst_record_decode(data + pos, size - pos, &r, &used);
		REQUIRE(rc == 0 || rc == CST_ETRUNC || rc == CST_ECORRUPT);
		if (rc != 0)
			break;
		REQUIRE(used > 0 && used <= size - pos);
		/* The Merkle leaves the skip finds are the records decoded. */
		REQUIRE(cst_msgpack_skip(data + pos, size - pos, &skipped) == 0);
		REQUIRE(skipped == used);
		check_record(data + pos, used, &r);
		pos += used;
	}

	rc = cst_msgpack_skip(data, size, &skipped);
	REQUIRE(rc == 0 || rc == CST_ETRUNC || rc == CST_ECORRUPT);
	if (rc == 0)
		REQUIRE(skipped > 0 && skipped <= size);
	return (0);
}
