/*
 * Times as custody-query takes and prints them, with journalctl's habits:
 * a time written without a zone is local time (TZ), and times are shown
 * in local time, unless --utc asks for UTC both ways.  The store keeps
 * UTC; only the reading and the showing change.  Someone typing a time
 * from memory during an incident types the wall clock they see.
 */
#include <errno.h>
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "query.h"

#define NS 1000000000LL
#define DAY_NS (86400LL * NS)

static const struct unit {
	const char *name;
	int64_t ns;
} units[] = {
	{ "usec", 1000LL }, { "us", 1000LL },
	{ "msec", 1000000LL }, { "ms", 1000000LL },
	{ "seconds", NS }, { "second", NS }, { "sec", NS }, { "s", NS },
	{ "minutes", 60 * NS }, { "minute", 60 * NS }, { "min", 60 * NS },
	{ "m", 60 * NS },
	{ "hours", 3600 * NS }, { "hour", 3600 * NS }, { "hr", 3600 * NS },
	{ "h", 3600 * NS },
	{ "days", DAY_NS }, { "day", DAY_NS }, { "d", DAY_NS },
	{ "weeks", 7 * DAY_NS }, { "week", 7 * DAY_NS }, { "w", 7 * DAY_NS },
};

/* Parses "1h30min", "2 days", "45s" into *out; rejects overflow. */
static int
duration(const char *s, int64_t *out)
{
	int64_t total = 0, n, u;
	size_t i, len;
	int any = 0;

	while (*s != '\0') {
		while (*s == ' ')
			s++;
		if (*s == '\0')
			break;
		if (!isdigit((unsigned char)*s))
			return (-1);
		for (n = 0; isdigit((unsigned char)*s); s++) {
			if (n > (INT64_MAX - 9) / 10)
				return (-1);
			n = n * 10 + (*s - '0');
		}
		while (*s == ' ')
			s++;
		u = NS;
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			len = strlen(units[i].name);
			if (strncmp(s, units[i].name, len) == 0 &&
			    !isalpha((unsigned char)s[len])) {
				u = units[i].ns;
				s += len;
				break;
			}
		}
		if (isalpha((unsigned char)*s))
			return (-1);
		if (n > INT64_MAX / u || total > INT64_MAX - n * u)
			return (-1);
		total += n * u;
		any = 1;
	}
	if (!any)
		return (-1);
	*out = total;
	return (0);
}

int
query_time_duration(const char *s, int64_t *out)
{

	if (duration(s, out) != 0 || *out <= 0)
		return (-1);
	return (0);
}

/* Reads exactly n digits at *s into *v. */
static int
digits(const char **s, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*s)[i]))
			return (-1);
		*v = *v * 10 + ((*s)[i] - '0');
	}
	*s += n;
	return (0);
}

/*
 * The instant of a broken-down wall-clock time: UTC, or local time (TZ)
 * with mktime choosing summer or winter time (a time in the hour skipped
 * in spring moves forward, as mktime normalises it).
 */
static int
wall(struct tm *tm, int utc, int64_t *out)
{
	time_t tt;

	tm->tm_isdst = -1;
	/* -1 is also the valid 1969-12-31T23:59:59Z: errno tells them apart. */
	errno = 0;
	tt = utc ? timegm(tm) : mktime(tm);
	if (tt == (time_t)-1 && errno != 0)
		return (-1);
	/* Nanoseconds since 1970 fit an int64 from 1677 to 2262 only. */
	if (__builtin_mul_overflow((int64_t)tt, NS, out))
		return (-1);
	return (0);
}

/* *out = t + frac - off seconds; -1 where that leaves int64. */
static int
shift(int64_t t, int64_t frac, int64_t off, int64_t *out)
{
	int64_t o;

	if (__builtin_mul_overflow(off, NS, &o) ||
	    __builtin_add_overflow(t, frac, &t) ||
	    __builtin_sub_overflow(t, o, out))
		return (-1);
	return (0);
}

/* "HH:MM" or "HH:MM:SS" with an optional fraction, into tm and *frac. */
static int
clock_(const char **s, struct tm *tm, int64_t *frac)
{
	int h, mi, sec = 0;
	int64_t scale = NS / 10;

	*frac = 0;
	/* "9:05" as well as "09:05": typed from memory. */
	if (digits(s, (*s)[0] != '\0' && (*s)[1] == ':' ? 1 : 2, &h) ||
	    *(*s)++ != ':' || digits(s, 2, &mi))
		return (-1);
	if (**s == ':') {
		(*s)++;
		if (digits(s, 2, &sec))
			return (-1);
		if (**s == '.' || **s == ',') {
			(*s)++;
			if (!isdigit((unsigned char)**s))
				return (-1);
			for (; isdigit((unsigned char)**s); (*s)++) {
				*frac += (**s - '0') * scale;
				scale /= 10;
			}
		}
	}
	if (h > 23 || mi > 59 || sec > 60)
		return (-1);
	tm->tm_hour = h;
	tm->tm_min = mi;
	tm->tm_sec = sec;
	return (0);
}

/*
 * A zone at *s: "Z", "+HH:MM", "-HHMM", " UTC" or nothing.  *zoned says
 * whether there was one, *off its offset east of UTC in seconds.
 */
static int
zone(const char **s, int *zoned, int64_t *off)
{
	int oh, om, sign;

	*zoned = 1;
	*off = 0;
	if (**s == 'Z' || **s == 'z') {
		(*s)++;
	} else if (strcmp(*s, " UTC") == 0 || strcmp(*s, " Z") == 0) {
		*s += strlen(*s);
	} else if (**s == '+' || **s == '-') {
		sign = *(*s)++ == '+' ? 1 : -1;
		if (digits(s, 2, &oh))
			return (-1);
		if (**s == ':')
			(*s)++;
		if (digits(s, 2, &om) || oh > 23 || om > 59)
			return (-1);
		*off = sign * ((int64_t)oh * 3600 + om * 60);
	} else {
		*zoned = 0;
	}
	return (0);
}

/*
 * RFC 3339 and its common relaxations: a space for T, no seconds, a date
 * alone (its midnight); without a zone, wall-clock time (local unless
 * utc).
 */
static int
absolute(const char *s, int utc, int64_t *out)
{
	struct tm tm;
	int y, mo, d, zoned;
	int64_t frac = 0, off, t;

	memset(&tm, 0, sizeof(tm));
	if (digits(&s, 4, &y) || *s++ != '-' || digits(&s, 2, &mo) ||
	    *s++ != '-' || digits(&s, 2, &d))
		return (-1);
	if ((*s == 'T' || *s == 't' || *s == ' ') &&
	    isdigit((unsigned char)s[1])) {
		s++;
		if (clock_(&s, &tm, &frac) != 0)
			return (-1);
	}
	if (mo < 1 || mo > 12 || d < 1 || d > 31)
		return (-1);
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	if (zone(&s, &zoned, &off) != 0 || *s != '\0')
		return (-1);
	if (wall(&tm, utc || zoned, &t) != 0)
		return (-1);
	return (shift(t, frac, off, out));
}

/*
 * "today", "yesterday", "tomorrow", each optionally followed by a clock
 * time, or a clock time alone (today): wall-clock days and times.
 */
static int
day_clock(const char *s, int64_t now_ns, int utc, int64_t *out)
{
	static const struct {
		const char *name;
		int days;
	} words[] = { { "today", 0 }, { "yesterday", -1 }, { "tomorrow", 1 } };
	struct tm tm, clk;
	time_t now = (time_t)(now_ns / NS - (now_ns % NS < 0));
	int64_t frac = 0;
	size_t i, len;
	int days = 0, zoned;
	int64_t off, t;

	memset(&clk, 0, sizeof(clk));
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		len = strlen(words[i].name);
		if (strncmp(s, words[i].name, len) == 0 &&
		    (s[len] == '\0' || s[len] == ' ')) {
			days = words[i].days;
			s += len;
			if (*s == ' ')
				s++;
			break;
		}
	}
	if (i == sizeof(words) / sizeof(words[0]) || *s != '\0') {
		if (clock_(&s, &clk, &frac) != 0)
			return (-1);
	}
	if (zone(&s, &zoned, &off) != 0 || *s != '\0')
		return (-1);
	utc = utc || zoned;
	if ((utc ? gmtime_r(&now, &tm) : localtime_r(&now, &tm)) == NULL)
		return (-1);
	tm.tm_mday += days;
	tm.tm_hour = clk.tm_hour;
	tm.tm_min = clk.tm_min;
	tm.tm_sec = clk.tm_sec;
	if (wall(&tm, utc, &t) != 0)
		return (-1);
	return (shift(t, frac, off, out));
}

int
query_time_parse(const char *s, int64_t now_ns, int utc, int64_t *out)
{
	int64_t d;
	const char *ago;
	char *end, buf[64];
	double secs;
	size_t len;

	if (strcmp(s, "now") == 0) {
		*out = now_ns;
	} else if (s[0] == '@') {
		secs = strtod(s + 1, &end);
		if (end == s + 1 || *end != '\0' || secs < -9.2e9 ||
		    secs > 9.2e9)
			return (-1);
		*out = (int64_t)(secs * 1e9);
	} else if (absolute(s, utc, out) == 0 ||
	    day_clock(s, now_ns, utc, out) == 0) {
		return (0);
	} else if (s[0] == '+' || s[0] == '-') {
		if (duration(s + 1, &d) != 0)
			return (-1);
		if (s[0] == '+' ? __builtin_add_overflow(now_ns, d, out) :
		    __builtin_sub_overflow(now_ns, d, out))
			return (-1);
	} else {
		/* "2h", "2h ago": without a sign, a time in the past. */
		len = strlen(s);
		if (len >= sizeof(buf))
			return (-1);
		memcpy(buf, s, len + 1);
		if (len > 4 && (ago = strstr(buf, " ago")) != NULL &&
		    ago[4] == '\0')
			buf[ago - buf] = '\0';
		if (duration(buf, &d) != 0 ||
		    __builtin_sub_overflow(now_ns, d, out))
			return (-1);
	}
	return (0);
}

/* Splits t into seconds (floor) and nanoseconds 0..NS-1. */
static time_t
split_ns(int64_t t, int64_t *ns)
{
	time_t secs = (time_t)(t / NS);

	*ns = t % NS;
	if (*ns < 0) {
		*ns += NS;
		secs--;
	}
	return (secs);
}

void
query_time_show(int64_t t, enum query_tstyle style, int utc, char *out,
    size_t len)
{
	struct tm tm, gm;
	time_t secs;
	int64_t ns, off;
	char base[64];

	secs = split_ns(t, &ns);
	if ((utc ? gmtime_r(&secs, &tm) : localtime_r(&secs, &tm)) == NULL ||
	    gmtime_r(&secs, &gm) == NULL) {
		snprintf(out, len, "@%lld", (long long)t);
		return;
	}
	if (style == QUERY_TS_ISO)
		strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	else if (style == QUERY_TS_VERBOSE)
		strftime(base, sizeof(base), "%a %Y-%m-%d %H:%M:%S", &tm);
	else
		strftime(base, sizeof(base), "%b %d %H:%M:%S", &tm);
	switch (style) {
	case QUERY_TS_ISO:
		/* The offset of this instant, whatever the zone's rules. */
		off = ((int64_t)timegm(&tm) - (int64_t)timegm(&gm)) / 60;
		snprintf(out, len, "%s%c%02lld:%02lld", base,
		    off < 0 ? '-' : '+', (long long)(off < 0 ? -off : off) / 60,
		    (long long)(off < 0 ? -off : off) % 60);
		break;
	case QUERY_TS_PRECISE:
		snprintf(out, len, "%s.%06lld", base, (long long)(ns / 1000));
		break;
	case QUERY_TS_VERBOSE:
		snprintf(out, len, "%s.%06lld %s", base, (long long)(ns / 1000),
		    utc ? "UTC" : tm.tm_zone);
		break;
	case QUERY_TS_SHORT:
	default:
		snprintf(out, len, "%s", base);
		break;
	}
}

void
query_time_format(int64_t t, int ndigits, char *out, size_t len)
{
	struct tm tm;
	time_t secs;
	int64_t ns, div = 1;
	char base[32], frac[16];
	int i;

	secs = (time_t)(t / NS);
	ns = t % NS;
	if (ns < 0) {
		ns += NS;
		secs--;
	}
	if (gmtime_r(&secs, &tm) == NULL) {
		snprintf(out, len, "@%lld", (long long)t);
		return;
	}
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	if (ndigits <= 0) {
		snprintf(out, len, "%sZ", base);
		return;
	}
	if (ndigits > 9)
		ndigits = 9;
	for (i = ndigits; i < 9; i++)
		div *= 10;
	snprintf(frac, sizeof(frac), "%09lld", (long long)(ns / div));
	/* ns / div has at most ndigits digits; keep the last ndigits. */
	snprintf(out, len, "%s.%sZ", base, frac + 9 - ndigits);
}

int64_t
query_time_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
}
