/*
 * custody-mkday: writes, with the format library alone, a store holding a
 * simulated day of syslog traffic, for the query tests and benchmark.
 *
 *   custody-mkday [-n EVENTS] [-b PER_BLOCK] [-B BLOCKS_PER_SEGMENT]
 *       [-s SIZE] [-H HOSTS] [-E BLOCKS_PER_EPOCH] [-S SEED] [-d DAY_START]
 *       [-u] [-T TRUTH] DIR
 *
 * EVENTS messages of about SIZE bytes, receive times spread evenly over
 * the 24 hours from DAY_START (seconds since 1970, UTC; default
 * 2024-06-01T00:00:00Z), from HOSTS hosts (log-uniform: a few busy, many
 * rare), a handful of apps, every
 * severity and several facilities, over UDP and TCP from IPv4 and IPv6
 * peers.  A few messages are RFC 3164, a few do not parse, a few carry
 * bytes that are not UTF-8, some carry structured data with escapes.  A
 * collector start record opens the chain and a stop record ends it.  The
 * key changes epoch every BLOCKS_PER_EPOCH blocks; segments are sealed,
 * the newest too unless -u.  checkpoints/latest.ckpt names the head.
 *
 * It prints one line: events, raw_bytes (the messages' bytes), blocks,
 * segments.  Everything is a function of the seed.  With -T, what was "sent" is
 * written to TRUTH, one line per record, tab separated, so that tests
 * compute expected answers without asking the query tool:
 *
 *   seq recv_ns kind host app severity facility peer sd_user raw_hex
 *
 * (host, app: "-" when the message has none; severity, facility: -1.)
 */
#include <sys/stat.h>

#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "custody/block.h"
#include "custody/checkpoint.h"
#include "custody/error.h"
#include "custody/hash.h"
#include "custody/keys.h"
#include "custody/record.h"
#include "custody/segment.h"
#include "custody/syslog.h"

#define NS 1000000000LL
#define MAXMSG 2048

static uint64_t rng;

/* splitmix64: small, fast, and the same everywhere. */
static uint64_t
rnd(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (z ^ (z >> 31));
}

static const char *apps[] = { "sshd", "sudo", "nginx", "postgres", "CRON",
    "kernel", "auditd", "systemd" };
static const int facs[] = { 4, 10, 3, 16, 9, 0, 13, 1 };
static const char *users[] = { "alice", "bob", "carol", "root" };
static const char *words[] = { "session", "opened", "closed", "for",
    "user", "connection", "from", "port", "accepted", "failed", "password",
    "request", "GET", "/api/v1/orders", "status", "200", "404", "timeout",
    "disk", "quota", "exceeded", "restart", "unit", "started" };

struct gen {
	unsigned hosts;
	size_t size;
};

struct truth {
	char host[64];
	char app[32];
	int sev;
	int fac;
	char peer[64];
	char user[16];
};

/* One message; returns its length. */
static size_t
render(const struct gen *g, uint64_t i, int64_t t, uint8_t *p,
    struct truth *tr, char *peer, size_t peerlen)
{
	char ts[40], host[64], sd[160];
	struct tm tm;
	time_t secs = (time_t)(t / NS);
	uint64_t r = rnd();
	/* Log-uniform hosts: a few busy ones, many rare, as on a real net. */
	unsigned h = (unsigned)pow((double)g->hosts,
	    (double)(rnd() >> 11) / 9007199254740992.0) - 1;
	unsigned a = (unsigned)((r >> 8) % 8);
	int sev = (int)((r >> 16) % 8), fac = facs[a], pri, n, style;
	const char *user = users[(r >> 24) % 4];
	size_t len;

	gmtime_r(&secs, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(host, sizeof(host), "host-%03u.example.org", h);
	if ((r >> 32) % 2 == 0)
		snprintf(peer, peerlen, "192.0.2.%u:%u", h % 250 + 1,
		    (unsigned)(40000 + h));
	else
		snprintf(peer, peerlen, "[2001:db8::%x]:514", h + 1);
	style = (int)((r >> 40) % 100);
	pri = fac * 8 + sev;
	memset(tr, 0, sizeof(*tr));
	snprintf(tr->peer, sizeof(tr->peer), "%s", peer);
	tr->sev = sev;
	tr->fac = fac;
	snprintf(tr->host, sizeof(tr->host), "%s", host);
	snprintf(tr->app, sizeof(tr->app), "%s", apps[a]);
	snprintf(tr->user, sizeof(tr->user), "-");
	if (style == 0) {
		/* Not syslog at all: no PRI, so nothing parses. */
		n = snprintf((char *)p, MAXMSG, "garbage line %" PRIu64
		    " from %s", i, host);
		tr->sev = tr->fac = -1;
		snprintf(tr->host, sizeof(tr->host), "-");
		snprintf(tr->app, sizeof(tr->app), "-");
	} else if (style == 1) {
		static const char *mon[] = { "Jan", "Feb", "Mar", "Apr", "May",
		    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

		n = snprintf((char *)p, MAXMSG, "<%d>%s %2d %02d:%02d:%02d %s "
		    "%s[%u]: bsd style message %" PRIu64, pri, mon[tm.tm_mon],
		    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, host, apps[a],
		    (unsigned)(r % 30000), i);
	} else {
		if (style < 30) {
			snprintf(sd, sizeof(sd), "[custody@32473 user=\"%s\" "
			    "cmd=\"grep \\\"x\\\" \\]y\"][origin ip=\"192.0.2.%u\"]",
			    user, h % 250 + 1);
			snprintf(tr->user, sizeof(tr->user), "%s", user);
		} else {
			snprintf(sd, sizeof(sd), "-");
		}
		n = snprintf((char *)p, MAXMSG, "<%d>1 %s.%06dZ %s %s %u ID%u %s "
		    "ev=%" PRIu64 " ", pri, ts, (int)((t / 1000) % 1000000),
		    host, apps[a], (unsigned)(r % 30000), (unsigned)(r % 50), sd,
		    i);
	}
	len = (size_t)n;
	while (len + 12 < g->size) {
		const char *w = words[rnd() % (sizeof(words) / sizeof(words[0]))];
		size_t wl = strlen(w);

		memcpy(p + len, w, wl);
		len += wl;
		p[len++] = ' ';
	}
	if (style == 2) {
		/* Latin-1 bytes: not UTF-8. */
		p[len++] = 0xe9;
		p[len++] = 0xff;
	}
	return (len);
}

static void
hexline(FILE *f, const uint8_t *p, size_t len)
{
	static const char hx[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		putc(hx[p[i] >> 4], f);
		putc(hx[p[i] & 15], f);
	}
}

struct writer {
	const char *dir;
	cst_sealer *s;
	cst_epoch_key *ek;
	cst_segw *w;
	cst_chain_state st;
	cst_draft d;
	cst_buf frame;
	uint64_t seg_blocks;
	uint64_t per_seg;
	uint64_t per_epoch;
	uint64_t epoch_blocks;
	uint8_t head[CST_HASH_LEN];
};

static int
open_segment(struct writer *w)
{
	char path[4096], name[32];
	cst_seg_hdr h;

	cst_chain_seg_hdr(&w->st, 0, &h);
	cst_segment_name(w->st.segment_no, name);
	snprintf(path, sizeof(path), "%s/segments/%s", w->dir, name);
	w->seg_blocks = 0;
	return (cst_segw_create(path, &h, &w->w));
}

static int
put_frame(struct writer *w, int64_t t)
{
	cst_epoch_key *next;

	if (w->per_epoch > 0 && w->epoch_blocks == w->per_epoch) {
		if (cst_epoch_key_next(w->ek, w->st.next_block_no, t,
		    &next) != 0)
			return (-1);
		cst_epoch_key_free(w->ek);
		w->ek = next;
		w->epoch_blocks = 0;
	}
	w->frame.len = 0;
	if (cst_block_finish(&w->d, &w->st, w->ek, t, &w->frame,
	    w->head) != 0 || cst_segw_append(w->w, w->frame.p,
	    w->frame.len) != 0)
		return (-1);
	w->epoch_blocks++;
	w->seg_blocks++;
	return (0);
}

static int
seal_segment(struct writer *w, int64_t t)
{

	if (cst_draft_build_seal(&w->d, w->st.next_seq, t) != 0 ||
	    put_frame(w, t) != 0 || cst_segw_close(w->w) != 0)
		return (-1);
	w->w = NULL;
	w->st.segment_no++;
	return (0);
}

static int
block(struct writer *w, cst_record *recs, size_t n, int64_t t)
{

	if (cst_sealer_build(w->s, recs, n, &w->d) != 0 || put_frame(w, t) != 0)
		return (-1);
	if (w->seg_blocks + 1 >= w->per_seg)
		return (seal_segment(w, t) != 0 || open_segment(w) != 0 ? -1 :
		    0);
	return (0);
}

static int
audit(cst_record *r, cst_buf *detail, uint8_t kind, uint64_t seq, int64_t t,
    const char *text)
{

	memset(r, 0, sizeof(*r));
	detail->len = 0;
	if (cst_detail_begin(detail, 1) != 0 ||
	    cst_detail_put_str(detail, "reason", "mkday", 5) != 0)
		return (-1);
	r->kind = kind;
	r->transport = CST_TR_INTERNAL;
	r->seq = seq;
	r->recv_ns = t;
	r->listener.p = (const uint8_t *)"";
	r->peer.p = (const uint8_t *)"";
	r->raw.p = (const uint8_t *)text;
	r->raw.len = strlen(text);
	r->detail.p = detail->p;
	r->detail.len = detail->len;
	return (0);
}

static void
truth_audit(FILE *f, const cst_record *r)
{

	if (f == NULL)
		return;
	fprintf(f, "%" PRIu64 "\t%" PRId64 "\t%u\t-\t-\t-1\t-1\t-\t-\t",
	    r->seq, r->recv_ns, r->kind);
	hexline(f, r->raw.p, r->raw.len);
	putc('\n', f);
}

int
main(int argc, char **argv)
{
	struct gen g = { 20, 200 };
	struct writer w;
	struct truth tr;
	cst_root_key *root = NULL;
	cst_record *recs = NULL;
	cst_buf detail;
	uint8_t *raw = NULL;
	char path[4096], (*peers)[64] = NULL;
	uint64_t n = 100000, per = 1000, i, seed = 1, rawbytes = 0;
	int64_t day = 1717200000LL * NS, t = 0, step;
	size_t k = 0;
	FILE *tf = NULL;
	const char *truth = NULL;
	int c, unsealed = 0, status = 1;

	memset(&w, 0, sizeof(w));
	w.per_seg = 500;
	cst_buf_init(&detail);
	cst_buf_init(&w.frame);
	cst_draft_init(&w.d);
	while ((c = getopt(argc, argv, "n:b:B:s:H:E:S:d:uT:")) != -1) {
		switch (c) {
		case 'n': n = strtoull(optarg, NULL, 10); break;
		case 'b': per = strtoull(optarg, NULL, 10); break;
		case 'B': w.per_seg = strtoull(optarg, NULL, 10); break;
		case 's': g.size = strtoull(optarg, NULL, 10); break;
		case 'H': g.hosts = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'E': w.per_epoch = strtoull(optarg, NULL, 10); break;
		case 'S': seed = strtoull(optarg, NULL, 10); break;
		case 'd': day = strtoll(optarg, NULL, 10) * NS; break;
		case 'u': unsealed = 1; break;
		case 'T': truth = optarg; break;
		default: goto usage;
		}
	}
	if (optind + 1 != argc || n == 0 || per == 0 || per > 100000 ||
	    w.per_seg < 2 || g.hosts == 0 || g.size < 40 || g.size > 1500)
		goto usage;
	rng = seed;
	w.dir = argv[optind];
	if (sodium_init() < 0)
		goto err;
	snprintf(path, sizeof(path), "%s", w.dir);
	if (mkdir(path, 0700) != 0)
		goto err;
	snprintf(path, sizeof(path), "%s/segments", w.dir);
	if (mkdir(path, 0700) != 0)
		goto err;
	snprintf(path, sizeof(path), "%s/keys", w.dir);
	if (mkdir(path, 0700) != 0)
		goto err;
	snprintf(path, sizeof(path), "%s/checkpoints", w.dir);
	if (mkdir(path, 0700) != 0)
		goto err;
	snprintf(path, sizeof(path), "%s/keys/root.pub", w.dir);
	if (cst_root_key_generate(&root) != 0 ||
	    cst_root_key_save(root, NULL, path) != 0 ||
	    cst_epoch_key_first(root, day, &w.ek) != 0 ||
	    (w.s = cst_sealer_new(1)) == NULL)
		goto err;
	memcpy(w.st.chain_id, root->pub.chain_id, CST_CHAIN_ID_LEN);
	if (open_segment(&w) != 0)
		goto err;
	if (truth != NULL && (tf = fopen(truth, "w")) == NULL)
		goto err;
	if ((recs = calloc(per, sizeof(*recs))) == NULL ||
	    (raw = malloc(per * MAXMSG)) == NULL ||
	    (peers = calloc(per, sizeof(*peers))) == NULL)
		goto err;
	/* seq 0: the collector's start record. */
	if (audit(&recs[0], &detail, CST_REC_START, 0, day, "custodyd "
	    "started (mkday)") != 0 || block(&w, recs, 1, day) != 0)
		goto err;
	truth_audit(tf, &recs[0]);
	step = 86400LL * NS / (int64_t)n;
	for (i = 0; i < n; i++) {
		cst_record *r = &recs[k];
		uint8_t *p = raw + k * MAXMSG;

		t = day + (int64_t)i * step + 1;
		memset(r, 0, sizeof(*r));
		r->kind = CST_REC_EVENT;
		r->transport = (rnd() & 1) ? CST_TR_UDP : CST_TR_TCP;
		r->seq = w.st.next_seq + k;
		r->recv_ns = t;
		r->listener.p = (const uint8_t *)"tcp://127.0.0.1:6514";
		r->listener.len = 20;
		r->raw.p = p;
		r->raw.len = render(&g, i, t, p, &tr, peers[k], sizeof(peers[k]));
		rawbytes += r->raw.len;
		r->peer.p = (const uint8_t *)peers[k];
		r->peer.len = strlen(peers[k]);
		r->has_parsed = cst_syslog_parse(p, r->raw.len, t,
		    &r->parsed) == 0;
		if (tf != NULL) {
			fprintf(tf, "%" PRIu64 "\t%" PRId64 "\t0\t%s\t%s\t%d\t"
			    "%d\t%s\t%s\t", r->seq, t, tr.host, tr.app, tr.sev,
			    tr.fac, tr.peer, tr.user);
			hexline(tf, p, r->raw.len);
			putc('\n', tf);
		}
		if (++k == per) {
			if (block(&w, recs, k, t) != 0)
				goto err;
			k = 0;
		}
	}
	if (k > 0 && block(&w, recs, k, t) != 0)
		goto err;
	if (audit(&recs[0], &detail, CST_REC_STOP, w.st.next_seq, t + 1,
	    "custodyd stopped (mkday)") != 0 || block(&w, recs, 1, t + 1) != 0)
		goto err;
	truth_audit(tf, &recs[0]);
	if (!unsealed) {
		if (seal_segment(&w, t + 2) != 0)
			goto err;
	} else if (cst_segw_close(w.w) != 0) {
		goto err;
	} else {
		w.w = NULL;
	}
	w.frame.len = 0;
	if (cst_checkpoint_encode(w.ek, w.st.next_block_no, w.st.next_seq,
	    w.head, t + 3, &w.frame) != 0)
		goto err;
	snprintf(path, sizeof(path), "%s/checkpoints/latest.ckpt", w.dir);
	{
		FILE *f = fopen(path, "w");

		if (f == NULL || fwrite(w.frame.p, 1, w.frame.len, f) !=
		    w.frame.len || fclose(f) != 0)
			goto err;
	}
	if (tf != NULL && fclose(tf) != 0) {
		tf = NULL;
		goto err;
	}
	tf = NULL;
	printf("events %" PRIu64 " raw_bytes %" PRIu64 " blocks %" PRIu64
	    " segments %" PRIu64 "\n", n, rawbytes, w.st.next_block_no,
	    w.st.segment_no + (unsealed ? 1 : 0));
	status = 0;
	goto out;
usage:
	fprintf(stderr, "usage: custody-mkday [-n EVENTS] [-b PER_BLOCK] "
	    "[-B BLOCKS_PER_SEGMENT] [-s SIZE] [-H HOSTS] [-E BLOCKS_PER_EPOCH] "
	    "[-S SEED] [-d DAY_START] [-u] [-T TRUTH] DIR\n");
	status = 2;
	goto out;
err:
	fprintf(stderr, "custody-mkday: failed\n");
out:
	if (tf != NULL)
		fclose(tf);
	if (w.w != NULL)
		(void)cst_segw_close(w.w);
	free(raw);
	free(recs);
	free(peers);
	cst_buf_close(&detail);
	cst_buf_close(&w.frame);
	cst_draft_close(&w.d);
	cst_sealer_free(w.s);
	cst_epoch_key_free(w.ek);
	cst_root_key_free(root);
	return (status);
}
