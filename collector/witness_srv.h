/*
 * The witness endpoint (SPEC R-WIT-1): POST /add-checkpoint over HTTPS on
 * the event loop, with tls.h's filter and http.h's reader; each whole
 * request is checked off the loop (libuv's thread pool) by witness.h,
 * since the answer waits for an fsync (R-WIT-3).  Loop thread only.
 */
#ifndef CUSTODY_COLLECTOR_WITNESS_SRV_H
#define CUSTODY_COLLECTOR_WITNESS_SRV_H

#include <stdint.h>

#include <uv.h>

#include "audit.h"
#include "tls.h"
#include "witness.h"

#define WITNESS_SRV_ERR_LEN 256

/* Seals a refusal (R-WIT-7); a->* borrowed for the call.  0 or an error. */
typedef int witness_seal_fn(void *ctx, const struct audit_witness *a);

/*
 * Seals a connection TLS refused (R-REC-8) at listener from peer: why,
 * the certificate it showed (NULL: none), and how many were only counted
 * since the previous record.  All borrowed.  0 or an error.
 */
typedef int witness_refusal_fn(void *ctx, const char *listener,
    const char *peer, const char *reason, const char *cert,
    uint64_t suppressed);

struct witness_srv_ctr {
	uint64_t connections;
	uint64_t tls_refused;
	uint64_t bad_http;        /* refused by the HTTP reader */
	uint64_t cosigned;
	uint64_t refused[6];      /* 400, 403, 404, 409, 422, 500 */
};

struct witness_srv;

/*
 * Serves url (https://HOST:PORT, borrowed) on loop with tls (taken on
 * success: the caller's reference becomes the server's) and w (borrowed,
 * outlives the server).  Connections idle for
 * idle_ms without a whole request are closed.  seal(ctx, ...) records
 * refused checkpoints, refusal(ctx, ...) connections TLS refused; both
 * together at most SEAL_MAX a minute.  *out is returned to close with witness_srv_close.  Returns
 * 0 or CST_EIO/CST_EINVAL with err.
 */
int witness_srv_open(uv_loop_t *loop, const char *url,
    struct tls_server *tls, struct witness *w, uint64_t idle_ms,
    witness_seal_fn *seal, witness_refusal_fn *refusal, void *ctx,
    struct witness_srv **out, char err[WITNESS_SRV_ERR_LEN]);

/* The address bound ("https://127.0.0.1:7380"). */
const char *witness_srv_name(const struct witness_srv *s);

/* The counters, borrowed. */
const struct witness_srv_ctr *witness_srv_counters(const struct witness_srv *s);

/*
 * Closes the server and its connections; s is freed once every handle
 * and pending check is done (the loop must run).  NULL: no-op.
 */
void witness_srv_close(struct witness_srv *s);

#endif /* CUSTODY_COLLECTOR_WITNESS_SRV_H */
