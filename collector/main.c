/*
 * custodyd: the command line.
 *
 *   custodyd [run] [OPTIONS]        collect (the default)
 *   custodyd keygen --out DIR       make a chain's keys for production
 *   custodyd keygen --log-key --root-key FILE --out DIR
 *                                   a log key for an existing chain
 *   custodyd vkey DIR               the log's verifier key, for witnesses
 *   custodyd status [HOST:PORT]     a running daemon's summary (or
 *                                   --metrics-raw: every counter)
 *
 * Settings come from the defaults, then the --config file, then the
 * command-line options in the order given; SIGHUP repeats the same steps.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <curl/curl.h>
#include <sodium.h>

#include "custody/error.h"
#include "custody/hash.h"
#include "custody/keys.h"
#include "custody/note.h"

#include "custody_version.h"

#include "conf.h"
#include "daemon.h"
#include "fdlimit.h"
#include "log.h"
#include "metrics.h"
#include "status.h"
#include "submit.h"
#include "store.h"
#include "tls.h"
#include "witness.h"

#define DEFAULT_METRICS "tcp://127.0.0.1:9514"
#define MAX_OVERRIDES 256

/* One command-line setting, applied after the file. */
struct override {
	int opt;            /* 'd', 'l', 'm' or 's' */
	const char *arg;
};

struct cli {
	const char *config;
	struct override ov[MAX_OVERRIDES];
	size_t nov;
	int check;
};

static void
usage(FILE *f)
{

	fprintf(f,
"usage: custodyd [run] [OPTIONS]\n"
"       custodyd keygen --out DIR\n"
"       custodyd keygen --log-key --root-key ROOT.KEY --out DIR\n"
"       custodyd vkey DIR\n"
"       custodyd keygen --witness-key FILE --name NAME\n"
"       custodyd status [HOST:PORT | URL | --config FILE] [--metrics-raw]\n"
"       custodyd --help | --version\n"
"\n"
"Collects syslog events, seals them into a signed, hash-chained store and\n"
"keeps them durable.  Stops cleanly on SIGTERM or SIGINT (every record\n"
"received is sealed and fsynced, the segment is sealed, exit 0); SIGHUP\n"
"re-reads the configuration file and starts a new segment.\n"
"\n"
"run options (each overrides the configuration file):\n"
"  -c, --config FILE        INI configuration (see custodyd.conf.example)\n"
"  -d, --data-dir DIR       the store: segments/, keys/, checkpoints/, ...\n"
"  -l, --listen URL         listen on URL; repeatable; replaces the file's:\n"
"                             tcp://HOST:PORT  RFC 6587, octet-counted or LF\n"
"                             relp://HOST:PORT RELP, acknowledged once durable\n"
"                             udp://HOST:PORT  RFC 5426\n"
"                             unix:///PATH     local datagram socket (/dev/log)\n"
"                           [ADDR] for IPv6; port 0 picks a free port, and\n"
"                           the log line \"listening on URL\" names it\n"
"  -m, --metrics URL        counters over HTTP at tcp://HOST:PORT, or none\n"
"                           (default " DEFAULT_METRICS ")\n"
"  -s, --set SECTION.KEY=VALUE\n"
"                           any setting of the file, e.g.\n"
"                           --set pipeline.batch_records=4096\n"
"  -t, --check              check the configuration and exit\n"
"\n"
"keygen makes a new chain's root key, first epoch key and log key in DIR:\n"
"keep root.key offline, give root.pub to verifiers, and put root.pub,\n"
"epoch.key, log.key and log.cert into DATA/keys/.  With --log-key it makes\n"
"only a log key (log.key, log.cert) for the chain of ROOT.KEY, for a store\n"
"made without one.  Without keys, `run` makes development keys in\n"
"DATA/keys/ on first start (keys.create = yes, the default).\n"
"keygen --witness-key makes a witness's secret key (witness.key) and\n"
"prints its verifier key, to give to the logs it witnesses (witness.peer).\n"
"\n"
"vkey prints the log's verifier key (give it to witness operators) from\n"
"the log.cert in DIR/keys/, DIR or DIR/checkpoints/.\n"
"\n"
"status summarises a running custodyd (default " DEFAULT_METRICS "): events/s\n"
"over --interval DUR (default 1s), durable lag (received - durable), drops,\n"
"refusals, idle cuts, the store's free space; --metrics-raw prints every\n"
"counter as Prometheus text.  The address is HOST:PORT, tcp://HOST:PORT or\n"
"--metrics URL; --config FILE reads it from the file.\n"
"\n"
"Exit status: 0 clean stop; 1 error (the log says what); 2 usage.\n");
}

static int
opt_override(struct cli *cli, int opt, const char *arg)
{

	if (cli->nov == MAX_OVERRIDES) {
		fprintf(stderr, "custodyd: too many options\n");
		return (-1);
	}
	cli->ov[cli->nov].opt = opt;
	cli->ov[cli->nov].arg = arg;
	cli->nov++;
	return (0);
}

/* defaults, the file, then the command line: for start and SIGHUP alike. */
static int
build_conf(void *ctx, struct conf *c, char err[CONF_ERR_LEN])
{
	const struct cli *cli = ctx;
	const struct override *o;
	char name[128];
	const char *eq;
	size_t i;
	int rc;

	err[0] = '\0';
	if (cli->config != NULL &&
	    (rc = conf_load_file(c, cli->config, err)) != 0)
		return (rc);
	for (i = 0; i < cli->nov; i++) {
		o = &cli->ov[i];
		switch (o->opt) {
		case 'd':
			rc = conf_set(c, "server.data_dir", o->arg, err);
			break;
		case 'l':
			if ((rc = conf_add_cli_listen(c, o->arg)) != 0)
				snprintf(err, CONF_ERR_LEN, "--listen %s: %s",
				    o->arg, cst_strerror(rc));
			break;
		case 'm':
			rc = conf_set(c, "server.metrics", o->arg, err);
			break;
		default:
			if ((eq = strchr(o->arg, '=')) == NULL ||
			    (size_t)(eq - o->arg) >= sizeof(name)) {
				snprintf(err, CONF_ERR_LEN, "--set %s: expected "
				    "SECTION.KEY=VALUE", o->arg);
				return (CST_EPARSE);
			}
			memcpy(name, o->arg, (size_t)(eq - o->arg));
			name[eq - o->arg] = '\0';
			rc = conf_set(c, name, eq + 1, err);
			break;
		}
		if (rc != 0)
			return (rc);
	}
	if (!c->metrics_set &&
	    (rc = conf_set(c, "server.metrics", DEFAULT_METRICS, err)) != 0)
		return (rc);
	return (0);
}


/*
 * --check: the certificates and key of the TLS listeners load, as the
 * start would load them.  0, or -1 after saying why.
 */
static int
check_tls(const struct conf *c)
{
	struct tls_server *srv;
	char err[TLS_ERR_LEN];
	size_t i;

	for (i = 0; i < c->nlisten; i++) {
		if (strncmp(c->listen[i], "tls://", 6) != 0 &&
		    strncmp(c->listen[i], "relp+tls://", 11) != 0)
			continue;
		if (tls_server_new(&c->tls, &srv, err) != 0) {
			log_err("%s", err);
			return (-1);
		}
		tls_server_unref(srv);
		break;
	}
	return (0);
}

/*
 * --check: [witness] as the start would take it: the endpoint's TLS
 * files, the witness key and the logs' keys, the peers' keys.  0, or -1
 * after saying why.
 */
static int
check_witness(const struct conf *c)
{
	const struct conf_witness *w = &c->witness;
	struct tls_server *srv;
	char err[TLS_ERR_LEN], werr[WITNESS_ERR_LEN], serr[SUBMIT_ERR_LEN];
	char url[CONF_ERR_LEN];
	cst_note_vkey k;
	size_t i;

	if (w->listen != NULL) {
		if (tls_server_new(&c->tls, &srv, err) != 0) {
			log_err("witness: %s", err);
			return (-1);
		}
		tls_server_unref(srv);
		if (witness_check(w->key, w->logs, w->nlogs, werr) != 0) {
			log_err("%s", werr);
			return (-1);
		}
	}
	for (i = 0; i < w->npeers; i++)
		if (submit_peer_parse(w->peers[i], url, sizeof(url), &k, NULL,
		    serr) != 0) {
			log_err("%s", serr);
			return (-1);
		}
	return (0);
}
static int
cmd_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "data-dir", required_argument, NULL, 'd' },
		{ "listen", required_argument, NULL, 'l' },
		{ "metrics", required_argument, NULL, 'm' },
		{ "set", required_argument, NULL, 's' },
		{ "check", no_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	static struct cli cli;
	struct conf c;
	char err[CONF_ERR_LEN];
	int ch, code;

	while ((ch = getopt_long(argc, argv, "c:d:l:m:s:thV", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			cli.config = optarg;
			break;
		case 'd': case 'l': case 'm': case 's':
			if (opt_override(&cli, ch, optarg) != 0)
				return (2);
			break;
		case 't':
			cli.check = 1;
			break;
		case 'h':
			usage(stdout);
			return (0);
		case 'V':
			printf("custodyd %s (%s)\n", CUSTODY_VERSION,
			    CUSTODY_GIT_COMMIT);
			return (0);
		default:
			usage(stderr);
			return (2);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "custodyd: unexpected argument %s\n",
		    argv[optind]);
		usage(stderr);
		return (2);
	}
	conf_init(&c);
	if (build_conf(&cli, &c, err) != 0 || conf_check(&c, err) != 0) {
		log_err("%s", err);
		conf_close(&c);
		return (1);
	}
	if (cli.check) {
		char fderr[FDLIMIT_ERR_LEN];
		uint64_t limit;

		/* As the start would: under this process's open-file limit. */
		if (fdlimit_fit(c.max_connections, c.nlisten, &limit,
		    fderr) != 0) {
			log_err("%s", fderr);
			conf_close(&c);
			return (1);
		}
		if (check_tls(&c) != 0 || check_witness(&c) != 0) {
			conf_close(&c);
			return (1);
		}
		printf("custodyd: configuration OK\n");
		conf_close(&c);
		return (0);
	}
	code = daemon_run(&c, build_conf, &cli);
	conf_close(&c);
	return (code);
}

/* keygen --witness-key FILE --name NAME: prints the verifier key. */
static int
keygen_witness(const char *path, const char *name)
{
	cst_buf vk;
	int rc;

	cst_buf_init(&vk);
	if ((rc = witness_keygen(path, name, &vk)) != 0) {
		log_err("keygen: %s: %s", path, rc == CST_EINVAL ? "the name "
		    "must be 1..255 printable bytes without '+' or space" :
		    cst_strerror(rc));
		cst_buf_close(&vk);
		return (1);
	}
	printf("%.*s\n", (int)vk.len, (const char *)vk.p);
	cst_buf_close(&vk);
	return (0);
}

/* Prints the verifier key of the log.cert in dir, with label. */
static int
print_vkey(const char *dir, const char *label)
{
	char err[STORE_ERR_LEN], vkey[CST_NOTE_MAX_NAME + 64];

	if (store_vkey(dir, vkey, sizeof(vkey), err) != 0) {
		log_err("vkey: %s", err);
		return (1);
	}
	printf("%s%s\n", label, vkey);
	return (0);
}

static int
cmd_keygen(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "witness-key", required_argument, NULL, 'w' },
		{ "name", required_argument, NULL, 'n' },
		{ "log-key", no_argument, NULL, 'L' },
		{ "root-key", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char err[STORE_ERR_LEN], pub[4096], chain[2 * CST_CHAIN_ID_LEN + 1];
	char ident[CST_ROOT_ID_TEXT_LEN + 8];
	const char *out = NULL, *root_key = NULL, *wkey = NULL, *wname = NULL;
	cst_root_pub root;
	struct timespec ts;
	int ch, log_only = 0;

	while ((ch = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'o':
			out = optarg;
			break;
		case 'w':
			wkey = optarg;
			break;
		case 'n':
			wname = optarg;
			break;
		case 'L':
			log_only = 1;
			break;
		case 'r':
			root_key = optarg;
			break;
		case 'h':
			usage(stdout);
			return (0);
		default:
			usage(stderr);
			return (2);
		}
	}
	if (wkey != NULL && out == NULL && wname != NULL && optind == argc &&
	    !log_only)
		return (keygen_witness(wkey, wname));
	if (out == NULL || optind != argc || log_only != (root_key != NULL)) {
		fprintf(stderr, "usage: custodyd keygen --out DIR\n"
		    "       custodyd keygen --log-key --root-key ROOT.KEY "
		    "--out DIR\n"
		    "       custodyd keygen --witness-key FILE --name NAME\n");
		return (2);
	}
	if (log_only) {
		if (store_log_keygen(out, root_key, err) != 0) {
			log_err("keygen: %s", err);
			return (1);
		}
		printf("custodyd: made a log key in %s:\n"
		    "  log.key    the log's signing key: copy it to DATA/keys/ "
		    "(mode 0600)\n"
		    "  log.cert   its certificate by the root: copy it to "
		    "DATA/keys/\n", out);
		return (print_vkey(out, "verifier key for witnesses: "));
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	if (store_keygen(out, (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec,
	    err) != 0) {
		log_err("keygen: %s", err);
		return (1);
	}
	snprintf(pub, sizeof(pub), "%s/root.pub", out);
	if (cst_root_pub_load(pub, &root) != 0) {
		log_err("keygen: cannot read back %s", pub);
		return (1);
	}
	cst_hex(root.chain_id, CST_CHAIN_ID_LEN, chain);
	cst_root_pub_identity(&root, "  ", ident, sizeof(ident));
	printf("custodyd: made chain %s in %s:\n"
	    "  root.key   the root secret: move it offline; it signed epoch "
	    "1's certificate\n"
	    "             and the log key's, and is not needed again for "
	    "this chain\n"
	    "  root.pub   the trust anchor: give it to verifiers, and copy "
	    "it to DATA/keys/\n"
	    "  epoch.key  the collector's signing key: copy it to "
	    "DATA/keys/ (mode 0600)\n"
	    "  log.key    the log key, signs note checkpoints: copy it to "
	    "DATA/keys/ (mode 0600)\n"
	    "  log.cert   its certificate by the root: copy it to "
	    "DATA/keys/\n"
	    "\n"
	    "File this with the key (SPEC R-KEY-5), on paper or anywhere the "
	    "collector's\nadministrators cannot change it:\n\n%s\n"
	    "Keep root.pub where an investigator can be given it: a copy "
	    "off this machine,\nunder your records' custody.  Verifying "
	    "this chain needs exactly this root\npublic key, and the "
	    "fingerprint above identifies it: custody-verify prints\nthe "
	    "same two lines for the key it used, and a key with other lines "
	    "is not this\nchain's.  root.pub holds no secret; root.key "
	    "does.\n\n", chain, out, ident);
	return (print_vkey(out, "verifier key for witnesses: "));
}

static int
cmd_vkey(int argc, char **argv)
{

	if (argc == 2 && (strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0)) {
		usage(stdout);
		return (0);
	}
	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: custodyd vkey DIR\n");
		return (2);
	}
	return (print_vkey(argv[1], ""));
}

static int
cmd_status(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "metrics", required_argument, NULL, 'm' },
		{ "config", required_argument, NULL, 'c' },
		{ "metrics-raw", no_argument, NULL, 'r' },
		{ "interval", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char err[CONF_ERR_LEN], url[300];
	const char *where = NULL, *config = NULL;
	uint64_t interval_ms = 1000;
	struct conf c;
	int ch, raw = 0, rc;

	while ((ch = getopt_long(argc, argv, "m:c:ri:h", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'm':
			where = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 'r':
			raw = 1;
			break;
		case 'i':
			if (conf_parse_duration_ms(optarg, &interval_ms) != 0 ||
			    interval_ms < 100 || interval_ms > 60000) {
				fprintf(stderr, "custodyd status: --interval "
				    "%s: a duration from 100ms to 60s\n",
				    optarg);
				return (2);
			}
			break;
		case 'h':
			usage(stdout);
			return (0);
		default:
			usage(stderr);
			return (2);
		}
	}
	/* The address may also come alone: custodyd status 127.0.0.1:9514 */
	if (optind < argc && where == NULL)
		where = argv[optind++];
	if (optind != argc) {
		usage(stderr);
		return (2);
	}
	conf_init(&c);
	if (where == NULL && config != NULL) {
		if (conf_load_file(&c, config, err) != 0) {
			log_err("%s", err);
			conf_close(&c);
			return (1);
		}
		if (c.metrics_set && c.metrics == NULL) {
			log_err("%s: the metrics endpoint is off", config);
			conf_close(&c);
			return (1);
		}
		where = c.metrics;
	}
	if (where == NULL)
		where = DEFAULT_METRICS;
	/* HOST:PORT as the listeners' URLs spell it without the scheme. */
	snprintf(url, sizeof(url), "%s%s", strstr(where, "://") == NULL ?
	    "tcp://" : "", where);
	if (raw)
		rc = metrics_fetch(url, stdout, err);
	else
		rc = status_summary(url, interval_ms, stdout, err);
	if (rc != 0)
		log_err("status: %s (is custodyd running?)", err);
	conf_close(&c);
	return (rc == 0 ? 0 : 1);
}

int
main(int argc, char **argv)
{

	log_init();
	if (sodium_init() < 0) {
		log_err("libsodium cannot start");
		return (1);
	}
	/* Before any thread: the timestamp client's library (anchor.c). */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		log_err("libcurl cannot start");
		return (1);
	}
	signal(SIGPIPE, SIG_IGN);
	umask(027);
	if (argc > 1 && strcmp(argv[1], "keygen") == 0)
		return (cmd_keygen(argc - 1, argv + 1));
	if (argc > 1 && strcmp(argv[1], "vkey") == 0)
		return (cmd_vkey(argc - 1, argv + 1));
	if (argc > 1 && strcmp(argv[1], "status") == 0)
		return (cmd_status(argc - 1, argv + 1));
	if (argc > 1 && strcmp(argv[1], "run") == 0)
		return (cmd_run(argc - 1, argv + 1));
	return (cmd_run(argc, argv));
}
