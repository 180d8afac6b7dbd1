/*
 * The read side's one JSON writer (verifier/json.h): how each kind of
 * byte sequence is escaped, that any input gives valid UTF-8 and JSON,
 * and where the writer puts commas.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "custody/buf.h"
#include "custody/error.h"

#include "json.h"

struct esc_case {
	const char *name;
	const char *in;
	size_t len;             /* 0: strlen(in) */
	const char *want;       /* the whole quoted string */
};

#define C(name, in, want) { name, in, sizeof(in) - 1, want }

static const struct esc_case esc_cases[] = {
	C("empty", "", "\"\""),
	C("ascii", "abc 123", "\"abc 123\""),
	C("quote and backslash", "a\"b\\c", "\"a\\\"b\\\\c\""),
	C("short control escapes", "\n\t\r", "\"\\n\\t\\r\""),
	C("other C0 controls", "\x01\x1b\x1f", "\"\\u0001\\u001b\\u001f\""),
	C("NUL inside", "a\0b", "\"a\\u0000b\""),
	C("DEL", "\x7f", "\"\\u007f\""),
	C("slash is left alone", "a/b", "\"a/b\""),
	/* Valid multi-byte sequences pass as their own bytes. */
	C("2-byte", "caf\xc3\xa9", "\"caf\xc3\xa9\""),
	C("3-byte", "\xe2\x82\xac", "\"\xe2\x82\xac\""),
	C("4-byte", "\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\""),
	C("C1 control as UTF-8", "\xc2\x9b", "\"\xc2\x9b\""),
	C("U+10FFFF", "\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\""),
	C("U+FFFD itself", "\xef\xbf\xbd", "\"\xef\xbf\xbd\""),
	/* Invalid: one \ufffd per byte that starts no valid sequence. */
	C("lone continuation", "\x80", "\"\\ufffd\""),
	C("0xff", "a\xff" "b", "\"a\\ufffdb\""),
	C("0xfe", "\xfe", "\"\\ufffd\""),
	C("latin-1 e-acute", "caf\xe9", "\"caf\\ufffd\""),
	C("truncated 2-byte at end", "\xc3", "\"\\ufffd\""),
	C("truncated 3-byte", "\xe2\x82" "x", "\"\\ufffd\\ufffdx\""),
	C("truncated 4-byte at end", "\xf0\x9f\x98", "\"\\ufffd\\ufffd\\ufffd\""),
	C("overlong NUL", "\xc0\x80", "\"\\ufffd\\ufffd\""),
	C("overlong slash", "\xc1\xaf", "\"\\ufffd\\ufffd\""),
	C("overlong 3-byte", "\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\""),
	C("overlong 4-byte", "\xf0\x80\x80\xaf",
	    "\"\\ufffd\\ufffd\\ufffd\\ufffd\""),
	C("high surrogate", "\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""),
	C("low surrogate", "\xed\xbf\xbf", "\"\\ufffd\\ufffd\\ufffd\""),
	C("past U+10FFFF", "\xf4\x90\x80\x80",
	    "\"\\ufffd\\ufffd\\ufffd\\ufffd\""),
	C("5-byte form", "\xf8\x88\x80\x80\x80",
	    "\"\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\""),
	C("invalid then valid", "\xff\xc3\xa9", "\"\\ufffd\xc3\xa9\""),
};

Test(json, escape_table)
{
	cst_buf b;
	size_t i;

	for (i = 0; i < sizeof(esc_cases) / sizeof(esc_cases[0]); i++) {
		const struct esc_case *c = &esc_cases[i];

		cst_buf_init(&b);
		cr_assert_eq(json_escape(&b, (const uint8_t *)c->in, c->len),
		    0, "%s", c->name);
		cr_expect(b.len == strlen(c->want) &&
		    memcmp(b.p, c->want, b.len) == 0, "%s: got %.*s, want %s",
		    c->name, (int)b.len, (const char *)b.p, c->want);
		cst_buf_close(&b);
	}
}

/*
 * Any input at all: the output has no byte below 0x20, and is valid
 * UTF-8 by the same decoder (seed printed for a rerun).
 */
Test(json, any_bytes_give_valid_utf8)
{
	unsigned seed = 20261206, round;
	uint8_t in[64];
	uint32_t cp;
	size_t i, n;
	cst_buf b;

	cr_log_info("seed %u", seed);
	srand(seed);
	for (round = 0; round < 2000; round++) {
		for (i = 0; i < sizeof(in); i++)
			in[i] = (uint8_t)rand();
		cst_buf_init(&b);
		cr_assert_eq(json_escape(&b, in, sizeof(in)), 0);
		for (i = 0; i < b.len; i += n) {
			cr_assert_geq(b.p[i], 0x20, "round %u byte %zu", round,
			    i);
			n = json_utf8_len(b.p + i, b.len - i, &cp);
			cr_assert_gt(n, 0, "round %u: invalid UTF-8 at %zu",
			    round, i);
		}
		cst_buf_close(&b);
	}
}

Test(json, utf8_len_code_points)
{
	uint32_t cp = 0;

	cr_assert_eq(json_utf8_len((const uint8_t *)"A", 1, &cp), 1);
	cr_assert_eq(cp, 0x41);
	cr_assert_eq(json_utf8_len((const uint8_t *)"\xc3\xa9", 2, &cp), 2);
	cr_assert_eq(cp, 0xe9);
	cr_assert_eq(json_utf8_len((const uint8_t *)"\xf0\x9f\x98\x80", 4,
	    &cp), 4);
	cr_assert_eq(cp, 0x1f600);
	cr_assert_eq(json_utf8_len((const uint8_t *)"\xc3\xa9", 1, &cp), 0,
	    "a sequence cut by the length is not valid");
}

/* Commas and colons come from the writer, at any depth. */
Test(json, writer_structure)
{
	static const uint8_t bin[] = { 0xff, 0x00 };
	struct json j;
	cst_buf b;
	static const char want[] = "{\"a\":1,\"b\":[-2,true,null,\"x\\n\"],"
	    "\"c\":{},\"d\":[],\"e\":{\"f\":\"00ff\",\"g\":\"/wA=\"},"
	    "\"h\":null,\"caf\xc3\xa9\":{\"raw\":1}}";

	cst_buf_init(&b);
	json_init(&j, &b);
	json_begin_object(&j);
	json_key(&j, "a");
	json_u64(&j, 1);
	json_key(&j, "b");
	json_begin_array(&j);
	json_i64(&j, -2);
	json_bool(&j, 1);
	json_null(&j);
	json_string(&j, "x\n", 2);
	json_end_array(&j);
	json_key(&j, "c");
	json_begin_object(&j);
	json_end_object(&j);
	json_key(&j, "d");
	json_begin_array(&j);
	json_end_array(&j);
	json_key(&j, "e");
	json_begin_object(&j);
	json_key(&j, "f");
	json_hex(&j, (const uint8_t *)"\x00\xff", 2);
	json_key(&j, "g");
	json_base64(&j, bin, sizeof(bin));
	json_end_object(&j);
	json_key(&j, "h");
	json_cstring(&j, NULL);
	json_keyn(&j, "caf\xc3\xa9", 5);
	json_raw(&j, "{\"raw\":1}", 9);
	json_end_object(&j);
	cr_assert_eq(json_finish(&j), 0);
	cr_assert(b.len == sizeof(want) - 1 && memcmp(b.p, want, b.len) == 0,
	    "got %.*s", (int)b.len, (const char *)b.p);
	cst_buf_close(&b);
}

/* A FILE writer flushes as it goes and on finish, with nothing lost. */
Test(json, file_writer_flushes_everything)
{
	struct json j;
	char *mem = NULL;
	size_t memlen = 0, i, n = 20000;
	FILE *f = open_memstream(&mem, &memlen);

	cr_assert_not_null(f);
	json_init_file(&j, f);
	json_begin_array(&j);
	for (i = 0; i < n; i++)
		json_cstring(&j, "0123456789");
	json_end_array(&j);
	cr_assert_eq(json_finish(&j), 0);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(memlen, 2 + n * 12 + (n - 1), "got %zu bytes", memlen);
	cr_assert_eq(mem[0], '[');
	cr_assert_eq(mem[memlen - 1], ']');
	free(mem);
}

/* Nesting past JSON_MAX_DEPTH is an error the writer keeps. */
Test(json, too_deep)
{
	struct json j;
	cst_buf b;
	int i;

	cst_buf_init(&b);
	json_init(&j, &b);
	for (i = 0; i < JSON_MAX_DEPTH + 1; i++)
		json_begin_array(&j);
	cr_assert_eq(json_finish(&j), CST_ETOOBIG);
	cst_buf_close(&b);
}

/* The text escaper beside it (json.h): what a terminal may be shown. */
static const struct esc_case text_cases[] = {
	C("ascii", "seg-1.cst", "seg-1.cst"),
	C("backslash", "a\\b", "a\\\\b"),
	C("escape sequence", "\x1b[2K\x1b[1A", "\\x1b[2K\\x1b[1A"),
	C("newline and CR", "a\r\nb", "a\\x0d\\x0ab"),
	C("DEL", "\x7f", "\\x7f"),
	C("C1 control as UTF-8", "\xc2\x9b", "\\xc2\\x9b"),
	C("printable UTF-8", "caf\xc3\xa9", "caf\xc3\xa9"),
	C("invalid byte", "\xff", "\\xff"),
	C("NUL inside", "a\0b", "a\\x00b"),
};

Test(json, text_escape_table)
{
	cst_buf b;
	size_t i;

	for (i = 0; i < sizeof(text_cases) / sizeof(text_cases[0]); i++) {
		const struct esc_case *c = &text_cases[i];

		cst_buf_init(&b);
		cr_assert_eq(json_text_escape(&b, (const uint8_t *)c->in,
		    c->len), 0, "%s", c->name);
		cr_assert_eq(b.len, strlen(c->want), "%s: length %zu",
		    c->name, b.len);
		cr_assert(memcmp(b.p, c->want, b.len) == 0, "%s", c->name);
		cst_buf_close(&b);
	}
}

/* json_text_puts: NULL as "-", the empty string as nothing. */
Test(json, text_puts)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	cr_assert_not_null(f);
	json_text_puts(f, "");
	json_text_puts(f, NULL);
	json_text_puts(f, "a\x1b");
	cr_assert_eq(fclose(f), 0);
	cr_assert_str_eq(out, "-a\\x1b");
	free(out);
}
