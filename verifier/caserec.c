/*
 * The case record (SPEC section 16, R-CASE-1..6): writing entries,
 * parsing them strictly, checking the chain and the files it names.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "custody/buf.h"
#include "custody/error.h"
#include "custody/hash.h"
#include "custody/segment.h"

#include "caserec.h"
#include "fileout.h"

#define MAGIC "custody-case-v1"
#define NAME_PREFIX "entry-"
#define NAME_SUFFIX ".txt"
/* Files one entry may name: more is not an entry (R-CASE-1). */
#define FILES_MAX 100000
/* Writers racing for one number: tries before giving up. */
#define APPEND_TRIES 16

static void
seterr(char why[CASEREC_WHY_LEN], const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
seterr(char why[CASEREC_WHY_LEN], const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, CASEREC_WHY_LEN, fmt, ap);
	va_end(ap);
}

void
caserec_entry_free(struct caserec_entry *e)
{
	size_t i;

	free(e->kind);
	free(e->case_id);
	free(e->user);
	free(e->host);
	free(e->time_utc);
	free(e->time_local);
	free(e->command);
	for (i = 0; i < e->nfiles; i++)
		free(e->files[i].path);
	free(e->files);
	free(e->from);
	free(e->to);
	free(e->reason);
	free(e->verdict);
	memset(e, 0, sizeof(*e));
}

/* ---- parsing (every byte hostile) ---- */

struct cursor {
	const uint8_t *p;
	const uint8_t *end;
	unsigned line;          /* of the line last taken, from 1 */
	const uint8_t *l;       /* that line, without its LF */
	size_t llen;
	int have;               /* a line is taken and not yet used */
};

/* Takes the next line if none is pending.  0, or -1 at the end. */
static int
peek(struct cursor *c)
{
	const uint8_t *lf;

	if (c->have)
		return (0);
	if (c->p == c->end)
		return (-1);
	if ((lf = memchr(c->p, '\n', (size_t)(c->end - c->p))) == NULL)
		return (-1);
	c->l = c->p;
	c->llen = (size_t)(lf - c->p);
	c->p = lf + 1;
	c->line++;
	c->have = 1;
	return (0);
}

/* The pending line starts with "key ": *v, *vlen its value. */
static int
is_key(const struct cursor *c, const char *key, const uint8_t **v,
    size_t *vlen)
{
	size_t k = strlen(key);

	if (!c->have || c->llen < k + 1 || memcmp(c->l, key, k) != 0 ||
	    c->l[k] != ' ')
		return (0);
	*v = c->l + k + 1;
	*vlen = c->llen - k - 1;
	return (1);
}

static int
hexval(uint8_t ch)
{

	if (ch >= '0' && ch <= '9')
		return (ch - '0');
	if (ch >= 'a' && ch <= 'f')
		return (ch - 'a' + 10);
	return (-1);
}

/* A <text> value, unescaped into a new string; NULL if malformed. */
static char *
unescape(const uint8_t *v, size_t len)
{
	char *out;
	size_t i, n = 0;
	int hi, lo;

	if ((out = malloc(len + 1)) == NULL)
		return (NULL);
	for (i = 0; i < len; i++) {
		if (v[i] < 0x20 || v[i] > 0x7e)
			goto bad;
		if (v[i] != '\\') {
			out[n++] = (char)v[i];
			continue;
		}
		if (i + 1 < len && v[i + 1] == '\\') {
			out[n++] = '\\';
			i++;
		} else if (i + 3 < len && v[i + 1] == 'x' &&
		    (hi = hexval(v[i + 2])) >= 0 &&
		    (lo = hexval(v[i + 3])) >= 0 && (hi || lo) &&
		    /* Only what must be escaped is: one form per text. */
		    (hi * 16 + lo < 0x20 || hi * 16 + lo > 0x7e)) {
			out[n++] = (char)(hi * 16 + lo);
			i += 3;
		} else {
			goto bad;
		}
	}
	out[n] = '\0';
	return (out);
bad:
	free(out);
	return (NULL);
}

/* A decimal without leading zeros, at most 2^63 - 1. */
static int
parse_dec(const uint8_t *v, size_t len, uint64_t *out)
{
	uint64_t x = 0;
	size_t i;

	if (len == 0 || len > 19 || (v[0] == '0' && len > 1))
		return (-1);
	for (i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return (-1);
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	if (x > (uint64_t)INT64_MAX)
		return (-1);
	*out = x;
	return (0);
}

static int
parse_hash(const uint8_t *v, size_t len, uint8_t out[32])
{
	size_t i;
	int hi, lo;

	if (len != 64)
		return (-1);
	for (i = 0; i < 32; i++) {
		if ((hi = hexval(v[2 * i])) < 0 ||
		    (lo = hexval(v[2 * i + 1])) < 0)
			return (-1);
		out[i] = (uint8_t)(hi * 16 + lo);
	}
	return (0);
}

/* "key TEXT": *out a new string.  0 or -1 with why. */
static int
take_text(struct cursor *c, const char *key, char **out,
    char why[CASEREC_WHY_LEN])
{
	const uint8_t *v;
	size_t vlen;

	if (peek(c) != 0 || !is_key(c, key, &v, &vlen)) {
		seterr(why, "line %u: expected '%s TEXT'", c->line + !c->have,
		    key);
		return (-1);
	}
	c->have = 0;
	if ((*out = unescape(v, vlen)) == NULL) {
		seterr(why, "line %u: %s: not printable ASCII with \\\\ and "
		    "\\xNN escapes as SPEC section 16 has them", c->line, key);
		return (-1);
	}
	return (0);
}

static int
take_dec(struct cursor *c, const char *key, uint64_t *out,
    char why[CASEREC_WHY_LEN])
{
	const uint8_t *v;
	size_t vlen;

	if (peek(c) != 0 || !is_key(c, key, &v, &vlen) ||
	    parse_dec(v, vlen, out) != 0) {
		seterr(why, "line %u: expected '%s' and a decimal number",
		    c->line + !c->have, key);
		return (-1);
	}
	c->have = 0;
	return (0);
}

/* "key HASH PATH" lines of one role, as many as there are. */
static int
take_files(struct cursor *c, const char *key, enum caserec_role role,
    struct caserec_entry *e, char why[CASEREC_WHY_LEN])
{
	struct caserec_file *f;
	const uint8_t *v;
	size_t vlen;

	while (peek(c) == 0 && is_key(c, key, &v, &vlen)) {
		c->have = 0;
		if (e->nfiles >= FILES_MAX) {
			seterr(why, "line %u: more than %d files", c->line,
			    FILES_MAX);
			return (-1);
		}
		if ((f = realloc(e->files, (e->nfiles + 1) *
		    sizeof(*f))) == NULL) {
			seterr(why, "out of memory");
			return (-1);
		}
		e->files = f;
		f = &e->files[e->nfiles];
		memset(f, 0, sizeof(*f));
		f->role = role;
		if (vlen < 66 || parse_hash(v, 64, f->sha256) != 0 ||
		    v[64] != ' ' || (f->path = unescape(v + 65,
		    vlen - 65)) == NULL || f->path[0] != '/') {
			free(f->path);
			seterr(why, "line %u: expected '%s SHA256 /PATH'",
			    c->line, key);
			return (-1);
		}
		e->nfiles++;
	}
	return (0);
}

int
caserec_parse(const uint8_t *p, size_t len, struct caserec_entry *e,
    char why[CASEREC_WHY_LEN])
{
	struct cursor c;
	const uint8_t *v;
	size_t vlen, before;
	int transfer;

	memset(e, 0, sizeof(*e));
	memset(&c, 0, sizeof(c));
	c.p = p;
	c.end = p + len;
	if (len > CASEREC_ENTRY_MAX) {
		seterr(why, "longer than %u bytes", CASEREC_ENTRY_MAX);
		return (-1);
	}
	if (len == 0 || p[len - 1] != '\n') {
		seterr(why, "the last line does not end with LF");
		return (-1);
	}
	if (peek(&c) != 0 || c.llen != strlen(MAGIC) ||
	    memcmp(c.l, MAGIC, c.llen) != 0) {
		seterr(why, "line 1: not '%s'", MAGIC);
		return (-1);
	}
	c.have = 0;
	if (take_dec(&c, "entry", &e->number, why) != 0)
		return (-1);
	if (e->number == 0) {
		seterr(why, "line %u: entries are numbered from 1", c.line);
		return (-1);
	}
	if (peek(&c) != 0 || !is_key(&c, "prev", &v, &vlen) ||
	    parse_hash(v, vlen, e->prev) != 0) {
		seterr(why, "line %u: expected 'prev' and 64 lower-case hex "
		    "digits", c.line + !c.have);
		return (-1);
	}
	c.have = 0;
	if (take_text(&c, "kind", &e->kind, why) != 0)
		return (-1);
	if (strcmp(e->kind, "verify") != 0 && strcmp(e->kind, "bundle") != 0 &&
	    strcmp(e->kind, "transfer") != 0) {
		seterr(why, "line %u: kind is not verify, bundle or transfer",
		    c.line);
		return (-1);
	}
	transfer = strcmp(e->kind, "transfer") == 0;
	if (take_text(&c, "case", &e->case_id, why) != 0 ||
	    take_text(&c, "user", &e->user, why) != 0 ||
	    take_dec(&c, "uid", &e->uid, why) != 0 ||
	    take_text(&c, "host", &e->host, why) != 0 ||
	    take_text(&c, "time", &e->time_utc, why) != 0)
		return (-1);
	if (strlen(e->time_utc) != 20 || e->time_utc[4] != '-' ||
	    e->time_utc[7] != '-' || e->time_utc[10] != 'T' ||
	    e->time_utc[13] != ':' || e->time_utc[16] != ':' ||
	    e->time_utc[19] != 'Z') {
		seterr(why, "line %u: time is not YYYY-MM-DDTHH:MM:SSZ",
		    c.line);
		return (-1);
	}
	if (take_text(&c, "local", &e->time_local, why) != 0 ||
	    take_text(&c, "command", &e->command, why) != 0 ||
	    take_files(&c, "input", CASEREC_INPUT, e, why) != 0 ||
	    take_files(&c, "output", CASEREC_OUTPUT, e, why) != 0)
		return (-1);
	before = e->nfiles;
	if (take_files(&c, "exhibit", CASEREC_EXHIBIT, e, why) != 0)
		return (-1);
	if (transfer != (e->nfiles > before)) {
		seterr(why, "line %u: %s", c.line, transfer ? "a transfer "
		    "names no exhibit" : "only a transfer names exhibits");
		return (-1);
	}
	if (transfer && (take_text(&c, "from", &e->from, why) != 0 ||
	    take_text(&c, "to", &e->to, why) != 0 ||
	    take_text(&c, "reason", &e->reason, why) != 0))
		return (-1);
	if (take_text(&c, "verdict", &e->verdict, why) != 0 ||
	    take_dec(&c, "exit", &e->exit_status, why) != 0)
		return (-1);
	if (c.p != c.end || c.have) {
		seterr(why, "line %u: more after 'exit'", c.line + 1);
		return (-1);
	}
	return (0);
}

/* ---- writing ---- */

static int
put_text(cst_buf *b, const char *s)
{
	char esc[8];
	const unsigned char *p;
	int rc = 0;

	for (p = (const unsigned char *)s; *p != '\0' && rc == 0; p++) {
		if (*p == '\\')
			rc = cst_buf_append(b, "\\\\", 2);
		else if (*p < 0x20 || *p > 0x7e) {
			snprintf(esc, sizeof(esc), "\\x%02x", *p);
			rc = cst_buf_append(b, esc, 4);
		} else
			rc = cst_buf_append(b, p, 1);
	}
	return (rc);
}

static int
put_line(cst_buf *b, const char *key, const char *text)
{

	if (cst_buf_append(b, key, strlen(key)) != 0 ||
	    cst_buf_append(b, " ", 1) != 0 ||
	    put_text(b, text != NULL && text[0] != '\0' ? text : "-") != 0)
		return (-1);
	return (cst_buf_append(b, "\n", 1));
}

static int
put_dec(cst_buf *b, const char *key, uint64_t v)
{
	char t[32];

	snprintf(t, sizeof(t), "%" PRIu64, v);
	return (put_line(b, key, t));
}

/*
 * Opens path as cst_file_open_read does (a FIFO cannot block the open, a
 * link or anything but a regular file is refused: a hostile record must
 * not hang its reader).  0, or -1 with *why the reason.
 */
static int
open_regular(const char *path, int *fd, const char **why)
{
	uint64_t size;
	int rc;

	if ((rc = cst_file_open_read(path, fd, &size)) == 0)
		return (0);
	*why = rc == CST_ENOENT ? strerror(ENOENT) : rc == CST_ENOTREG ?
	    "not a regular file (a link, FIFO or device is not read)" :
	    strerror(errno);
	return (-1);
}

/*
 * The SHA-256 of file path's bytes, read in pieces.  0, or -1 with *why
 * the reason.
 */
static int
file_sha256(const char *path, uint8_t out[32], const char **why)
{
	crypto_hash_sha256_state st;
	static uint8_t buf[1 << 16];
	ssize_t n;
	int fd;

	if (open_regular(path, &fd, why) != 0)
		return (-1);
	crypto_hash_sha256_init(&st);
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			*why = strerror(errno);
			close(fd);
			return (-1);
		}
		crypto_hash_sha256_update(&st, buf, (size_t)n);
	}
	close(fd);
	crypto_hash_sha256_final(&st, out);
	return (0);
}

static int
put_files(cst_buf *b, const char *key, const char *const *paths, size_t n,
    char why[CASEREC_WHY_LEN])
{
	const char *fwhy;
	uint8_t d[32];
	char hex[65], *abs;
	size_t i;
	int rc;

	for (i = 0; i < n; i++) {
		if ((abs = realpath(paths[i], NULL)) == NULL ||
		    file_sha256(abs, d, &fwhy) != 0) {
			seterr(why, "%s: %s", paths[i], fwhy);
			free(abs);
			return (-1);
		}
		cst_hex(d, sizeof(d), hex);
		rc = cst_buf_append(b, key, strlen(key)) != 0 ||
		    cst_buf_append(b, " ", 1) != 0 ||
		    cst_buf_append(b, hex, 64) != 0 ||
		    cst_buf_append(b, " ", 1) != 0 || put_text(b, abs) != 0 ||
		    cst_buf_append(b, "\n", 1) != 0;
		free(abs);
		if (rc) {
			seterr(why, "out of memory");
			return (-1);
		}
	}
	return (0);
}

/* "entry-NNNNNN.txt" of name: its number, or 0 when not canonical. */
static uint64_t
entry_number(const char *name)
{
	char want[64];
	uint64_t n;
	size_t pl = strlen(NAME_PREFIX), len = strlen(name);
	size_t sl = strlen(NAME_SUFFIX);

	if (len <= pl + sl || strncmp(name, NAME_PREFIX, pl) != 0 ||
	    strcmp(name + len - sl, NAME_SUFFIX) != 0)
		return (0);
	n = strtoull(name + pl, NULL, 10);
	if (n == 0 || n > (uint64_t)INT64_MAX)
		return (0);
	snprintf(want, sizeof(want), NAME_PREFIX "%06" PRIu64 NAME_SUFFIX, n);
	return (strcmp(want, name) == 0 ? n : 0);
}

/* Reads a whole entry file, at most CASEREC_ENTRY_MAX + 1 bytes. */
static int
read_entry(const char *path, uint8_t **out, size_t *len, const char **why)
{
	uint8_t *p;
	size_t n = 0;
	ssize_t r;
	int fd;

	if (open_regular(path, &fd, why) != 0)
		return (-1);
	if ((p = malloc(CASEREC_ENTRY_MAX + 1)) == NULL) {
		close(fd);
		*why = strerror(ENOMEM);
		return (-1);
	}
	while (n < CASEREC_ENTRY_MAX + 1 &&
	    (r = read(fd, p + n, CASEREC_ENTRY_MAX + 1 - n)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			*why = strerror(errno);
			free(p);
			close(fd);
			return (-1);
		}
		n += (size_t)r;
	}
	close(fd);
	*out = p;
	*len = n;
	return (0);
}

/* The newest entry's number (0: none) and name. */
static int
newest(const char *dir, uint64_t *num, char name[64])
{
	struct dirent *d;
	DIR *dp;
	uint64_t n;

	*num = 0;
	if ((dp = opendir(dir)) == NULL)
		return (-1);
	while ((d = readdir(dp)) != NULL)
		if ((n = entry_number(d->d_name)) > *num) {
			*num = n;
			/* Canonical, so shorter than 64 (entry_number). */
			memcpy(name, d->d_name, strlen(d->d_name) + 1);
		}
	closedir(dp);
	return (0);
}

static void
now_texts(char utc[32], char local[96])
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(utc, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
	localtime_r(&t, &tm);
	strftime(local, 96, "%Y-%m-%dT%H:%M:%S%z %Z", &tm);
}

int
caserec_append(const char *dir, const struct caserec_new *n,
    const char *prog, char why[CASEREC_WHY_LEN])
{
	const char *fwhy;
	struct passwd pw, *res = NULL;
	char pwbuf[4096], host[256], utc[32], local[96], name[64];
	char path[4096], hex[65];
	uint8_t prev[32], *old, d[32];
	uint64_t num;
	size_t oldlen;
	cst_buf b;
	int tries, rc = -1;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		seterr(why, "%s: %s", dir, strerror(errno));
		return (-1);
	}
	if (getpwuid_r(getuid(), &pw, pwbuf, sizeof(pwbuf), &res) != 0)
		res = NULL;
	if (gethostname(host, sizeof(host)) != 0)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	cst_buf_init(&b);
	for (tries = 0; tries < APPEND_TRIES; tries++) {
		if (newest(dir, &num, name) != 0) {
			seterr(why, "%s: %s", dir, strerror(errno));
			goto out;
		}
		memset(prev, 0, sizeof(prev));
		if (num > 0) {
			/* R-CASE-5: the newest entry, as it is now. */
			snprintf(path, sizeof(path), "%s/%s", dir, name);
			if (read_entry(path, &old, &oldlen, &fwhy) != 0) {
				seterr(why, "%s: %s", path, fwhy);
				goto out;
			}
			crypto_hash_sha256(prev, old, oldlen);
			free(old);
		}
		now_texts(utc, local);
		cst_hex(prev, sizeof(prev), hex);
		b.len = 0;
		if (cst_buf_append(&b, MAGIC "\n", strlen(MAGIC) + 1) != 0 ||
		    put_dec(&b, "entry", num + 1) != 0 ||
		    put_line(&b, "prev", hex) != 0 ||
		    put_line(&b, "kind", n->kind) != 0 ||
		    put_line(&b, "case", n->case_id) != 0 ||
		    put_line(&b, "user", res != NULL ? res->pw_name : NULL) != 0 ||
		    put_dec(&b, "uid", (uint64_t)getuid()) != 0 ||
		    put_line(&b, "host", host) != 0 ||
		    put_line(&b, "time", utc) != 0 ||
		    put_line(&b, "local", local) != 0 ||
		    put_line(&b, "command", n->command) != 0) {
			seterr(why, "out of memory");
			goto out;
		}
		if (put_files(&b, "input", n->inputs, n->ninputs, why) != 0 ||
		    put_files(&b, "output", n->outputs, n->noutputs,
		    why) != 0 || put_files(&b, "exhibit", n->exhibits,
		    n->nexhibits, why) != 0)
			goto out;
		if ((n->from != NULL && (put_line(&b, "from", n->from) != 0 ||
		    put_line(&b, "to", n->to) != 0 ||
		    put_line(&b, "reason", n->reason) != 0)) ||
		    put_line(&b, "verdict", n->verdict) != 0 ||
		    put_dec(&b, "exit", (uint64_t)n->exit_status) != 0) {
			seterr(why, "out of memory");
			goto out;
		}
		snprintf(path, sizeof(path), "%s/" NAME_PREFIX "%06" PRIu64
		    NAME_SUFFIX, dir, num + 1);
		if (fileout_write(path, b.p, b.len, 1) == 0)
			break;
		/* Another writer took the number: read its entry, again. */
		if (errno != EEXIST) {
			seterr(why, "%s: %s", path, strerror(errno));
			goto out;
		}
	}
	if (tries == APPEND_TRIES) {
		seterr(why, "%s: other writers kept taking the next number",
		    dir);
		goto out;
	}
	crypto_hash_sha256(d, b.p, b.len);
	cst_hex(d, sizeof(d), hex);
	fprintf(stderr, "%s: case record %s: entry %" PRIu64 " written; head "
	    "sha256 %s (note it outside the record: it protects the newest "
	    "entry)\n", prog, dir, num + 1, hex);
	rc = 0;
out:
	cst_buf_close(&b);
	return (rc);
}

/* ---- path maps (R-CASE-6) ---- */

/* A copy of the absolute path p[0..len) without its trailing '/'s. */
static char *
map_side(const char *p, size_t len)
{
	char *s;

	while (len > 0 && p[len - 1] == '/')
		len--;
	if ((s = malloc(len + 1)) == NULL)
		return (NULL);
	memcpy(s, p, len);
	s[len] = '\0';
	return (s);
}

int
caserec_map_parse(const char *arg, struct caserec_map *m,
    char why[CASEREC_WHY_LEN])
{
	const char *eq = strchr(arg, '=');

	memset(m, 0, sizeof(*m));
	if (eq == NULL) {
		seterr(why, "'%s' has no '=': it is FROM=TO, the directory "
		    "the record names and where its files are now", arg);
		return (-1);
	}
	if (eq == arg) {
		seterr(why, "'%s': FROM is empty: give the directory the "
		    "record names, an absolute path", arg);
		return (-1);
	}
	if (arg[0] != '/' || eq[1] != '/') {
		seterr(why, "'%s': %s is not an absolute path (the record's "
		    "paths are absolute; a map must not depend on the working "
		    "directory)", arg, arg[0] != '/' ? "FROM" : "TO");
		return (-1);
	}
	if ((m->from = map_side(arg, (size_t)(eq - arg))) == NULL ||
	    (m->to = map_side(eq + 1, strlen(eq + 1))) == NULL) {
		caserec_map_free(m);
		seterr(why, "%s", strerror(ENOMEM));
		return (-1);
	}
	return (0);
}

void
caserec_map_free(struct caserec_map *m)
{

	free(m->from);
	free(m->to);
	memset(m, 0, sizeof(*m));
}

/*
 * The index of the map whose FROM is the longest whole-path prefix of
 * path (FROM itself, or FROM and a '/': /tmp/a is not a prefix of
 * /tmp/ab/x), or -1 when none is.
 */
static ssize_t
map_find(const struct caserec_map *maps, size_t nmaps, const char *path)
{
	ssize_t best = -1;
	size_t i, len, bestlen = 0;

	for (i = 0; i < nmaps; i++) {
		len = strlen(maps[i].from);
		if (strncmp(path, maps[i].from, len) != 0 ||
		    (path[len] != '/' && path[len] != '\0'))
			continue;
		if (best < 0 || len > bestlen) {
			best = (ssize_t)i;
			bestlen = len;
		}
	}
	return (best);
}

/* TO and the rest of path after FROM: a new string, NULL without memory. */
static char *
map_apply(const struct caserec_map *m, const char *path)
{
	const char *rest = path + strlen(m->from);
	size_t len;
	char *s;

	if (m->to[0] == '\0' && rest[0] == '\0')
		rest = "/";
	len = strlen(m->to) + strlen(rest) + 1;
	if ((s = malloc(len)) == NULL)
		return (NULL);
	snprintf(s, len, "%s%s", m->to, rest);
	return (s);
}

/* ---- checking ---- */

struct listed {
	uint64_t num;
	char name[64];
};

static int
by_num(const void *a, const void *b)
{
	const struct listed *x = a, *y = b;

	return (x->num < y->num ? -1 : x->num > y->num);
}

static const char *
role_name(enum caserec_role r)
{

	return (r == CASEREC_INPUT ? "input" : r == CASEREC_OUTPUT ?
	    "output" : "exhibit");
}

/* Prints s with control bytes and backslashes escaped (untrusted). */
static void
put_safe(FILE *out, const char *s)
{
	cst_buf b;

	cst_buf_init(&b);
	if (put_text(&b, s) == 0)
		fwrite(b.p, 1, b.len, out);
	cst_buf_close(&b);
}

/* "  [FAILED ]entry N (NAME): ROLE PATH[ read at MAPPED (--path-map)]" */
static void
put_file(FILE *out, const char *state, const struct listed *l,
    const struct caserec_file *f, const char *mapped)
{

	fprintf(out, "  %sentry %" PRIu64 " (%s): %s ", state, l->num, l->name,
	    role_name(f->role));
	put_safe(out, f->path);
	if (mapped != NULL) {
		fputs(" read at ", out);
		put_safe(out, mapped);
		fputs(" (--path-map)", out);
	}
}

/*
 * R-CASE-4 for one file, looked for through maps (R-CASE-6): the file
 * at its recorded path, or where the map says.  Counts a file looked
 * for through a map in used[map] and *nmapped, and in *nfound when it
 * has the recorded SHA-256 there.  Returns 1 for a failure.
 */
static int
check_file(FILE *out, const struct listed *l, const struct caserec_file *f,
    const struct caserec_map *maps, size_t nmaps, size_t *used,
    size_t *nmapped, size_t *nfound)
{
	const char *fwhy;
	char hex[65], hex2[65], *mapped = NULL;
	uint8_t now[32];
	ssize_t m;
	int failed = 1;

	if ((m = map_find(maps, nmaps, f->path)) >= 0) {
		if ((mapped = map_apply(&maps[m], f->path)) == NULL) {
			put_file(out, "FAILED ", l, f, NULL);
			fprintf(out, ": cannot be mapped: %s\n",
			    strerror(ENOMEM));
			return (1);
		}
		used[m]++;
		(*nmapped)++;
	}
	if (file_sha256(mapped != NULL ? mapped : f->path, now, &fwhy) != 0) {
		put_file(out, "FAILED ", l, f, mapped);
		fprintf(out, ": cannot be read: %s (R-CASE-4)\n", fwhy);
	} else if (memcmp(now, f->sha256, 32) != 0) {
		cst_hex(f->sha256, 32, hex);
		cst_hex(now, 32, hex2);
		put_file(out, "FAILED ", l, f, mapped);
		fprintf(out, ": sha256 is now %s, recorded %s (R-CASE-4)\n",
		    hex2, hex);
	} else {
		failed = 0;
		if (mapped != NULL) {
			(*nfound)++;
			put_file(out, "", l, f, mapped);
			fputs(": sha256 matches the record (R-CASE-6)\n", out);
		}
	}
	free(mapped);
	return (failed);
}

int
caserec_check(const char *dir, const char *head,
    const struct caserec_map *maps, size_t nmaps, FILE *out)
{
	const char *fwhy;
	struct caserec_entry e;
	struct listed *v = NULL, *nv;
	struct dirent *d;
	DIR *dp;
	char path[4096], why[CASEREC_WHY_LEN], hex[65], hex2[65];
	uint8_t *text, sha[32], prevsha[32], headsha[32];
	size_t n = 0, i, k, len, failures = 0, nmapped = 0, nfound = 0;
	size_t *used;
	uint64_t num, expect = 1;
	int have_prev = 0, head_found = 0, status;

	if (head != NULL && parse_hash((const uint8_t *)head, strlen(head),
	    headsha) != 0) {
		fprintf(stderr, "custody-verify: --case-head: not 64 "
		    "lower-case hex digits\n");
		return (2);
	}
	if ((dp = opendir(dir)) == NULL) {
		fprintf(stderr, "custody-verify: %s: %s\n", dir,
		    strerror(errno));
		return (2);
	}
	while ((d = readdir(dp)) != NULL) {
		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
			continue;
		if ((num = entry_number(d->d_name)) == 0) {
			fputs("  note: not an entry, not part of the record: ",
			    out);
			put_safe(out, d->d_name);
			fputs("\n", out);
			continue;
		}
		if ((nv = realloc(v, (n + 1) * sizeof(*v))) == NULL) {
			closedir(dp);
			free(v);
			fprintf(stderr, "custody-verify: out of memory\n");
			return (2);
		}
		v = nv;
		v[n].num = num;
		memcpy(v[n].name, d->d_name, strlen(d->d_name) + 1);
		n++;
	}
	closedir(dp);
	if (n > 0)
		qsort(v, n, sizeof(*v), by_num);
	if ((used = calloc(nmaps + 1, sizeof(*used))) == NULL) {
		free(v);
		fprintf(stderr, "custody-verify: %s\n", strerror(ENOMEM));
		return (2);
	}
	fprintf(out, "case record ");
	put_safe(out, dir);
	fprintf(out, ": %zu entries\n", n);
	for (i = 0; i < n; i++, expect++) {
		/* R-CASE-2: numbered 1..N, no gap. */
		if (v[i].num != expect) {
			fprintf(out, "  FAILED entry %" PRIu64 ": missing (the "
			    "next entry is %" PRIu64 ") (R-CASE-2)\n", expect,
			    v[i].num);
			failures++;
			have_prev = 0;
			expect = v[i].num;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, v[i].name);
		if (read_entry(path, &text, &len, &fwhy) != 0) {
			fprintf(out, "  FAILED entry %" PRIu64 " (%s): cannot "
			    "be read: %s\n", v[i].num, v[i].name, fwhy);
			failures++;
			have_prev = 0;
			continue;
		}
		crypto_hash_sha256(sha, text, len);
		if (head != NULL && memcmp(sha, headsha, 32) == 0)
			head_found = 1;
		if (caserec_parse(text, len, &e, why) != 0) {
			fprintf(out, "  FAILED entry %" PRIu64 " (%s): not an "
			    "entry (R-CASE-1): %s\n", v[i].num, v[i].name,
			    why);
			failures++;
		} else {
			if (e.number != v[i].num) {
				fprintf(out, "  FAILED entry %" PRIu64 " (%s):"
				    " it says it is entry %" PRIu64 " "
				    "(R-CASE-2)\n", v[i].num, v[i].name,
				    e.number);
				failures++;
			}
			if (v[i].num == 1) {
				memset(prevsha, 0, sizeof(prevsha));
				have_prev = 1;
			}
			if (have_prev && memcmp(prevsha, e.prev, 32) != 0) {
				cst_hex(e.prev, 32, hex);
				cst_hex(prevsha, 32, hex2);
				fprintf(out, "  FAILED entry %" PRIu64 " (%s): "
				    "prev %s is not the SHA-256 of the entry "
				    "before it (%s): that entry was altered, "
				    "replaced or moved (R-CASE-3)\n",
				    v[i].num, v[i].name, hex, hex2);
				failures++;
			}
			/* R-CASE-4: the files are still what was recorded. */
			for (k = 0; k < e.nfiles; k++)
				failures += (size_t)check_file(out, &v[i],
				    &e.files[k], maps, nmaps, used, &nmapped,
				    &nfound);
		}
		caserec_entry_free(&e);
		free(text);
		memcpy(prevsha, sha, sizeof(sha));
		have_prev = 1;
	}
	if (head != NULL && !head_found) {
		fprintf(out, "  FAILED the head noted, %s, is no entry's "
		    "SHA-256: the entry it names was altered or removed "
		    "(R-CASE-3)\n", head);
		failures++;
	}
	if (n > 0) {
		cst_hex(prevsha, 32, hex);
		fprintf(out, "  head sha256 %s (entry %" PRIu64 "); the newest "
		    "entry is proven only against a head noted outside the "
		    "record (--case-head)\n", hex, v[n - 1].num);
	}
	if (nmaps > 0) {
		/* R-CASE-6: what the entries attest is the recorded path. */
		fprintf(out, "  --path-map: %zu file(s) the record names "
		    "looked for at another path, %zu found there with the "
		    "recorded SHA-256; the entries attest the recorded paths "
		    "(R-CASE-6)\n", nmapped, nfound);
		for (k = 0; k < nmaps; k++) {
			fputs("    --path-map ", out);
			put_safe(out, maps[k].from[0] != '\0' ?
			    maps[k].from : "/");
			fputs("=", out);
			put_safe(out, maps[k].to[0] != '\0' ?
			    maps[k].to : "/");
			fprintf(out, ": %zu file(s)\n", used[k]);
		}
	}
	status = failures > 0 ? 1 : 0;
	fprintf(out, "CASE RECORD: %s", failures > 0 ? "FAILED" : "INTACT");
	if (failures > 0)
		fprintf(out, " (%zu failure(s))", failures);
	if (nmaps > 0)
		fprintf(out, " (%zu file(s) found through --path-map)",
		    nfound);
	fputs("\n", out);
	free(used);
	free(v);
	return (status);
}
