/*
 * Health: a small HTTP endpoint (meant for loopback) that serves the
 * daemon's counters as Prometheus text, and the client `custodyd status`
 * uses to print them.
 */
#ifndef CUSTODY_COLLECTOR_METRICS_H
#define CUSTODY_COLLECTOR_METRICS_H

#include <stdio.h>

#include <uv.h>

#include "custody/buf.h"

#define METRICS_ERR_LEN 256

/* Appends the counters' text to out (borrowed). */
typedef void metrics_render_fn(void *ctx, cst_buf *out);

struct metrics;

/*
 * Serves render's text at url (tcp://HOST:PORT, borrowed) on loop.  ctx
 * is borrowed.  *out is returned to close with metrics_close.  Returns
 * 0, CST_EINVAL or CST_EIO with a message in err.
 */
int metrics_open(uv_loop_t *loop, const char *url, metrics_render_fn *render,
    void *ctx, struct metrics **out, char err[METRICS_ERR_LEN]);

/* The address served ("tcp://127.0.0.1:9514"). */
const char *metrics_name(const struct metrics *m);

/* Closes the server and its clients; frees m once closed.  NULL: no-op. */
void metrics_close(struct metrics *m);

/*
 * Fetches the counters from url (blocking, 5 s timeout) and writes the
 * body to out.  Returns 0, CST_EINVAL or CST_EIO with a message in err.
 */
int metrics_fetch(const char *url, FILE *out, char err[METRICS_ERR_LEN]);

#endif /* CUSTODY_COLLECTOR_METRICS_H */
