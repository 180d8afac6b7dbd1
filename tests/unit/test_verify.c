/*
 * The chain verifier (formats/verify.c) against what an investigator
 * relies on: every committed vector gives its verdict and rule; a fresh
 * store passes; and a tamper matrix of thousands of random mutations
 * (fixed, printed seed) is detected and located every time.
 *
 * Stores are made by custody-mkstore, found through CUSTODY_BUILD_DIR;
 * vectors through CUSTODY_SOURCE_DIR (both set by ctest).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "custody/checkpoint.h"
#include "custody/error.h"
#include "custody/format.h"
#include "custody/keys.h"
#include "custody/verify.h"

#define MATRIX_SEED UINT64_C(0x5eed0f7a3e4d2c1b)
#define MATRIX_PER_CLASS 120

/* Findings, copied out of the callback. */
struct flist {
	cst_finding *v;
	size_t n;
};

static void
collect(const cst_finding *f, void *ctx)
{
	struct flist *l = ctx;
	cst_finding c = *f;

	l->v = realloc(l->v, (l->n + 1) * sizeof(*l->v));
	cr_assert_not_null(l->v);
	c.file = f->file != NULL ? strdup(f->file) : NULL;
	c.detail = strdup(f->detail);
	l->v[l->n++] = c;
}

static void
flist_free(struct flist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free((char *)(uintptr_t)l->v[i].file);
		free((char *)(uintptr_t)l->v[i].detail);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int
cites(const struct flist *l, const char *rule)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->v[i].severity == CST_SEV_FAILURE &&
		    strcmp(l->v[i].rule, rule) == 0)
			return (1);
	return (0);
}

static const char *
env_dir(const char *name)
{
	const char *d = getenv(name);

	cr_assert_not_null(d, "%s is not set (run under ctest)", name);
	return (d);
}

static char *
path2(const char *a, const char *b)
{
	char *p;

	cr_assert(asprintf(&p, "%s/%s", a, b) >= 0);
	return (p);
}

static int
is_cst(const struct dirent *e)
{
	size_t n = strlen(e->d_name);

	return (n > 4 && strcmp(e->d_name + n - 4, ".cst") == 0);
}

/* The store dir's segment files, in name order. */
static char **
segment_paths(const char *dir, size_t *n)
{
	struct dirent **ents;
	char *sd = path2(dir, "segments"), **v;
	int i, k;

	k = scandir(sd, &ents, is_cst, alphasort);
	cr_assert(k >= 0, "%s: %s", sd, strerror(errno));
	v = calloc((size_t)k + 1, sizeof(*v));
	cr_assert_not_null(v);
	for (i = 0; i < k; i++) {
		v[i] = path2(sd, ents[i]->d_name);
		free(ents[i]);
	}
	free(ents);
	free(sd);
	*n = (size_t)k;
	return (v);
}

static void
free_paths(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int
is_ckpt(const struct dirent *e)
{
	size_t n = strlen(e->d_name);

	return (e->d_name[0] != '.' && n > 5 &&
	    (strcmp(e->d_name + n - 5, ".ckpt") == 0 ||
	    strcmp(e->d_name + n - 5, ".note") == 0));
}

/*
 * Checks the checkpoint or note checkpoint (SPEC 13, by its name) at
 * path, how a set of CST_CKP_* flags.
 */
static void
check_any_ckp(cst_verifier *v, const char *path, int how)
{
	char buf[65536];
	size_t len, n = strlen(path);
	FILE *f;

	f = fopen(path, "rb");
	cr_assert_not_null(f, "%s", path);
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (n > 5 && strcmp(path + n - 5, ".note") == 0)
		cr_assert_eq(cst_verifier_check_note_text(v,
		    (const uint8_t *)buf, len, path, how), 0);
	else
		cr_assert_eq(cst_verifier_check_checkpoint_text(v,
		    (const uint8_t *)buf, len, path, how), 0);
}

/* The store's log certificates (R-TLOG-5), before any note. */
static void
add_log_certs(cst_verifier *v, const char *dir)
{
	static const char *const where[] = { "keys/log.cert",
	    "checkpoints/log.cert" };
	char buf[4096], *p;
	size_t i, len;
	FILE *f;

	for (i = 0; i < 2; i++) {
		p = path2(dir, where[i]);
		if ((f = fopen(p, "rb")) != NULL) {
			len = fread(buf, 1, sizeof(buf), f);
			fclose(f);
			cr_assert_eq(cst_verifier_add_log_cert_text(v,
			    (const uint8_t *)buf, len, p), 0);
		}
		free(p);
	}
}

/* R-CKP-4: the store's own checkpoints not among ckps[0..nckps). */
static void
check_store_ckps(cst_verifier *v, const char *dir, char **ckps,
    size_t nckps)
{
	struct dirent **ents;
	char *cd = path2(dir, "checkpoints"), *p;
	size_t i;
	int k, j, given;

	if ((k = scandir(cd, &ents, is_ckpt, alphasort)) < 0) {
		free(cd);
		return;
	}
	for (j = 0; j < k; j++) {
		p = path2(cd, ents[j]->d_name);
		given = 0;
		for (i = 0; i < nckps; i++)
			given |= strcmp(p, ckps[i]) == 0;
		if (!given)
			check_any_ckp(v, p, CST_CKP_FROM_STORE);
		free(p);
		free(ents[j]);
	}
	free(ents);
	free(cd);
}

/*
 * Verifies store dir with root, checkpoints ckps[0..nckps) and the
 * store's own, into l; returns the failure count.
 */
static size_t
verify_store(const char *dir, const cst_root_pub *root, char **ckps,
    size_t nckps, unsigned threads, struct flist *l)
{
	cst_verify_opts o;
	cst_verifier *v;
	char **segs, *q = path2(dir, "quarantine");
	struct stat st;
	size_t n, i, fails;

	memset(&o, 0, sizeof(o));
	o.threads = threads;
	if (stat(q, &st) == 0)
		o.quarantine_dir = q;
	segs = segment_paths(dir, &n);
	v = cst_verifier_new(root, &o, collect, l);
	cr_assert_not_null(v);
	cr_assert_eq(cst_verifier_run(v, (const char *const *)segs, n), 0);
	add_log_certs(v, dir);
	for (i = 0; i < nckps; i++)
		check_any_ckp(v, ckps[i], 0);
	check_store_ckps(v, dir, ckps, nckps);
	fails = cst_verifier_summary(v)->failures;
	cst_verifier_free(v);
	free_paths(segs, n);
	free(q);
	return (fails);
}

/* expect.json, read as make_vectors.sh writes it. */
struct expect {
	char verdict[256];
	char root[256];
	char rules[8][256];
	size_t nrules;
	char ckps[4][256];
	size_t nckps;
};

/* The quoted strings of the value of key in json, up to max. */
static size_t
json_strings(const char *json, const char *key, char (*out)[256],
    size_t outlen, size_t max)
{
	char pat[64];
	const char *p, *end, *q;
	size_t n = 0;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	if ((p = strstr(json, pat)) == NULL)
		return (0);
	p += strlen(pat);
	while (*p == ' ')
		p++;
	end = *p == '[' ? strchr(p, ']') : strchr(p + 1, '"') + 1;
	cr_assert_not_null(end);
	while (n < max && (p = strchr(p, '"')) != NULL && p < end) {
		q = strchr(p + 1, '"');
		cr_assert(q != NULL && (size_t)(q - p - 1) < outlen);
		memcpy(out[n], p + 1, (size_t)(q - p - 1));
		out[n][q - p - 1] = '\0';
		n++;
		p = q + 1;
	}
	return (n);
}

static void
read_expect(const char *dir, struct expect *e)
{
	char *path = path2(dir, "expect.json"), buf[8192], tmp[8][256];
	size_t n, i;
	FILE *f;

	memset(e, 0, sizeof(*e));
	f = fopen(path, "r");
	cr_assert_not_null(f, "%s", path);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	free(path);
	cr_assert_eq(json_strings(buf, "verdict", tmp, 256, 1), 1);
	snprintf(e->verdict, sizeof(e->verdict), "%s", tmp[0]);
	cr_assert_eq(json_strings(buf, "root", tmp, 256, 1), 1);
	snprintf(e->root, sizeof(e->root), "%s", tmp[0]);
	e->nrules = json_strings(buf, "rules", tmp, 256, 8);
	for (i = 0; i < e->nrules; i++)
		snprintf(e->rules[i], sizeof(e->rules[i]), "%s", tmp[i]);
	e->nckps = json_strings(buf, "checkpoints", e->ckps, 256, 4);
}

static int
is_vector(const struct dirent *e)
{

	return (e->d_name[0] != '.');
}

Test(verify, vectors)
{
	const char *src = env_dir("CUSTODY_SOURCE_DIR");
	char *vdir = path2(src, "tests/vectors"), *dir, *rp, *ckps[4];
	struct dirent **ents;
	struct expect e;
	struct flist l0 = { NULL, 0 }, l2 = { NULL, 0 };
	cst_root_pub root;
	struct stat st;
	size_t i, k, nvec = 0, fails;
	int n;

	n = scandir(vdir, &ents, is_vector, alphasort);
	cr_assert(n > 0, "no vectors in %s", vdir);
	for (k = 0; k < (size_t)n; k++) {
		dir = path2(vdir, ents[k]->d_name);
		rp = path2(dir, "expect.json");
		if (stat(rp, &st) != 0) {
			free(rp);
			free(dir);
			free(ents[k]);
			continue;
		}
		free(rp);
		nvec++;
		read_expect(dir, &e);
		rp = path2(dir, e.root);
		cr_assert_eq(cst_root_pub_load(rp, &root), 0, "%s", rp);
		for (i = 0; i < e.nckps; i++)
			ckps[i] = path2(dir, e.ckps[i]);

		/* Same findings in the same order with and without threads. */
		fails = verify_store(dir, &root, ckps, e.nckps, 0, &l0);
		(void)verify_store(dir, &root, ckps, e.nckps, 2, &l2);
		if (strcmp(e.verdict, "intact") == 0)
			cr_expect_eq(fails, 0, "%s: %zu failures, first %s: %s",
			    ents[k]->d_name, fails, l0.n > 0 ? l0.v[0].rule :
			    "", l0.n > 0 ? l0.v[0].detail : "");
		else
			cr_expect_gt(fails, 0, "%s: not detected",
			    ents[k]->d_name);
		for (i = 0; i < e.nrules; i++)
			cr_expect(cites(&l0, e.rules[i]), "%s: no failure "
			    "cites %s", ents[k]->d_name, e.rules[i]);
		cr_expect_eq(l0.n, l2.n, "%s: thread count changes findings",
		    ents[k]->d_name);
		for (i = 0; i < l0.n && i < l2.n; i++)
			cr_expect(strcmp(l0.v[i].rule, l2.v[i].rule) == 0 &&
			    l0.v[i].offset == l2.v[i].offset &&
			    strcmp(l0.v[i].detail, l2.v[i].detail) == 0,
			    "%s: finding %zu differs with threads",
			    ents[k]->d_name, i);
		flist_free(&l0);
		flist_free(&l2);
		for (i = 0; i < e.nckps; i++)
			free(ckps[i]);
		free(rp);
		free(dir);
		free(ents[k]);
	}
	free(ents);
	free(vdir);
	cr_assert_geq(nvec, 20, "only %zu vectors", nvec);
}

/* The tamper matrix. */

static uint64_t
rnd(uint64_t *x)
{
	uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return (z ^ (z >> 31));
}

static uint64_t
below(uint64_t *x, uint64_t n)
{

	return (n == 0 ? 0 : rnd(x) % n);
}

struct frame {
	size_t off;
	size_t len;
	size_t cert_len;
	uint64_t block_no;
	int seal;
};

struct seg {
	char *path;
	uint8_t *b;
	size_t len;
	struct frame fr[512];
	size_t nfr;
};

struct store {
	char *dir;
	struct seg s[8];
	size_t ns;
	cst_root_pub root;
	char *ckp;
	char *quar;          /* the quarantine file */
	uint8_t *qb;
	size_t qlen;
	uint8_t *cb;         /* the checkpoint text */
	size_t clen;
};

static uint8_t *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b;
	long n;

	cr_assert_not_null(f, "%s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	b = malloc((size_t)n + 1);
	cr_assert_not_null(b);
	cr_assert_eq(fread(b, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return (b);
}

static void
spit(const char *path, const uint8_t *b, size_t len)
{
	FILE *f = fopen(path, "wb");

	cr_assert_not_null(f, "%s", path);
	cr_assert_eq(fwrite(b, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
}

static void
make_store(const char *dir, const char *args)
{
	char *cmd;

	cr_assert(asprintf(&cmd, "rm -rf '%s' && '%s/custody-mkstore' '%s' %s "
	    "> /dev/null", dir, env_dir("CUSTODY_BUILD_DIR"), dir, args) >= 0);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	free(cmd);
}

static void
load_store(struct store *st, const char *dir)
{
	char **paths, *p, *qd;
	struct dirent **ents;
	cst_frame f;
	size_t n, i, off;
	int k;

	memset(st, 0, sizeof(*st));
	st->dir = strdup(dir);
	paths = segment_paths(dir, &n);
	cr_assert(n > 0 && n <= 8);
	for (i = 0; i < n; i++) {
		struct seg *s = &st->s[i];

		s->path = strdup(paths[i]);
		s->b = slurp(s->path, &s->len);
		for (off = CST_SEG_HDR_LEN; off < s->len; off += f.frame_len) {
			cr_assert_eq(cst_frame_parse(s->b + off, s->len - off,
			    &f), 0);
			cr_assert_lt(s->nfr, 512);
			s->fr[s->nfr].off = off;
			s->fr[s->nfr].len = f.frame_len;
			s->fr[s->nfr].cert_len = f.hdr.cert_len;
			s->fr[s->nfr].block_no = f.hdr.block_no;
			s->fr[s->nfr].seal = f.hdr.type == CST_BLOCK_SEAL;
			s->nfr++;
		}
	}
	st->ns = n;
	free_paths(paths, n);
	p = path2(dir, "keys/root.pub");
	cr_assert_eq(cst_root_pub_load(p, &st->root), 0);
	free(p);
	st->ckp = path2(dir, "checkpoints/latest.ckpt");
	st->cb = slurp(st->ckp, &st->clen);
	qd = path2(dir, "quarantine");
	k = scandir(qd, &ents, is_vector, alphasort);
	cr_assert_eq(k, 1, "one quarantine file expected in %s", qd);
	st->quar = path2(qd, ents[0]->d_name);
	free(ents[0]);
	free(ents);
	free(qd);
	st->qb = slurp(st->quar, &st->qlen);
}

/* Puts every file of the store back as it was. */
static void
restore(const struct store *st)
{
	char **paths;
	size_t n, i, k;
	int known;

	paths = segment_paths(st->dir, &n);
	for (i = 0; i < n; i++) {
		known = 0;
		for (k = 0; k < st->ns; k++)
			known |= strcmp(paths[i], st->s[k].path) == 0;
		if (!known)
			cr_assert_eq(unlink(paths[i]), 0);
	}
	free_paths(paths, n);
	for (k = 0; k < st->ns; k++)
		spit(st->s[k].path, st->s[k].b, st->s[k].len);
	spit(st->ckp, st->cb, st->clen);
	spit(st->quar, st->qb, st->qlen);
}

static void
free_store(struct store *st)
{
	size_t i;

	for (i = 0; i < st->ns; i++) {
		free(st->s[i].path);
		free(st->s[i].b);
	}
	free(st->dir);
	free(st->ckp);
	free(st->cb);
	free(st->quar);
	free(st->qb);
}

/* Writes a copy of segment s's bytes with [from, to) replaced by ins. */
static void
write_spliced(const struct seg *s, size_t from, size_t to, const uint8_t *ins,
    size_t inslen)
{
	uint8_t *b = malloc(s->len - (to - from) + inslen + 1);

	cr_assert_not_null(b);
	memcpy(b, s->b, from);
	if (inslen > 0)
		memcpy(b + from, ins, inslen);
	memcpy(b + from + inslen, s->b + to, s->len - to);
	spit(s->path, b, s->len - (to - from) + inslen);
	free(b);
}

static void
flip_file(const char *path, const uint8_t *b, size_t len, size_t at,
    unsigned bit)
{
	uint8_t *c = malloc(len);

	cr_assert_not_null(c);
	memcpy(c, b, len);
	c[at] ^= (uint8_t)(1u << bit);
	spit(path, c, len);
	free(c);
}

/* Where a mutation must be reported. */
struct where {
	const char *file[2];
	uint64_t off[2];
	uint64_t segno;      /* a finding on this segment number will do */
	const char *rule;    /* a failure citing this rule will do */
	int end_of_chain;    /* R-CKP-2 will do: the checkpoint catches it */
};

static const char *
base(const char *p)
{
	const char *s = p != NULL ? strrchr(p, '/') : NULL;

	return (s != NULL ? s + 1 : p);
}

static int
located(const struct flist *l, const struct where *w)
{
	const cst_finding *f;
	size_t i, k;

	for (i = 0; i < l->n; i++) {
		f = &l->v[i];
		for (k = 0; k < 2; k++)
			if (w->file[k] != NULL && f->file != NULL &&
			    strcmp(base(f->file), base(w->file[k])) == 0 &&
			    f->offset == w->off[k])
				return (1);
		if (w->segno != CST_NONE && f->segment_no == w->segno &&
		    f->severity == CST_SEV_FAILURE)
			return (1);
		if (w->rule != NULL && f->severity == CST_SEV_FAILURE &&
		    strcmp(f->rule, w->rule) == 0)
			return (1);
		if (w->end_of_chain && strcmp(f->rule, "R-CKP-2") == 0)
			return (1);
	}
	return (0);
}

enum mclass {
	M_HDR_FLIP, M_PAYLOAD_FLIP, M_SIG_FLIP, M_CERT_FLIP, M_SEGHDR_FLIP,
	M_TRUNC_MID, M_TRUNC_BOUNDARY, M_DEL_BLOCK, M_DUP_BLOCK, M_SWAP_BLOCKS,
	M_SWAP_ACROSS, M_DEL_SEG, M_DUP_SEG, M_REORDER_SEGS, M_FOREIGN_SEG,
	M_REPLAY_SEG, M_KEY_SUBST, M_QUAR_FLIP, M_CKP_FLIP, M_NCLASSES
};

static const char *mnames[M_NCLASSES] = { "header flip", "payload flip",
    "signature flip", "certificate flip", "segment header flip",
    "truncation mid-block", "truncation at a block boundary",
    "block deleted", "block duplicated", "blocks swapped",
    "blocks swapped across segments", "segment deleted",
    "segment duplicated", "segments reordered", "foreign segment",
    "old segment replayed", "root key substituted", "quarantine flip",
    "checkpoint flip" };

/* Rewrites a segment header's segment_no, recomputing its check. */
static void
renumber(const struct seg *s, uint64_t no)
{
	uint8_t *b = malloc(s->len);
	cst_seg_hdr h;

	cr_assert_not_null(b);
	memcpy(b, s->b, s->len);
	cr_assert_eq(cst_seg_hdr_decode(b, s->len, &h), 0);
	h.segment_no = no;
	cst_seg_hdr_encode(&h, b);
	spit(s->path, b, s->len);
	free(b);
}

/*
 * Applies mutation class c with random choices from x to st (other is a
 * store of another chain); fills w and sets *root to the key to verify
 * with.  Returns 0, or -1 when the store offers no place for it.
 */
static int
mutate(const struct store *st, const struct store *other, int c, uint64_t *x,
    struct where *w, cst_root_pub *root)
{
	size_t si = (size_t)below(x, st->ns), fi, k;
	const struct seg *s = &st->s[si];
	const struct frame *fr;
	int newest = si + 1 == st->ns;
	char *p;

	memset(w, 0, sizeof(*w));
	w->segno = CST_NONE;
	*root = st->root;
	fi = (size_t)below(x, s->nfr);
	fr = &s->fr[fi];
	w->file[0] = s->path;
	w->off[0] = fr->off;
	switch (c) {
	case M_HDR_FLIP:
		flip_file(s->path, s->b, s->len, fr->off +
		    (size_t)below(x, CST_BLK_HDR_LEN), (unsigned)below(x, 8));
		break;
	case M_PAYLOAD_FLIP:
		k = fr->len - CST_BLK_HDR_LEN - fr->cert_len - CST_SIG_LEN;
		flip_file(s->path, s->b, s->len, fr->off + CST_BLK_HDR_LEN +
		    fr->cert_len + (size_t)below(x, k), (unsigned)below(x, 8));
		break;
	case M_SIG_FLIP:
		flip_file(s->path, s->b, s->len, fr->off + fr->len -
		    CST_SIG_LEN + (size_t)below(x, CST_SIG_LEN),
		    (unsigned)below(x, 8));
		break;
	case M_CERT_FLIP:
		for (k = 0; k < 64 && fr->cert_len == 0; k++) {
			si = (size_t)below(x, st->ns);
			s = &st->s[si];
			fr = &s->fr[below(x, s->nfr)];
		}
		if (fr->cert_len == 0)
			return (-1);
		w->file[0] = s->path;
		w->off[0] = fr->off;
		flip_file(s->path, s->b, s->len, fr->off + CST_BLK_HDR_LEN +
		    (size_t)below(x, CST_CERT_LEN), (unsigned)below(x, 8));
		break;
	case M_SEGHDR_FLIP:
		w->off[0] = 0;
		flip_file(s->path, s->b, s->len, (size_t)below(x,
		    CST_SEG_HDR_LEN), (unsigned)below(x, 8));
		break;
	case M_TRUNC_MID:
		w->end_of_chain = newest;
		write_spliced(s, fr->off + 1 + (size_t)below(x, fr->len - 1),
		    s->len, NULL, 0);
		break;
	case M_TRUNC_BOUNDARY:
		w->end_of_chain = newest;
		write_spliced(s, fr->off, s->len, NULL, 0);
		break;
	case M_DEL_BLOCK:
		w->end_of_chain = newest && fi + 1 == s->nfr;
		write_spliced(s, fr->off, fr->off + fr->len, NULL, 0);
		break;
	case M_DUP_BLOCK:
		w->off[0] = fr->off + fr->len;
		write_spliced(s, fr->off + fr->len, fr->off + fr->len,
		    s->b + fr->off, fr->len);
		break;
	case M_SWAP_BLOCKS: {
		const struct frame *nx;
		uint8_t *b;

		if (fi + 1 >= s->nfr)
			fi = s->nfr - 2;
		fr = &s->fr[fi];
		nx = &s->fr[fi + 1];
		w->off[0] = fr->off;
		b = malloc(fr->len + nx->len);
		cr_assert_not_null(b);
		memcpy(b, s->b + nx->off, nx->len);
		memcpy(b + nx->len, s->b + fr->off, fr->len);
		write_spliced(s, fr->off, nx->off + nx->len, b,
		    fr->len + nx->len);
		free(b);
		break;
	}
	case M_SWAP_ACROSS: {
		size_t sj = (si + 1 + (size_t)below(x, st->ns - 1)) % st->ns;
		const struct seg *t = &st->s[sj];
		const struct frame *g = &t->fr[below(x, t->nfr)];

		w->file[1] = t->path;
		w->off[1] = g->off;
		write_spliced(s, fr->off, fr->off + fr->len, t->b + g->off,
		    g->len);
		write_spliced(t, g->off, g->off + g->len, s->b + fr->off,
		    fr->len);
		break;
	}
	case M_DEL_SEG:
		w->file[0] = NULL;
		w->segno = si;
		w->end_of_chain = newest;
		cr_assert_eq(unlink(s->path), 0);
		break;
	case M_DUP_SEG:
		cr_assert(asprintf(&p, "%s/segments/seg-%010zu.cst", st->dir,
		    st->ns + 3) >= 0);
		spit(p, s->b, s->len);
		free(p);
		w->file[0] = NULL;
		w->rule = "R-SEG-2";
		break;
	case M_REORDER_SEGS: {
		size_t sj = (si + 1 + (size_t)below(x, st->ns - 1)) % st->ns;

		renumber(s, sj);
		renumber(&st->s[sj], si);
		w->off[0] = 0;
		w->file[1] = st->s[sj].path;
		w->off[1] = 0;
		break;
	}
	case M_FOREIGN_SEG:
		if (si >= other->ns)
			si = other->ns - 1;
		s = &st->s[si];
		spit(s->path, other->s[si].b, other->s[si].len);
		w->file[0] = s->path;
		w->off[0] = 0;
		break;
	case M_REPLAY_SEG:
		if (si == 0)
			si = 1;
		s = &st->s[si];
		k = (size_t)below(x, si);
		spit(s->path, st->s[k].b, st->s[k].len);
		w->file[0] = s->path;
		w->off[0] = 0;
		break;
	case M_KEY_SUBST:
		/* The right chain id with another key; or another chain's. */
		if (below(x, 2) == 0) {
			memcpy(root->pk, other->root.pk, CST_PK_LEN);
			w->file[0] = st->s[0].path;
			w->off[0] = st->s[0].fr[0].off;
		} else {
			*root = other->root;
			w->rule = "R-SEG-3";
			w->file[0] = NULL;
		}
		break;
	case M_QUAR_FLIP:
		flip_file(st->quar, st->qb, st->qlen, (size_t)below(x,
		    st->qlen), (unsigned)below(x, 8));
		w->file[0] = NULL;
		w->rule = "R-REC-4";
		break;
	case M_CKP_FLIP:
		flip_file(st->ckp, st->cb, st->clen, (size_t)below(x,
		    st->clen), (unsigned)below(x, 8));
		w->file[0] = NULL;
		w->rule = "R-CKP-1";
		break;
	}
	return (0);
}

Test(verify, tamper_matrix, .timeout = 600)
{
	struct store st, other;
	struct where w;
	struct flist l = { NULL, 0 };
	cst_root_pub root;
	char *dir, *odir;
	uint64_t x = MATRIX_SEED, detected[M_NCLASSES], located_n[M_NCLASSES];
	uint64_t tried[M_NCLASSES], total = 0, det = 0, loc = 0;
	char **ckp;
	int c, i;

	fprintf(stderr, "tamper matrix: seed 0x%016" PRIx64 ", %d mutations "
	    "per class\n", MATRIX_SEED, MATRIX_PER_CLASS);
	cr_assert(asprintf(&dir, "/tmp/custody-tamper-%d", (int)getpid()) >= 0);
	cr_assert(asprintf(&odir, "%s-other", dir) >= 0);
	make_store(dir, "--events 1500 --segments 4 --epochs 3 "
	    "--block-records 48 --recovery --loss --checkpoint-every 100000 "
	    "--seed 31");
	make_store(odir, "--events 1500 --segments 4 --block-records 48 "
	    "--recovery --checkpoint-every 100000 --seed 32");
	load_store(&st, dir);
	load_store(&other, odir);
	ckp = &st.ckp;

	/* The untouched store passes, with its checkpoint. */
	cr_assert_eq(verify_store(dir, &st.root, ckp, 1, 0, &l), 0);
	for (size_t k = 0; k < l.n; k++)
		cr_assert(l.v[k].severity == CST_SEV_NOTE, "untouched store: "
		    "%s %s", l.v[k].rule, l.v[k].detail);
	flist_free(&l);

	memset(tried, 0, sizeof(tried));
	memset(detected, 0, sizeof(detected));
	memset(located_n, 0, sizeof(located_n));
	for (c = 0; c < M_NCLASSES; c++) {
		for (i = 0; i < MATRIX_PER_CLASS; i++) {
			if (mutate(&st, &other, c, &x, &w, &root) != 0) {
				restore(&st);
				continue;
			}
			tried[c]++;
			if (verify_store(dir, &root, ckp, 1, 0, &l) > 0)
				detected[c]++;
			else
				cr_expect_fail("%s #%d not detected", mnames[c],
				    i);
			if (located(&l, &w))
				located_n[c]++;
			else
				cr_expect_fail("%s #%d not located: first "
				    "finding %s %s @%" PRIu64 ": %s", mnames[c],
				    i, l.n > 0 ? l.v[0].rule : "-",
				    l.n > 0 && l.v[0].file != NULL ?
				    base(l.v[0].file) : "-",
				    l.n > 0 ? l.v[0].offset : 0,
				    l.n > 0 ? l.v[0].detail : "");
			flist_free(&l);
			restore(&st);
		}
		fprintf(stderr, "  %-32s %4" PRIu64 " tried %4" PRIu64
		    " detected %4" PRIu64 " located\n", mnames[c], tried[c],
		    detected[c], located_n[c]);
		total += tried[c];
		det += detected[c];
		loc += located_n[c];
	}
	fprintf(stderr, "tamper matrix: %" PRIu64 " mutations, %" PRIu64
	    " detected, %" PRIu64 " located\n", total, det, loc);
	cr_expect_geq(total, 2000);

	/* And the store is intact again. */
	cr_assert_eq(verify_store(dir, &st.root, ckp, 1, 2, &l), 0);
	flist_free(&l);
	free_store(&st);
	free_store(&other);
	free(odir);
	cr_assert(asprintf(&odir, "rm -rf '%s' '%s-other'", dir, dir) >= 0);
	cr_assert_eq(system(odir), 0);
	free(odir);
	free(dir);
}

/* A live store: the partial frame at the end is a note, nothing more. */
Test(verify, live_tail)
{
	struct flist l = { NULL, 0 };
	cst_verify_opts o;
	cst_verifier *v;
	cst_root_pub root;
	char *dir, *p, **segs;
	size_t n, i;

	cr_assert(asprintf(&dir, "/tmp/custody-live-%d", (int)getpid()) >= 0);
	make_store(dir, "--events 500 --segments 2 --unsealed "
	    "--partial-tail 250 --seed 33");
	p = path2(dir, "keys/root.pub");
	cr_assert_eq(cst_root_pub_load(p, &root), 0);
	free(p);
	memset(&o, 0, sizeof(o));
	o.live = 1;
	o.threads = 2;
	segs = segment_paths(dir, &n);
	v = cst_verifier_new(&root, &o, collect, &l);
	cr_assert_eq(cst_verifier_run(v, (const char *const *)segs, n), 0);
	cr_expect_eq(cst_verifier_summary(v)->failures, 0);
	cr_expect_eq(cst_verifier_summary(v)->warnings, 0);
	cr_expect_eq(cst_verifier_summary(v)->tail_partial, 250);
	cr_expect(cst_verifier_summary(v)->tail_unsealed);
	for (i = 0; i < l.n; i++)
		cr_expect_eq(l.v[i].severity, CST_SEV_NOTE);
	cst_verifier_free(v);
	flist_free(&l);
	free_paths(segs, n);
	cr_assert(asprintf(&p, "rm -rf '%s'", dir) >= 0);
	cr_assert_eq(system(p), 0);
	free(p);
	free(dir);
}

/* Checkpoint outcomes and the anchor they give (R-CKP-2, R-CKP-3). */
Test(verify, checkpoint_anchor)
{
	const char *src = env_dir("CUSTODY_SOURCE_DIR");
	char *dir = path2(src, "tests/vectors/good_checkpoint"), *p, **segs;
	struct flist l = { NULL, 0 };
	const cst_verify_summary *s;
	const cst_ckp_info *ci;
	cst_verifier *v;
	cst_root_pub root;
	size_t n, nsegs;

	p = path2(dir, "keys/root.pub");
	cr_assert_eq(cst_root_pub_load(p, &root), 0);
	free(p);
	segs = segment_paths(dir, &nsegs);
	n = nsegs;
	v = cst_verifier_new(&root, NULL, collect, &l);
	p = path2(dir, "checkpoints/ckpt-000004.ckpt");
	cr_assert_eq(cst_verifier_check_checkpoint_file(v, p, NULL),
	    CST_EINVAL);
	cr_assert_eq(cst_verifier_run(v, (const char *const *)segs, n), 0);
	cr_assert_eq(cst_verifier_run(v, (const char *const *)segs, n),
	    CST_EINVAL);
	cr_assert_eq(cst_verifier_check_checkpoint_file(v, p, NULL), 0);
	free(p);
	s = cst_verifier_summary(v);
	cr_assert(s->has_anchor);
	cr_assert_eq(s->anchor_blocks, 4);
	p = path2(dir, "checkpoints/latest.ckpt");
	cr_assert_eq(cst_verifier_check_checkpoint_file(v, p, NULL), 0);
	free(p);
	cr_assert_eq(s->anchor_blocks, s->head_block_no + 1);
	cr_assert_eq(s->anchor_records, s->head_next_seq);
	ci = cst_verifier_checkpoints(v, &n);
	cr_assert_eq(n, 2);
	cr_assert(ci[0].ok && ci[1].ok);
	cr_assert_eq(s->failures, 0);
	/* A file that is not a checkpoint: R-CKP-1. */
	p = path2(dir, "keys/root.pub");
	cr_assert_eq(cst_verifier_check_checkpoint_file(v, p, NULL), 0);
	free(p);
	cr_assert_eq(s->failures, 1);
	cr_assert(cites(&l, "R-CKP-1"));
	cst_verifier_free(v);
	flist_free(&l);
	free_paths(segs, nsegs);
	free(dir);
}

/*
 * The report's file digests: SHA-256 (FIPS 180-4 example "abc") and
 * BLAKE2b-256, the same from memory and from a file, on a file long
 * enough to cross the slices the two hashes are fed in.
 */
Test(verify, file_digests)
{
	static const uint8_t sha_abc[32] = {
		0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41,
		0x40, 0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3,
		0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00,
		0x15, 0xad,
	};
	static const uint8_t b2_abc[32] = {
		0xbd, 0xdd, 0x81, 0x3c, 0x63, 0x42, 0x39, 0x72, 0x31, 0x71,
		0xef, 0x3f, 0xee, 0x98, 0x57, 0x9b, 0x94, 0x96, 0x4e, 0x3b,
		0xb1, 0xcb, 0x3e, 0x42, 0x72, 0x62, 0xc8, 0xc0, 0x68, 0xd5,
		0x23, 0x19,
	};
	char path[] = "/tmp/custody-test-digests-XXXXXX";
	cst_digests a, b;
	uint8_t *big;
	size_t i, len = (3u << 20) + 12345;
	uint64_t size;
	FILE *fp;
	int fd;

	cr_assert_eq(cst_digests_compute((const uint8_t *)"abc", 3, &a), 0);
	cr_assert_arr_eq(a.sha256, sha_abc, 32);
	cr_assert_arr_eq(a.blake2b, b2_abc, 32);

	cr_assert_not_null(big = malloc(len));
	for (i = 0; i < len; i++)
		big[i] = (uint8_t)(i * 2654435761u >> 13);
	cr_assert_neq(fd = mkstemp(path), -1);
	cr_assert_not_null(fp = fdopen(fd, "w"));
	cr_assert_eq(fwrite(big, 1, len, fp), len);
	cr_assert_eq(fclose(fp), 0);
	cr_assert_eq(cst_digests_compute(big, len, &a), 0);
	cr_assert_eq(cst_digests_file(path, &b, &size), 0);
	cr_assert_eq(size, len);
	cr_assert_arr_eq(a.sha256, b.sha256, 32);
	cr_assert_arr_eq(a.blake2b, b.blake2b, 32);
	/* One byte changed changes both. */
	big[len / 2] ^= 1;
	cr_assert_eq(cst_digests_compute(big, len, &b), 0);
	cr_assert_arr_neq(a.sha256, b.sha256, 32);
	cr_assert_arr_neq(a.blake2b, b.blake2b, 32);
	cr_assert_eq(unlink(path), 0);
	cr_assert_eq(cst_digests_file(path, &b, &size), CST_ENOENT);
	free(big);
}
