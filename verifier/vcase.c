/*
 * Case fields and the quoted command line of a report (vcase.h).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "custody/buf.h"
#include "json.h"
#include "vcase.h"

int
vcase_check(const char *opt, const char *val, char *why, size_t n)
{
	const uint8_t *p = (const uint8_t *)val;
	size_t len = strlen(val), i, k;
	uint32_t cp;

	if (len == 0 || len > VCASE_MAX) {
		snprintf(why, n, "%s takes 1 to %d bytes of text (%zu given)",
		    opt, VCASE_MAX, len);
		return (-1);
	}
	for (i = 0; i < len; i += k) {
		if ((k = json_utf8_len(p + i, len - i, &cp)) == 0) {
			snprintf(why, n, "%s is not valid UTF-8 (byte %zu)",
			    opt, i + 1);
			return (-1);
		}
		/* C0, DEL and C1 controls would garble every report form. */
		if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) {
			snprintf(why, n, "%s holds a control character (byte "
			    "%zu): only printable text is allowed", opt,
			    i + 1);
			return (-1);
		}
	}
	return (0);
}

int
vcase_option(struct vcase *cs, int opt, const char *val, char *why, size_t n)
{
	static const char *names[] = { "--case", "--exhibit", "--examiner",
	    "--organisation" };
	const char **fields[] = { &cs->id, &cs->exhibit, &cs->examiner,
	    &cs->organisation };
	size_t i = (size_t)(opt - VCASE_OPT_CASE);

	if (opt < VCASE_OPT_CASE || opt > VCASE_OPT_ORGANISATION) {
		snprintf(why, n, "option %d is not a case option", opt);
		return (-1);
	}
	if (vcase_check(names[i], val, why, n) != 0)
		return (-1);
	*fields[i] = val;
	return (0);
}

/* Whether word w can be given to a shell as it is. */
static int
shell_plain(const char *w)
{

	if (*w == '\0')
		return (0);
	for (; *w != '\0'; w++)
		if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789@%+=:,./_-", *w) == NULL)
			return (0);
	return (1);
}

char *
vcase_cmdline(int argc, char *const *argv)
{
	cst_buf b;
	const char *w;
	char *out = NULL;
	int i, rc = 0;

	cst_buf_init(&b);
	for (i = 0; i < argc && rc == 0; i++) {
		if (i > 0)
			rc = cst_buf_append(&b, " ", 1);
		if (rc == 0 && shell_plain(argv[i])) {
			rc = cst_buf_append(&b, argv[i], strlen(argv[i]));
			continue;
		}
		/* 'it'\''s': a single quote ends, is escaped, restarts. */
		if (rc == 0)
			rc = cst_buf_append(&b, "'", 1);
		for (w = argv[i]; rc == 0 && *w != '\0'; w++)
			rc = *w == '\'' ? cst_buf_append(&b, "'\\''", 4) :
			    cst_buf_append(&b, w, 1);
		if (rc == 0)
			rc = cst_buf_append(&b, "'", 1);
	}
	if (rc == 0 && cst_buf_append(&b, "", 1) == 0) {
		out = (char *)b.p;
		b.p = NULL;
	}
	cst_buf_close(&b);
	return (out);
}
