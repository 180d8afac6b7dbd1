/*
 * custody-query: fast, verified queries of a custody store.
 *
 * Verification comes before display.  The header chain of the whole store
 * is checked first without decompressing anything (query_store.c); then
 * only blocks whose header time and sequence ranges, and index entry, may
 * hold a match are opened, and opening one checks its payload hash, its
 * decompressed size, every record and its Merkle root (cst_block_open).
 * The records hash is left to custody-verify: the signed Merkle root over
 * records that fill the payload exactly already commits to every byte it
 * covers, and skipping it makes a full scan about a quarter faster.  A block that fails anywhere is reported on stderr
 * with its file, offset and number, its records are not shown, and the
 * exit status is 1.
 *
 * Blocks are opened on worker threads, a bounded window ahead of the
 * output, and printed in chain order by the main thread.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "custody/block.h"
#include "custody/bundle.h"
#include "custody/error.h"
#include "custody/format.h"
#include "custody/hash.h"
#include "custody/keys.h"
#include "custody/merkle.h"
#include "custody/record.h"
#include "custody/segment.h"

#include "exit.h"
#include "index.h"
#include "query.h"
#include "query_store.h"

#define MAX_THREADS 16
#define MAX_BUCKETS 100000

static const char *progname = "custody-query";

static volatile sig_atomic_t stopping;

struct opts {
	const char *dir;
	const char *root_file;
	struct query_filter f;
	enum query_format fmt;
	int count;
	uint64_t limit;       /* 0: none */
	int have_limit;
	int reverse;
	int follow;
	int64_t poll_ns;
	int64_t histogram;    /* bucket ns; 0: off */
	const char *bundle;
	int bundle_minimal;
	int use_index;
	int reindex;
	int threads;
	int verbose;
	char *note;
};

/* One block to open: a job of the worker pool. */
struct job {
	size_t bi;            /* index into store->blocks */
	int need_sum;         /* build its index entry while open */
	int rc;
	const char *rule;
	cst_buf out;          /* output of each matching record, back to back */
	size_t *ends;         /* end of each record's output in out */
	size_t nmatch;
	size_t cap;
	uint32_t *leaves;     /* for --bundle: each match's leaf index */
	cst_buf proofs;       /* for --bundle: record and path of each match */
	int64_t *times;       /* for --histogram */
	struct index_entry sum;
	int have_sum;
};

struct pool {
	struct opts *o;
	struct query_store *s;
	struct job *jobs;     /* window of W slots */
	size_t *order;        /* block indexes to open, in output order */
	int *need_sum;
	size_t njobs;
	size_t w;
	size_t next;
	size_t consumed;
	int *done;            /* per slot: job next - W .. next */
	int stop;
	pthread_mutex_t mu;
	pthread_cond_t cv_space;
	pthread_cond_t cv_done;
};

/* Coalesces consecutive failures of one kind into one loud line. */
struct reporter {
	int pending;
	char file[4096];
	uint64_t off;
	int64_t first, last;
	const char *rule;
	char what[256];
	int code;
	uint64_t count;
};

static struct reporter rep;

static void
rep_flush(void)
{

	if (!rep.pending)
		return;
	if (rep.first < 0)
		fprintf(stderr, "%s: INTEGRITY FAILURE: %s offset %llu (%s, "
		    "%s): %s\n", progname, rep.file,
		    (unsigned long long)rep.off, rep.rule,
		    cst_err_name(rep.code), rep.what);
	else if (rep.first == rep.last)
		fprintf(stderr, "%s: INTEGRITY FAILURE: %s offset %llu block "
		    "%lld (%s, %s): %s\n", progname, rep.file,
		    (unsigned long long)rep.off, (long long)rep.first,
		    rep.rule, cst_err_name(rep.code), rep.what);
	else
		fprintf(stderr, "%s: INTEGRITY FAILURE: %s from offset %llu "
		    "blocks %lld..%lld (%s, %s): %s\n", progname, rep.file,
		    (unsigned long long)rep.off, (long long)rep.first,
		    (long long)rep.last, rep.rule, cst_err_name(rep.code),
		    rep.what);
	rep.pending = 0;
}

static void
on_failure(void *arg, const char *file, uint64_t off, int64_t block_no,
    const char *rule, int code, const char *what)
{

	(void)arg;
	rep.count++;
	if (rep.pending && block_no >= 0 && rep.last >= 0 &&
	    block_no == rep.last + 1 && rep.rule == rule && rep.code == code &&
	    strcmp(rep.file, file) == 0 && strcmp(rep.what, what) == 0) {
		rep.last = block_no;
		return;
	}
	rep_flush();
	rep.pending = 1;
	snprintf(rep.file, sizeof(rep.file), "%s", file);
	snprintf(rep.what, sizeof(rep.what), "%s", what);
	rep.off = off;
	rep.first = rep.last = block_no;
	rep.rule = rule;
	rep.code = code;
}

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
}

static void
on_signal(int sig)
{

	(void)sig;
	stopping = 1;
}

static void
usage(FILE *f)
{

	fprintf(f,
"usage: %s DIR [filters] [output]\n"
"\n"
"Shows records of the custody store DIR after verifying them.\n"
"\n"
"Filters (different options combine with AND; a repeated --host, --app,\n"
"--peer, --severity, --facility or --kind accepts any of its values;\n"
"repeated --grep and --sd must all hold):\n"
"  -S, --since TIME       receive time >= TIME\n"
"  -U, --until TIME       receive time < TIME\n"
"      TIME: RFC 3339 (2024-05-01T12:00:00Z, offsets allowed; no zone\n"
"      means UTC), 'YYYY-MM-DD', now, today, yesterday, @SECONDS, or\n"
"      relative: -2h, +30min, 1h30min, '2 days ago' (no sign: the past)\n"
"  -H, --host NAME        hostname equals NAME\n"
"  -a, --app NAME         app-name (RFC 3164 tag) equals NAME\n"
"  -p, --severity S       one severity (err or 3) or a range\n"
"                         (warning..emerg); records without one never match\n"
"      --facility LIST    facility names or numbers, comma separated\n"
"      --seq A..B         sequence numbers A to B inclusive (A.., ..B, A)\n"
"      --peer ADDR        sender address, with or without its port\n"
"      --kind LIST        event, audit (all collector records), or start,\n"
"                         stop, recovery, key-epoch, loss, stats, clock,\n"
"                         reload\n"
"      --sd ID[.PARAM[=VALUE]]  RFC 5424 structured data\n"
"  -g, --grep TEXT        the raw message contains TEXT (repeat: all)\n"
"  -e, --regex PCRE2      the raw message matches the PCRE2 pattern\n"
"\n"
"Output:\n"
"  (default)              one line per record: receive time, host,\n"
"                         app[procid], severity, message; control bytes\n"
"                         are shown as \\xNN\n"
"  -j, --json             JSON lines (see --help-json)\n"
"      --raw              the exact bytes received, one record per line\n"
"  -c, --count            the number of matching records\n"
"  -n, --limit N          at most N records (with -f: the last N, then\n"
"                         follow; default 10)\n"
"  -r, --reverse          newest first\n"
"  -f, --follow           then show new records as they are sealed\n"
"      --interval DUR     poll interval of --follow (default 250ms,\n"
"                         50ms..10s)\n"
"      --histogram DUR    matching records per DUR as a bar chart\n"
"      --bundle FILE      write the matches as an evidence bundle (SPEC\n"
"                         section 11), joined up to the latest checkpoint\n"
"      --bundle-minimal   only the blocks that hold matches\n"
"\n"
"Other:\n"
"      --root FILE        root public key (default DIR/keys/root.pub)\n"
"      --no-index         do not use or build DIR/index/\n"
"      --reindex          rebuild the index of every segment\n"
"      --threads N        worker threads (default: online CPUs, max 16)\n"
"  -v, --verbose          say what was skipped and opened\n"
"\n"
"Exit status (the same scheme as custody-verify's):\n"
"  0  every record shown was verified and no failure was found\n"
"  1  integrity failure: reported on stderr; the failed blocks' records\n"
"     were not shown\n"
"  2  usage error, or the store, a key or an output could not be read or\n"
"     written\n", progname);
}

static void
usage_json(void)
{

	printf(
"JSON lines: one object per record, fields always present, in this order:\n"
"  seq        integer  sequence number in the chain\n"
"  block      integer  block number\n"
"  recv_ns    integer  receive time, ns since 1970 UTC\n"
"  recv_time  string   receive time, RFC 3339 UTC with 9 digits\n"
"  kind       string   event, start, stop, recovery, key-epoch, loss,\n"
"                      stats, clock, reload\n"
"  transport  string   internal, udp, tcp, tls, relp, unix\n"
"  listener   string\n"
"  peer       string   sender address\n"
"  tls_peer   string or null\n"
"  flags      integer  record flags (SPEC section 5)\n"
"  format     \"rfc5424\", \"rfc3164\" or null (did not parse)\n"
"  facility   integer or null\n"
"  severity   integer or null\n"
"  timestamp  string or null: the message's own time, RFC 3339 UTC\n"
"  host, app, procid, msgid, sd, msg: string or null (absent); derived\n"
"             from raw, invalid UTF-8 replaced by U+FFFD\n"
"  detail     object or null: a collector record's details\n"
"  raw        string: the exact bytes received, when they are valid UTF-8;\n"
"  raw_base64 string: instead of raw, base64 (RFC 4648) of the bytes\n"
"             when they are not\n");
}

static int
parse_u64(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	if (s[0] < '0' || s[0] > '9')
		return (-1);
	*out = strtoull(s, &end, 10);
	return (errno != 0 || *end != '\0' ? -1 : 0);
}

enum {
	OPT_FACILITY = 256, OPT_SEQ, OPT_PEER, OPT_KIND, OPT_SD, OPT_RAW,
	OPT_HISTOGRAM, OPT_BUNDLE, OPT_BUNDLE_MIN, OPT_ROOT, OPT_NO_INDEX,
	OPT_REINDEX, OPT_THREADS, OPT_INTERVAL, OPT_HELP_JSON,
};

static const struct option longopts[] = {
	{ "since", required_argument, NULL, 'S' },
	{ "until", required_argument, NULL, 'U' },
	{ "host", required_argument, NULL, 'H' },
	{ "app", required_argument, NULL, 'a' },
	{ "severity", required_argument, NULL, 'p' },
	{ "priority", required_argument, NULL, 'p' },
	{ "facility", required_argument, NULL, OPT_FACILITY },
	{ "seq", required_argument, NULL, OPT_SEQ },
	{ "peer", required_argument, NULL, OPT_PEER },
	{ "kind", required_argument, NULL, OPT_KIND },
	{ "sd", required_argument, NULL, OPT_SD },
	{ "grep", required_argument, NULL, 'g' },
	{ "regex", required_argument, NULL, 'e' },
	{ "json", no_argument, NULL, 'j' },
	{ "raw", no_argument, NULL, OPT_RAW },
	{ "count", no_argument, NULL, 'c' },
	{ "limit", required_argument, NULL, 'n' },
	{ "reverse", no_argument, NULL, 'r' },
	{ "follow", no_argument, NULL, 'f' },
	{ "interval", required_argument, NULL, OPT_INTERVAL },
	{ "histogram", required_argument, NULL, OPT_HISTOGRAM },
	{ "bundle", required_argument, NULL, OPT_BUNDLE },
	{ "bundle-minimal", no_argument, NULL, OPT_BUNDLE_MIN },
	{ "root", required_argument, NULL, OPT_ROOT },
	{ "no-index", no_argument, NULL, OPT_NO_INDEX },
	{ "reindex", no_argument, NULL, OPT_REINDEX },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "help-json", no_argument, NULL, OPT_HELP_JSON },
	{ NULL, 0, NULL, 0 },
};

static int
bad(const char *opt, const char *arg)
{

	fprintf(stderr, "%s: invalid %s: '%s'\n", progname, opt, arg);
	return (-1);
}

/* The command line, as the bundle's note: what selected the records. */
static char *
join_args(int argc, char **argv)
{
	size_t len = 1;
	char *s;
	int i;

	for (i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	if ((s = malloc(len)) == NULL)
		return (NULL);
	s[0] = '\0';
	for (i = 0; i < argc; i++) {
		if (i > 0)
			strcat(s, " ");
		strcat(s, argv[i]);
	}
	return (s);
}

static int
parse_opts(int argc, char **argv, struct opts *o)
{
	struct query_filter *f = &o->f;
	char err[300];
	int64_t t, nowt = now_ns();
	uint64_t u;
	long n;
	int c;

	memset(o, 0, sizeof(*o));
	query_filter_init(f);
	o->fmt = QUERY_TEXT;
	o->use_index = 1;
	o->poll_ns = 250000000;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	o->threads = n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (int)n;
	while ((c = getopt_long(argc, argv, "S:U:H:a:p:g:e:jcn:rfvh", longopts,
	    NULL)) != -1) {
		switch (c) {
		case 'S':
			if (query_time_parse(optarg, nowt, &f->since) != 0)
				return (bad("--since", optarg));
			break;
		case 'U':
			if (query_time_parse(optarg, nowt, &f->until) != 0)
				return (bad("--until", optarg));
			break;
		case 'H':
			if (query_filter_add(&f->hosts, &f->nhosts, optarg))
				return (-1);
			break;
		case 'a':
			if (query_filter_add(&f->apps, &f->napps, optarg))
				return (-1);
			break;
		case 'p':
			if (query_filter_severity(f, optarg) != 0)
				return (bad("--severity", optarg));
			break;
		case OPT_FACILITY:
			if (query_filter_facility(f, optarg) != 0)
				return (bad("--facility", optarg));
			break;
		case OPT_SEQ:
			if (query_filter_seq(f, optarg) != 0)
				return (bad("--seq", optarg));
			break;
		case OPT_PEER:
			if (query_filter_add(&f->peers, &f->npeers, optarg))
				return (-1);
			break;
		case OPT_KIND:
			if (query_filter_kind(f, optarg) != 0)
				return (bad("--kind", optarg));
			break;
		case OPT_SD:
			if (query_filter_sd(f, optarg) != 0)
				return (bad("--sd", optarg));
			break;
		case 'g':
			if (optarg[0] == '\0')
				return (bad("--grep", optarg));
			if (query_filter_add(&f->greps, &f->ngreps, optarg))
				return (-1);
			break;
		case 'e':
			if (f->re != NULL) {
				fprintf(stderr, "%s: one --regex only\n",
				    progname);
				return (-1);
			}
			if (query_filter_regex(f, optarg, err,
			    sizeof(err)) != 0) {
				fprintf(stderr, "%s: --regex: %s\n", progname,
				    err);
				return (-1);
			}
			break;
		case 'j':
			o->fmt = QUERY_JSON;
			break;
		case OPT_RAW:
			o->fmt = QUERY_RAW;
			break;
		case 'c':
			o->count = 1;
			break;
		case 'n':
			if (parse_u64(optarg, &o->limit) != 0)
				return (bad("--limit", optarg));
			o->have_limit = 1;
			break;
		case 'r':
			o->reverse = 1;
			break;
		case 'f':
			o->follow = 1;
			break;
		case OPT_INTERVAL:
			if (query_time_duration(optarg, &t) != 0 ||
			    t < 50000000 || t > 10000000000LL)
				return (bad("--interval", optarg));
			o->poll_ns = t;
			break;
		case OPT_HISTOGRAM:
			if (query_time_duration(optarg, &o->histogram) != 0)
				return (bad("--histogram", optarg));
			break;
		case OPT_BUNDLE:
			o->bundle = optarg;
			break;
		case OPT_BUNDLE_MIN:
			o->bundle_minimal = 1;
			break;
		case OPT_ROOT:
			o->root_file = optarg;
			break;
		case OPT_NO_INDEX:
			o->use_index = 0;
			break;
		case OPT_REINDEX:
			o->reindex = 1;
			break;
		case OPT_THREADS:
			if (parse_u64(optarg, &u) != 0 || u < 1 ||
			    u > MAX_THREADS)
				return (bad("--threads", optarg));
			o->threads = (int)u;
			break;
		case 'v':
			o->verbose = 1;
			break;
		case 'h':
			usage(stdout);
			exit(EXIT_OK);
		case OPT_HELP_JSON:
			usage_json();
			exit(EXIT_OK);
		default:
			return (-1);
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "%s: one store directory expected\n", progname);
		return (-1);
	}
	o->dir = argv[optind];
	if (f->since >= f->until) {
		fprintf(stderr, "%s: --since is not before --until\n",
		    progname);
		return (-1);
	}
	if ((o->count != 0) + (o->histogram != 0) + (o->bundle != NULL) +
	    o->follow > 1) {
		fprintf(stderr, "%s: --count, --histogram, --bundle and "
		    "--follow exclude each other\n", progname);
		return (-1);
	}
	if (o->bundle != NULL && o->reverse) {
		fprintf(stderr, "%s: a bundle is written in chain order; drop "
		    "--reverse\n", progname);
		return (-1);
	}
	if (o->follow && !o->have_limit)
		o->limit = 10;
	if (o->reindex && !o->use_index) {
		fprintf(stderr, "%s: --reindex and --no-index exclude each "
		    "other\n", progname);
		return (-1);
	}
	if (o->bundle != NULL && (o->note = join_args(argc, argv)) == NULL)
		return (-1);
	return (0);
}

static void
job_reset(struct job *j)
{

	j->rc = 0;
	j->rule = NULL;
	j->out.len = 0;
	j->nmatch = 0;
	j->proofs.len = 0;
	j->have_sum = 0;
}

static void
job_close(struct job *j)
{

	cst_buf_close(&j->out);
	cst_buf_close(&j->proofs);
	free(j->ends);
	free(j->leaves);
	free(j->times);
	if (j->have_sum)
		index_entry_close(&j->sum);
}

static int
job_grow(struct job *j)
{
	size_t cap = j->cap == 0 ? 256 : 2 * j->cap;
	size_t *e;
	uint32_t *l;
	int64_t *t;

	if ((e = realloc(j->ends, cap * sizeof(*e))) == NULL)
		return (CST_ENOMEM);
	j->ends = e;
	if ((l = realloc(j->leaves, cap * sizeof(*l))) == NULL)
		return (CST_ENOMEM);
	j->leaves = l;
	if ((t = realloc(j->times, cap * sizeof(*t))) == NULL)
		return (CST_ENOMEM);
	j->times = t;
	j->cap = cap;
	return (0);
}

/* One matching record into the job, in the form the output needs. */
static int
job_match(struct job *j, const struct opts *o, cst_opener *op, size_t i,
    const cst_record *r, const cst_bytes *enc, uint64_t block_no)
{
	uint8_t path[CST_MERKLE_MAX_DEPTH][CST_HASH_LEN];
	uint32_t hdr[2];
	size_t plen;
	int rc;

	if (j->nmatch == j->cap && (rc = job_grow(j)) != 0)
		return (rc);
	j->leaves[j->nmatch] = (uint32_t)i;
	j->times[j->nmatch] = r->recv_ns;
	if (o->bundle != NULL) {
		if ((rc = cst_merkle_path(cst_opener_leaves(op),
		    cst_opener_count(op), i, path, &plen)) != 0)
			return (rc);
		hdr[0] = (uint32_t)enc->len;
		hdr[1] = (uint32_t)plen;
		if ((rc = cst_buf_append(&j->proofs, hdr, sizeof(hdr))) != 0 ||
		    (rc = cst_buf_append(&j->proofs, enc->p, enc->len)) != 0 ||
		    (rc = cst_buf_append(&j->proofs, path,
		    plen * CST_HASH_LEN)) != 0)
			return (rc);
	} else if (!o->count && o->histogram == 0 &&
	    (rc = query_out_record(&j->out, o->fmt, r, block_no)) != 0) {
		return (rc);
	}
	j->ends[j->nmatch++] = j->out.len;
	return (0);
}

/* Opens one block (every payload check) and collects its matches. */
static void
run_job(struct pool *p, struct job *j, cst_opener *op, pcre2_match_data *md)
{
	const struct query_block *b = &p->s->blocks[j->bi];
	const struct opts *o = p->o;
	struct index_builder ib;
	cst_record r;
	cst_bytes enc;
	const uint8_t *raw;
	size_t n, k, i, rawlen;
	int scan, rc;

	if ((rc = cst_block_open(op, &b->f, &j->rule)) != 0) {
		j->rc = rc;
		if (j->rule == NULL)
			j->rule = "R-BLK-4";
		return;
	}
	n = cst_opener_count(op);
	raw = cst_opener_raw(op, &rawlen);
	scan = query_filter_payload(&o->f, raw, rawlen);
	if (j->need_sum)
		index_builder_init(&ib, b->f.hdr.block_no, b->f.block_hash);
	for (k = 0; k < n && (scan || j->need_sum); k++) {
		i = o->reverse ? n - 1 - k : k;
		if ((rc = cst_opener_record(op, i, &r, &enc)) != 0)
			break;
		if (j->need_sum)
			index_builder_add(&ib, &r);
		if (scan && query_filter_match(&o->f, &r, md) &&
		    (rc = job_match(j, o, op, i, &r, &enc,
		    b->f.hdr.block_no)) != 0)
			break;
	}
	if (j->need_sum) {
		if (rc == 0 && index_builder_finish(&ib, &j->sum) == 0)
			j->have_sum = 1;
		else if (rc != 0)
			free(ib.items);
	}
	if (rc != 0) {
		j->rc = rc;
		j->rule = "R-BLK-5";
	}
}

static void *
worker(void *arg)
{
	struct pool *p = arg;
	pcre2_match_data *md = NULL;
	cst_opener *op;
	struct job *j;
	size_t k;

	if ((op = cst_opener_new()) == NULL)
		return (NULL);
	cst_opener_skip_records_hash(op, 1);
	if (p->o->f.re != NULL &&
	    (md = pcre2_match_data_create_from_pattern(p->o->f.re, NULL)) ==
	    NULL) {
		cst_opener_free(op);
		return (NULL);
	}
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && p->next < p->njobs &&
		    p->next >= p->consumed + p->w)
			pthread_cond_wait(&p->cv_space, &p->mu);
		if (p->stop || p->next >= p->njobs)
			break;
		k = p->next++;
		j = &p->jobs[k % p->w];
		pthread_mutex_unlock(&p->mu);
		if (j->have_sum)
			index_entry_close(&j->sum);
		job_reset(j);
		j->bi = p->order[k];
		j->need_sum = p->need_sum[k];
		run_job(p, j, op, md);
		pthread_mutex_lock(&p->mu);
		p->done[k % p->w] = 1;
		pthread_cond_broadcast(&p->cv_done);
	}
	pthread_mutex_unlock(&p->mu);
	pcre2_match_data_free(md);
	cst_opener_free(op);
	return (NULL);
}

/* What the main thread does with the jobs, in order. */
struct sink {
	struct opts *o;
	struct query_store *s;
	uint64_t shown;       /* matches output or counted */
	uint64_t opened;
	int full;             /* --limit reached */
	/* --follow's first screen: the newest N, printed oldest first. */
	int tail;
	cst_buf tailbuf;
	size_t *tailends;
	size_t ntail;
	size_t tailcap;
	/* --histogram */
	int64_t h_lo;
	uint64_t *buckets;
	size_t nbuckets;
	/* --bundle */
	cst_bundle_writer *bw;
	size_t last_bundled;  /* store index + 1 of the last block added */
	uint64_t brecords;
	/* index entries built, per store block (owned) */
	struct index_entry *sums;
	int *have_sum;
};

static int
tail_add(struct sink *k, const uint8_t *p, size_t len)
{
	size_t *n, cap;
	int rc;

	if (k->ntail == k->tailcap) {
		cap = k->tailcap == 0 ? 64 : 2 * k->tailcap;
		if ((n = realloc(k->tailends, cap * sizeof(*n))) == NULL)
			return (CST_ENOMEM);
		k->tailends = n;
		k->tailcap = cap;
	}
	if ((rc = cst_buf_append(&k->tailbuf, p, len)) != 0)
		return (rc);
	k->tailends[k->ntail++] = k->tailbuf.len;
	return (0);
}

static int
bundle_block(struct sink *k, size_t bi)
{
	int rc;

	if ((rc = cst_bundle_writer_block(k->bw, &k->s->blocks[bi].f)) != 0)
		return (rc);
	k->last_bundled = bi + 1;
	return (0);
}

/* Joins the bundle's run up to block `upto` (store index, exclusive). */
static int
bundle_join(struct sink *k, size_t upto)
{
	size_t i;
	int rc;

	if (k->o->bundle_minimal || k->last_bundled == 0 || k->s->failures > 0)
		return (0);
	for (i = k->last_bundled; i < upto; i++)
		if ((rc = bundle_block(k, i)) != 0)
			return (rc);
	return (0);
}

static int
consume(struct sink *k, struct job *j)
{
	const struct query_block *b = &k->s->blocks[j->bi];
	const uint8_t *pp;
	uint32_t hdr[2];
	size_t i, start, n;
	int64_t bk;
	int rc;

	k->opened++;
	if (j->rc != 0) {
		on_failure(NULL, k->s->segs[b->seg].path, b->off,
		    (int64_t)b->f.hdr.block_no, j->rule, j->rc,
		    "payload does not match its signed header; block not shown");
		k->s->failures++;
		return (0);
	}
	if (j->have_sum) {
		k->sums[j->bi] = j->sum;
		k->have_sum[j->bi] = 1;
		j->have_sum = 0;
	}
	n = j->nmatch;
	if (k->o->have_limit || k->o->follow) {
		if (k->shown >= k->o->limit) {
			k->full = 1;
			return (0);
		}
		if (n > k->o->limit - k->shown)
			n = (size_t)(k->o->limit - k->shown);
	}
	if (n == 0)
		return (0);
	if (k->bw != NULL) {
		if ((rc = bundle_join(k, j->bi)) != 0 ||
		    (rc = bundle_block(k, j->bi)) != 0)
			return (rc);
		pp = j->proofs.p;
		for (i = 0; i < n; i++) {
			memcpy(hdr, pp, sizeof(hdr));
			if ((rc = cst_bundle_writer_record(k->bw, j->leaves[i],
			    pp + sizeof(hdr), hdr[0],
			    cst_hash_rows(pp + sizeof(hdr) + hdr[0]),
			    hdr[1])) != 0)
				return (rc);
			pp += sizeof(hdr) + hdr[0] + (size_t)hdr[1] *
			    CST_HASH_LEN;
		}
		k->brecords += n;
	} else if (k->buckets != NULL) {
		for (i = 0; i < n; i++) {
			bk = (j->times[i] - k->h_lo) / k->o->histogram;
			if (j->times[i] >= k->h_lo && bk >= 0 &&
			    (size_t)bk < k->nbuckets)
				k->buckets[bk]++;
		}
	} else if (k->tail) {
		for (i = 0, start = 0; i < n; i++) {
			if ((rc = tail_add(k, j->out.p + start,
			    j->ends[i] - start)) != 0)
				return (rc);
			start = j->ends[i];
		}
	} else if (!k->o->count && n > 0) {
		if (fwrite(j->out.p, 1, j->ends[n - 1], stdout) !=
		    j->ends[n - 1])
			return (CST_EIO);
	}
	k->shown += n;
	if ((k->o->have_limit || k->o->follow) && k->shown >= k->o->limit)
		k->full = 1;
	return (0);
}

/* Opens order[0..n) on the workers and consumes them in order. */
static int
run_pool(struct opts *o, struct query_store *s, size_t *order,
    int *need_sum, size_t n, struct sink *k)
{
	pthread_t t[MAX_THREADS];
	struct pool p;
	size_t i;
	int nt = 0, rc = 0;

	if (n == 0)
		return (0);
	memset(&p, 0, sizeof(p));
	p.o = o;
	p.s = s;
	p.order = order;
	p.need_sum = need_sum;
	p.njobs = n;
	p.w = 2 * (size_t)o->threads + 2;
	if ((p.jobs = calloc(p.w, sizeof(*p.jobs))) == NULL ||
	    (p.done = calloc(p.w, sizeof(*p.done))) == NULL) {
		free(p.jobs);
		return (CST_ENOMEM);
	}
	pthread_mutex_init(&p.mu, NULL);
	pthread_cond_init(&p.cv_space, NULL);
	pthread_cond_init(&p.cv_done, NULL);
	for (i = 0; i < (size_t)o->threads; i++)
		if (pthread_create(&t[nt], NULL, worker, &p) == 0)
			nt++;
	if (nt == 0)
		rc = CST_ENOMEM;
	for (i = 0; rc == 0 && i < n; i++) {
		pthread_mutex_lock(&p.mu);
		while (!p.done[i % p.w])
			pthread_cond_wait(&p.cv_done, &p.mu);
		p.done[i % p.w] = 0;
		pthread_mutex_unlock(&p.mu);
		rc = consume(k, &p.jobs[i % p.w]);
		pthread_mutex_lock(&p.mu);
		p.consumed = i + 1;
		if (k->full || stopping)
			p.stop = 1;
		pthread_cond_broadcast(&p.cv_space);
		pthread_mutex_unlock(&p.mu);
		if (k->full || stopping)
			break;
	}
	pthread_mutex_lock(&p.mu);
	p.stop = 1;
	pthread_cond_broadcast(&p.cv_space);
	pthread_mutex_unlock(&p.mu);
	for (i = 0; i < (size_t)nt; i++)
		pthread_join(t[i], NULL);
	for (i = 0; i < p.w; i++)
		job_close(&p.jobs[i]);
	free(p.jobs);
	free(p.done);
	pthread_mutex_destroy(&p.mu);
	pthread_cond_destroy(&p.cv_space);
	pthread_cond_destroy(&p.cv_done);
	return (rc);
}

/* Per segment: its loaded index, or why there is none. */
struct segidx {
	struct index_seg *x;
	int tried;
};

/*
 * Chooses the blocks to open: proven, in range by their headers, and not
 * excluded by a valid index entry.  Fills need_sum for blocks whose
 * segment lacks a valid entry, so that the index is rebuilt as a side
 * effect of opening them.
 */
static int
select_blocks(struct opts *o, struct query_store *s, const uint8_t *key,
    struct segidx *sx, size_t *order, int *need_sum, size_t *n,
    uint64_t *skipped_idx)
{
	const struct query_block *b;
	const struct index_entry *e;
	struct segidx *g;
	size_t i, k, m = 0;
	int use = key != NULL && query_filter_uses_index(&o->f);

	for (k = 0; k < s->nblocks; k++) {
		i = o->reverse ? s->nblocks - 1 - k : k;
		b = &s->blocks[i];
		if (b->rc != 0)
			continue;
		e = NULL;
		if (key != NULL) {
			g = &sx[b->seg];
			if (!g->tried) {
				g->tried = 1;
				if (!o->reindex)
					(void)index_seg_load(s->dir,
					    s->segs[b->seg].number,
					    s->root.chain_id, key, &g->x);
			}
			if (g->x != NULL)
				e = index_seg_find(g->x, b->f.hdr.block_no,
				    b->f.block_hash);
		}
		need_sum[m] = key != NULL && e == NULL &&
		    b->f.hdr.type == CST_BLOCK_DATA;
		if (!o->reindex && !query_filter_block(&o->f, &b->f.hdr))
			continue;
		if (o->reindex && b->f.hdr.type != CST_BLOCK_DATA)
			continue;
		if (use && e != NULL && !index_may_match(e, &o->f)) {
			(*skipped_idx)++;
			continue;
		}
		order[m++] = i;
	}
	*n = m;
	return (0);
}

/*
 * Writes the index of each segment whose every data block now has an
 * entry (loaded and still valid, or built by this run) and that lacked
 * one.
 */
static void
save_indexes(struct opts *o, struct query_store *s, const uint8_t *key,
    struct segidx *sx, struct sink *k)
{
	struct index_entry *es, seal;
	const struct index_entry *e;
	const struct query_block *b;
	size_t si, i, lo, hi, m;
	int complete, changed;

	memset(&seal, 0, sizeof(seal));
	for (si = 0, lo = 0; si < s->nsegs; si++, lo = hi) {
		for (hi = lo; hi < s->nblocks && s->blocks[hi].seg == si; hi++)
			;
		if (hi == lo)
			continue;
		if ((es = calloc(hi - lo, sizeof(*es))) == NULL)
			return;
		complete = 1;
		changed = sx[si].x == NULL;
		for (i = lo, m = 0; i < hi && complete; i++) {
			b = &s->blocks[i];
			if (b->rc != 0) {
				complete = 0;
				break;
			}
			e = sx[si].x != NULL ? index_seg_find(sx[si].x,
			    b->f.hdr.block_no, b->f.block_hash) : NULL;
			if (k->have_sum[i]) {
				es[m++] = k->sums[i];
				changed = 1;
			} else if (e != NULL) {
				es[m++] = *e;
			} else if (b->f.hdr.type == CST_BLOCK_SEAL) {
				/* A seal holds no records: nothing to open. */
				es[m] = seal;
				es[m].block_no = b->f.hdr.block_no;
				memcpy(es[m].hash, b->f.block_hash,
				    CST_HASH_LEN);
				es[m].bloom_len = 64;
				es[m].bloom = (uint8_t *)(uintptr_t)
				    "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
				    "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
				    "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
				    "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";
				m++;
			} else {
				complete = 0;
			}
		}
		if (complete && changed && m > 0 &&
		    index_seg_save(s->dir, s->segs[si].number,
		    s->root.chain_id, key, es, m) != 0 && o->verbose)
			fprintf(stderr, "%s: cannot write the index of %s\n",
			    progname, s->segs[si].path);
		free(es);
	}
}

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

static void
print_histogram(const struct sink *k, int64_t step)
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

static int
setup_histogram(struct opts *o, struct query_store *s, size_t *order,
    size_t n, struct sink *k)
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

static int
load_root(struct opts *o, cst_root_pub *root)
{
	char path[4096];
	int rc;

	if (o->root_file != NULL)
		snprintf(path, sizeof(path), "%s", o->root_file);
	else
		snprintf(path, sizeof(path), "%s/keys/root.pub", o->dir);
	if ((rc = cst_root_pub_load(path, root)) != 0) {
		fprintf(stderr, "%s: %s: %s\n", progname, path,
		    cst_strerror(rc));
		return (-1);
	}
	return (0);
}

static int
write_file(const char *path, const uint8_t *p, size_t len)
{
	char tmp[4200];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((f = fopen(tmp, "wbx")) == NULL)
		return (-1);
	if (fwrite(p, 1, len, f) != len || fflush(f) != 0 ||
	    fsync(fileno(f)) != 0) {
		fclose(f);
		unlink(tmp);
		return (-1);
	}
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		unlink(tmp);
		return (-1);
	}
	return (0);
}

/* Finishes the bundle: join to the checkpoint, write, check it back. */
static int
finish_bundle(struct opts *o, struct query_store *s, struct sink *k)
{
	const struct query_block *b;
	cst_bundle_info info;
	uint8_t digest[CST_HASH_LEN];
	char path[4096], hex[2 * CST_HASH_LEN + 1];
	cst_buf out;
	cst_map m;
	size_t i;
	int rc;

	if (k->brecords == 0) {
		fprintf(stderr, "%s: no record matched: no bundle written\n",
		    progname);
		return (-1);
	}
	if (s->have_ckp && s->ckp.blocks > 0) {
		for (i = k->last_bundled; i < s->nblocks; i++) {
			b = &s->blocks[i];
			if (b->f.hdr.block_no == s->ckp.blocks - 1) {
				if ((rc = bundle_join(k, i + 1)) != 0)
					goto err;
				break;
			}
		}
		snprintf(path, sizeof(path), "%s/checkpoints/latest.ckpt",
		    o->dir);
		if (cst_map_open(path, &m) == 0) {
			rc = cst_bundle_writer_checkpoint(k->bw,
			    (const char *)m.p, m.len);
			cst_map_close(&m);
			if (rc != 0)
				goto err;
		}
	}
	cst_buf_init(&out);
	if ((rc = cst_bundle_writer_finish(k->bw, &out, digest)) != 0) {
		cst_buf_close(&out);
		goto err;
	}
	/* What we hand an investigator must pass what they will run. */
	if ((rc = cst_bundle_verify(out.p, out.len, &s->root, NULL, NULL,
	    &info)) != 0) {
		fprintf(stderr, "%s: the bundle does not verify (%s, %s): not "
		    "written\n", progname, info.rule != NULL ? info.rule : "-",
		    cst_err_name(rc));
		cst_buf_close(&out);
		return (-1);
	}
	if (write_file(o->bundle, out.p, out.len) != 0) {
		fprintf(stderr, "%s: %s: %s\n", progname, o->bundle,
		    strerror(errno));
		cst_buf_close(&out);
		return (-1);
	}
	cst_hex(digest, CST_HASH_LEN, hex);
	fprintf(stderr, "%s: wrote %s: %u records from %u blocks (%u runs, "
	    "%u anchored by a checkpoint), %zu bytes, digest %s\n", progname,
	    o->bundle, info.record_count, info.block_count, info.runs,
	    info.anchored_runs, out.len, hex);
	cst_buf_close(&out);
	return (0);

err:
	fprintf(stderr, "%s: cannot make the bundle: %s\n", progname,
	    cst_strerror(rc));
	return (-1);
}

/* Prints --follow's first screen, held back to be shown oldest first. */
static void
flush_tail(struct sink *k)
{
	size_t i, start;

	for (i = k->ntail; i > 0; i--) {
		start = i > 1 ? k->tailends[i - 2] : 0;
		fwrite(k->tailbuf.p + start, 1, k->tailends[i - 1] - start,
		    stdout);
	}
	k->ntail = 0;
	k->tailbuf.len = 0;
}

static int
follow(struct opts *o, struct query_store *s)
{
	struct sink k;
	struct timespec ts;
	size_t *order = NULL, n, cap = 0;
	int *need = NULL;
	uint64_t skipped = 0;
	int rc = 0;

	memset(&k, 0, sizeof(k));
	k.o = o;
	k.s = s;
	o->have_limit = 0;
	o->follow = 0;
	o->reverse = 0;
	while (!stopping) {
		ts.tv_sec = (time_t)(o->poll_ns / 1000000000);
		ts.tv_nsec = (long)(o->poll_ns % 1000000000);
		nanosleep(&ts, NULL);
		if (stopping)
			break;
		if ((rc = query_store_poll(s)) != 0)
			break;
		rep_flush();
		if (s->nblocks == 0)
			continue;
		if (s->nblocks > cap) {
			free(order);
			free(need);
			cap = s->nblocks;
			order = calloc(cap, sizeof(*order));
			need = calloc(cap, sizeof(*need));
			if (order == NULL || need == NULL) {
				rc = CST_ENOMEM;
				break;
			}
		}
		select_blocks(o, s, NULL, NULL, order, need, &n, &skipped);
		if ((rc = run_pool(o, s, order, need, n, &k)) != 0)
			break;
		rep_flush();
		fflush(stdout);
	}
	free(order);
	free(need);
	return (rc);
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct query_store *s = NULL;
	struct segidx *sx = NULL;
	struct sink k;
	struct sigaction sa;
	cst_root_pub root;
	uint8_t keybuf[INDEX_KEY_LEN], *key = NULL;
	size_t *order = NULL, n = 0, i;
	int *need = NULL, rc, status = EXIT_OK;
	uint64_t skipped = 0;
	static char obuf[1 << 20];

	memset(&k, 0, sizeof(k));
	if (sodium_init() < 0) {
		fprintf(stderr, "%s: libsodium failed to start\n", progname);
		return (EXIT_IO);
	}
	if (parse_opts(argc, argv, &o) != 0) {
		fprintf(stderr, "Try '%s --help'.\n", progname);
		return (EXIT_USAGE);
	}
	setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (load_root(&o, &root) != 0) {
		status = EXIT_IO;
		goto done;
	}
	if ((rc = query_store_open(o.dir, &root, o.threads, on_failure, NULL,
	    &s)) != 0) {
		fprintf(stderr, "%s: %s: %s\n", progname, o.dir,
		    cst_strerror(rc));
		status = EXIT_IO;
		goto done;
	}
	rep_flush();
	if (o.use_index && index_key_load(keybuf) == 0)
		key = keybuf;
	else if (o.use_index && o.verbose)
		fprintf(stderr, "%s: no index key: running without the index\n",
		    progname);
	if ((order = calloc(s->nblocks + 1, sizeof(*order))) == NULL ||
	    (need = calloc(s->nblocks + 1, sizeof(*need))) == NULL ||
	    (sx = calloc(s->nsegs + 1, sizeof(*sx))) == NULL ||
	    (k.sums = calloc(s->nblocks + 1, sizeof(*k.sums))) == NULL ||
	    (k.have_sum = calloc(s->nblocks + 1, sizeof(*k.have_sum))) ==
	    NULL) {
		fprintf(stderr, "%s: out of memory\n", progname);
		status = EXIT_IO;
		goto done;
	}
	k.o = &o;
	k.s = s;
	if (o.follow) {
		/* The newest N: walk backwards, print forwards. */
		k.tail = 1;
		o.reverse = !o.reverse;
	}
	select_blocks(&o, s, key, sx, order, need, &n, &skipped);
	if (o.verbose)
		fprintf(stderr, "%s: %zu blocks in %zu segments; opening %zu "
		    "(%llu skipped by the index)\n", progname, s->nblocks,
		    s->nsegs, n, (unsigned long long)skipped);
	if (o.histogram != 0 && setup_histogram(&o, s, order, n, &k) != 0) {
		status = EXIT_USAGE;
		goto done;
	}
	if (o.bundle != NULL && ((rc = cst_bundle_writer_new(root.chain_id,
	    now_ns(), o.note, strlen(o.note), &k.bw)) != 0 ||
	    (rc = cst_bundle_writer_certs(k.bw, s->certs,
	    s->nepochs > 0 ? s->nepochs : 1)) != 0)) {
		fprintf(stderr, "%s: cannot start the bundle: %s\n", progname,
		    cst_strerror(rc));
		status = EXIT_IO;
		goto done;
	}
	if ((rc = run_pool(&o, s, order, need, n, &k)) != 0) {
		fprintf(stderr, "%s: %s\n", progname, cst_strerror(rc));
		status = EXIT_IO;
	}
	rep_flush();
	if (key != NULL && !o.follow)
		save_indexes(&o, s, key, sx, &k);
	if (status == EXIT_OK && o.count)
		printf("%llu\n", (unsigned long long)k.shown);
	if (status == EXIT_OK && k.buckets != NULL)
		print_histogram(&k, o.histogram);
	if (status == EXIT_OK && k.bw != NULL && finish_bundle(&o, s, &k) != 0)
		status = EXIT_IO;
	if (k.tail) {
		flush_tail(&k);
		o.reverse = !o.reverse;
	}
	if (fflush(stdout) != 0 && status == EXIT_OK)
		status = EXIT_IO;
	if (o.follow && status == EXIT_OK && follow(&o, s) != 0)
		status = EXIT_IO;
	if (status == EXIT_OK && s->failures > 0)
		status = EXIT_INTEGRITY;
	if (s->failures > 0) {
		rep_flush();
		fprintf(stderr, "%s: %llu integrity failure(s): the records of "
		    "failed blocks were not shown; run custody-verify for a "
		    "full report\n", progname,
		    (unsigned long long)s->failures);
	}

done:
	if (sx != NULL && s != NULL)
		for (i = 0; i < s->nsegs; i++)
			index_seg_free(sx[i].x);
	if (k.sums != NULL && s != NULL)
		for (i = 0; i < s->nblocks; i++)
			if (k.have_sum[i])
				index_entry_close(&k.sums[i]);
	free(sx);
	free(k.sums);
	free(k.have_sum);
	free(k.buckets);
	free(k.tailends);
	cst_buf_close(&k.tailbuf);
	cst_bundle_writer_free(k.bw);
	free(order);
	free(need);
	query_store_free(s);
	query_filter_close(&o.f);
	free(o.note);
	return (status);
}
