/*
 * Parse and deframe speed: ns per message and messages/s for 200-byte
 * RFC 5424 and RFC 3164 messages, and MB/s for deframing a 64 KiB read of
 * LF-framed and octet-counted 200-byte messages.
 *
 * Sixteen different messages are cycled through so that the branch
 * predictor does not learn one message by heart, as it would in a loop
 * over a single string and as it cannot at real ingest.  The work is
 * single-threaded and CPU-bound, so it is timed in process CPU time, and
 * each figure is the best of REPEAT runs: the development machine is
 * shared, and time spent descheduled is not the parser's.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "custody/error.h"
#include "custody/syslog.h"
#include "framing.h"

#define NMSG 16
#define MSGLEN 200
#define CHUNK (64 * 1024)
#define REPEAT 5

struct corpus {
	uint8_t msg[NMSG][MSGLEN];
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec * 1e-9);
}

/* Pads the message text t with printable filler to exactly MSGLEN bytes. */
static void
fill(uint8_t *m, const char *t)
{
	size_t n = strlen(t), i;

	memcpy(m, t, n);
	for (i = n; i < MSGLEN; i++)
		m[i] = (uint8_t)('a' + (i * 7) % 26);
}

static void
make_5424(struct corpus *c)
{
	char t[MSGLEN];
	int i;

	for (i = 0; i < NMSG; i++) {
		snprintf(t, sizeof(t), "<%d>1 2024-10-%02dT%02d:14:15.%06dZ "
		    "web%02d.example.org sshd %d - [origin ip=\"10.0.0.%d\"]"
		    "[meta sequenceId=\"%d\"] Accepted publickey for user%d ",
		    80 + i, 1 + i, i, 3000 + i * 77, i, 1000 + i * 13, i, i, i);
		fill(c->msg[i], t);
	}
}

static void
make_3164(struct corpus *c)
{
	char t[MSGLEN];
	int i;

	for (i = 0; i < NMSG; i++) {
		snprintf(t, sizeof(t), "<%d>Oct %2d %02d:14:15 web%02d "
		    "sshd[%d]: Accepted publickey for user%d from 10.0.0.%d ",
		    80 + i, 1 + i, i, i, 1000 + i * 13, i, i);
		fill(c->msg[i], t);
	}
}

/*
 * Returns ns per message for iters parses over the corpus; *sum is a
 * checksum of the results, printed so that no parse can be optimised out.
 */
static double
bench_parse(const struct corpus *c, long iters, uint64_t *sum)
{
	cst_syslog out;
	uint64_t sink = 0;
	double t0, t1;
	long i;

	t0 = now();
	for (i = 0; i < iters; i++) {
		if (cst_syslog_parse(c->msg[i % NMSG], MSGLEN,
		    INT64_C(1728684000000000000), &out) != 0) {
			fprintf(stderr, "bench_parse: message did not parse\n");
			exit(1);
		}
		sink += out.msg.off + (uint64_t)out.ts_ns;
	}
	t1 = now();
	*sum = sink & 0xffff;
	return ((t1 - t0) * 1e9 / (double)iters);
}

struct counts {
	uint64_t msgs;
	uint64_t bytes;
};

static int
count_cb(void *ctx, const uint8_t *msg, size_t len, unsigned flags)
{
	struct counts *n = ctx;

	(void)flags;
	n->msgs++;
	n->bytes += len + msg[0];
	return (0);
}

/*
 * Fills chunk (CHUNK bytes) with as many whole framed messages as fit and
 * returns the length used.
 */
static size_t
make_stream(uint8_t *chunk, const struct corpus *c, int octet)
{
	size_t n = 0;
	int i, h;

	for (i = 0; n + MSGLEN + 5 <= CHUNK; i++) {
		if (octet) {
			h = sprintf((char *)chunk + n, "%d ", MSGLEN);
			n += (size_t)h;
		}
		memcpy(chunk + n, c->msg[i % NMSG], MSGLEN);
		n += MSGLEN;
		if (!octet)
			chunk[n++] = '\n';
	}
	return (n);
}

/*
 * Deframes chunk[0..len) iters times, as iters reads of one stream; returns
 * the seconds taken and the messages delivered in *n.
 */
static double
bench_deframe(const uint8_t *chunk, size_t len, long iters,
    struct counts *n)
{
	cst_deframer df;
	double t0, t1;
	long i;

	n->msgs = n->bytes = 0;
	if (cst_deframer_init(&df, 8192, count_cb, n) != 0)
		exit(1);
	t0 = now();
	for (i = 0; i < iters; i++)
		if (cst_deframer_feed(&df, chunk, len) != 0) {
			fprintf(stderr, "bench_parse: deframing failed\n");
			exit(1);
		}
	t1 = now();
	cst_deframer_close(&df);
	return (t1 - t0);
}

int
main(int argc, char **argv)
{
	static struct corpus c;
	static uint8_t chunk[CHUNK];
	long iters = argc > 1 ? atol(argv[1]) : 2000000, reads;
	struct counts n;
	uint64_t sum;
	double ns, s, best;
	size_t len;
	int octet, r;

	if (iters <= 0) {
		fprintf(stderr, "usage: bench_parse [messages]\n");
		exit(2);
	}
	for (octet = 0; octet <= 1; octet++) {
		if (octet)
			make_3164(&c);
		else
			make_5424(&c);
		best = 1e30;
		for (r = 0; r < REPEAT; r++)
			if ((ns = bench_parse(&c, iters, &sum)) < best)
				best = ns;
		printf("parse RFC %s, %d B: %.1f ns/message, %.2f M messages/s "
		    "(sum %llu)\n", octet ? "3164" : "5424", MSGLEN, best,
		    1e3 / best, (unsigned long long)sum);
	}

	make_5424(&c);
	for (octet = 0; octet <= 1; octet++) {
		len = make_stream(chunk, &c, octet);
		reads = iters / 300 + 1;
		s = 1e30;
		for (r = 0; r < REPEAT; r++)
			if ((ns = bench_deframe(chunk, len, reads, &n)) < s)
				s = ns;
		printf("deframe %s, %zu B reads, %d B messages: %.0f MB/s, "
		    "%.1f M messages/s (sum %llu)\n",
		    octet ? "octet-counted" : "LF-framed", len, MSGLEN,
		    (double)len * (double)reads / s / 1e6,
		    (double)n.msgs / s / 1e6,
		    (unsigned long long)(n.bytes & 0xffff));
	}
	return (0);
}
