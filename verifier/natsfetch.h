/*
 * --nats for custody-verify and custody-query: the chains of a JetStream
 * stream (SPEC section 17) restored with natsstore into a private
 * temporary directory, then read like stores on disk.
 *
 * The directory is made with mkdtemp under $TMPDIR (else /tmp), mode
 * 0700, one subdirectory per chain, and removed at exit, on error and on
 * SIGINT, SIGTERM or SIGHUP: natsfetch_begin blocks those signals in
 * every thread and leaves them to one thread that removes the directory
 * and exits with status 2.  Call it before any other thread starts.
 */
#ifndef CUSTODY_NATSFETCH_H
#define CUSTODY_NATSFETCH_H

#include <stddef.h>
#include <stdint.h>

#include "natsstore.h"

/* The command line's --nats options; strings borrowed from argv. */
struct natsfetch_opts {
	struct natsstore_opts ns;
	const char **chains;   /* --chain, repeatable; none: every chain */
	size_t nchains;
};

/* One chain read from the stream. */
struct natsfetch_chain {
	char chain[33];        /* 32 hex digits */
	char *dir;             /* owned: the restored store */
	int ok;                /* restored (conflicts, if any, listed) */
	char err[NATSSTORE_ERR_LEN]; /* why not, when !ok */
	struct natsstore_result res;
};

struct natsfetch {
	char *tmp;             /* owned: the private directory */
	char *origin;          /* owned: "NATS stream S at URL" */
	struct natsfetch_chain *c;
	size_t n;
};

/*
 * Parses one option of the --nats group, named without its dashes
 * ("nats", "chain", "stream", "creds", "tls-cert", "tls-key", "tls-ca"),
 * with its argument arg (borrowed, must outlive o), into o.  Returns 0,
 * or -1 after saying why on stderr as prog.
 */
int natsfetch_option(struct natsfetch_opts *o, const char *name,
    const char *arg, const char *prog);

/*
 * Makes the private directory, installs its removal (atexit and the
 * signal thread), connects, and restores every chain asked for (or every
 * chain of the stream) with keep_conflicts.  Returns 0 with *out
 * (returned to free with natsfetch_free), or -1 after writing why to err
 * (len bytes): cannot connect, no such stream, no chain, a chain asked
 * for that the stream lacks is not an error but a chain with !ok.
 */
int natsfetch_begin(const struct natsfetch_opts *o, struct natsfetch **out,
    char *err, size_t len);

/*
 * The origin sentence of chain c of f (borrowed): "read from NATS stream
 * S at URL (last sequence N), restored into a private temporary
 * directory".  Returned to free; NULL when out of memory.
 */
char *natsfetch_origin(const struct natsfetch *f,
    const struct natsfetch_chain *c);

/* Removes the directory and frees f; NULL is a no-op. */
void natsfetch_free(struct natsfetch *f);

#endif /* CUSTODY_NATSFETCH_H */
