/*
 * Rebuilding a store from NATS JetStream (SPEC section 17, R-REP-8).
 *
 * The chain's messages are read once, in stream order, through an
 * ordered consumer.  Each frame is written at the offset its message
 * names; where it went is kept per block number, so that the checks of
 * R-REP-8 (block numbers from 0 without a gap, frames contiguous in each
 * segment) are made at the end over the whole chain, and a repeat is
 * compared with what was written before.  Frames are never parsed here:
 * bytes that are not a valid frame are written as they are, for the
 * verifier to report.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nats/nats.h>

#include "custody/format.h"
#include "custody/natsopt.h"
#include "custody/natsrep.h"

#include "natsstore.h"

/* How far ahead of the blocks read a block number may be (a retry). */
#define AHEAD_MAX 65536u

struct natsstore {
	natsConnection *nc;
	jsCtx *js;
	char *stream;
	int64_t timeout_ms;
	int keep_conflicts;
	char servers[256];
};

/* Where one block's frame was written. */
struct placed {
	uint64_t seg;
	uint64_t off;
	uint64_t len;
	uint64_t sseq;         /* its message's stream sequence */
	int have;
};

struct restore {
	struct natsstore *ns;
	const char *chain;
	char dir[4096];
	struct placed *blk;
	size_t nblk;           /* entries of blk in use: max block_no + 1 */
	size_t capblk;
	uint8_t *seghave;      /* 1: header of segment i written */
	size_t nseg;
	size_t capseg;
	uint64_t blocks_read;
	uint64_t sseq;         /* stream sequence of the message at hand */
	size_t capconf;
	int fd;                /* the segment file open, or -1 */
	uint64_t fd_seg;
	struct natsstore_result *res;
	char *err;
};

static void
seterr(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
seterr(char *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, NATSSTORE_ERR_LEN, fmt, ap);
	va_end(ap);
}

int
natsstore_open(const struct natsstore_opts *o, struct natsstore **out,
    char err[NATSSTORE_ERR_LEN])
{
	struct natsstore *ns;
	natsOptions *nopts = NULL;
	jsOptions jo;
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	natsStatus s;

	if ((ns = calloc(1, sizeof(*ns))) == NULL ||
	    (ns->stream = strdup(o->stream != NULL ? o->stream :
	    CST_REP_STREAM)) == NULL) {
		seterr(err, "%s", strerror(errno));
		goto err1;
	}
	ns->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 5000;
	ns->keep_conflicts = o->keep_conflicts;
	snprintf(ns->servers, sizeof(ns->servers), "%s", o->servers);
	if ((s = natsOptions_Create(&nopts)) != NATS_OK ||
	    (s = cst_nats_set_servers(nopts, o->servers)) != NATS_OK ||
	    (s = natsOptions_SetTimeout(nopts, ns->timeout_ms)) != NATS_OK) {
		seterr(err, "NATS servers %s: %s", o->servers, cst_nats_why(s));
		goto err2;
	}
	if (o->creds != NULL && (s = natsOptions_SetUserCredentialsFromFiles(
	    nopts, o->creds, NULL)) != NATS_OK) {
		seterr(err, "NATS credentials %s: %s", o->creds, cst_nats_why(s));
		goto err2;
	}
	if (o->tls_ca != NULL && (s = natsOptions_LoadCATrustedCertificates(
	    nopts, o->tls_ca)) != NATS_OK) {
		seterr(err, "NATS TLS CA %s: %s", o->tls_ca, cst_nats_why(s));
		goto err2;
	}
	if (o->tls_cert != NULL && (s = natsOptions_LoadCertificatesChain(
	    nopts, o->tls_cert, o->tls_key != NULL ? o->tls_key :
	    o->tls_cert)) != NATS_OK) {
		seterr(err, "NATS TLS certificate %s: %s", o->tls_cert,
		    cst_nats_why(s));
		goto err2;
	}
	if ((o->tls_ca != NULL || o->tls_cert != NULL) &&
	    (s = natsOptions_SetSecure(nopts, true)) != NATS_OK) {
		seterr(err, "NATS TLS: %s", cst_nats_why(s));
		goto err2;
	}
	if ((s = natsConnection_Connect(&ns->nc, nopts)) != NATS_OK) {
		seterr(err, "cannot connect to NATS %s: %s", o->servers,
		    cst_nats_why(s));
		goto err2;
	}
	jsOptions_Init(&jo);
	jo.Wait = ns->timeout_ms;
	if ((s = natsConnection_JetStream(&ns->js, ns->nc, &jo)) != NATS_OK) {
		seterr(err, "JetStream on %s: %s", o->servers, cst_nats_why(s));
		goto err2;
	}
	if ((s = js_GetStreamInfo(&si, ns->js, ns->stream, NULL,
	    &jerr)) != NATS_OK) {
		seterr(err, "stream %s on %s: %s", ns->stream, o->servers,
		    s == NATS_NOT_FOUND ? "no such stream" : cst_nats_why(s));
		goto err2;
	}
	jsStreamInfo_Destroy(si);
	natsOptions_Destroy(nopts);
	*out = ns;
	return (0);

err2:
	natsOptions_Destroy(nopts);
err1:
	natsstore_close(ns);
	return (-1);
}

void
natsstore_close(struct natsstore *ns)
{

	if (ns == NULL)
		return;
	jsCtx_Destroy(ns->js);
	natsConnection_Destroy(ns->nc);
	free(ns->stream);
	free(ns);
}

/* Is s 32 lower-case hex digits? */
static int
is_chain(const char *s, size_t len)
{
	size_t i;

	if (len != 2 * CST_CHAIN_ID_LEN)
		return (0);
	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' &&
		    s[i] <= 'f')))
			return (0);
	return (1);
}

static int
cmp_chain(const void *a, const void *b)
{

	return (strcmp(a, b));
}

int
natsstore_chains(struct natsstore *ns, char (**chains)[33], size_t *n,
    char err[NATSSTORE_ERR_LEN])
{
	jsOptions jo;
	jsStreamInfo *si = NULL;
	jsStreamStateSubjects *subs;
	jsErrCode jerr = 0;
	natsStatus s;
	char (*out)[33];
	size_t k = 0;
	int i;

	jsOptions_Init(&jo);
	jo.Wait = ns->timeout_ms;
	jo.Stream.Info.SubjectsFilter = "custody.*.blocks";
	if ((s = js_GetStreamInfo(&si, ns->js, ns->stream, &jo,
	    &jerr)) != NATS_OK) {
		seterr(err, "stream %s: %s", ns->stream, cst_nats_why(s));
		return (-1);
	}
	subs = si->State.Subjects;
	if ((out = calloc(subs != NULL && subs->Count > 0 ?
	    (size_t)subs->Count : 1, sizeof(*out))) == NULL) {
		seterr(err, "%s", strerror(errno));
		jsStreamInfo_Destroy(si);
		return (-1);
	}
	for (i = 0; subs != NULL && i < subs->Count; i++) {
		const char *subj = subs->List[i].Subject;
		const char *dot;

		if (strncmp(subj, "custody.", 8) != 0 ||
		    (dot = strchr(subj + 8, '.')) == NULL ||
		    strcmp(dot, ".blocks") != 0 ||
		    !is_chain(subj + 8, (size_t)(dot - (subj + 8))))
			continue;
		memcpy(out[k], subj + 8, 32);
		out[k][32] = '\0';
		k++;
	}
	jsStreamInfo_Destroy(si);
	qsort(out, k, sizeof(*out), cmp_chain);
	*chains = out;
	*n = k;
	return (0);
}

/* ---- restore ---- */

/* Parses header key of m as a decimal without leading zeros into *v. */
static int
hdr_u64(natsMsg *m, const char *key, uint64_t *v)
{
	const char *p = NULL;
	uint64_t x = 0;

	if (natsMsgHeader_Get(m, key, &p) != NATS_OK || p == NULL ||
	    p[0] == '\0' || (p[0] == '0' && p[1] != '\0') || strlen(p) > 20)
		return (-1);
	for (; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || x > (UINT64_MAX - 9) / 10)
			return (-1);
		x = x * 10 + (uint64_t)(*p - '0');
	}
	*v = x;
	return (0);
}

/* R-REP-3: a plain file name. */
static int
plain_name(const char *s)
{
	size_t i, len = strlen(s);

	if (len == 0 || len > CST_REP_NAME_MAX || strcmp(s, ".") == 0 ||
	    strcmp(s, "..") == 0)
		return (0);
	for (i = 0; i < len; i++)
		if (s[i] == '/' || (unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return (0);
	return (1);
}

static int
write_all(int fd, const void *p, size_t len, uint64_t off)
{
	const uint8_t *b = p;
	ssize_t n;

	while (len > 0) {
		if ((n = pwrite(fd, b, len, (off_t)off)) < 0) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		b += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return (0);
}

/* Are the len bytes at off of fd equal to p?  1 yes, 0 no, -1 error. */
static int
same_bytes(int fd, const void *p, size_t len, uint64_t off)
{
	uint8_t buf[65536];
	const uint8_t *b = p;
	size_t k;
	ssize_t n;

	while (len > 0) {
		k = len < sizeof(buf) ? len : sizeof(buf);
		if ((n = pread(fd, buf, k, (off_t)off)) < 0) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		if (n == 0 || memcmp(buf, b, (size_t)n) != 0)
			return (0);
		b += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return (1);
}

static int
close_seg(struct restore *r)
{
	int rc = 0;

	if (r->fd < 0)
		return (0);
	if (fsync(r->fd) != 0) {
		seterr(r->err, "%s/segments/seg-%010" PRIu64 ".cst: fsync: %s",
		    r->dir, r->fd_seg, strerror(errno));
		rc = -1;
	}
	close(r->fd);
	r->fd = -1;
	return (rc);
}

/* Opens (creating) the file of segment seg as r->fd. */
static int
open_seg(struct restore *r, uint64_t seg)
{
	char path[4200];

	if (r->fd >= 0 && r->fd_seg == seg)
		return (0);
	if (close_seg(r) != 0)
		return (-1);
	snprintf(path, sizeof(path), "%s/segments/seg-%010" PRIu64 ".cst",
	    r->dir, seg);
	if ((r->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0) {
		seterr(r->err, "%s: %s", path, strerror(errno));
		return (-1);
	}
	r->fd_seg = seg;
	return (0);
}

/* Makes room for index i in an array of *cap elements of size sz. */
static int
grow(void **arr, size_t *cap, size_t i, size_t sz)
{
	size_t ncap = *cap != 0 ? *cap : 1024;
	void *p;

	if (i < *cap)
		return (0);
	while (ncap <= i)
		ncap *= 2;
	if ((p = realloc(*arr, ncap * sz)) == NULL)
		return (-1);
	memset((uint8_t *)p + *cap * sz, 0, (ncap - *cap) * sz);
	*arr = p;
	*cap = ncap;
	return (0);
}

static int
on_segment(struct restore *r, natsMsg *m, const uint8_t *data, size_t len)
{
	uint64_t seg;
	int same;

	if (hdr_u64(m, CST_REP_H_SEGMENT, &seg) != 0 || seg > 9999999999u) {
		seterr(r->err, "a segment header message without a valid "
		    CST_REP_H_SEGMENT " header");
		return (-1);
	}
	if (len != CST_SEG_HDR_LEN) {
		seterr(r->err, "segment %" PRIu64 ": its header message has "
		    "%zu bytes, not %d", seg, len, CST_SEG_HDR_LEN);
		return (-1);
	}
	if (seg > r->nseg + AHEAD_MAX) {
		seterr(r->err, "segment %" PRIu64 " comes before segments "
		    "%zu to %" PRIu64 " (a gap)", seg, r->nseg, seg - 1);
		return (-1);
	}
	if (grow((void **)&r->seghave, &r->capseg, (size_t)seg, 1) != 0) {
		seterr(r->err, "%s", strerror(ENOMEM));
		return (-1);
	}
	if (open_seg(r, seg) != 0)
		return (-1);
	if (r->seghave[seg]) {
		if ((same = same_bytes(r->fd, data, len, 0)) < 0) {
			seterr(r->err, "segment %" PRIu64 ": read: %s", seg,
			    strerror(errno));
			return (-1);
		}
		if (!same) {
			seterr(r->err, "segment %" PRIu64 ": two header "
			    "messages with different bytes", seg);
			return (-1);
		}
		r->res->repeats++;
		return (0);
	}
	if (write_all(r->fd, data, len, 0) != 0) {
		seterr(r->err, "segment %" PRIu64 ": write: %s", seg,
		    strerror(errno));
		return (-1);
	}
	r->seghave[seg] = 1;
	if (seg + 1 > r->nseg)
		r->nseg = (size_t)seg + 1;
	return (0);
}

/* Notes that block b came again with other bytes (keep_conflicts). */
static int
add_conflict(struct restore *r, uint64_t b, uint64_t first_seq)
{
	struct natsstore_conflict *c;
	size_t cap;

	if (r->res->nconflicts == r->capconf) {
		cap = r->capconf == 0 ? 8 : 2 * r->capconf;
		if ((c = realloc(r->res->conflicts, cap * sizeof(*c))) ==
		    NULL) {
			seterr(r->err, "%s", strerror(ENOMEM));
			return (-1);
		}
		r->res->conflicts = c;
		r->capconf = cap;
	}
	c = &r->res->conflicts[r->res->nconflicts++];
	c->block = b;
	c->first_seq = first_seq;
	c->other_seq = r->sseq;
	return (0);
}

static int
on_block(struct restore *r, natsMsg *m, const uint8_t *data, size_t len)
{
	uint64_t seg, off, b;
	struct placed *p;
	int same;

	if (hdr_u64(m, CST_REP_H_BLOCK, &b) != 0) {
		seterr(r->err, "a block message (after %" PRIu64 " blocks) "
		    "without a valid " CST_REP_H_BLOCK " header",
		    r->blocks_read);
		return (-1);
	}
	if (hdr_u64(m, CST_REP_H_SEGMENT, &seg) != 0 || seg > 9999999999u ||
	    hdr_u64(m, CST_REP_H_OFFSET, &off) != 0) {
		seterr(r->err, "block %" PRIu64 ": no valid "
		    CST_REP_H_SEGMENT " or " CST_REP_H_OFFSET " header", b);
		return (-1);
	}
	if (len < CST_BLK_HDR_LEN) {
		seterr(r->err, "block %" PRIu64 ": %zu bytes, shorter than a "
		    "block header", b, len);
		return (-1);
	}
	if (off < CST_SEG_HDR_LEN || off > (UINT64_C(1) << 48)) {
		seterr(r->err, "block %" PRIu64 ": offset %" PRIu64
		    " in segment %" PRIu64 " overlaps the segment header or "
		    "is out of range", b, off, seg);
		return (-1);
	}
	if (b > r->blocks_read + AHEAD_MAX) {
		seterr(r->err, "block %" PRIu64 " comes after only %" PRIu64
		    " blocks (a gap)", b, r->blocks_read);
		return (-1);
	}
	if (grow((void **)&r->blk, &r->capblk, (size_t)b,
	    sizeof(*r->blk)) != 0) {
		seterr(r->err, "%s", strerror(ENOMEM));
		return (-1);
	}
	r->blocks_read++;
	p = &r->blk[b];
	if (p->have) {
		if (p->seg == seg && p->off == off && p->len == len &&
		    open_seg(r, seg) == 0 &&
		    (same = same_bytes(r->fd, data, len, off)) == 1) {
			r->res->repeats++;
			return (0);
		}
		if (r->ns->keep_conflicts)
			return (add_conflict(r, b, p->sseq));
		seterr(r->err, "block %" PRIu64 ": stored twice with "
		    "different bytes or places (segment %" PRIu64 " offset %"
		    PRIu64 ", then segment %" PRIu64 " offset %" PRIu64 ")",
		    b, p->seg, p->off, seg, off);
		return (-1);
	}
	if (open_seg(r, seg) != 0)
		return (-1);
	if (write_all(r->fd, data, len, off) != 0) {
		seterr(r->err, "block %" PRIu64 ": writing segment %" PRIu64
		    ": %s", b, seg, strerror(errno));
		return (-1);
	}
	p->seg = seg;
	p->off = off;
	p->len = len;
	p->sseq = r->sseq;
	p->have = 1;
	if (b + 1 > r->nblk)
		r->nblk = (size_t)b + 1;
	return (0);
}

/* A checkpoint or key file, named by its message, into sub/. */
static int
on_file(struct restore *r, natsMsg *m, const char *sub, const uint8_t *data,
    size_t len)
{
	const char *name = NULL;
	char path[4400];
	int fd, same;

	if (natsMsgHeader_Get(m, CST_REP_H_NAME, &name) != NATS_OK ||
	    name == NULL || !plain_name(name)) {
		seterr(r->err, "a %s message without a plain file name in its "
		    CST_REP_H_NAME " header (R-REP-3)", sub);
		return (-1);
	}
	if (strcmp(sub, "keys") == 0 && strlen(name) >= 4 &&
	    strcmp(name + strlen(name) - 4, ".key") == 0) {
		seterr(r->err, "keys/%s: a secret key in the stream (R-REP-4); "
		    "not restored", name);
		return (-1);
	}
	snprintf(path, sizeof(path), "%s/%s/%s", r->dir, sub, name);
	if ((fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
	    0644)) < 0) {
		if (errno != EEXIST || (fd = open(path, O_RDONLY |
		    O_CLOEXEC)) < 0) {
			seterr(r->err, "%s: %s", path, strerror(errno));
			return (-1);
		}
		same = same_bytes(fd, data, len, 0) == 1 &&
		    lseek(fd, 0, SEEK_END) == (off_t)len;
		close(fd);
		if (!same) {
			seterr(r->err, "%s/%s: two messages with different "
			    "bytes", sub, name);
			return (-1);
		}
		r->res->repeats++;
		return (0);
	}
	if (write_all(fd, data, len, 0) != 0 || fsync(fd) != 0) {
		seterr(r->err, "%s: %s", path, strerror(errno));
		close(fd);
		return (-1);
	}
	close(fd);
	if (strcmp(sub, "keys") == 0)
		r->res->keys++;
	else
		r->res->checkpoints++;
	return (0);
}

/* R-REP-8's checks over the whole chain, once every message is in. */
static int
check_chain(struct restore *r)
{
	uint64_t b, seg = 0, end = 0;
	struct placed *p;

	if (r->nblk == 0) {
		seterr(r->err, "chain %s has no blocks in stream %s", r->chain,
		    r->ns->stream);
		return (-1);
	}
	for (b = 0; b < r->nblk; b++) {
		p = &r->blk[b];
		if (!p->have) {
			seterr(r->err, "block %" PRIu64 " is missing from the "
			    "stream (blocks up to %zu are there)", b,
			    r->nblk - 1);
			return (-1);
		}
		if (b == 0 || p->seg != seg) {
			if (b == 0 ? p->seg != 0 : p->seg != seg + 1) {
				seterr(r->err, "block %" PRIu64 " is in "
				    "segment %" PRIu64 ", after segment %"
				    PRIu64 " (a segment missing)", b, p->seg,
				    seg);
				return (-1);
			}
			if (p->seg >= r->nseg || !r->seghave[p->seg]) {
				seterr(r->err, "block %" PRIu64 ": segment %"
				    PRIu64 " has no header message", b,
				    p->seg);
				return (-1);
			}
			seg = p->seg;
			end = CST_SEG_HDR_LEN;
		}
		if (p->off != end) {
			seterr(r->err, "block %" PRIu64 " is at offset %" PRIu64
			    " of segment %" PRIu64 ", the frame before ends at "
			    "%" PRIu64 " (%s)", b, p->off, seg, end,
			    p->off > end ? "a gap" : "an overlap");
			return (-1);
		}
		end += p->len;
		r->res->bytes += p->len;
	}
	r->res->blocks = r->nblk;
	r->res->segments = r->nseg;
	r->res->bytes += (uint64_t)r->nseg * CST_SEG_HDR_LEN;
	return (0);
}

/* checkpoints/latest.ckpt: the numbered one that covers the most. */
static int
write_latest(struct restore *r)
{
	char dir[4200], best[CST_REP_NAME_MAX + 1] = "", from[4500],
	    to[4500];
	struct dirent *de;
	uint8_t buf[65536];
	uint64_t off = 0;
	DIR *d;
	ssize_t n;
	int in, out, rc = 0;

	snprintf(dir, sizeof(dir), "%s/checkpoints", r->dir);
	if ((d = opendir(dir)) == NULL) {
		seterr(r->err, "%s: %s", dir, strerror(errno));
		return (-1);
	}
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (strncmp(de->d_name, "ckpt-", 5) == 0 && len > 10 &&
		    strcmp(de->d_name + len - 5, ".ckpt") == 0 &&
		    len <= CST_REP_NAME_MAX && strcmp(de->d_name, best) > 0)
			memcpy(best, de->d_name, len + 1);
	}
	closedir(d);
	if (best[0] == '\0')
		return (0);
	snprintf(from, sizeof(from), "%s/%s", dir, best);
	snprintf(to, sizeof(to), "%s/latest.ckpt", dir);
	if ((in = open(from, O_RDONLY | O_CLOEXEC)) < 0 ||
	    (out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0644)) < 0) {
		seterr(r->err, "%s: %s", in < 0 ? from : to, strerror(errno));
		if (in >= 0)
			close(in);
		return (-1);
	}
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		if (write_all(out, buf, (size_t)n, off) != 0) {
			n = -1;
			break;
		}
		off += (uint64_t)n;
	}
	if (n < 0 || fsync(out) != 0) {
		seterr(r->err, "%s: %s", to, strerror(errno));
		rc = -1;
	} else
		r->res->checkpoints++;
	close(in);
	close(out);
	return (rc);
}

/* dir: absent (made) or an empty directory; then its three below. */
static int
make_dirs(struct restore *r)
{
	static const char *const sub[] = { "segments", "checkpoints", "keys" };
	char path[4200];
	struct dirent *de;
	DIR *d;
	size_t i;

	if (mkdir(r->dir, 0755) != 0) {
		if (errno != EEXIST || (d = opendir(r->dir)) == NULL) {
			seterr(r->err, "%s: %s", r->dir, strerror(errno));
			return (-1);
		}
		while ((de = readdir(d)) != NULL)
			if (strcmp(de->d_name, ".") != 0 &&
			    strcmp(de->d_name, "..") != 0) {
				closedir(d);
				seterr(r->err, "%s is not empty: a restore "
				    "writes only into a new or empty "
				    "directory", r->dir);
				return (-1);
			}
		closedir(d);
	}
	for (i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", r->dir, sub[i]);
		if (mkdir(path, 0755) != 0) {
			seterr(r->err, "%s: %s", path, strerror(errno));
			return (-1);
		}
	}
	return (0);
}

/* Reads the chain's messages, in stream order, into the directory. */
static int
read_stream(struct restore *r)
{
	struct natsstore *ns = r->ns;
	char subj[128], s_seg[128], s_blk[128], s_ckp[128], s_key[128];
	natsSubscription *sub = NULL;
	natsMsg *m = NULL, *last = NULL;
	jsMsgMetaData *meta = NULL;
	jsSubOptions so;
	jsOptions jo;
	jsErrCode jerr = 0;
	natsStatus s;
	const char *ms;
	const uint8_t *data;
	size_t len;
	int rc = -1, done = 0;

	snprintf(subj, sizeof(subj), CST_REP_SUBJ_ALL, r->chain);
	snprintf(s_seg, sizeof(s_seg), CST_REP_SUBJ_SEGMENTS, r->chain);
	snprintf(s_blk, sizeof(s_blk), CST_REP_SUBJ_BLOCKS, r->chain);
	snprintf(s_ckp, sizeof(s_ckp), CST_REP_SUBJ_CHECKPOINTS, r->chain);
	snprintf(s_key, sizeof(s_key), CST_REP_SUBJ_KEYS, r->chain);
	/* Nothing to wait for when the chain has no block. */
	if ((s = js_GetLastMsg(&last, ns->js, ns->stream, s_blk, NULL,
	    &jerr)) != NATS_OK) {
		seterr(r->err, "chain %s in stream %s: %s", r->chain,
		    ns->stream, s == NATS_NOT_FOUND ? "no blocks" :
		    cst_nats_why(s));
		return (-1);
	}
	natsMsg_Destroy(last);
	jsOptions_Init(&jo);
	jo.Wait = ns->timeout_ms;
	jsSubOptions_Init(&so);
	so.Stream = ns->stream;
	so.Ordered = true;
	so.Config.DeliverPolicy = js_DeliverAll;
	if ((s = js_SubscribeSync(&sub, ns->js, subj, &jo, &so,
	    &jerr)) != NATS_OK) {
		seterr(r->err, "reading %s from stream %s: %s", subj,
		    ns->stream, cst_nats_why(s));
		return (-1);
	}
	while (!done) {
		if ((s = natsSubscription_NextMsg(&m, sub,
		    ns->timeout_ms)) != NATS_OK) {
			seterr(r->err, "reading %s from stream %s after %"
			    PRIu64 " messages: %s", subj, ns->stream,
			    r->res->messages, cst_nats_why(s));
			goto out;
		}
		r->res->messages++;
		if (natsMsg_GetMetaData(&meta, m) != NATS_OK) {
			seterr(r->err, "a message of %s without JetStream "
			    "metadata", subj);
			goto out;
		}
		done = meta->NumPending == 0;
		r->sseq = meta->Sequence.Stream;
		jsMsgMetaData_Destroy(meta);
		ms = natsMsg_GetSubject(m);
		data = (const uint8_t *)natsMsg_GetData(m);
		len = (size_t)natsMsg_GetDataLength(m);
		if (data == NULL)
			data = (const uint8_t *)"";
		if (strcmp(ms, s_blk) == 0) {
			if (on_block(r, m, data, len) != 0)
				goto out;
		} else if (strcmp(ms, s_seg) == 0) {
			if (on_segment(r, m, data, len) != 0)
				goto out;
		} else if (strcmp(ms, s_ckp) == 0) {
			if (on_file(r, m, "checkpoints", data, len) != 0)
				goto out;
		} else if (strcmp(ms, s_key) == 0) {
			if (on_file(r, m, "keys", data, len) != 0)
				goto out;
		} else {
			seterr(r->err, "a message on %s, not a subject of "
			    "SPEC section 17", ms);
			goto out;
		}
		natsMsg_Destroy(m);
		m = NULL;
	}
	rc = 0;
out:
	natsMsg_Destroy(m);
	natsSubscription_Unsubscribe(sub);
	natsSubscription_Destroy(sub);
	return (rc);
}

/* The stream's last sequence now. */
static int
stream_last(struct natsstore *ns, uint64_t *seq, char *err)
{
	jsOptions jo;
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	natsStatus s;

	jsOptions_Init(&jo);
	jo.Wait = ns->timeout_ms;
	if ((s = js_GetStreamInfo(&si, ns->js, ns->stream, &jo,
	    &jerr)) != NATS_OK) {
		seterr(err, "stream %s: %s", ns->stream, cst_nats_why(s));
		return (-1);
	}
	*seq = si->State.LastSeq;
	jsStreamInfo_Destroy(si);
	return (0);
}

void
natsstore_result_close(struct natsstore_result *res)
{

	free(res->conflicts);
	res->conflicts = NULL;
	res->nconflicts = 0;
}

int
natsstore_restore(struct natsstore *ns, const char *chain_hex,
    const char *dir, struct natsstore_result *res,
    char err[NATSSTORE_ERR_LEN])
{
	struct restore r;
	int rc = -1;

	memset(res, 0, sizeof(*res));
	memset(&r, 0, sizeof(r));
	r.ns = ns;
	r.chain = chain_hex;
	r.res = res;
	r.err = err;
	r.fd = -1;
	if (!is_chain(chain_hex, strlen(chain_hex))) {
		seterr(err, "%s is not a chain id (32 lower-case hex digits)",
		    chain_hex);
		return (-1);
	}
	if (snprintf(r.dir, sizeof(r.dir), "%s", dir) >= (int)sizeof(r.dir)) {
		seterr(err, "%s: %s", dir, strerror(ENAMETOOLONG));
		return (-1);
	}
	if (stream_last(ns, &res->stream_last_seq, err) != 0 ||
	    make_dirs(&r) != 0 || read_stream(&r) != 0)
		goto out;
	if (close_seg(&r) != 0 || check_chain(&r) != 0 ||
	    write_latest(&r) != 0)
		goto out;
	rc = 0;
out:
	if (r.fd >= 0)
		close(r.fd);
	free(r.blk);
	free(r.seghave);
	return (rc);
}
