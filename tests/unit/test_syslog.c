/*
 * cst_syslog_parse(): a corpus of the message shapes real senders emit,
 * every field asserted, plus the edges (bad PRI, year wrap, time range,
 * escapes, framing left-overs, bytes that are not UTF-8).
 *
 * Expected times were computed independently (Python datetime), not with
 * the parser's own calendar code.
 */
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>

#include "custody/error.h"
#include "custody/syslog.h"

/* 2024-10-11T22:40:00Z: the receive time unless a test says otherwise. */
#define RECV INT64_C(1728686400000000000)
#define S(x) (INT64_C(x) * INT64_C(1000000000))

/* The expected parse; NULL text means the field is absent ({0, 0}). */
struct want {
	int rc;
	int format;
	int facility;
	int severity;
	int64_t ts_ns;
	const char *timestamp;
	const char *hostname;
	const char *app;
	const char *procid;
	const char *msgid;
	const char *sd;
	const char *msg;
};

static void
check_span(const char *name, const uint8_t *in, size_t len, cst_span s,
    const char *want)
{
	size_t wl;

	cr_assert((uint64_t)s.off + s.len <= len,
	    "%s span [%u,+%u) outside input of %zu bytes", name, s.off, s.len,
	    len);
	if (want == NULL) {
		cr_assert(s.off == 0 && s.len == 0,
		    "%s should be absent, is [%u,+%u) \"%.*s\"", name, s.off,
		    s.len, (int)s.len, (const char *)in + s.off);
		return;
	}
	wl = strlen(want);
	cr_assert(s.len == wl && memcmp(in + s.off, want, wl) == 0,
	    "%s is \"%.*s\", want \"%s\"", name, (int)s.len,
	    (const char *)in + s.off, want);
}

/* Parses in[0..len) received at recv and asserts every field of w. */
static void
check_at(const void *in, size_t len, int64_t recv, const struct want *w)
{
	cst_syslog o;
	int rc;

	memset(&o, 0x5a, sizeof(o));
	rc = cst_syslog_parse(in, len, recv, &o);
	cr_assert_eq(rc, w->rc, "rc %d, want %d", rc, w->rc);
	cr_assert_eq(o.format, w->format, "format %d, want %d", o.format,
	    w->format);
	cr_assert_eq(o.facility, w->facility);
	cr_assert_eq(o.severity, w->severity);
	cr_assert_eq(o.ts_ns, w->ts_ns, "ts_ns %lld, want %lld",
	    (long long)o.ts_ns, (long long)w->ts_ns);
	check_span("timestamp", in, len, o.timestamp, w->timestamp);
	check_span("hostname", in, len, o.hostname, w->hostname);
	check_span("app", in, len, o.app, w->app);
	check_span("procid", in, len, o.procid, w->procid);
	check_span("msgid", in, len, o.msgid, w->msgid);
	check_span("sd", in, len, o.sd, w->sd);
	check_span("msg", in, len, o.msg, w->msg);
}

/* A string literal, NULs and all, received at RECV. */
#define CHECK(lit, ...) do {                                                  \
	struct want w_ = { __VA_ARGS__ };                                     \
	check_at(lit, sizeof(lit) - 1, RECV, &w_);                            \
} while (0)
#define CHECK_AT(recv, lit, ...) do {                                         \
	struct want w_ = { __VA_ARGS__ };                                     \
	check_at(lit, sizeof(lit) - 1, recv, &w_);                            \
} while (0)

#define OK5424 .rc = 0, .format = CST_SYSLOG_RFC5424
#define OK3164 .rc = 0, .format = CST_SYSLOG_RFC3164
#define FAIL .rc = CST_EPARSE, .format = CST_SYSLOG_NONE, .facility = -1,     \
	.severity = -1, .ts_ns = CST_TS_NONE

/* RFC 5424 section 6.5, the four examples. */
Test(rfc5424, rfc_example_1_bom)
{
	CHECK("<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - "
	    "ID47 - \xef\xbb\xbf'su root' failed for lonvick on /dev/pts/8",
	    OK5424, .facility = 4, .severity = 2,
	    .ts_ns = S(1065910455) + 3000000,
	    .timestamp = "2003-10-11T22:14:15.003Z",
	    .hostname = "mymachine.example.com", .app = "su", .msgid = "ID47",
	    .msg = "'su root' failed for lonvick on /dev/pts/8");
}

Test(rfc5424, rfc_example_2_offset)
{
	CHECK("<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 "
	    "- - %% It's time to make the do-nuts.",
	    OK5424, .facility = 20, .severity = 5,
	    .ts_ns = S(1061727255) + 3000,
	    .timestamp = "2003-08-24T05:14:15.000003-07:00",
	    .hostname = "192.0.2.1", .app = "myproc", .procid = "8710",
	    .msg = "%% It's time to make the do-nuts.");
}

Test(rfc5424, rfc_example_3_sd_and_bom)
{
	CHECK("<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog "
	    "- ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\" "
	    "eventID=\"1011\"] \xef\xbb\xbf"
	    "An application event log entry...",
	    OK5424, .facility = 20, .severity = 5,
	    .ts_ns = S(1065910455) + 3000000,
	    .timestamp = "2003-10-11T22:14:15.003Z",
	    .hostname = "mymachine.example.com", .app = "evntslog",
	    .msgid = "ID47",
	    .sd = "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" "
	    "eventID=\"1011\"]",
	    .msg = "An application event log entry...");
}

Test(rfc5424, rfc_example_4_two_sd_no_msg)
{
	CHECK("<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog "
	    "- ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\" "
	    "eventID=\"1011\"][examplePriority@32473 class=\"high\"]",
	    OK5424, .facility = 20, .severity = 5,
	    .ts_ns = S(1065910455) + 3000000,
	    .timestamp = "2003-10-11T22:14:15.003Z",
	    .hostname = "mymachine.example.com", .app = "evntslog",
	    .msgid = "ID47",
	    .sd = "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" "
	    "eventID=\"1011\"][examplePriority@32473 class=\"high\"]");
}

/* rsyslog's RSYSLOG_SyslogProtocol23Format, which ends in LF. */
Test(rfc5424, rsyslog_protocol23)
{
	CHECK("<86>1 2024-10-11T22:14:15.123456+02:00 web01 sshd 4242 - - "
	    "Accepted publickey for alice from 10.0.0.5 port 51234 ssh2\n",
	    OK5424, .facility = 10, .severity = 6,
	    .ts_ns = S(1728677655) + 123456000,
	    .timestamp = "2024-10-11T22:14:15.123456+02:00",
	    .hostname = "web01", .app = "sshd", .procid = "4242",
	    .msg = "Accepted publickey for alice from 10.0.0.5 port 51234 "
	    "ssh2");
}

/* syslog-ng's syslog() destination. */
Test(rfc5424, syslog_ng)
{
	CHECK("<38>1 2024-10-11T22:14:15+00:00 web01 sshd 4242 - "
	    "[meta sequenceId=\"17\"] session opened for user root",
	    OK5424, .facility = 4, .severity = 6, .ts_ns = S(1728684855),
	    .timestamp = "2024-10-11T22:14:15+00:00", .hostname = "web01",
	    .app = "sshd", .procid = "4242", .sd = "[meta sequenceId=\"17\"]",
	    .msg = "session opened for user root");
}

/* util-linux logger --rfc5424 -t tag -i --msgid MID. */
Test(rfc5424, logger)
{
	CHECK("<13>1 2024-10-11T22:14:15.622836-05:30 web01 tag 31337 MID "
	    "[timeQuality tzKnown=\"1\" isSynced=\"1\" syncAccuracy=\"497500\"]"
	    " hello world",
	    OK5424, .facility = 1, .severity = 5,
	    .ts_ns = S(1728704655) + 622836000,
	    .timestamp = "2024-10-11T22:14:15.622836-05:30",
	    .hostname = "web01", .app = "tag", .procid = "31337",
	    .msgid = "MID",
	    .sd = "[timeQuality tzKnown=\"1\" isSynced=\"1\" "
	    "syncAccuracy=\"497500\"]",
	    .msg = "hello world");
}

Test(rfc5424, all_nil)
{
	CHECK("<0>1 - - - - - -", OK5424, .facility = 0, .severity = 0,
	    .ts_ns = CST_TS_NONE);
	CHECK("<191>1 - - - - - - x", OK5424, .facility = 23, .severity = 7,
	    .ts_ns = CST_TS_NONE, .msg = "x");
	/* An empty MSG after its SP is as absent as none. */
	CHECK("<14>1 - h - - - - ", OK5424, .facility = 1, .severity = 6,
	    .ts_ns = CST_TS_NONE, .hostname = "h");
}

Test(rfc5424, escapes_in_sd)
{
	CHECK("<13>1 2024-02-29T23:59:59.5Z h a - - "
	    "[x@1 p=\"q\\\"uote\\] and \\\\\" r=\"\"][y@2] m",
	    OK5424, .facility = 1, .severity = 5,
	    .ts_ns = S(1709251199) + 500000000,
	    .timestamp = "2024-02-29T23:59:59.5Z", .hostname = "h", .app = "a",
	    .sd = "[x@1 p=\"q\\\"uote\\] and \\\\\" r=\"\"][y@2]", .msg = "m");
	/* Senders that forget to escape ']' in a value are let through. */
	CHECK("<13>1 - h a - - [x p=\"a]b\"] m", OK5424, .facility = 1,
	    .severity = 5, .ts_ns = CST_TS_NONE, .hostname = "h", .app = "a",
	    .sd = "[x p=\"a]b\"]", .msg = "m");
}

Test(rfc5424, fractions)
{
	CHECK("<13>1 2024-10-11T22:14:15.1Z - - - - -", OK5424,
	    .facility = 1, .severity = 5, .ts_ns = S(1728684855) + 100000000,
	    .timestamp = "2024-10-11T22:14:15.1Z");
	CHECK("<13>1 2024-10-11T22:14:15.123456789Z - - - - -", OK5424,
	    .facility = 1, .severity = 5, .ts_ns = S(1728684855) + 123456789,
	    .timestamp = "2024-10-11T22:14:15.123456789Z");
	/* Below a nanosecond is dropped, not rounded. */
	CHECK("<13>1 2024-10-11T22:14:15.1234567899Z - - - - -", OK5424,
	    .facility = 1, .severity = 5, .ts_ns = S(1728684855) + 123456789,
	    .timestamp = "2024-10-11T22:14:15.1234567899Z");
	/* Lower-case t and z, which RFC 3339 allows. */
	CHECK("<13>1 2024-10-11t22:14:15z - - - - -", OK5424,
	    .facility = 1, .severity = 5, .ts_ns = S(1728684855),
	    .timestamp = "2024-10-11t22:14:15z");
}

Test(rfc5424, times_before_1970_and_range)
{
	CHECK("<13>1 1969-12-31T23:59:59.25Z - - - - -", OK5424,
	    .facility = 1, .severity = 5, .ts_ns = S(-1) + 250000000,
	    .timestamp = "1969-12-31T23:59:59.25Z");
	CHECK("<13>1 1970-01-01T01:00:00+01:00 - - - - -", OK5424,
	    .facility = 1, .severity = 5, .ts_ns = 0,
	    .timestamp = "1970-01-01T01:00:00+01:00");
	/* Years int64_t ns cannot hold give no time, but still parse. */
	CHECK("<13>1 9999-12-31T23:59:59Z - - - - -", OK5424,
	    .facility = 1, .severity = 5, .ts_ns = CST_TS_NONE,
	    .timestamp = "9999-12-31T23:59:59Z");
	CHECK("<13>1 0000-01-01T00:00:00Z - - - - -", OK5424,
	    .facility = 1, .severity = 5, .ts_ns = CST_TS_NONE,
	    .timestamp = "0000-01-01T00:00:00Z");
	CHECK("<13>1 2262-04-11T23:47:15Z - - - - -", OK5424,
	    .facility = 1, .severity = 5, .ts_ns = S(9223372035),
	    .timestamp = "2262-04-11T23:47:15Z");
}

/* A broken clock must not cost the other fields. */
Test(rfc5424, out_of_range_time_keeps_fields)
{
	CHECK("<13>1 2023-02-29T10:00:00Z h a - - - m", OK5424,
	    .facility = 1, .severity = 5, .ts_ns = CST_TS_NONE,
	    .timestamp = "2023-02-29T10:00:00Z", .hostname = "h", .app = "a",
	    .msg = "m");
	CHECK("<13>1 2024-13-01T10:00:00Z h a - - - m", OK5424,
	    .facility = 1, .severity = 5, .ts_ns = CST_TS_NONE,
	    .timestamp = "2024-13-01T10:00:00Z", .hostname = "h", .app = "a",
	    .msg = "m");
	CHECK("<13>1 2024-01-01T24:00:00+25:00 h a - - - m", OK5424,
	    .facility = 1, .severity = 5, .ts_ns = CST_TS_NONE,
	    .timestamp = "2024-01-01T24:00:00+25:00", .hostname = "h",
	    .app = "a", .msg = "m");
}

Test(rfc5424, no_zone_is_utc)
{
	CHECK("<13>1 2024-10-11T22:14:15 h a - - - m", OK5424,
	    .facility = 1, .severity = 5, .ts_ns = S(1728684855),
	    .timestamp = "2024-10-11T22:14:15", .hostname = "h", .app = "a",
	    .msg = "m");
}

/* What fails the RFC 5424 checks is read as RFC 3164 text instead. */
Test(rfc5424, near_misses_fall_back)
{
	CHECK("<13>1 apple pie", OK3164, .facility = 1, .severity = 5,
	    .ts_ns = CST_TS_NONE, .msg = "1 apple pie");
	CHECK("<13>1 - h a - - [x]m", OK3164, .facility = 1, .severity = 5,
	    .ts_ns = CST_TS_NONE, .msg = "1 - h a - - [x]m");
	CHECK("<13>1 - h a - - [x p=\"unterminated]", OK3164, .facility = 1,
	    .severity = 5, .ts_ns = CST_TS_NONE,
	    .msg = "1 - h a - - [x p=\"unterminated]");
	CHECK("<13>1 - h a - - [x p=\"v\\\"]", OK3164, .facility = 1,
	    .severity = 5, .ts_ns = CST_TS_NONE,
	    .msg = "1 - h a - - [x p=\"v\\\"]");
	CHECK("<13>1 - h a - - [] m", OK3164, .facility = 1, .severity = 5,
	    .ts_ns = CST_TS_NONE, .msg = "1 - h a - - [] m");
	CHECK("<13>1 - h a - - [x p=v] m", OK3164, .facility = 1,
	    .severity = 5, .ts_ns = CST_TS_NONE,
	    .msg = "1 - h a - - [x p=v] m");
	CHECK("<13>1 - h a -", OK3164, .facility = 1, .severity = 5,
	    .ts_ns = CST_TS_NONE, .msg = "1 - h a -");
	CHECK("<13>2 - - - - - - m", OK3164, .facility = 1, .severity = 5,
	    .ts_ns = CST_TS_NONE, .msg = "2 - - - - - - m");
	CHECK("<13>1 2024-10-11 22:14:15 h a - - - m", OK3164,
	    .facility = 1, .severity = 5, .ts_ns = CST_TS_NONE,
	    .msg = "1 2024-10-11 22:14:15 h a - - - m");
}

/* util-linux logger --rfc3164 to a network server, with and without -i. */
Test(rfc3164, logger)
{
	CHECK("<13>Oct 11 22:14:15 web01 alice: hello world", OK3164,
	    .facility = 1, .severity = 5, .ts_ns = S(1728684855),
	    .timestamp = "Oct 11 22:14:15", .hostname = "web01",
	    .app = "alice", .msg = "hello world");
	CHECK("<13>Oct 11 22:14:15 web01 alice[31337]: hello world", OK3164,
	    .facility = 1, .severity = 5, .ts_ns = S(1728684855),
	    .timestamp = "Oct 11 22:14:15", .hostname = "web01",
	    .app = "alice", .procid = "31337", .msg = "hello world");
}

/* rsyslog's RSYSLOG_TraditionalForwardFormat, and the "Mmm  d" day. */
Test(rfc3164, traditional_forward)
{
	CHECK("<86>Oct  1 02:03:04 web01 sshd[4242]: Accepted publickey\n",
	    OK3164, .facility = 10, .severity = 6, .ts_ns = S(1727748184),
	    .timestamp = "Oct  1 02:03:04", .hostname = "web01",
	    .app = "sshd", .procid = "4242", .msg = "Accepted publickey");
	/* Zero-padded and bare days, from less careful senders. */
	CHECK("<86>Oct 01 02:03:04 web01 x: y", OK3164, .facility = 10,
	    .severity = 6, .ts_ns = S(1727748184),
	    .timestamp = "Oct 01 02:03:04", .hostname = "web01", .app = "x",
	    .msg = "y");
	CHECK("<86>Oct 1 02:03:04 web01 x: y", OK3164, .facility = 10,
	    .severity = 6, .ts_ns = S(1727748184),
	    .timestamp = "Oct 1 02:03:04", .hostname = "web01", .app = "x",
	    .msg = "y");
}

/* rsyslog's RSYSLOG_ForwardFormat: RFC 3339 time in an RFC 3164 header. */
Test(rfc3164, rsyslog_forward_format)
{
	CHECK("<86>2024-10-11T22:14:15.123456+02:00 web01 sshd[4242]: "
	    "Accepted publickey\n",
	    OK3164, .facility = 10, .severity = 6,
	    .ts_ns = S(1728677655) + 123456000,
	    .timestamp = "2024-10-11T22:14:15.123456+02:00",
	    .hostname = "web01", .app = "sshd", .procid = "4242",
	    .msg = "Accepted publickey");
}

/* journald's ForwardToSyslog and glibc syslog(3): no host name. */
Test(rfc3164, local_socket_no_host)
{
	CHECK("<30>Oct 11 22:14:15 systemd[1]: Started Session 1 of user "
	    "alice.", OK3164, .facility = 3, .severity = 6,
	    .ts_ns = S(1728684855), .timestamp = "Oct 11 22:14:15",
	    .app = "systemd", .procid = "1",
	    .msg = "Started Session 1 of user alice.");
	CHECK("<13>Oct 11 22:14:15 su: pam_unix(su:session): session opened",
	    OK3164, .facility = 1, .severity = 5, .ts_ns = S(1728684855),
	    .timestamp = "Oct 11 22:14:15", .app = "su",
	    .msg = "pam_unix(su:session): session opened");
	CHECK("<13>Oct 11 22:14:15 CRON[77]: (root) CMD (run-parts)",
	    OK3164, .facility = 1, .severity = 5, .ts_ns = S(1728684855),
	    .timestamp = "Oct 11 22:14:15", .app = "CRON", .procid = "77",
	    .msg = "(root) CMD (run-parts)");
}

Test(rfc3164, tag_shapes)
{
	CHECK("<22>Oct 11 22:14:15 mx1 postfix/smtpd[123]: connect from x",
	    OK3164, .facility = 2, .severity = 6, .ts_ns = S(1728684855),
	    .timestamp = "Oct 11 22:14:15", .hostname = "mx1",
	    .app = "postfix/smtpd", .procid = "123",
	    .msg = "connect from x");
	/* A tag with a pid but no colon. */
	CHECK("<22>Oct 11 22:14:15 h app[9] text", OK3164, .facility = 2,
	    .severity = 6, .ts_ns = S(1728684855),
	    .timestamp = "Oct 11 22:14:15", .hostname = "h", .app = "app",
	    .procid = "9", .msg = "text");
	/* The kernel's "[ 12.3]" is message, not pid. */
	CHECK("<6>Oct 11 22:14:15 10.1.2.3 kernel: [   12.345] eth0: up",
	    OK3164, .facility = 0, .severity = 6, .ts_ns = S(1728684855),
	    .timestamp = "Oct 11 22:14:15", .hostname = "10.1.2.3",
	    .app = "kernel", .msg = "[   12.345] eth0: up");
	/* Only one space after the tag belongs to the header. */
	CHECK("<22>Oct 11 22:14:15 h t:   indented", OK3164, .facility = 2,
	    .severity = 6, .ts_ns = S(1728684855),
	    .timestamp = "Oct 11 22:14:15", .hostname = "h", .app = "t",
	    .msg = "  indented");
	CHECK("<22>Oct 11 22:14:15 h t:", OK3164, .facility = 2,
	    .severity = 6, .ts_ns = S(1728684855),
	    .timestamp = "Oct 11 22:14:15", .hostname = "h", .app = "t");
}

Test(rfc3164, host_no_tag)
{
	CHECK("<13>Oct 11 22:14:15 fw01 CEF:0|Vendor|FW|1.0|100|deny|5|src=1",
	    OK3164, .facility = 1, .severity = 5, .ts_ns = S(1728684855),
	    .timestamp = "Oct 11 22:14:15", .hostname = "fw01",
	    .msg = "CEF:0|Vendor|FW|1.0|100|deny|5|src=1");
	CHECK("<13>Oct 11 22:14:15 fe80::1 plain text", OK3164,
	    .facility = 1, .severity = 5, .ts_ns = S(1728684855),
	    .timestamp = "Oct 11 22:14:15", .hostname = "fe80::1",
	    .msg = "plain text");
	/* Not a host name: the message starts right after the time. */
	CHECK("<13>Oct 11 22:14:15 Hello, world", OK3164, .facility = 1,
	    .severity = 5, .ts_ns = S(1728684855),
	    .timestamp = "Oct 11 22:14:15", .msg = "Hello, world");
	CHECK("<13>Oct 11 22:14:15", OK3164, .facility = 1, .severity = 5,
	    .ts_ns = S(1728684855), .timestamp = "Oct 11 22:14:15");
	CHECK("<13>Oct 11 22:14:15  host  two", OK3164, .facility = 1,
	    .severity = 5, .ts_ns = S(1728684855),
	    .timestamp = "Oct 11 22:14:15", .hostname = "host", .msg = "two");
}

Test(rfc3164, cisco)
{
	/* Clock not synchronised ('*'), sequence number, msec. */
	CHECK("<189>123: *Mar  1 18:46:11.123: %SYS-5-CONFIG_I: Configured "
	    "from console by vty0 (10.0.0.1)",
	    OK3164, .facility = 23, .severity = 5,
	    .ts_ns = S(1740854771) + 123000000,
	    .timestamp = "Mar  1 18:46:11.123", .app = "%SYS-5-CONFIG_I",
	    .msg = "Configured from console by vty0 (10.0.0.1)");
	CHECK("<187>45: Oct 11 22:14:15.999 UTC: %LINK-3-UPDOWN: Interface "
	    "Gi0/1, changed state to down",
	    OK3164, .facility = 23, .severity = 3,
	    .ts_ns = S(1728684855) + 999000000,
	    .timestamp = "Oct 11 22:14:15.999 UTC", .app = "%LINK-3-UPDOWN",
	    .msg = "Interface Gi0/1, changed state to down");
	/* A zone that needs a zone database: the time is not guessed. */
	CHECK("<187>46: .Oct 11 22:14:15.999 CEST: %LINK-3-UPDOWN: x",
	    OK3164, .facility = 23, .severity = 3, .ts_ns = CST_TS_NONE,
	    .timestamp = "Oct 11 22:14:15.999 CEST", .app = "%LINK-3-UPDOWN",
	    .msg = "x");
	/* "service timestamps log datetime year", no sequence numbers. */
	CHECK("<189>Mar  1 2023 18:46:11: %LINK-3-UPDOWN: x", OK3164,
	    .facility = 23, .severity = 5, .ts_ns = S(1677696371),
	    .timestamp = "Mar  1 2023 18:46:11", .app = "%LINK-3-UPDOWN",
	    .msg = "x");
	/* A sequence number without a time after it is just text. */
	CHECK("<189>123: hello", OK3164, .facility = 23, .severity = 5,
	    .ts_ns = CST_TS_NONE, .app = "123", .msg = "hello");
}

Test(rfc3164, pri_then_text)
{
	CHECK("<13>hello world", OK3164, .facility = 1, .severity = 5,
	    .ts_ns = CST_TS_NONE, .msg = "hello world");
	CHECK("<13>sshd[5]: no time here", OK3164, .facility = 1,
	    .severity = 5, .ts_ns = CST_TS_NONE, .app = "sshd", .procid = "5",
	    .msg = "no time here");
	CHECK("<13>", OK3164, .facility = 1, .severity = 5,
	    .ts_ns = CST_TS_NONE);
	CHECK("<13>\r\n", OK3164, .facility = 1, .severity = 5,
	    .ts_ns = CST_TS_NONE);
	CHECK("<13>Octopus 11 22:14:15 x", OK3164, .facility = 1,
	    .severity = 5, .ts_ns = CST_TS_NONE,
	    .msg = "Octopus 11 22:14:15 x");
	CHECK("<13>Oct 11 22:14:15x", OK3164, .facility = 1, .severity = 5,
	    .ts_ns = CST_TS_NONE, .msg = "Oct 11 22:14:15x");
	CHECK("<13>Oct 11 22:14", OK3164, .facility = 1, .severity = 5,
	    .ts_ns = CST_TS_NONE, .msg = "Oct 11 22:14");
}

/* A year-less time takes the year that puts it nearest the receive time. */
Test(rfc3164, year_wrap)
{
	/* Sent just before New Year, received just after. */
	CHECK_AT(S(1735689605), "<13>Dec 31 23:59:58 h x: y", OK3164,
	    .facility = 1, .severity = 5, .ts_ns = S(1735689598),
	    .timestamp = "Dec 31 23:59:58", .hostname = "h", .app = "x",
	    .msg = "y");
	/* A sender clock slightly ahead, across New Year. */
	CHECK_AT(S(1735689599), "<13>Jan  1 00:00:01 h x: y", OK3164,
	    .facility = 1, .severity = 5, .ts_ns = S(1735689601),
	    .timestamp = "Jan  1 00:00:01", .hostname = "h", .app = "x",
	    .msg = "y");
	/* 29 February exists only in a leap year: 2024, from 2025. */
	CHECK_AT(S(1740787200), "<13>Feb 29 12:00:00 h x: y", OK3164,
	    .facility = 1, .severity = 5, .ts_ns = S(1709208000),
	    .timestamp = "Feb 29 12:00:00", .hostname = "h", .app = "x",
	    .msg = "y");
	/* Nearest is later: March 2025 is nearer October 2024 than 2024's. */
	CHECK("<13>Mar  1 18:46:11 h x: y", OK3164, .facility = 1,
	    .severity = 5, .ts_ns = S(1740854771),
	    .timestamp = "Mar  1 18:46:11", .hostname = "h", .app = "x",
	    .msg = "y");
	/* Receive times before 1970 work the same. */
	CHECK_AT(S(-1), "<13>Jan  1 00:00:01 h x: y", OK3164,
	    .facility = 1, .severity = 5, .ts_ns = S(1),
	    .timestamp = "Jan  1 00:00:01", .hostname = "h", .app = "x",
	    .msg = "y");
	CHECK_AT(S(-1), "<13>Dec 31 00:00:01 h x: y", OK3164,
	    .facility = 1, .severity = 5, .ts_ns = S(-86399),
	    .timestamp = "Dec 31 00:00:01", .hostname = "h", .app = "x",
	    .msg = "y");
	/* No receive time: no year to give, still parses. */
	CHECK_AT(CST_TS_NONE, "<13>Oct 11 22:14:15 h x: y", OK3164,
	    .facility = 1, .severity = 5, .ts_ns = CST_TS_NONE,
	    .timestamp = "Oct 11 22:14:15", .hostname = "h", .app = "x",
	    .msg = "y");
	/* At the end of int64_t ns, the nearest year that fits. */
	CHECK_AT(INT64_MAX, "<13>Oct 11 22:14:15 h x: y", OK3164,
	    .facility = 1, .severity = 5, .ts_ns = S(9207641655),
	    .timestamp = "Oct 11 22:14:15", .hostname = "h", .app = "x",
	    .msg = "y");
}

Test(rfc3164, bad_time_values)
{
	CHECK("<13>Oct 32 22:14:15 h x: y", OK3164, .facility = 1,
	    .severity = 5, .ts_ns = CST_TS_NONE,
	    .timestamp = "Oct 32 22:14:15", .hostname = "h", .app = "x",
	    .msg = "y");
	CHECK("<13>Oct 11 25:14:15 h x: y", OK3164, .facility = 1,
	    .severity = 5, .ts_ns = CST_TS_NONE,
	    .timestamp = "Oct 11 25:14:15", .hostname = "h", .app = "x",
	    .msg = "y");
	CHECK("<13>Oct  0 22:14:15 h x: y", OK3164, .facility = 1,
	    .severity = 5, .ts_ns = CST_TS_NONE,
	    .timestamp = "Oct  0 22:14:15", .hostname = "h", .app = "x",
	    .msg = "y");
}

Test(rfc3164, not_utf8_bytes)
{
	CHECK("<13>Oct 11 22:14:15 h x: \xff\xfe\x80 latin1 caf\xe9", OK3164,
	    .facility = 1, .severity = 5, .ts_ns = S(1728684855),
	    .timestamp = "Oct 11 22:14:15", .hostname = "h", .app = "x",
	    .msg = "\xff\xfe\x80 latin1 caf\xe9");
	CHECK("<13>1 - h\xc3\xa9 a - - - \xc0\xaf", OK5424, .facility = 1,
	    .severity = 5, .ts_ns = CST_TS_NONE, .hostname = "h\xc3\xa9",
	    .app = "a", .msg = "\xc0\xaf");
}

/* LF, CR and NUL at the end are the framing's, never the message's. */
Test(framing_leftovers, trailing_terminators)
{
	CHECK("<13>1 - h a - - - m\r\n", OK5424, .facility = 1,
	    .severity = 5, .ts_ns = CST_TS_NONE, .hostname = "h", .app = "a",
	    .msg = "m");
	CHECK("<13>1 - h a - - - m\n\0", OK5424, .facility = 1,
	    .severity = 5, .ts_ns = CST_TS_NONE, .hostname = "h", .app = "a",
	    .msg = "m");
	CHECK("<13>Oct 11 22:14:15 h x: two\nlines\n", OK3164,
	    .facility = 1, .severity = 5, .ts_ns = S(1728684855),
	    .timestamp = "Oct 11 22:14:15", .hostname = "h", .app = "x",
	    .msg = "two\nlines");
}

/* An inner NUL is data. */
Test(framing_leftovers, inner_nul)
{
	static const uint8_t in[] = "<13>a\0b\0";
	cst_syslog o;

	cr_assert_eq(cst_syslog_parse(in, sizeof(in) - 1, RECV, &o), 0);
	cr_assert_eq(o.format, CST_SYSLOG_RFC3164);
	cr_assert_eq(o.msg.off, 4);
	cr_assert_eq(o.msg.len, 3);
}

Test(failures, no_pri)
{
	CHECK("Oct 11 22:14:15 h x: y", FAIL,
	    .msg = "Oct 11 22:14:15 h x: y");
	/* The whole input, terminator included: it is kept as received. */
	CHECK("plain\n", FAIL, .msg = "plain\n");
	CHECK("", FAIL);
	CHECK("\n", FAIL, .msg = "\n");
}

Test(failures, bad_pri)
{
	CHECK("<192>x", FAIL, .msg = "<192>x");
	CHECK("<999>x", FAIL, .msg = "<999>x");
	CHECK("<1000>x", FAIL, .msg = "<1000>x");
	CHECK("<013>x", FAIL, .msg = "<013>x");
	CHECK("<00>x", FAIL, .msg = "<00>x");
	CHECK("<>x", FAIL, .msg = "<>x");
	CHECK("<-1>x", FAIL, .msg = "<-1>x");
	CHECK("< 13>x", FAIL, .msg = "< 13>x");
	CHECK("<13 x", FAIL, .msg = "<13 x");
	CHECK("<13", FAIL, .msg = "<13");
	CHECK("<", FAIL, .msg = "<");
	CHECK("13>x", FAIL, .msg = "13>x");
	/* The '>' must be there before the trailing LF is dropped. */
	CHECK("<13\n", FAIL, .msg = "<13\n");
	CHECK("<0>x", OK3164, .facility = 0, .severity = 0,
	    .ts_ns = CST_TS_NONE, .msg = "x");
	CHECK("<191>x", OK3164, .facility = 23, .severity = 7,
	    .ts_ns = CST_TS_NONE, .msg = "x");
	CHECK("<10>x", OK3164, .facility = 1, .severity = 2,
	    .ts_ns = CST_TS_NONE, .msg = "x");
}

/* No span can describe more than 4 GiB; nothing is read to say so. */
Test(failures, too_long)
{
	static const uint8_t one[1] = { '<' };
	cst_syslog o;

	cr_assert_eq(cst_syslog_parse(one, (size_t)UINT32_MAX + 1, RECV, &o),
	    CST_ETOOBIG);
	cr_assert_eq(o.format, CST_SYSLOG_NONE);
	cr_assert_eq(o.msg.len, 0);
	cr_assert_eq(o.facility, -1);
}

/* Every prefix of every shape parses without reading past its end. */
Test(robustness, every_prefix)
{
	static const char *shapes[] = {
		"<165>1 2003-10-11T22:14:15.003Z mymachine evntslog - ID47 "
		    "[a@1 b=\"c\\\"d\"][e f=\"g\"] \xef\xbb\xbf" "msg",
		"<189>123: *Mar  1 18:46:11.123 UTC: %SYS-5-CONFIG_I: x",
		"<13>Oct 11 2024 22:14:15 host tag[1]: msg",
		"<13>2024-10-11T22:14:15.123456+02:00 host tag[9]: x",
	};
	cst_syslog o;
	uint8_t *copy;
	size_t i, n, len;

	for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		len = strlen(shapes[i]);
		for (n = 0; n <= len; n++) {
			/* Exactly n bytes, so ASan sees any over-read. */
			copy = malloc(n + 1);
			cr_assert_not_null(copy);
			memcpy(copy, shapes[i], n);
			(void)cst_syslog_parse(copy, n, RECV, &o);
			cr_assert((uint64_t)o.msg.off + o.msg.len <= n);
			free(copy);
		}
	}
}
