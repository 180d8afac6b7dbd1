/*
 * Fuzz target for custody-query's option parsers (verifier/query_time.c,
 * verifier/query_filter.c): what an investigator types, or a script
 * passes on, for --since/--until, --severity, --facility, --kind, --seq,
 * --sd, and the peer addresses of records.  Input: one byte choosing the
 * parser, then the argument (cut at its first NUL, as argv would be).
 * Besides not crashing: a time that parses and lies in the range
 * query_time_format can print reads back as the same instant; a duration
 * is positive; a --seq range is ordered; a peer's host part lies inside
 * the peer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"
#include "fuzz.h"

/* 2024-12-06T12:34:56.789Z: "today", "-2h" and the like are from it. */
#define NOW_NS INT64_C(1733488496789000000)
/* 1900-01-01 .. 2200-01-01: printed as RFC 3339 with 4-digit years. */
#define PRINTABLE_MIN (INT64_C(-2208988800) * INT64_C(1000000000))
#define PRINTABLE_MAX (INT64_C(7258118400) * INT64_C(1000000000))

static void
time_round_trip(const char *s)
{
	char out[64];
	int64_t t, back;

	if (query_time_parse(s, NOW_NS, 1, &t) != 0)
		return;
	if (t < PRINTABLE_MIN || t >= PRINTABLE_MAX)
		return;
	query_time_format(t, 9, out, sizeof(out));
	REQUIRE(query_time_parse(out, NOW_NS, 1, &back) == 0);
	REQUIRE(back == t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct query_filter f;
	size_t off, hlen;
	int64_t d;
	char *s;

	if (size < 1)
		return (0);
	/* argv strings end at their first NUL. */
	if ((s = malloc(size)) == NULL)
		return (0);
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	query_filter_init(&f);
	switch (data[0] % 8) {
	case 0:
		time_round_trip(s);
		break;
	case 1:
		if (query_time_duration(s, &d) == 0)
			REQUIRE(d > 0);
		break;
	case 2:
		(void)query_filter_severity(&f, s);
		break;
	case 3:
		(void)query_filter_facility(&f, s);
		break;
	case 4:
		(void)query_filter_kind(&f, s);
		break;
	case 5:
		if (query_filter_seq(&f, s) == 0)
			REQUIRE(f.seq_lo <= f.seq_hi);
		break;
	case 6:
		(void)query_filter_sd(&f, s);
		break;
	default:
		/* A peer field is bytes of the store, not a C string. */
		query_filter_peer_host(data + 1, size - 1, &off, &hlen);
		REQUIRE(off <= size - 1 && hlen <= size - 1 - off);
		break;
	}
	query_filter_close(&f);
	free(s);
	return (0);
}
