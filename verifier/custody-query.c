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
 * covers, and skipping it makes a full scan about a quarter faster.  A
 * block that fails anywhere is reported on stderr with its file, offset
 * and number, its records are not shown, and the exit status is 1.
 *
 * Blocks are opened on worker threads, a bounded window ahead of the
 * output, and printed in chain order by the main thread (query_pool.c);
 * query_cli.h names the other stages.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "custody/block.h"
#include "custody/buf.h"
#include "custody/bundle.h"
#include "custody/error.h"
#include "custody/mapguard.h"
#include "custody/hash.h"
#include "custody/keys.h"

#include "access.h"
#include "caserec.h"
#include "exit.h"
#include "index.h"
#include "query_runs.h"
#include "json.h"
#include "root_dir.h"
#include "query.h"
#include "query_cli.h"
#include "query_store.h"
#include "store_where.h"

static const char progname[] = QUERY_PROGNAME;

static volatile sig_atomic_t stopping;

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
/* Several stores' producers report from their own threads. */
static pthread_mutex_t rep_mu = PTHREAD_MUTEX_INITIALIZER;

static void
rep_flush_locked(void)
{
	const char *name = "(out of memory)";
	cst_buf b;

	if (!rep.pending)
		return;
	/* A segment's name is the store's, untrusted (json.h). */
	cst_buf_init(&b);
	if (json_text_escape(&b, (const uint8_t *)rep.file,
	    strlen(rep.file)) == 0 && cst_buf_append(&b, "", 1) == 0)
		name = (const char *)b.p;
	if (rep.first < 0)
		fprintf(stderr, "%s: INTEGRITY FAILURE: %s offset %llu (%s, "
		    "%s): %s\n", progname, name,
		    (unsigned long long)rep.off, rep.rule,
		    cst_err_name(rep.code), rep.what);
	else if (rep.first == rep.last)
		fprintf(stderr, "%s: INTEGRITY FAILURE: %s offset %llu block "
		    "%lld (%s, %s): %s\n", progname, name,
		    (unsigned long long)rep.off, (long long)rep.first,
		    rep.rule, cst_err_name(rep.code), rep.what);
	else
		fprintf(stderr, "%s: INTEGRITY FAILURE: %s from offset %llu "
		    "blocks %lld..%lld (%s, %s): %s\n", progname, name,
		    (unsigned long long)rep.off, (long long)rep.first,
		    (long long)rep.last, rep.rule, cst_err_name(rep.code),
		    rep.what);
	cst_buf_close(&b);
	rep.pending = 0;
}

static void
rep_flush(void)
{

	pthread_mutex_lock(&rep_mu);
	rep_flush_locked();
	pthread_mutex_unlock(&rep_mu);
}

static void
on_failure(void *arg, const char *file, uint64_t off, int64_t block_no,
    const char *rule, int code, const char *what)
{

	(void)arg;
	pthread_mutex_lock(&rep_mu);
	rep.count++;
	if (rep.pending && block_no >= 0 && rep.last >= 0 &&
	    block_no == rep.last + 1 && rep.rule == rule && rep.code == code &&
	    strcmp(rep.file, file) == 0 && strcmp(rep.what, what) == 0) {
		rep.last = block_no;
		pthread_mutex_unlock(&rep_mu);
		return;
	}
	rep_flush_locked();
	rep.pending = 1;
	snprintf(rep.file, sizeof(rep.file), "%s", file);
	snprintf(rep.what, sizeof(rep.what), "%s", what);
	rep.off = off;
	rep.first = rep.last = block_no;
	rep.rule = rule;
	rep.code = code;
	pthread_mutex_unlock(&rep_mu);
}

static void
on_signal(int sig)
{

	(void)sig;
	stopping = 1;
}

/* SIGINT and SIGTERM stop the output early; a closed pipe is an error. */
static void
catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* An empty sink that reports failures and stops on a signal. */
static void
sink_init(struct query_sink *k)
{

	memset(k, 0, sizeof(*k));
	k->report = on_failure;
	k->stopping = &stopping;
}

/* Per segment: its loaded index, or why there is none. */
struct segidx {
	struct index_seg *x;
	int tried;            /* -1: past the last segment */
};

struct runs_ctx {
	const struct query_store *s;
	const struct segidx *sx;
};

/* Whether fmt shows a record's host (query_runs.h). */
static int
shows_host(const struct query_opts *o)
{

	return (o->bundle == NULL && !o->count && o->histogram == 0 &&
	    o->fmt != QUERY_RAW && o->fmt != QUERY_CAT);
}

/* query_runs_entry_fn over the loaded segment indexes. */
static const struct index_entry *
runs_entry(void *ctx, size_t bi)
{
	const struct runs_ctx *c = ctx;
	const struct query_block *b = &c->s->blocks[bi];
	const struct segidx *g = &c->sx[b->seg];

	if (g->x == NULL)
		return (NULL);
	return (index_seg_find(g->x, b->f.hdr.block_no, b->f.block_hash));
}

/*
 * Chooses the blocks to open: proven, in range by their headers, and not
 * excluded by a valid index entry.  Fills need_sum for blocks whose
 * segment lacks a valid entry, so that the index is rebuilt as a side
 * effect of opening them.
 */
static int
select_blocks(struct query_opts *o, struct query_store *s, const uint8_t *key,
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
save_indexes(struct query_opts *o, struct query_store *s, const uint8_t *key,
    struct segidx *sx, struct query_sink *k)
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

/* The root key of the store at dir: --root, --root-dir or its own. */
static int
load_root(const struct query_opts *o, const char *dir, cst_root_pub *root)
{
	char path[4096], why[8192], *kp, *fpr;
	int rc;

	if (o->root_dir != NULL) {
		if (root_dir_find(o->root_dir, dir, root, &kp, &fpr, why,
		    sizeof(why)) != 0) {
			fprintf(stderr, "%s: %s\n", progname, why);
			free(kp);
			free(fpr);
			return (-1);
		}
		free(kp);
		free(fpr);
		return (0);
	}
	if (o->root_file != NULL)
		snprintf(path, sizeof(path), "%s", o->root_file);
	else
		snprintf(path, sizeof(path), "%s/keys/root.pub", dir);
	if ((rc = cst_root_pub_load(path, root)) != 0) {
		fprintf(stderr, "%s: %s: %s\n", progname, path,
		    cst_strerror(rc));
		return (-1);
	}
	return (0);
}

/* Prints --follow's first screen, held back to be shown oldest first. */
static void
flush_tail(struct query_sink *k)
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
follow(struct query_opts *o, struct query_store *s)
{
	struct query_sink k;
	struct timespec ts;
	size_t *order = NULL, n, cap = 0;
	int *need = NULL;
	uint64_t skipped = 0;
	int rc = 0;

	sink_init(&k);
	k.o = o;
	k.s = s;
	o->have_limit = 0;
	o->follow = 0;
	o->reverse = 0;
	if (shows_host(o) && (k.runs = query_runs_new(s, NULL, NULL)) == NULL)
		return (CST_ENOMEM);
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
		if ((rc = query_pool_run(o, s, order, need, n, &k)) != 0)
			break;
		rep_flush();
		fflush(stdout);
	}
	query_runs_free(k.runs);
	free(order);
	free(need);
	return (rc);
}

/* Frees what k and the segment indexes sx of store s hold; NULL-safe. */
/*
 * Frees the index entries k built for s's blocks, and their arrays.
 * Before --follow's polls too: they replace s->blocks, by which the
 * entries are indexed.
 */
static void
release_sums(struct query_sink *k, const struct query_store *s)
{
	size_t i;

	if (k->sums != NULL && s != NULL)
		for (i = 0; i < s->nblocks; i++)
			if (k->have_sum[i])
				index_entry_close(&k->sums[i]);
	free(k->sums);
	free(k->have_sum);
	k->sums = NULL;
	k->have_sum = NULL;
}

static void
sink_close(struct query_sink *k, struct query_store *s, struct segidx *sx)
{
	size_t i;

	/* Not s->nsegs: --follow's polls add segments. */
	for (i = 0; sx != NULL && sx[i].tried >= 0; i++)
		index_seg_free(sx[i].x);
	release_sums(k, s);
	free(sx);
	free(k->buckets);
	free(k->tailends);
	cst_buf_close(&k->tailbuf);
	cst_bundle_writer_free(k->bw);
	query_bundle_anchor_free(k->anchor);
	free(k->bidx);
}

/*
 * After the blocks were read: the index, the count, histogram or bundle,
 * the tail, --follow, and the failures.  Returns the exit status, given
 * status so far.
 */
static int
finish(struct query_opts *o, struct query_store *s, const uint8_t *key,
    struct segidx *sx, struct query_sink *k, int status)
{

	rep_flush();
	if (key != NULL && !o->follow)
		save_indexes(o, s, key, sx, k);
	if (status == EXIT_OK && o->count && !o->label)
		printf("%llu\n", (unsigned long long)k->shown);
	if (status == EXIT_OK && k->buckets != NULL)
		query_hist_print(k, o->histogram);
	if (status == EXIT_OK && k->bw != NULL &&
	    query_bundle_finish(o, s, k) != 0)
		status = EXIT_IO;
	if (k->tail)
		flush_tail(k);
	if (fflush(stdout) != 0 && status == EXIT_OK)
		status = EXIT_IO;
	if (o->follow && status == EXIT_OK) {
		release_sums(k, s);
		if (follow(o, s) != 0)
			status = EXIT_IO;
	}
	if (status == EXIT_OK && s->failures > 0)
		status = EXIT_INTEGRITY;
	if (s->failures > 0) {
		rep_flush();
		fprintf(stderr, "%s: %llu integrity failure(s): the records of "
		    "failed blocks were not shown; run custody-verify for a "
		    "full report\n", progname,
		    (unsigned long long)s->failures);
	}
	return (status);
}

/*
 * The case record's entry for a bundle export (SPEC section 16): the root
 * key and every segment of the store read, the bundle if written.
 * Returns 0 or -1 after saying why.
 */
static int
case_entry(const struct query_opts *o, const struct query_store *s,
    const struct query_sink *k, const char *command, int status)
{
	struct caserec_new n;
	const char **in;
	char root[4096], why[CASEREC_WHY_LEN];
	size_t i, m = 0;
	int rc;

	if ((in = calloc(s->nsegs + 1, sizeof(*in))) == NULL) {
		fprintf(stderr, "%s: out of memory\n", progname);
		return (-1);
	}
	if (o->root_file != NULL)
		snprintf(root, sizeof(root), "%s", o->root_file);
	else
		snprintf(root, sizeof(root), "%s/keys/root.pub", o->dir);
	in[m++] = root;
	for (i = 0; i < s->nsegs; i++)
		in[m++] = s->segs[i].path;
	memset(&n, 0, sizeof(n));
	n.kind = "bundle";
	n.case_id = o->cs.id;
	n.command = command;
	n.inputs = in;
	n.ninputs = m;
	n.outputs = &o->bundle;
	n.noutputs = k->bundle_sha256[0] != '\0';
	n.verdict = n.noutputs ? "written" : "not written";
	n.exit_status = status;
	if ((rc = caserec_append(o->case_dir, &n, progname, why)) != 0)
		fprintf(stderr, "%s: the case record has no entry for this "
		    "export: %s\n", progname, why);
	free(in);
	return (rc);
}

/*
 * Reports this look at the store to custodyd before anything is shown
 * (SPEC section 18).  A collector that cannot be reached is a warning
 * with the reason, or with --require-access-record a refusal (-1).
 */
static int
report_access(const struct query_opts *o, const char *command,
    struct access **out)
{
	char path[4096], why[ACCESS_WHY_LEN];

	if (o->control_socket != NULL)
		snprintf(path, sizeof(path), "%s", o->control_socket);
	else
		snprintf(path, sizeof(path), "%s/control.sock", o->dir);
	if (access_begin(path, command, out, why) == 0) {
		if (o->verbose)
			fprintf(stderr, "%s: access %llu recorded by custodyd\n",
			    progname, (unsigned long long)access_id(*out));
		return (0);
	}
	if (o->require_access) {
		fprintf(stderr, "%s: cannot record this access, and "
		    "--require-access-record was given: %s\n", progname, why);
		return (-1);
	}
	fprintf(stderr, "%s: warning: could not record this access with "
	    "custodyd (%s); going on: no access record\n", progname, why);
	return (0);
}

/*
 * A block the stream holds twice with different bytes or places: the
 * restore kept the first copy, but neither is shown (R-REP-8).
 */
static void
mark_conflicts(struct query_store *s, const struct natsstore_result *res)
{
	struct query_block *b;
	char what[160];
	size_t i, k;

	for (k = 0; k < res->nconflicts; k++)
		for (i = 0; i < s->nblocks; i++) {
			b = &s->blocks[i];
			if (b->f.hdr.block_no != res->conflicts[k].block ||
			    b->rc != 0)
				continue;
			b->rc = CST_ECHAIN;
			b->rule = "R-REP-8";
			snprintf(what, sizeof(what), "the stream holds this "
			    "block twice with different bytes (stream "
			    "sequences %llu and %llu); neither is shown",
			    (unsigned long long)res->conflicts[k].first_seq,
			    (unsigned long long)res->conflicts[k].other_seq);
			on_failure(NULL, s->segs[b->seg].path, b->off,
			    (int64_t)b->f.hdr.block_no, b->rule, b->rc, what);
			s->failures++;
		}
}

/*
 * --nats: restores the chains into a private directory and makes them
 * the stores of o.  Returns EXIT_OK, EXIT_INTEGRITY when a chain is not
 * whole in the stream (said on stderr; the others are read), or EXIT_IO
 * when nothing can be read.  *dirs is returned to free.
 */
static int
nats_stores(struct query_opts *o, struct natsfetch **nf, char ***dirs)
{
	struct natsfetch *f;
	char why[1024], *origin;
	size_t i;
	int status = EXIT_OK;

	if (natsfetch_begin(&o->nats, nf, why, sizeof(why)) != 0) {
		fprintf(stderr, "%s: %s\n", progname, why);
		return (EXIT_IO);
	}
	f = *nf;
	if ((*dirs = calloc(f->n + 1, sizeof(**dirs))) == NULL) {
		fprintf(stderr, "%s: out of memory\n", progname);
		return (EXIT_IO);
	}
	o->ndirs = 0;
	for (i = 0; i < f->n; i++) {
		origin = natsfetch_origin(f, &f->c[i]);
		fprintf(stderr, "%s: chain %s %s\n", progname, f->c[i].chain,
		    origin != NULL ? origin : f->origin);
		free(origin);
		if (!f->c[i].ok) {
			fprintf(stderr, "%s: INTEGRITY FAILURE: chain %s: the "
			    "stream does not hold it whole (R-REP-8): %s; none "
			    "of its records shown\n", progname, f->c[i].chain,
			    f->c[i].err);
			status = EXIT_INTEGRITY;
			continue;
		}
		(*dirs)[o->ndirs++] = f->c[i].dir;
	}
	o->dirs = *dirs;
	o->dir = o->ndirs > 0 ? o->dirs[0] : NULL;
	o->label = o->ndirs > 1;
	if (o->ndirs == 0 && status == EXIT_OK)
		status = EXIT_IO;
	return (status);
}

/* One store of the query: what main used to hold for the only one. */
struct store_run {
	struct query_opts o;  /* a copy: its own bundle path and threads */
	const char *dir;      /* borrowed from argv */
	cst_root_pub root;
	struct query_store *s;
	struct segidx *sx;
	struct query_sink k;
	struct runs_ctx rctx;
	size_t *order;
	int *need;
	size_t n;
	uint64_t skipped;
	char *bundle;         /* owned: PREFIX-<chain id>.cbnd */
	const struct natsstore_result *nres; /* read from NATS, or NULL */
	struct access *acc;   /* this look, told to the store's custodyd */
	uint64_t shown;       /* records of this store shown (access end) */
	pthread_t t;
	int started;
	int rc;
};

/*
 * Opens the store r->dir for the options in r->o and chooses its blocks.
 * Returns EXIT_OK, or the exit status after saying why on stderr.
 */
static int
run_open(struct store_run *r, const uint8_t *key)
{
	struct query_opts *o = &r->o;
	struct query_store *s;
	char why[8192], hex[2 * CST_CHAIN_ID_LEN + 1];
	int rc;

	sink_init(&r->k);
	if (store_where_explain(r->dir, why, sizeof(why)) != 0) {
		fprintf(stderr, "%s: %s\n", progname, why);
		return (EXIT_USAGE);
	}
	if (load_root(o, r->dir, &r->root) != 0)
		return (EXIT_IO);
	if ((rc = query_store_open(r->dir, &r->root, o->threads, on_failure,
	    NULL, &r->s)) != 0) {
		fprintf(stderr, "%s: %s: %s\n", progname, r->dir,
		    cst_strerror(rc));
		return (EXIT_IO);
	}
	s = r->s;
	if (r->nres != NULL)
		mark_conflicts(s, r->nres);
	rep_flush();
	if ((r->order = calloc(s->nblocks + 1, sizeof(*r->order))) == NULL ||
	    (r->need = calloc(s->nblocks + 1, sizeof(*r->need))) == NULL ||
	    (r->sx = calloc(s->nsegs + 1, sizeof(*r->sx))) == NULL ||
	    (r->k.sums = calloc(s->nblocks + 1, sizeof(*r->k.sums))) ==
	    NULL || (r->k.have_sum = calloc(s->nblocks + 1,
	    sizeof(*r->k.have_sum))) == NULL) {
		fprintf(stderr, "%s: out of memory\n", progname);
		return (EXIT_IO);
	}
	r->sx[s->nsegs].tried = -1;
	r->k.o = o;
	r->k.s = s;
	select_blocks(o, s, key, r->sx, r->order, r->need, &r->n,
	    &r->skipped);
	if (o->verbose)
		fprintf(stderr, "%s: %s: %zu blocks in %zu segments; opening "
		    "%zu (%llu skipped by the index)\n", progname, r->dir,
		    s->nblocks, s->nsegs, r->n,
		    (unsigned long long)r->skipped);
	if (o->histogram != 0 && query_hist_setup(o, s, r->order, r->n,
	    &r->k) != 0)
		return (EXIT_USAGE);
	if (o->bundle != NULL && o->label) {
		/* One bundle per chain: SPEC section 11 holds one chain. */
		cst_hex(r->root.chain_id, CST_CHAIN_ID_LEN, hex);
		if (asprintf(&r->bundle, "%s-%s.cbnd", o->bundle, hex) < 0) {
			fprintf(stderr, "%s: out of memory\n", progname);
			return (EXIT_IO);
		}
		o->bundle = r->bundle;
	}
	if (o->bundle != NULL && ((rc = cst_bundle_writer_new(
	    r->root.chain_id, query_time_now(), o->note, strlen(o->note),
	    &r->k.bw)) != 0 || (rc = cst_bundle_writer_certs(r->k.bw,
	    s->certs, s->nepochs > 0 ? s->nepochs : 1)) != 0)) {
		fprintf(stderr, "%s: cannot start the bundle: %s\n", progname,
		    cst_strerror(rc));
		return (EXIT_IO);
	}
	r->rctx.s = s;
	r->rctx.sx = r->sx;
	if (shows_host(o) && (r->k.runs = query_runs_new(s, key != NULL ?
	    runs_entry : NULL, &r->rctx)) == NULL) {
		fprintf(stderr, "%s: out of memory\n", progname);
		return (EXIT_IO);
	}
	return (EXIT_OK);
}

static void
run_close(struct store_run *r)
{

	query_runs_free(r->k.runs);
	sink_close(&r->k, r->s, r->sx);
	free(r->order);
	free(r->need);
	free(r->bundle);
	query_store_free(r->s);
}

/* A producer of the merge: one store's matches into its channel. */
static void *
produce(void *arg)
{
	struct store_run *r = arg;

	r->rc = query_pool_run(&r->o, r->s, r->order, r->need, r->n, &r->k);
	query_merge_close(r->k.merge);
	return (NULL);
}

/*
 * Several stores' records, merged in receive-time order as they are
 * opened.  Returns 0, or the error of a producer or of the output.
 */
static int
merge_stores(struct query_opts *o, struct store_run *runs, size_t n,
    int tail)
{
	struct query_merge_chan **chans;
	uint64_t shown;
	size_t i;
	int mrc, rc = 0;

	if ((chans = calloc(n, sizeof(*chans))) == NULL)
		return (CST_ENOMEM);
	for (i = 0; i < n && rc == 0; i++)
		if ((chans[i] = query_merge_chan_new(4,
		    runs[i].root.chain_id)) == NULL)
			rc = CST_ENOMEM;
	for (i = 0; i < n && rc == 0; i++) {
		runs[i].k.merge = chans[i];
		runs[i].k.tail = 0;
		if (pthread_create(&runs[i].t, NULL, produce, &runs[i]) != 0)
			rc = CST_ENOMEM;
		else
			runs[i].started = 1;
	}
	if (rc != 0)
		for (i = 0; i < n; i++)
			if (chans[i] != NULL && !runs[i].started)
				query_merge_close(chans[i]);
	if (chans[n - 1] != NULL) {
		mrc = query_merge_run(chans, n, o->reverse, tail,
		    o->have_limit ? o->limit : UINT64_MAX, &stopping, stdout,
		    &shown);
		if (rc == 0)
			rc = mrc;
	}
	for (i = 0; i < n; i++) {
		if (runs[i].started) {
			pthread_join(runs[i].t, NULL);
			runs[i].started = 0;
			if (rc == 0)
				rc = runs[i].rc;
		}
		runs[i].k.merge = NULL;
		if (chans[i] != NULL)
			runs[i].shown = query_merge_chan_taken(chans[i]);
		query_merge_chan_free(chans[i]);
	}
	free(chans);
	return (rc);
}

int
main(int argc, char **argv)
{
	struct query_opts o;
	struct store_run *runs = NULL;
	struct natsfetch *nf = NULL;
	char **ndirs = NULL;
	uint8_t keybuf[INDEX_KEY_LEN], *key = NULL;
	uint64_t total = 0;
	size_t i, nr = 0;
	int rc, st, tail = 0, status = EXIT_OK;
	static char command[ACCESS_COMMAND_LEN];
	char accwhy[ACCESS_WHY_LEN];
	static char obuf[1 << 20];

	/* A file truncated while mapped must not kill us (R-SEG-7). */
	if (cst_mapguard_install() != 0) {
		fprintf(stderr, "%s: cannot install the SIGBUS handler: %s\n",
		    progname, strerror(errno));
		return (EXIT_IO);
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "%s: libsodium failed to start\n", progname);
		return (EXIT_IO);
	}
	access_command(argc, argv, command, sizeof(command));
	if (query_opts_parse(argc, argv, &o) != 0) {
		fprintf(stderr, "Try '%s --help'.\n", progname);
		return (EXIT_USAGE);
	}
	setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));
	catch_signals();
	if (o.nats.ns.servers != NULL) {
		status = nats_stores(&o, &nf, &ndirs);
		if (o.ndirs == 0)
			goto done;
		if (o.ndirs > 1 && o.histogram != 0) {
			fprintf(stderr, "%s: --histogram reads one store\n",
			    progname);
			status = EXIT_USAGE;
			goto done;
		}
	}
	if (o.use_index && index_key_load(keybuf) == 0)
		key = keybuf;
	else if (o.use_index && o.verbose)
		fprintf(stderr, "%s: no index key: running without the index\n",
		    progname);
	if (o.follow || (o.have_limit && !o.oldest)) {
		/* The newest N: walk backwards, print in the order asked. */
		tail = !o.reverse;
		o.reverse = 1;
	} else if (o.have_limit && o.reverse) {
		/* The oldest N, newest first: walk forwards, print backwards. */
		tail = 1;
		o.reverse = 0;
	}
	if ((runs = calloc(o.ndirs, sizeof(*runs))) == NULL) {
		fprintf(stderr, "%s: out of memory\n", progname);
		status = EXIT_IO;
		goto done;
	}
	/* Every store is opened, and its key found, before any output. */
	for (nr = 0; nr < o.ndirs; nr++) {
		runs[nr].o = o;
		runs[nr].dir = o.dirs[nr];
		runs[nr].o.dir = o.dirs[nr];
		for (i = 0; nf != NULL && i < nf->n; i++)
			if (nf->c[i].dir == o.dirs[nr])
				runs[nr].nres = &nf->c[i].res;
		if (o.ndirs > 1 && o.bundle == NULL && !o.count)
			runs[nr].o.threads = o.threads / (int)o.ndirs > 0 ?
			    o.threads / (int)o.ndirs : 1;
		/* Before anything of the store is shown (SPEC section 18). */
		if (report_access(&runs[nr].o, command, &runs[nr].acc) != 0) {
			status = EXIT_USAGE;
			nr++;
			goto done;
		}
		if ((st = run_open(&runs[nr], key)) != EXIT_OK) {
			status = st;
			nr++;
			goto done;
		}
		runs[nr].k.tail = tail;
		for (i = 0; i < nr; i++)
			if (memcmp(runs[i].root.chain_id, runs[nr].root.chain_id,
			    CST_CHAIN_ID_LEN) == 0) {
				/* Two copies of one chain: each record twice. */
				fprintf(stderr, "%s: %s and %s hold the same "
				    "chain: give one of them\n", progname,
				    runs[i].dir, runs[nr].dir);
				status = EXIT_USAGE;
				nr++;
				goto done;
			}
	}
	if (o.ndirs > 1 && o.bundle == NULL && !o.count) {
		if ((rc = merge_stores(&o, runs, nr, tail)) != 0) {
			fprintf(stderr, "%s: %s\n", progname, cst_strerror(rc));
			status = EXIT_IO;
		}
		for (i = 0; i < nr; i++) {
			runs[i].k.tail = 0;
			st = finish(&runs[i].o, runs[i].s, key, runs[i].sx,
			    &runs[i].k, rc != 0 ? EXIT_IO : EXIT_OK);
			if (st > status)
				status = st;
		}
		goto done;
	}
	/* One store, or several read one after the other (count, bundle). */
	for (i = 0; i < nr; i++) {
		st = EXIT_OK;
		if ((rc = query_pool_run(&runs[i].o, runs[i].s, runs[i].order,
		    runs[i].need, runs[i].n, &runs[i].k)) != 0) {
			fprintf(stderr, "%s: %s\n", progname, cst_strerror(rc));
			st = EXIT_IO;
		}
		st = finish(&runs[i].o, runs[i].s, key, runs[i].sx,
		    &runs[i].k, st);
		runs[i].shown = runs[i].k.shown;
		total += runs[i].k.shown;
		if (o.case_dir != NULL && case_entry(&runs[i].o, runs[i].s,
		    &runs[i].k, command, st) != 0 && st == EXIT_OK)
			st = EXIT_IO;
		if (st > status)
			status = st;
		if (stopping)
			break;
	}
	if (o.label && o.count && status != EXIT_IO) {
		printf("%llu\n", (unsigned long long)total);
		if (fflush(stdout) != 0)
			status = EXIT_IO;
	}

done:
	for (i = 0; i < nr; i++) {
		if (runs[i].acc == NULL)
			continue;
		fflush(stdout);
		if (access_end(runs[i].acc, runs[i].shown,
		    runs[i].k.bundle_sha256[0] != '\0' ?
		    runs[i].k.bundle_sha256 : NULL, accwhy) != 0)
			fprintf(stderr, "%s: %s: could not record the end of "
			    "this access: %s\n", progname, runs[i].dir, accwhy);
	}
	for (i = 0; i < nr; i++)
		run_close(&runs[i]);
	free(runs);
	free(ndirs);
	natsfetch_free(nf);
	free(o.nats.chains);
	query_filter_close(&o.f);
	free(o.note);
	return (status);
}
