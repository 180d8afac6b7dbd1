/*
 * SIGHUP: the configuration file read again while running.  The
 * tunables that can change at run time take effect, TLS certificates are
 * loaded again for new connections, the reload goes into the chain with
 * the new file's SHA-256, and the segment is rotated.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "batcher.h"
#include "daemon_int.h"
#include "listener.h"
#include "log.h"
#include "writer.h"

void
reload_writer_cfg(const struct conf *c, struct writer_cfg *w)
{

	memset(w, 0, sizeof(*w));
	w->commit_interval_ms = c->commit_interval_ms;
	w->segment_max_bytes = c->segment_max_bytes;
	w->segment_max_age_s = c->segment_max_age_s;
	w->key_rotate_s = c->key_rotate_s;
	w->checkpoint_interval_ms = c->checkpoint_interval_ms;
	w->checkpoint_history = c->checkpoint_history;
	if (c->checkpoint_export_dir != NULL)
		snprintf(w->checkpoint_export_dir,
		    sizeof(w->checkpoint_export_dir), "%s",
		    c->checkpoint_export_dir);
}

/*
 * New TLS connections take [tls] of nc (its strings moved into the
 * running configuration); established ones keep their certificates.
 * A file that will not load keeps the running ones.
 */
static void
reload_tls(struct daemon *d, struct conf *nc)
{
	char err[LISTENER_ERR_LEN];
	struct conf_tls t;

	if (d->ls == NULL)
		return;
	if (listeners_tls_reload(d->ls, &nc->tls, err) != 0) {
		log_err("reload: tls: %s; keeping the running certificates",
		    err);
		return;
	}
	t = d->cfg->tls;
	d->cfg->tls = nc->tls;
	nc->tls = t;
}

/* Two optional settings (NULL: unset) say the same. */
static int
same_str(const char *a, const char *b)
{

	return (a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0);
}

/*
 * SIGHUP: the tunables that can change while running are taken from the
 * file again; a change to anything else (listeners, sizes, data
 * directory) waits for a restart, and says so.  The segment is rotated
 * either way.
 */
void
reload_run(struct daemon *d)
{
	struct writer_cfg wc;
	struct audit_config ac;
	struct conf nc;
	char err[CONF_ERR_LEN];
	int rc;

	conf_init(&nc);
	if (d->reload == NULL ||
	    (rc = d->reload(d->reload_ctx, &nc, err)) != 0 ||
	    (rc = conf_check(&nc, err)) != 0) {
		if (d->reload != NULL)
			log_err("reload: %s; keeping the running configuration",
			    err);
		goto rotate;
	}
	if (nc.batch_records != d->cfg->batch_records ||
	    nc.batch_bytes != d->cfg->batch_bytes ||
	    nc.max_inflight != d->cfg->max_inflight ||
	    nc.max_message != d->cfg->max_message ||
	    nc.max_connections != d->cfg->max_connections ||
	    nc.max_connections_per_peer != d->cfg->max_connections_per_peer ||
	    nc.idle_timeout_s != d->cfg->idle_timeout_s ||
	    nc.seal_threads != d->cfg->seal_threads ||
	    nc.zstd_level != d->cfg->zstd_level ||
	    nc.nlisten != d->cfg->nlisten ||
	    strcmp(nc.data_dir, d->cfg->data_dir) != 0)
		log_notice("reload: listeners, input limits, sizes, threads "
		    "and the data directory change only on restart");
	if (!same_str(nc.rep.servers, d->cfg->rep.servers) ||
	    !same_str(nc.rep.stream, d->cfg->rep.stream) ||
	    !same_str(nc.rep.creds, d->cfg->rep.creds) ||
	    !same_str(nc.rep.tls_cert, d->cfg->rep.tls_cert) ||
	    !same_str(nc.rep.tls_key, d->cfg->rep.tls_key) ||
	    !same_str(nc.rep.tls_ca, d->cfg->rep.tls_ca) ||
	    nc.rep.replicas != d->cfg->rep.replicas ||
	    nc.rep.ack_replicated != d->cfg->rep.ack_replicated)
		log_notice("reload: [replicate] servers, credentials, stream, "
		    "replicas and ack change only on restart");
	d->cfg->rep.max_backlog = nc.rep.max_backlog;
	d->cfg->rep.lag_record_s = nc.rep.lag_record_s;
	d->cfg->batch_delay_ms = nc.batch_delay_ms;
	d->cfg->commit_interval_ms = nc.commit_interval_ms;
	d->cfg->commit_on_wait = nc.commit_on_wait;
	d->cfg->segment_max_bytes = nc.segment_max_bytes;
	d->cfg->segment_max_age_s = nc.segment_max_age_s;
	d->cfg->key_rotate_s = nc.key_rotate_s;
	d->cfg->checkpoint_interval_ms = nc.checkpoint_interval_ms;
	d->cfg->checkpoint_history = nc.checkpoint_history;
	d->cfg->stats_interval_s = nc.stats_interval_s;
	d->cfg->clock_step_ms = nc.clock_step_ms;
	free(d->cfg->checkpoint_export_dir);
	d->cfg->checkpoint_export_dir = nc.checkpoint_export_dir;
	nc.checkpoint_export_dir = NULL;
	if (d->anchor != NULL)
		anchor_set_export_dir(d->anchor,
		    d->cfg->checkpoint_export_dir);
	if (!same_str(nc.tsa_url, d->cfg->tsa_url) ||
	    !same_str(nc.tsa_ca, d->cfg->tsa_ca) ||
	    !same_str(nc.tsa_cert, d->cfg->tsa_cert) ||
	    nc.tsa_interval_ms != d->cfg->tsa_interval_ms ||
	    nc.tsa_timeout_ms != d->cfg->tsa_timeout_ms)
		log_notice("reload: [anchor] changes only on restart");
	reload_tls(d, &nc);
	reload_writer_cfg(d->cfg, &wc);
	writer_set_cfg(d->writer, &wc);
	if (nc.sha256_hex[0] != '\0')
		memcpy(d->config_hash, nc.sha256_hex, sizeof(d->config_hash));
	log_notice("reloaded the configuration (sha256 %s)", d->config_hash);
	daemon_config(d, &nc, &ac);
	if ((rc = audit_reload(d->batcher, &ac, clock_real_ns())) != 0)
		daemon_audit_failed(d, rc);
rotate:
	conf_close(&nc);
	if (d->state == RUNNING &&
	    (rc = batcher_control(d->batcher, BATCH_ROTATE)) != 0)
		daemon_audit_failed(d, rc);
}
