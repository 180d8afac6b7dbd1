/*
 * custody-query's command line: its options, their checks, and the help
 * texts.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "custody/buf.h"
#include "custody/error.h"
#include "custody/record.h"

#include "exit.h"
#include "query.h"
#include "vcase.h"
#include "query_cli.h"

static const char progname[] = QUERY_PROGNAME;

static void
usage(FILE *f)
{

	fprintf(f,
"usage: %s DIR... [filters] [output]\n"
"\n"
"Shows records of the custody store DIR after verifying them.  The\n"
"options follow journalctl's where journalctl has one.  Given several\n"
"stores, each is verified against its own root key and their records\n"
"are merged in receive-time order (ties: chain id, then sequence\n"
"number), each labelled with its chain: '[0123abcd] ' (the chain id's\n"
"first 8 hex digits) before a text line, a \"chain\" key in JSON, a\n"
"chain= line in verbose; -o raw stays the bytes as received.\n"
"\n"
"Filters (different options combine with AND; a repeated -t, --host,\n"
"--peer, --priority, --facility or --kind accepts any of its values;\n"
"repeated --grep, --grep-fixed, --regex and --sd must all hold):\n"
"  -S, --since TIME       receive time >= TIME\n"
"  -U, --until TIME       receive time < TIME\n"
"      TIME: '2024-05-01 21:00[:SS]', 2024-05-01, 21:00 (today), now,\n"
"      today, yesterday, tomorrow (midnight), 'yesterday 18:00', RFC 3339\n"
"      (2024-05-01T21:00:00Z, offsets allowed), @SECONDS, or relative:\n"
"      -2h, +30min, 1h30min, '2 days ago' (no sign: the past).  Without\n"
"      a zone, local time (TZ), or UTC with --utc\n"
"  -t, --identifier NAME  syslog identifier (app-name, RFC 3164 tag) is\n"
"                         NAME, any case (alias: -a, --app)\n"
"  -H, --host NAME        hostname is NAME, any case\n"
"  -p, --priority P       P (err or 3) and every more severe level\n"
"                         (emerg..err), or a range (warning..emerg);\n"
"                         records without one never match (alias:\n"
"                         --severity)\n"
"      --facility LIST    facility names or numbers, comma separated\n"
"      --seq A..B         sequence numbers A to B inclusive (A.., ..B, A)\n"
"      --peer ADDR        sender address, with or without its port\n"
"      --kind LIST        event, audit (all collector records), or start,\n"
"                         stop, recovery, key-epoch, loss, stats, clock,\n"
"                         reload, refusal, access (who read the store),\n"
"                         witness, replication\n"
"      --all              also the collector's own audit records (shown\n"
"                         otherwise only with --kind)\n"
"      --sd ID[.PARAM[=VALUE]]  RFC 5424 structured data\n"
"      --tls-peer PATTERN the TLS client certificate, \"sha256:HEX SUBJECT\"\n"
"                         (SPEC R-REC-7), as a shell pattern, e.g.\n"
"                         'sha256:3f2a*' or '*CN=web1.example.org*'\n"
"      --uid N, --pid N   a local sender's user or process id, as the\n"
"                         kernel gave it on the unix socket (SPEC R-REC-9)\n"
"  -g, --grep PCRE2       the raw message matches the PCRE2 pattern;\n"
"                         case-insensitive when the pattern has no\n"
"                         upper-case letter (journalctl's smart case)\n"
"      --grep-fixed TEXT  the raw message contains TEXT exactly\n"
"  -e, --regex PCRE2      the raw message matches, case-sensitive\n"
"  -u, --unit             refused: custody has no units; use -t\n"
"\n"
"Output:\n"
"  -o, --output MODE      short (default): 'Mon DD HH:MM:SS host\n"
"                           ident[pid]: message'\n"
"                         short-iso: ISO 8601 time with its offset\n"
"                         short-precise: the time with microseconds\n"
"                         cat: the message alone\n"
"                         verbose: every field, one per line\n"
"                         json: JSON lines (see --help-json)\n"
"                         json-pretty: the same objects, indented\n"
"                         raw: the bytes received, one record per line;\n"
"                           a trailing LF is not doubled, an LF inside a\n"
"                           record stays\n"
"                         Text modes show control bytes as \\xNN.\n"
"  -j, --json             -o json\n"
"      --raw              -o raw\n"
"      --utc              show and read times in UTC, not local time\n"
"  -c, --count            the number of matching records\n"
"  -n, --lines [N]        the newest N records (default 10), oldest first;\n"
"                         +N: the oldest N; all: no limit (alias:\n"
"                         --limit N)\n"
"  -r, --reverse          newest first\n"
"  -f, --follow           then show new records as they are sealed (the\n"
"                         newest 10 first unless -n)\n"
"      --interval DUR     poll interval of --follow (default 250ms,\n"
"                         50ms..10s)\n"
"      --histogram DUR    matching records per DUR as a bar chart\n"
"      --bundle FILE      write the matches as an evidence bundle (SPEC\n"
"                         section 11), joined up to the latest checkpoint,\n"
"                         or, below the newest note checkpoint, each block\n"
"                         with its chain-tree inclusion proof under it;\n"
"                         several stores: FILE is a prefix, one bundle\n"
"                         per chain, FILE-<chain id>.cbnd\n"
"      --bundle-minimal   only the blocks that hold matches\n"
"      --bundle-headers   join every block to the checkpoint by block\n"
"                         headers, as version 1 bundles do, instead of\n"
"                         proving it in the store's note checkpoint: for\n"
"                         an investigator who checks the bundle against a\n"
"                         checkpoint kept off the machine (--checkpoint)\n"
"      --case ID, --exhibit REF, --examiner NAME, --organisation NAME\n"
"                         with --bundle: the case, written into the\n"
"                         bundle's note with the command line (printable\n"
"                         text, at most 200 bytes each)\n"
"      --case-dir DIR     with --bundle: append an entry to the case record\n"
"                         DIR (SPEC section 16): who, when, the command,\n"
"                         the store's files and the bundle with their\n"
"                         SHA-256\n"
"\n"
"Other:\n"
"      --root FILE        root public key (default DIR/keys/root.pub); one\n"
"                         store only\n"
"      --root-dir DIR     the root keys of several stores, by chain id:\n"
"                         DIR/<chain id>.pub, or DIR/<chain id>.fpr (the\n"
"                         key's fingerprint; the key is then the store's\n"
"                         keys/root.pub); a store whose chain has neither\n"
"                         is refused\n"
"      --nats URL         read the stores from the NATS JetStream stream\n"
"                         a collector replicates to (SPEC section 17),\n"
"                         restored into a private temporary directory\n"
"                         that is removed at exit; every chain of the\n"
"                         stream, or those of --chain ID (repeatable);\n"
"                         --stream S (default CUSTODY), --creds FILE,\n"
"                         --tls-cert FILE --tls-key FILE --tls-ca FILE.\n"
"                         Needs --root-dir (or --root and one --chain).\n"
"                         A block the stream holds twice with different\n"
"                         bytes is shown in neither form (exit 1)\n"
"      --no-index         do not use or build DIR/index/\n"
"      --reindex          rebuild the index of every segment\n"
"      --threads N        worker threads (default: online CPUs, max 16)\n"
"  -v, --verbose          say what was skipped and opened\n"
"      --control-socket PATH  custodyd's control socket (default\n"
"                         DIR/control.sock), where this look at the store\n"
"                         is reported before anything is shown and sealed\n"
"                         as access records (SPEC section 18)\n"
"      --require-access-record  refuse (exit 2) when custodyd cannot\n"
"                         record this access; otherwise a warning\n"
"\n"
"An evidence bundle is not a store: read it with custody-verify --bundle\n"
"FILE --root ROOT.pub --records.\n"
"\n"
"Exit status (the same scheme as custody-verify's):\n"
"  0  every record shown was verified and no failure was found\n"
"  1  integrity failure: reported on stderr; the failed blocks' records\n"
"     were not shown\n"
"  2  usage error, or the store, a key or an output could not be read or\n"
"     written\n", progname);
}

static void
usage_json(void)
{

	printf(
"JSON lines: one object per record, fields always present, in this order:\n"
"  chain      string   the chain id (32 hex digits), first, only when\n"
"                      several stores are queried\n"
"  seq        integer  sequence number in the chain\n"
"  block      integer  block number\n"
"  recv_ns    integer  receive time, ns since 1970 UTC\n"
"  recv_time  string   receive time, RFC 3339 UTC with 9 digits\n"
"  kind       string   event, start, stop, recovery, key-epoch, loss,\n"
"                      stats, clock, reload, refusal, access, witness,\n"
"                      replication\n"
"  transport  string   internal, udp, tcp, tls, relp, unix\n"
"  listener   string\n"
"  peer       string   sender address\n"
"  tls_peer   string or null: the authenticated peer; over the unix\n"
"             socket \"ucred pid=P uid=U gid=G\" (SPEC R-REC-9)\n"
"  flags      integer  record flags (SPEC section 5)\n"
"  format     \"rfc5424\", \"rfc3164\" or null (did not parse)\n"
"  facility   integer or null\n"
"  severity   integer or null\n"
"  timestamp  string or null: the message's own time, RFC 3339 UTC\n"
"  host, app, procid, msgid, sd, msg: string or null (absent); derived\n"
"             from raw, invalid UTF-8 replaced by U+FFFD\n"
"  detail     object or null: a collector record's details\n"
"  raw        string: the exact bytes received, when they are valid UTF-8;\n"
"  raw_base64 string: instead of raw, base64 (RFC 4648) of the bytes\n"
"             when they are not\n"
"  ucred      object or null: {\"pid\", \"uid\", \"gid\"} integers of a\n"
"             local sender, read from tls_peer\n"
"  local_host string, only on an RFC 3164 message from the unix socket\n"
"             that names no host: the hostname of the start record of\n"
"             the collector's run that received it (SPEC section 5);\n"
"             not part of raw or of the parsed fields\n");
}

static int
parse_u64(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	if (s[0] < '0' || s[0] > '9')
		return (-1);
	*out = strtoull(s, &end, 10);
	return (errno != 0 || *end != '\0' ? -1 : 0);
}

enum {
	OPT_FACILITY = 256, OPT_SEQ, OPT_PEER, OPT_KIND, OPT_SD, OPT_RAW,
	OPT_HISTOGRAM, OPT_BUNDLE, OPT_BUNDLE_MIN, OPT_BUNDLE_HEADERS, OPT_ROOT,
	OPT_NO_INDEX,
	OPT_REINDEX, OPT_THREADS, OPT_INTERVAL, OPT_HELP_JSON, OPT_GREP_FIXED,
	OPT_UTC, OPT_ALL, OPT_LIMIT,
	OPT_UID, OPT_PID, OPT_TLS_PEER, OPT_CONTROL_SOCKET, OPT_REQUIRE_ACCESS,
	OPT_CASE_DIR,
	OPT_ROOT_DIR, OPT_NATS,
};

static const struct option longopts[] = {
	{ "since", required_argument, NULL, 'S' },
	{ "until", required_argument, NULL, 'U' },
	{ "host", required_argument, NULL, 'H' },
	{ "identifier", required_argument, NULL, 't' },
	{ "app", required_argument, NULL, 'a' },
	{ "unit", required_argument, NULL, 'u' },
	{ "severity", required_argument, NULL, 'p' },
	{ "priority", required_argument, NULL, 'p' },
	{ "facility", required_argument, NULL, OPT_FACILITY },
	{ "seq", required_argument, NULL, OPT_SEQ },
	{ "peer", required_argument, NULL, OPT_PEER },
	{ "kind", required_argument, NULL, OPT_KIND },
	{ "sd", required_argument, NULL, OPT_SD },
	{ "all", no_argument, NULL, OPT_ALL },
	{ "uid", required_argument, NULL, OPT_UID },
	{ "tls-peer", required_argument, NULL, OPT_TLS_PEER },
	{ "pid", required_argument, NULL, OPT_PID },
	{ "grep", required_argument, NULL, 'g' },
	{ "grep-fixed", required_argument, NULL, OPT_GREP_FIXED },
	{ "regex", required_argument, NULL, 'e' },
	{ "output", required_argument, NULL, 'o' },
	{ "json", no_argument, NULL, 'j' },
	{ "raw", no_argument, NULL, OPT_RAW },
	{ "utc", no_argument, NULL, OPT_UTC },
	{ "count", no_argument, NULL, 'c' },
	{ "lines", optional_argument, NULL, 'n' },
	{ "limit", required_argument, NULL, OPT_LIMIT },
	{ "reverse", no_argument, NULL, 'r' },
	{ "follow", no_argument, NULL, 'f' },
	{ "interval", required_argument, NULL, OPT_INTERVAL },
	{ "histogram", required_argument, NULL, OPT_HISTOGRAM },
	{ "bundle", required_argument, NULL, OPT_BUNDLE },
	{ "bundle-minimal", no_argument, NULL, OPT_BUNDLE_MIN },
	{ "bundle-headers", no_argument, NULL, OPT_BUNDLE_HEADERS },
	{ "case", required_argument, NULL, VCASE_OPT_CASE },
	{ "exhibit", required_argument, NULL, VCASE_OPT_EXHIBIT },
	{ "examiner", required_argument, NULL, VCASE_OPT_EXAMINER },
	{ "organisation", required_argument, NULL, VCASE_OPT_ORGANISATION },
	{ "root", required_argument, NULL, OPT_ROOT },
	{ "control-socket", required_argument, NULL, OPT_CONTROL_SOCKET },
	{ "case-dir", required_argument, NULL, OPT_CASE_DIR },
	{ "require-access-record", no_argument, NULL, OPT_REQUIRE_ACCESS },
	{ "root-dir", required_argument, NULL, OPT_ROOT_DIR },
	{ "nats", required_argument, NULL, OPT_NATS },
	{ "chain", required_argument, NULL, OPT_NATS },
	{ "stream", required_argument, NULL, OPT_NATS },
	{ "creds", required_argument, NULL, OPT_NATS },
	{ "tls-cert", required_argument, NULL, OPT_NATS },
	{ "tls-key", required_argument, NULL, OPT_NATS },
	{ "tls-ca", required_argument, NULL, OPT_NATS },
	{ "no-index", no_argument, NULL, OPT_NO_INDEX },
	{ "reindex", no_argument, NULL, OPT_REINDEX },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "help-json", no_argument, NULL, OPT_HELP_JSON },
	{ NULL, 0, NULL, 0 },
};

static int
bad(const char *opt, const char *arg)
{

	fprintf(stderr, "%s: invalid %s: '%s'\n", progname, opt, arg);
	return (-1);
}

static const struct {
	const char *name;
	enum query_format fmt;
} modes[] = {
	{ "short", QUERY_SHORT }, { "short-iso", QUERY_SHORT_ISO },
	{ "short-precise", QUERY_SHORT_PRECISE }, { "json", QUERY_JSON },
	{ "json-pretty", QUERY_JSON_PRETTY }, { "cat", QUERY_CAT },
	{ "raw", QUERY_RAW }, { "verbose", QUERY_VERBOSE },
};

static int
output_mode(const char *arg, enum query_format *fmt)
{
	size_t i;

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcmp(arg, modes[i].name) == 0) {
			*fmt = modes[i].fmt;
			return (0);
		}
	return (-1);
}

/* journalctl's -n: "N" the newest N, "+N" the oldest N, "all" no limit. */
static int
lines(struct query_opts *o, const char *arg)
{

	if (strcmp(arg, "all") == 0) {
		o->have_limit = 0;
		o->oldest = 0;
		return (0);
	}
	o->oldest = arg[0] == '+';
	if (parse_u64(arg + o->oldest, &o->limit) != 0)
		return (-1);
	o->have_limit = 1;
	return (0);
}

/* Does s look like the argument of -n given apart ("-n 5")? */
static int
lines_arg(const char *s)
{

	if (strcmp(s, "all") == 0)
		return (1);
	if (*s == '+')
		s++;
	if (*s == '\0')
		return (0);
	for (; *s != '\0'; s++)
		if (*s < '0' || *s > '9')
			return (0);
	return (1);
}

/*
 * The bundle's note: the case when given, one "name: value" line each,
 * then the command line that selected the records, shell-quoted.
 */
static char *
bundle_note(const struct query_opts *o, int argc, char **argv)
{
	const char *names[] = { "case", "exhibit", "examiner",
	    "organisation" };
	const char *vals[] = { o->cs.id, o->cs.exhibit, o->cs.examiner,
	    o->cs.organisation };
	char *cmd, *s = NULL;
	cst_buf b;
	size_t i;
	int rc = 0;

	if ((cmd = vcase_cmdline(argc, argv)) == NULL)
		return (NULL);
	cst_buf_init(&b);
	for (i = 0; i < 4 && rc == 0; i++) {
		if (vals[i] == NULL)
			continue;
		if ((rc = cst_buf_append(&b, names[i], strlen(names[i]))) ==
		    0 && (rc = cst_buf_append(&b, ": ", 2)) == 0 &&
		    (rc = cst_buf_append(&b, vals[i], strlen(vals[i]))) == 0)
			rc = cst_buf_append(&b, "\n", 1);
	}
	if (rc == 0 && b.len > 0)
		rc = cst_buf_append(&b, "command: ", 9);
	if (rc == 0 && (rc = cst_buf_append(&b, cmd, strlen(cmd) + 1)) == 0) {
		s = (char *)b.p;
		b.p = NULL;
	}
	cst_buf_close(&b);
	free(cmd);
	return (s);
}

/* A case field (vcase.h), checked. */
static int
case_opt(struct query_opts *o, int c, const char *val)
{
	char why[256];

	if (vcase_option(&o->cs, c, val, why, sizeof(why)) != 0) {
		fprintf(stderr, "%s: %s\n", progname, why);
		return (-1);
	}
	return (0);
}

int
query_opts_parse(int argc, char **argv, struct query_opts *o)
{
	struct query_filter *f = &o->f;
	char err[300];
	const char *since = NULL, *until = NULL;
	int64_t t, nowt = query_time_now();
	uint64_t u;
	long n;
	int c, li = 0;

	memset(o, 0, sizeof(*o));
	query_filter_init(f);
	o->fmt = QUERY_SHORT;
	tzset();
	o->use_index = 1;
	o->poll_ns = 250000000;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	o->threads = n < 1 ? 1 : n > QUERY_MAX_THREADS ? QUERY_MAX_THREADS :
	    (int)n;
	while ((c = getopt_long(argc, argv, "S:U:H:t:a:u:p:g:e:o:jcn::rfvh", longopts,
	    &li)) != -1) {
		switch (c) {
		case 'S':
			since = optarg;
			break;
		case 'U':
			until = optarg;
			break;
		case 'H':
			if (query_filter_add(&f->hosts, &f->nhosts, optarg))
				return (-1);
			break;
		case 't':
		case 'a':
			if (query_filter_add(&f->apps, &f->napps, optarg))
				return (-1);
			break;
		case 'u':
			fprintf(stderr, "%s: custody has no units: records are "
			    "syslog messages, named by their identifier "
			    "(app-name); try -t %s\n", progname, optarg);
			return (-1);
		case 'p':
			if (query_filter_severity(f, optarg) != 0)
				return (bad("--priority", optarg));
			break;
		case OPT_FACILITY:
			if (query_filter_facility(f, optarg) != 0)
				return (bad("--facility", optarg));
			break;
		case OPT_SEQ:
			if (query_filter_seq(f, optarg) != 0)
				return (bad("--seq", optarg));
			break;
		case OPT_PEER:
			if (query_filter_add(&f->peers, &f->npeers, optarg))
				return (-1);
			break;
		case OPT_KIND:
			if (query_filter_kind(f, optarg) != 0)
				return (bad("--kind", optarg));
			break;
		case OPT_SD:
			if (query_filter_sd(f, optarg) != 0)
				return (bad("--sd", optarg));
			break;
		case OPT_ALL:
			o->all = 1;
			break;
		case OPT_UID:
		case OPT_PID:
			if (parse_u64(optarg, &u) != 0 || u > UINT32_MAX)
				return (bad(c == OPT_UID ? "--uid" : "--pid",
				    optarg));
			*(c == OPT_UID ? &f->uid : &f->pid) = (int64_t)u;
			break;
		case OPT_TLS_PEER:
			if (query_filter_add(&f->tls_peers, &f->ntls_peers,
			    optarg))
				return (-1);
			break;
		case OPT_GREP_FIXED:
			if (optarg[0] == '\0')
				return (bad("--grep-fixed", optarg));
			if (query_filter_add(&f->greps, &f->ngreps, optarg))
				return (-1);
			break;
		case 'g':
		case 'e':
			if (query_filter_regex(f, optarg, c == 'g', err,
			    sizeof(err)) != 0) {
				fprintf(stderr, "%s: %s: %s\n", progname,
				    c == 'g' ? "--grep" : "--regex", err);
				return (-1);
			}
			break;
		case 'o':
			if (output_mode(optarg, &o->fmt) != 0) {
				fprintf(stderr, "%s: invalid --output: '%s' "
				    "(short, short-iso, short-precise, cat, "
				    "verbose, json, json-pretty, raw)\n",
				    progname, optarg);
				return (-1);
			}
			break;
		case OPT_UTC:
			o->utc = 1;
			break;
		case 'j':
			o->fmt = QUERY_JSON;
			break;
		case OPT_RAW:
			o->fmt = QUERY_RAW;
			break;
		case 'c':
			o->count = 1;
			break;
		case 'n':
			if (optarg == NULL && optind < argc &&
			    lines_arg(argv[optind]))
				optarg = argv[optind++];
			if (lines(o, optarg != NULL ? optarg : "10") != 0)
				return (bad("--lines", optarg));
			break;
		case OPT_LIMIT:
			if (!lines_arg(optarg) || lines(o, optarg) != 0)
				return (bad("--limit", optarg));
			break;
		case 'r':
			o->reverse = 1;
			break;
		case 'f':
			o->follow = 1;
			break;
		case OPT_INTERVAL:
			if (query_time_duration(optarg, &t) != 0 ||
			    t < 50000000 || t > 10000000000LL)
				return (bad("--interval", optarg));
			o->poll_ns = t;
			break;
		case OPT_HISTOGRAM:
			if (query_time_duration(optarg, &o->histogram) != 0)
				return (bad("--histogram", optarg));
			break;
		case OPT_BUNDLE:
			o->bundle = optarg;
			break;
		case OPT_BUNDLE_MIN:
			o->bundle_minimal = 1;
			break;
		case OPT_BUNDLE_HEADERS:
			o->bundle_headers = 1;
			break;
		case VCASE_OPT_CASE:
		case VCASE_OPT_EXHIBIT:
		case VCASE_OPT_EXAMINER:
		case VCASE_OPT_ORGANISATION:
			if (case_opt(o, c, optarg) != 0)
				return (-1);
			break;
		case OPT_CASE_DIR:
			o->case_dir = optarg;
			break;
		case OPT_CONTROL_SOCKET:
			o->control_socket = optarg;
			break;
		case OPT_REQUIRE_ACCESS:
			o->require_access = 1;
			break;
		case OPT_ROOT:
			o->root_file = optarg;
			break;
		case OPT_ROOT_DIR:
			o->root_dir = optarg;
			break;
		case OPT_NATS:
			if (natsfetch_option(&o->nats, longopts[li].name,
			    optarg, progname) != 0)
				return (-1);
			break;
		case OPT_NO_INDEX:
			o->use_index = 0;
			break;
		case OPT_REINDEX:
			o->reindex = 1;
			break;
		case OPT_THREADS:
			if (parse_u64(optarg, &u) != 0 || u < 1 ||
			    u > QUERY_MAX_THREADS)
				return (bad("--threads", optarg));
			o->threads = (int)u;
			break;
		case 'v':
			o->verbose = 1;
			break;
		case 'h':
			usage(stdout);
			exit(EXIT_OK);
		case OPT_HELP_JSON:
			usage_json();
			exit(EXIT_OK);
		default:
			return (-1);
		}
	}
	if (o->nats.ns.servers != NULL) {
		if (optind != argc) {
			fprintf(stderr, "%s: --nats reads the stores from the "
			    "stream: give no directory\n", progname);
			return (-1);
		}
		if (o->root_dir == NULL && (o->root_file == NULL ||
		    o->nats.nchains != 1)) {
			fprintf(stderr, "%s: --nats needs --root-dir KEYDIR, "
			    "or --root FILE with one --chain ID\n", progname);
			return (-1);
		}
		if (o->follow) {
			fprintf(stderr, "%s: --follow and --nats: a stream is "
			    "read as it stands\n", progname);
			return (-1);
		}
		if (o->histogram != 0 && o->nats.nchains != 1) {
			fprintf(stderr, "%s: --histogram reads one store: give "
			    "one --chain\n", progname);
			return (-1);
		}
		/* The restored stores are removed at exit: no index. */
		o->use_index = 0;
	} else if (o->nats.nchains > 0 || o->nats.ns.stream != NULL ||
	    o->nats.ns.creds != NULL || o->nats.ns.tls_cert != NULL ||
	    o->nats.ns.tls_key != NULL || o->nats.ns.tls_ca != NULL) {
		fprintf(stderr, "%s: --chain, --stream, --creds and --tls-* go "
		    "with --nats URL\n", progname);
		return (-1);
	} else if (optind == argc) {
		fprintf(stderr, "%s: a store directory expected\n", progname);
		return (-1);
	} else {
		o->ndirs = (size_t)(argc - optind);
		o->dirs = &argv[optind];
		o->dir = o->dirs[0];
		o->label = o->ndirs > 1;
	}
	if (o->root_dir != NULL && o->root_file != NULL) {
		fprintf(stderr, "%s: --root-dir and --root exclude each "
		    "other\n", progname);
		return (-1);
	}
	if (o->root_file != NULL && o->ndirs > 1) {
		fprintf(stderr, "%s: --root names the key of one store; give "
		    "several stores their keys with --root-dir\n", progname);
		return (-1);
	}
	if (o->ndirs > 1 && o->follow) {
		fprintf(stderr, "%s: --follow reads one store; run one per "
		    "store\n", progname);
		return (-1);
	}
	if (o->ndirs > 1 && o->histogram != 0) {
		fprintf(stderr, "%s: --histogram reads one store; run one per "
		    "store\n", progname);
		return (-1);
	}
	if (o->case_dir != NULL && o->bundle == NULL) {
		fprintf(stderr, "%s: --case-dir records a bundle export: it "
		    "needs --bundle FILE\n", progname);
		return (-1);
	}
	if (since != NULL && query_time_parse(since, nowt, o->utc,
	    &f->since) != 0)
		return (bad("--since", since));
	if (until != NULL && query_time_parse(until, nowt, o->utc,
	    &f->until) != 0)
		return (bad("--until", until));
	/* The collector's own records are asked for, not shown by default. */
	if (f->kind_mask == QUERY_ALL_MASK && !o->all)
		f->kind_mask = 1u << CST_REC_EVENT;
	if (f->since >= f->until) {
		fprintf(stderr, "%s: --since is not before --until\n",
		    progname);
		return (-1);
	}
	if ((o->count != 0) + (o->histogram != 0) + (o->bundle != NULL) +
	    o->follow > 1) {
		fprintf(stderr, "%s: --count, --histogram, --bundle and "
		    "--follow exclude each other\n", progname);
		return (-1);
	}
	if (o->bundle != NULL && o->reverse) {
		fprintf(stderr, "%s: a bundle is written in chain order; drop "
		    "--reverse\n", progname);
		return (-1);
	}
	if (o->bundle != NULL && o->have_limit && !o->oldest) {
		fprintf(stderr, "%s: a bundle is written in chain order: use "
		    "-n +N (the oldest N) or --since\n", progname);
		return (-1);
	}
	if (o->follow && !o->have_limit)
		o->limit = 10;
	if (o->reindex && !o->use_index) {
		fprintf(stderr, "%s: --reindex and --no-index exclude each "
		    "other\n", progname);
		return (-1);
	}
	if (o->bundle == NULL && (o->cs.id != NULL || o->cs.exhibit != NULL ||
	    o->cs.examiner != NULL || o->cs.organisation != NULL)) {
		fprintf(stderr, "%s: --case, --exhibit, --examiner and "
		    "--organisation go into a bundle's note: give --bundle "
		    "FILE\n", progname);
		return (-1);
	}
	if (o->bundle != NULL && (o->note = bundle_note(o, argc, argv)) ==
	    NULL)
		return (-1);
	return (0);
}
