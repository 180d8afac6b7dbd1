/*
 * custody-restore: rebuilds a store directory from a NATS JetStream
 * stream a collector replicated it to (SPEC section 17, R-REP-8).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "custody_version.h"

#include "natsstore.h"

static const char usage_text[] =
"usage: custody-restore --nats URL [options] --chain ID DIR\n"
"       custody-restore --nats URL [options] --list\n"
"\n"
"Rebuilds the store of chain ID from the NATS JetStream stream a collector\n"
"replicated it to, into DIR (new, or an empty directory): segments byte for\n"
"byte, checkpoints and public keys.  Then verify it: custody-verify DIR.\n"
"\n"
"  --nats URL       NATS servers, nats:// or tls://, comma-separated\n"
"  --creds FILE     NATS credentials file\n"
"  --tls-cert FILE  client certificate (PEM); --tls-key FILE its key\n"
"  --tls-ca FILE    CA of the servers' certificates\n"
"  --stream NAME    the stream (default CUSTODY)\n"
"  --chain ID       the chain id, 32 hex digits (root.pub, custodyd status)\n"
"  --list           list the chains the stream holds\n"
"  --timeout MS     wait for each answer (default 5000)\n"
"  --version, --help\n"
"\n"
"exit status: 0 restored (or listed), 1 the stream does not hold a whole\n"
"chain (the message names the block), 2 usage error or cannot connect\n";

static void
usage_error(const char *msg)
{

	fprintf(stderr, "custody-restore: %s (custody-restore --help for "
	    "usage)\n", msg);
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "nats", required_argument, NULL, 'n' },
		{ "creds", required_argument, NULL, 'c' },
		{ "tls-cert", required_argument, NULL, 'C' },
		{ "tls-key", required_argument, NULL, 'K' },
		{ "tls-ca", required_argument, NULL, 'A' },
		{ "stream", required_argument, NULL, 's' },
		{ "chain", required_argument, NULL, 'i' },
		{ "list", no_argument, NULL, 'l' },
		{ "timeout", required_argument, NULL, 't' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct natsstore_opts o;
	struct natsstore_result res;
	struct natsstore *ns;
	char err[NATSSTORE_ERR_LEN], (*chains)[33];
	const char *chain = NULL;
	char *end;
	size_t n, i;
	int c, list = 0;

	memset(&o, 0, sizeof(o));
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'n': o.servers = optarg; break;
		case 'c': o.creds = optarg; break;
		case 'C': o.tls_cert = optarg; break;
		case 'K': o.tls_key = optarg; break;
		case 'A': o.tls_ca = optarg; break;
		case 's': o.stream = optarg; break;
		case 'i': chain = optarg; break;
		case 'l': list = 1; break;
		case 't':
			o.timeout_ms = strtoll(optarg, &end, 10);
			if (*end != '\0' || o.timeout_ms <= 0 ||
			    o.timeout_ms > 3600000)
				usage_error("--timeout takes milliseconds, "
				    "1 to 3600000");
			break;
		case 'V':
			printf("custody-restore %s (%s)\n", CUSTODY_VERSION,
			    CUSTODY_GIT_COMMIT);
			return (0);
		case 'h':
			fputs(usage_text, stdout);
			return (0);
		default:
			usage_error("unknown option");
		}
	}
	if (o.servers == NULL)
		usage_error("--nats URL is needed");
	if (!list && (chain == NULL || optind + 1 != argc))
		usage_error("give --chain ID and one directory (or --list)");
	if (list && optind != argc)
		usage_error("--list takes no directory");
	if (o.tls_key != NULL && o.tls_cert == NULL)
		usage_error("--tls-key needs --tls-cert");

	if (natsstore_open(&o, &ns, err) != 0) {
		fprintf(stderr, "custody-restore: %s\n", err);
		return (2);
	}
	if (list) {
		if (natsstore_chains(ns, &chains, &n, err) != 0) {
			fprintf(stderr, "custody-restore: %s\n", err);
			natsstore_close(ns);
			return (2);
		}
		for (i = 0; i < n; i++)
			printf("%s\n", chains[i]);
		free(chains);
		natsstore_close(ns);
		return (0);
	}
	if (natsstore_restore(ns, chain, argv[optind], &res, err) != 0) {
		fprintf(stderr, "custody-restore: %s\n", err);
		fprintf(stderr, "custody-restore: %s is not a whole store; do "
		    "not take it for one\n", argv[optind]);
		natsstore_close(ns);
		return (1);
	}
	natsstore_close(ns);
	printf("restored chain %s into %s: %" PRIu64 " segments, %" PRIu64
	    " blocks, %" PRIu64 " bytes, %" PRIu64 " checkpoint files, %"
	    PRIu64 " key files, from %" PRIu64 " messages", chain,
	    argv[optind], res.segments, res.blocks, res.bytes,
	    res.checkpoints, res.keys, res.messages);
	if (res.repeats > 0)
		printf(" (%" PRIu64 " stored twice, kept once)", res.repeats);
	printf("\nverify it: custody-verify --root ROOT.pub %s\n",
	    argv[optind]);
	return (0);
}
