/*
 * The examiner's report's document model and case fields (verifier/vdoc.h,
 * vcase.h): hostile text cannot become markup or a line break, the case
 * fields refuse what would garble a report, and the quoted command line
 * is taken back by a shell as the same words.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <criterion/criterion.h>

#include "vcase.h"
#include "vdoc.h"

static char *
render(const struct vdoc *d, int (*fn)(FILE *, const struct vdoc *))
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	f = open_memstream(&buf, &len);
	cr_assert_not_null(f);
	cr_assert_eq(fn(f, d), 0);
	fclose(f);
	return (buf);
}

Test(vdoc, html_escapes_hostile_text)
{
	static const struct vdoc_col cols[] = { { "<th>", 1, 0 } };
	struct vdoc d;
	char *html;

	vdoc_init(&d);
	vdoc_title(&d, "t<i>", "r\"un");
	vdoc_para(&d, VDOC_PLAIN, "%s", "<script>alert('x')</script> & \"q\"");
	vdoc_table(&d, cols, 1);
	vdoc_cell(&d, "%s", "<img src=x onerror=y>");
	vdoc_cell2(&d, "a<b", "c\nd");
	html = render(&d, vdoc_html);
	cr_assert_null(strstr(html, "<script"));
	cr_assert_null(strstr(html, "<img"));
	cr_assert_null(strstr(html, "<i>"));
	cr_assert_not_null(strstr(html, "&lt;script&gt;alert(&#39;x&#39;)"
	    "&lt;/script&gt; &amp; &quot;q&quot;"));
	cr_assert_not_null(strstr(html, "&lt;th&gt;"));
	/* The document's break is <br>; the text's own newline is escaped. */
	cr_assert_not_null(strstr(html, "a&lt;b<br>c\\x0ad"));
	free(html);
	vdoc_free(&d);
}

Test(vdoc, text_is_printable)
{
	struct vdoc d;
	char *txt, *p;

	vdoc_init(&d);
	vdoc_title(&d, "T", "R");
	vdoc_para(&d, VDOC_PLAIN, "bell\a esc\x1b[31m nul-free \xff\xfe end");
	txt = render(&d, vdoc_text);
	for (p = txt; *p != '\0'; p++)
		cr_assert(*p == '\n' || (unsigned char)*p >= 0x20,
		    "control byte 0x%02x in the text form", *p);
	cr_assert_not_null(strstr(txt, "bell\\x07 esc\\x1b[31m"));
	cr_assert_not_null(strstr(txt, "\\xff\\xfe end"));
	free(txt);
	vdoc_free(&d);
}

Test(vcase, check)
{
	char why[256], big[VCASE_MAX + 2];

	cr_assert_eq(vcase_check("--case", "CASE-2026/041", why, sizeof(why)),
	    0);
	cr_assert_eq(vcase_check("--examiner", "J\xc3\xbcrgen M\xc3\xbcller",
	    why, sizeof(why)), 0);
	cr_assert_eq(vcase_check("--case", "", why, sizeof(why)), -1);
	cr_assert_not_null(strstr(why, "--case"));
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cr_assert_eq(vcase_check("--case", big, why, sizeof(why)), -1);
	big[VCASE_MAX] = '\0';
	cr_assert_eq(vcase_check("--case", big, why, sizeof(why)), 0);
	cr_assert_eq(vcase_check("--case", "a\tb", why, sizeof(why)), -1);
	cr_assert_not_null(strstr(why, "control"));
	cr_assert_eq(vcase_check("--case", "a\x7f", why, sizeof(why)), -1);
	/* U+0085 (NEL), a C1 control in UTF-8. */
	cr_assert_eq(vcase_check("--case", "a\xc2\x85", why, sizeof(why)), -1);
	cr_assert_eq(vcase_check("--case", "a\xff", why, sizeof(why)), -1);
	cr_assert_not_null(strstr(why, "UTF-8"));
}

/* Each case option sets its own field, and a refusal names the option. */
Test(vcase, option_sets_its_field)
{
	struct vcase cs;
	char why[256];

	memset(&cs, 0, sizeof(cs));
	cr_assert_eq(vcase_option(&cs, VCASE_OPT_CASE, "C-1", why,
	    sizeof(why)), 0);
	cr_assert_eq(vcase_option(&cs, VCASE_OPT_EXHIBIT, "E-2", why,
	    sizeof(why)), 0);
	cr_assert_eq(vcase_option(&cs, VCASE_OPT_EXAMINER, "X-3", why,
	    sizeof(why)), 0);
	cr_assert_eq(vcase_option(&cs, VCASE_OPT_ORGANISATION, "O-4", why,
	    sizeof(why)), 0);
	cr_assert_str_eq(cs.id, "C-1");
	cr_assert_str_eq(cs.exhibit, "E-2");
	cr_assert_str_eq(cs.examiner, "X-3");
	cr_assert_str_eq(cs.organisation, "O-4");
	cr_assert_eq(vcase_option(&cs, VCASE_OPT_EXAMINER, "a\tb", why,
	    sizeof(why)), -1);
	cr_assert_not_null(strstr(why, "--examiner"));
	cr_assert_str_eq(cs.examiner, "X-3", "a refused value is not kept");
	cr_assert_eq(vcase_option(&cs, VCASE_OPT_CASE - 1, "x", why,
	    sizeof(why)), -1);
}

Test(vcase, cmdline_round_trips_through_a_shell)
{
	static const char *words[] = { "custody-verify", "--examiner",
	    "Ann O'Neil", "", "a b", "$HOME", "`x`", "plain/path.cst",
	    "--case=C-1" };
	char *argv[9], *cmd, *script;
	FILE *f;
	char out[512];
	size_t n;

	for (n = 0; n < 9; n++)
		cr_assert_not_null(argv[n] = strdup(words[n]));
	cmd = vcase_cmdline(9, argv);
	cr_assert_not_null(cmd);
	cr_assert(strncmp(cmd, "custody-verify --examiner 'Ann O'\\''Neil' '' "
	    "'a b' '$HOME' '`x`' plain/path.cst --case=C-1", 200) == 0,
	    "%s", cmd);
	/* printf '%s|' WORDS... prints each word the shell sees. */
	cr_assert(asprintf(&script, "set -- %s; printf '%%s|' \"$@\"",
	    cmd) > 0);
	f = popen(script, "r");
	cr_assert_not_null(f);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	cr_assert_eq(WEXITSTATUS(pclose(f)), 0);
	cr_assert_str_eq(out, "custody-verify|--examiner|Ann O'Neil||a b|"
	    "$HOME|`x`|plain/path.cst|--case=C-1|");
	free(script);
	free(cmd);
	for (n = 0; n < 9; n++)
		free(argv[n]);
}
