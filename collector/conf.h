/*
 * custodyd configuration: one INI file (libinih) and command-line
 * overrides.  See custodyd.conf.example for every key.
 */
#ifndef CUSTODY_COLLECTOR_CONF_H
#define CUSTODY_COLLECTOR_CONF_H

#include <stddef.h>
#include <stdint.h>

#define CONF_MAX_LISTEN 64
#define CONF_ERR_LEN 256
/*
 * input.idle_timeout: by default, how long trickling connections (and idle
 * ones, when slots run short) can hold slots before they are cut; at most
 * a day, since a longer one protects nothing.
 */
#define CONF_IDLE_TIMEOUT_DEFAULT_S 60
#define CONF_IDLE_TIMEOUT_MAX_S 86400
/*
 * keys.rotate_interval: a stolen epoch key can sign blocks back to the
 * start of its epoch, so this bounds how much history such a theft can
 * rewrite (SPEC section 6).
 */
#define CONF_KEY_ROTATE_DEFAULT_S 900
/* store.checkpoint_history: numbered checkpoints kept (R-CKP-6). */
#define CONF_CHECKPOINT_HISTORY_DEFAULT 100

/* [tls]: the tls:// listeners' certificates and whom they accept. */
#define CONF_MAX_ALLOW 64
struct conf_tls {
	char *cert;             /* PEM chain, the server's first */
	char *key;              /* PEM, mode 0600 or stricter */
	char *ca;               /* PEM bundle; NULL: no client chain check */
	char *allow[CONF_MAX_ALLOW]; /* sha256:HEX, name:PATTERN */
	size_t nallow;
	int min_version;        /* 12 (TLS 1.2) or 13 */
};

/* [replicate]: a copy of every durable block in NATS JetStream (SPEC 17). */
#define CONF_REP_LAG_RECORD_DEFAULT_S 30
struct conf_replicate {
	char *servers;          /* nats:// or tls:// URLs; NULL: off */
	char *creds;            /* NATS credentials file */
	char *tls_cert;         /* client certificate (PEM) */
	char *tls_key;
	char *tls_ca;
	char *stream;           /* NULL: CUSTODY */
	uint64_t replicas;      /* with fewer than 3 servers in the cluster */
	int ack_replicated;     /* RELP answers wait for JetStream (R-REP-5) */
	uint64_t max_backlog;   /* bytes waiting before a kind 12 record */
	uint64_t lag_record_s;  /* no ack for this long: a kind 12 record */
};

/* Every number is a uint64_t so that one table can set them all. */
struct conf {
	/* [server] */
	char *data_dir;
	char *listen[CONF_MAX_LISTEN];
	size_t nlisten;
	int listen_from_cli;    /* the command line replaced the file's list */
	char *metrics;          /* NULL: no metrics endpoint */
	int metrics_set;        /* server.metrics was given (even as none) */
	char *user;             /* started as root: run as this user; NULL: none */
	int allow_root;         /* started as root without user: stay root */
	/* [input] */
	uint64_t max_message;
	uint64_t max_connections;
	uint64_t udp_rcvbuf;    /* 0: the kernel's default */
	uint64_t idle_timeout_s;       /* a stream without a message: closed */
	uint64_t max_connections_per_peer;
	/* [pipeline] */
	uint64_t batch_records;
	uint64_t batch_bytes;
	uint64_t batch_delay_ms;
	uint64_t max_inflight;
	uint64_t seal_threads;
	int zstd_level;
	/* [store] */
	uint64_t commit_interval_ms;
	int commit_on_wait;     /* a RELP sender waits: commit at once */
	uint64_t segment_max_bytes;
	uint64_t segment_max_age_s;    /* 0: no age limit */
	uint64_t checkpoint_interval_ms;
	uint64_t checkpoint_history;   /* numbered checkpoints kept (R-CKP-6) */
	char *checkpoint_export_dir;   /* NULL: none */
	/* [keys] */
	int keys_create;
	uint64_t key_rotate_s;         /* 0: never */
	/* [audit] */
	uint64_t stats_interval_s;     /* 0: no stats records */
	uint64_t clock_step_ms;
	struct conf_tls tls;
	struct conf_replicate rep;

	/* The file read, and the SHA-256 of its exact bytes (start record). */
	char *path;
	char sha256_hex[65];
};

/* Sets every field of c to its default; c owns nothing yet. */
void conf_init(struct conf *c);

/* Frees what c owns and leaves it as conf_init does; idempotent. */
void conf_close(struct conf *c);

/*
 * Reads the INI file path (borrowed) into c: every key overrides the
 * default, listen keys accumulate.  Records path and the file's SHA-256.
 * Returns 0, or CST_ENOENT / CST_EIO / CST_EPARSE with a message in err.
 */
int conf_load_file(struct conf *c, const char *path, char err[CONF_ERR_LEN]);

/*
 * Sets "section.key" to value (both borrowed), as a line of the file
 * would (for --set).  Returns 0 or CST_EPARSE with a message in err.
 */
int conf_set(struct conf *c, const char *name, const char *value,
    char err[CONF_ERR_LEN]);

/*
 * Adds a listener URL given on the command line; the first one replaces
 * the file's listeners.  Returns 0, CST_ENOMEM or CST_ETOOBIG.
 */
int conf_add_cli_listen(struct conf *c, const char *url);

/*
 * Checks the values against each other (a message must fit a batch, ...).
 * Returns 0 or CST_EINVAL with a message in err.
 */
int conf_check(const struct conf *c, char err[CONF_ERR_LEN]);

/* Frees what t owns and leaves it at its defaults; idempotent. */
void conf_tls_close(struct conf_tls *t);

/*
 * Checks [tls] t (borrowed) for a tls:// listener: a certificate and
 * key, and a CA wherever a name is allowed.  0 or CST_EINVAL, in err.
 */
int conf_tls_check(const struct conf_tls *t, char err[CONF_ERR_LEN]);

/*
 * Parses a size ("64K", "4M", "1G", "512") into *out.  Returns 0 or
 * CST_EPARSE.
 */
int conf_parse_size(const char *s, uint64_t *out);

/*
 * Parses a duration with its unit ("100ms", "5s", "10m", "1h", "1d", or
 * a bare "0") into milliseconds.  Returns 0 or CST_EPARSE.
 */
int conf_parse_duration_ms(const char *s, uint64_t *out);

#endif /* CUSTODY_COLLECTOR_CONF_H */
