/*
 * The report of a verification as text for a person (vreport.h).
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "custody/format.h"
#include "custody/hash.h"
#include "custody/keys.h"
#include "custody/record.h"
#include "custody/timestamp.h"
#include "custody/verify.h"
#include "custody_version.h"
#include "json.h"
#include "vreport.h"
#include "vreport_int.h"

static void
text_stmt(int proven, const char *text, void *ctx)
{
	struct { FILE *f; int want; } *c = ctx;

	if (proven == c->want) {
		fputs("  - ", c->f);
		json_text_puts(c->f, text);
		fputs("\n", c->f);
	}
}

static void
num_or_dash(char *out, size_t n, uint64_t v)
{

	if (v == CST_NONE)
		snprintf(out, n, "-");
	else
		snprintf(out, n, "%" PRIu64, v);
}

static void
text_finding(FILE *f, const cst_finding *x)
{
	char a[24], b[24];

	fprintf(f, "  [%s] %s", cst_severity_name(x->severity), x->rule);
	if (x->file != NULL) {
		fputs(" ", f);
		json_text_puts(f, x->file);
	}
	if (x->offset != CST_NONE)
		fprintf(f, " @%" PRIu64, x->offset);
	if (x->segment_no != CST_NONE)
		fprintf(f, " segment %" PRIu64, x->segment_no);
	if (x->block_no != CST_NONE) {
		if (x->block_last != x->block_no && x->block_last != CST_NONE)
			fprintf(f, " blocks %" PRIu64 "..%" PRIu64, x->block_no,
			    x->block_last);
		else
			fprintf(f, " block %" PRIu64, x->block_no);
	}
	if (x->seq_first != CST_NONE) {
		num_or_dash(a, sizeof(a), x->seq_first);
		num_or_dash(b, sizeof(b), x->seq_last);
		fprintf(f, " seq %s..%s", a, b);
	}
	fputs("\n      ", f);
	json_text_puts(f, x->detail);
	fputs("\n", f);
}

/* A case field, when given. */
static void
text_case(FILE *f, const char *name, const char *value)
{

	if (value == NULL)
		return;
	fprintf(f, "%s: ", name);
	json_text_puts(f, value);
	fputs("\n", f);
}

/* The tool, the verdict, the trust anchor and the input files. */
static void
text_head(FILE *f, const struct vreport *r)
{
	char t[40], hex[65], hex2[65], fpr[2 * CST_FPR_LEN + 1], warn[256];
	char ident[CST_ROOT_ID_TEXT_LEN + 8];
	size_t i;
	int verdict = vreport_verdict(r);

	vreport_time(r->verified_ns, t);
	fprintf(f, "custody-verify %s (commit %s), store format v%d\n",
	    CUSTODY_VERSION, CUSTODY_GIT_COMMIT, CST_FORMAT_VERSION);
	fprintf(f, "verified at %s (UTC)\n", t);
	text_case(f, "case", r->cs.id);
	text_case(f, "exhibit", r->cs.exhibit);
	text_case(f, "examiner", r->cs.examiner);
	text_case(f, "organisation", r->cs.organisation);
	if (r->origin != NULL) {
		fputs("store ", f);
		json_text_puts(f, r->origin);
		fputs("\n", f);
	}
	fputs("\n", f);
	/* INTACT only when nothing present went unverified (R-VER-2). */
	if (vreport_warning(r, warn, sizeof(warn)))
		fprintf(f, "VERDICT: WARNING: no check failed, but %s\n\n",
		    warn);
	else
		fprintf(f, "VERDICT: %s\n\n", verdict == VREPORT_INTACT ?
		    "INTACT" : verdict == VREPORT_FAILED ? "FAILED: "
		    "integrity failure" : "ERROR: could not verify");

	fprintf(f, "Trust anchor\n");
	if (r->has_root) {
		cst_key_fingerprint_hex(r->root.pk, fpr);
		cst_hex(r->root.chain_id, CST_CHAIN_ID_LEN, hex);
		cst_root_pub_identity(&r->root, "  ", ident, sizeof(ident));
		fprintf(f, "%s  root key fingerprint %s (BLAKE2b, SPEC section "
		    "1)\n  from ", ident, fpr);
		json_text_puts(f, r->root_source);
		fputs("\n", f);
		if (r->root_from_store && r->root_fpr_given == NULL)
			fprintf(f, "  WARNING: this root key was taken from "
			    "the store being verified; confirm its "
			    "fingerprint independently\n");
		if (r->root_fpr_given != NULL) {
			fputs("  fingerprint given: ", f);
			json_text_puts(f, r->root_fpr_given);
			fputs(r->root_fpr_ok ? " (matches)\n" :
			    " (does NOT match)\n", f);
		}
	} else {
		fprintf(f, "  none\n");
	}

	fprintf(f, "\nInput files (%zu)\n", r->ninputs);
	for (i = 0; i < r->ninputs; i++) {
		fprintf(f, "  %-10s ", r->inputs[i].role);
		json_text_puts(f, r->inputs[i].path);
		if (!r->inputs[i].ok) {
			fputs(" (unreadable)\n", f);
			continue;
		}
		cst_hex(r->inputs[i].d.sha256, 32, hex);
		cst_hex(r->inputs[i].d.blake2b, 32, hex2);
		fprintf(f, "\n             %" PRIu64 " bytes\n"
		    "             sha256  %s\n             blake2b %s\n",
		    r->inputs[i].size, hex, hex2);
	}
}

static void
text_epochs(FILE *f, const struct vreport *r)
{
	const cst_epoch_info *eps;
	char t2[40];
	size_t i, n;

	eps = cst_verifier_epochs(r->v, &n);
	fprintf(f, "\nKey epochs (%zu)\n", n);
	for (i = 0; i < n; i++) {
		vreport_time(eps[i].created_ns, t2);
		fprintf(f, "  epoch %" PRIu32 "  fingerprint %s  from "
		    "block %" PRIu64 "  certified %s  signed %" PRIu64
		    " blocks\n", eps[i].epoch, eps[i].fpr,
		    eps[i].valid_from, t2, eps[i].blocks);
	}
}

static void
text_segments(FILE *f, const struct vreport *r)
{
	const cst_seg_info *segs;
	char a[24], b[24], c1[24], c2[24];
	size_t i, n;

	segs = cst_verifier_segments(r->v, &n);
	fprintf(f, "\nSegments (%zu)\n", n);
	for (i = 0; i < n; i++) {
		const cst_seg_info *g = &segs[i];

		num_or_dash(a, sizeof(a), g->segment_no);
		if (g->status == CST_SEG_MISSING) {
			num_or_dash(b, sizeof(b), g->segment_last);
			fprintf(f, "  %s..%s  MISSING\n", a, b);
			continue;
		}
		num_or_dash(c1, sizeof(c1), g->first_block);
		num_or_dash(c2, sizeof(c2), g->last_block);
		fprintf(f, "  %s  %s  ", a, cst_seg_status_name(g->status));
		json_text_puts(f, g->path);
		fprintf(f, "%s\n      blocks %s..%s",
		    g->sealed ? "  (sealed)" : "", c1, c2);
		num_or_dash(c1, sizeof(c1), g->first_seq);
		num_or_dash(c2, sizeof(c2), g->last_seq);
		fprintf(f, "  seq %s..%s  %" PRIu64 " records  %" PRIu64
		    " failures", c1, c2, g->records, g->failures);
		if (g->tail_bytes > 0)
			fprintf(f, "  partial tail %" PRIu64 " bytes",
			    g->tail_bytes);
		if (g->quarantine != CST_QUAR_NONE)
			fprintf(f, "  quarantine %s",
			    cst_quarantine_name(g->quarantine));
		fprintf(f, "\n");
	}
}

static void
text_chain(FILE *f, const struct vreport *r)
{
	const cst_verify_summary *s = cst_verifier_summary(r->v);
	char t[40], t2[40], hex[65];
	size_t i;

	fprintf(f, "\nChain\n  blocks %" PRIu64 " (data %" PRIu64
	    ", seal %" PRIu64 "), frames that did not verify %" PRIu64
	    "\n", s->blocks, s->data_blocks, s->seal_blocks,
	    s->blocks_bad);
	fprintf(f, "  records %" PRIu64 " (verified %" PRIu64 ")",
	    s->records, s->records_verified);
	for (i = 0; i <= CST_REC_KIND_MAX; i++)
		if (s->kinds[i] > 0)
			fprintf(f, ", %s %" PRIu64,
			    cst_record_kind_name((unsigned)i), s->kinds[i]);
	fprintf(f, "\n");
	/* Who looked at the logs through the collector (R-ACC-2). */
	fprintf(f, "  %" PRIu64 " access records (a begin and an end for "
	    "each look at the store reported to custodyd)\n",
	    s->kinds[CST_REC_ACCESS]);
	if (s->first_seq != CST_NONE) {
		vreport_time(s->first_ns, t);
		vreport_time(s->last_ns, t2);
		fprintf(f, "  sequence %" PRIu64 "..%" PRIu64 "\n  "
		    "received %s .. %s\n", s->first_seq, s->last_seq,
		    t, t2);
	}
	if (s->has_head) {
		cst_hex(s->head_hash, CST_HASH_LEN, hex);
		fprintf(f, "  head block %" PRIu64 " hash %s, next seq "
		    "%" PRIu64 "\n", s->head_block_no, hex,
		    s->head_next_seq);
	}
	fprintf(f, "  tail %s%s\n", s->tail_unsealed ? "unsealed" :
	    "sealed", s->tail_partial > 0 ? ", ends in a partial frame" :
	    "");
}

static void
text_audit(FILE *f, const struct vreport *r)
{
	const cst_verify_summary *s = cst_verifier_summary(r->v);
	const cst_recovery_info *rc;
	const cst_loss_info *losses;
	char t[40];
	size_t i, n;

	fprintf(f, "\nCollector audit\n  recoveries %" PRIu64 ", loss "
	    "records %" PRIu64 " (udp dropped %" PRIu64 ", kernel "
	    "dropped %" PRIu64 ", oversize %" PRIu64 ")\n",
	    s->recoveries, s->losses, s->udp_dropped,
	    s->kernel_dropped, s->oversize);
	rc = cst_verifier_recoveries(r->v, &n);
	for (i = 0; i < n; i++) {
		vreport_time(rc[i].recv_ns, t);
		fprintf(f, "  recovery seq %" PRIu64 " at %s: segment %" PRIu64
		    " cut at %" PRIu64 ", %" PRIu64 " bytes to quarantine/",
		    rc[i].seq, t, rc[i].segment_no, rc[i].valid_len,
		    rc[i].cut_len);
		json_text_puts(f, rc[i].quarantine);
		fprintf(f, ": %s\n", cst_quarantine_name(rc[i].state));
	}
	losses = cst_verifier_losses(r->v, &n);
	for (i = 0; i < n && i < 20; i++) {
		vreport_time(losses[i].recv_ns, t);
		fprintf(f, "  loss seq %" PRIu64 " at %s: ", losses[i].seq, t);
		json_text_puts(f, losses[i].listener);
		fprintf(f, " udp %" PRIu64 " kernel %" PRIu64 " oversize %"
		    PRIu64 "\n", losses[i].udp_dropped,
		    losses[i].kernel_dropped, losses[i].oversize);
	}
	if (n > 20)
		fprintf(f, "  ... %zu more loss records\n", n - 20);
}

static void
text_checkpoints(FILE *f, const struct vreport *r)
{
	const cst_ckp_info *ckps;
	char t[40];
	size_t i, n;

	ckps = cst_verifier_checkpoints(r->v, &n);
	fprintf(f, "\nCheckpoints (%zu)\n", n);
	for (i = 0; i < n; i++) {
		vreport_time(ckps[i].time_ns, t);
		fputs("  ", f);
		json_text_puts(f, ckps[i].path != NULL ? ckps[i].path : "-");
		fprintf(f, " (%s): %s, %" PRIu64 " blocks, %" PRIu64
		    " records, made %s%s", ckps[i].from_store ? "in the store "
		    "only" : "given, off-machine", ckps[i].ok ? "holds" :
		    "FAILS",
		    ckps[i].blocks, ckps[i].records, t,
		    ckps[i].ok ? "" : ": ");
		if (!ckps[i].ok)
			json_text_puts(f, ckps[i].why);
		fputs("\n", f);
	}
}

static void
text_tokens(FILE *f, const struct vreport *r)
{
	static const char *states[] = {
		"verified",
		"present, not verified (no --tsa-cert)",
		"FAILS",
		"no checkpoint beside it",
		"signature holds, revocation status UNKNOWN: not counted",
	};
	const struct vreport_token *t;
	char g[40];
	size_t i;

	if (r->ntokens == 0)
		return;
	fprintf(f, "\nTimestamps (%zu)\n", r->ntokens);
	for (i = 0; i < r->ntokens; i++) {
		t = &r->tokens[i];
		fputs("  ", f);
		json_text_puts(f, t->path);
		fprintf(f, ": %s", states[t->state]);
		if (t->state == VREPORT_TOKEN_VERIFIED) {
			if (t->revocation == CST_TS_REV_GOOD)
				fputs(", not revoked by the CRLs given", f);
			vreport_time(t->gen_ns, g);
			fprintf(f, ", genTime %s", g);
			if (t->accuracy_ns >= 0)
				fprintf(f, " (accuracy %" PRId64 " ms)",
				    t->accuracy_ns / 1000000);
			fprintf(f, ", covers %" PRIu64 " blocks, %" PRIu64
			    " records\n      TSA ", t->blocks, t->records);
			json_text_puts(f, t->tsa);
		} else if (t->why != NULL) {
			fputs(": ", f);
			json_text_puts(f, t->why);
		}
		fputs("\n", f);
	}
}

static void
text_notes(FILE *f, const struct vreport *r)
{
	const cst_note_info *ns;
	char root[2 * CST_HASH_LEN + 1];
	size_t i, n;

	ns = cst_verifier_notes(r->v, &n);
	if (n == 0)
		return;
	fprintf(f, "\nNote checkpoints (%zu)\n", n);
	for (i = 0; i < n; i++) {
		cst_hex(ns[i].root, CST_HASH_LEN, root);
		fputs("  ", f);
		json_text_puts(f, ns[i].path != NULL ? ns[i].path : "-");
		fprintf(f, " (%s): %s, %" PRIu64 " blocks, root %s%s",
		    ns[i].from_store ? "in the store only" :
		    "given, off-machine", ns[i].ok ? "holds" : "FAILS",
		    ns[i].size, root, ns[i].ok ? "" : ": ");
		if (!ns[i].ok)
			json_text_puts(f, ns[i].why);
		fputs("\n", f);
	}
}

void
vreport_text(FILE *f, const struct vreport *r)
{
	struct { FILE *f; int want; } sc;
	size_t i;

	text_head(f, r);
	if (r->v != NULL) {
		text_epochs(f, r);
		text_segments(f, r);
		text_chain(f, r);
		text_audit(f, r);
		text_checkpoints(f, r);
		text_tokens(f, r);
		text_notes(f, r);
	}

	fprintf(f, "\nFindings (%zu)\n", r->nfindings);
	for (i = 0; i < r->nfindings; i++)
		text_finding(f, &r->findings[i]);
	if (r->nfindings == 0)
		fprintf(f, "  none\n");

	sc.f = f;
	fprintf(f, "\nWhat this verification proves\n");
	sc.want = 1;
	vreport_statements(r, text_stmt, &sc);
	fprintf(f, "\nWhat it does not prove\n");
	sc.want = 0;
	vreport_statements(r, text_stmt, &sc);
}

