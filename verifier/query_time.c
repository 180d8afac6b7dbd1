/*
 * Times as custody-query takes and prints them.  The store keeps UTC, so
 * a time written without a zone is UTC, not local time: the same command
 * gives the same answer on any machine an investigator uses.
 */
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

/* RFC 3339 and its common relaxations; no zone means UTC. */
static int
absolute(const char *s, int64_t *out)
{
	struct tm tm;
	int y, mo, d, h = 0, mi = 0, sec = 0, oh, om, sign;
	int64_t frac = 0, scale = NS / 10, t;
	time_t tt;

	if (digits(&s, 4, &y) || *s++ != '-' || digits(&s, 2, &mo) ||
	    *s++ != '-' || digits(&s, 2, &d))
		return (-1);
	if (*s == 'T' || *s == 't' || *s == ' ') {
		s++;
		if (digits(&s, 2, &h) || *s++ != ':' || digits(&s, 2, &mi))
			return (-1);
		if (*s == ':') {
			s++;
			if (digits(&s, 2, &sec))
				return (-1);
			if (*s == '.' || *s == ',') {
				s++;
				if (!isdigit((unsigned char)*s))
					return (-1);
				for (; isdigit((unsigned char)*s); s++) {
					frac += (*s - '0') * scale;
					scale /= 10;
				}
			}
		}
	}
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    sec > 60)
		return (-1);
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	if ((tt = timegm(&tm)) == (time_t)-1)
		return (-1);
	t = (int64_t)tt * NS + frac;
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		sign = *s++ == '+' ? 1 : -1;
		if (digits(&s, 2, &oh))
			return (-1);
		if (*s == ':')
			s++;
		if (digits(&s, 2, &om) || oh > 23 || om > 59)
			return (-1);
		t -= sign * ((int64_t)oh * 3600 + om * 60) * NS;
	}
	if (*s != '\0')
		return (-1);
	*out = t;
	return (0);
}

int
query_time_parse(const char *s, int64_t now_ns, int64_t *out)
{
	int64_t d, midnight;
	const char *ago;
	char *end, buf[64];
	double secs;
	size_t len;

	midnight = now_ns - ((now_ns % DAY_NS) + DAY_NS) % DAY_NS;
	if (strcmp(s, "now") == 0) {
		*out = now_ns;
	} else if (strcmp(s, "today") == 0) {
		*out = midnight;
	} else if (strcmp(s, "yesterday") == 0) {
		*out = midnight - DAY_NS;
	} else if (strcmp(s, "tomorrow") == 0) {
		*out = midnight + DAY_NS;
	} else if (s[0] == '@') {
		secs = strtod(s + 1, &end);
		if (end == s + 1 || *end != '\0' || secs < -9.2e9 ||
		    secs > 9.2e9)
			return (-1);
		*out = (int64_t)(secs * 1e9);
	} else if (absolute(s, out) == 0) {
		return (0);
	} else if (s[0] == '+' || s[0] == '-') {
		if (duration(s + 1, &d) != 0)
			return (-1);
		*out = s[0] == '+' ? now_ns + d : now_ns - d;
	} else {
		/* "2h", "2h ago": without a sign, a time in the past. */
		len = strlen(s);
		if (len >= sizeof(buf))
			return (-1);
		memcpy(buf, s, len + 1);
		if (len > 4 && (ago = strstr(buf, " ago")) != NULL &&
		    ago[4] == '\0')
			buf[ago - buf] = '\0';
		if (duration(buf, &d) != 0)
			return (-1);
		*out = now_ns - d;
	}
	return (0);
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
