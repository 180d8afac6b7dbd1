/*
 * custodyd's life: start (keys, recovery, threads, listeners), the event
 * loop, self-audit, signals, health, and the clean stop.
 */
#ifndef CUSTODY_COLLECTOR_DAEMON_H
#define CUSTODY_COLLECTOR_DAEMON_H

#include "conf.h"

/*
 * Re-reads the configuration for SIGHUP into out (conf_init'ed by the
 * caller): the file again, then the same command-line overrides.
 * Returns 0 or a negative code with a message in err.
 */
typedef int daemon_reload_fn(void *ctx, struct conf *out,
    char err[CONF_ERR_LEN]);

/*
 * Runs the collector configured by c (borrowed, checked) until SIGTERM or
 * SIGINT, or a fatal error.  reload and ctx (borrowed) serve SIGHUP.
 * Returns the process exit status: 0 after a clean stop.
 */
int daemon_run(struct conf *c, daemon_reload_fn *reload, void *ctx);

#endif /* CUSTODY_COLLECTOR_DAEMON_H */
