/*
 * The stages of custody-query, one file each behind this header:
 * query_opts.c reads the command line, query_pool.c opens the selected
 * blocks on worker threads and hands their matches, in chain order, to
 * the sink; query_hist.c draws --histogram, query_bundle.c writes
 * --bundle; query_merge.c merges several stores' matches in receive-time
 * order; custody-query.c chooses the blocks and runs the stages.
 */
#ifndef CUSTODY_QUERY_CLI_H
#define CUSTODY_QUERY_CLI_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "custody/buf.h"
#include "custody/bundle.h"

#include "index.h"
#include "natsfetch.h"
#include "query.h"
#include "query_merge.h"
#include "query_store.h"
#include "vcase.h"

#define QUERY_PROGNAME "custody-query"
#define QUERY_MAX_THREADS 16

struct query_opts {
	const char *dir;      /* the first store, dirs[0] */
	char *const *dirs;    /* every store given (borrowed from argv) */
	size_t ndirs;
	const char *root_file;
	const char *root_dir; /* --root-dir (root_dir.h) */
	struct natsfetch_opts nats; /* --nats: stores read from a stream */
	int label;            /* name each record's chain: several stores */
	struct query_filter f;
	enum query_format fmt;
	int count;
	uint64_t limit;       /* -n N */
	int have_limit;
	int oldest;           /* -n +N: the oldest N, not the newest */
	int utc;              /* --utc: read and show times in UTC */
	int all;              /* --all: audit records too */
	int reverse;
	int follow;
	int64_t poll_ns;
	int64_t histogram;    /* bucket ns; 0: off */
	const char *bundle;
	int bundle_minimal;
	int bundle_headers;   /* runs of headers, never a note (SPEC 11.4) */
	int use_index;
	int reindex;
	int threads;
	int verbose;
	struct vcase cs;      /* --case ...: the bundle's note, the case
	                         record's entry */
	char *note;
	const char *control_socket; /* NULL: DIR/control.sock */
	const char *case_dir; /* --case-dir: append an entry (SPEC 16) */
	int require_access;   /* no access record: refuse, not warn */
};

/*
 * Fills o from argv (borrowed; o->note is returned to free).  --help and
 * --help-json print and exit.  Returns 0, or -1 after saying why on
 * stderr.
 */
int query_opts_parse(int argc, char **argv, struct query_opts *o);

/* What the main thread does with the jobs, in order. */
struct query_anchor;

struct query_sink {
	struct query_opts *o;   /* borrowed */
	struct query_store *s;  /* borrowed */
	query_store_report_fn *report; /* a block that fails to open */
	void *report_arg;
	volatile sig_atomic_t *stopping; /* set by a signal: stop early */
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
	size_t *bidx;         /* store indexes of the blocks added */
	size_t nbidx, bidxcap;
	/* the note checkpoint that anchors them (SPEC 11.4), owned */
	struct query_anchor *anchor;
	int anchor_state;     /* 0 not looked for, 1 found, -1 none */
	uint64_t brecords;
	/* several stores: matches go to the merge, not to stdout */
	struct query_merge_chan *merge;
	/* the collector's host name for local records (borrowed), or NULL */
	struct query_runs *runs;
	char bundle_sha256[65]; /* of the bundle written; "" none (R-ACC-2) */
	/* index entries built, per store block (owned) */
	struct index_entry *sums;
	int *have_sum;
};

/*
 * Opens the blocks order[0..n) (store indexes) of s on o->threads
 * workers, building an index entry where need_sum says, and gives each
 * block's matches to k in that order until k is full or *k->stopping.
 * Everything is borrowed.  Returns 0, CST_ENOMEM or CST_EIO (a write to
 * standard output failed).
 */
int query_pool_run(struct query_opts *o, struct query_store *s,
    size_t *order, int *need_sum, size_t n, struct query_sink *k);

/*
 * Sizes k's buckets for o->histogram over the time range of the filter,
 * or of the blocks order[0..n) when it is open-ended.  Returns 0, or -1
 * after saying why on stderr.
 */
int query_hist_setup(struct query_opts *o, struct query_store *s,
    size_t *order, size_t n, struct query_sink *k);

/* Prints k's buckets of step ns as a bar chart on standard output. */
void query_hist_print(const struct query_sink *k, int64_t step);

/* Adds block bi (store index) of k->s to k's bundle.  0 or an error. */
int query_bundle_block(struct query_sink *k, size_t bi);

/*
 * Joins the bundle's run up to block upto (store index, exclusive); not
 * below the size of a note checkpoint that anchors the blocks instead.
 */
int query_bundle_join(struct query_sink *k, size_t upto);

/* Frees the note anchor of a bundle; NULL is a no-op. */
void query_bundle_anchor_free(struct query_anchor *a);

/*
 * Finishes k's bundle: joins it to the latest checkpoint, checks it as
 * custody-verify --bundle will, and writes it to o->bundle.  Returns 0,
 * or -1 after saying why on stderr.
 */
int query_bundle_finish(struct query_opts *o, struct query_store *s,
    struct query_sink *k);

#endif /* CUSTODY_QUERY_CLI_H */
