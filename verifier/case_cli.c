/*
 * custody-verify --check-case and --transfer: the case record's own
 * modes (SPEC section 16).  Verifications and bundle exports append
 * their entries where they run (custody-verify.c, bundle_check.c,
 * custody-query.c).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "case_cli.h"
#include "caserec.h"
#include "exit.h"

static const char progname[] = "custody-verify";

int
case_cli_wanted(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--check-case") == 0 ||
		    strncmp(argv[i], "--check-case=", 13) == 0 ||
		    strcmp(argv[i], "--transfer") == 0)
			return (1);
	return (0);
}

static int
usage(void)
{

	fprintf(stderr, "usage: %s --check-case DIR [--case-head HEX] "
	    "[--path-map FROM=TO]...\n"
	    "       %s --case-dir DIR --transfer --from NAME --to NAME "
	    "--reason TEXT [--case ID] FILE...\n", progname, progname);
	return (EXIT_USAGE);
}

int
case_cli_main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "check-case", required_argument, NULL, 'k' },
		{ "case-head", required_argument, NULL, 'H' },
		{ "case-dir", required_argument, NULL, 'd' },
		{ "case", required_argument, NULL, 'c' },
		{ "transfer", no_argument, NULL, 't' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 'T' },
		{ "reason", required_argument, NULL, 'r' },
		{ "path-map", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	static char command[ACCESS_COMMAND_LEN];
	const char *check = NULL, *head = NULL, *dir = NULL, *case_id = NULL;
	const char *from = NULL, *to = NULL, *reason = NULL;
	struct caserec_map *maps = NULL, *nm;
	struct caserec_new n;
	char why[CASEREC_WHY_LEN];
	size_t nmaps = 0, i;
	int ch, transfer = 0, rc = EXIT_USAGE;

	access_command(argc, argv, command, sizeof(command));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'k': check = optarg; break;
		case 'H': head = optarg; break;
		case 'd': dir = optarg; break;
		case 'c': case_id = optarg; break;
		case 't': transfer = 1; break;
		case 'f': from = optarg; break;
		case 'T': to = optarg; break;
		case 'r': reason = optarg; break;
		case 'm':
			if ((nm = realloc(maps, (nmaps + 1) *
			    sizeof(*maps))) == NULL) {
				fprintf(stderr, "%s: --path-map: out of "
				    "memory\n", progname);
				goto out;
			}
			maps = nm;
			if (caserec_map_parse(optarg, &maps[nmaps],
			    why) != 0) {
				fprintf(stderr, "%s: --path-map %s\n",
				    progname, why);
				goto out;
			}
			nmaps++;
			for (i = 0; i + 1 < nmaps; i++)
				if (strcmp(maps[i].from,
				    maps[nmaps - 1].from) == 0) {
					fprintf(stderr, "%s: --path-map '%s': "
					    "that FROM is mapped twice\n",
					    progname, optarg);
					goto out;
				}
			break;
		default:
			rc = usage();
			goto out;
		}
	}
	if (check != NULL) {
		if (transfer || optind != argc) {
			rc = usage();
			goto out;
		}
		rc = caserec_check(check, head, maps, nmaps, stdout);
		goto out;
	}
	if (nmaps > 0) {
		/* A transfer hashes the files it is given, where they are. */
		fprintf(stderr, "%s: --path-map is for --check-case only\n",
		    progname);
		goto out;
	}
	if (dir == NULL || from == NULL || to == NULL || reason == NULL ||
	    from[0] == '\0' || to[0] == '\0' || reason[0] == '\0' ||
	    optind == argc) {
		fprintf(stderr, "%s: a transfer needs --case-dir, --from, --to, "
		    "--reason and the exhibit files\n", progname);
		return (usage());
	}
	memset(&n, 0, sizeof(n));
	n.kind = "transfer";
	n.case_id = case_id;
	n.command = command;
	n.exhibits = (const char *const *)(argv + optind);
	n.nexhibits = (size_t)(argc - optind);
	n.from = from;
	n.to = to;
	n.reason = reason;
	n.verdict = "transferred";
	n.exit_status = EXIT_OK;
	if (caserec_append(dir, &n, progname, why) != 0) {
		fprintf(stderr, "%s: the transfer was not recorded: %s\n",
		    progname, why);
		return (EXIT_IO);
	}
	return (EXIT_OK);
out:
	for (i = 0; i < nmaps; i++)
		caserec_map_free(&maps[i]);
	free(maps);
	return (rc);
}
