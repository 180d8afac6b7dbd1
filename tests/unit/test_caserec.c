/*
 * The case record's entry parser (verifier/caserec.c, SPEC section 16,
 * R-CASE-1): a good entry parses to its fields; every hostile variant is
 * refused with the line it breaks; an entry written by caserec_append
 * parses back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "caserec.h"

#define Z64 "0000000000000000000000000000000000000000000000000000000000000000"
#define H64 "0a6afe74a62d0ac1d7f6286cdb0c91f0979e5e1a4f518a3735e7ee4bb82f74c8"

static const char good[] =
    "custody-case-v1\n"
    "entry 2\n"
    "prev " H64 "\n"
    "kind transfer\n"
    "case OP-7 \\\\ blue\n"
    "user alice\n"
    "uid 1000\n"
    "host ws1\n"
    "time 2026-12-07T01:24:15Z\n"
    "local 2026-12-07T02:24:15+0100 CET\n"
    "command custody-verify --transfer 'a b'\n"
    "exhibit " H64 " /cases/b\\x0aundle\n"
    "from Alice\n"
    "to Bob\n"
    "reason for analysis\n"
    "verdict transferred\n"
    "exit 0\n";

static int
parse(const char *text, char why[CASEREC_WHY_LEN])
{
	struct caserec_entry e;
	int rc;

	rc = caserec_parse((const uint8_t *)text, strlen(text), &e, why);
	caserec_entry_free(&e);
	return (rc);
}

Test(caserec, good_entry)
{
	struct caserec_entry e;
	char why[CASEREC_WHY_LEN];

	cr_assert_eq(caserec_parse((const uint8_t *)good, strlen(good), &e,
	    why), 0, "%s", why);
	cr_expect_eq(e.number, 2);
	cr_expect_str_eq(e.case_id, "OP-7 \\ blue");
	cr_expect_eq(e.uid, 1000);
	cr_expect_eq(e.nfiles, 1);
	cr_expect_eq(e.files[0].role, CASEREC_EXHIBIT);
	cr_expect_str_eq(e.files[0].path, "/cases/b\nundle");
	cr_expect_eq(e.files[0].sha256[0], 0x0a);
	cr_expect_str_eq(e.from, "Alice");
	cr_expect_str_eq(e.reason, "for analysis");
	cr_expect_eq(e.exit_status, 0);
	caserec_entry_free(&e);
}

/* Replaces the first occurrence of from in good by to. */
static char *
variant(const char *from, const char *to)
{
	const char *at = strstr(good, from);
	char *out;
	size_t n;

	cr_assert_not_null(at, "%s is in the good entry", from);
	n = strlen(good) - strlen(from) + strlen(to);
	out = malloc(n + 1);
	cr_assert_not_null(out);
	memcpy(out, good, (size_t)(at - good));
	strcpy(out + (at - good), to);
	strcat(out, at + strlen(from));
	return (out);
}

Test(caserec, hostile_entries_refused)
{
	static const struct {
		const char *from, *to;
	} cases[] = {
		{ "custody-case-v1\n", "custody-case-v2\n" },
		{ "entry 2\n", "entry 02\n" },
		{ "entry 2\n", "entry 0\n" },
		{ "entry 2\n", "entry 99999999999999999999\n" },
		{ "entry 2\n", "entry 9223372036854775808\n" },
		{ "entry 2\n", "entry -2\n" },
		{ "entry 2\n", "" },
		{ "prev " H64, "prev " Z64 "0" },
		{ "prev 0a6a", "prev 0A6A" },
		{ "kind transfer", "kind delete" },
		{ "user alice\n", "user alice\nuser bob\n" },
		{ "user alice", "user al\tice" },
		{ "user alice", "user al\x80ice" },
		{ "user alice", "user al\\x41ice" },
		{ "user alice", "user al\\x00ice" },
		{ "user alice", "user al\\qice" },
		{ "user alice", "user alice\\" },
		{ "user alice", "user alice\\x4" },
		{ "uid 1000", "uid 1e3" },
		{ "time 2026-12-07T01:24:15Z", "time yesterday" },
		{ "exhibit " H64 " /cases", "exhibit " H64 " cases" },
		{ "exhibit " H64 " /", "exhibit " H64 "/" },
		{ "exhibit " H64, "exhibit " Z64 "00" },
		{ "exhibit " H64 " /cases/b\\x0aundle\n", "" },
		{ "from Alice\n", "" },
		{ "from Alice\nto Bob\n", "to Bob\nfrom Alice\n" },
		{ "kind transfer", "kind verify" },
		{ "exit 0\n", "exit 0" },
		{ "exit 0\n", "exit 0\nextra line\n" },
		{ "exit 0\n", "exit 0\n\n" },
		{ "host ws1\n", "host ws1\r\n" },
		{ "local", "Local" },
		{ "case OP", "case\0OP" },
	};
	char why[CASEREC_WHY_LEN], *t;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		t = variant(cases[i].from, cases[i].to);
		why[0] = '\0';
		cr_expect_neq(parse(t, why), 0, "case %zu (%s -> %s) is "
		    "refused", i, cases[i].from, cases[i].to);
		cr_expect_neq(why[0], '\0', "case %zu says why", i);
		free(t);
	}
}

Test(caserec, truncations_refused)
{
	struct caserec_entry e;
	char why[CASEREC_WHY_LEN];
	size_t n;

	/* Every proper prefix of a good entry is refused, none crashes. */
	for (n = 0; n < strlen(good); n++) {
		cr_expect_neq(caserec_parse((const uint8_t *)good, n, &e, why),
		    0, "a prefix of %zu bytes is refused", n);
		caserec_entry_free(&e);
	}
}

Test(caserec, append_parses_back)
{
	char dir[] = "/tmp/caserec-test.XXXXXX", path[4200], file[4200];
	char why[CASEREC_WHY_LEN], *text;
	const char *ex[1];
	struct caserec_new n;
	struct caserec_entry e;
	FILE *f;
	long len;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/exhibit with space\tand tab", dir);
	f = fopen(file, "w");
	cr_assert_not_null(f);
	fputs("evidence\n", f);
	fclose(f);
	ex[0] = file;
	memset(&n, 0, sizeof(n));
	n.kind = "transfer";
	n.case_id = "OP\\7";
	n.command = "custody-verify --transfer";
	n.exhibits = ex;
	n.nexhibits = 1;
	n.from = "A";
	n.to = "B";
	n.reason = "r\x01";
	n.verdict = "transferred";
	snprintf(path, sizeof(path), "%s/case", dir);
	cr_assert_eq(caserec_append(path, &n, "test", why), 0, "%s", why);
	cr_assert_eq(caserec_append(path, &n, "test", why), 0, "%s", why);
	snprintf(path, sizeof(path), "%s/case/entry-000002.txt", dir);
	f = fopen(path, "r");
	cr_assert_not_null(f);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	text = malloc((size_t)len);
	cr_assert_eq(fread(text, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	cr_assert_eq(caserec_parse((const uint8_t *)text, (size_t)len, &e,
	    why), 0, "%s", why);
	cr_expect_eq(e.number, 2);
	cr_expect_str_eq(e.case_id, "OP\\7");
	cr_expect_str_eq(e.reason, "r\x01");
	cr_expect_str_eq(e.files[0].path, file);
	caserec_entry_free(&e);
	free(text);
	snprintf(path, sizeof(path), "%s/case", dir);
	f = fopen("/dev/null", "w");
	cr_expect_eq(caserec_check(path, NULL, NULL, 0, f), 0, "the record checks");
	unlink(file);
	cr_expect_eq(caserec_check(path, NULL, NULL, 0, f), 1, "a missing exhibit "
	    "fails the check");
	fclose(f);
}
