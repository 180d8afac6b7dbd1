/*
 * The one JSON writer of the read side: custody-verify's report, its
 * --bundle report and custody-query's JSON lines all go through it, so a
 * string is escaped one way whatever tool prints it.
 *
 * Strings (json_string, json_escape) are written as follows, and only so:
 *   - '"' and '\' as \" and \\; newline, tab and carriage return as \n,
 *     \t and \r; every other byte below 0x20, and DEL, as \u00XX (lower
 *     case hex): no control byte reaches a terminal that shows the JSON;
 *   - a valid UTF-8 sequence (RFC 3629: no overlong form, no surrogate,
 *     nothing past U+10FFFF) as its own bytes;
 *   - every byte that does not start a valid sequence as \ufffd, one per
 *     byte, and decoding resumes at the next byte.
 * The output is therefore valid UTF-8 and valid JSON whatever the input;
 * where the exact bytes matter the caller also gives them in base64 (see
 * query_out.c's "raw_base64").
 *
 * A writer appends to a cst_buf, or to its own buffer flushed to a FILE.
 * Commas are the writer's business: json_key and each value put one where
 * JSON needs it.  The first error is kept; later calls then do nothing,
 * and json_finish returns it.
 */
#ifndef CUSTODY_JSON_H
#define CUSTODY_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "custody/buf.h"

/* Deeper nesting than any report of the read side has. */
#define JSON_MAX_DEPTH 32

struct json {
	cst_buf *out;           /* borrowed (json_init) or &own */
	cst_buf own;
	FILE *f;                /* borrowed; NULL unless json_init_file */
	int rc;                 /* the first error, or 0 */
	unsigned depth;
	uint32_t more;          /* bit d: level d has a member already */
	int keyed;              /* a key was written; its value is next */
	int pretty;             /* one member per line, indented */
};

/* A writer that appends to out (borrowed; must outlive j). */
void json_init(struct json *j, cst_buf *out);

/*
 * A writer like json_init's that puts each member and element on its own
 * line, indented two spaces per level, and a space after each colon.
 */
void json_init_pretty(struct json *j, cst_buf *out);

/* A writer that buffers and writes to f (borrowed) now and then. */
void json_init_file(struct json *j, FILE *f);

/*
 * Writes what is buffered to the FILE (if any) and frees the writer's own
 * buffer.  Returns 0, or the first error: CST_ENOMEM, CST_EIO.
 */
int json_finish(struct json *j);

void json_begin_object(struct json *j);
void json_end_object(struct json *j);
void json_begin_array(struct json *j);
void json_end_array(struct json *j);

/* The key k (borrowed, NUL-terminated) of the next member of an object. */
void json_key(struct json *j, const char *k);

/* The key p[0..len) (borrowed, escaped as a string) of the next member. */
void json_keyn(struct json *j, const void *p, size_t len);

/* A string value of p[0..len) (borrowed), escaped as above. */
void json_string(struct json *j, const void *p, size_t len);

/* The NUL-terminated s (borrowed) as a string, or null when s is NULL. */
void json_cstring(struct json *j, const char *s);

/* p[0..n) (borrowed) as a string of lower-case hex. */
void json_hex(struct json *j, const uint8_t *p, size_t n);

/* p[0..len) (borrowed) as a string of base64 (RFC 4648, padded). */
void json_base64(struct json *j, const uint8_t *p, size_t len);

void json_u64(struct json *j, uint64_t v);
void json_i64(struct json *j, int64_t v);
void json_bool(struct json *j, int v);
void json_null(struct json *j);

/* p[0..len) (borrowed), already one JSON value, as the next value. */
void json_raw(struct json *j, const void *p, size_t len);

/*
 * Appends p[0..len) (borrowed) to o as a quoted JSON string escaped as
 * above.  Returns 0 or CST_ENOMEM.
 */
int json_escape(cst_buf *o, const uint8_t *p, size_t len);

/*
 * The length of the valid UTF-8 sequence at p[0..len) (len > 0), or 0
 * when none starts there; *cp gets its code point.  The text output uses
 * it too, so that both agree on what is UTF-8.
 */
size_t json_utf8_len(const uint8_t *p, size_t len, uint32_t *cp);

/*
 * The one text escaper, for every untrusted string a text output shows (a
 * file name, a note, a host name, a message, a finding's detail): a
 * valid UTF-8 sequence of a printable character (ASCII 0x20..0x7e, or a
 * code point from U+00A0) as its own bytes; a backslash as \\; every
 * other byte (C0 and C1 controls, newline included, DEL, bytes that do
 * not start a valid sequence) as \xNN, lower-case hex.  No escape
 * sequence reaches the terminal and no string starts a line of its own.
 *
 * json_text_escape appends p[0..len) (borrowed), escaped, to o: returns 0
 * or CST_ENOMEM.  json_text_puts writes the NUL-terminated s (borrowed)
 * escaped to f, "-" for NULL.
 */
int json_text_escape(cst_buf *o, const uint8_t *p, size_t len);
void json_text_puts(FILE *f, const char *s);

#endif /* CUSTODY_JSON_H */
