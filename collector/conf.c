/*
 * custodyd configuration: defaults, the INI file, command-line overrides.
 *
 * The file is read whole and hashed before it is parsed, so the hash in
 * the start record (SPEC section 7, config_hash) is of exactly the bytes
 * that configured the daemon.  Unknown sections and keys are errors: a
 * misspelt limit silently left at its default is worse than a refusal.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>
#include <sodium.h>

#include "custody/error.h"
#include "custody/format.h"
#include "custody/hash.h"
#include "custody/record.h"

#include "conf.h"
#include "log.h"
#include "tls.h"

/* A config file larger than this is not a config file. */
#define CONF_FILE_MAX (1u << 20)

struct conf_ctx {
	struct conf *c;
	char *err;
};

void
conf_init(struct conf *c)
{

	memset(c, 0, sizeof(*c));
	c->max_message = 64 << 10;
	c->max_connections = 1024;
	c->udp_rcvbuf = 4 << 20;
	c->idle_timeout_s = CONF_IDLE_TIMEOUT_DEFAULT_S;
	c->max_connections_per_peer = 64;
	c->batch_records = 16384;
	c->batch_bytes = 4 << 20;
	c->batch_delay_ms = 20;
	c->max_inflight = 64 << 20;
	c->seal_threads = 2;
	c->zstd_level = 1;
	c->commit_interval_ms = 100;
	c->commit_on_wait = 1;
	c->segment_max_bytes = (uint64_t)1 << 30;
	c->segment_max_age_s = 86400;
	c->checkpoint_interval_ms = 1000;
	c->checkpoint_history = CONF_CHECKPOINT_HISTORY_DEFAULT;
	c->keys_create = 1;
	c->key_rotate_s = CONF_KEY_ROTATE_DEFAULT_S;
	c->stats_interval_s = 60;
	c->clock_step_ms = 500;
	c->tsa_interval_ms = CONF_TSA_INTERVAL_DEFAULT_MS;
	c->tsa_timeout_ms = CONF_TSA_TIMEOUT_DEFAULT_MS;
	c->tls.min_version = 12;
	c->witness.submit_timeout_ms = CONF_SUBMIT_TIMEOUT_DEFAULT_MS;
	c->witness.stale_after_ms = CONF_STALE_AFTER_DEFAULT_MS;
	c->rep.replicas = 1;
	c->rep.max_backlog = 256 << 20;
	c->rep.lag_record_s = CONF_REP_LAG_RECORD_DEFAULT_S;
}

static void
witness_close(struct conf_witness *w)
{
	size_t i;

	free(w->listen);
	free(w->key);
	free(w->ca);
	for (i = 0; i < w->nlogs; i++)
		free(w->logs[i]);
	for (i = 0; i < w->npeers; i++)
		free(w->peers[i]);
	memset(w, 0, sizeof(*w));
}

void
conf_close(struct conf *c)
{
	size_t i;

	free(c->data_dir);
	for (i = 0; i < c->nlisten; i++)
		free(c->listen[i]);
	free(c->metrics);
	free(c->user);
	free(c->control_socket);
	free(c->checkpoint_export_dir);
	free(c->tsa_url);
	free(c->tsa_ca);
	free(c->tsa_cert);
	free(c->path);
	free(c->text);
	conf_tls_close(&c->tls);
	witness_close(&c->witness);
	free(c->rep.servers);
	free(c->rep.creds);
	free(c->rep.tls_cert);
	free(c->rep.tls_key);
	free(c->rep.tls_ca);
	free(c->rep.stream);
	conf_init(c);
}

/* The reason for a failure, into err (CONF_ERR_LEN-sized): log.h. */
#define seterr(err, ...) log_seterr(err, CONF_ERR_LEN, __VA_ARGS__)

int
conf_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (*s < '0' || *s > '9')
		goto err0;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		goto err0;
	switch (*end) {
	case '\0':
		break;
	case 'k': case 'K':
		shift = 10;
		end++;
		break;
	case 'm': case 'M':
		shift = 20;
		end++;
		break;
	case 'g': case 'G':
		shift = 30;
		end++;
		break;
	default:
		goto err0;
	}
	if (*end == 'i' && shift != 0)
		end++;
	if ((*end == 'b' || *end == 'B') && shift != 0)
		end++;
	if (*end != '\0' || v > (UINT64_MAX >> shift))
		goto err0;
	*out = (uint64_t)v << shift;
	return (0);

err0:
	return (CST_EPARSE);
}

int
conf_parse_duration_ms(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mul;

	if (*s < '0' || *s > '9')
		goto err0;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		goto err0;
	/* A bare number would be ambiguous; only 0 (off) needs no unit. */
	if (*end == '\0' && v == 0)
		mul = 1;
	else if (strcmp(end, "ms") == 0)
		mul = 1;
	else if (strcmp(end, "s") == 0)
		mul = 1000;
	else if (strcmp(end, "m") == 0)
		mul = 60 * 1000;
	else if (strcmp(end, "h") == 0)
		mul = 3600 * 1000;
	else if (strcmp(end, "d") == 0)
		mul = 86400 * 1000;
	else
		goto err0;
	if (v > UINT64_MAX / mul)
		goto err0;
	*out = v * mul;
	return (0);

err0:
	return (CST_EPARSE);
}

static int
parse_bool(const char *s, int *out)
{

	if (strcmp(s, "yes") == 0 || strcmp(s, "true") == 0 ||
	    strcmp(s, "on") == 0 || strcmp(s, "1") == 0)
		*out = 1;
	else if (strcmp(s, "no") == 0 || strcmp(s, "false") == 0 ||
	    strcmp(s, "off") == 0 || strcmp(s, "0") == 0)
		*out = 0;
	else
		return (CST_EPARSE);
	return (0);
}

static int
set_str(char **dst, const char *value)
{
	char *s;

	if ((s = strdup(value)) == NULL)
		return (CST_ENOMEM);
	free(*dst);
	*dst = s;
	return (0);
}

/* An optional string: an empty value unsets it. */
static int
set_opt_str(char **dst, const char *value)
{

	if (value[0] != '\0')
		return (set_str(dst, value));
	free(*dst);
	*dst = NULL;
	return (0);
}

/* Appends value to list[*n] of max entries. */
static int
add_str(char **list, size_t *n, size_t max, const char *value)
{

	if (*n == max)
		return (CST_ETOOBIG);
	if ((list[*n] = strdup(value)) == NULL)
		return (CST_ENOMEM);
	(*n)++;
	return (0);
}

static int
add_listen(struct conf *c, const char *url)
{

	return (add_str(c->listen, &c->nlisten, CONF_MAX_LISTEN, url));
}

void
conf_tls_close(struct conf_tls *t)
{
	size_t i;

	free(t->cert);
	free(t->key);
	free(t->ca);
	for (i = 0; i < t->nallow; i++)
		free(t->allow[i]);
	memset(t, 0, sizeof(*t));
	t->min_version = 12;
}

/* One key of [tls].  Returns 0, CST_EPARSE or CST_ENOMEM. */
static int
apply_tls(struct conf_tls *t, const char *key, const char *value, char *err)
{
	char **dst = NULL;

	if (strcmp(key, "cert") == 0)
		dst = &t->cert;
	else if (strcmp(key, "key") == 0)
		dst = &t->key;
	else if (strcmp(key, "ca") == 0)
		dst = &t->ca;
	if (dst != NULL)
		return (set_opt_str(dst, value));
	if (strcmp(key, "allow") == 0) {
		if (tls_allow_check(value) != 0) {
			seterr(err, "tls.allow: \"%s\" is not sha256:HEX (64 "
			    "digits) or name:PATTERN (\"*.\" as the first "
			    "label at most)", value);
			return (CST_EPARSE);
		}
		if (t->nallow == CONF_MAX_ALLOW) {
			seterr(err, "tls.allow: more than %d entries",
			    CONF_MAX_ALLOW);
			return (CST_EPARSE);
		}
		if ((t->allow[t->nallow] = strdup(value)) == NULL)
			return (CST_ENOMEM);
		t->nallow++;
		return (0);
	}
	if (strcmp(key, "min_version") == 0) {
		if (strcmp(value, "1.2") == 0 || strcmp(value, "TLSv1.2") == 0)
			t->min_version = 12;
		else if (strcmp(value, "1.3") == 0 ||
		    strcmp(value, "TLSv1.3") == 0)
			t->min_version = 13;
		else {
			seterr(err, "tls.min_version: \"%s\" is not 1.2 or "
			    "1.3", value);
			return (CST_EPARSE);
		}
		return (0);
	}
	seterr(err, "unknown setting tls.%s", key);
	return (CST_EPARSE);
}

/*
 * One key of [witness].  Key texts are checked where they are used
 * (witness.c, submit.c), with the rules of the note format.  Returns 0,
 * CST_EPARSE or CST_ENOMEM.
 */
static int
apply_witness(struct conf_witness *w, const char *key, const char *value,
    char *err)
{
	char **dst = NULL;
	uint64_t v;
	int rc;

	if (strcmp(key, "listen") == 0) {
		if (value[0] != '\0' && strncmp(value, "https://", 8) != 0) {
			seterr(err, "witness.listen: \"%s\" is not "
			    "https://HOST:PORT", value);
			return (CST_EPARSE);
		}
		dst = &w->listen;
	} else if (strcmp(key, "key") == 0)
		dst = &w->key;
	else if (strcmp(key, "ca") == 0)
		dst = &w->ca;
	if (dst != NULL)
		return (set_opt_str(dst, value));
	if (strcmp(key, "log") == 0) {
		rc = add_str(w->logs, &w->nlogs, CONF_MAX_WITNESS_LOGS, value);
		if (rc == CST_ETOOBIG) {
			seterr(err, "witness.log: more than %d logs",
			    CONF_MAX_WITNESS_LOGS);
			return (CST_EPARSE);
		}
		return (rc);
	}
	if (strcmp(key, "peer") == 0) {
		if (strncmp(value, "https://", 8) != 0 ||
		    strchr(value, ' ') == NULL) {
			seterr(err, "witness.peer: \"%s\" is not "
			    "\"https://HOST:PORT VERIFIER-KEY\"", value);
			return (CST_EPARSE);
		}
		rc = add_str(w->peers, &w->npeers, CONF_MAX_WITNESS_PEERS,
		    value);
		if (rc == CST_ETOOBIG) {
			seterr(err, "witness.peer: more than %d peers",
			    CONF_MAX_WITNESS_PEERS);
			return (CST_EPARSE);
		}
		return (rc);
	}
	if (strcmp(key, "submit_timeout") == 0 ||
	    strcmp(key, "stale_after") == 0) {
		if (conf_parse_duration_ms(value, &v) != 0 || v < 100) {
			seterr(err, "witness.%s: \"%s\" is not a duration of "
			    "100ms or more (e.g. 500ms, 10s, 5m)", key, value);
			return (CST_EPARSE);
		}
		if (key[1] == 'u')
			w->submit_timeout_ms = v;
		else
			w->stale_after_ms = v;
		return (0);
	}
	seterr(err, "unknown setting witness.%s", key);
	return (CST_EPARSE);
}

/* [replicate]'s strings and ack.  Returns 0, CST_EPARSE or CST_ENOMEM. */
static int
apply_replicate(struct conf_replicate *r, const char *key, const char *value,
    char *err)
{
	static const struct {
		const char *key;
		size_t off;
	} strs[] = {
		{ "servers", offsetof(struct conf_replicate, servers) },
		{ "creds", offsetof(struct conf_replicate, creds) },
		{ "tls_cert", offsetof(struct conf_replicate, tls_cert) },
		{ "tls_key", offsetof(struct conf_replicate, tls_key) },
		{ "tls_ca", offsetof(struct conf_replicate, tls_ca) },
		{ "stream", offsetof(struct conf_replicate, stream) },
	};
	char **dst;
	size_t i;
	int rc;

	if (strcmp(key, "ack") == 0) {
		if (strcmp(value, "local") == 0)
			r->ack_replicated = 0;
		else if (strcmp(value, "replicated") == 0)
			r->ack_replicated = 1;
		else {
			seterr(err, "replicate.ack: \"%s\" is not local or "
			    "replicated", value);
			return (CST_EPARSE);
		}
		return (0);
	}
	for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		if (strcmp(key, strs[i].key) != 0)
			continue;
		dst = (char **)(void *)((char *)r + strs[i].off);
		if ((rc = set_opt_str(dst, value)) != 0)
			seterr(err, "%s", cst_strerror(rc));
		return (rc);
	}
	seterr(err, "unknown setting replicate.%s", key);
	return (CST_EPARSE);
}

/* A size key: name, where it goes, and its smallest and largest value. */
struct size_key {
	const char *section;
	const char *key;
	size_t off;
	uint64_t min;
	uint64_t max;
};

/* A duration key, in milliseconds, and the divisor to its stored unit. */
struct dur_key {
	const char *section;
	const char *key;
	size_t off;
	uint64_t div;
	uint64_t min_ms;
};

#define SZ(f) offsetof(struct conf, f)

static const struct size_key size_keys[] = {
	{ "input", "max_message", SZ(max_message), 16, CST_MAX_RAW / 2 },
	{ "input", "max_connections", SZ(max_connections), 1, 1 << 20 },
	{ "input", "udp_rcvbuf", SZ(udp_rcvbuf), 0, 1 << 30 },
	{ "input", "max_connections_per_peer", SZ(max_connections_per_peer), 1,
	    1 << 20 },
	{ "pipeline", "batch_records", SZ(batch_records), 1, CST_MAX_RECORDS },
	{ "pipeline", "batch_bytes", SZ(batch_bytes), 4096, CST_MAX_RAW / 2 },
	{ "pipeline", "max_inflight", SZ(max_inflight), 1 << 20,
	    (uint64_t)1 << 40 },
	{ "pipeline", "seal_threads", SZ(seal_threads), 1, 64 },
	{ "store", "segment_max_bytes", SZ(segment_max_bytes), 1 << 16,
	    (uint64_t)1 << 50 },
	{ "store", "checkpoint_history", SZ(checkpoint_history), 1, 1000000 },
	{ "replicate", "replicas", SZ(rep.replicas), 1, 5 },
	{ "replicate", "max_backlog", SZ(rep.max_backlog), 1 << 16,
	    (uint64_t)1 << 50 },
};

static const struct dur_key dur_keys[] = {
	{ "input", "idle_timeout", SZ(idle_timeout_s), 1000, 1000 },
	{ "pipeline", "batch_delay", SZ(batch_delay_ms), 1, 1 },
	{ "store", "commit_interval", SZ(commit_interval_ms), 1, 0 },
	{ "store", "segment_max_age", SZ(segment_max_age_s), 1000, 0 },
	{ "store", "checkpoint_interval", SZ(checkpoint_interval_ms), 1, 0 },
	{ "keys", "rotate_interval", SZ(key_rotate_s), 1000, 0 },
	{ "audit", "stats_interval", SZ(stats_interval_s), 1000, 0 },
	{ "audit", "clock_step_threshold", SZ(clock_step_ms), 1, 1 },
	{ "anchor", "tsa_interval", SZ(tsa_interval_ms), 1, 1000 },
	{ "anchor", "tsa_timeout", SZ(tsa_timeout_ms), 1, 100 },
	{ "replicate", "lag_record", SZ(rep.lag_record_s), 1000, 1000 },
};

/* Stores v in the uint64_t field at off. */
static void
store_uint(struct conf *c, size_t off, uint64_t v)
{

	memcpy((char *)c + off, &v, sizeof(v));
}

/* Applies one section/key/value.  Returns 0, CST_EPARSE or CST_ENOMEM. */
static int
apply(struct conf *c, const char *section, const char *key,
    const char *value, char *err)
{
	uint64_t v;
	size_t i;
	int b;
	int rc;

	for (i = 0; i < sizeof(size_keys) / sizeof(size_keys[0]); i++) {
		const struct size_key *k = &size_keys[i];

		if (strcmp(section, k->section) != 0 ||
		    strcmp(key, k->key) != 0)
			continue;
		if (conf_parse_size(value, &v) != 0 || v < k->min ||
		    v > k->max) {
			seterr(err, "%s.%s: \"%s\" is not a size from %llu to "
			    "%llu (suffixes K, M, G)", section, key, value,
			    (unsigned long long)k->min,
			    (unsigned long long)k->max);
			return (CST_EPARSE);
		}
		store_uint(c, k->off, v);
		return (0);
	}
	for (i = 0; i < sizeof(dur_keys) / sizeof(dur_keys[0]); i++) {
		const struct dur_key *k = &dur_keys[i];

		if (strcmp(section, k->section) != 0 ||
		    strcmp(key, k->key) != 0)
			continue;
		if (conf_parse_duration_ms(value, &v) != 0 || v < k->min_ms ||
		    v % k->div != 0) {
			seterr(err, "%s.%s: \"%s\" is not a duration (e.g. "
			    "100ms, 5s, 10m, 1h, 1d)%s", section, key, value,
			    k->div > 1 ? " in whole seconds" : "");
			return (CST_EPARSE);
		}
		store_uint(c, k->off, v / k->div);
		return (0);
	}

	if (strcmp(section, "tls") == 0) {
		if ((rc = apply_tls(&c->tls, key, value, err)) == CST_ENOMEM)
			seterr(err, "%s", cst_strerror(rc));
		return (rc);
	}
	if (strcmp(section, "witness") == 0) {
		if ((rc = apply_witness(&c->witness, key, value, err)) ==
		    CST_ENOMEM)
			seterr(err, "%s", cst_strerror(rc));
		return (rc);
	}
	if (strcmp(section, "replicate") == 0)
		return (apply_replicate(&c->rep, key, value, err));
	rc = 0;
	if (strcmp(section, "server") == 0 && strcmp(key, "data_dir") == 0) {
		rc = set_str(&c->data_dir, value);
	} else if (strcmp(section, "server") == 0 &&
	    strcmp(key, "listen") == 0) {
		/* The command line's list replaces the file's whole. */
		if (!c->listen_from_cli)
			rc = add_listen(c, value);
	} else if (strcmp(section, "server") == 0 &&
	    strcmp(key, "metrics") == 0) {
		c->metrics_set = 1;
		if (strcmp(value, "none") == 0 || value[0] == '\0') {
			free(c->metrics);
			c->metrics = NULL;
		} else
			rc = set_str(&c->metrics, value);
	} else if (strcmp(section, "server") == 0 &&
	    strcmp(key, "control_socket") == 0) {
		free(c->control_socket);
		c->control_socket = NULL;
		c->control_off = strcmp(value, "none") == 0;
		if (!c->control_off && value[0] != '\0')
			rc = set_str(&c->control_socket, value);
	} else if (strcmp(section, "server") == 0 &&
	    strcmp(key, "user") == 0) {
		rc = set_opt_str(&c->user, value);
	} else if (strcmp(section, "server") == 0 &&
	    strcmp(key, "allow_root") == 0) {
		if (parse_bool(value, &b) != 0) {
			seterr(err, "server.allow_root: \"%s\" is not yes or no",
			    value);
			return (CST_EPARSE);
		}
		c->allow_root = b;
	} else if (strcmp(section, "store") == 0 &&
	    strcmp(key, "commit_on_wait") == 0) {
		if (parse_bool(value, &b) != 0) {
			seterr(err, "store.commit_on_wait: \"%s\" is not yes "
			    "or no", value);
			return (CST_EPARSE);
		}
		c->commit_on_wait = b;
	} else if (strcmp(section, "pipeline") == 0 &&
	    strcmp(key, "zstd_level") == 0) {
		/* Negative levels are zstd's fast ones: less CPU, larger. */
		b = value[0] == '-';
		if (conf_parse_size(value + b, &v) != 0 || v > 19 ||
		    (b && (v < 1 || v > 7)) || (!b && v < 1)) {
			seterr(err, "pipeline.zstd_level: \"%s\" is not "
			    "-7..-1 or 1..19", value);
			return (CST_EPARSE);
		}
		c->zstd_level = b ? -(int)v : (int)v;
	} else if (strcmp(section, "store") == 0 &&
	    strcmp(key, "checkpoint_export_dir") == 0) {
		rc = set_opt_str(&c->checkpoint_export_dir, value);
	} else if (strcmp(section, "anchor") == 0 &&
	    (strcmp(key, "tsa_url") == 0 || strcmp(key, "tsa_ca") == 0 ||
	    strcmp(key, "tsa_cert") == 0)) {
		char **dst = strcmp(key, "tsa_url") == 0 ? &c->tsa_url :
		    strcmp(key, "tsa_ca") == 0 ? &c->tsa_ca : &c->tsa_cert;

		if (dst == &c->tsa_url && value[0] != '\0' &&
		    strncmp(value, "http://", 7) != 0 &&
		    strncmp(value, "https://", 8) != 0) {
			seterr(err, "anchor.tsa_url: \"%s\" is not an http:// "
			    "or https:// URL", value);
			return (CST_EPARSE);
		}
		rc = set_opt_str(dst, value);
	} else if (strcmp(section, "keys") == 0 &&
	    strcmp(key, "create") == 0) {
		if (parse_bool(value, &b) != 0) {
			seterr(err, "keys.create: \"%s\" is not yes or no",
			    value);
			return (CST_EPARSE);
		}
		c->keys_create = b;
	} else {
		seterr(err, "unknown setting %s.%s", section, key);
		return (CST_EPARSE);
	}
	if (rc == CST_ETOOBIG) {
		seterr(err, "more than %d listeners", CONF_MAX_LISTEN);
		return (CST_EPARSE);
	}
	if (rc != 0)
		seterr(err, "%s", cst_strerror(rc));
	return (rc);
}

static int
ini_cb(void *user, const char *section, const char *name, const char *value)
{
	struct conf_ctx *x = user;

	/* Keep the first error: inih goes on to the end of the file. */
	if (x->err[0] != '\0')
		return (0);
	if (section[0] == '\0') {
		seterr(x->err, "%s outside a [section]", name);
		return (0);
	}
	return (apply(x->c, section, name, value, x->err) == 0);
}

/* Reads the file path whole into a NUL-terminated *out. */
static int
read_file(const char *path, char **out, size_t *len, char *err)
{
	FILE *f;
	char *buf = NULL;
	size_t n;
	int rc;

	if ((f = fopen(path, "rb")) == NULL) {
		seterr(err, "%s: %s", path, strerror(errno));
		rc = errno == ENOENT ? CST_ENOENT : CST_EIO;
		goto err0;
	}
	if ((buf = malloc(CONF_FILE_MAX + 1)) == NULL) {
		rc = CST_ENOMEM;
		seterr(err, "%s", cst_strerror(rc));
		goto err1;
	}
	n = fread(buf, 1, CONF_FILE_MAX + 1, f);
	if (ferror(f)) {
		seterr(err, "%s: read error", path);
		rc = CST_EIO;
		goto err2;
	}
	if (n > CONF_FILE_MAX) {
		seterr(err, "%s: larger than %u bytes", path, CONF_FILE_MAX);
		rc = CST_EIO;
		goto err2;
	}
	if (memchr(buf, '\0', n) != NULL) {
		seterr(err, "%s: contains a NUL byte", path);
		rc = CST_EPARSE;
		goto err2;
	}
	buf[n] = '\0';
	fclose(f);
	*out = buf;
	*len = n;
	return (0);

err2:
	free(buf);
err1:
	fclose(f);
err0:
	return (rc);
}

int
conf_load_file(struct conf *c, const char *path, char err[CONF_ERR_LEN])
{
	struct conf_ctx x = { c, err };
	uint8_t digest[crypto_hash_sha256_BYTES];
	char *text;
	size_t len;
	int line;
	int rc;

	err[0] = '\0';
	if ((rc = read_file(path, &text, &len, err)) != 0)
		goto err0;
	crypto_hash_sha256(digest, (const uint8_t *)text, len);
	cst_hex(digest, sizeof(digest), c->sha256_hex);
	if ((rc = set_str(&c->path, path)) != 0) {
		seterr(err, "%s", cst_strerror(rc));
		goto err1;
	}
	line = ini_parse_string(text, ini_cb, &x);
	if (line != 0) {
		if (line < 0)
			seterr(err, "%s: %s", path, cst_strerror(CST_ENOMEM));
		else {
			char msg[CONF_ERR_LEN];

			memcpy(msg, err, CONF_ERR_LEN);
			seterr(err, "%s:%d: %s", path, line,
			    msg[0] != '\0' ? msg : "syntax error");
		}
		rc = CST_EPARSE;
		goto err1;
	}
	free(c->text);
	c->text = text;
	c->text_len = len;
	return (0);

err1:
	free(text);
err0:
	return (rc);
}

int
conf_set(struct conf *c, const char *name, const char *value,
    char err[CONF_ERR_LEN])
{
	char section[64];
	const char *dot;

	err[0] = '\0';
	if ((dot = strchr(name, '.')) == NULL ||
	    (size_t)(dot - name) >= sizeof(section)) {
		seterr(err, "--set %s: expected section.key=value", name);
		return (CST_EPARSE);
	}
	memcpy(section, name, (size_t)(dot - name));
	section[dot - name] = '\0';
	if (apply(c, section, dot + 1, value, err) != 0)
		return (CST_EPARSE);
	return (0);
}

int
conf_add_cli_listen(struct conf *c, const char *url)
{
	size_t i;

	if (!c->listen_from_cli) {
		for (i = 0; i < c->nlisten; i++)
			free(c->listen[i]);
		c->nlisten = 0;
		c->listen_from_cli = 1;
	}
	return (add_listen(c, url));
}

int
conf_tls_check(const struct conf_tls *t, char err[CONF_ERR_LEN])
{
	size_t i;

	if (t->cert == NULL || t->key == NULL) {
		seterr(err, "a tls:// listener needs tls.cert and tls.key");
		return (CST_EINVAL);
	}
	/* A name means something only in a certificate a CA vouched for. */
	for (i = 0; i < t->nallow; i++)
		if (t->ca == NULL && strncmp(t->allow[i], "name:", 5) == 0) {
			seterr(err, "tls.allow %s: a name needs tls.ca (without "
			    "it, only sha256: fingerprints identify a client)",
			    t->allow[i]);
			return (CST_EINVAL);
		}
	return (0);
}

int
conf_check(const struct conf *c, char err[CONF_ERR_LEN])
{
	size_t i;

	err[0] = '\0';
	if (c->data_dir == NULL) {
		seterr(err, "no data directory: set server.data_dir or "
		    "--data-dir");
		goto err0;
	}
	if (c->nlisten == 0) {
		seterr(err, "no listener: set server.listen or --listen");
		goto err0;
	}
	/* Syntax only: binding (addresses, ports in use) is the listener's. */
	for (i = 0; i < c->nlisten; i++) {
		const char *u = c->listen[i];

		if (strncmp(u, "tcp://", 6) != 0 &&
		    strncmp(u, "relp://", 7) != 0 &&
		    strncmp(u, "relp+tls://", 11) != 0 &&
		    strncmp(u, "udp://", 6) != 0 &&
		    strncmp(u, "tls://", 6) != 0 &&
		    strncmp(u, "unix:///", 8) != 0) {
			seterr(err, "listen %s: expected tcp://HOST:PORT, "
			    "relp://HOST:PORT, relp+tls://HOST:PORT, "
			    "udp://HOST:PORT, tls://HOST:PORT or unix:///PATH",
			    u);
			goto err0;
		}
		if ((strncmp(u, "tls://", 6) == 0 ||
		    strncmp(u, "relp+tls://", 11) == 0) &&
		    conf_tls_check(&c->tls, err) != 0)
			goto err0;
	}
	if (c->idle_timeout_s > CONF_IDLE_TIMEOUT_MAX_S) {
		seterr(err, "input.idle_timeout (%llu s) must be at most %d s",
		    (unsigned long long)c->idle_timeout_s,
		    CONF_IDLE_TIMEOUT_MAX_S);
		goto err0;
	}
	/* A piece of a message always fits an empty batch. */
	if (c->max_message + 1024 > c->batch_bytes) {
		seterr(err, "input.max_message (%llu) must be at least 1 KiB "
		    "smaller than pipeline.batch_bytes (%llu)",
		    (unsigned long long)c->max_message,
		    (unsigned long long)c->batch_bytes);
		goto err0;
	}
	/* Back-pressure needs room for a batch filling while one is sealed. */
	if (c->max_inflight / 2 < c->batch_records * sizeof(cst_record) +
	    c->batch_bytes) {
		seterr(err, "pipeline.max_inflight (%llu) must hold two "
		    "batches: at least %llu with these batch_records and "
		    "batch_bytes", (unsigned long long)c->max_inflight,
		    (unsigned long long)(2 * (c->batch_records *
		    sizeof(cst_record) + c->batch_bytes)));
		goto err0;
	}
	if (c->witness.listen != NULL) {
		if (c->witness.key == NULL || c->witness.nlogs == 0) {
			seterr(err, "witness.listen needs witness.key and at "
			    "least one witness.log");
			goto err0;
		}
		if (conf_tls_check(&c->tls, err) != 0)
			goto err0;
	}
	if (c->witness.npeers > 0 && c->witness.ca == NULL) {
		seterr(err, "witness.peer needs witness.ca (the CA that "
		    "signed the witnesses' server certificates)");
		goto err0;
	}
	if (c->rep.servers != NULL && c->rep.stream != NULL &&
	    (c->rep.stream[0] == '\0' || strpbrk(c->rep.stream,
	    " .*>\t") != NULL)) {
		seterr(err, "replicate.stream \"%s\": a stream name has no "
		    "space, '.', '*' or '>'", c->rep.stream);
		goto err0;
	}
	if (c->rep.servers == NULL && c->rep.ack_replicated) {
		seterr(err, "replicate.ack = replicated needs "
		    "replicate.servers");
		goto err0;
	}
	if (c->rep.tls_key != NULL && c->rep.tls_cert == NULL) {
		seterr(err, "replicate.tls_key needs replicate.tls_cert");
		goto err0;
	}
	if (c->commit_interval_ms == 0 || c->checkpoint_interval_ms == 0) {
		seterr(err, "store.commit_interval and "
		    "store.checkpoint_interval must not be 0");
		goto err0;
	}
	return (0);

err0:
	return (CST_EINVAL);
}
