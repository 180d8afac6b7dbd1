/*
 * `custodyd status` (status.h).  The summary is derived from the same
 * counters --metrics-raw prints; nothing here asks the daemon anything
 * else.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "custody/error.h"

#include "status.h"

/* Where each summed metric goes. */
static const struct {
	const char *name;
	size_t off;
} names[] = {
	{ "custody_received_total", offsetof(struct status_counts, received) },
	{ "custody_events_durable_total",
	    offsetof(struct status_counts, durable) },
	{ "custody_udp_dropped_total",
	    offsetof(struct status_counts, udp_dropped) },
	{ "custody_kernel_dropped_total",
	    offsetof(struct status_counts, kernel_dropped) },
	{ "custody_connections_refused_total",
	    offsetof(struct status_counts, refused) },
	{ "custody_relp_refused_total",
	    offsetof(struct status_counts, refused) },
	{ "custody_tls_refused_total",
	    offsetof(struct status_counts, refused) },
	{ "custody_connections_idle_closed_total",
	    offsetof(struct status_counts, idle_closed) },
	{ "custody_paused", offsetof(struct status_counts, paused) },
	{ "custody_start_time_seconds",
	    offsetof(struct status_counts, start_s) },
	{ "custody_store_free_bytes",
	    offsetof(struct status_counts, free_bytes) },
	{ "custody_tsa_tokens_total",
	    offsetof(struct status_counts, tsa_tokens) },
	{ "custody_tsa_failures_total",
	    offsetof(struct status_counts, tsa_failures) },
	{ "custody_tsa_newest_token_age_seconds",
	    offsetof(struct status_counts, tsa_age_s) },
	{ "custody_witness_stale",
	    offsetof(struct status_counts, witness_stale) },
	{ "custody_replicate_backlog_blocks",
	    offsetof(struct status_counts, rep_blocks) },
	{ "custody_replicate_backlog_bytes",
	    offsetof(struct status_counts, rep_bytes) },
	{ "custody_replicate_published_total",
	    offsetof(struct status_counts, rep_published) },
	{ "custody_replicate_errors_total",
	    offsetof(struct status_counts, rep_errors) },
	{ "custody_replicate_last_ack_age_seconds",
	    offsetof(struct status_counts, rep_age) },
	{ "custody_replicate_connected",
	    offsetof(struct status_counts, rep_connected) },
};

/* The entry of witness name[0..len), added if new; NULL when full. */
static struct status_witness *
witness_of(struct status_counts *c, const char *name, size_t len)
{
	size_t i;

	if (len >= sizeof(c->witness[0].name))
		len = sizeof(c->witness[0].name) - 1;
	for (i = 0; i < c->nwitness; i++)
		if (strlen(c->witness[i].name) == len &&
		    memcmp(c->witness[i].name, name, len) == 0)
			return (&c->witness[i]);
	if (c->nwitness == sizeof(c->witness) / sizeof(c->witness[0]))
		return (NULL);
	memcpy(c->witness[c->nwitness].name, name, len);
	c->witness[c->nwitness].name[len] = '\0';
	c->witness[c->nwitness].age_s = -1;
	return (&c->witness[c->nwitness++]);
}

/* A custody_witness_*{witness="NAME"} line p[0..n) of value num. */
static void
witness_line(struct status_counts *c, const char *p, size_t n,
    const char *num)
{
	static const char lab[] = "{witness=\"";
	const char *l, *q;
	struct status_witness *w;
	size_t k;

	if ((l = memchr(p, '{', n)) == NULL ||
	    (size_t)(p + n - l) < sizeof(lab) ||
	    memcmp(l, lab, sizeof(lab) - 1) != 0 ||
	    (q = memchr(l + sizeof(lab) - 1, '"', (size_t)(p + n - l) -
	    (sizeof(lab) - 1))) == NULL)
		return;
	k = (size_t)(l - p);
	if ((w = witness_of(c, l + sizeof(lab) - 1,
	    (size_t)(q - l - (sizeof(lab) - 1)))) == NULL)
		return;
	if (k == 29 && memcmp(p, "custody_witness_cosigned_size", k) == 0)
		w->cosigned_size = strtoull(num, NULL, 10);
	else if (k == 36 && memcmp(p, "custody_witness_cosigned_age_seconds",
	    k) == 0)
		w->age_s = strtoll(num, NULL, 10);
	else if (k == 30 && memcmp(p, "custody_witness_failures_total", k) == 0)
		w->failures = strtoull(num, NULL, 10);
}

void
status_parse(const char *text, size_t len, struct status_counts *c)
{
	const char *p = text, *end = text + len, *nl, *sp;
	char num[32];
	uint64_t v, *dst;
	size_t i, n;

	memset(c, 0, sizeof(*c));
	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if (*p == '#' || (sp = memchr(p, ' ', (size_t)(nl - p))) == NULL)
			continue;
		/* "name value" or "name{labels} value": summed over labels. */
		n = (size_t)(sp - p);
		for (i = 0; i < n && p[i] != '{'; i++)
			;
		n = i;
		if ((size_t)(nl - sp - 1) >= sizeof(num))
			continue;
		memcpy(num, sp + 1, (size_t)(nl - sp - 1));
		num[nl - sp - 1] = '\0';
		if (n > 16 && memcmp(p, "custody_witness_", 16) == 0 &&
		    p[n] == '{') {
			witness_line(c, p, (size_t)(sp - p), num);
			continue;
		}
		if (num[0] < '0' || num[0] > '9')
			continue;
		v = strtoull(num, NULL, 10);
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strlen(names[i].name) == n &&
			    memcmp(names[i].name, p, n) == 0) {
				dst = (uint64_t *)(void *)((char *)c +
				    names[i].off);
				*dst += v;
				if (strcmp(names[i].name,
				    "custody_store_free_bytes") == 0)
					c->have_free = 1;
				if (strcmp(names[i].name,
				    "custody_tsa_tokens_total") == 0)
					c->have_tsa = 1;
				if (strcmp(names[i].name,
				    "custody_tsa_newest_token_age_seconds") == 0)
					c->have_tsa_age = 1;
				if (strncmp(names[i].name,
				    "custody_replicate_", 18) == 0)
					c->have_rep = 1;
			}
	}
}

static int
fetch(const char *url, struct status_counts *c, char *err)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	if ((f = open_memstream(&text, &len)) == NULL)
		return (CST_ENOMEM);
	rc = metrics_fetch(url, f, err);
	fclose(f);
	if (rc == 0)
		status_parse(text, len, c);
	free(text);
	return (rc);
}

static void
sleep_ms(uint64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000),
	    (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0)
		;
}

static double
mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

/* A byte count with a binary unit. */
static void
human(uint64_t v, char *out, size_t len)
{
	static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB",
	    "PiB" };
	double x = (double)v;
	size_t u = 0;

	while (x >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		x /= 1024;
		u++;
	}
	snprintf(out, len, u == 0 ? "%.0f %s" : "%.1f %s", x, units[u]);
}

int
status_summary(const char *url, uint64_t interval_ms, FILE *out,
    char err[METRICS_ERR_LEN])
{
	struct status_counts a, b;
	double t0, t1, rate;
	char when[32], freeb[32];
	time_t st;
	struct tm tm;
	int rc;

	t0 = mono_s();
	if ((rc = fetch(url, &a, err)) != 0)
		return (rc);
	sleep_ms(interval_ms);
	if ((rc = fetch(url, &b, err)) != 0)
		return (rc);
	t1 = mono_s();
	rate = t1 > t0 && b.received >= a.received ?
	    (double)(b.received - a.received) / (t1 - t0) : 0;
	st = (time_t)b.start_s;
	if (gmtime_r(&st, &tm) == NULL ||
	    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(when, sizeof(when), "?");
	fprintf(out, "custodyd at %s, started %s%s\n", url, when,
	    b.paused ? " (reading paused: the pipeline is full)" : "");
	fprintf(out, "  events/s     %.0f (received, over %.1f s)\n", rate,
	    t1 - t0);
	fprintf(out, "  received     %" PRIu64 " messages since start\n",
	    b.received);
	fprintf(out, "  durable lag  %" PRIu64 " (received - durable: "
	    "%" PRIu64 " sealed, signed and fsynced)\n",
	    b.received > b.durable ? b.received - b.durable : 0, b.durable);
	fprintf(out, "  drops        %" PRIu64 " (datagrams: %" PRIu64
	    " not recorded whole, %" PRIu64 " dropped by the kernel)\n",
	    b.udp_dropped + b.kernel_dropped, b.udp_dropped,
	    b.kernel_dropped);
	fprintf(out, "  refusals     %" PRIu64 " stream connections refused "
	    "(limits, descriptors, not RELP)\n", b.refused);
	fprintf(out, "  idle cuts    %" PRIu64 " stream connections closed "
	    "idle\n", b.idle_closed);
	if (b.have_free) {
		human(b.free_bytes, freeb, sizeof(freeb));
		fprintf(out, "  store free   %s\n", freeb);
	} else
		fprintf(out, "  store free   unknown\n");
	/* Only with [anchor] tsa_url: timestamps are optional. */
	if (b.have_tsa && b.have_tsa_age)
		fprintf(out, "  timestamps   %" PRIu64 " tokens, the newest "
		    "%" PRIu64 " s old; %" PRIu64 " requests failed\n",
		    b.tsa_tokens, b.tsa_age_s, b.tsa_failures);
	else if (b.have_tsa)
		fprintf(out, "  timestamps   none yet; %" PRIu64 " requests "
		    "failed\n", b.tsa_failures);
	for (size_t i = 0; i < b.nwitness; i++) {
		const struct status_witness *w = &b.witness[i];

		if (w->age_s < 0)
			fprintf(out, "  witness      %s: nothing cosigned since "
			    "start (size %" PRIu64 " before), %" PRIu64
			    " failures\n", w->name, w->cosigned_size,
			    w->failures);
		else
			fprintf(out, "  witness      %s: cosigned size %"
			    PRIu64 ", %" PRId64 " s ago, %" PRIu64
			    " failures\n", w->name, w->cosigned_size,
			    w->age_s, w->failures);
	}
	if (b.witness_stale)
		fprintf(out, "  WARNING      no witness has cosigned the "
		    "store's checkpoints for witness.stale_after\n");
	if (b.have_rep) {
		human(b.rep_bytes, freeb, sizeof(freeb));
		fprintf(out, "  replication  %s, backlog %" PRIu64 " blocks (%s)"
		    ", %" PRIu64 " published, %" PRIu64 " errors, last ack %"
		    PRIu64 " s ago\n", b.rep_connected ? "connected" :
		    "NOT connected", b.rep_blocks, freeb, b.rep_published,
		    b.rep_errors, b.rep_age);
	}
	fprintf(out, "every counter: custodyd status --metrics-raw %s\n", url);
	return (0);
}
