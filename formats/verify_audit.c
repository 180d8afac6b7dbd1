/*
 * Collector audit records (SPEC section 7): recovery records and their
 * quarantine files (R-REC-4, R-REC-5), loss records, and quarantine files
 * no record explains.
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "custody/error.h"
#include "custody/hash.h"
#include "custody/record.h"
#include "verify_int.h"

/* Keeps a copy of s[0..len) as a C string in *out. */
static int
dup_bytes(const cst_bytes *b, char **out)
{
	char *s;
	size_t i;

	if ((s = malloc(b->len + 1)) == NULL)
		return (CST_ENOMEM);
	/* A report prints it: no control bytes or NULs survive. */
	for (i = 0; i < b->len; i++)
		s[i] = (b->p[i] < 0x20 || b->p[i] == 0x7f) ? '?' :
		    (char)b->p[i];
	s[b->len] = '\0';
	*out = s;
	return (0);
}

int
cst_vrf_keep_strs(char ***arr, size_t n, char *a, char *b)
{
	char **na;

	if ((na = realloc(*arr, (2 * n + 2) * sizeof(*na))) == NULL)
		return (CST_ENOMEM);
	na[2 * n] = a;
	na[2 * n + 1] = b;
	*arr = na;
	return (0);
}

/* A quarantine name must be one plain file name (R-REC-4). */
static int
plain_name(const char *s)
{

	return (s[0] != '\0' && strchr(s, '/') == NULL &&
	    strcmp(s, ".") != 0 && strcmp(s, "..") != 0);
}

/* Checks the quarantine file a recovery record names (R-REC-4). */
static int
quarantine_check(cst_verifier *v, const cst_recovery_info *r,
    const uint8_t want[32], int want_ok, char **why)
{
	cst_digests d;
	uint64_t size;
	char *path;
	int rc;

	*why = NULL;
	if (r->cut_len == 0 && r->quarantine[0] == '\0')
		return (CST_QUAR_NONE);
	if (!plain_name(r->quarantine)) {
		*why = fmt("the recovery record names no plain file in "
		    "quarantine/ (\"%s\")", r->quarantine);
		return (CST_QUAR_BADNAME);
	}
	if (v->quarantine_dir == NULL)
		return (CST_QUAR_ABSENT);
	if (asprintf(&path, "%s/%s", v->quarantine_dir, r->quarantine) < 0) {
		v->rc = CST_ENOMEM;
		return (CST_QUAR_ABSENT);
	}
	rc = cst_digests_file(path, &d, &size);
	free(path);
	if (rc == CST_ENOENT)
		return (CST_QUAR_ABSENT);
	if (rc == CST_ENOMEM)
		v->rc = rc;
	if (rc != 0) {
		*why = fmt("quarantine/%s cannot be read", r->quarantine);
		return (CST_QUAR_MISMATCH);
	}
	if (size != r->cut_len) {
		*why = fmt("quarantine/%s holds %" PRIu64 " bytes; the "
		    "recovery record says %" PRIu64 " were cut",
		    r->quarantine, size, r->cut_len);
		return (CST_QUAR_MISMATCH);
	}
	if (!want_ok || sodium_memcmp(d.sha256, want, 32) != 0) {
		*why = fmt("quarantine/%s does not have the SHA-256 the "
		    "recovery record states (%s)", r->quarantine,
		    r->cut_sha256);
		return (CST_QUAR_MISMATCH);
	}
	return (CST_QUAR_OK);
}

/* A recovery record (kind 3) in the block of item it (R-REC-4, R-REC-5). */
static void
audit_recovery(cst_verifier *v, const struct item *it, const struct audit *a,
    size_t index)
{
	const struct vfile *vf = &v->files[it->file];
	cst_recovery_info r, *nr;
	cst_bytes q = { NULL, 0 }, h = { NULL, 0 };
	uint8_t want[32];
	char *qs = NULL, *hs = NULL, *why = NULL;
	struct fnd f;
	int want_ok;

	v->sum.recoveries++;
	memset(&r, 0, sizeof(r));
	r.seq = a->seq;
	r.recv_ns = a->recv_ns;
	r.segment_no = r.valid_len = r.cut_len = CST_NONE;
	r.last_block_no = -1;
	/* Every key is optional: absent or mistyped, it stays unknown. */
	(void)cst_detail_get_u64(a->detail, a->detail_len, "segment_no",
	    &r.segment_no);
	(void)cst_detail_get_u64(a->detail, a->detail_len, "valid_len",
	    &r.valid_len);
	if (cst_detail_get_u64(a->detail, a->detail_len, "cut_len",
	    &r.cut_len) != 0)
		r.cut_len = 0;
	(void)cst_detail_get_i64(a->detail, a->detail_len, "last_block_no",
	    &r.last_block_no);
	(void)cst_detail_get_str(a->detail, a->detail_len, "quarantine", &q);
	(void)cst_detail_get_str(a->detail, a->detail_len, "cut_sha256", &h);
	if (dup_bytes(&q, &qs) != 0 || dup_bytes(&h, &hs) != 0) {
		v->rc = CST_ENOMEM;
		goto done;
	}
	r.quarantine = qs;
	r.cut_sha256 = hs;
	want_ok = cst_unhex(hs, strlen(hs), want, sizeof(want)) == 0;

	r.state = quarantine_check(v, &r, want, want_ok, &why);
	fnd_init(&f, CST_SEV_FAILURE, CST_EHASH, "R-REC-4");
	fnd_file(&f, vf, it->off);
	fnd_block(&f, &it->f.hdr);
	f.s0 = f.s1 = a->seq;
	if (r.cut_len > 0 && (q.p == NULL || h.p == NULL)) {
		/* Bytes were cut: the record must say where and what. */
		r.state = CST_QUAR_BADNAME;
		f.code = CST_ECORRUPT;
		report(v, &f, "recovery record (seq %" PRIu64 ") says %" PRIu64
		    " bytes were cut but lacks its %s key", a->seq, r.cut_len,
		    q.p == NULL ? "quarantine" : "cut_sha256");
	} else if (r.state == CST_QUAR_MISMATCH ||
	    r.state == CST_QUAR_BADNAME) {
		report(v, &f, "recovery record (seq %" PRIu64 "): %s", a->seq,
		    why != NULL ? why : "quarantine file differs");
	} else if (r.state == CST_QUAR_ABSENT) {
		f.sev = CST_SEV_NOTE;
		f.code = CST_ENOENT;
		report(v, &f, "recovery record (seq %" PRIu64 ") says %" PRIu64
		    " bytes were cut to quarantine/%s; that file is not "
		    "present, so what was cut is not checked", a->seq,
		    r.cut_len, qs);
	}
	if (r.state != CST_QUAR_NONE && r.segment_no != CST_NONE) {
		size_t i;

		for (i = 0; i < v->nsegs; i++)
			if (v->segs[i].status != CST_SEG_MISSING &&
			    v->segs[i].segment_no == r.segment_no &&
			    v->segs[i].quarantine != CST_QUAR_MISMATCH &&
			    v->segs[i].quarantine != CST_QUAR_BADNAME)
				v->segs[i].quarantine = r.state;
	}

	/*
	 * R-REC-5, R-REC-6: the recovery record is the first record after
	 * the restart, appended where the cut was made.  A writer that
	 * differs is suspicious but not proven to have lost anything.
	 */
	fnd_init(&f, CST_SEV_WARNING, CST_ECHAIN, "R-REC-5");
	fnd_file(&f, vf, it->off);
	fnd_block(&f, &it->f.hdr);
	f.s0 = f.s1 = a->seq;
	if (index != 0 || (r.segment_no != CST_NONE &&
	    (r.segment_no != vf->segno || r.valid_len != it->off)))
		report(v, &f, "recovery record (seq %" PRIu64 ") says the "
		    "cut was in segment %" PRIu64 " at offset %" PRIu64
		    "; it is record %zu of the block at offset %" PRIu64
		    " of segment %" PRIu64, a->seq, r.segment_no, r.valid_len,
		    index, it->off, vf->segno);
	else if (r.last_block_no != (int64_t)it->f.hdr.block_no - 1)
		report(v, &f, "recovery record (seq %" PRIu64 ") names block "
		    "%" PRId64 " as the last kept, but the chain resumes at "
		    "block %" PRIu64, a->seq, r.last_block_no,
		    it->f.hdr.block_no);

	if (v->nrecs < CST_VERIFY_LIST_MAX) {
		if ((nr = realloc(v->recs, (v->nrecs + 1) * sizeof(*nr))) ==
		    NULL || cst_vrf_keep_strs(&v->recs_strs, v->nrecs, qs,
		    hs) != 0) {
			if (nr != NULL)
				v->recs = nr;
			v->rc = CST_ENOMEM;
			goto done;
		}
		v->recs = nr;
		v->recs[v->nrecs++] = r;
		qs = hs = NULL;
	}
done:
	free(why);
	free(qs);
	free(hs);
}

static void
audit_loss(cst_verifier *v, const struct audit *a)
{
	cst_loss_info l, *nl;
	cst_bytes lis = { NULL, 0 };
	char *ls = NULL;

	v->sum.losses++;
	memset(&l, 0, sizeof(l));
	l.seq = a->seq;
	l.recv_ns = a->recv_ns;
	(void)cst_detail_get_u64(a->detail, a->detail_len, "udp_dropped",
	    &l.udp_dropped);
	(void)cst_detail_get_u64(a->detail, a->detail_len, "kernel_dropped",
	    &l.kernel_dropped);
	(void)cst_detail_get_u64(a->detail, a->detail_len, "oversize",
	    &l.oversize);
	(void)cst_detail_get_str(a->detail, a->detail_len, "listener", &lis);
	/* Saturating: a hostile record must not wrap the totals. */
	v->sum.udp_dropped += l.udp_dropped > UINT64_MAX - v->sum.udp_dropped ?
	    UINT64_MAX - v->sum.udp_dropped : l.udp_dropped;
	v->sum.kernel_dropped += l.kernel_dropped > UINT64_MAX -
	    v->sum.kernel_dropped ? UINT64_MAX - v->sum.kernel_dropped :
	    l.kernel_dropped;
	v->sum.oversize += l.oversize > UINT64_MAX - v->sum.oversize ?
	    UINT64_MAX - v->sum.oversize : l.oversize;
	if (v->nlosses >= CST_VERIFY_LIST_MAX)
		return;
	if (dup_bytes(&lis, &ls) != 0)
		goto nomem;
	l.listener = ls;
	if ((nl = realloc(v->losses, (v->nlosses + 1) * sizeof(*nl))) == NULL)
		goto nomem;
	v->losses = nl;
	if (cst_vrf_keep_strs(&v->loss_strs, v->nlosses, ls, NULL) != 0)
		goto nomem;
	v->losses[v->nlosses++] = l;
	return;

nomem:
	free(ls);
	v->rc = CST_ENOMEM;
}

/* Keeps audit record a of item it, taking its detail (opts.keep_audits). */
static void
audit_keep(cst_verifier *v, const struct item *it, struct audit *a)
{
	const struct vfile *vf = &v->files[it->file];
	cst_audit_info *na, *x;

	v->audits_total++;
	if (v->naudits >= CST_VERIFY_LIST_MAX)
		return;
	if ((na = realloc(v->audits, (v->naudits + 1) * sizeof(*na))) ==
	    NULL) {
		v->rc = CST_ENOMEM;
		return;
	}
	v->audits = na;
	x = &na[v->naudits++];
	x->kind = a->kind;
	x->seq = a->seq;
	x->recv_ns = a->recv_ns;
	x->block_no = it->f.hdr.block_no;
	x->segment_no = vf->segno;
	x->file = vf->path;
	x->offset = it->off;
	x->detail = a->detail;
	x->detail_len = a->detail_len;
	a->detail = NULL;
}

void
cst_vrf_consume_audits(cst_verifier *v, struct item *it)
{
	size_t i;

	for (i = 0; i < it->naudits; i++) {
		if (it->audits[i].kind == CST_REC_RECOVERY)
			audit_recovery(v, it, &it->audits[i], i);
		else if (it->audits[i].kind == CST_REC_LOSS)
			audit_loss(v, &it->audits[i]);
		if (v->opts.keep_audits)
			audit_keep(v, it, &it->audits[i]);
	}
}

/* Quarantine files no recovery record explains. */
void
cst_vrf_report_quarantine(cst_verifier *v)
{
	struct dirent *e;
	struct fnd f;
	DIR *d;
	size_t i;
	int known;

	if (v->quarantine_dir == NULL ||
	    (d = opendir(v->quarantine_dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		known = 0;
		for (i = 0; i < v->nrecs && !known; i++)
			known = strcmp(v->recs[i].quarantine, e->d_name) == 0;
		if (known || v->sum.recoveries > v->nrecs)
			continue;
		fnd_init(&f, CST_SEV_WARNING, CST_ENOENT, "R-REC-5");
		f.path = v->quarantine_dir;
		report(v, &f, "quarantine/%s is not named by any recovery "
		    "record in the chain: a crash recovery that was not "
		    "recorded, or a file put there by hand", e->d_name);
	}
	closedir(d);
}
