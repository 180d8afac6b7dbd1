/*
 * The collector's host name for records that name none: an RFC 3164
 * message from a local sender (transport unix) usually has no host
 * field, and SPEC section 5's display rule lets a reader show the
 * hostname of the start record of the run that received it.  The name
 * is shown beside the record's fields, never as part of raw or parsed.
 *
 * A run begins with its start record in a new block, so every block
 * belongs to the run of the nearest start record at or before it.  The
 * resolver finds it by walking back block by block, skipping those
 * whose index entry says they hold no start record and opening the
 * others; what it learns is kept per block, so the walk is paid once.
 * A block that failed verification ends the walk without a name: the
 * run it belongs to cannot be told.
 */
#ifndef CUSTODY_QUERY_RUNS_H
#define CUSTODY_QUERY_RUNS_H

#include <stddef.h>

#include "custody/record.h"

#include "index.h"
#include "query_store.h"

/* The index entry of store block bi, or NULL when there is none. */
typedef const struct index_entry *query_runs_entry_fn(void *ctx, size_t bi);

struct query_runs;

/*
 * A resolver over s (borrowed, verified), with entry (and ctx) to skip
 * blocks by their index; entry may be NULL.  Returns NULL when out of
 * memory.
 */
struct query_runs *query_runs_new(const struct query_store *s,
    query_runs_entry_fn *entry, void *ctx);

/* Frees q; NULL is a no-op. */
void query_runs_free(struct query_runs *q);

/* Nonzero when r is an event whose shown host comes from its run. */
int query_runs_wanted(const cst_record *r);

/*
 * The hostname of the start record of store block bi's run (a NUL-
 * terminated string owned by q, valid until query_runs_free), or NULL
 * when there is none to be found.  Any thread.
 */
const char *query_runs_host(struct query_runs *q, size_t bi);

#endif /* CUSTODY_QUERY_RUNS_H */
