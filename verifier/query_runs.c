/*
 * The run's host name for records that name none (query_runs.h).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "custody/block.h"
#include "custody/error.h"
#include "custody/syslog.h"

#include "query_runs.h"

/* Longest host name kept (RFC 1035's 253, with room). */
#define HOST_MAX 255

enum { UNKNOWN = 0, RESOLVED };

struct query_runs {
	const struct query_store *s;
	query_runs_entry_fn *entry;
	void *ctx;
	pthread_mutex_t mu;
	cst_opener *op;       /* opened under mu, created on first use */
	uint8_t *state;       /* per store block */
	int32_t *host;        /* per block once RESOLVED: names index or -1 */
	size_t cap;           /* room in state and host */
	char **names;
	size_t nnames;
};

struct query_runs *
query_runs_new(const struct query_store *s, query_runs_entry_fn *entry,
    void *ctx)
{
	struct query_runs *q;

	if ((q = calloc(1, sizeof(*q))) == NULL)
		return (NULL);
	q->s = s;
	q->entry = entry;
	q->ctx = ctx;
	pthread_mutex_init(&q->mu, NULL);
	return (q);
}

/* Room for the store's blocks (it grows under --follow).  Under mu. */
static int
grow(struct query_runs *q)
{
	size_t n = q->s->nblocks;
	uint8_t *st;
	int32_t *h;

	if (n <= q->cap)
		return (0);
	if ((st = realloc(q->state, n)) == NULL)
		return (-1);
	q->state = st;
	if ((h = realloc(q->host, n * sizeof(*h))) == NULL)
		return (-1);
	q->host = h;
	memset(q->state + q->cap, UNKNOWN, n - q->cap);
	q->cap = n;
	return (0);
}

void
query_runs_free(struct query_runs *q)
{
	size_t i;

	if (q == NULL)
		return;
	for (i = 0; i < q->nnames; i++)
		free(q->names[i]);
	free(q->names);
	free(q->state);
	free(q->host);
	if (q->op != NULL)
		cst_opener_free(q->op);
	pthread_mutex_destroy(&q->mu);
	free(q);
}

int
query_runs_wanted(const cst_record *r)
{

	return (r->kind == CST_REC_EVENT && r->transport == CST_TR_UNIX &&
	    r->has_parsed && r->parsed.format == CST_SYSLOG_RFC3164 &&
	    r->parsed.hostname.len == 0);
}

/* Keeps name[0..len) and returns its index, or -1 when out of memory. */
static int32_t
keep_name(struct query_runs *q, const uint8_t *name, size_t len)
{
	char **v, *p;

	if (len > HOST_MAX || q->nnames >= INT32_MAX)
		return (-1);
	if ((v = realloc(q->names, (q->nnames + 1) * sizeof(*v))) == NULL)
		return (-1);
	q->names = v;
	if ((p = malloc(len + 1)) == NULL)
		return (-1);
	memcpy(p, name, len);
	p[len] = '\0';
	q->names[q->nnames] = p;
	return ((int32_t)q->nnames++);
}

/*
 * Looks in block bi for a start record: 1 and *host set (a names index,
 * or -1 for a start record without a usable hostname), 0 when it holds
 * none, -1 when the block cannot be read.  Under mu.
 */
static int
find_start(struct query_runs *q, size_t bi, int32_t *host)
{
	const struct query_block *b = &q->s->blocks[bi];
	const struct index_entry *e;
	const char *rule;
	cst_bytes name;
	cst_record r;
	cst_bytes enc;
	size_t i, n;
	int found = 0;

	if (b->rc != 0)
		return (-1);
	if (b->f.hdr.type != CST_BLOCK_DATA)
		return (0);
	if (q->entry != NULL && (e = q->entry(q->ctx, bi)) != NULL &&
	    (e->kind_mask & (1u << CST_REC_START)) == 0)
		return (0);
	if (q->op == NULL && (q->op = cst_opener_new()) == NULL)
		return (-1);
	if (cst_block_open(q->op, &b->f, &rule) != 0)
		return (-1);
	n = cst_opener_count(q->op);
	for (i = 0; i < n; i++) {
		if (cst_opener_record(q->op, i, &r, &enc) != 0)
			return (-1);
		if (r.kind != CST_REC_START)
			continue;
		found = 1;
		*host = -1;
		if (r.detail.p != NULL && cst_detail_get_str(r.detail.p,
		    r.detail.len, "hostname", &name) == 0 && name.len > 0)
			*host = keep_name(q, name.p, name.len);
	}
	return (found);
}

const char *
query_runs_host(struct query_runs *q, size_t bi)
{
	int32_t host = -1;
	size_t i, j;
	int rc;

	if (q == NULL)
		return (NULL);
	pthread_mutex_lock(&q->mu);
	if (grow(q) != 0 || bi >= q->cap) {
		pthread_mutex_unlock(&q->mu);
		return (NULL);
	}
	for (i = bi + 1; i-- > 0;) {
		if (q->state[i] == RESOLVED) {
			host = q->host[i];
			break;
		}
		if ((rc = find_start(q, i, &host)) != 0) {
			if (rc < 0)
				host = -1;
			break;
		}
	}
	/* Blocks i (or 0) through bi belong to that run. */
	for (j = i == (size_t)-1 ? 0 : i; j <= bi; j++) {
		q->state[j] = RESOLVED;
		q->host[j] = host;
	}
	pthread_mutex_unlock(&q->mu);
	return (host >= 0 ? q->names[host] : NULL);
}
