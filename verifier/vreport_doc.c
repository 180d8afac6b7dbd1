/*
 * The examiner's report as a document (vdoc.h): what the PDF, the HTML
 * and the plain text forms say, built once from a verification.
 *
 * Every sentence is derived from the run: the verdict names the first
 * failure where there is one, the statements are vreport_statements'
 * (their SPEC rule ids moved to the appendix), and the timeline is the
 * collector's own records as the verifier found them in authentic blocks.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "custody/format.h"
#include "custody/hash.h"
#include "custody/keys.h"
#include "custody/record.h"
#include "custody/verify.h"
#include "custody_version.h"
#include "vdoc.h"
#include "vreport.h"
#include "vreport_doc.h"
#include "vreport_int.h"

/* Rows of the long tables shown before the rest is only counted. */
#define ROWS_MAX 500
/* Configurations longer than this (lines) are not diffed. */
#define DIFF_LINES_MAX 1500

static const char *
or_none(const char *s)
{

	return (s != NULL ? s : "(not given)");
}

/* "2024-03-01 12:00:05 UTC" */
static void
utc_time(int64_t ns, char out[40])
{
	struct tm tm;
	time_t t;

	t = (time_t)(ns >= 0 ? ns / 1000000000 : (ns - 999999999) /
	    1000000000);
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, 40, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(out, 40, "@%" PRId64 " ns", ns);
}

/* A duration in words: "4 s", "2 min 5 s", "3 h 2 min", "5 d 1 h". */
static void
span(int64_t ns, char out[40])
{
	int64_t s = ns / 1000000000;
	const char *sign = "";

	if (s < 0) {
		sign = "-";
		s = -s;
	}
	if (s < 60)
		snprintf(out, 40, "%s%" PRId64 " s", sign, s);
	else if (s < 3600)
		snprintf(out, 40, "%s%" PRId64 " min %" PRId64 " s", sign,
		    s / 60, s % 60);
	else if (s < 86400)
		snprintf(out, 40, "%s%" PRId64 " h %" PRId64 " min", sign,
		    s / 3600, s % 3600 / 60);
	else
		snprintf(out, 40, "%s%" PRId64 " d %" PRId64 " h", sign,
		    s / 86400, s % 86400 / 3600);
}

/* Statements: the text without its "(SPEC ...)" and the rules cited. */
struct stmt {
	int proven;
	char *text;
	char *rules;
};

struct stmts {
	struct stmt *v;
	size_t n;
	int oom;
};

static void
collect_stmt(int proven, const char *text, void *ctx)
{
	struct stmts *ss = ctx;
	struct stmt *nv, st;
	const char *p, *q;

	memset(&st, 0, sizeof(st));
	st.proven = proven;
	if ((p = strstr(text, " (SPEC ")) != NULL &&
	    (q = strchr(p, ')')) != NULL) {
		st.rules = strndup(p + 7, (size_t)(q - p - 7));
		if (asprintf(&st.text, "%.*s%s", (int)(p - text), text,
		    q + 1) < 0)
			st.text = NULL;
	} else {
		st.rules = strdup("-");
		st.text = strdup(text);
	}
	if (st.rules == NULL || st.text == NULL ||
	    (nv = realloc(ss->v, (ss->n + 1) * sizeof(*nv))) == NULL) {
		free(st.rules);
		free(st.text);
		ss->oom = 1;
		return;
	}
	ss->v = nv;
	nv[ss->n++] = st;
}

/* What is proven first, then what is not, each in the order said. */
static void
stmts_order(struct stmts *ss)
{
	struct stmt *v;
	size_t i, k = 0;

	if ((v = malloc(ss->n * sizeof(*v) + 1)) == NULL)
		return;
	for (i = 0; i < ss->n; i++)
		if (ss->v[i].proven)
			v[k++] = ss->v[i];
	for (i = 0; i < ss->n; i++)
		if (!ss->v[i].proven)
			v[k++] = ss->v[i];
	memcpy(ss->v, v, ss->n * sizeof(*v));
	free(v);
}

static void
stmts_free(struct stmts *ss)
{
	size_t i;

	for (i = 0; i < ss->n; i++) {
		free(ss->v[i].text);
		free(ss->v[i].rules);
	}
	free(ss->v);
}

/* Where finding x is, in words: "segment file F (segment 2), ...". */
static void
where_words(const cst_finding *x, char *out, size_t n)
{
	size_t len = 0;

	out[0] = '\0';
#define ADD(...) do {                                                         \
	if (len < n)                                                          \
		len += (size_t)snprintf(out + len, n - len, __VA_ARGS__);     \
} while (0)
	if (x->file != NULL)
		ADD("in the file %s", x->file);
	else
		ADD("in the chain");
	if (x->segment_no != CST_NONE)
		ADD(" (segment %" PRIu64 ")", x->segment_no);
	if (x->offset != CST_NONE)
		ADD(", at byte offset %" PRIu64, x->offset);
	if (x->block_no != CST_NONE) {
		if (x->block_last != x->block_no && x->block_last != CST_NONE)
			ADD(", blocks %" PRIu64 " to %" PRIu64, x->block_no,
			    x->block_last);
		else
			ADD(", block %" PRIu64, x->block_no);
	}
	if (x->seq_first != CST_NONE && x->seq_last != CST_NONE)
		ADD(", records with sequence numbers %" PRIu64 " to %" PRIu64,
		    x->seq_first, x->seq_last);
#undef ADD
}

static void
doc_verdict(const struct vreport *r, struct vdoc *d)
{
	char warn[512], where[1024];
	const cst_finding *first = NULL;
	uint64_t failures = 0;
	size_t i;
	int verdict = vreport_verdict(r);

	for (i = 0; i < r->nfindings; i++)
		if (r->findings[i].severity == CST_SEV_FAILURE) {
			if (first == NULL)
				first = &r->findings[i];
			failures++;
		}
	if (verdict == VREPORT_INTACT && vreport_warning(r, warn,
	    sizeof(warn)))
		vdoc_para(d, VDOC_VERDICT_OK, "The evidence passed "
		    "verification: no check failed. But %s.", warn);
	else if (verdict == VREPORT_INTACT)
		vdoc_para(d, VDOC_VERDICT_OK, "The evidence passed "
		    "verification.");
	/* A pass against a key the evidence itself supplied proves little. */
	if (verdict == VREPORT_INTACT && r->root_from_store &&
	    r->root_fpr_given == NULL)
		vdoc_para(d, VDOC_PLAIN, "But the root key it was checked "
		    "against was read from the evidence itself and its "
		    "fingerprint was not given independently: the result "
		    "holds only once that fingerprint is confirmed from "
		    "another source (see below).");
	else if (verdict == VREPORT_FAILED && first != NULL) {
		where_words(first, where, sizeof(where));
		vdoc_para(d, VDOC_VERDICT_BAD, "The evidence FAILED "
		    "verification: %" PRIu64 " integrity failure%s found. "
		    "The %s %s: %s.", failures, failures == 1 ? " was" :
		    "s were", failures == 1 ? "failure is" : "first is",
		    where, first->detail);
	} else if (verdict == VREPORT_FAILED)
		vdoc_para(d, VDOC_VERDICT_BAD, "The evidence FAILED "
		    "verification: %" PRIu64 " integrity failure(s) were "
		    "found.", cst_verifier_summary(r->v)->failures);
	else
		vdoc_para(d, VDOC_VERDICT_BAD, "The evidence could NOT be "
		    "verified: %s.", r->error != NULL ? r->error :
		    "some inputs could not be read, so what they hold is "
		    "not verified");
}

/* The str value of key in a's detail, copied to out (cut to n). */
static int
dstr(const cst_audit_info *a, const char *key, char *out, size_t n)
{
	cst_bytes b;

	out[0] = '\0';
	if (cst_detail_get_str(a->detail, a->detail_len, key, &b) != 0 ||
	    b.p == NULL)
		return (-1);
	snprintf(out, n, "%.*s", (int)(b.len < n ? b.len : n - 1),
	    (const char *)b.p);
	return (0);
}

/* The uint value of key in a's detail as text, "-" when it has none. */
static const char *
dnum(const cst_audit_info *a, const char *key, char out[24])
{
	uint64_t v;

	if (cst_detail_get_u64(a->detail, a->detail_len, key, &v) != 0)
		return ("-");
	snprintf(out, 24, "%" PRIu64, v);
	return (out);
}

static uint64_t
du64(const cst_audit_info *a, const char *key)
{
	uint64_t v = 0;

	(void)cst_detail_get_u64(a->detail, a->detail_len, key, &v);
	return (v);
}

/* The collector's life as its records tell it. */
struct life {
	size_t starts, stops, recs, unrecorded, reloads, rotations, stats;
	const cst_audit_info *last;  /* the last start, stop or recovery */
};

/*
 * Counts au[0..n): an unclean stop is a recovery record, or a start
 * whose previous start, stop or recovery record is a start.
 */
static void
life_count(const cst_audit_info *au, size_t n, struct life *lc)
{
	size_t i;

	memset(lc, 0, sizeof(*lc));
	for (i = 0; i < n; i++) {
		switch (au[i].kind) {
		case CST_REC_START:
			lc->starts++;
			if (lc->last != NULL && lc->last->kind == CST_REC_START)
				lc->unrecorded++;
			lc->last = &au[i];
			break;
		case CST_REC_STOP:
			lc->stops++;
			lc->last = &au[i];
			break;
		case CST_REC_RECOVERY:
			lc->recs++;
			lc->last = &au[i];
			break;
		case CST_REC_RELOAD:
			lc->reloads++;
			break;
		case CST_REC_KEY_EPOCH:
			/* Epoch 1 is the first key, not a rotation. */
			if (du64(&au[i], "epoch") > 1)
				lc->rotations++;
			break;
		case CST_REC_STATS:
			lc->stats++;
			break;
		}
	}
}

static void
doc_summary(const struct vreport *r, struct vdoc *d, const struct stmts *ss)
{
	size_t i;
	int any;

	vdoc_heading(d, 1, "Summary");
	doc_verdict(r, d);
	if (r->v != NULL) {
		const cst_audit_info *au;
		struct life lc;
		size_t n;

		au = cst_verifier_audits(r->v, &n, NULL);
		life_count(au, n, &lc);
		if (n > 0)
			vdoc_para(d, VDOC_PLAIN, "The collector's own records, "
			    "in blocks that verified, show %zu start(s), %zu "
			    "clean stop(s), %zu unclean stop(s), %zu "
			    "configuration reload(s) and %zu key rotation(s): "
			    "see \"Was the system operating properly?\".",
			    lc.starts, lc.stops, lc.recs + lc.unrecorded,
			    lc.reloads, lc.rotations);
	}
	for (int want = 1; want >= 0; want--) {
		vdoc_heading(d, 2, want ? "What this verification proves" :
		    "What it does not prove");
		any = 0;
		for (i = 0; i < ss->n; i++)
			if (ss->v[i].proven == want) {
				vdoc_para(d, VDOC_BULLET, "[%zu] %s", i + 1,
				    ss->v[i].text);
				any = 1;
			}
		if (!any)
			vdoc_para(d, VDOC_PLAIN, "Nothing.");
	}
	vdoc_para(d, VDOC_NOTE, "The numbers in brackets refer to the "
	    "appendix, which names the rules of the format specification "
	    "each statement rests on.");
}

static void
doc_case(const struct vreport *r, struct vdoc *d)
{
	static const struct vdoc_col cols[] = {
		{ "Field", 1, 0 }, { "Value", 3, 0 },
	};
	char t[40];

	vdoc_table(d, cols, 2);
	vdoc_cell(d, "Case");
	vdoc_cell(d, "%s", or_none(r->cs.id));
	vdoc_cell(d, "Exhibit");
	vdoc_cell(d, "%s", or_none(r->cs.exhibit));
	vdoc_cell(d, "Examiner");
	vdoc_cell(d, "%s", or_none(r->cs.examiner));
	vdoc_cell(d, "Organisation");
	vdoc_cell(d, "%s", or_none(r->cs.organisation));
	utc_time(r->verified_ns, t);
	vdoc_cell(d, "Verified at");
	vdoc_cell(d, "%s; local time %s", t, r->local_time);
}

static void
doc_inputs(const struct vreport *r, struct vdoc *d)
{
	static const struct vdoc_col cols[] = {
		{ "Role and file", 3.2, 0 }, { "Bytes", 1.1, 0 },
		{ "SHA-256 (first line), BLAKE2b-256 (second)", 5.0, 1 },
	};
	char a[65], b[65], fpr[2 * CST_FPR_LEN + 1], cid[65];
	size_t i;

	vdoc_heading(d, 2, "Trust anchor");
	if (r->has_root) {
		cst_key_fingerprint_hex(r->root.pk, fpr);
		cst_hex(r->root.chain_id, CST_CHAIN_ID_LEN, cid);
		vdoc_para(d, VDOC_PLAIN, "Root public key fingerprint %s, for "
		    "the chain with id %s, read from the file %s.", fpr, cid,
		    or_none(r->root_source));
		if (r->root_fpr_given != NULL && r->root_fpr_ok)
			vdoc_para(d, VDOC_PLAIN, "The examiner gave the "
			    "fingerprint %s independently; the key file has "
			    "it.", r->root_fpr_given);
		else if (r->root_fpr_given != NULL)
			vdoc_para(d, VDOC_PLAIN, "The examiner gave the "
			    "fingerprint %s independently; the key file does "
			    "NOT have it.", r->root_fpr_given);
		else if (r->root_from_store)
			vdoc_para(d, VDOC_PLAIN, "This key file was found in "
			    "the store being examined and no fingerprint was "
			    "given independently: the fingerprint above must "
			    "be confirmed from another source.");
		else
			vdoc_para(d, VDOC_PLAIN, "The examiner gave this key "
			    "file; no fingerprint was given to check it "
			    "against.");
	} else {
		vdoc_para(d, VDOC_PLAIN, "No root public key could be loaded.");
	}

	vdoc_heading(d, 2, "Input files (%zu)", r->ninputs);
	vdoc_table(d, cols, 3);
	for (i = 0; i < r->ninputs; i++) {
		vdoc_cell2(d, r->inputs[i].role, r->inputs[i].path);
		if (!r->inputs[i].ok) {
			vdoc_cell(d, "-");
			vdoc_cell(d, "could not be read");
			continue;
		}
		cst_hex(r->inputs[i].d.sha256, 32, a);
		cst_hex(r->inputs[i].d.blake2b, 32, b);
		vdoc_cell(d, "%" PRIu64, r->inputs[i].size);
		vdoc_cell2(d, a, b);
	}
}

static void
doc_epochs(const struct vreport *r, struct vdoc *d)
{
	static const struct vdoc_col cols[] = {
		{ "Epoch", 0.7, 0 }, { "Key fingerprint", 3, 1 },
		{ "From block", 1, 0 }, { "Certified at", 2.2, 0 },
		{ "Blocks signed", 1, 0 },
	};
	const cst_epoch_info *ep;
	char t[40];
	size_t i, n;

	ep = cst_verifier_epochs(r->v, &n);
	vdoc_heading(d, 2, "Key epochs (%zu)", n);
	vdoc_para(d, VDOC_NOTE, "Each epoch key is certified by the one "
	    "before it, the first by the root key; a new epoch begins when "
	    "the collector rotates its signing key.");
	vdoc_table(d, cols, 5);
	for (i = 0; i < n; i++) {
		utc_time(ep[i].created_ns, t);
		vdoc_cell(d, "%" PRIu32, ep[i].epoch);
		vdoc_cell(d, "%s", ep[i].fpr);
		vdoc_cell(d, "%" PRIu64, ep[i].valid_from);
		vdoc_cell(d, "%s", t);
		vdoc_cell(d, "%" PRIu64, ep[i].blocks);
	}
}

static void
doc_anchors(const struct vreport *r, struct vdoc *d)
{
	static const struct vdoc_col cols[] = {
		{ "Checkpoint file", 2.6, 1 }, { "Origin", 1.3, 0 },
		{ "Result", 1.3, 0 }, { "Covers", 1.4, 0 },
		{ "Made at", 1.4, 0 }, { "Signed by", 1.2, 0 },
	};
	const cst_ckp_info *ck;
	const cst_epoch_info *ep;
	char t[40];
	size_t i, k, n, neps;

	ck = cst_verifier_checkpoints(r->v, &n);
	ep = cst_verifier_epochs(r->v, &neps);
	vdoc_heading(d, 2, "Anchors: checkpoints (%zu)", n);
	if (n == 0) {
		vdoc_para(d, VDOC_PLAIN, "No checkpoint was given or found.");
		return;
	}
	vdoc_table(d, cols, 6);
	for (i = 0; i < n; i++) {
		utc_time(ck[i].time_ns, t);
		vdoc_cell(d, "%s", ck[i].path != NULL ? ck[i].path : "-");
		vdoc_cell(d, "%s", ck[i].from_store ? "found in the store" :
		    "given from off the machine");
		vdoc_cell(d, "%s%s", ck[i].ok ? "holds" : "FAILS: ",
		    ck[i].ok ? "" : ck[i].why);
		vdoc_cell(d, "%" PRIu64 " blocks, %" PRIu64 " records",
		    ck[i].blocks, ck[i].records);
		vdoc_cell(d, "%s", t);
		for (k = 0; k < neps && ep[k].epoch != ck[i].epoch; k++)
			;
		/* Its fingerprint is in the table of key epochs. */
		vdoc_cell(d, "the key of epoch %" PRIu32 "%s", ck[i].epoch,
		    k < neps ? "" : " (not among the epochs found)");
	}
}

static void
range(char *out, size_t n, uint64_t a, uint64_t b)
{

	if (a == CST_NONE)
		snprintf(out, n, "-");
	else if (a == b)
		snprintf(out, n, "%" PRIu64, a);
	else
		snprintf(out, n, "%" PRIu64 " to %" PRIu64, a, b);
}

static void
doc_segments(const struct vreport *r, struct vdoc *d)
{
	static const struct vdoc_col cols[] = {
		{ "No.", 0.6, 0 }, { "File", 3, 1 }, { "Status", 1.2, 0 },
		{ "Blocks", 1.1, 0 }, { "Sequence numbers", 1.6, 0 },
		{ "Failures", 1.0, 0 },
	};
	const cst_seg_info *g;
	char a[48], b[48], c[48];
	size_t i, n;

	g = cst_verifier_segments(r->v, &n);
	vdoc_heading(d, 2, "Segments (%zu)", n);
	vdoc_table(d, cols, 6);
	for (i = 0; i < n && i < ROWS_MAX; i++) {
		range(a, sizeof(a), g[i].segment_no, g[i].segment_last);
		range(b, sizeof(b), g[i].first_block, g[i].last_block);
		range(c, sizeof(c), g[i].first_seq, g[i].last_seq);
		vdoc_cell(d, "%s", a);
		vdoc_cell(d, "%s", g[i].path != NULL ? g[i].path :
		    "(no file)");
		vdoc_cell(d, "%s%s", cst_seg_status_name(g[i].status),
		    g[i].sealed ? ", sealed" : "");
		vdoc_cell(d, "%s", b);
		vdoc_cell(d, "%s", c);
		vdoc_cell(d, "%" PRIu64, g[i].failures);
	}
	if (n > ROWS_MAX)
		vdoc_para(d, VDOC_NOTE, "%zu more segments are listed in the "
		    "JSON report.", n - ROWS_MAX);
}

static void
doc_findings(const struct vreport *r, struct vdoc *d)
{
	static const struct vdoc_col cols[] = {
		{ "Severity", 0.9, 0 }, { "Where", 3, 0 },
		{ "What was found", 4, 0 },
	};
	char where[1024];
	size_t i;

	vdoc_heading(d, 2, "Findings (%zu)", r->nfindings);
	if (r->nfindings == 0) {
		vdoc_para(d, VDOC_PLAIN, "None.");
		return;
	}
	vdoc_table(d, cols, 3);
	for (i = 0; i < r->nfindings && i < ROWS_MAX; i++) {
		where_words(&r->findings[i], where, sizeof(where));
		vdoc_cell(d, "%s", cst_severity_name(r->findings[i].severity));
		/* "in the file X": the table heading says where already. */
		vdoc_cell(d, "%s", strncmp(where, "in the ", 7) == 0 ?
		    where + 7 : where);
		vdoc_cell(d, "%s (rule %s)", r->findings[i].detail,
		    r->findings[i].rule);
	}
	if (r->nfindings > ROWS_MAX)
		vdoc_para(d, VDOC_NOTE, "%zu more findings are listed in the "
		    "text and JSON reports.", r->nfindings - ROWS_MAX);
}

/* The timeline row of audit record a: what happened, in words. */
static void
event_words(const cst_audit_info *a, int unclean, char *what, size_t wn,
    char *det, size_t dn, char *cfg, size_t cn)
{
	char s1[256], s2[256], s3[256], n1[24], n2[24], n3[24];
	int64_t step = 0;
	uint64_t v;

	det[0] = '\0';
	cfg[0] = '\0';
	switch (a->kind) {
	case CST_REC_START:
		snprintf(what, wn, "%s", unclean ? "Collector started; the "
		    "run before ended without a stop record (unclean stop)" :
		    "Collector started");
		dstr(a, "version", s1, sizeof(s1));
		dstr(a, "hostname", s2, sizeof(s2));
		dstr(a, "config_hash", s3, sizeof(s3));
		snprintf(det, dn, "version %s, host %s, pid %s, key epoch %s",
		    s1, s2, dnum(a, "pid", n1), dnum(a, "epoch", n2));
		snprintf(cfg, cn, "configuration SHA-256 %s", s3);
		break;
	case CST_REC_STOP:
		snprintf(what, wn, "Collector stopped cleanly");
		dstr(a, "reason", s1, sizeof(s1));
		snprintf(det, dn, "reason %s; %s messages received, %s sealed "
		    "in this run", s1, dnum(a, "received", n1),
		    dnum(a, "sealed", n2));
		break;
	case CST_REC_RECOVERY:
		snprintf(what, wn, "Recovery after an unclean stop");
		dstr(a, "quarantine", s1, sizeof(s1));
		if (du64(a, "cut_len") > 0)
			snprintf(det, dn, "%s bytes of an incomplete block cut "
			    "from segment %s at offset %s and moved to "
			    "quarantine/%s", dnum(a, "cut_len", n1),
			    dnum(a, "segment_no", n2), dnum(a, "valid_len",
			    n3), s1);
		else
			snprintf(det, dn, "nothing was cut: segment %s ended "
			    "with a complete block", dnum(a, "segment_no",
			    n1));
		break;
	case CST_REC_KEY_EPOCH:
		snprintf(what, wn, "%s", du64(a, "epoch") > 1 ? "Signing key "
		    "rotated" : "First signing key certified");
		dstr(a, "fpr", s1, sizeof(s1));
		snprintf(det, dn, "epoch %s, key fingerprint %s",
		    dnum(a, "epoch", n1), s1);
		break;
	case CST_REC_LOSS:
		snprintf(what, wn, "Messages lost or cut");
		dstr(a, "listener", s1, sizeof(s1));
		snprintf(det, dn, "listener %s: %s datagrams dropped by the "
		    "collector, %s by the kernel, %s oversized messages split",
		    s1, dnum(a, "udp_dropped", n1), dnum(a, "kernel_dropped",
		    n2), dnum(a, "oversize", n3));
		break;
	case CST_REC_CLOCK:
		snprintf(what, wn, "The collector's clock was stepped");
		if (cst_detail_get_i64(a->detail, a->detail_len, "step_ns",
		    &step) == 0)
			snprintf(det, dn, "by %+" PRId64 " ms", step / 1000000);
		else
			snprintf(det, dn, "by an amount the record does not "
			    "give");
		break;
	case CST_REC_RELOAD:
		snprintf(what, wn, "Configuration reloaded");
		dstr(a, "config_hash", s1, sizeof(s1));
		snprintf(det, dn, "the configuration file was read again");
		snprintf(cfg, cn, "configuration SHA-256 %s", s1);
		break;
	case CST_REC_ACCESS:
		dstr(a, "phase", s1, sizeof(s1));
		dstr(a, "user", s2, sizeof(s2));
		if (strcmp(s1, "begin") == 0) {
			snprintf(what, wn, "A local reader opened the store");
			dstr(a, "command", s3, sizeof(s3));
			snprintf(det, dn, "access %s by user %s (uid %s), pid "
			    "%s: %s", dnum(a, "id", n1), s2[0] != '\0' ? s2 :
			    "-", dnum(a, "uid", n2), dnum(a, "pid", n3), s3);
		} else {
			snprintf(what, wn, "A local reader finished");
			dstr(a, "reason", s3, sizeof(s3));
			if (cst_detail_get_u64(a->detail, a->detail_len,
			    "shown", &v) == 0)
				snprintf(det, dn, "access %s: %" PRIu64 " records "
				    "shown", dnum(a, "id", n1), v);
			else
				snprintf(det, dn, "access %s ended without a "
				    "count: %s", dnum(a, "id", n1), s3);
		}
		break;
	case CST_REC_REFUSAL:
		snprintf(what, wn, "Connection refused");
		dstr(a, "listener", s1, sizeof(s1));
		dstr(a, "peer", s2, sizeof(s2));
		dstr(a, "reason", s3, sizeof(s3));
		if (cst_detail_get_u64(a->detail, a->detail_len, "suppressed",
		    &v) == 0 && v > 0)
			snprintf(det, dn, "listener %s, peer %s: %s (%" PRIu64
			    " more refusals on this listener since the "
			    "previous record were counted, not recorded)", s1,
			    s2, s3, v);
		else
			snprintf(det, dn, "listener %s, peer %s: %s", s1, s2,
			    s3);
		break;
	default:
		snprintf(what, wn, "Collector record of kind %s (%u)",
		    cst_record_kind_name(a->kind), a->kind);
		break;
	}
}

/* Splits s into lines (pointers into s, which it changes). */
static size_t
split_lines(char *s, char **lines, size_t max)
{
	size_t n = 0;
	char *p = s, *e;

	while (*p != '\0' && n < max) {
		lines[n++] = p;
		if ((e = strchr(p, '\n')) == NULL)
			break;
		*e = '\0';
		p = e + 1;
	}
	return (n);
}

/* A line diff of a and b (both taken, changed) by longest common run. */
static void
doc_diff(struct vdoc *d, char *a, char *b)
{
	char **la, **lb;
	uint16_t *t = NULL;
	size_t na, nb, i, j, w;

	la = calloc(DIFF_LINES_MAX + 1, sizeof(*la));
	lb = calloc(DIFF_LINES_MAX + 1, sizeof(*lb));
	if (la == NULL || lb == NULL) {
		d->oom = 1;
		goto out;
	}
	na = split_lines(a, la, DIFF_LINES_MAX + 1);
	nb = split_lines(b, lb, DIFF_LINES_MAX + 1);
	if (na > DIFF_LINES_MAX || nb > DIFF_LINES_MAX) {
		vdoc_para(d, VDOC_NOTE, "The configurations are longer than "
		    "%d lines: their difference is not shown.",
		    DIFF_LINES_MAX);
		goto out;
	}
	w = nb + 1;
	if ((t = calloc((na + 1) * w, sizeof(*t))) == NULL) {
		d->oom = 1;
		goto out;
	}
	for (i = na; i-- > 0;)
		for (j = nb; j-- > 0;)
			t[i * w + j] = strcmp(la[i], lb[j]) == 0 ?
			    (uint16_t)(t[(i + 1) * w + j + 1] + 1) :
			    t[(i + 1) * w + j] > t[i * w + j + 1] ?
			    t[(i + 1) * w + j] : t[i * w + j + 1];
	for (i = j = 0; i < na || j < nb;) {
		if (i < na && j < nb && strcmp(la[i], lb[j]) == 0) {
			i++;
			j++;
		} else if (i < na && (j == nb ||
		    t[(i + 1) * w + j] >= t[i * w + j + 1])) {
			vdoc_para(d, VDOC_DEL, "- line %zu: %s", i + 1, la[i]);
			i++;
		} else {
			vdoc_para(d, VDOC_ADD, "+ line %zu: %s", j + 1, lb[j]);
			j++;
		}
	}
out:
	free(t);
	free(la);
	free(lb);
	free(a);
	free(b);
}

/*
 * The configuration text of a start or reload record, or NULL: none, or
 * (*bad set) one that is not the bytes whose SHA-256 the record states
 * (R-CFG-1), which is then not shown as the configuration in use.
 */
static char *
config_text(const cst_audit_info *a, int *bad)
{
	char want[80], got[65];
	cst_digests dg;
	cst_bytes b;

	*bad = 0;
	if (cst_detail_get_str(a->detail, a->detail_len, "config", &b) != 0 ||
	    b.p == NULL)
		return (NULL);
	dstr(a, "config_hash", want, sizeof(want));
	if (cst_digests_compute(b.p, b.len, &dg) != 0)
		return (NULL);
	cst_hex(dg.sha256, 32, got);
	if (strcmp(want, got) != 0 || memchr(b.p, '\0', b.len) != NULL) {
		*bad = 1;
		return (NULL);
	}
	return (strndup((const char *)b.p, b.len));
}

static void
doc_config(const struct vreport *r, struct vdoc *d)
{
	const cst_audit_info *au, *prev = NULL;
	char t[40], h0[80], h1[80], *c0, *c1;
	size_t i, n, changes = 0, texts = 0, seen = 0;
	int bad;

	au = cst_verifier_audits(r->v, &n, NULL);
	vdoc_heading(d, 2, "Configuration changes");
	for (i = 0; i < n; i++) {
		if (au[i].kind != CST_REC_START && au[i].kind != CST_REC_RELOAD)
			continue;
		seen++;
		if ((c1 = config_text(&au[i], &bad)) != NULL)
			texts++;
		free(c1);
		if (bad) {
			utc_time(au[i].recv_ns, t);
			vdoc_para(d, VDOC_PLAIN, "The configuration text in "
			    "the record of %s (record %" PRIu64 ") is not the "
			    "text whose SHA-256 the record states: it is not "
			    "shown as the configuration in use.", t,
			    au[i].seq);
		}
		if (prev != NULL) {
			dstr(prev, "config_hash", h0, sizeof(h0));
			dstr(&au[i], "config_hash", h1, sizeof(h1));
			if (strcmp(h0, h1) != 0) {
				changes++;
				utc_time(au[i].recv_ns, t);
				vdoc_para(d, VDOC_PLAIN, "At %s (record %" PRIu64
				    ", %s) the configuration's SHA-256 changed "
				    "from %s to %s.", t, au[i].seq,
				    au[i].kind == CST_REC_START ? "a start" :
				    "a reload", h0[0] != '\0' ? h0 : "(none)",
				    h1[0] != '\0' ? h1 : "(none)");
				c0 = config_text(prev, &bad);
				c1 = config_text(&au[i], &bad);
				if (c0 != NULL && c1 != NULL) {
					vdoc_para(d, VDOC_NOTE, "Lines removed "
					    "(-) and added (+), with their "
					    "line numbers:");
					doc_diff(d, c0, c1);
				} else {
					free(c0);
					free(c1);
					vdoc_para(d, VDOC_NOTE, "The records "
					    "give only the configuration's "
					    "hash, not its text: what changed "
					    "cannot be shown.");
				}
			}
		}
		prev = &au[i];
	}
	if (seen == 0)
		vdoc_para(d, VDOC_PLAIN, "No start or reload record was found: "
		    "the configuration is not known.");
	else if (changes == 0)
		vdoc_para(d, VDOC_PLAIN, "The %zu start and reload record(s) "
		    "all name the same configuration (by its SHA-256).%s",
		    seen, texts == seen ? "" : " They give only its hash, "
		    "not its text.");
}

static void
doc_timeline(const struct vreport *r, struct vdoc *d)
{
	static const struct vdoc_col cols[] = {
		{ "Time", 1.5, 0 }, { "Since previous", 1.2, 0 },
		{ "Event", 1.9, 0 }, { "Details", 4.1, 0 },
		{ "Record (block)", 1.1, 0 },
	};
	const cst_audit_info *au, *laststats = NULL, *life = NULL;
	char t[40], gap[40], what[256], det[1024], cfg[320], n1[24], n2[24];
	struct life lc;
	size_t i, n, rows = 0;
	int64_t prev_ns = 0;
	uint64_t total;
	int bad, first = 1;

	au = cst_verifier_audits(r->v, &n, &total);
	vdoc_heading(d, 1, "Was the system operating properly?");
	vdoc_para(d, VDOC_PLAIN, "The collector writes its own life into "
	    "the chain it seals: when it started and stopped, crash "
	    "recoveries, key rotations, losses, clock steps, reloads and "
	    "refused connections. The table lists those records as the "
	    "verification found them in blocks whose signatures verified; "
	    "they are the collector's own account, written with its clock.");
	if (n == 0) {
		vdoc_para(d, VDOC_PLAIN, "No collector record was found in the "
		    "blocks that verified.");
		return;
	}
	life_count(au, n, &lc);
	vdoc_para(d, VDOC_PLAIN, "The records show %zu start(s), %zu clean "
	    "stop(s) and %zu unclean stop(s) (%zu with a recovery record, "
	    "%zu seen only as a start without a stop record before it), "
	    "%zu configuration reload(s) and %zu key rotation(s).%s",
	    lc.starts, lc.stops, lc.recs + lc.unrecorded, lc.recs,
	    lc.unrecorded, lc.reloads, lc.rotations, lc.last != NULL &&
	    lc.last->kind != CST_REC_STOP ? " The last record "
	    "of the collector's life is not a stop: it was still running "
	    "when the newest block was sealed, or it stopped without "
	    "recording it." : "");
	if (total > n)
		vdoc_para(d, VDOC_NOTE, "Only the first %zu of %" PRIu64
		    " collector records are considered here.", n, total);

	vdoc_table(d, cols, 5);
	life = NULL;
	for (i = 0; i < n; i++) {
		bad = 0;
		if (au[i].kind == CST_REC_STATS) {
			laststats = &au[i];
			continue;
		}
		if (au[i].kind == CST_REC_START) {
			bad = life != NULL && life->kind == CST_REC_START;
			life = &au[i];
		} else if (au[i].kind == CST_REC_STOP ||
		    au[i].kind == CST_REC_RECOVERY) {
			life = &au[i];
		}
		if (rows++ >= ROWS_MAX)
			continue;
		utc_time(au[i].recv_ns, t);
		if (first)
			snprintf(gap, sizeof(gap), "-");
		else
			span(au[i].recv_ns - prev_ns, gap);
		first = 0;
		prev_ns = au[i].recv_ns;
		event_words(&au[i], bad, what, sizeof(what), det, sizeof(det),
		    cfg, sizeof(cfg));
		vdoc_cell(d, "%s", t);
		vdoc_cell(d, "%s", gap);
		vdoc_cell(d, "%s", what);
		if (cfg[0] != '\0')
			vdoc_cell2(d, det, cfg);
		else
			vdoc_cell(d, "%s", det);
		vdoc_cell(d, "%" PRIu64 " (%" PRIu64 ")", au[i].seq,
		    au[i].block_no);
	}
	if (rows > ROWS_MAX)
		vdoc_para(d, VDOC_NOTE, "%zu more records are not listed.",
		    rows - ROWS_MAX);
	if (laststats != NULL) {
		utc_time(laststats->recv_ns, t);
		vdoc_para(d, VDOC_NOTE, "%zu periodic statistics record(s) are "
		    "not listed; the last, at %s, counts %s messages received "
		    "and %s that did not parse as syslog.", lc.stats, t,
		    dnum(laststats, "received", n1), dnum(laststats,
		    "parse_failed", n2));
	}
	doc_config(r, d);
}

static void
doc_appendix(const struct vreport *r, struct vdoc *d, const struct stmts *ss)
{
	static const struct vdoc_col scol[] = {
		{ "No.", 0.5, 0 }, { "Kind", 1, 0 },
		{ "Rules of the format specification", 2.5, 0 },
	};
	static const struct vdoc_col mcol[] = {
		{ "Item", 1.3, 0 }, { "Value", 4, 0 },
	};
	char t[40];
	size_t i;

	vdoc_heading(d, 1, "Appendix");
	vdoc_heading(d, 2, "Statements and the rules they rest on");
	vdoc_para(d, VDOC_NOTE, "Rule ids are those of formats/SPEC.md, "
	    "store format version %d, which defines what each check is.",
	    CST_FORMAT_VERSION);
	vdoc_table(d, scol, 3);
	for (i = 0; i < ss->n; i++) {
		vdoc_cell(d, "[%zu]", i + 1);
		vdoc_cell(d, "%s", ss->v[i].proven ? "proven" : "not proven");
		vdoc_cell(d, "%s", strcmp(ss->v[i].rules, "-") == 0 ?
		    "none: a statement of what was given or of what the "
		    "collector recorded" : ss->v[i].rules);
	}
	vdoc_heading(d, 2, "How this verification was made");
	vdoc_para(d, VDOC_PLAIN, "The command, as a POSIX shell would take "
	    "it:");
	vdoc_para(d, VDOC_MONO, "%s", r->cmdline != NULL ? r->cmdline :
	    "unknown");
	utc_time(r->verified_ns, t);
	vdoc_table(d, mcol, 2);
	vdoc_cell(d, "Tool");
	vdoc_cell(d, "custody-verify %s, store format v%d", CUSTODY_VERSION,
	    CST_FORMAT_VERSION);
	vdoc_cell(d, "Source commit");
	vdoc_cell(d, "%s", CUSTODY_GIT_COMMIT);
	vdoc_cell(d, "SHA-256 of the tool binary");
	vdoc_cell(d, "%s", r->exe_sha256[0] != '\0' ? r->exe_sha256 :
	    "unknown");
	vdoc_cell(d, "Verified at (UTC)");
	vdoc_cell(d, "%s", t);
	vdoc_cell(d, "Verified at (local)");
	vdoc_cell(d, "%s", r->local_time[0] != '\0' ? r->local_time :
	    "unknown");
	vdoc_cell(d, "This machine's clock");
	vdoc_cell(d, "%s", r->clock[0] != '\0' ? r->clock : "unknown");
}

void
vreport_doc(const struct vreport *r, struct vdoc *d)
{
	struct stmts ss;
	char *running;

	memset(&ss, 0, sizeof(ss));
	vreport_statements(r, collect_stmt, &ss);
	if (ss.oom)
		d->oom = 1;
	stmts_order(&ss);
	if (asprintf(&running, "Case %s \u00b7 Exhibit %s \u00b7 "
	    "custody-verify examiner's report", or_none(r->cs.id),
	    or_none(r->cs.exhibit)) < 0) {
		d->oom = 1;
		stmts_free(&ss);
		return;
	}
	vdoc_title(d, "Verification of audit evidence", running);
	free(running);
	doc_case(r, d);
	doc_summary(r, d, &ss);
	if (r->v != NULL) {
		vdoc_heading(d, 1, "The evidence examined");
		doc_inputs(r, d);
		doc_epochs(r, d);
		doc_anchors(r, d);
		doc_segments(r, d);
		doc_findings(r, d);
		doc_timeline(r, d);
	} else {
		vdoc_heading(d, 1, "The evidence examined");
		doc_inputs(r, d);
		doc_findings(r, d);
	}
	doc_appendix(r, d, &ss);
	stmts_free(&ss);
}
