/*
 * The JSON writer and its one string escaper (json.h says what a string
 * becomes).  Every string of a report is untrusted in the end (a path, a
 * listener name, a maker's note, a message), so there is no second,
 * faster path for "known ASCII".
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "custody/buf.h"
#include "custody/error.h"
#include "custody/hash.h"

#include "json.h"

/* A FILE writer's buffer is written out when it passes this. */
#define JSON_FLUSH_AT 65536

size_t
json_utf8_len(const uint8_t *p, size_t len, uint32_t *cp)
{
	size_t n, i;
	uint32_t c, min;

	if (p[0] < 0x80) {
		*cp = p[0];
		return (1);
	} else if ((p[0] & 0xe0) == 0xc0) {
		n = 2;
		c = p[0] & 0x1f;
		min = 0x80;
	} else if ((p[0] & 0xf0) == 0xe0) {
		n = 3;
		c = p[0] & 0x0f;
		min = 0x800;
	} else if ((p[0] & 0xf8) == 0xf0) {
		n = 4;
		c = p[0] & 0x07;
		min = 0x10000;
	} else {
		return (0);
	}
	if (n > len)
		return (0);
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return (0);
		c = c << 6 | (p[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return (0);
	*cp = c;
	return (n);
}

int
json_escape(cst_buf *o, const uint8_t *p, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	char u[6] = { '\\', 'u', '0', '0', 0, 0 };
	size_t i, n, run;
	uint32_t cp;
	int rc;

	if ((rc = cst_buf_append(o, "\"", 1)) != 0)
		return (rc);
	for (i = 0; i < len; i += n) {
		run = i;
		while (run < len && p[run] >= 0x20 && p[run] < 0x7f &&
		    p[run] != '"' && p[run] != '\\')
			run++;
		if (run > i) {
			if ((rc = cst_buf_append(o, p + i, run - i)) != 0)
				return (rc);
			n = 0;
			i = run;
			continue;
		}
		n = json_utf8_len(p + i, len - i, &cp);
		if (n > 1) {
			rc = cst_buf_append(o, p + i, n);
		} else if (n == 0) {
			n = 1;
			rc = cst_buf_append(o, "\\ufffd", 6);
		} else if (p[i] == '"') {
			rc = cst_buf_append(o, "\\\"", 2);
		} else if (p[i] == '\\') {
			rc = cst_buf_append(o, "\\\\", 2);
		} else if (p[i] == '\n') {
			rc = cst_buf_append(o, "\\n", 2);
		} else if (p[i] == '\t') {
			rc = cst_buf_append(o, "\\t", 2);
		} else if (p[i] == '\r') {
			rc = cst_buf_append(o, "\\r", 2);
		} else {
			u[4] = hex[p[i] >> 4];
			u[5] = hex[p[i] & 15];
			rc = cst_buf_append(o, u, 6);
		}
		if (rc != 0)
			return (rc);
	}
	return (cst_buf_append(o, "\"", 1));
}

int
json_text_escape(cst_buf *o, const uint8_t *p, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	char e[4] = { '\\', 'x', 0, 0 };
	size_t i, n, run;
	uint32_t cp;
	int rc;

	for (i = 0; i < len; i += n) {
		run = i;
		while (run < len && p[run] >= 0x20 && p[run] < 0x7f &&
		    p[run] != '\\')
			run++;
		if (run > i) {
			if ((rc = cst_buf_append(o, p + i, run - i)) != 0)
				return (rc);
			n = 0;
			i = run;
			continue;
		}
		n = json_utf8_len(p + i, len - i, &cp);
		if (n > 1 && cp >= 0xa0) {
			if ((rc = cst_buf_append(o, p + i, n)) != 0)
				return (rc);
			continue;
		}
		/* A C0 or C1 control, DEL, backslash or an invalid byte. */
		n = 1;
		if (p[i] == '\\') {
			rc = cst_buf_append(o, "\\\\", 2);
		} else {
			e[2] = hex[p[i] >> 4];
			e[3] = hex[p[i] & 15];
			rc = cst_buf_append(o, e, 4);
		}
		if (rc != 0)
			return (rc);
	}
	return (0);
}

void
json_text_puts(FILE *f, const char *s)
{
	cst_buf b;

	if (s == NULL) {
		fputs("-", f);
		return;
	}
	cst_buf_init(&b);
	if (json_text_escape(&b, (const uint8_t *)s, strlen(s)) != 0)
		fputs("(out of memory)", f);
	else if (b.len > 0)	/* an empty buffer has no storage */
		fwrite(b.p, 1, b.len, f);
	cst_buf_close(&b);
}

void
json_init(struct json *j, cst_buf *out)
{

	memset(j, 0, sizeof(*j));
	cst_buf_init(&j->own);
	j->out = out;
}

void
json_init_pretty(struct json *j, cst_buf *out)
{

	json_init(j, out);
	j->pretty = 1;
}

void
json_init_file(struct json *j, FILE *f)
{

	json_init(j, &j->own);
	j->f = f;
}

static void
flush(struct json *j)
{

	if (j->rc == 0 && j->f != NULL && j->own.len > 0) {
		if (fwrite(j->own.p, 1, j->own.len, j->f) != j->own.len)
			j->rc = CST_EIO;
		j->own.len = 0;
	}
}

int
json_finish(struct json *j)
{

	flush(j);
	cst_buf_close(&j->own);
	return (j->rc);
}

static void
put(struct json *j, const void *p, size_t n)
{

	if (j->rc == 0)
		j->rc = cst_buf_append(j->out, p, n);
	if (j->f != NULL && j->own.len >= JSON_FLUSH_AT)
		flush(j);
}

/* A pretty writer's line break, indented two spaces per level. */
static void
newline(struct json *j, unsigned depth)
{
	static const char sp[] = "\n                                "
	    "                                ";

	put(j, sp, 1 + 2 * (size_t)depth);
}

/* What comes before any value or key: a comma after a sibling. */
static void
sep(struct json *j)
{
	uint32_t bit = (uint32_t)1 << j->depth;

	if (j->keyed) {
		j->keyed = 0;
		return;
	}
	if (j->more & bit)
		put(j, ",", 1);
	j->more |= bit;
	if (j->pretty && j->depth > 0)
		newline(j, j->depth);
}

static void
open_(struct json *j, const char *c)
{

	sep(j);
	put(j, c, 1);
	if (j->depth + 1 >= JSON_MAX_DEPTH) {
		if (j->rc == 0)
			j->rc = CST_ETOOBIG;
		return;
	}
	j->depth++;
	j->more &= ~((uint32_t)1 << j->depth);
}

static void
close_(struct json *j, const char *c)
{
	int had = (j->more & ((uint32_t)1 << j->depth)) != 0;

	if (j->depth > 0)
		j->depth--;
	if (j->pretty && had)
		newline(j, j->depth);
	put(j, c, 1);
}

void
json_begin_object(struct json *j)
{

	open_(j, "{");
}

void
json_end_object(struct json *j)
{

	close_(j, "}");
}

void
json_begin_array(struct json *j)
{

	open_(j, "[");
}

void
json_end_array(struct json *j)
{

	close_(j, "]");
}

void
json_key(struct json *j, const char *k)
{

	json_keyn(j, k, strlen(k));
}

void
json_keyn(struct json *j, const void *p, size_t len)
{

	json_string(j, p, len);
	put(j, j->pretty ? ": " : ":", j->pretty ? 2 : 1);
	j->keyed = 1;
}

void
json_string(struct json *j, const void *p, size_t len)
{

	sep(j);
	if (j->rc == 0)
		j->rc = json_escape(j->out, p, len);
	put(j, "", 0);
}

void
json_cstring(struct json *j, const char *s)
{

	if (s == NULL)
		json_null(j);
	else
		json_string(j, s, strlen(s));
}

void
json_hex(struct json *j, const uint8_t *p, size_t n)
{
	char h[2 * 64 + 1];
	size_t i;

	sep(j);
	put(j, "\"", 1);
	for (i = 0; i < n; i += 64) {
		cst_hex(p + i, n - i < 64 ? n - i : 64, h);
		put(j, h, strlen(h));
	}
	put(j, "\"", 1);
}

void
json_base64(struct json *j, const uint8_t *p, size_t len)
{
	size_t n = sodium_base64_encoded_len(len,
	    sodium_base64_VARIANT_ORIGINAL);

	sep(j);
	put(j, "\"", 1);
	if (j->rc == 0 && (j->rc = cst_buf_reserve(j->out, n)) == 0) {
		sodium_bin2base64((char *)j->out->p + j->out->len, n, p, len,
		    sodium_base64_VARIANT_ORIGINAL);
		j->out->len += n - 1;
	}
	put(j, "\"", 1);
}

void
json_u64(struct json *j, uint64_t v)
{
	char b[24];

	snprintf(b, sizeof(b), "%" PRIu64, v);
	json_raw(j, b, strlen(b));
}

void
json_i64(struct json *j, int64_t v)
{
	char b[24];

	snprintf(b, sizeof(b), "%" PRId64, v);
	json_raw(j, b, strlen(b));
}

void
json_bool(struct json *j, int v)
{

	json_raw(j, v ? "true" : "false", v ? 4 : 5);
}

void
json_null(struct json *j)
{

	json_raw(j, "null", 4);
}

void
json_raw(struct json *j, const void *p, size_t len)
{

	sep(j);
	put(j, p, len);
}
