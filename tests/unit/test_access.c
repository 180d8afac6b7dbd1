/*
 * The command line an access record carries (verifier/access.c, SPEC
 * R-ACC-1): quoted as a POSIX shell reads it, control bytes as \xNN, cut
 * to fit the control socket's line with a mark that says so.
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "access.h"

Test(access, command_quoting)
{
	static const char *args[] = { "custody-query", "/var/lib/custody",
	    "--grep", "a b", "it's", "", "tab\there", "--kind=access" };
	char *argv[8];
	char out[ACCESS_COMMAND_LEN];
	int i;

	for (i = 0; i < 8; i++)
		cr_assert_not_null(argv[i] = strdup(args[i]));
	access_command(8, argv, out, sizeof(out));
	for (i = 0; i < 8; i++)
		free(argv[i]);
	cr_expect_str_eq(out, "custody-query /var/lib/custody --grep 'a b' "
	    "'it'\\''s' '' 'tab\\x09here' --kind=access");
}

Test(access, command_cut_to_fit)
{
	static char big[10000], name[] = "custody-query";
	char *argv[] = { name, big, NULL };
	char out[64];

	memset(big, 'x', sizeof(big) - 1);
	access_command(2, argv, out, sizeof(out));
	cr_expect_lt(strlen(out), sizeof(out));
	cr_expect(strstr(out, " [cut]") != NULL, "a cut says so: %s", out);
}
