/*
 * custody-query --histogram: matching records per interval as a bar
 * chart, in eighths of a block where the terminal speaks UTF-8.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "custody/block.h"

#include "query.h"
#include "query_cli.h"

static const char progname[] = QUERY_PROGNAME;

#define MAX_BUCKETS 100000

static int
term_width(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40)
		return (ws.ws_col);
	return (80);
}

static int
utf8_locale(void)
{
	const char *v;

	if ((v = getenv("LC_ALL")) == NULL || v[0] == '\0')
		if ((v = getenv("LC_CTYPE")) == NULL || v[0] == '\0')
			v = getenv("LANG");
	return (v != NULL && (strstr(v, "UTF-8") != NULL ||
	    strstr(v, "utf8") != NULL));
}

void
query_hist_print(const struct query_sink *k, int64_t step)
{
	static const char *eighths[] = { "", "\u258f", "\u258e", "\u258d",
	    "\u258c", "\u258b", "\u258a", "\u2589" };
	uint64_t max = 0, total = 0;
	int width, utf8 = utf8_locale(), digits = 0, fd;
	char t[48];
	size_t i;
	uint64_t units, full, c;

	for (i = 0; i < k->nbuckets; i++) {
		if (k->buckets[i] > max)
			max = k->buckets[i];
		total += k->buckets[i];
	}
	for (c = max; c > 0; c /= 10)
		digits++;
	if (digits == 0)
		digits = 1;
	fd = step % 1000000000 == 0 ? 0 : 3;
	query_time_format(k->h_lo, fd, t, sizeof(t));
	width = term_width() - (int)strlen(t) - digits - 4;
	if (width < 10)
		width = 10;
	for (i = 0; i < k->nbuckets; i++) {
		query_time_format(k->h_lo + (int64_t)i * step, fd, t,
		    sizeof(t));
		printf("%s %*llu ", t, digits,
		    (unsigned long long)k->buckets[i]);
		units = max == 0 ? 0 : (k->buckets[i] * (uint64_t)width * 8 +
		    max - 1) / max;
		if (!utf8)
			units = (units + 7) / 8 * 8;
		for (full = 0; full < units / 8; full++)
			fputs(utf8 ? "\u2588" : "#", stdout);
		if (utf8)
			fputs(eighths[units % 8], stdout);
		putchar('\n');
	}
	printf("%llu matching records in %zu intervals\n",
	    (unsigned long long)total, k->nbuckets);
}

int
query_hist_setup(struct query_opts *o, struct query_store *s, size_t *order,
    size_t n, struct query_sink *k)
{
	int64_t lo = o->f.since, hi = o->f.until, step = o->histogram;
	const cst_blk_hdr *h;
	size_t i;
	int64_t r;

	if (lo == INT64_MIN || hi == INT64_MAX) {
		/* Open-ended: the range of the blocks that may match. */
		int64_t blo = INT64_MAX, bhi = INT64_MIN;

		for (i = 0; i < n; i++) {
			h = &s->blocks[order[i]].f.hdr;
			if (h->min_time_ns < blo)
				blo = h->min_time_ns;
			if (h->max_time_ns > bhi)
				bhi = h->max_time_ns;
		}
		if (n == 0)
			blo = bhi = 0;
		if (lo == INT64_MIN)
			lo = blo;
		if (hi == INT64_MAX)
			hi = bhi < INT64_MAX ? bhi + 1 : bhi;
	}
	r = lo % step;
	if (r < 0)
		r += step;
	lo -= r;
	if (hi <= lo)
		hi = lo + 1;
	if ((uint64_t)(hi - lo) / (uint64_t)step >= MAX_BUCKETS) {
		fprintf(stderr, "%s: --histogram: more than %d intervals; "
		    "choose a longer interval or a shorter window\n",
		    progname, MAX_BUCKETS);
		return (-1);
	}
	k->h_lo = lo;
	k->nbuckets = (size_t)(((uint64_t)(hi - lo) + (uint64_t)step - 1) /
	    (uint64_t)step);
	if ((k->buckets = calloc(k->nbuckets, sizeof(*k->buckets))) == NULL)
		return (-1);
	return (0);
}
