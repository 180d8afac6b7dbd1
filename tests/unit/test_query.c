/*
 * custody-query's parts: the time syntax, the filters, the output escaping
 * and the index (a forged or stale index entry is ignored, never trusted).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include "custody/buf.h"
#include "custody/error.h"
#include "custody/record.h"
#include "custody/syslog.h"

#include "index.h"
#include "query.h"
#include "query_runs.h"

#define NS 1000000000LL
#define T0 1717243200LL /* 2024-06-01T12:00:00Z */

Test(query_time, rfc3339_and_relaxations)
{
	int64_t t;

	cr_assert_eq(query_time_parse("2024-06-01T12:00:00Z", 0, 1, &t), 0);
	cr_assert_eq(t, T0 * NS);
	cr_assert_eq(query_time_parse("2024-06-01 12:00:00", 0, 1, &t), 0);
	cr_assert_eq(t, T0 * NS, "no zone with --utc means UTC");
	cr_assert_eq(query_time_parse("2024-06-01T14:00:00+02:00", 0, 1,
	    &t), 0);
	cr_assert_eq(t, T0 * NS);
	cr_assert_eq(query_time_parse("2024-06-01T12:00:00.25Z", 0, 1, &t), 0);
	cr_assert_eq(t, T0 * NS + 250000000);
	cr_assert_eq(query_time_parse("2024-06-01", 0, 1, &t), 0);
	cr_assert_eq(t, (T0 - 43200) * NS);
	cr_assert_eq(query_time_parse("@1717243200", 0, 1, &t), 0);
	cr_assert_eq(t, T0 * NS);
	cr_assert_neq(query_time_parse("2024-13-01", 0, 1, &t), 0);
	cr_assert_neq(query_time_parse("2024-06-01T12:00:00Zjunk", 0, 1,
	    &t), 0);
	cr_assert_neq(query_time_parse("", 0, 1, &t), 0);
}

Test(query_time, relative_like_journalctl)
{
	int64_t now = T0 * NS, t;

	cr_assert_eq(query_time_parse("-2h", now, 1, &t), 0);
	cr_assert_eq(t, now - 7200 * NS);
	cr_assert_eq(query_time_parse("30min", now, 1, &t), 0);
	cr_assert_eq(t, now - 1800 * NS, "no sign: the past");
	cr_assert_eq(query_time_parse("+1h30min", now, 1, &t), 0);
	cr_assert_eq(t, now + 5400 * NS);
	cr_assert_eq(query_time_parse("2 days ago", now, 1, &t), 0);
	cr_assert_eq(t, now - 2 * 86400 * NS);
	cr_assert_eq(query_time_parse("today", now, 1, &t), 0);
	cr_assert_eq(t, (T0 - 43200) * NS, "--utc: midnight UTC");
	cr_assert_eq(query_time_parse("yesterday", now, 1, &t), 0);
	cr_assert_eq(t, (T0 - 43200 - 86400) * NS);
	cr_assert_neq(query_time_parse("-2 fortnights", now, 1, &t), 0);
	cr_assert_eq(query_time_duration("5m", &t), 0);
	cr_assert_eq(t, 300 * NS);
	cr_assert_neq(query_time_duration("0s", &t), 0);
}

Test(query_time, format)
{
	char b[48];

	query_time_format(T0 * NS + 123456789, 6, b, sizeof(b));
	cr_assert_str_eq(b, "2024-06-01T12:00:00.123456Z");
	query_time_format(T0 * NS + 5, 9, b, sizeof(b));
	cr_assert_str_eq(b, "2024-06-01T12:00:00.000000005Z");
	query_time_format(-1, 3, b, sizeof(b));
	cr_assert_str_eq(b, "1969-12-31T23:59:59.999Z");
}

/* Runs the rest of a test in zone tz, as TZ=tz in the environment. */
static void
zone(const char *tz)
{

	cr_assert_eq(setenv("TZ", tz, 1), 0);
	tzset();
}

#define H 3600LL

/*
 * Wall-clock forms, read in local time as journalctl reads them: the
 * expected instants were worked out by hand from the zones' rules (BST is
 * UTC+1 from 31 March 2024 01:00Z; EDT is UTC-4 until 3 November 2024
 * 06:00Z, then EST, UTC-5).
 */
Test(query_time, wall_clock_is_local_london)
{
	int64_t now = T0 * NS, t;

	zone("Europe/London");
	cr_assert_eq(query_time_parse("2024-06-01 12:00:00", 0, 0, &t), 0);
	cr_assert_eq(t, (T0 - H) * NS, "BST: 12:00 local is 11:00Z");
	cr_assert_eq(query_time_parse("2024-06-01 12:00", 0, 0, &t), 0);
	cr_assert_eq(t, (T0 - H) * NS, "no seconds");
	cr_assert_eq(query_time_parse("2024-01-15 12:00:00", 0, 0, &t), 0);
	cr_assert_eq(t, 1705320000LL * NS, "GMT in winter");
	cr_assert_eq(query_time_parse("2024-06-01", 0, 0, &t), 0);
	cr_assert_eq(t, (T0 - 13 * H) * NS, "a date: local midnight");
	cr_assert_eq(query_time_parse("2024-06-01 12:00:00 UTC", 0, 0, &t), 0);
	cr_assert_eq(t, T0 * NS, "an explicit zone wins");
	cr_assert_eq(query_time_parse("2024-06-01T12:00:00Z", 0, 0, &t), 0);
	cr_assert_eq(t, T0 * NS);
	cr_assert_eq(query_time_parse("today", now, 0, &t), 0);
	cr_assert_eq(t, (T0 - 13 * H) * NS, "local midnight, 23:00Z");
	cr_assert_eq(query_time_parse("yesterday 18:00", now, 0, &t), 0);
	cr_assert_eq(t, (T0 - 19 * H) * NS);
	cr_assert_eq(query_time_parse("21:00", now, 0, &t), 0);
	cr_assert_eq(t, (T0 + 8 * H) * NS, "a clock time alone: today");
	cr_assert_eq(query_time_parse("9:05", now, 0, &t), 0);
	cr_assert_eq(t, (T0 - 4 * H + 300) * NS, "one digit for the hour");
	cr_assert_eq(query_time_parse("tomorrow 00:30:15", now, 0, &t), 0);
	cr_assert_eq(t, (T0 + 11 * H + 1815) * NS);
	cr_assert_eq(query_time_parse("now", now, 0, &t), 0);
	cr_assert_eq(t, now);
	cr_assert_eq(query_time_parse("-1h", now, 0, &t), 0);
	cr_assert_eq(t, now - H * NS);
	cr_assert_eq(query_time_parse("21:00", now, 1, &t), 0);
	cr_assert_eq(t, (T0 + 9 * H) * NS, "--utc: 21:00 UTC");
	/* 31 March 2024: 23 hours long in London. */
	now = 1711886400LL * NS; /* 2024-03-31T12:00:00Z, 13:00 BST */
	cr_assert_eq(query_time_parse("today", now, 0, &t), 0);
	cr_assert_eq(t, 1711843200LL * NS, "midnight was still GMT");
	cr_assert_eq(query_time_parse("yesterday", now, 0, &t), 0);
	cr_assert_eq(t, (1711843200LL - 24 * H) * NS);
	cr_assert_eq(query_time_parse("today 12:00", now, 0, &t), 0);
	cr_assert_eq(t, (1711886400LL - H) * NS, "noon is BST");
	cr_assert_neq(query_time_parse("25:00", now, 0, &t), 0);
	cr_assert_neq(query_time_parse("yesterday 9", now, 0, &t), 0);
	cr_assert_neq(query_time_parse("today junk", now, 0, &t), 0);
}

Test(query_time, wall_clock_is_local_new_york)
{
	int64_t now = T0 * NS, t;

	zone("America/New_York");
	cr_assert_eq(query_time_parse("2024-06-01 12:00:00", 0, 0, &t), 0);
	cr_assert_eq(t, (T0 + 4 * H) * NS, "EDT: 12:00 local is 16:00Z");
	cr_assert_eq(query_time_parse("2024-01-15 12:00", 0, 0, &t), 0);
	cr_assert_eq(t, (1705320000LL + 5 * H) * NS, "EST in winter");
	cr_assert_eq(query_time_parse("today", now, 0, &t), 0);
	cr_assert_eq(t, (T0 - 8 * H) * NS, "08:00 EDT: midnight is 04:00Z");
	cr_assert_eq(query_time_parse("yesterday 18:00", now, 0, &t), 0);
	cr_assert_eq(t, (T0 - 14 * H) * NS, "18:00 EDT is 22:00Z");
	cr_assert_eq(query_time_parse("21:00", now, 0, &t), 0);
	cr_assert_eq(t, (T0 + 13 * H) * NS);
	/* 3 November 2024: 25 hours long in New York. */
	now = 1730635200LL * NS; /* 2024-11-03T12:00:00Z, 07:00 EST */
	cr_assert_eq(query_time_parse("today", now, 0, &t), 0);
	cr_assert_eq(t, 1730606400LL * NS, "midnight was still EDT");
	cr_assert_eq(query_time_parse("today 12:00", now, 0, &t), 0);
	cr_assert_eq(t, (1730635200LL + 5 * H) * NS, "noon is EST");
	cr_assert_eq(query_time_parse("tomorrow", now, 0, &t), 0);
	cr_assert_eq(t, (1730606400LL + 25 * H) * NS);
}

Test(query_time, shown_like_journalctl)
{
	char b[64];
	int64_t t = T0 * NS + 123456789;

	zone("Europe/London");
	query_time_show(t, QUERY_TS_SHORT, 0, b, sizeof(b));
	cr_assert_str_eq(b, "Jun 01 13:00:00");
	query_time_show(t, QUERY_TS_PRECISE, 0, b, sizeof(b));
	cr_assert_str_eq(b, "Jun 01 13:00:00.123456");
	query_time_show(t, QUERY_TS_ISO, 0, b, sizeof(b));
	cr_assert_str_eq(b, "2024-06-01T13:00:00+01:00");
	query_time_show(t, QUERY_TS_VERBOSE, 0, b, sizeof(b));
	cr_assert_str_eq(b, "Sat 2024-06-01 13:00:00.123456 BST");
	query_time_show(t, QUERY_TS_ISO, 1, b, sizeof(b));
	cr_assert_str_eq(b, "2024-06-01T12:00:00+00:00");
	query_time_show(t, QUERY_TS_VERBOSE, 1, b, sizeof(b));
	cr_assert_str_eq(b, "Sat 2024-06-01 12:00:00.123456 UTC");
	zone("America/New_York");
	query_time_show(t, QUERY_TS_SHORT, 0, b, sizeof(b));
	cr_assert_str_eq(b, "Jun 01 08:00:00");
	query_time_show(t, QUERY_TS_ISO, 0, b, sizeof(b));
	cr_assert_str_eq(b, "2024-06-01T08:00:00-04:00");
	query_time_show(1705320000LL * NS, QUERY_TS_ISO, 0, b, sizeof(b));
	cr_assert_str_eq(b, "2024-01-15T07:00:00-05:00");
}

/* A parsed event record over msg (borrowed). */
static void
rec(cst_record *r, const char *msg, const char *peer)
{

	memset(r, 0, sizeof(*r));
	r->kind = CST_REC_EVENT;
	r->transport = CST_TR_UDP;
	r->seq = 42;
	r->recv_ns = T0 * NS;
	r->raw.p = (const uint8_t *)msg;
	r->raw.len = strlen(msg);
	r->peer.p = (const uint8_t *)peer;
	r->peer.len = strlen(peer);
	r->listener.p = (const uint8_t *)"udp";
	r->listener.len = 3;
	r->has_parsed = cst_syslog_parse(r->raw.p, r->raw.len, r->recv_ns,
	    &r->parsed) == 0;
}

static const char *m5424 = "<27>1 2024-06-01T12:00:00Z web1 nginx 77 ID1 "
    "[exampleSDID@32473 iut=\"3\" eventSource=\"App\\\"li\\]c\"][origin "
    "ip=\"192.0.2.1\"] upstream timed out";

Test(query_filter, fields_and_combinations)
{
	struct query_filter f;
	cst_record r;
	const char *h2 = "web2";

	rec(&r, m5424, "[2001:db8::1]:514");
	cr_assert(r.has_parsed);
	query_filter_init(&f);
	cr_assert(query_filter_match(&f, &r, NULL), "empty filter: all");
	cr_assert_eq(query_filter_add(&f.hosts, &f.nhosts, "web1"), 0);
	cr_assert(query_filter_match(&f, &r, NULL));
	cr_assert_eq(query_filter_severity(&f, "err"), 0);
	cr_assert(query_filter_match(&f, &r, NULL), "<27>: daemon.err");
	cr_assert_eq(query_filter_facility(&f, "daemon,local0"), 0);
	cr_assert(query_filter_match(&f, &r, NULL));
	cr_assert_eq(query_filter_add(&f.peers, &f.npeers, "2001:db8::1"), 0);
	cr_assert(query_filter_match(&f, &r, NULL), "peer without port");
	cr_assert_eq(query_filter_add(&f.apps, &f.napps, "sshd"), 0);
	cr_assert_not(query_filter_match(&f, &r, NULL), "AND across kinds");
	query_filter_close(&f);

	query_filter_init(&f);
	cr_assert_eq(query_filter_add(&f.hosts, &f.nhosts, h2), 0);
	cr_assert_eq(query_filter_add(&f.hosts, &f.nhosts, "web1"), 0);
	cr_assert(query_filter_match(&f, &r, NULL), "OR within --host");
	query_filter_close(&f);

	query_filter_init(&f);
	cr_assert_eq(query_filter_severity(&f, "warning..emerg"), 0);
	cr_assert_eq(f.sev_mask, 0x1fu);
	cr_assert_eq(query_filter_severity(&f, "7..7"), 0);
	cr_assert_eq(f.sev_mask, 0x9fu);
	cr_assert_neq(query_filter_severity(&f, "loud"), 0);
	cr_assert_eq(query_filter_seq(&f, "40..42"), 0);
	cr_assert(query_filter_match(&f, &r, NULL));
	cr_assert_eq(query_filter_seq(&f, "43.."), 0);
	cr_assert_not(query_filter_match(&f, &r, NULL));
	cr_assert_neq(query_filter_seq(&f, "9..3"), 0);
	query_filter_close(&f);
}

Test(query_filter, journalctl_priority_and_case)
{
	struct query_filter f;
	pcre2_match_data *md;
	cst_record r;
	char err[300];

	rec(&r, m5424, "192.0.2.9:514");
	query_filter_init(&f);
	cr_assert_eq(query_filter_severity(&f, "err"), 0);
	cr_assert_eq(f.sev_mask, 0x0fu, "-p err: emerg..err");
	cr_assert(query_filter_match(&f, &r, NULL));
	query_filter_close(&f);
	query_filter_init(&f);
	cr_assert_eq(query_filter_severity(&f, "crit"), 0);
	cr_assert_not(query_filter_match(&f, &r, NULL), "err is not crit");
	query_filter_close(&f);
	query_filter_init(&f);
	cr_assert_eq(query_filter_severity(&f, "warning"), 0);
	cr_assert_eq(f.sev_mask, 0x1fu);
	query_filter_close(&f);

	query_filter_init(&f);
	cr_assert_eq(query_filter_add(&f.hosts, &f.nhosts, "WEB1"), 0);
	cr_assert_eq(query_filter_add(&f.apps, &f.napps, "NginX"), 0);
	cr_assert(query_filter_match(&f, &r, NULL), "host, app: any case");
	query_filter_close(&f);

	rec(&r, "<27>1 2024-06-01T12:00:00Z web1 nginx 77 - - Upstream "
	    "TIMED OUT", "192.0.2.9:514");
	cr_assert_not_null(md = pcre2_match_data_create(1, NULL));
	query_filter_init(&f);
	cr_assert_eq(query_filter_regex(&f, "timed\\s+out", 1, err,
	    sizeof(err)), 0);
	cr_assert(query_filter_match(&f, &r, md), "smart case: no capital");
	query_filter_close(&f);
	query_filter_init(&f);
	cr_assert_eq(query_filter_regex(&f, "Timed out", 1, err,
	    sizeof(err)), 0);
	cr_assert_not(query_filter_match(&f, &r, md), "a capital: exact case");
	query_filter_close(&f);
	query_filter_init(&f);
	cr_assert_eq(query_filter_regex(&f, "timed out", 0, err,
	    sizeof(err)), 0);
	cr_assert_not(query_filter_match(&f, &r, md), "--regex: exact case");
	query_filter_close(&f);
	query_filter_init(&f);
	cr_assert_eq(query_filter_regex(&f, "upstream", 1, err,
	    sizeof(err)), 0);
	cr_assert_eq(query_filter_regex(&f, "(TIMED) (OUT)", 1, err,
	    sizeof(err)), 0);
	cr_assert(query_filter_match(&f, &r, md), "every pattern, groups");
	query_filter_close(&f);
	pcre2_match_data_free(md);
}

Test(query_filter, structured_data_with_escapes)
{
	struct query_filter f;
	cst_record r;

	rec(&r, m5424, "192.0.2.9:514");
	query_filter_init(&f);
	cr_assert_eq(query_filter_sd(&f, "exampleSDID@32473.eventSource="
	    "App\"li]c"), 0);
	cr_assert(query_filter_match(&f, &r, NULL), "RFC 5424 6.3.3 escapes");
	query_filter_close(&f);
	query_filter_init(&f);
	cr_assert_eq(query_filter_sd(&f, "origin.ip=192.0.2.1"), 0);
	cr_assert_eq(query_filter_sd(&f, "exampleSDID@32473.iut"), 0);
	cr_assert(query_filter_match(&f, &r, NULL));
	query_filter_close(&f);
	query_filter_init(&f);
	cr_assert_eq(query_filter_sd(&f, "origin.ip=192.0.2"), 0);
	cr_assert_not(query_filter_match(&f, &r, NULL), "a prefix is not "
	    "equal");
	query_filter_close(&f);
	query_filter_init(&f);
	cr_assert_eq(query_filter_sd(&f, "meta"), 0);
	cr_assert_not(query_filter_match(&f, &r, NULL));
	query_filter_close(&f);
}

Test(query_filter, text_and_regex_on_raw_bytes)
{
	struct query_filter f;
	pcre2_match_data *md;
	cst_record r;
	char err[300];
	static const char bin[] = "no pri here \xff\xfe timed out";

	rec(&r, bin, "192.0.2.9:514");
	cr_assert_not(r.has_parsed);
	query_filter_init(&f);
	cr_assert_eq(query_filter_add(&f.greps, &f.ngreps, "timed out"), 0);
	cr_assert(query_filter_match(&f, &r, NULL), "unparsed is searched");
	cr_assert_eq(query_filter_regex(&f, "t[i]med\\s+out$", 0, err,
	    sizeof(err)), 0);
	cr_assert_not_null(md = pcre2_match_data_create(1, NULL));
	cr_assert(query_filter_match(&f, &r, md));
	cr_assert(query_filter_payload(&f, r.raw.p, r.raw.len));
	cr_assert_not(query_filter_payload(&f, (const uint8_t *)"abc", 3));
	pcre2_match_data_free(md);
	query_filter_close(&f);
	query_filter_init(&f);
	cr_assert_neq(query_filter_regex(&f, "(", 0, err, sizeof(err)), 0);
	query_filter_close(&f);
	query_filter_init(&f);
	cr_assert_eq(query_filter_add(&f.hosts, &f.nhosts, "web1"), 0);
	cr_assert_not(query_filter_match(&f, &r, NULL), "no host: no match");
	query_filter_close(&f);
}

Test(query_filter, kinds)
{
	struct query_filter f;
	cst_record r;

	rec(&r, m5424, "");
	query_filter_init(&f);
	cr_assert_eq(query_filter_kind(&f, "audit"), 0);
	cr_assert_not(query_filter_match(&f, &r, NULL));
	r.kind = CST_REC_RECOVERY;
	cr_assert(query_filter_match(&f, &r, NULL));
	query_filter_close(&f);
	query_filter_init(&f);
	cr_assert_eq(query_filter_kind(&f, "event,stop"), 0);
	cr_assert_not(query_filter_match(&f, &r, NULL));
	cr_assert_neq(query_filter_kind(&f, "nonsense"), 0);
	query_filter_close(&f);
}

Test(query_out, text_escapes_control_bytes)
{
	cst_record r;
	cst_buf b;
	static const char evil[] = "<14>1 2024-06-01T12:00:00Z h a - - - "
	    "x\x1b]0;pwned\x07y\\z caf\xc3\xa9 \xc2\x9b bad\xff";

	rec(&r, evil, "192.0.2.9:514");
	cst_buf_init(&b);
	cr_assert_eq(query_out_record(&b, QUERY_TEXT, &r, 0), 0);
	cr_assert_eq(memchr(b.p, 0x1b, b.len), NULL, "no ESC reaches a tty");
	cr_assert_eq(memchr(b.p, 0x07, b.len), NULL);
	cr_assert_eq(memchr(b.p, 0xff, b.len), NULL);
	cr_assert_not_null(memmem(b.p, b.len, "x\\x1b]0;pwned\\x07y\\\\z "
	    "caf\xc3\xa9 \\xc2\\x9b bad\\xff\n", 45), "%.*s", (int)b.len,
	    (const char *)b.p);
	cst_buf_close(&b);
}

Test(query_out, json_raw_or_base64)
{
	cst_record r;
	cst_buf b;

	rec(&r, m5424, "[2001:db8::1]:514");
	cst_buf_init(&b);
	cr_assert_eq(query_out_record(&b, QUERY_JSON, &r, 7), 0);
	cr_assert_not_null(memmem(b.p, b.len, "\"host\":\"web1\"", 13));
	cr_assert_not_null(memmem(b.p, b.len, "\"severity\":3", 12));
	cr_assert_not_null(memmem(b.p, b.len, "\"block\":7", 9));
	cr_assert_not_null(memmem(b.p, b.len, "\"raw\":\"<27>1", 12));
	cr_assert_null(memmem(b.p, b.len, "raw_base64", 10));
	b.len = 0;
	rec(&r, "\xff\x00", "");
	r.raw.len = 2;
	cr_assert_eq(query_out_record(&b, QUERY_JSON, &r, 7), 0);
	cr_assert_not_null(memmem(b.p, b.len, "\"raw_base64\":\"/wA=\"", 19),
	    "%.*s", (int)b.len, (const char *)b.p);
	cr_assert_null(memmem(b.p, b.len, "\"raw\":", 6));
	cst_buf_close(&b);
}

/* The -o modes, against lines written out by hand. */
Test(query_out, journalctl_modes)
{
	cst_record r;
	cst_buf b;

	zone("Europe/London");
	rec(&r, "<27>1 2024-06-01T12:00:00Z web1 nginx 77 ID1 - upstream "
	    "timed out", "192.0.2.9:514");
	r.recv_ns = T0 * NS + 5000;
	cst_buf_init(&b);
	cr_assert_eq(query_out_show(&b, QUERY_SHORT, 0, &r, 3, NULL), 0);
	cr_assert_eq(b.len, 51);
	cr_assert_eq(memcmp(b.p, "Jun 01 13:00:00 web1 nginx[77]: upstream "
	    "timed out\n", b.len), 0, "%.*s", (int)b.len, (const char *)b.p);
	b.len = 0;
	cr_assert_eq(query_out_show(&b, QUERY_SHORT_ISO, 1, &r, 3, NULL), 0);
	cr_assert_eq(memcmp(b.p, "2024-06-01T12:00:00+00:00 web1 nginx[77]: ",
	    42), 0, "%.*s", (int)b.len, (const char *)b.p);
	b.len = 0;
	cr_assert_eq(query_out_show(&b, QUERY_SHORT_PRECISE, 0, &r, 3, NULL), 0);
	cr_assert_eq(memcmp(b.p, "Jun 01 13:00:00.000005 web1", 27), 0);
	b.len = 0;
	cr_assert_eq(query_out_show(&b, QUERY_CAT, 0, &r, 3, NULL), 0);
	cr_assert_eq(b.len, 19);
	cr_assert_eq(memcmp(b.p, "upstream timed out\n", 19), 0);
	b.len = 0;
	cr_assert_eq(query_out_show(&b, QUERY_VERBOSE, 0, &r, 3, NULL), 0);
	cr_assert_eq(memcmp(b.p, "Sat 2024-06-01 13:00:00.000005 BST [seq=42 "
	    "block=3]\n", 52), 0, "%.*s", (int)b.len, (const char *)b.p);
	cr_assert_not_null(memmem(b.p, b.len, "\n    host=web1\n", 15));
	cr_assert_not_null(memmem(b.p, b.len, "\n    severity=3 (err)\n", 22));
	cr_assert_not_null(memmem(b.p, b.len, "\n    procid=77\n", 15));
	b.len = 0;
	cr_assert_eq(query_out_show(&b, QUERY_JSON_PRETTY, 0, &r, 3, NULL), 0);
	cr_assert_eq(memcmp(b.p, "{\n  \"seq\": 42,\n  \"block\": 3,\n", 29), 0,
	    "%.*s", (int)b.len, (const char *)b.p);
	cr_assert_eq(memcmp(b.p + b.len - 3, "\n}\n", 3), 0);
	cst_buf_close(&b);
}

/*
 * SPEC section 5's display rule: an RFC 3164 message from a local sender
 * that names no host is shown with the collector's host name, beside
 * raw and the parsed fields, never inside them.
 */
Test(query_out, local_host_shown_beside_the_fields)
{
	cst_record r;
	cst_buf b;

	zone("UTC");
	rec(&r, "<13>Oct 11 22:14:15 sudo: pam_unix(sudo:session)", "");
	r.transport = CST_TR_UNIX;
	cr_assert(query_runs_wanted(&r));
	cr_assert_eq(r.parsed.hostname.len, 0);
	cst_buf_init(&b);
	cr_assert_eq(query_out_show(&b, QUERY_SHORT, 1, &r, 0, "coll1"), 0);
	cr_assert_not_null(memmem(b.p, b.len, " coll1 sudo: pam_unix", 21),
	    "%.*s", (int)b.len, (const char *)b.p);
	b.len = 0;
	cr_assert_eq(query_out_show(&b, QUERY_SHORT, 1, &r, 0, NULL), 0);
	cr_assert_not_null(memmem(b.p, b.len, " - sudo: pam_unix", 17),
	    "%.*s", (int)b.len, (const char *)b.p);
	b.len = 0;
	cr_assert_eq(query_out_show(&b, QUERY_JSON, 1, &r, 0, "coll1"), 0);
	cr_assert_not_null(memmem(b.p, b.len, "\"host\":null", 11),
	    "%.*s", (int)b.len, (const char *)b.p);
	cr_assert_not_null(memmem(b.p, b.len, "\"local_host\":\"coll1\"", 20));
	b.len = 0;
	cr_assert_eq(query_out_show(&b, QUERY_RAW, 1, &r, 0, "coll1"), 0);
	cr_assert_null(memmem(b.p, b.len, "coll1", 5), "raw stays as sent");
	b.len = 0;
	cr_assert_eq(query_out_show(&b, QUERY_VERBOSE, 1, &r, 0, "coll1"), 0);
	cr_assert_not_null(memmem(b.p, b.len, "\n    local_host=coll1\n", 22));
	cr_assert_null(memmem(b.p, b.len, "\n    host=", 11));
	/* A message that names its host, or came over the network: not. */
	rec(&r, "<13>Oct 11 22:14:15 web1 sudo: x", "");
	r.transport = CST_TR_UNIX;
	cr_assert_not(query_runs_wanted(&r));
	rec(&r, "<13>Oct 11 22:14:15 sudo: x", "192.0.2.9:514");
	cr_assert_not(query_runs_wanted(&r));
	cst_buf_close(&b);
}

/* --raw: a trailing LF as sent ends the line; it is not doubled. */
Test(query_out, raw_without_blank_lines)
{
	cst_record r;
	cst_buf b;

	cst_buf_init(&b);
	rec(&r, "<14>hello\n", "192.0.2.9:514");
	cr_assert_eq(query_out_show(&b, QUERY_RAW, 0, &r, 0, NULL), 0);
	cr_assert_eq(b.len, 10);
	cr_assert_eq(memcmp(b.p, "<14>hello\n", 10), 0);
	b.len = 0;
	rec(&r, "<14>two\nlines\n\n", "192.0.2.9:514");
	cr_assert_eq(query_out_show(&b, QUERY_RAW, 0, &r, 0, NULL), 0);
	cr_assert_eq(b.len, 14);
	cr_assert_eq(memcmp(b.p, "<14>two\nlines\n", 14), 0, "an inner LF "
	    "stays");
	b.len = 0;
	rec(&r, "<14>plain", "192.0.2.9:514");
	cr_assert_eq(query_out_show(&b, QUERY_RAW, 0, &r, 0, NULL), 0);
	cr_assert_eq(b.len, 10);
	cst_buf_close(&b);
}

/* An index written with one key is believed only under that key. */
Test(query_index, mac_stale_and_forged_entries)
{
	struct index_builder ib;
	struct index_entry e[2];
	struct index_seg *x;
	struct query_filter f;
	uint8_t key[INDEX_KEY_LEN], other[INDEX_KEY_LEN], chain[16], h0[32],
	    h1[32];
	char dir[] = "/tmp/custody-test-index-XXXXXX", path[256];
	cst_record r;
	FILE *fp;
	long len;
	int c;

	cr_assert(sodium_init() >= 0);
	cr_assert_not_null(mkdtemp(dir));
	randombytes_buf(key, sizeof(key));
	randombytes_buf(other, sizeof(other));
	randombytes_buf(chain, sizeof(chain));
	randombytes_buf(h0, sizeof(h0));
	randombytes_buf(h1, sizeof(h1));
	rec(&r, m5424, "[2001:db8::1]:514");
	index_builder_init(&ib, 10, h0);
	index_builder_add(&ib, &r);
	cr_assert_eq(index_builder_finish(&ib, &e[0]), 0);
	index_builder_init(&ib, 11, h1);
	cr_assert_eq(index_builder_finish(&ib, &e[1]), 0);
	cr_assert_eq(index_seg_save(dir, 3, chain, key, e, 2), 0);

	cr_assert_eq(index_seg_load(dir, 3, chain, key, &x), 0);
	cr_assert_not_null(index_seg_find(x, 10, h0));
	cr_assert_null(index_seg_find(x, 10, h1), "stale: hash differs");
	cr_assert_null(index_seg_find(x, 12, h0));
	query_filter_init(&f);
	cr_assert_eq(query_filter_add(&f.hosts, &f.nhosts, "web1"), 0);
	cr_assert(index_may_match(index_seg_find(x, 10, h0), &f));
	cr_assert_not(index_may_match(index_seg_find(x, 11, h1), &f));
	query_filter_close(&f);
	/* The query matches hosts and apps in any case: so does the index. */
	query_filter_init(&f);
	cr_assert_eq(query_filter_add(&f.hosts, &f.nhosts, "WeB1"), 0);
	cr_assert_eq(query_filter_add(&f.apps, &f.napps, "NGINX"), 0);
	cr_assert(index_may_match(index_seg_find(x, 10, h0), &f));
	query_filter_close(&f);
	query_filter_init(&f);
	cr_assert_eq(query_filter_add(&f.apps, &f.napps, "SSHD"), 0);
	cr_assert_not(index_may_match(index_seg_find(x, 10, h0), &f));
	query_filter_close(&f);
	query_filter_init(&f);
	cr_assert_eq(query_filter_severity(&f, "err"), 0);
	cr_assert(index_may_match(index_seg_find(x, 10, h0), &f));
	query_filter_close(&f);
	query_filter_init(&f);
	cr_assert_eq(query_filter_add(&f.peers, &f.npeers, "2001:db8::1"), 0);
	cr_assert(index_may_match(index_seg_find(x, 10, h0), &f));
	query_filter_close(&f);
	index_seg_free(x);

	cr_assert_eq(index_seg_load(dir, 3, chain, other, &x), CST_ECORRUPT,
	    "another user's key: rebuilt, not believed");
	cr_assert_eq(index_seg_load(dir, 4, chain, key, &x), CST_ENOENT);

	/* Any changed byte (a forged entry hiding a block) is refused. */
	snprintf(path, sizeof(path), "%s/index/seg-0000000003.idx", dir);
	cr_assert_not_null(fp = fopen(path, "r+b"));
	fseek(fp, 0, SEEK_END);
	len = ftell(fp);
	fseek(fp, 100, SEEK_SET);
	c = fgetc(fp);
	fseek(fp, 100, SEEK_SET);
	fputc(c ^ 1, fp);
	fclose(fp);
	cr_assert_gt(len, 100);
	cr_assert_eq(index_seg_load(dir, 3, chain, key, &x), CST_ECORRUPT);

	index_entry_close(&e[0]);
	index_entry_close(&e[1]);
	unlink(path);
	snprintf(path, sizeof(path), "%s/index", dir);
	rmdir(path);
	rmdir(dir);
}

/* R-REC-9: field 6 of a unix record; anything else is not credentials. */
Test(query_filter, local_sender_credentials)
{
	static const struct {
		uint8_t transport;
		const char *peer;   /* field 6; NULL: nil */
		int ok;
		uint64_t pid, uid, gid;
	} cases[] = {
		{ CST_TR_UNIX, "ucred pid=123 uid=0 gid=0", 1, 123, 0, 0 },
		{ CST_TR_UNIX, "ucred pid=0 uid=65534 gid=4294967295", 1, 0,
		    65534, 4294967295u },
		{ CST_TR_UNIX, NULL, 0, 0, 0, 0 },
		{ CST_TR_TLS, "ucred pid=1 uid=2 gid=3", 0, 0, 0, 0 },
		{ CST_TR_UNIX, "ucred pid=01 uid=2 gid=3", 0, 0, 0, 0 },
		{ CST_TR_UNIX, "ucred pid=1 uid=2 gid=3 ", 0, 0, 0, 0 },
		{ CST_TR_UNIX, "ucred pid=1  uid=2 gid=3", 0, 0, 0, 0 },
		{ CST_TR_UNIX, "ucred pid=1 gid=3 uid=2", 0, 0, 0, 0 },
		{ CST_TR_UNIX, "ucred pid= uid=2 gid=3", 0, 0, 0, 0 },
		{ CST_TR_UNIX, "ucred pid=12345678901 uid=2 gid=3", 0, 0, 0, 0 },
		{ CST_TR_UNIX, "ucred pid=1 uid=2 gid=", 0, 0, 0, 0 },
		{ CST_TR_UNIX, "ucred", 0, 0, 0, 0 },
	};
	struct query_filter f;
	cst_record r;
	uint64_t pid, uid, gid;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rec(&r, "<13>Oct 11 22:14:15 sudo: x", "");
		r.transport = cases[i].transport;
		if (cases[i].peer != NULL) {
			r.tls_peer.p = (const uint8_t *)cases[i].peer;
			r.tls_peer.len = strlen(cases[i].peer);
		}
		pid = uid = gid = 0xa5a5a5a5;
		cr_assert_eq(query_filter_ucred(&r, &pid, &uid, &gid),
		    cases[i].ok, "case %zu: %s", i, cases[i].peer);
		if (cases[i].ok)
			cr_assert(pid == cases[i].pid && uid == cases[i].uid &&
			    gid == cases[i].gid, "case %zu", i);
	}

	rec(&r, "<13>Oct 11 22:14:15 sudo: x", "");
	r.transport = CST_TR_UNIX;
	r.tls_peer.p = (const uint8_t *)"ucred pid=77 uid=1000 gid=100";
	r.tls_peer.len = strlen((const char *)r.tls_peer.p);
	query_filter_init(&f);
	f.uid = 1000;
	cr_assert(query_filter_match(&f, &r, NULL));
	f.pid = 78;
	cr_assert_not(query_filter_match(&f, &r, NULL), "--pid and --uid: AND");
	f.pid = 77;
	cr_assert(query_filter_match(&f, &r, NULL));
	r.tls_peer.p = NULL;
	cr_assert_not(query_filter_match(&f, &r, NULL),
	    "without credentials, --uid never matches");
	query_filter_close(&f);
}

/* --tls-peer: a shell pattern on field 6 of records received over TLS. */
Test(query_filter, tls_peer_patterns)
{
	static const char peer[] = "sha256:3f2a0000000000000000000000000000"
	    "000000000000000000000000000000aa CN=web1.example.org,O=Example";
	struct query_filter f;
	cst_record r;

	rec(&r, "<13>1 - web1 app - - - x", "");
	r.transport = CST_TR_TLS;
	r.tls_peer.p = (const uint8_t *)peer;
	r.tls_peer.len = strlen(peer);
	query_filter_init(&f);
	cr_assert_eq(query_filter_add(&f.tls_peers, &f.ntls_peers,
	    "sha256:3f2a*"), 0);
	cr_assert(query_filter_match(&f, &r, NULL), "by fingerprint");
	f.tls_peers[0] = "*CN=web2.example.org*";
	cr_assert_not(query_filter_match(&f, &r, NULL), "another subject");
	cr_assert_eq(query_filter_add(&f.tls_peers, &f.ntls_peers,
	    "*CN=web1.example.org,*"), 0);
	cr_assert(query_filter_match(&f, &r, NULL), "any of the patterns");
	r.transport = CST_TR_RELP;
	cr_assert(query_filter_match(&f, &r, NULL), "relp over TLS too");
	r.transport = CST_TR_UNIX;
	cr_assert_not(query_filter_match(&f, &r, NULL),
	    "credentials of a local sender are no certificate");
	r.transport = CST_TR_TLS;
	r.tls_peer.p = NULL;
	r.tls_peer.len = 0;
	cr_assert_not(query_filter_match(&f, &r, NULL),
	    "a record without a certificate never matches");
	query_filter_close(&f);
}
