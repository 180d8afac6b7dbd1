/*
 * What a record must be to match a query, and which blocks can hold one.
 *
 * Text filters (--grep, --grep-fixed, --regex) look at the raw bytes as
 * received, not at a parsed field: the raw bytes are the evidence, and a
 * message that did not parse must still be found.  Hosts and identifiers
 * compare without regard to ASCII case, as journalctl users expect.
 */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "custody/format.h"
#include "custody/record.h"

#include "query.h"

void
query_filter_init(struct query_filter *f)
{

	memset(f, 0, sizeof(*f));
	f->since = INT64_MIN;
	f->until = INT64_MAX;
	f->seq_lo = 0;
	f->seq_hi = UINT64_MAX;
	f->sev_mask = QUERY_ALL_MASK;
	f->fac_mask = QUERY_ALL_MASK;
	f->kind_mask = QUERY_ALL_MASK;
	f->pid = -1;
	f->uid = -1;
}

void
query_filter_close(struct query_filter *f)
{
	size_t i;

	free(f->hosts);
	free(f->apps);
	free(f->peers);
	free(f->greps);
	free(f->tls_peers);
	for (i = 0; i < f->nsds; i++)
		free((char *)(uintptr_t)f->sds[i].id);
	free(f->sds);
	for (i = 0; i < f->nres; i++)
		pcre2_code_free(f->res[i]);
	free(f->res);
	memset(f, 0, sizeof(*f));
}

int
query_filter_add(const char ***list, size_t *n, const char *arg)
{
	const char **l;

	if ((l = realloc(*list, (*n + 1) * sizeof(*l))) == NULL)
		return (-1);
	l[(*n)++] = arg;
	*list = l;
	return (0);
}

/* A number or a name from names(i) for i in 0..max. */
static int
lookup(const char *s, size_t len, int max, const char *(*names)(int),
    int *out)
{
	char *end;
	long v;
	int i;

	if (len == 0)
		return (-1);
	if (isdigit((unsigned char)s[0])) {
		errno = 0;
		v = strtol(s, &end, 10);
		if (errno != 0 || (size_t)(end - s) != len || v < 0 || v > max)
			return (-1);
		*out = (int)v;
		return (0);
	}
	for (i = 0; i <= max; i++)
		if (strlen(names(i)) == len && strncasecmp(names(i), s, len) == 0) {
			*out = i;
			return (0);
		}
	return (-1);
}

/* Severity names, with the aliases syslog(3) and journalctl accept. */
static const char *
sev_alias(int i)
{
	static const char *alias[] = { "panic", "alert", "crit", "error",
	    "warn", "notice", "info", "debug" };

	return (alias[i]);
}

static int
severity(const char *s, size_t len, int *out)
{

	if (lookup(s, len, 7, query_out_severity, out) == 0)
		return (0);
	return (lookup(s, len, 7, sev_alias, out));
}

/*
 * "err" or "3": that severity and every more severe one (emerg..err), as
 * journalctl's --priority; "warning..emerg" or "4..0": the range, either
 * way round (severity numbers fall as urgency rises).
 */
int
query_filter_severity(struct query_filter *f, const char *arg)
{
	const char *dots;
	int a, b, t, i;
	uint32_t m = 0;

	if ((dots = strstr(arg, "..")) == NULL) {
		if (severity(arg, strlen(arg), &b) != 0)
			return (-1);
		a = 0;
	} else {
		if (severity(arg, (size_t)(dots - arg), &a) != 0 ||
		    severity(dots + 2, strlen(dots + 2), &b) != 0)
			return (-1);
	}
	if (a > b) {
		t = a;
		a = b;
		b = t;
	}
	for (i = a; i <= b; i++)
		m |= 1u << i;
	if (f->sev_mask == QUERY_ALL_MASK)
		f->sev_mask = 0;
	f->sev_mask |= m;
	return (0);
}

/* A comma list of facility names or numbers. */
int
query_filter_facility(struct query_filter *f, const char *arg)
{
	const char *p = arg, *c;
	size_t len;
	int v;

	if (f->fac_mask == QUERY_ALL_MASK)
		f->fac_mask = 0;
	for (;;) {
		c = strchr(p, ',');
		len = c != NULL ? (size_t)(c - p) : strlen(p);
		if (lookup(p, len, 23, query_out_facility, &v) != 0)
			return (-1);
		f->fac_mask |= 1u << v;
		if (c == NULL)
			return (0);
		p = c + 1;
	}
}

static const char *
kind_name(int k)
{

	return (cst_record_kind_name((unsigned)k));
}

/* A comma list: event, audit (every collector record), or a kind name. */
int
query_filter_kind(struct query_filter *f, const char *arg)
{
	const char *p = arg, *c;
	size_t len;
	int v;

	if (f->kind_mask == QUERY_ALL_MASK)
		f->kind_mask = 0;
	for (;;) {
		c = strchr(p, ',');
		len = c != NULL ? (size_t)(c - p) : strlen(p);
		if (len == 5 && strncmp(p, "audit", 5) == 0)
			f->kind_mask |= ((1u << (CST_REC_KIND_MAX + 1)) - 1) &
			    ~1u;
		else if (lookup(p, len, CST_REC_KIND_MAX, kind_name, &v) == 0)
			f->kind_mask |= 1u << v;
		else
			return (-1);
		if (c == NULL)
			return (0);
		p = c + 1;
	}
}

static int
u64(const char *s, size_t len, uint64_t *out)
{
	char buf[24], *end;

	if (len == 0 || len >= sizeof(buf) || !isdigit((unsigned char)s[0]))
		return (-1);
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	*out = strtoull(buf, &end, 10);
	if (errno != 0 || *end != '\0')
		return (-1);
	return (0);
}

/* "A..B", "A..", "..B" or "A". */
int
query_filter_seq(struct query_filter *f, const char *arg)
{
	const char *dots;

	if ((dots = strstr(arg, "..")) == NULL) {
		if (u64(arg, strlen(arg), &f->seq_lo) != 0)
			return (-1);
		f->seq_hi = f->seq_lo;
		return (0);
	}
	f->seq_lo = 0;
	f->seq_hi = UINT64_MAX;
	if (dots > arg && u64(arg, (size_t)(dots - arg), &f->seq_lo) != 0)
		return (-1);
	if (dots[2] != '\0' && u64(dots + 2, strlen(dots + 2),
	    &f->seq_hi) != 0)
		return (-1);
	if (f->seq_lo > f->seq_hi)
		return (-1);
	return (0);
}

/*
 * "id", "id.param" or "id.param=value".  The SD-ID may itself contain
 * dots only before an '@' ("origin", "meta", "x@32473"), so the split is
 * at the first dot after any '@'.
 */
int
query_filter_sd(struct query_filter *f, const char *arg)
{
	struct query_sd *l, *sd;
	const char *at, *dot, *eq;
	char *copy;

	if ((copy = strdup(arg)) == NULL)
		return (-1);
	if ((l = realloc(f->sds, (f->nsds + 1) * sizeof(*l))) == NULL) {
		free(copy);
		return (-1);
	}
	f->sds = l;
	sd = &l[f->nsds];
	sd->id = copy;
	sd->param = NULL;
	sd->value = NULL;
	at = strchr(copy, '@');
	dot = strchr(at != NULL ? at : copy, '.');
	if (dot != NULL) {
		copy[dot - copy] = '\0';
		sd->param = dot + 1;
		if ((eq = strchr(dot + 1, '=')) != NULL) {
			copy[eq - copy] = '\0';
			sd->value = eq + 1;
		}
	}
	if (copy[0] == '\0' || (sd->param != NULL && sd->param[0] == '\0')) {
		free(copy);
		return (-1);
	}
	f->nsds++;
	return (0);
}

/*
 * journalctl's smart case: does the pattern hold an upper-case letter
 * (any script, when the pattern is UTF-8; ASCII otherwise)?
 */
static int
has_upper(const char *pattern)
{
	pcre2_match_data *md;
	pcre2_code *up;
	PCRE2_SIZE off;
	const char *p;
	int code, rc;

	up = pcre2_compile((PCRE2_SPTR)"\\p{Lu}", PCRE2_ZERO_TERMINATED,
	    PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &code, &off, NULL);
	md = up != NULL ? pcre2_match_data_create(1, NULL) : NULL;
	if (md != NULL) {
		rc = pcre2_match(up, (PCRE2_SPTR)pattern,
		    PCRE2_ZERO_TERMINATED, 0, 0, md, NULL);
		pcre2_match_data_free(md);
		pcre2_code_free(up);
		if (rc >= 0 || rc == PCRE2_ERROR_NOMATCH)
			return (rc >= 0);
	}
	pcre2_code_free(up);
	for (p = pattern; *p != '\0'; p++)
		if (isupper((unsigned char)*p))
			return (1);
	return (0);
}

int
query_filter_regex(struct query_filter *f, const char *pattern, int smart,
    char *err, size_t errlen)
{
	PCRE2_UCHAR msg[256];
	PCRE2_SIZE off;
	pcre2_code **l, *re;
	uint32_t opts = 0;
	int code;

	if (smart && !has_upper(pattern))
		opts |= PCRE2_CASELESS;
	if ((l = realloc(f->res, (f->nres + 1) * sizeof(*l))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return (-1);
	}
	f->res = l;
	re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, opts,
	    &code, &off, NULL);
	if (re == NULL) {
		pcre2_get_error_message(code, msg, sizeof(msg));
		snprintf(err, errlen, "at offset %zu: %s", (size_t)off,
		    (const char *)msg);
		return (-1);
	}
	/* Without JIT the interpreter gives the same answers, slower. */
	(void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
	f->res[f->nres++] = re;
	return (0);
}

int
query_filter_block(const struct query_filter *f, const cst_blk_hdr *h)
{

	if (h->type != CST_BLOCK_DATA || h->record_count == 0)
		return (0);
	if (h->max_time_ns < f->since || h->min_time_ns >= f->until)
		return (0);
	if (h->first_seq > f->seq_hi ||
	    h->first_seq + h->record_count - 1 < f->seq_lo)
		return (0);
	return (1);
}

int
query_filter_uses_index(const struct query_filter *f)
{

	return (f->nhosts > 0 || f->napps > 0 || f->npeers > 0 ||
	    f->sev_mask != QUERY_ALL_MASK || f->fac_mask != QUERY_ALL_MASK ||
	    f->kind_mask != QUERY_ALL_MASK);
}

int
query_filter_payload(const struct query_filter *f, const uint8_t *raw,
    size_t len)
{
	size_t i;

	for (i = 0; i < f->ngreps; i++)
		if (memmem(raw, len, f->greps[i], strlen(f->greps[i])) == NULL)
			return (0);
	return (1);
}

static int
span_eq(const cst_record *r, cst_span s, const char *v)
{
	size_t n = strlen(v);

	return (s.len == n && strncasecmp((const char *)r->raw.p + s.off, v,
	    n) == 0);
}

static int
any_span(const cst_record *r, cst_span s, const char **l, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (span_eq(r, s, l[i]))
			return (1);
	return (0);
}

void
query_filter_peer_host(const uint8_t *p, size_t len, size_t *off,
    size_t *hlen)
{
	const uint8_t *c;

	*off = 0;
	*hlen = len;
	if (len > 0 && p[0] == '[') {
		if ((c = memchr(p, ']', len)) != NULL) {
			*off = 1;
			*hlen = (size_t)(c - p) - 1;
		}
		return;
	}
	/* One colon: IPv4 with a port; more: a bare IPv6 address. */
	if ((c = memchr(p, ':', len)) != NULL &&
	    memchr(c + 1, ':', len - (size_t)(c - p) - 1) == NULL)
		*hlen = (size_t)(c - p);
}

/* The whole address, or its host part without the port. */
static int
peer_match(const cst_record *r, const char **l, size_t n)
{
	size_t i, off, hlen, len;

	query_filter_peer_host(r->peer.p, r->peer.len, &off, &hlen);
	for (i = 0; i < n; i++) {
		len = strlen(l[i]);
		if ((len == r->peer.len && memcmp(r->peer.p, l[i], len) == 0) ||
		    (len == hlen && memcmp(r->peer.p + off, l[i], len) == 0))
			return (1);
	}
	return (0);
}

/*
 * Walks RFC 5424 STRUCTURED-DATA, "[id name=\"value\" ...][...]", for
 * one test.  Values are compared after removing the escapes of RFC 5424
 * section 6.3.3 (\" \\ \]).  Malformed data matches nothing.
 */
static int
sd_match(const uint8_t *p, size_t len, const struct query_sd *t)
{
	size_t i = 0, s, idlen = strlen(t->id), plen, vlen, k;
	int id_ok, name_ok, val_ok;

	plen = t->param != NULL ? strlen(t->param) : 0;
	vlen = t->value != NULL ? strlen(t->value) : 0;
	while (i < len) {
		if (p[i++] != '[')
			return (0);
		for (s = i; i < len && p[i] != ' ' && p[i] != ']'; i++)
			;
		id_ok = i - s == idlen && memcmp(p + s, t->id, idlen) == 0;
		if (id_ok && t->param == NULL)
			return (1);
		while (i < len && p[i] == ' ') {
			for (s = ++i; i < len && p[i] != '='; i++)
				;
			name_ok = id_ok && i - s == plen &&
			    memcmp(p + s, t->param, plen) == 0;
			if (i + 1 >= len || p[i + 1] != '"')
				return (0);
			i += 2;
			val_ok = 1;
			for (k = 0; i < len && p[i] != '"'; i++, k++) {
				if (p[i] == '\\' && i + 1 < len &&
				    (p[i + 1] == '"' || p[i + 1] == '\\' ||
				    p[i + 1] == ']'))
					i++;
				if (k >= vlen || (uint8_t)t->value[k] != p[i])
					val_ok = 0;
			}
			if (i >= len)
				return (0);
			i++;
			if (name_ok && (t->value == NULL ||
			    (val_ok && k == vlen)))
				return (1);
		}
		if (i >= len || p[i] != ']')
			return (0);
		i++;
	}
	return (0);
}

/* One "NAME=N" of R-REC-9 at *p (advanced): decimal, no leading zero. */
static int
ucred_num(const uint8_t **p, const uint8_t *end, const char *name,
    uint64_t *out)
{
	size_t n = strlen(name);
	const uint8_t *d;
	uint64_t v = 0;

	if ((size_t)(end - *p) < n + 2 || memcmp(*p, name, n) != 0 ||
	    (*p)[n] != '=')
		return (-1);
	d = *p + n + 1;
	for (*p = d; *p < end && **p >= '0' && **p <= '9'; (*p)++) {
		if (*p - d == 10)
			return (-1);
		v = v * 10 + (uint64_t)(**p - '0');
	}
	if (*p == d || (*d == '0' && *p - d > 1))
		return (-1);
	*out = v;
	return (0);
}

int
query_filter_ucred(const cst_record *r, uint64_t *pid, uint64_t *uid,
    uint64_t *gid)
{
	const uint8_t *p = r->tls_peer.p, *end;

	if (r->transport != CST_TR_UNIX || p == NULL || r->tls_peer.len < 6 ||
	    memcmp(p, "ucred ", 6) != 0)
		return (0);
	end = p + r->tls_peer.len;
	p += 6;
	if (ucred_num(&p, end, "pid", pid) != 0 || p == end || *p++ != ' ' ||
	    ucred_num(&p, end, "uid", uid) != 0 || p == end || *p++ != ' ' ||
	    ucred_num(&p, end, "gid", gid) != 0 || p != end)
		return (0);
	return (1);
}

/*
 * --tls-peer: the client certificate of a record received over TLS
 * (transport 3, or 4 over TLS), "sha256:HEX SUBJECT" (R-REC-7), against
 * any of the shell patterns.
 */
static int
tls_peer_match(const cst_record *r, const char *const *pats, size_t n)
{
	char s[1200];
	size_t i;

	if ((r->transport != CST_TR_TLS && r->transport != CST_TR_RELP) ||
	    r->tls_peer.p == NULL || r->tls_peer.len >= sizeof(s))
		return (0);
	memcpy(s, r->tls_peer.p, r->tls_peer.len);
	s[r->tls_peer.len] = '\0';
	for (i = 0; i < n; i++)
		if (fnmatch(pats[i], s, 0) == 0)
			return (1);
	return (0);
}

int
query_filter_match(const struct query_filter *f, const cst_record *r,
    pcre2_match_data *md)
{
	uint64_t pid, uid, gid;
	const cst_syslog *ps = &r->parsed;
	size_t i;
	int rc;

	if (r->recv_ns < f->since || r->recv_ns >= f->until ||
	    r->seq < f->seq_lo || r->seq > f->seq_hi)
		return (0);
	if (r->kind > 31 || (f->kind_mask & (1u << r->kind)) == 0)
		return (0);
	if (f->sev_mask != QUERY_ALL_MASK && (!r->has_parsed ||
	    ps->severity < 0 || (f->sev_mask & (1u << ps->severity)) == 0))
		return (0);
	if (f->fac_mask != QUERY_ALL_MASK && (!r->has_parsed ||
	    ps->facility < 0 || ps->facility > 31 ||
	    (f->fac_mask & (1u << ps->facility)) == 0))
		return (0);
	if (f->nhosts > 0 && (!r->has_parsed ||
	    !any_span(r, ps->hostname, f->hosts, f->nhosts)))
		return (0);
	if (f->napps > 0 && (!r->has_parsed ||
	    !any_span(r, ps->app, f->apps, f->napps)))
		return (0);
	if (f->npeers > 0 && !peer_match(r, f->peers, f->npeers))
		return (0);
	if (f->ntls_peers > 0 && !tls_peer_match(r, f->tls_peers,
	    f->ntls_peers))
		return (0);
	if ((f->pid >= 0 || f->uid >= 0) && (!query_filter_ucred(r, &pid,
	    &uid, &gid) || (f->pid >= 0 && pid != (uint64_t)f->pid) ||
	    (f->uid >= 0 && uid != (uint64_t)f->uid)))
		return (0);
	for (i = 0; i < f->nsds; i++)
		if (!r->has_parsed || !sd_match(r->raw.p + ps->sd.off,
		    ps->sd.len, &f->sds[i]))
			return (0);
	for (i = 0; i < f->ngreps; i++)
		if (memmem(r->raw.p, r->raw.len, f->greps[i],
		    strlen(f->greps[i])) == NULL)
			return (0);
	for (i = 0; i < f->nres; i++) {
		rc = pcre2_match(f->res[i], (PCRE2_SPTR)(r->raw.len > 0 ?
		    r->raw.p : (const uint8_t *)""), r->raw.len, 0, 0, md,
		    NULL);
		/* 0: a match with more groups than md holds; still a match. */
		if (rc < 0)
			return (0);
	}
	return (1);
}
