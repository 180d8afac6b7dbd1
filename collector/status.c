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
