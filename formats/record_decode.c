/*
 * Records (SPEC section 5): a strict hand-rolled MessagePack reader for
 * exactly the record schema.  The writer is in record_encode.c.
 *
 * The reader is on the verifier's hot path, so it allocates nothing and
 * borrows every string from the input; it is also the first code to see
 * bytes an attacker may have written, so every read is preceded by a
 * check of what is left.  A check that fails because the input ends is
 * CST_ETRUNC; any other is CST_ECORRUPT.
 *
 * A verifier hashes records as they are, so the reader accepts every
 * valid MessagePack encoding of a value (an int8 holding 5, a str16
 * holding "a"); the writer produces only shortest forms, as msgpack-c does.
 */
#include <endian.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "custody/error.h"
#include "custody/record.h"
#include "custody/syslog.h"
#include "record_int.h"

/* cst_msgpack_skip: containers open at once. */
#define SKIP_MAX_DEPTH 8

/* MessagePack type bytes this file names. */
#define MP_NIL 0xc0
#define MP_FALSE 0xc2
#define MP_TRUE 0xc3

/* A cursor over untrusted bytes: p never passes end. */
struct rd {
	const uint8_t *p;
	const uint8_t *end;
};

static inline size_t
rd_left(const struct rd *r)
{

	return ((size_t)(r->end - r->p));
}

static inline uint16_t
be16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return (be16toh(v));
}

static inline uint32_t
be32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return (be32toh(v));
}

static inline uint64_t
be64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return (be64toh(v));
}

/*
 * Reads any MessagePack integer.  A value >= 0 is returned in *u with
 * *neg = 0; a negative one in *s with *neg = 1.
 */
static inline int
rd_integer(struct rd *r, uint64_t *u, int64_t *s, int *neg)
{
	const uint8_t *p = r->p;
	size_t left = rd_left(r);
	size_t n;
	uint64_t v;

	if (left == 0)
		return (CST_ETRUNC);
	if (p[0] <= 0x7f) {
		*u = p[0];
		*neg = 0;
		r->p++;
		return (0);
	}
	if (p[0] >= 0xe0) {
		*s = (int64_t)p[0] - 256;
		*neg = 1;
		r->p++;
		return (0);
	}

	switch (p[0]) {
	case 0xcc:
	case 0xd0:
		n = 1;
		break;
	case 0xcd:
	case 0xd1:
		n = 2;
		break;
	case 0xce:
	case 0xd2:
		n = 4;
		break;
	case 0xcf:
	case 0xd3:
		n = 8;
		break;
	default:
		return (CST_ECORRUPT);
	}
	if (left < 1 + n)
		return (CST_ETRUNC);
	switch (n) {
	case 1:
		v = p[1];
		break;
	case 2:
		v = be16(p + 1);
		break;
	case 4:
		v = be32(p + 1);
		break;
	default:
		v = be64(p + 1);
		break;
	}
	r->p += 1 + n;

	/* Signed types: sign-extend from their width. */
	if (p[0] >= 0xd0 && n < 8 && (v >> (8 * n - 1)) != 0) {
		*s = (int64_t)v - ((int64_t)1 << (8 * n));
		*neg = 1;
	} else if (p[0] == 0xd3 && v > INT64_MAX) {
		*s = -(int64_t)(~v) - 1;
		*neg = 1;
	} else {
		*u = v;
		*neg = 0;
	}
	return (0);
}

/* Reads an integer that must be >= 0 ("uint" in the SPEC tables). */
static inline int
rd_uint(struct rd *r, uint64_t *out)
{
	int64_t s;
	int neg, rc;

	if ((rc = rd_integer(r, out, &s, &neg)) != 0)
		return (rc);
	return (neg ? CST_ECORRUPT : 0);
}

/* Reads an integer that must fit in int64 ("int" in the SPEC tables). */
static inline int
rd_int(struct rd *r, int64_t *out)
{
	uint64_t u;
	int neg, rc;

	if ((rc = rd_integer(r, &u, out, &neg)) != 0)
		return (rc);
	if (!neg) {
		if (u > INT64_MAX)
			return (CST_ECORRUPT);
		*out = (int64_t)u;
	}
	return (0);
}

/*
 * Reads a str (is_str: fixstr, str8/16/32) or a bin (bin8/16/32) into out,
 * borrowing from the input.
 */
static inline int
rd_bytes(struct rd *r, int is_str, cst_bytes *out)
{
	const uint8_t *p = r->p;
	size_t left = rd_left(r);
	size_t hdr, n;
	uint8_t first = is_str ? 0xd9 : 0xc4;

	if (left == 0)
		return (CST_ETRUNC);
	if (is_str && (p[0] & 0xe0) == 0xa0) {
		hdr = 1;
		n = p[0] & 0x1f;
	} else if (p[0] == first) {
		if (left < 2)
			return (CST_ETRUNC);
		hdr = 2;
		n = p[1];
	} else if (p[0] == first + 1) {
		if (left < 3)
			return (CST_ETRUNC);
		hdr = 3;
		n = be16(p + 1);
	} else if (p[0] == first + 2) {
		if (left < 5)
			return (CST_ETRUNC);
		hdr = 5;
		n = be32(p + 1);
	} else {
		return (CST_ECORRUPT);
	}
	if (n > left - hdr)
		return (CST_ETRUNC);
	out->p = p + hdr;
	out->len = n;
	r->p += hdr + n;
	return (0);
}

/* Reads an array (is_map 0) or map (is_map 1) header: *n elements/pairs. */
static inline int
rd_container(struct rd *r, int is_map, uint32_t *n)
{
	const uint8_t *p = r->p;
	size_t left = rd_left(r);
	uint8_t fix = is_map ? 0x80 : 0x90;
	uint8_t first = is_map ? 0xde : 0xdc;

	if (left == 0)
		return (CST_ETRUNC);
	if ((p[0] & 0xf0) == fix) {
		*n = p[0] & 0x0f;
		r->p++;
	} else if (p[0] == first) {
		if (left < 3)
			return (CST_ETRUNC);
		*n = be16(p + 1);
		r->p += 3;
	} else if (p[0] == first + 1) {
		if (left < 5)
			return (CST_ETRUNC);
		*n = be32(p + 1);
		r->p += 5;
	} else {
		return (CST_ECORRUPT);
	}
	return (0);
}

/* Consumes a nil if one is next: 1 if it did, 0 if not, or CST_ETRUNC. */
static inline int
rd_nil(struct rd *r)
{

	if (r->p == r->end)
		return (CST_ETRUNC);
	if (r->p[0] != MP_NIL)
		return (0);
	r->p++;
	return (1);
}

/*
 * Reads a detail map (R-REC-1): at most CST_DETAIL_MAX_KEYS distinct str
 * keys; uint, int, str, bin, bool or nil values.  out spans the whole
 * map's encoding.
 */
static int
rd_detail(struct rd *r, cst_bytes *out)
{
	const uint8_t *start = r->p;
	cst_bytes keys[CST_DETAIL_MAX_KEYS];
	cst_bytes b;
	uint64_t u;
	int64_t s;
	uint32_t n, i, j;
	int neg, rc;

	if ((rc = rd_container(r, 1, &n)) != 0)
		return (rc);
	if (n > CST_DETAIL_MAX_KEYS)
		return (CST_ECORRUPT);
	for (i = 0; i < n; i++) {
		if ((rc = rd_bytes(r, 1, &keys[i])) != 0)
			return (rc);
		/* A repeated key would let two readers see two values. */
		for (j = 0; j < i; j++)
			if (keys[j].len == keys[i].len &&
			    memcmp(keys[j].p, keys[i].p, keys[i].len) == 0)
				return (CST_ECORRUPT);
		if (r->p == r->end)
			return (CST_ETRUNC);
		switch (r->p[0]) {
		case MP_NIL:
		case MP_FALSE:
		case MP_TRUE:
			r->p++;
			break;
		case 0xc4:
		case 0xc5:
		case 0xc6:
			if ((rc = rd_bytes(r, 0, &b)) != 0)
				return (rc);
			break;
		default:
			if ((r->p[0] & 0xe0) == 0xa0 || (r->p[0] >= 0xd9 &&
			    r->p[0] <= 0xdb)) {
				if ((rc = rd_bytes(r, 1, &b)) != 0)
					return (rc);
			} else if ((rc = rd_integer(r, &u, &s, &neg)) != 0) {
				return (rc);
			}
			break;
		}
	}
	out->p = start;
	out->len = (size_t)(r->p - start);
	return (0);
}

/*
 * Checks that detail[0..len) (borrowed) is exactly one detail map that
 * cst_record_decode accepts (R-REC-1) and nothing after it.  Returns 0,
 * CST_ETRUNC or CST_ECORRUPT.
 */
int
cst_detail_check(const uint8_t *detail, size_t len)
{
	struct rd d;
	cst_bytes map;
	int rc;

	d.p = detail;
	d.end = detail + len;
	if ((rc = rd_detail(&d, &map)) != 0)
		return (rc);
	return (d.p == d.end ? 0 : CST_ECORRUPT);
}

/* Reads one uint span of raw and checks that it lies inside (R-REC-1). */
static inline int
rd_span(struct rd *r, size_t raw_len, cst_span *out)
{
	uint64_t off, len;
	int rc;

	if ((rc = rd_uint(r, &off)) != 0 || (rc = rd_uint(r, &len)) != 0)
		return (rc);
	if (off > raw_len || len > raw_len - off)
		return (CST_ECORRUPT);
	/* raw's length came from a bin header, so both fit in 32 bits. */
	out->off = (uint32_t)off;
	out->len = (uint32_t)len;
	return (0);
}

static void
parsed_none(cst_syslog *s)
{

	memset(s, 0, sizeof(*s));
	s->format = CST_SYSLOG_NONE;
	s->facility = -1;
	s->severity = -1;
	s->ts_ns = CST_TS_NONE;
}

/* Reads the 18-element parsed array (SPEC section 5). */
static int
rd_parsed(struct rd *r, size_t raw_len, cst_syslog *out)
{
	cst_span *spans[] = { &out->timestamp, &out->hostname, &out->app,
	    &out->procid, &out->msgid, &out->sd, &out->msg };
	uint64_t format;
	int64_t facility, severity;
	uint32_t n;
	size_t i;
	int rc;

	if ((rc = rd_container(r, 0, &n)) != 0)
		return (rc);
	if (n != PARSED_FIELDS)
		return (CST_ECORRUPT);
	if ((rc = rd_uint(r, &format)) != 0)
		return (rc);
	if (format != CST_SYSLOG_RFC5424 && format != CST_SYSLOG_RFC3164)
		return (CST_ECORRUPT);
	/*
	 * The SPEC says only "int"; syslog's own ranges (RFC 5424 section
	 * 6.2.1) bound them, and cst_syslog holds them in an int8_t.
	 */
	if ((rc = rd_int(r, &facility)) != 0)
		return (rc);
	if (facility < -1 || facility > FACILITY_MAX)
		return (CST_ECORRUPT);
	if ((rc = rd_int(r, &severity)) != 0)
		return (rc);
	if (severity < -1 || severity > SEVERITY_MAX)
		return (CST_ECORRUPT);
	if ((rc = rd_nil(r)) < 0)
		return (rc);
	if (rc == 1)
		out->ts_ns = CST_TS_NONE;
	else if ((rc = rd_int(r, &out->ts_ns)) != 0)
		return (rc);
	for (i = 0; i < sizeof(spans) / sizeof(spans[0]); i++)
		if ((rc = rd_span(r, raw_len, spans[i])) != 0)
			return (rc);
	out->format = (uint8_t)format;
	out->facility = (int8_t)facility;
	out->severity = (int8_t)severity;
	return (0);
}

int
cst_record_decode(const uint8_t *buf, size_t len, cst_record *out,
    size_t *used)
{
	struct rd r;
	uint64_t v;
	uint32_t n;
	int rc;

	if (len == 0) {
		rc = CST_ETRUNC;
		goto err0;
	}
	r.p = buf;
	r.end = buf + len;

	/* R-REC-1: an array of 11 with the types of the SPEC table. */
	if ((rc = rd_container(&r, 0, &n)) != 0)
		goto err0;
	if (n != RECORD_FIELDS)
		goto corrupt;
	if ((rc = rd_uint(&r, &v)) != 0)
		goto err0;
	if (v > CST_REC_KIND_MAX)
		goto corrupt;
	out->kind = (uint8_t)v;
	if ((rc = rd_uint(&r, &out->seq)) != 0 ||
	    (rc = rd_int(&r, &out->recv_ns)) != 0 ||
	    (rc = rd_uint(&r, &v)) != 0)
		goto err0;
	if (v > CST_TR_MAX)
		goto corrupt;
	out->transport = (uint8_t)v;
	if ((rc = rd_bytes(&r, 1, &out->listener)) != 0 ||
	    (rc = rd_bytes(&r, 1, &out->peer)) != 0 ||
	    (rc = rd_nil(&r)) < 0)
		goto err0;
	if (rc == 1) {
		out->tls_peer.p = NULL;
		out->tls_peer.len = 0;
	} else if ((rc = rd_bytes(&r, 1, &out->tls_peer)) != 0) {
		goto err0;
	}
	if ((rc = rd_uint(&r, &v)) != 0)
		goto err0;
	if ((v & ~(uint64_t)CST_RF_ALL) != 0)
		goto corrupt;
	out->flags = (uint32_t)v;
	if ((rc = rd_bytes(&r, 0, &out->raw)) != 0)
		goto err0;

	parsed_none(&out->parsed);
	if ((rc = rd_nil(&r)) < 0)
		goto err0;
	out->has_parsed = (rc == 0);
	if (out->has_parsed &&
	    (rc = rd_parsed(&r, out->raw.len, &out->parsed)) != 0)
		goto err0;

	if ((rc = rd_nil(&r)) < 0)
		goto err0;
	if (rc == 1) {
		out->detail.p = NULL;
		out->detail.len = 0;
	} else if ((rc = rd_detail(&r, &out->detail)) != 0) {
		goto err0;
	}

	/* R-REC-2 */
	if (out->kind == CST_REC_EVENT && out->detail.p != NULL)
		goto corrupt;
	if (out->kind != CST_REC_EVENT &&
	    (out->transport != CST_TR_INTERNAL || out->detail.p == NULL))
		goto corrupt;

	*used = (size_t)(r.p - buf);
	return (0);

corrupt:
	rc = CST_ECORRUPT;
err0:
	return (rc);
}

int
cst_msgpack_skip(const uint8_t *buf, size_t len, size_t *used)
{
	/* Objects still to skip in each open container; [0] is the top. */
	uint64_t todo[SKIP_MAX_DEPTH + 1];
	const uint8_t *p = buf;
	size_t depth = 0;
	size_t left, hdr;
	uint64_t body, count;
	int container;
	uint8_t b;

	if (len == 0)
		return (CST_ETRUNC);
	todo[0] = 1;
	for (;;) {
		while (todo[depth] == 0) {
			if (depth == 0)
				goto done;
			depth--;
		}
		todo[depth]--;

		left = len - (size_t)(p - buf);
		if (left == 0)
			return (CST_ETRUNC);
		b = p[0];
		hdr = 1;
		body = 0;
		count = 0;
		container = 0;
		if (b <= 0x7f || b >= 0xe0) {
			/* fixint */
		} else if (b <= 0x8f) {
			container = 1;
			count = 2 * (uint64_t)(b & 0x0f);
		} else if (b <= 0x9f) {
			container = 1;
			count = b & 0x0f;
		} else if (b <= 0xbf) {
			body = b & 0x1f;
		} else {
			/* First the header's size, so it is in bounds to read. */
			switch (b) {
			case 0xc0: case 0xc2: case 0xc3:
				break;
			case 0xc4: case 0xd9: case 0xcc: case 0xd0:
				hdr = 2;
				break;
			case 0xc5: case 0xda: case 0xcd: case 0xd1: case 0xdc:
			case 0xde: case 0xd4: case 0xc7:
				hdr = 3;
				break;
			case 0xc8: case 0xd5:
				hdr = 4;
				break;
			case 0xc6: case 0xdb: case 0xca: case 0xce: case 0xd2:
			case 0xdd: case 0xdf:
				hdr = 5;
				break;
			case 0xc9: case 0xd6:
				hdr = 6;
				break;
			case 0xcb: case 0xcf: case 0xd3:
				hdr = 9;
				break;
			case 0xd7:
				hdr = 10;
				break;
			case 0xd8:
				hdr = 18;
				break;
			default:
				/* 0xc1 is never used. */
				return (CST_ECORRUPT);
			}
			if (left < hdr)
				return (CST_ETRUNC);
			switch (b) {
			case 0xc4: case 0xd9: case 0xc7:
				body = p[1];
				break;
			case 0xc5: case 0xda: case 0xc8:
				body = be16(p + 1);
				break;
			case 0xc6: case 0xdb: case 0xc9:
				body = be32(p + 1);
				break;
			case 0xdc:
				container = 1;
				count = be16(p + 1);
				break;
			case 0xdd:
				container = 1;
				count = be32(p + 1);
				break;
			case 0xde:
				container = 1;
				count = 2 * (uint64_t)be16(p + 1);
				break;
			case 0xdf:
				container = 1;
				count = 2 * (uint64_t)be32(p + 1);
				break;
			default:
				break;
			}
		}
		if (left < hdr || body > left - hdr)
			return (CST_ETRUNC);
		p += hdr + (size_t)body;
		if (container) {
			if (depth == SKIP_MAX_DEPTH)
				return (CST_ECORRUPT);
			todo[++depth] = count;
		}
	}

done:
	*used = (size_t)(p - buf);
	return (0);
}

/*
 * Finds key in the detail map detail[0..len) and leaves r at its value.
 * Returns 0, CST_ENOENT or CST_ECORRUPT.
 */
static int
detail_find(const uint8_t *detail, size_t len, const char *key,
    struct rd *r)
{
	size_t klen = strlen(key);
	size_t skipped;
	cst_bytes k;
	uint32_t n, i;

	if (detail == NULL || len == 0)
		return (CST_ECORRUPT);
	r->p = detail;
	r->end = detail + len;
	if (rd_container(r, 1, &n) != 0)
		return (CST_ECORRUPT);
	for (i = 0; i < n; i++) {
		if (rd_bytes(r, 1, &k) != 0)
			return (CST_ECORRUPT);
		if (k.len == klen && memcmp(k.p, key, klen) == 0)
			return (0);
		if (r->p == r->end ||
		    cst_msgpack_skip(r->p, rd_left(r), &skipped) != 0)
			return (CST_ECORRUPT);
		r->p += skipped;
	}
	return (CST_ENOENT);
}

int
cst_detail_get_u64(const uint8_t *detail, size_t len, const char *key,
    uint64_t *out)
{
	struct rd r;
	int rc;

	if ((rc = detail_find(detail, len, key, &r)) != 0)
		return (rc);
	return (rd_uint(&r, out) != 0 ? CST_ECORRUPT : 0);
}

int
cst_detail_get_i64(const uint8_t *detail, size_t len, const char *key,
    int64_t *out)
{
	struct rd r;
	int rc;

	if ((rc = detail_find(detail, len, key, &r)) != 0)
		return (rc);
	return (rd_int(&r, out) != 0 ? CST_ECORRUPT : 0);
}

int
cst_detail_get_str(const uint8_t *detail, size_t len, const char *key,
    cst_bytes *out)
{
	struct rd r;
	int rc;

	if ((rc = detail_find(detail, len, key, &r)) != 0)
		return (rc);
	return (rd_bytes(&r, 1, out) != 0 ? CST_ECORRUPT : 0);
}
