/*
 * The load generator's messages and its manifest.
 *
 * A message is RFC 5424 text that looks like what servers forward (several
 * hosts and applications, structured data in some, a BOM in a few) and ends
 * with a tag naming its run, connection and sequence number:
 *
 *   <PRI>1 TIMESTAMP HOST APP PROCID MSGID SD [BOM]TEXT req=R gen=G conn=C seq=S
 *
 * Every byte is a pure function of (gen, size, base time, connection,
 * sequence number), so a checker can render again what was sent and compare
 * it byte for byte with what a collector stored.  Rendering is cheap because
 * the variable fields have a fixed width: a message is a copy of one of
 * MSGGEN_VARIANTS pre-rendered templates with the timestamp, request id,
 * connection and sequence digits written over it.  The request id (12 hex
 * digits hashed from connection and sequence number) is there because real
 * messages carry ids, addresses and ports that do not repeat: without it
 * the messages would compress far better than real traffic does.
 *
 * Shared, header-only, by bench/custody-loadgen.c (which sends) and
 * tests/tools/check_store.c (which checks); MSGGEN_VERSION changes whenever
 * the bytes rendered for the same inputs change.
 *
 * The manifest is a text file the generator writes after a run:
 *
 *   custody-loadgen-manifest 1
 *   gen G
 *   size S
 *   base B                        (base time, seconds since 1970, UTC)
 *   transport tcp|tls|udp|unix|relp
 *   framing octet|lf|dgram|relp
 *   conn C FIRST SENT ATTEMPTED   (one line per connection)
 *
 * SENT messages from FIRST on were accepted whole by the kernel; ATTEMPTED
 * >= SENT also counts those of a write that failed, which may or may not
 * have reached the receiver.  For RELP, SENT counts the messages the
 * receiver acknowledged, ATTEMPTED those written.
 */
#ifndef CUSTODY_BENCH_MSGGEN_H
#define CUSTODY_BENCH_MSGGEN_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MSGGEN_VERSION 1
#define MSGGEN_VARIANTS 64
#define MSGGEN_GEN_MAX 16         /* characters of a run id, [0-9A-Za-z] */
#define MSGGEN_CONN_WIDTH 4
#define MSGGEN_CONN_MAX 9999
#define MSGGEN_SEQ_WIDTH 10
#define MSGGEN_REQ_WIDTH 12
#define MSGGEN_SEQ_MAX 9999999999ULL
#define MSGGEN_TS_LEN 27          /* 2025-06-01T12:00:00.000000Z */
#define MSGGEN_STEP_US 10         /* timestamp advance per sequence number */
#define MSGGEN_SIZE_MAX 65000     /* fits one UDP datagram */

struct msggen_var {
	size_t len;
	size_t ts_off;
	size_t conn_off;
	size_t seq_off;
	size_t req_off;
};

struct msggen {
	char gen[MSGGEN_GEN_MAX + 1];
	size_t size;
	int64_t base_s;
	size_t maxlen;           /* longest template: room render needs */
	uint8_t *tmpl;           /* MSGGEN_VARIANTS slots of maxlen bytes */
	struct msggen_var var[MSGGEN_VARIANTS];
	int64_t cache_s;         /* the second whose text is in cache_txt */
	char cache_txt[20];
};

/* splitmix64: a fixed, portable stream, so templates never depend on libc. */
static inline uint64_t
msggen_rand(uint64_t *state)
{
	uint64_t z;

	z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (z ^ (z >> 31));
}

static const char *const msggen_hosts[] = {
	"web-01.example.org", "web-02.example.org", "db-01.example.org",
	"ldap-1.corp.example.net", "fw-edge-2", "mail.example.com",
	"build-7.ci.example.org", "192.0.2.41",
};

/* An application, the facility it logs to, and what it says. */
struct msggen_app {
	const char *name;
	int facility;
	int severity;
	const char *text;
};

static const struct msggen_app msggen_apps[] = {
	{ "sshd", 10, 6, "Accepted publickey for alice from 198.51.100.23 port "
	    "52144 ssh2: ED25519 SHA256:Wb3Zk1q9VZJxq0m6yJ0n3gqGmHq2Ykz0X1Hc" },
	{ "sshd", 10, 5, "Failed password for invalid user admin from "
	    "203.0.113.9 port 40022 ssh2" },
	{ "sudo", 10, 5, "bob : TTY=pts/1 ; PWD=/home/bob ; USER=root ; "
	    "COMMAND=/usr/bin/systemctl restart nginx" },
	{ "auditd", 13, 6, "type=USER_AUTH msg=audit(1717243200.123:4821): "
	    "pid=1734 uid=0 auid=1000 ses=3 msg='op=PAM:authentication "
	    "grantors=pam_unix acct=\"bob\" exe=\"/usr/bin/sudo\" res=success'" },
	{ "nginx", 23, 6, "192.0.2.44 - - \"GET /api/v1/orders?id=1832 "
	    "HTTP/1.1\" 200 1532 \"-\" \"curl/7.88.1\"" },
	{ "postgres", 16, 6, "connection authorized: user=app database=billing "
	    "application_name=psql" },
	{ "systemd-logind", 4, 6, "New session 42 of user alice." },
	{ "kernel", 0, 4, "audit: type=1400 apparmor=\"DENIED\" "
	    "operation=\"open\" profile=\"/usr/sbin/named\" "
	    "name=\"/etc/ssl/private/\" pid=911 comm=\"named\"" },
	{ "CRON", 9, 6, "pam_unix(cron:session): session opened for user "
	    "root(uid=0) by (uid=0)" },
	{ "slapd", 16, 3, "conn=1043 op=2 RESULT tag=97 err=49 text=invalid "
	    "credentials" },
};

static const char *const msggen_msgids[] = {
	"-", "-", "-", "ID47", "AUTH", "LOGIN", "AUDIT", "-",
};

/* Half plain, the rest the shapes RFC 5424 allows, escapes included. */
static const char *const msggen_sds[] = {
	"-", "-", "-", "-", "-", "-",
	"[origin ip=\"192.0.2.7\" software=\"custody-loadgen\" swVersion=\"1\"]",
	("[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" "
	    "eventID=\"1011\"][examplePriority@32473 class=\"high\"]"),
	"[meta sequenceId=\"17\" sysUpTime=\"37\" language=\"EN\"]",
	"[custody@32473 cmd=\"grep \\\"x\\\" \\]y\" user=\"bob\"]",
	"[timeQuality tzKnown=\"1\" isSynced=\"1\" syncAccuracy=\"60000\"]",
	"-",
};

static const char msggen_filler[] =
    "req_id=7f3c2a9e1b44 tenant=acme region=eu-north-1 "
    "trace=00f067aa0ba902b7 span=b7ad6b7169203331 bytes_in=5321 "
    "bytes_out=18211 latency_ms=12 cache=miss policy=default "
    "client=10.1.4.22 session=9a8b7c6d5e4f3a2b1c0d route=/v2/accounts ";

#define MSGGEN_NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Writes v as exactly width decimal digits (zero-padded) at p. */
static inline void
msggen_digits(uint8_t *p, size_t width, uint64_t v)
{

	while (width-- > 0) {
		p[width] = (uint8_t)('0' + v % 10);
		v /= 10;
	}
}

/* Writes the low 4*width bits of v as lowercase hex digits at p. */
static inline void
msggen_hex(uint8_t *p, size_t width, uint64_t v)
{

	while (width-- > 0) {
		p[width] = (uint8_t)"0123456789abcdef"[v & 15];
		v >>= 4;
	}
}

/* The variant of a message: neighbours differ, connections interleave. */
static inline unsigned
msggen_variant(unsigned conn, uint64_t seq)
{

	return ((unsigned)((seq + 13u * (uint64_t)conn) % MSGGEN_VARIANTS));
}

/*
 * Renders template v into out (NULL: only measure), with zeros for the
 * variable fields, and sets g->var[v].  Returns the template's length.
 */
static inline size_t
msggen_template(struct msggen *g, unsigned v, uint8_t *out)
{
	char head[512], tail[96];
	const struct msggen_app *app;
	const char *host, *msgid, *sd, *bom;
	uint64_t st;
	size_t hlen, tlen, blen, tx, fixed, extra, len, i;
	char procid[16];

	st = 0x637573746f6479ULL + v;
	app = &msggen_apps[msggen_rand(&st) % MSGGEN_NELEM(msggen_apps)];
	host = msggen_hosts[msggen_rand(&st) % MSGGEN_NELEM(msggen_hosts)];
	msgid = msggen_msgids[msggen_rand(&st) % MSGGEN_NELEM(msggen_msgids)];
	sd = msggen_sds[msggen_rand(&st) % MSGGEN_NELEM(msggen_sds)];
	if (app->facility == 0)
		snprintf(procid, sizeof(procid), "-");
	else
		snprintf(procid, sizeof(procid), "%u",
		    (unsigned)(100 + msggen_rand(&st) % 32000));
	bom = (v % 32 == 5) ? "\xef\xbb\xbf" : "";

	/* The timestamp is written over the zeros at render time. */
	hlen = (size_t)snprintf(head, sizeof(head),
	    "<%d>1 0000-00-00T00:00:00.000000Z %s %s %s %s %s %s",
	    app->facility * 8 + app->severity, host, app->name, procid,
	    msgid, sd, bom);
	tlen = (size_t)snprintf(tail, sizeof(tail),
	    " req=%0*u gen=%s conn=%0*u seq=%0*u", MSGGEN_REQ_WIDTH, 0u,
	    g->gen, MSGGEN_CONN_WIDTH, 0u, MSGGEN_SEQ_WIDTH, 0u);
	blen = strlen(app->text);

	/*
	 * Cut the text, or pad it with a space and filler, so that the
	 * message is size bytes.
	 */
	fixed = hlen + tlen;
	tx = blen;
	extra = 0;
	if (fixed + tx > g->size)
		tx = g->size > fixed ? g->size - fixed : 0;
	else
		extra = g->size - fixed - tx;
	len = fixed + tx + extra;

	g->var[v].len = len;
	g->var[v].ts_off = (size_t)(strchr(head, ' ') - head) + 1;
	g->var[v].conn_off = len - MSGGEN_SEQ_WIDTH - 5 - MSGGEN_CONN_WIDTH;
	g->var[v].seq_off = len - MSGGEN_SEQ_WIDTH;
	g->var[v].req_off = len - tlen + 5;
	if (out == NULL)
		return (len);

	memcpy(out, head, hlen);
	memcpy(out + hlen, app->text, tx);
	len = hlen + tx;
	if (extra > 0) {
		out[len++] = ' ';
		for (i = 0; i + 1 < extra; i++)
			out[len++] = (uint8_t)msggen_filler[i %
			    (sizeof(msggen_filler) - 1)];
	}
	memcpy(out + len, tail, tlen);
	return (len + tlen);
}

/* Frees what g holds; safe on a zeroed struct and after a failed init. */
static inline void
msggen_close(struct msggen *g)
{

	free(g->tmpl);
	g->tmpl = NULL;
}

/* Returns nonzero if s is a valid run id. */
static inline int
msggen_gen_valid(const char *s)
{
	size_t i, n;

	n = strlen(s);
	if (n == 0 || n > MSGGEN_GEN_MAX)
		return (0);
	for (i = 0; i < n; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
			return (0);
	}
	return (1);
}

/*
 * Prepares g (borrowed) for run gen (borrowed, copied) with messages of
 * size bytes (more when the fixed fields alone are longer) and timestamps
 * from base_s on.  Returns 0, or -1 on a bad argument or no memory.
 */
static inline int
msggen_init(struct msggen *g, const char *gen, size_t size, int64_t base_s)
{
	unsigned v;
	size_t n;

	memset(g, 0, sizeof(*g));
	if (!msggen_gen_valid(gen) || size == 0 || size > MSGGEN_SIZE_MAX)
		goto err0;
	memcpy(g->gen, gen, strlen(gen) + 1);
	g->size = size;
	g->base_s = base_s;
	g->cache_s = INT64_MIN;
	for (v = 0; v < MSGGEN_VARIANTS; v++) {
		n = msggen_template(g, v, NULL);
		if (n > g->maxlen)
			g->maxlen = n;
	}
	if ((g->tmpl = malloc(g->maxlen * MSGGEN_VARIANTS)) == NULL)
		goto err0;
	for (v = 0; v < MSGGEN_VARIANTS; v++)
		msggen_template(g, v, g->tmpl + (size_t)v * g->maxlen);
	return (0);

err0:
	msggen_close(g);
	return (-1);
}

/*
 * Renders message (conn, seq) into out (borrowed, room for g->maxlen
 * bytes) and returns its length.  conn <= MSGGEN_CONN_MAX, seq <=
 * MSGGEN_SEQ_MAX.
 */
static inline size_t
msggen_render(struct msggen *g, unsigned conn, uint64_t seq, uint8_t *out)
{
	const struct msggen_var *var;
	unsigned v;
	uint64_t us, req;
	int64_t s;
	time_t t;
	struct tm tm;

	v = msggen_variant(conn, seq);
	var = &g->var[v];
	memcpy(out, g->tmpl + (size_t)v * g->maxlen, var->len);

	us = seq * MSGGEN_STEP_US;
	s = g->base_s + (int64_t)(us / 1000000);
	if (s != g->cache_s) {
		t = (time_t)s;
		gmtime_r(&t, &tm);
		strftime(g->cache_txt, sizeof(g->cache_txt),
		    "%Y-%m-%dT%H:%M:%S", &tm);
		g->cache_s = s;
	}
	memcpy(out + var->ts_off, g->cache_txt, 19);
	msggen_digits(out + var->ts_off + 20, 6, us % 1000000);
	req = ((uint64_t)conn << 40) ^ seq;
	msggen_hex(out + var->req_off, MSGGEN_REQ_WIDTH, msggen_rand(&req));
	msggen_digits(out + var->conn_off, MSGGEN_CONN_WIDTH, conn);
	msggen_digits(out + var->seq_off, MSGGEN_SEQ_WIDTH, seq);
	return (var->len);
}

/* Parses n decimal digits at p into *out.  Returns 0 or -1. */
static inline int
msggen_parse_digits(const uint8_t *p, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return (-1);
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	*out = v;
	return (0);
}

/*
 * Finds the tag at the end of raw[0..len): sets *gen (borrowing from raw)
 * and *genlen, *conn and *seq.  Returns 0, or -1 when raw does not end in
 * a well-formed tag.
 */
static inline int
msggen_parse_tag(const uint8_t *raw, size_t len, const uint8_t **gen,
    size_t *genlen, unsigned *conn, uint64_t *seq)
{
	const size_t seqtag = 5 + MSGGEN_SEQ_WIDTH;   /* " seq=" + digits */
	const size_t conntag = 6 + MSGGEN_CONN_WIDTH; /* " conn=" + digits */
	const uint8_t *p, *g;
	uint64_t c;
	size_t i;

	if (len < seqtag + conntag + 6)
		goto err0;
	p = raw + len - seqtag;
	if (memcmp(p, " seq=", 5) != 0 ||
	    msggen_parse_digits(p + 5, MSGGEN_SEQ_WIDTH, seq) != 0)
		goto err0;
	p -= conntag;
	if (memcmp(p, " conn=", 6) != 0 ||
	    msggen_parse_digits(p + 6, MSGGEN_CONN_WIDTH, &c) != 0)
		goto err0;
	/* The run id runs back from " conn=" to " gen=". */
	for (i = 1; i <= MSGGEN_GEN_MAX && p - i >= raw + 5; i++) {
		g = p - i;
		if (memcmp(g - 5, " gen=", 5) == 0) {
			*gen = g;
			*genlen = i;
			*conn = (unsigned)c;
			return (0);
		}
	}

err0:
	return (-1);
}

/* One connection's line of a manifest. */
struct msggen_conn {
	unsigned conn;
	uint64_t first;
	uint64_t sent;
	uint64_t attempted;
};

struct msggen_manifest {
	char gen[MSGGEN_GEN_MAX + 1];
	size_t size;
	int64_t base_s;
	char transport[8];
	char framing[8];
	struct msggen_conn *conns; /* nconns entries, owned */
	size_t nconns;
};

/* Frees what m holds; safe on a zeroed struct. */
static inline void
msggen_manifest_close(struct msggen_manifest *m)
{

	free(m->conns);
	m->conns = NULL;
	m->nconns = 0;
}

/* Writes m to path.  Returns 0 or -1 (errno set). */
static inline int
msggen_manifest_write(const struct msggen_manifest *m, const char *path)
{
	FILE *f;
	size_t i;

	if ((f = fopen(path, "w")) == NULL)
		goto err0;
	fprintf(f, "custody-loadgen-manifest %d\n", MSGGEN_VERSION);
	fprintf(f, "gen %s\nsize %zu\nbase %lld\ntransport %s\nframing %s\n",
	    m->gen, m->size, (long long)m->base_s, m->transport, m->framing);
	for (i = 0; i < m->nconns; i++)
		fprintf(f, "conn %u %llu %llu %llu\n", m->conns[i].conn,
		    (unsigned long long)m->conns[i].first,
		    (unsigned long long)m->conns[i].sent,
		    (unsigned long long)m->conns[i].attempted);
	if (ferror(f)) {
		fclose(f);
		goto err0;
	}
	if (fclose(f) != 0)
		goto err0;
	return (0);

err0:
	return (-1);
}

/*
 * Reads the manifest at path into m (zeroed first; release with
 * msggen_manifest_close).  Returns 0, or -1 when the file cannot be read
 * or is not a manifest of this version.
 */
static inline int
msggen_manifest_read(const char *path, struct msggen_manifest *m)
{
	char line[256], word[32];
	FILE *f;
	void *p;
	unsigned c;
	unsigned long long a, b, d;
	long long base;
	int version, have = 0;

	memset(m, 0, sizeof(*m));
	if ((f = fopen(path, "r")) == NULL)
		goto err0;
	if (fgets(line, sizeof(line), f) == NULL ||
	    sscanf(line, "custody-loadgen-manifest %d", &version) != 1 ||
	    version != MSGGEN_VERSION)
		goto err1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "gen %16s", word) == 1 &&
		    msggen_gen_valid(word)) {
			memcpy(m->gen, word, strlen(word) + 1);
			have |= 1;
		} else if (sscanf(line, "size %llu", &a) == 1 && a > 0 &&
		    a <= MSGGEN_SIZE_MAX) {
			m->size = (size_t)a;
			have |= 2;
		} else if (sscanf(line, "base %lld", &base) == 1) {
			m->base_s = base;
			have |= 4;
		} else if (sscanf(line, "transport %7s", m->transport) == 1) {
			have |= 8;
		} else if (sscanf(line, "framing %7s", m->framing) == 1) {
			have |= 16;
		} else if (sscanf(line, "conn %u %llu %llu %llu", &c, &a, &b,
		    &d) == 4 && c <= MSGGEN_CONN_MAX && b <= d &&
		    a <= MSGGEN_SEQ_MAX && d <= MSGGEN_SEQ_MAX - a) {
			p = realloc(m->conns, (m->nconns + 1) *
			    sizeof(*m->conns));
			if (p == NULL)
				goto err1;
			m->conns = p;
			m->conns[m->nconns].conn = c;
			m->conns[m->nconns].first = a;
			m->conns[m->nconns].sent = b;
			m->conns[m->nconns].attempted = d;
			m->nconns++;
		} else {
			goto err1;
		}
	}
	if (ferror(f) || have != 31)
		goto err1;
	fclose(f);
	return (0);

err1:
	fclose(f);
	msggen_manifest_close(m);
err0:
	return (-1);
}

#endif /* CUSTODY_BENCH_MSGGEN_H */
