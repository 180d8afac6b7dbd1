/*
 * custody-mkstore: writes a store with the format library, for test
 * vectors, tests and benchmarks.
 *
 *   custody-mkstore DIR --events N [--segments K] [--seed S] [--epochs E]
 *       [--block-records R] [--checkpoint-every B] [--unsealed]
 *       [--partial-tail BYTES] [--empty-tail] [--recovery] [--loss]
 *       [--forge-cert EPOCH] [--event-seed S2] [--level L] [--threads T]
 *       [--secrets] [--hostname TEXT] [--config FILE]... [--log-key]
 *       [--log-seed S3]
 *
 * Everything is derived from the seed (keys with BLAKE2b, chain id, event
 * text, times), so one seed always gives the same bytes: make_vectors.sh
 * relies on it.  --event-seed changes the events but not the keys, which
 * makes a fork of the same chain.  Blocks are built on --threads threads
 * and placed in the chain in order on the main thread.  --log-key adds a
 * log key (keys/log.cert, checkpoints/log.cert) and writes a note
 * checkpoint beside every checkpoint (SPEC 13); --log-seed derives that
 * key from another seed (a second log key of the same chain).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "custody/block.h"
#include "custody/buf.h"
#include "custody/checkpoint.h"
#include "custody/error.h"
#include "custody/format.h"
#include "custody/hash.h"
#include "custody/keys.h"
#include "custody/logkey.h"
#include "custody/record.h"
#include "custody/segment.h"
#include "custody/syslog.h"
#include "custody/tlog.h"

/* 2024-03-01T00:00:00Z: every store starts here, whatever the seed. */
#define T0_NS INT64_C(1709251200000000000)
#define EVENT_GAP_NS INT64_C(100000)
#define MAX_AUDITS 4
#define RAW_MAX 512

struct opts {
	const char *dir;
	uint64_t events;
	uint64_t segments;
	uint64_t seed;
	uint64_t event_seed;
	int event_seed_set;
	uint32_t epochs;
	uint32_t block_records;
	uint64_t checkpoint_every;
	int unsealed;
	uint64_t partial_tail;
	int empty_tail;
	int recovery;
	int loss;
	uint32_t forge_cert;
	int level;
	unsigned threads;
	int secrets;
	int log_key;
	uint64_t log_seed;
	int log_seed_set;
};

/* An audit record to put at the start of a block. */
struct audit {
	uint8_t kind;
	char raw[128];
	cst_buf detail;
};

/* One block to build: audit records, then a run of events. */
struct job {
	uint64_t first_seq;
	uint64_t ev_first;      /* index of its first event */
	uint32_t nev;
	struct audit audits[MAX_AUDITS];
	uint32_t naudits;
	int64_t audit_ns;
	cst_draft draft;
	int rc;
	/* what the main thread does around it */
	int rotate;             /* start the next key epoch with this block */
	int crash;              /* a crash and recovery come before it */
	int seal_after;         /* the last block of its segment */
};

/* Where the plan of blocks stands. */
struct plan {
	uint64_t ev;
	uint64_t seq;
	uint64_t seg;
	uint64_t seg_end;
	uint64_t rot_every;
	uint64_t next_rot;
	uint64_t loss_at;
	uint64_t crash_at;
	uint32_t epoch;
	int started;
};

struct pool {
	struct job *jobs;
	size_t n;
	unsigned threads;
	unsigned t;
	int level;
	const struct opts *o;
	int force;              /* build crash blocks too */
};

static const char *hosts[] = { "web-01", "web-02", "db-primary", "db-replica",
    "auth-gw", "mail", "vpn-edge", "files" };
static const char *apps[] = { "sshd", "sudo", "nginx", "postgres", "auditd",
    "kernel", "cron", "systemd-logind" };
static const char *words[] = { "session", "opened", "closed", "user",
    "root", "failed", "password", "accepted", "publickey", "from", "port",
    "connection", "reset", "by", "peer", "authentication", "failure",
    "invalid", "command", "COMMAND=/usr/bin/systemctl", "restart", "policy",
    "denied", "granted", "token", "expired", "audit", "record" };

static void
usage(void)
{

	fprintf(stderr, "usage: custody-mkstore DIR --events N [--segments K] "
	    "[--seed S] [--epochs E]\n"
	    "    [--block-records R] [--checkpoint-every B] [--unsealed] "
	    "[--partial-tail BYTES]\n"
	    "    [--empty-tail] [--recovery] [--loss] [--forge-cert EPOCH] "
	    "[--event-seed S2]\n"
	    "    [--level L] [--threads T] [--secrets] [--hostname TEXT]\n"
	    "    [--config FILE]... [--log-key] [--log-seed S3]\n");
	exit(2);
}

/* A derived value: H(label || seed || n), the first len bytes. */
static void
derive(const char *label, uint64_t seed, uint64_t n, uint8_t *out, size_t len)
{
	crypto_generichash_state st;
	uint8_t h[32], b[16];
	int i;

	for (i = 0; i < 8; i++) {
		b[i] = (uint8_t)(seed >> (8 * i));
		b[8 + i] = (uint8_t)(n >> (8 * i));
	}
	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, (const uint8_t *)label, strlen(label));
	crypto_generichash_update(&st, b, sizeof(b));
	crypto_generichash_final(&st, h, sizeof(h));
	memcpy(out, h, len);
}

static uint64_t
splitmix(uint64_t *x)
{
	uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return (z ^ (z >> 31));
}

static int64_t
event_ns(uint64_t i)
{

	return (T0_NS + (int64_t)i * EVENT_GAP_NS);
}

/* Writes the RFC 5424 text of event i (about 200 bytes) into raw. */
static size_t
event_text(uint64_t es, uint64_t i, int64_t ns, char *raw)
{
	uint64_t x = es ^ (i * UINT64_C(0x2545f4914f6cdd1d));
	uint64_t r = splitmix(&x);
	time_t sec = (time_t)(ns / 1000000000);
	struct tm tm;
	char ts[40];
	size_t n;
	int k;

	gmtime_r(&sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	n = (size_t)snprintf(raw, RAW_MAX, "<%u>1 %s.%06" PRId64 "Z %s %s %u "
	    "ID%u [meta seq=\"%" PRIu64 "\"] ", (unsigned)(80 + r % 16), ts,
	    (ns % 1000000000) / 1000, hosts[r % 8], apps[(r >> 8) % 8],
	    (unsigned)(1000 + (r >> 16) % 30000), (unsigned)((r >> 32) % 50),
	    i);
	for (k = 0; n < 190 && k < 40; k++) {
		r = splitmix(&x);
		n += (size_t)snprintf(raw + n, RAW_MAX - n, "%s%s",
		    k == 0 ? "" : " ", words[r % (sizeof(words) /
		    sizeof(words[0]))]);
	}
	return (n < RAW_MAX ? n : RAW_MAX - 1);
}

/* Builds job's draft on sealer s: the slow part, on any thread. */
static int
build_job(cst_sealer *s, uint64_t es, struct job *j)
{
	char peers[8][32];
	cst_record *recs;
	char (*raws)[RAW_MAX];
	uint32_t n = j->naudits + j->nev, i;
	uint64_t e;
	int rc = CST_ENOMEM;

	if ((recs = calloc(n, sizeof(*recs))) == NULL)
		return (rc);
	if ((raws = malloc((size_t)(j->nev > 0 ? j->nev : 1) * RAW_MAX)) ==
	    NULL)
		goto err0;
	for (i = 0; i < 8; i++)
		snprintf(peers[i], sizeof(peers[i]), "198.51.100.%u:%u",
		    10 + i, 40000 + i);
	for (i = 0; i < j->naudits; i++) {
		cst_record *r = &recs[i];

		r->kind = j->audits[i].kind;
		r->seq = j->first_seq + i;
		r->recv_ns = j->audit_ns;
		r->transport = CST_TR_INTERNAL;
		r->listener.p = (const uint8_t *)"";
		r->peer.p = (const uint8_t *)"";
		r->raw.p = (const uint8_t *)j->audits[i].raw;
		r->raw.len = strlen(j->audits[i].raw);
		r->detail.p = j->audits[i].detail.p;
		r->detail.len = j->audits[i].detail.len;
	}
	for (i = 0; i < j->nev; i++) {
		cst_record *r = &recs[j->naudits + i];

		e = j->ev_first + i;
		r->kind = CST_REC_EVENT;
		r->seq = j->first_seq + j->naudits + i;
		r->recv_ns = event_ns(e);
		r->transport = CST_TR_TCP;
		r->listener.p = (const uint8_t *)"tcp://0.0.0.0:6514";
		r->listener.len = 18;
		r->peer.p = (const uint8_t *)peers[e % 8];
		r->peer.len = strlen(peers[e % 8]);
		r->raw.p = (const uint8_t *)raws[i];
		r->raw.len = event_text(es, e, r->recv_ns, raws[i]);
		r->has_parsed = cst_syslog_parse(r->raw.p, r->raw.len,
		    r->recv_ns, &r->parsed) == 0;
	}
	rc = cst_sealer_build(s, recs, n, &j->draft);
	free(raws);
err0:
	free(recs);
	return (rc);
}

static void *
pool_main(void *arg)
{
	struct pool *p = arg;
	unsigned t = p->t;
	cst_sealer *s;
	uint64_t es;
	size_t i;

	es = p->o->event_seed;
	if ((s = cst_sealer_new(p->level)) == NULL) {
		for (i = t; i < p->n; i += p->threads)
			p->jobs[i].rc = CST_ENOMEM;
		return (NULL);
	}
	/* A block after the crash is built once the crash is known. */
	for (i = t; i < p->n; i += p->threads)
		if (!p->jobs[i].crash || p->force)
			p->jobs[i].rc = build_job(s, es, &p->jobs[i]);
	cst_sealer_free(s);
	return (NULL);
}

/*
 * Builds jobs[0..n) on o->threads threads; a block after the crash only
 * with force, once the crash has been made.
 */
static int
build_all(const struct opts *o, struct job *jobs, size_t n, int force)
{
	struct pool ps[64];
	pthread_t th[64];
	unsigned t, nt = o->threads;
	size_t i;

	if (nt > 64)
		nt = 64;
	for (t = 0; t < nt; t++) {
		ps[t].jobs = jobs;
		ps[t].n = n;
		ps[t].threads = nt;
		ps[t].t = t;
		ps[t].level = o->level;
		ps[t].o = o;
		ps[t].force = force;
		if (pthread_create(&th[t], NULL, pool_main, &ps[t]) != 0) {
			fprintf(stderr, "custody-mkstore: cannot start a "
			    "thread\n");
			exit(1);
		}
	}
	for (t = 0; t < nt; t++)
		pthread_join(th[t], NULL);
	for (i = 0; i < n; i++)
		if (jobs[i].rc != 0)
			return (jobs[i].rc);
	return (0);
}

static void
die(const char *what, int rc)
{

	fprintf(stderr, "custody-mkstore: %s: %s\n", what, cst_strerror(rc));
	exit(1);
}

static void
die_errno(const char *what)
{

	fprintf(stderr, "custody-mkstore: %s: %s\n", what, strerror(errno));
	exit(1);
}

static char *
path_of(const char *dir, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		die_errno("asprintf");
	return (p);
}

static void
mkdir_p(const char *path)
{

	if (mkdir(path, 0755) != 0 && errno != EEXIST)
		die_errno(path);
}

static void
write_file(const char *path, const uint8_t *p, size_t len, mode_t mode)
{
	FILE *f;

	if ((f = fopen(path, "wb")) == NULL)
		die_errno(path);
	if (len > 0 && fwrite(p, 1, len, f) != len)
		die_errno(path);
	if (fclose(f) != 0)
		die_errno(path);
	if (chmod(path, mode) != 0)
		die_errno(path);
}

static void
audit_add(struct job *j, uint8_t kind, const char *raw)
{
	struct audit *a;

	if (j->naudits == MAX_AUDITS)
		die("audit", CST_EINVAL);
	a = &j->audits[j->naudits++];
	a->kind = kind;
	snprintf(a->raw, sizeof(a->raw), "%s", raw);
	cst_buf_init(&a->detail);
}

static void
job_clear(struct job *j)
{
	uint32_t i;

	for (i = 0; i < j->naudits; i++)
		cst_buf_close(&j->audits[i].detail);
	cst_draft_close(&j->draft);
	memset(j, 0, sizeof(*j));
}

/* The writer's state, on the main thread. */
struct store {
	const struct opts *o;
	cst_log_key *lk;             /* NULL: no notes */
	cst_tlog_frontier tl;        /* the chain tree so far */
	char *segdir;
	char *ckpdir;
	char *quardir;
	cst_root_key *root;
	cst_epoch_key *key;
	cst_chain_state st;
	cst_segw *w;
	char *segpath;
	cst_buf frame;
	uint64_t blocks_since_ckp;
	uint64_t ckps;
	int64_t last_ns;
};

static void
segment_open(struct store *s, int64_t now)
{
	cst_seg_hdr h;
	char name[32];
	int rc;

	cst_chain_seg_hdr(&s->st, now, &h);
	cst_segment_name(s->st.segment_no, name);
	free(s->segpath);
	s->segpath = path_of(s->segdir, name);
	if ((rc = cst_segw_create(s->segpath, &h, &s->w)) != 0)
		die(s->segpath, rc);
}

static void
write_checkpoint(struct store *s, const char *name)
{
	cst_buf b;
	char *path;
	int rc;

	cst_buf_init(&b);
	if ((rc = cst_checkpoint_encode(s->key, s->st.next_block_no,
	    s->st.next_seq, s->st.prev_hash, s->last_ns, &b)) != 0)
		die("checkpoint", rc);
	path = path_of(s->ckpdir, name);
	write_file(path, b.p, b.len, 0644);
	free(path);
	if (s->lk != NULL) {
		char note[64];
		uint8_t root[CST_HASH_LEN];
		size_t n = strlen(name);

		/* ckpt-N.ckpt gives ckpt-N.note, latest.ckpt latest.note. */
		snprintf(note, sizeof(note), "%.*s.note", (int)(n - 5), name);
		cst_tlog_frontier_root(&s->tl, root);
		b.len = 0;
		if ((rc = cst_log_note_encode(s->lk, s->tl.size, root,
		    &b)) != 0)
			die("note", rc);
		path = path_of(s->ckpdir, note);
		write_file(path, b.p, b.len, 0644);
		free(path);
	}
	cst_buf_close(&b);
}

/* Places draft d in the chain, signs it and appends it. */
static void
append_draft(struct store *s, const cst_draft *d, int64_t sealed_ns)
{
	char name[48];
	int rc;

	s->frame.len = 0;
	if ((rc = cst_block_finish(d, &s->st, s->key, sealed_ns, &s->frame,
	    NULL)) != 0)
		die("block", rc);
	if ((rc = cst_segw_append(s->w, s->frame.p, s->frame.len)) != 0)
		die(s->segpath, rc);
	{
		uint8_t leaf[CST_HASH_LEN];

		cst_tlog_leaf(s->st.prev_hash, leaf);
		if (cst_tlog_frontier_append(&s->tl, leaf, NULL, NULL) != 0)
			die("chain tree", CST_ETOOBIG);
	}
	s->last_ns = sealed_ns;
	if (s->o->checkpoint_every > 0 &&
	    ++s->blocks_since_ckp == s->o->checkpoint_every) {
		s->blocks_since_ckp = 0;
		snprintf(name, sizeof(name), "ckpt-%06" PRIu64 ".ckpt",
		    s->st.next_block_no);
		write_checkpoint(s, name);
		s->ckps++;
	}
}

static void
seal_segment(struct store *s)
{
	cst_draft d;
	int rc;

	cst_draft_init(&d);
	if ((rc = cst_draft_build_seal(&d, s->st.next_seq,
	    s->last_ns + 1000)) != 0)
		die("seal", rc);
	append_draft(s, &d, s->last_ns + 1000);
	cst_draft_close(&d);
	if ((rc = cst_segw_close(s->w)) != 0)
		die(s->segpath, rc);
	s->w = NULL;
	s->st.segment_no++;
}

static void
rotate_key(struct store *s)
{
	uint8_t seed[CST_SEED_LEN], forger[CST_SEED_LEN];
	uint8_t fpk[CST_PK_LEN], fsk[64];
	cst_epoch_key *k;
	int rc;

	derive("custody-mkstore/epoch", s->o->seed, s->key->epoch + 1, seed,
	    sizeof(seed));
	if ((rc = cst_epoch_key_next_from_seed(s->key, seed,
	    s->st.next_block_no, s->last_ns, &k)) != 0)
		die("epoch key", rc);
	if (k->epoch == s->o->forge_cert) {
		/* A certificate signed by a key that is not in the chain. */
		derive("custody-mkstore/forger", s->o->seed, k->epoch, forger,
		    sizeof(forger));
		crypto_sign_seed_keypair(fpk, fsk, forger);
		cst_cert_sign(&k->certs[k->epoch - 1], fsk);
		sodium_memzero(fsk, sizeof(fsk));
	}
	cst_epoch_key_free(s->key);
	s->key = k;
}

/*
 * The crash and restart of R-REC-5: a block is appended half-written,
 * then cut to quarantine/ and the segment reopened at the cut.  Fills the
 * detail of j's recovery record, its first.
 */
static void
crash_and_recover(struct store *s, struct job *j)
{
	uint8_t sha[crypto_hash_sha256_BYTES];
	char hex[2 * sizeof(sha) + 1], qname[64], raw[128];
	cst_chain_state saved = s->st;
	uint64_t valid_len, cut;
	struct job torn;
	cst_buf *d;
	cst_map m;
	char *qpath;
	int rc, fd;

	/* The torn block's records are lost with it: events of their own. */
	memset(&torn, 0, sizeof(torn));
	cst_draft_init(&torn.draft);
	torn.first_seq = s->st.next_seq;
	torn.ev_first = s->o->events + 1000;
	torn.nev = 16;
	if ((rc = build_all(s->o, &torn, 1, 1)) != 0)
		die("build", rc);
	valid_len = cst_segw_size(s->w);
	s->frame.len = 0;
	if ((rc = cst_block_finish(&torn.draft, &s->st, s->key, s->last_ns,
	    &s->frame, NULL)) != 0)
		die("torn block", rc);
	s->st = saved;
	job_clear(&torn);
	cut = s->frame.len / 2;
	if ((rc = cst_segw_append(s->w, s->frame.p, cut)) != 0 ||
	    (rc = cst_segw_close(s->w)) != 0)
		die(s->segpath, rc);
	s->w = NULL;

	/* The restart: what follows the last valid frame goes aside. */
	if ((rc = cst_map_open(s->segpath, &m)) != 0)
		die(s->segpath, rc);
	snprintf(qname, sizeof(qname), "seg-%010" PRIu64 ".cst.%" PRIu64
	    ".torn", s->st.segment_no, valid_len);
	qpath = path_of(s->quardir, qname);
	write_file(qpath, m.p + valid_len, (size_t)cut, 0644);
	crypto_hash_sha256(sha, m.p + valid_len, cut);
	cst_map_close(&m);
	free(qpath);
	if ((fd = open(s->segpath, O_WRONLY)) == -1 ||
	    ftruncate(fd, (off_t)valid_len) != 0 || close(fd) != 0)
		die_errno(s->segpath);
	if ((rc = cst_segw_open(s->segpath, valid_len, &s->w)) != 0)
		die(s->segpath, rc);

	cst_hex(sha, sizeof(sha), hex);
	snprintf(raw, sizeof(raw), "custodyd: recovered segment %" PRIu64
	    ": %" PRIu64 " bytes cut", s->st.segment_no, cut);
	snprintf(j->audits[0].raw, sizeof(j->audits[0].raw), "%s", raw);
	d = &j->audits[0].detail;
	d->len = 0;
	if (cst_detail_begin(d, 6) != 0 ||
	    cst_detail_put_u64(d, "segment_no", s->st.segment_no) != 0 ||
	    cst_detail_put_u64(d, "valid_len", valid_len) != 0 ||
	    cst_detail_put_u64(d, "cut_len", cut) != 0 ||
	    cst_detail_put_str(d, "quarantine", qname, strlen(qname)) != 0 ||
	    cst_detail_put_str(d, "cut_sha256", hex, strlen(hex)) != 0 ||
	    cst_detail_put_i64(d, "last_block_no",
	    (int64_t)s->st.next_block_no - 1) != 0)
		die("detail", CST_ENOMEM);
}

/*
 * The start records' hostname: untrusted text a report shows, so a test
 * can seal hostile text (markup, quotes) into an authentic record.
 */
static const char *start_hostname = "mkstore";

/*
 * --config FILE, repeatable: the n-th start record carries the n-th
 * file's text as `config` and its SHA-256 as `config_hash` (the last one
 * repeats), so that a report can show what changed between runs.
 */
static char *start_configs[4];
static size_t nstart_configs, nstarts;

static char *
read_text(const char *path)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f, *m;
	int c;

	if ((f = fopen(path, "r")) == NULL || (m = open_memstream(&s,
	    &len)) == NULL) {
		fprintf(stderr, "custody-mkstore: %s: %s\n", path,
		    strerror(errno));
		exit(2);
	}
	while ((c = fgetc(f)) != EOF)
		fputc(c, m);
	fclose(f);
	fclose(m);
	return (s);
}

static void
add_start(struct job *j, const cst_root_key *root, uint32_t epoch)
{
	char fpr[2 * CST_FPR_LEN + 1];
	char hash[65] = "0000000000000000000000000000000000000000000000000000"
	    "000000000000";
	const char *cfg = NULL;
	uint8_t h[32];
	cst_buf *d;

	if (nstart_configs > 0) {
		cfg = start_configs[nstarts < nstart_configs ? nstarts :
		    nstart_configs - 1];
		crypto_hash_sha256(h, (const uint8_t *)cfg, strlen(cfg));
		cst_hex(h, 32, hash);
	}
	nstarts++;
	cst_key_fingerprint_hex(root->pub.pk, fpr);
	audit_add(j, CST_REC_START, "custodyd: start (custody-mkstore)");
	d = &j->audits[j->naudits - 1].detail;
	if (cst_detail_begin(d, cfg != NULL ? 6 : 5) != 0 ||
	    cst_detail_put_str(d, "version", "mkstore", 7) != 0 ||
	    cst_detail_put_str(d, "config_hash", hash, 64) != 0 ||
	    (cfg != NULL && cst_detail_put_str(d, "config", cfg,
	    strlen(cfg)) != 0) ||
	    cst_detail_put_str(d, "root_fpr", fpr, strlen(fpr)) != 0 ||
	    cst_detail_put_u64(d, "epoch", epoch) != 0 ||
	    cst_detail_put_str(d, "hostname", start_hostname,
	    strlen(start_hostname)) != 0)
		die("detail", CST_ENOMEM);
}

static void
add_epoch_record(struct job *j, uint64_t seed, uint32_t epoch)
{
	uint8_t k[CST_SEED_LEN], pk[CST_PK_LEN], sk[64];
	char fpr[2 * CST_FPR_LEN + 1];
	cst_buf *d;

	derive("custody-mkstore/epoch", seed, epoch, k, sizeof(k));
	crypto_sign_seed_keypair(pk, sk, k);
	sodium_memzero(sk, sizeof(sk));
	cst_key_fingerprint_hex(pk, fpr);
	audit_add(j, CST_REC_KEY_EPOCH, "custodyd: key epoch");
	d = &j->audits[j->naudits - 1].detail;
	if (cst_detail_begin(d, 2) != 0 ||
	    cst_detail_put_u64(d, "epoch", epoch) != 0 ||
	    cst_detail_put_str(d, "fpr", fpr, strlen(fpr)) != 0)
		die("detail", CST_ENOMEM);
}

static void
add_loss(struct job *j)
{
	cst_buf *d;

	audit_add(j, CST_REC_LOSS, "custodyd: udp://0.0.0.0:514 dropped 17");
	d = &j->audits[j->naudits - 1].detail;
	if (cst_detail_begin(d, 5) != 0 ||
	    cst_detail_put_str(d, "listener", "udp://0.0.0.0:514", 17) != 0 ||
	    cst_detail_put_u64(d, "udp_dropped", 17) != 0 ||
	    cst_detail_put_u64(d, "kernel_dropped", 3) != 0 ||
	    cst_detail_put_u64(d, "oversize", 1) != 0 ||
	    cst_detail_put_i64(d, "since_ns", T0_NS) != 0)
		die("detail", CST_ENOMEM);
}

static void
add_stop(struct job *j, uint64_t n)
{
	cst_buf *d;

	audit_add(j, CST_REC_STOP, "custodyd: stop");
	d = &j->audits[j->naudits - 1].detail;
	if (cst_detail_begin(d, 3) != 0 ||
	    cst_detail_put_str(d, "reason", "done", 4) != 0 ||
	    cst_detail_put_u64(d, "received", n) != 0 ||
	    cst_detail_put_u64(d, "sealed", n) != 0)
		die("detail", CST_ENOMEM);
}

static uint64_t
parse_u64(const char *s, const char *what)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || *s == '-') {
		fprintf(stderr, "custody-mkstore: bad %s: %s\n", what, s);
		exit(2);
	}
	return ((uint64_t)v);
}

static void
parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "events", required_argument, NULL, 'n' },
		{ "segments", required_argument, NULL, 'k' },
		{ "seed", required_argument, NULL, 's' },
		{ "event-seed", required_argument, NULL, 'S' },
		{ "epochs", required_argument, NULL, 'e' },
		{ "block-records", required_argument, NULL, 'r' },
		{ "checkpoint-every", required_argument, NULL, 'c' },
		{ "unsealed", no_argument, NULL, 'u' },
		{ "partial-tail", required_argument, NULL, 'p' },
		{ "empty-tail", no_argument, NULL, 'E' },
		{ "recovery", no_argument, NULL, 'R' },
		{ "loss", no_argument, NULL, 'L' },
		{ "forge-cert", required_argument, NULL, 'F' },
		{ "level", required_argument, NULL, 'l' },
		{ "threads", required_argument, NULL, 't' },
		{ "secrets", no_argument, NULL, 'x' },
		{ "hostname", required_argument, NULL, 'H' },
		{ "config", required_argument, NULL, 'C' },
		{ "log-key", no_argument, NULL, 'K' },
		{ "log-seed", required_argument, NULL, 'G' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	long nproc;

	memset(o, 0, sizeof(*o));
	o->segments = 1;
	o->seed = 1;
	o->epochs = 1;
	o->block_records = 1024;
	o->level = 3;
	nproc = sysconf(_SC_NPROCESSORS_ONLN);
	o->threads = nproc > 0 ? (unsigned)nproc : 1;
	o->events = UINT64_MAX;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'n': o->events = parse_u64(optarg, "--events"); break;
		case 'k': o->segments = parse_u64(optarg, "--segments"); break;
		case 's': o->seed = parse_u64(optarg, "--seed"); break;
		case 'S':
			o->event_seed = parse_u64(optarg, "--event-seed");
			o->event_seed_set = 1;
			break;
		case 'e':
			o->epochs = (uint32_t)parse_u64(optarg, "--epochs");
			break;
		case 'r':
			o->block_records = (uint32_t)parse_u64(optarg,
			    "--block-records");
			break;
		case 'c':
			o->checkpoint_every = parse_u64(optarg,
			    "--checkpoint-every");
			break;
		case 'u': o->unsealed = 1; break;
		case 'p':
			o->partial_tail = parse_u64(optarg, "--partial-tail");
			break;
		case 'E': o->empty_tail = 1; break;
		case 'R': o->recovery = 1; break;
		case 'L': o->loss = 1; break;
		case 'F':
			o->forge_cert = (uint32_t)parse_u64(optarg,
			    "--forge-cert");
			break;
		case 'l': o->level = (int)parse_u64(optarg, "--level"); break;
		case 't':
			o->threads = (unsigned)parse_u64(optarg, "--threads");
			break;
		case 'x': o->secrets = 1; break;
		case 'H': start_hostname = optarg; break;
		case 'C':
			if (nstart_configs == 4)
				usage();
			start_configs[nstart_configs++] = read_text(optarg);
			break;
		case 'K': o->log_key = 1; break;
		case 'G':
			o->log_seed = parse_u64(optarg, "--log-seed");
			o->log_seed_set = 1;
			break;
		default: usage();
		}
	}
	if (optind + 1 != argc || o->events == UINT64_MAX || o->segments < 1 ||
	    o->epochs < 1 || o->block_records < MAX_AUDITS + 1 ||
	    o->block_records > CST_MAX_RECORDS / 2 || o->threads < 1 ||
	    (o->partial_tail > 0 && !o->unsealed))
		usage();
	if (o->events < o->segments) {
		fprintf(stderr, "custody-mkstore: need at least one event per "
		    "segment\n");
		exit(2);
	}
	if (!o->event_seed_set)
		o->event_seed = o->seed;
	if (!o->log_seed_set)
		o->log_seed = o->seed;
	o->dir = argv[optind];
}

/* Plans the next block into j (left for the caller to build). */
static void
plan_next(struct plan *pl, const struct store *s, struct job *j)
{
	const struct opts *o = s->o;
	uint64_t lim;

	memset(j, 0, sizeof(*j));
	cst_draft_init(&j->draft);
	j->first_seq = pl->seq;
	j->audit_ns = event_ns(pl->ev);
	if (pl->ev >= pl->crash_at) {
		/* The recovery record first, then the restart (R-REC-5). */
		pl->crash_at = UINT64_MAX;
		j->crash = 1;
		audit_add(j, CST_REC_RECOVERY, "");
		add_start(j, s->root, pl->epoch);
	}
	if (!pl->started) {
		add_start(j, s->root, pl->epoch);
		pl->started = 1;
	}
	if (pl->ev >= pl->next_rot) {
		j->rotate = 1;
		add_epoch_record(j, o->seed, ++pl->epoch);
		pl->next_rot = pl->epoch < o->epochs ?
		    pl->next_rot + pl->rot_every : UINT64_MAX;
	}
	if (pl->ev >= pl->loss_at) {
		pl->loss_at = UINT64_MAX;
		add_loss(j);
	}
	/* A block ends where something must start a block. */
	lim = pl->seg_end;
	if (pl->next_rot < lim)
		lim = pl->next_rot;
	if (pl->loss_at < lim)
		lim = pl->loss_at;
	if (pl->crash_at < lim)
		lim = pl->crash_at;
	if (lim <= pl->ev)
		lim = pl->ev + 1;
	j->ev_first = pl->ev;
	j->nev = (uint32_t)(lim - pl->ev < o->block_records - j->naudits ?
	    lim - pl->ev : o->block_records - j->naudits);
	pl->ev += j->nev;
	pl->seq += j->naudits + j->nev;
	if (pl->ev >= pl->seg_end && pl->seg + 1 < o->segments) {
		j->seal_after = 1;
		pl->seg++;
		pl->seg_end = pl->seg + 1 == o->segments ? o->events :
		    o->events / o->segments * (pl->seg + 1);
	}
}

int
main(int argc, char **argv)
{
	uint8_t chain_id[CST_CHAIN_ID_LEN], seed[CST_SEED_LEN];
	char fpr[2 * CST_FPR_LEN + 1], cid[2 * CST_CHAIN_ID_LEN + 1];
	char head[2 * CST_HASH_LEN + 1];
	struct opts o;
	struct store s;
	struct plan pl;
	struct job *jobs, *j, last;
	char *p, *keydir;
	size_t wave, n, i;
	int64_t sealed;
	int rc;

	parse_args(argc, argv, &o);
	if (sodium_init() < 0)
		die("sodium_init", CST_EIO);

	memset(&s, 0, sizeof(s));
	s.o = &o;
	cst_buf_init(&s.frame);
	mkdir_p(o.dir);
	s.segdir = path_of(o.dir, "segments");
	s.ckpdir = path_of(o.dir, "checkpoints");
	s.quardir = path_of(o.dir, "quarantine");
	keydir = path_of(o.dir, "keys");
	mkdir_p(s.segdir);
	mkdir_p(keydir);
	if (o.checkpoint_every > 0)
		mkdir_p(s.ckpdir);
	if (o.recovery)
		mkdir_p(s.quardir);

	/* Keys and chain id from the seed: reproducible vectors. */
	derive("custody-mkstore/chain", o.seed, 0, chain_id, sizeof(chain_id));
	derive("custody-mkstore/root", o.seed, 0, seed, sizeof(seed));
	if ((rc = cst_root_key_from_seed(chain_id, seed, &s.root)) != 0)
		die("root key", rc);
	p = path_of(keydir, "root.pub");
	if (o.secrets) {
		char *kp = path_of(keydir, "root.key");

		unlink(kp);
		if ((rc = cst_root_key_save(s.root, kp, p)) != 0)
			die(kp, rc);
		free(kp);
	} else if ((rc = cst_root_key_save(s.root, NULL, p)) != 0) {
		die(p, rc);
	}
	free(p);
	derive("custody-mkstore/epoch", o.seed, 1, seed, sizeof(seed));
	if ((rc = cst_epoch_key_first_from_seed(s.root, seed, T0_NS,
	    &s.key)) != 0)
		die("epoch key", rc);

	cst_tlog_frontier_init(&s.tl);
	if (o.log_key) {
		cst_log_cert lc;
		cst_buf cb;

		mkdir_p(s.ckpdir);
		derive("custody-mkstore/log", o.log_seed, 0, seed,
		    sizeof(seed));
		if ((rc = cst_log_key_from_seed(chain_id, seed, &s.lk)) != 0)
			die("log key", rc);
		cst_log_cert_make(s.root, s.lk->pk, &lc);
		cst_buf_init(&cb);
		if ((rc = cst_log_cert_encode(&lc, &cb)) != 0)
			die("log cert", rc);
		p = path_of(keydir, "log.cert");
		write_file(p, cb.p, cb.len, 0644);
		free(p);
		p = path_of(s.ckpdir, "log.cert");
		write_file(p, cb.p, cb.len, 0644);
		free(p);
		cst_buf_close(&cb);
	}

	memcpy(s.st.chain_id, chain_id, CST_CHAIN_ID_LEN);
	s.last_ns = T0_NS;
	segment_open(&s, T0_NS);

	memset(&pl, 0, sizeof(pl));
	pl.epoch = 1;
	pl.seg_end = o.segments == 1 ? o.events : o.events / o.segments;
	pl.rot_every = o.events / o.epochs;
	pl.next_rot = o.epochs > 1 ? pl.rot_every : UINT64_MAX;
	pl.loss_at = o.loss ? o.events / 2 : UINT64_MAX;
	pl.crash_at = o.recovery ? o.events * 3 / 5 : UINT64_MAX;
	wave = 8 * (size_t)o.threads;
	if ((jobs = calloc(wave, sizeof(*jobs))) == NULL)
		die("calloc", CST_ENOMEM);

	/* Plans a wave of blocks, builds them in parallel, places them. */
	while (pl.ev < o.events) {
		for (n = 0; n < wave && pl.ev < o.events; n++)
			plan_next(&pl, &s, &jobs[n]);
		if ((rc = build_all(&o, jobs, n, 0)) != 0)
			die("build", rc);
		for (i = 0; i < n; i++) {
			j = &jobs[i];
			sealed = event_ns(j->ev_first + j->nev) + 500;
			if (j->rotate)
				rotate_key(&s);
			if (j->crash) {
				crash_and_recover(&s, j);
				if ((rc = build_all(&o, j, 1, 1)) != 0)
					die("build", rc);
			}
			append_draft(&s, &j->draft, sealed);
			if (j->seal_after) {
				seal_segment(&s);
				segment_open(&s, s.last_ns + 1000);
			}
			job_clear(j);
		}
	}
	free(jobs);

	memset(&last, 0, sizeof(last));
	cst_draft_init(&last.draft);
	last.first_seq = s.st.next_seq;
	last.audit_ns = s.last_ns + 1000;
	if (!o.unsealed) {
		add_stop(&last, o.events);
		if ((rc = build_all(&o, &last, 1, 1)) != 0)
			die("build", rc);
		append_draft(&s, &last.draft, s.last_ns + 2000);
		seal_segment(&s);
		if (o.empty_tail) {
			segment_open(&s, s.last_ns + 2000);
			if ((rc = cst_segw_close(s.w)) != 0)
				die(s.segpath, rc);
			s.w = NULL;
		}
	} else {
		if (o.partial_tail > 0) {
			/* A frame a collector is still writing. */
			last.ev_first = o.events;
			last.nev = 8;
			if ((rc = build_all(&o, &last, 1, 1)) != 0)
				die("build", rc);
			s.frame.len = 0;
			if ((rc = cst_block_finish(&last.draft, &s.st, s.key,
			    s.last_ns + 1000, &s.frame, NULL)) != 0)
				die("block", rc);
			if (o.partial_tail >= s.frame.len)
				o.partial_tail = s.frame.len - 1;
			if ((rc = cst_segw_append(s.w, s.frame.p,
			    (size_t)o.partial_tail)) != 0)
				die(s.segpath, rc);
		}
		if ((rc = cst_segw_close(s.w)) != 0)
			die(s.segpath, rc);
		s.w = NULL;
	}
	job_clear(&last);
	if (o.checkpoint_every > 0)
		write_checkpoint(&s, "latest.ckpt");
	if (o.secrets) {
		p = path_of(keydir, "epoch.key");
		if ((rc = cst_epoch_key_save(s.key, p)) != 0)
			die(p, rc);
		free(p);
	}

	cst_hex(chain_id, CST_CHAIN_ID_LEN, cid);
	cst_key_fingerprint_hex(s.root->pub.pk, fpr);
	cst_hex(s.st.prev_hash, CST_HASH_LEN, head);
	printf("chain %s root %s segments %" PRIu64 " blocks %" PRIu64
	    " records %" PRIu64 " epochs %" PRIu32 " head %s\n", cid, fpr,
	    s.st.segment_no + (o.unsealed || o.empty_tail ? 1 : 0),
	    s.st.next_block_no, s.st.next_seq, s.key->epoch, head);

	cst_epoch_key_free(s.key);
	cst_log_key_free(s.lk);
	cst_root_key_free(s.root);
	cst_buf_close(&s.frame);
	free(s.segpath);
	free(s.segdir);
	free(s.ckpdir);
	free(s.quardir);
	free(keydir);
	return (0);
}
