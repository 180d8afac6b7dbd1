/*
 * Syslog message parsing: RFC 5424, and RFC 3164 in the shapes real senders
 * emit (BSD syslogd, glibc and journald on the local socket, rsyslog's
 * forward formats, syslog-ng, util-linux logger, Cisco IOS).
 *
 * This runs once per received message on the ingest path, so it walks the
 * bytes once, allocates nothing, copies nothing, and does its own calendar
 * arithmetic instead of calling locale-dependent and slow libc time code.
 * The bytes come from the network: every read is bounded by the end of the
 * input, and nothing a sender writes can make the parser fail other than by
 * returning CST_EPARSE.
 *
 * RFC 5424 is recognised strictly enough ("1 ", a timestamp or "-", four
 * header fields and well-formed STRUCTURED-DATA) that an RFC 3164 message
 * whose text happens to start with "1 " is not mistaken for one; anything
 * that fails those checks is parsed as RFC 3164 instead.  Field lengths
 * are not held to the RFC 5424 maxima: rejecting a 49-byte APP-NAME would
 * only make the fields worse, and the raw bytes are kept either way.
 */
#include <stddef.h>
#include <stdint.h>

#include "custody/error.h"
#include "custody/syslog.h"
#include "civil.h"

#define NS_PER_S INT64_C(1000000000)
#define S_PER_DAY INT64_C(86400)

/*
 * Seconds whose value in nanoseconds, fraction added, fits an int64_t
 * without reaching INT64_MIN, which means CST_TS_NONE.
 */
#define S_MAX INT64_C(9223372035)
#define S_MIN (-S_MAX)

/* A timestamp text taken apart, before it becomes nanoseconds. */
struct civil {
	int64_t year;
	int mon;        /* 1..12 */
	int mday;       /* 1..31; checked against the month later */
	int hour;
	int min;
	int sec;        /* 60 is let through: it becomes the next second */
	int32_t nsec;
	int32_t offset; /* seconds east of UTC */
	int valid;      /* 0: right shape, but a value out of range */
};

static int
is_digit(uint8_t c)
{

	return ((unsigned)(c - '0') < 10);
}

/* ASCII only, on purpose: the C library's version consults the locale. */
static int
is_alpha(uint8_t c)
{

	return ((unsigned)((c | 0x20) - 'a') < 26);
}

/*
 * Reads exactly n decimal digits at b[p..end) into *v.  Returns 0, or -1
 * when there are fewer than n digits there.
 */
static int
num(const uint8_t *b, size_t p, size_t end, size_t n, int *v)
{
	int x = 0;

	if (end - p < n)
		goto fail;
	for (; n > 0; n--, p++) {
		if (!is_digit(b[p]))
			goto fail;
		x = x * 10 + (b[p] - '0');
	}
	*v = x;
	return (0);

fail:
	return (-1);
}

/* Returns 1 when b[p] exists and is c. */
static int
at(const uint8_t *b, size_t p, size_t end, uint8_t c)
{

	return (p < end && b[p] == c);
}

/* Division rounding toward minus infinity; the receive time may be < 0. */
static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if (a % b != 0 && (a < 0) != (b < 0))
		q--;
	return (q);
}

/*
 * Converts tm to UTC seconds since 1970 in *sp.  Returns 0, or -1 when a
 * value is out of range or the result cannot be held as int64_t ns.
 */
static int
civil_s(const struct civil *tm, int64_t *sp)
{
	int64_t s;

	if (!tm->valid || tm->mday > cst_civil_month_days(tm->year, tm->mon))
		goto fail;
	s = cst_civil_to_days(tm->year, tm->mon, tm->mday) * S_PER_DAY +
	    tm->hour * 3600 + tm->min * 60 + tm->sec - tm->offset;
	if (s > S_MAX || s < S_MIN)
		goto fail;
	*sp = s;
	return (0);

fail:
	return (-1);
}

/* Returns tm as UTC ns since 1970, or CST_TS_NONE. */
static int64_t
civil_ns(const struct civil *tm)
{
	int64_t s;

	if (civil_s(tm, &s) != 0)
		return (CST_TS_NONE);
	return (s * NS_PER_S + tm->nsec);
}

/*
 * Returns the RFC 3164 time tm, which has no year, as UTC ns in the year
 * that puts it nearest to recv_ns (so that a message sent on 31 December
 * and received on 1 January lands in the old year), or CST_TS_NONE, also
 * when recv_ns is: an unknown receive time gives no year.
 */
static int64_t
nearest_year_ns(struct civil *tm, int64_t recv_ns)
{
	int64_t recv_s, ry, y, s, d, best_d = INT64_MAX, best_y = 0;
	int rmon, rmday;

	if (recv_ns == CST_TS_NONE)
		goto none;
	recv_s = floor_div(recv_ns, NS_PER_S);
	cst_civil_from_days(floor_div(recv_s, S_PER_DAY), &ry, &rmon, &rmday);
	for (y = ry - 1; y <= ry + 1; y++) {
		tm->year = y;
		if (civil_s(tm, &s) != 0)
			continue;
		d = s > recv_s ? s - recv_s : recv_s - s;
		if (d < best_d) {
			best_d = d;
			best_y = y;
		}
	}
	if (best_d == INT64_MAX)
		goto none;
	tm->year = best_y;
	return (civil_ns(tm));

none:
	return (CST_TS_NONE);
}

/*
 * Reads an optional ".digits" fraction at b[*pp..end) into tm->nsec,
 * keeping nanoseconds and ignoring finer digits.  Returns 0, or -1 when
 * the dot has no digit after it.
 */
static int
parse_frac(const uint8_t *b, size_t *pp, size_t end, struct civil *tm)
{
	size_t p = *pp, n = 0;
	int32_t ns = 0;

	if (!at(b, p, end, '.'))
		goto done;
	for (p++; p < end && is_digit(b[p]); p++, n++)
		if (n < 9)
			ns = ns * 10 + (b[p] - '0');
	if (n == 0)
		goto fail;
	for (; n < 9; n++)
		ns *= 10;
done:
	tm->nsec = ns;
	*pp = p;
	return (0);

fail:
	return (-1);
}

/*
 * Parses "hh:mm:ss[.frac]" at b[*pp..end) into tm.  Returns 0 and moves
 * *pp past it, or -1 when the text does not have that shape.
 */
static int
parse_time(const uint8_t *b, size_t *pp, size_t end, struct civil *tm)
{
	size_t p = *pp;

	if (num(b, p, end, 2, &tm->hour) || !at(b, p + 2, end, ':') ||
	    num(b, p + 3, end, 2, &tm->min) || !at(b, p + 5, end, ':') ||
	    num(b, p + 6, end, 2, &tm->sec))
		goto fail;
	p += 8;
	if (parse_frac(b, &p, end, tm))
		goto fail;
	*pp = p;
	return (0);

fail:
	return (-1);
}

/*
 * Parses the RFC 3339 timestamp at b[*pp..end) into tm.  Returns 0 and
 * moves *pp past it when the text has the shape of one, -1 otherwise.  A
 * value out of range clears tm->valid instead of failing, so that a sender
 * with a broken clock still has its other fields parsed.  A missing zone
 * is taken as UTC, as for RFC 3164.
 */
static int
parse_rfc3339(const uint8_t *b, size_t *pp, size_t end, struct civil *tm)
{
	size_t p = *pp;
	int y, oh = 0, om = 0, sign = 0;

	if (num(b, p, end, 4, &y) || !at(b, p + 4, end, '-') ||
	    num(b, p + 5, end, 2, &tm->mon) || !at(b, p + 7, end, '-') ||
	    num(b, p + 8, end, 2, &tm->mday) ||
	    !(at(b, p + 10, end, 'T') || at(b, p + 10, end, 't')))
		goto fail;
	p += 11;
	if (parse_time(b, &p, end, tm))
		goto fail;
	if (at(b, p, end, 'Z') || at(b, p, end, 'z')) {
		p++;
	} else if (at(b, p, end, '+') || at(b, p, end, '-')) {
		sign = b[p] == '+' ? 1 : -1;
		if (num(b, p + 1, end, 2, &oh) || !at(b, p + 3, end, ':') ||
		    num(b, p + 4, end, 2, &om))
			goto fail;
		p += 6;
	}
	tm->year = y;
	tm->offset = sign * (oh * 3600 + om * 60);
	tm->valid = tm->mon >= 1 && tm->mon <= 12 && tm->mday >= 1 &&
	    tm->hour <= 23 && tm->min <= 59 && tm->sec <= 60 && oh <= 23 &&
	    om <= 59;
	*pp = p;
	return (0);

fail:
	return (-1);
}

/* Returns the month 1..12 named by the three letters at b[p..end), or 0. */
static int
parse_month(const uint8_t *b, size_t p, size_t end)
{
	static const char names[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	uint8_t c0, c1, c2;
	int m;

	if (end - p < 3)
		goto fail;
	c0 = b[p] | 0x20;
	c1 = b[p + 1] | 0x20;
	c2 = b[p + 2] | 0x20;
	for (m = 0; m < 12; m++)
		if (names[3 * m] == c0 && names[3 * m + 1] == c1 &&
		    names[3 * m + 2] == c2)
			break;
	if (m == 12)
		goto fail;
	return (m + 1);

fail:
	return (0);
}

/*
 * Parses the BSD timestamp at b[*pp..end): "Mmm dd hh:mm:ss" with the day
 * space-padded ("Oct  1"), zero-padded or bare; Cisco's optional year
 * ("Mar  1 2024 18:46:11"), fraction (".123"), zone name and colon
 * ("18:46:11.123 UTC:").  Sets *tsend to the end of the timestamp text and
 * moves *pp past it and past a Cisco colon.  tm->year is left for the
 * caller unless the text gave one (*has_year).  Returns 0, or -1 when the
 * text is not such a timestamp.
 *
 * A zone name is only looked for when the message is Cisco's (cisco: a
 * sequence number or clock marker came first, or the time has a fraction)
 * and it is 3-5 capitals before a colon: otherwise "Oct 11 22:14:15 CRON:"
 * would lose its tag.  A zone other than UTC clears tm->valid: without a
 * zone database it cannot be turned into UTC, and a guess would misstate
 * the time.
 */
static int
parse_bsd(const uint8_t *b, size_t *pp, size_t end, int cisco,
    struct civil *tm, size_t *tsend, int *has_year)
{
	size_t p = *pp, t, z;
	int y;

	if ((tm->mon = parse_month(b, p, end)) == 0 || !at(b, p + 3, end, ' '))
		goto fail;
	p += 4;
	if (at(b, p, end, ' '))
		p++;
	if (p >= end || !is_digit(b[p]))
		goto fail;
	tm->mday = b[p++] - '0';
	if (p < end && is_digit(b[p]))
		tm->mday = tm->mday * 10 + (b[p++] - '0');
	if (!at(b, p, end, ' '))
		goto fail;
	p++;
	*has_year = 0;
	if (num(b, p, end, 4, &y) == 0 && at(b, p + 4, end, ' ')) {
		tm->year = y;
		*has_year = 1;
		p += 5;
	}
	t = p;
	if (parse_time(b, &p, end, tm))
		goto fail;
	cisco |= p - t > 8;
	tm->offset = 0;
	tm->valid = tm->mday >= 1 && tm->mday <= 31 && tm->hour <= 23 &&
	    tm->min <= 59 && tm->sec <= 60;

	if (cisco && at(b, p, end, ' ')) {
		for (z = p + 1; z < end && z - p <= 5 &&
		    (unsigned)(b[z] - 'A') < 26; z++)
			;
		if (z - p >= 4 && at(b, z, end, ':')) {
			if (!(z - p == 4 &&
			    ((b[p + 1] == 'U' && b[p + 2] == 'T' &&
			    b[p + 3] == 'C') || (b[p + 1] == 'G' &&
			    b[p + 2] == 'M' && b[p + 3] == 'T'))))
				tm->valid = 0;
			p = z;
		}
	}
	*tsend = p;
	if (at(b, p, end, ':'))
		p++;
	if (p < end && b[p] != ' ')
		goto fail;
	*pp = p;
	return (0);

fail:
	return (-1);
}

/* Returns the end of the token starting at p: the next space, or end. */
static size_t
token_end(const uint8_t *b, size_t p, size_t end)
{

	while (p < end && b[p] != ' ')
		p++;
	return (p);
}

static size_t
skip_spaces(const uint8_t *b, size_t p, size_t end)
{

	while (p < end && b[p] == ' ')
		p++;
	return (p);
}

static cst_span
span(size_t off, size_t len)
{
	cst_span s;

	/* Absent fields are all {0, 0}, whatever the sender wrote. */
	s.off = len > 0 ? (uint32_t)off : 0;
	s.len = (uint32_t)len;
	return (s);
}

/*
 * Parses "<PRIVAL>" at b[0..end) into out and sets *pp past it.  PRIVAL is
 * 0..191 with no leading zero (RFC 5424 section 6.2.1).  Returns 0, or -1.
 */
static int
parse_pri(const uint8_t *b, size_t end, size_t *pp, cst_syslog *out)
{
	size_t p = 1;
	int v = 0;

	if (!at(b, 0, end, '<'))
		goto fail;
	while (p < end && is_digit(b[p]) && p <= 3)
		v = v * 10 + (b[p++] - '0');
	if (p == 1 || !at(b, p, end, '>') || v > 191 ||
	    (b[1] == '0' && p > 2))
		goto fail;
	out->facility = (int8_t)(v >> 3);
	out->severity = (int8_t)(v & 7);
	*pp = p + 1;
	return (0);

fail:
	return (-1);
}

/*
 * Reads an RFC 5424 header field (NILVALUE or 1*PRINTUSASCII, leniently:
 * any byte but controls, SP and DEL) at b[*pp..end) and the SP after it.
 * Returns 0, or -1 when there is no field there or no SP after it.
 */
static int
field_5424(const uint8_t *b, size_t *pp, size_t end, cst_span *f)
{
	size_t p = *pp, s = *pp;

	while (p < end && b[p] > ' ' && b[p] != 0x7f)
		p++;
	if (p == s || !at(b, p, end, ' '))
		goto fail;
	if (p - s == 1 && b[s] == '-')
		*f = span(0, 0);
	else
		*f = span(s, p - s);
	*pp = p + 1;
	return (0);

fail:
	return (-1);
}

/* SD-NAME characters: PRINTUSASCII except '=', SP, ']' and '"'. */
static int
is_sdname(uint8_t c)
{

	return (c > ' ' && c < 0x7f && c != '=' && c != ']' && c != '"');
}

/*
 * Reads the STRUCTURED-DATA at b[*pp..end): NILVALUE or one or more
 * "[SD-ID *(SP PARAM-NAME="PARAM-VALUE")]", where '\' escapes the byte
 * after it in a value.  Returns 0 and moves *pp past it, or -1.
 */
static int
parse_sd(const uint8_t *b, size_t *pp, size_t end, cst_span *sd)
{
	size_t p = *pp, s;

	if (at(b, p, end, '-')) {
		*sd = span(0, 0);
		*pp = p + 1;
		goto done;
	}
	if (!at(b, p, end, '['))
		goto fail;
	while (at(b, p, end, '[')) {
		for (s = ++p; p < end && is_sdname(b[p]); p++)
			;
		if (p == s)
			goto fail;
		while (!at(b, p, end, ']')) {
			if (!at(b, p, end, ' '))
				goto fail;
			for (s = ++p; p < end && is_sdname(b[p]); p++)
				;
			if (p == s || !at(b, p, end, '=') ||
			    !at(b, p + 1, end, '"'))
				goto fail;
			for (p += 2; p < end && b[p] != '"'; p++)
				if (b[p] == '\\')
					p++;
			if (p >= end)
				goto fail;
			p++;
		}
		p++;
	}
	*sd = span(*pp, p - *pp);
	*pp = p;
done:
	return (0);

fail:
	return (-1);
}

/*
 * Parses what follows the PRI at b[p..end) as RFC 5424 into out.  Returns
 * 0, or -1 (out's fields after the PRI then undefined).
 */
static int
parse_5424(const uint8_t *b, size_t p, size_t end, cst_syslog *out)
{
	struct civil tm;
	size_t s;

	if (!at(b, p, end, '1') || !at(b, p + 1, end, ' '))
		goto fail;
	p += 2;
	if (at(b, p, end, '-')) {
		p++;
	} else {
		s = p;
		if (parse_rfc3339(b, &p, end, &tm))
			goto fail;
		out->timestamp = span(s, p - s);
		out->ts_ns = civil_ns(&tm);
	}
	if (!at(b, p, end, ' '))
		goto fail;
	p++;
	if (field_5424(b, &p, end, &out->hostname) ||
	    field_5424(b, &p, end, &out->app) ||
	    field_5424(b, &p, end, &out->procid) ||
	    field_5424(b, &p, end, &out->msgid) ||
	    parse_sd(b, &p, end, &out->sd))
		goto fail;
	if (p < end) {
		if (b[p] != ' ')
			goto fail;
		p++;
		if (end - p >= 3 && b[p] == 0xef && b[p + 1] == 0xbb &&
		    b[p + 2] == 0xbf)
			p += 3;
		out->msg = span(p, end - p);
	}
	out->format = CST_SYSLOG_RFC5424;
	return (0);

fail:
	return (-1);
}

/*
 * Recognises an RFC 3164 TAG token b[p..q): "name:", "name[pid]:" or
 * "name[pid]".  Returns 0 and sets app and procid when it is one, else -1.
 */
static int
parse_tag(const uint8_t *b, size_t p, size_t q, cst_syslog *out)
{
	size_t s = p, ps;

	while (p < q && b[p] != '[' && b[p] != ']' && b[p] != ':')
		p++;
	if (p == s)
		goto fail;
	out->app = span(s, p - s);
	if (at(b, p, q, '[')) {
		for (ps = ++p; p < q && b[p] != ']'; p++)
			;
		if (p == ps || p >= q)
			goto fail;
		out->procid = span(ps, p - ps);
		p++;
		if (at(b, p, q, ':'))
			p++;
	} else if (at(b, p, q, ':')) {
		p++;
	} else {
		goto fail;
	}
	if (p != q)
		goto fail;
	return (0);

fail:
	out->app = out->procid = span(0, 0);
	return (-1);
}

/*
 * Returns 1 when b[p..q) can be a host name or address as senders write
 * them: letters, digits, '.', '-', '_' and ':' (IPv6).  Text that cannot
 * be one ("Hello,") then starts the message instead.
 */
static int
is_hostname(const uint8_t *b, size_t p, size_t q)
{
	uint8_t c;

	if (p == q)
		goto no;
	for (; p < q; p++) {
		c = b[p];
		if (!is_alpha(c) && !is_digit(c) && c != '.' && c != '-' &&
		    c != '_' && c != ':')
			goto no;
	}
	return (1);

no:
	return (0);
}

/*
 * Parses what follows the PRI at b[p..end) as RFC 3164 into out.  This
 * cannot fail: text that has no recognisable header is all message.
 *
 * The header is found by heuristics, in order: an optional Cisco sequence
 * number ("123: "); a timestamp, BSD (with Cisco's '*' or '.' clock-sync
 * marker) or RFC 3339 (rsyslog's forward format); then, after a timestamp,
 * a host name unless the next token is a TAG (the local socket and
 * journald omit the host); then a TAG.  Without a timestamp only a TAG is
 * looked for, so that "<13>sshd[5]: text" still yields app and procid.
 */
static void
parse_3164(const uint8_t *b, size_t p, size_t end, int64_t recv_ns,
    cst_syslog *out)
{
	struct civil tm;
	size_t q, s, tsend;
	int has_year, have_ts = 0, cisco = 0;

	q = p;
	while (q < end && is_digit(b[q]) && q - p < 10)
		q++;
	if (q > p && at(b, q, end, ':') && at(b, q + 1, end, ' ')) {
		q += 2;
		cisco = 1;
	} else {
		q = p;
	}
	if (at(b, q, end, '*') || at(b, q, end, '.')) {
		q++;
		cisco = 1;
	}
	s = q;
	if (q < end && is_alpha(b[q])) {
		if (parse_bsd(b, &q, end, cisco, &tm, &tsend,
		    &has_year) == 0) {
			out->timestamp = span(s, tsend - s);
			out->ts_ns = has_year ? civil_ns(&tm) :
			    nearest_year_ns(&tm, recv_ns);
			have_ts = 1;
		}
	} else if (q < end && is_digit(b[q])) {
		if (parse_rfc3339(b, &q, end, &tm) == 0 &&
		    (q == end || b[q] == ' ')) {
			out->timestamp = span(s, q - s);
			out->ts_ns = civil_ns(&tm);
			have_ts = 1;
		}
	}

	if (have_ts) {
		p = skip_spaces(b, q, end);
		q = token_end(b, p, end);
		if (parse_tag(b, p, q, out) != 0 && is_hostname(b, p, q)) {
			out->hostname = span(p, q - p);
			p = skip_spaces(b, q, end);
			q = token_end(b, p, end);
			parse_tag(b, p, q, out);
		}
	} else {
		q = token_end(b, p, end);
		parse_tag(b, p, q, out);
	}
	if (out->app.len > 0)
		p = at(b, q, end, ' ') ? q + 1 : q;
	out->msg = span(p, end - p);
	out->format = CST_SYSLOG_RFC3164;
}

/* Sets every field of out to "absent" and the format to CST_SYSLOG_NONE. */
static void
clear(cst_syslog *out)
{

	out->format = CST_SYSLOG_NONE;
	out->facility = -1;
	out->severity = -1;
	out->ts_ns = CST_TS_NONE;
	out->timestamp = out->hostname = out->app = out->procid =
	    out->msgid = out->sd = out->msg = span(0, 0);
}

/*
 * Parses msg[0..len) into out (borrowed; filled on every return).
 * recv_ns, the receive time (UTC ns), supplies the year an RFC 3164
 * timestamp lacks: the one that puts it nearest to recv_ns (none when
 * recv_ns is CST_TS_NONE).  Returns 0 when the message parsed as RFC 5424
 * or RFC 3164, CST_EPARSE when it did not (out->format is then
 * CST_SYSLOG_NONE and out->msg spans the whole input), CST_ETOOBIG with
 * every span empty when len exceeds UINT32_MAX.  Never reads outside
 * msg[0..len).
 *
 * Absent fields, and RFC 5424 "-", are {0, 0}.  A trailing LF, CR or NUL
 * (framing left-overs) is never part of msg; an RFC 5424 BOM neither.
 * RFC 3164 times without a zone are taken as UTC; with a zone other than
 * UTC, or out of range, ts_ns is CST_TS_NONE while timestamp still spans
 * the text.  RFC 3164 header fields are found by heuristics (see
 * formats/syslog_parse.c): a message whose text has no recognisable
 * header is all msg.
 */
int
cst_syslog_parse(const uint8_t *msg, size_t len, int64_t recv_ns,
    cst_syslog *out)
{
	size_t p, end = len;

	clear(out);
	if (len > UINT32_MAX)
		goto err0;
	/* The framing's terminator is not part of the message. */
	while (end > 0 && (msg[end - 1] == '\n' || msg[end - 1] == '\r' ||
	    msg[end - 1] == '\0'))
		end--;
	if (parse_pri(msg, end, &p, out))
		goto err1;
	if (parse_5424(msg, p, end, out) == 0)
		goto done;
	/* Undo what a failed RFC 5424 attempt may have filled in. */
	out->ts_ns = CST_TS_NONE;
	out->timestamp = out->hostname = out->app = out->procid =
	    out->msgid = out->sd = out->msg = span(0, 0);
	parse_3164(msg, p, end, recv_ns, out);
done:
	return (0);

err1:
	clear(out);
	out->msg = span(0, len);
	return (CST_EPARSE);
err0:
	return (CST_ETOOBIG);
}
