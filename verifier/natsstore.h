/*
 * A store replicated to NATS JetStream (SPEC section 17), on the read
 * side: rebuild one chain's store directory from the stream (R-REP-8),
 * and list the chains a stream holds.  custody-restore is a thin program
 * over it; custody-verify and custody-query may restore into a temporary
 * directory and read that.
 *
 * Lifecycle: natsstore_open -> natsstore_restore / natsstore_chains (any
 * number, one thread at a time) -> natsstore_close.  Errors are returned
 * as -1 with one sentence in err, naming the server, stream, chain or
 * block at fault; nothing is printed.
 */
#ifndef CUSTODY_NATSSTORE_H
#define CUSTODY_NATSSTORE_H

#include <stddef.h>
#include <stdint.h>

#define NATSSTORE_ERR_LEN 512

/* How to reach the stream; every string borrowed, NULL when not given. */
struct natsstore_opts {
	const char *servers;   /* nats:// or tls:// URLs, comma-separated */
	const char *creds;     /* NATS credentials file */
	const char *tls_cert;  /* client certificate (PEM) */
	const char *tls_key;   /* its key (PEM) */
	const char *tls_ca;    /* CA that signed the servers' certificates */
	const char *stream;    /* NULL: CUSTODY */
	int64_t timeout_ms;    /* each request; 0: 5000 */
	/*
	 * A block stored twice with different bytes or places: 0 fails the
	 * restore (custody-restore); 1 keeps the copy that came first in
	 * the stream, lists the block in the result's conflicts and goes
	 * on, so that custody-verify reports it as a failure and
	 * custody-query shows neither copy.  Never a silent choice.
	 */
	int keep_conflicts;
};

/* A block stored twice in the stream with different bytes or places. */
struct natsstore_conflict {
	uint64_t block;        /* block_no */
	uint64_t first_seq;    /* stream sequence of the copy restored */
	uint64_t other_seq;    /* stream sequence of the one that differs */
};

/* What a restore wrote. */
struct natsstore_result {
	uint64_t segments;     /* segment files */
	uint64_t blocks;       /* frames, 0..blocks-1 */
	uint64_t bytes;        /* bytes of segment files */
	uint64_t checkpoints;  /* files in checkpoints/ (latest.ckpt too) */
	uint64_t keys;         /* files in keys/ */
	uint64_t repeats;      /* messages stored twice with the same bytes,
	                          kept once (R-REP-8) */
	uint64_t messages;     /* messages read */
	uint64_t stream_last_seq; /* the stream's last sequence when the
	                          restore began */
	struct natsstore_conflict *conflicts; /* with keep_conflicts; owned,
	                          freed by natsstore_result_close */
	size_t nconflicts;
};

/* Frees what res owns; safe on a zeroed or closed result. */
void natsstore_result_close(struct natsstore_result *res);

struct natsstore;

/*
 * Connects to o->servers (o borrowed, copied) and finds the stream.
 * Returns 0 with *out (returned to free with natsstore_close), or -1.
 */
int natsstore_open(const struct natsstore_opts *o, struct natsstore **out,
    char err[NATSSTORE_ERR_LEN]);

/*
 * Writes chain chain_hex (32 lower-case hex digits, borrowed) from the
 * stream into dir (borrowed), a directory that must not exist or be
 * empty, as a store (R-REP-8): segments/, checkpoints/, keys/, no secret.
 * Reads every message of the chain as it stands when the call begins.
 * Returns 0 with *res filled (res borrowed), or -1; on -1 dir may hold
 * part of the store, which is not a store to trust (err says why).  On
 * either return res is to be closed with natsstore_result_close.
 */
int natsstore_restore(struct natsstore *ns, const char *chain_hex,
    const char *dir, struct natsstore_result *res,
    char err[NATSSTORE_ERR_LEN]);

/*
 * The chains with blocks in the stream: *chains (returned to free with
 * free(), one allocation) is *n strings of 33 bytes (32 hex digits and
 * NUL), sorted.  Returns 0 or -1.
 */
int natsstore_chains(struct natsstore *ns, char (**chains)[33], size_t *n,
    char err[NATSSTORE_ERR_LEN]);

/* Disconnects and frees ns; NULL is a no-op. */
void natsstore_close(struct natsstore *ns);

#endif /* CUSTODY_NATSSTORE_H */
