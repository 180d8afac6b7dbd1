/*
 * Fuzz target for cst_syslog_parse(): beyond not crashing and not reading
 * out of bounds, every result must keep the contract in syslog.h, and the
 * parse must not depend on a trailing LF or on the receive time (beyond
 * the year of an RFC 3164 time).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "custody/error.h"
#include "custody/syslog.h"
#include "fuzz.h"

/* 2024-10-11T22:40:00Z, and a year and a half later. */
#define RECV1 INT64_C(1728686400000000000)
#define RECV2 INT64_C(1776000000000000000)

static void
check_span(const uint8_t *data, size_t size, cst_span s, int no_space)
{
	uint32_t i;

	REQUIRE((uint64_t)s.off + s.len <= size);
	REQUIRE(s.len > 0 || s.off == 0);
	if (no_space)
		for (i = 0; i < s.len; i++)
			REQUIRE(data[s.off + i] != ' ');
}

/* Present spans come in this order, without overlap. */
static void
check_order(const cst_span *s, size_t n)
{
	uint64_t end = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i].len == 0)
			continue;
		REQUIRE(s[i].off >= end);
		end = (uint64_t)s[i].off + s[i].len;
	}
}

static int
same_spans(const cst_syslog *a, const cst_syslog *b)
{

#define EQ(f) (a->f.off == b->f.off && a->f.len == b->f.len)
	return (a->format == b->format && a->facility == b->facility &&
	    a->severity == b->severity && EQ(timestamp) && EQ(hostname) &&
	    EQ(app) && EQ(procid) && EQ(msgid) && EQ(sd) && EQ(msg));
#undef EQ
}

static void
check(const uint8_t *data, size_t size, const cst_syslog *o, int rc)
{
	uint8_t last;

	REQUIRE(rc == 0 || rc == CST_EPARSE);
	check_span(data, size, o->timestamp, 0);
	check_span(data, size, o->hostname, 1);
	check_span(data, size, o->app, 1);
	check_span(data, size, o->procid, 1);
	check_span(data, size, o->msgid, 1);
	check_span(data, size, o->sd, 0);
	check_span(data, size, o->msg, 0);
	if (rc != 0) {
		REQUIRE(o->format == CST_SYSLOG_NONE);
		REQUIRE(o->facility == -1 && o->severity == -1);
		REQUIRE(o->ts_ns == CST_TS_NONE);
		REQUIRE(o->msg.off == 0 && o->msg.len == size);
		REQUIRE(o->timestamp.len == 0 && o->hostname.len == 0 &&
		    o->app.len == 0 && o->procid.len == 0 &&
		    o->msgid.len == 0 && o->sd.len == 0);
		return;
	}
	REQUIRE(o->format == CST_SYSLOG_RFC5424 ||
	    o->format == CST_SYSLOG_RFC3164);
	REQUIRE(size >= 3 && data[0] == '<');
	REQUIRE(o->facility >= 0 && o->facility <= 23);
	REQUIRE(o->severity >= 0 && o->severity <= 7);
	REQUIRE(o->timestamp.len > 0 || o->ts_ns == CST_TS_NONE);
	if (o->msg.len > 0) {
		last = data[o->msg.off + o->msg.len - 1];
		REQUIRE(last != '\n' && last != '\r' && last != '\0');
	}
	if (o->format == CST_SYSLOG_RFC5424) {
		const cst_span order[] = { o->timestamp, o->hostname, o->app,
		    o->procid, o->msgid, o->sd, o->msg };

		check_order(order, sizeof(order) / sizeof(order[0]));
		if (o->sd.len > 0)
			REQUIRE(data[o->sd.off] == '[' &&
			    data[o->sd.off + o->sd.len - 1] == ']');
	} else {
		const cst_span order[] = { o->timestamp, o->hostname, o->app,
		    o->procid, o->msg };

		check_order(order, sizeof(order) / sizeof(order[0]));
		REQUIRE(o->msgid.len == 0 && o->sd.len == 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cst_syslog a, b;
	uint8_t *lf;
	int rc, rc2;

	rc = cst_syslog_parse(data, size, RECV1, &a);
	check(data, size, &a, rc);

	/* The receive time only picks a year for RFC 3164. */
	rc2 = cst_syslog_parse(data, size, RECV2, &b);
	REQUIRE(rc2 == rc && same_spans(&a, &b));
	if (a.format == CST_SYSLOG_RFC5424)
		REQUIRE(a.ts_ns == b.ts_ns);

	/* A framing LF changes nothing about a parsed message. */
	if (rc == 0 && (lf = malloc(size + 1)) != NULL) {
		memcpy(lf, data, size);
		lf[size] = '\n';
		rc2 = cst_syslog_parse(lf, size + 1, RECV1, &b);
		REQUIRE(rc2 == 0 && same_spans(&a, &b) && a.ts_ns == b.ts_ns);
		free(lf);
	}
	return (0);
}
