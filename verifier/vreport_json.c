/*
 * The report of a verification as one JSON object (vreport.h, the schema
 * in VERIFY.md), through the one JSON writer (json.h).
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "custody/error.h"
#include "custody/format.h"
#include "custody/hash.h"
#include "custody/keys.h"
#include "custody/record.h"
#include "custody/verify.h"
#include "custody_version.h"
#include "json.h"
#include "vreport.h"
#include "vreport_int.h"

/* A count or number that may be CST_NONE (not known): null. */
static void
j_u64(struct json *j, uint64_t v)
{

	if (v == CST_NONE)
		json_null(j);
	else
		json_u64(j, v);
}

static void
j_time(struct json *j, int64_t ns)
{
	char t[40];

	vreport_time(ns, t);
	json_cstring(j, t);
}

static void
j_finding(struct json *j, const cst_finding *x)
{

	json_begin_object(j);
	json_key(j, "rule");
	json_cstring(j, x->rule);
	json_key(j, "severity");
	json_cstring(j, cst_severity_name(x->severity));
	json_key(j, "code");
	json_cstring(j, cst_err_name(x->code));
	json_key(j, "file");
	json_cstring(j, x->file);
	json_key(j, "segment_no");
	j_u64(j, x->segment_no);
	json_key(j, "offset");
	j_u64(j, x->offset);
	json_key(j, "block_no");
	j_u64(j, x->block_no);
	json_key(j, "block_last");
	j_u64(j, x->block_last);
	json_key(j, "seq_first");
	j_u64(j, x->seq_first);
	json_key(j, "seq_last");
	j_u64(j, x->seq_last);
	json_key(j, "detail");
	json_cstring(j, x->detail);
	json_end_object(j);
}

/* Where json_stmt writes the statements proven (want 1) or not. */
struct json_stmts {
	struct json *j;
	int want;
};

static void
json_stmt(int proven, const char *text, void *ctx)
{
	struct json_stmts *c = ctx;

	if (proven == c->want)
		json_cstring(c->j, text);
}

/* The timestamp tokens (SPEC section 15) and the window they prove. */
static void
json_tokens(struct json *j, const struct vreport *r)
{
	static const char *states[] = { "verified", "unverified", "failed",
	    "no-checkpoint", "revocation-unknown" };
	static const char *revs[] = { "not-checked", "not-revoked", "revoked",
	    "unknown" };
	const struct vreport_token *t, *lo = NULL, *hi = NULL;
	size_t i;

	json_key(j, "timestamps");
	json_begin_array(j);
	for (i = 0; i < r->ntokens; i++) {
		t = &r->tokens[i];
		json_begin_object(j);
		json_key(j, "file");
		json_cstring(j, t->path);
		json_key(j, "checkpoint");
		json_cstring(j, t->checkpoint);
		json_key(j, "state");
		json_cstring(j, states[t->state]);
		json_key(j, "gen_time");
		if (t->state == VREPORT_TOKEN_VERIFIED)
			j_time(j, t->gen_ns);
		else
			json_null(j);
		json_key(j, "accuracy_ns");
		if (t->accuracy_ns >= 0)
			json_i64(j, t->accuracy_ns);
		else
			json_null(j);
		json_key(j, "blocks");
		json_u64(j, t->blocks);
		json_key(j, "records");
		json_u64(j, t->records);
		json_key(j, "tsa");
		json_cstring(j, t->state == VREPORT_TOKEN_VERIFIED ? t->tsa :
		    NULL);
		json_key(j, "revocation");
		json_cstring(j, revs[t->revocation]);
		json_key(j, "why");
		json_cstring(j, t->why);
		json_end_object(j);
		if (t->state != VREPORT_TOKEN_VERIFIED)
			continue;
		if (lo == NULL || t->gen_ns < lo->gen_ns)
			lo = t;
		if (hi == NULL || t->gen_ns > hi->gen_ns)
			hi = t;
	}
	json_end_array(j);
	json_key(j, "timestamp_window");
	if (lo == NULL) {
		json_null(j);
		return;
	}
	json_begin_object(j);
	for (i = 0; i < 2; i++) {
		t = i == 0 ? lo : hi;
		json_key(j, i == 0 ? "earliest" : "latest");
		json_begin_object(j);
		json_key(j, "gen_time");
		j_time(j, t->gen_ns);
		json_key(j, "blocks");
		json_u64(j, t->blocks);
		json_key(j, "records");
		json_u64(j, t->records);
		json_key(j, "file");
		json_cstring(j, t->path);
		json_end_object(j);
	}
	json_end_object(j);
}

static void
json_chain(struct json *j, const struct vreport *r)
{
	const cst_verify_summary *s = cst_verifier_summary(r->v);

	size_t i;

	json_begin_object(j);
	json_key(j, "blocks");
	j_u64(j, s->blocks);
	json_key(j, "data_blocks");
	j_u64(j, s->data_blocks);
	json_key(j, "seal_blocks");
	j_u64(j, s->seal_blocks);
	json_key(j, "bad_frames");
	j_u64(j, s->blocks_bad);
	json_key(j, "records");
	j_u64(j, s->records);
	json_key(j, "records_verified");
	j_u64(j, s->records_verified);
	json_key(j, "events");
	j_u64(j, s->kinds[CST_REC_EVENT]);
	json_key(j, "access_records");
	j_u64(j, s->kinds[CST_REC_ACCESS]);
	json_key(j, "audit_records");
	json_begin_object(j);
	for (i = 1; i <= CST_REC_KIND_MAX; i++) {
		/* Reserved kinds (R-REP-10) have no name: no key "-" twice. */
		if (strcmp(cst_record_kind_name((unsigned)i), "-") == 0)
			continue;
		json_key(j, cst_record_kind_name((unsigned)i));
		j_u64(j, s->kinds[i]);
	}
	json_end_object(j);
	json_key(j, "first_seq");
	j_u64(j, s->first_seq);
	json_key(j, "last_seq");
	j_u64(j, s->last_seq);
	json_key(j, "first_time");
	if (s->first_seq != CST_NONE)
		j_time(j, s->first_ns);
	else
		json_null(j);
	json_key(j, "last_time");
	if (s->first_seq != CST_NONE)
		j_time(j, s->last_ns);
	else
		json_null(j);
	json_key(j, "head");
	if (s->has_head) {
		json_begin_object(j);
		json_key(j, "block_no");
		j_u64(j, s->head_block_no);
		json_key(j, "hash");
		json_hex(j, s->head_hash, CST_HASH_LEN);
		json_key(j, "next_seq");
		j_u64(j, s->head_next_seq);
		json_end_object(j);
	} else {
		json_null(j);
	}
	json_key(j, "tail_unsealed");
	json_bool(j, s->tail_unsealed);
	json_key(j, "tail_partial_bytes");
	j_u64(j, s->tail_partial);
	json_end_object(j);
}

static void
json_segments(struct json *j, const struct vreport *r)
{
	const cst_seg_info *g;
	size_t i, n;

	g = cst_verifier_segments(r->v, &n);
	json_begin_array(j);
	for (i = 0; i < n; i++) {
		json_begin_object(j);
		json_key(j, "segment_no");
		j_u64(j, g[i].segment_no);
		json_key(j, "segment_last");
		j_u64(j, g[i].segment_last);
		json_key(j, "file");
		json_cstring(j, g[i].path);
		json_key(j, "status");
		json_cstring(j, cst_seg_status_name(g[i].status));
		json_key(j, "size");
		j_u64(j, g[i].size);
		json_key(j, "sealed");
		json_bool(j, g[i].sealed);
		json_key(j, "blocks");
		j_u64(j, g[i].blocks);
		json_key(j, "records");
		j_u64(j, g[i].records);
		json_key(j, "first_block");
		j_u64(j, g[i].first_block);
		json_key(j, "last_block");
		j_u64(j, g[i].last_block);
		json_key(j, "first_seq");
		j_u64(j, g[i].first_seq);
		json_key(j, "last_seq");
		j_u64(j, g[i].last_seq);
		json_key(j, "failures");
		j_u64(j, g[i].failures);
		json_key(j, "partial_tail_bytes");
		j_u64(j, g[i].tail_bytes);
		json_key(j, "quarantine");
		json_cstring(j, cst_quarantine_name(g[i].quarantine));
		json_end_object(j);
	}
	json_end_array(j);
}

static void
json_audit(struct json *j, const struct vreport *r)
{
	const cst_verify_summary *s = cst_verifier_summary(r->v);
	const cst_recovery_info *rc;
	const cst_loss_info *l;
	size_t i, n;

	json_key(j, "recoveries");
	json_begin_array(j);
	rc = cst_verifier_recoveries(r->v, &n);
	for (i = 0; i < n; i++) {
		json_begin_object(j);
		json_key(j, "seq");
		j_u64(j, rc[i].seq);
		json_key(j, "time");
		j_time(j, rc[i].recv_ns);
		json_key(j, "segment_no");
		j_u64(j, rc[i].segment_no);
		json_key(j, "valid_len");
		j_u64(j, rc[i].valid_len);
		json_key(j, "cut_len");
		j_u64(j, rc[i].cut_len);
		json_key(j, "last_block_no");
		json_i64(j, rc[i].last_block_no);
		json_key(j, "quarantine");
		json_cstring(j, rc[i].quarantine);
		json_key(j, "cut_sha256");
		json_cstring(j, rc[i].cut_sha256);
		json_key(j, "quarantine_check");
		json_cstring(j, cst_quarantine_name(rc[i].state));
		json_end_object(j);
	}
	json_end_array(j);
	json_key(j, "losses");
	json_begin_object(j);
	json_key(j, "records");
	j_u64(j, s->losses);
	json_key(j, "udp_dropped");
	j_u64(j, s->udp_dropped);
	json_key(j, "kernel_dropped");
	j_u64(j, s->kernel_dropped);
	json_key(j, "oversize");
	j_u64(j, s->oversize);
	json_key(j, "list");
	json_begin_array(j);
	l = cst_verifier_losses(r->v, &n);
	for (i = 0; i < n; i++) {
		json_begin_object(j);
		json_key(j, "seq");
		j_u64(j, l[i].seq);
		json_key(j, "time");
		j_time(j, l[i].recv_ns);
		json_key(j, "listener");
		json_cstring(j, l[i].listener);
		json_key(j, "udp_dropped");
		j_u64(j, l[i].udp_dropped);
		json_key(j, "kernel_dropped");
		j_u64(j, l[i].kernel_dropped);
		json_key(j, "oversize");
		j_u64(j, l[i].oversize);
		json_end_object(j);
	}
	json_end_array(j);
	json_end_object(j);
}

static void
json_rest(struct json *j, const struct vreport *r)
{
	const cst_verify_summary *s = cst_verifier_summary(r->v);
	const cst_epoch_info *e;
	const cst_unproven *u;
	const cst_ckp_info *c;
	const cst_note_info *nt;
	size_t i, n;

	json_key(j, "epochs");
	json_begin_array(j);
	e = cst_verifier_epochs(r->v, &n);
	for (i = 0; i < n; i++) {
		json_begin_object(j);
		json_key(j, "epoch");
		j_u64(j, e[i].epoch);
		json_key(j, "fingerprint");
		json_cstring(j, e[i].fpr);
		json_key(j, "public_key");
		json_hex(j, e[i].pk, CST_PK_LEN);
		json_key(j, "valid_from");
		j_u64(j, e[i].valid_from);
		json_key(j, "certified");
		j_time(j, e[i].created_ns);
		json_key(j, "certificate_file");
		json_cstring(j, e[i].file);
		json_key(j, "certificate_offset");
		j_u64(j, e[i].offset);
		json_key(j, "blocks");
		j_u64(j, e[i].blocks);
		json_end_object(j);
	}
	json_end_array(j);
	json_key(j, "segments");
	json_segments(j, r);
	json_key(j, "chain");
	json_chain(j, r);
	json_audit(j, r);
	json_key(j, "unproven");
	json_begin_array(j);
	u = cst_verifier_unproven(r->v, &n);
	for (i = 0; i < n; i++) {
		json_begin_object(j);
		json_key(j, "block_first");
		j_u64(j, u[i].block_first);
		json_key(j, "block_last");
		j_u64(j, u[i].block_last);
		json_key(j, "seq_first");
		j_u64(j, u[i].seq_first);
		json_key(j, "seq_last");
		j_u64(j, u[i].seq_last);
		json_key(j, "why");
		json_cstring(j, u[i].why);
		json_end_object(j);
	}
	json_end_array(j);
	json_key(j, "checkpoints");
	json_begin_array(j);
	c = cst_verifier_checkpoints(r->v, &n);
	for (i = 0; i < n; i++) {
		json_begin_object(j);
		json_key(j, "file");
		json_cstring(j, c[i].path);
		json_key(j, "from_store");
		json_bool(j, c[i].from_store);
		json_key(j, "ok");
		json_bool(j, c[i].ok);
		json_key(j, "blocks");
		j_u64(j, c[i].blocks);
		json_key(j, "records");
		j_u64(j, c[i].records);
		json_key(j, "head");
		json_hex(j, c[i].head, CST_HASH_LEN);
		json_key(j, "time");
		j_time(j, c[i].time_ns);
		json_key(j, "epoch");
		j_u64(j, c[i].epoch);
		json_key(j, "why");
		json_cstring(j, c[i].why);
		json_end_object(j);
	}
	json_end_array(j);
	json_tokens(j, r);
	json_key(j, "notes");
	json_begin_array(j);
	nt = cst_verifier_notes(r->v, &n);
	for (i = 0; i < n; i++) {
		json_begin_object(j);
		json_key(j, "file");
		json_cstring(j, nt[i].path);
		json_key(j, "from_store");
		json_bool(j, nt[i].from_store);
		json_key(j, "ok");
		json_bool(j, nt[i].ok);
		json_key(j, "size");
		j_u64(j, nt[i].size);
		json_key(j, "root");
		json_hex(j, nt[i].root, CST_HASH_LEN);
		json_key(j, "why");
		json_cstring(j, nt[i].why);
		json_end_object(j);
	}
	json_end_array(j);
	json_key(j, "note_anchor");
	if (s->has_note) {
		json_begin_object(j);
		json_key(j, "size");
		j_u64(j, s->note_size);
		json_key(j, "given_size");
		if (s->has_given_note)
			j_u64(j, s->given_note_size);
		else
			json_null(j);
		json_key(j, "log_certs");
		j_u64(j, s->log_certs);
		json_end_object(j);
	} else {
		json_null(j);
	}
	json_key(j, "anchor");
	if (s->has_anchor) {
		json_begin_object(j);
		json_key(j, "blocks");
		j_u64(j, s->anchor_blocks);
		json_key(j, "records");
		j_u64(j, s->anchor_records);
		json_key(j, "given");
		json_bool(j, s->has_given_anchor && s->given_anchor_blocks ==
		    s->anchor_blocks);
		json_end_object(j);
	} else {
		json_null(j);
	}
	json_key(j, "counts");
	json_begin_object(j);
	json_key(j, "failures");
	j_u64(j, s->failures);
	json_key(j, "errors");
	j_u64(j, s->errors);
	json_key(j, "warnings");
	j_u64(j, s->warnings);
	json_key(j, "notes");
	j_u64(j, s->notes);
	json_key(j, "bytes");
	j_u64(j, s->bytes);
	json_end_object(j);
}

static void
json_report(struct json *j, const struct vreport *r)
{
	static const char *verdicts[] = { "intact", "failed", "error" };
	struct json_stmts sc;
	char fpr[2 * CST_FPR_LEN + 1], warn[256], sha[CST_ROOT_SHA256_TEXT_LEN];
	int verdict = vreport_verdict(r);
	size_t i;

	json_begin_object(j);
	json_key(j, "verdict");
	json_cstring(j, verdicts[verdict]);
	json_key(j, "exit_code");
	json_i64(j, verdict);
	json_key(j, "warning");
	if (vreport_warning(r, warn, sizeof(warn)))
		json_cstring(j, warn);
	else
		json_null(j);
	json_key(j, "findings");
	json_begin_array(j);
	for (i = 0; i < r->nfindings; i++)
		j_finding(j, &r->findings[i]);
	json_end_array(j);
	json_key(j, "tool");
	json_cstring(j, "custody-verify");
	json_key(j, "version");
	json_cstring(j, CUSTODY_VERSION);
	json_key(j, "commit");
	json_cstring(j, CUSTODY_GIT_COMMIT);
	json_key(j, "format_version");
	json_i64(j, CST_FORMAT_VERSION);
	json_key(j, "verified_at");
	j_time(j, r->verified_ns);
	/* The case the examiner named; null for a field not given. */
	json_key(j, "case");
	json_begin_object(j);
	json_key(j, "id");
	json_cstring(j, r->cs.id);
	json_key(j, "exhibit");
	json_cstring(j, r->cs.exhibit);
	json_key(j, "examiner");
	json_cstring(j, r->cs.examiner);
	json_key(j, "organisation");
	json_cstring(j, r->cs.organisation);
	json_end_object(j);
	json_key(j, "command");
	json_cstring(j, r->cmdline);
	json_key(j, "live");
	json_bool(j, r->live);
	json_key(j, "error");
	json_cstring(j, r->error);
	json_key(j, "origin");
	json_cstring(j, r->origin);
	json_key(j, "root");
	if (r->has_root) {
		cst_key_fingerprint_hex(r->root.pk, fpr);
		json_begin_object(j);
		json_key(j, "fingerprint");
		json_cstring(j, fpr);
		json_key(j, "public_key");
		json_hex(j, r->root.pk, CST_PK_LEN);
		/* R-KEY-5, as the text report and custodyd keygen print it. */
		cst_root_pub_sha256_text(&r->root, sha);
		json_key(j, "sha256");
		json_cstring(j, sha);
		json_key(j, "source");
		json_cstring(j, r->root_source);
		json_key(j, "from_store");
		json_bool(j, r->root_from_store);
		json_key(j, "fingerprint_given");
		json_cstring(j, r->root_fpr_given);
		json_end_object(j);
		json_key(j, "chain_id");
		json_hex(j, r->root.chain_id, CST_CHAIN_ID_LEN);
	} else {
		json_null(j);
		json_key(j, "chain_id");
		json_null(j);
	}
	json_key(j, "inputs");
	json_begin_array(j);
	for (i = 0; i < r->ninputs; i++) {
		json_begin_object(j);
		json_key(j, "file");
		json_cstring(j, r->inputs[i].path);
		json_key(j, "role");
		json_cstring(j, r->inputs[i].role);
		json_key(j, "readable");
		json_bool(j, r->inputs[i].ok);
		json_key(j, "size");
		j_u64(j, r->inputs[i].ok ? r->inputs[i].size : CST_NONE);
		json_key(j, "sha256");
		if (r->inputs[i].ok)
			json_hex(j, r->inputs[i].d.sha256, 32);
		else
			json_null(j);
		json_key(j, "blake2b");
		if (r->inputs[i].ok)
			json_hex(j, r->inputs[i].d.blake2b, 32);
		else
			json_null(j);
		json_end_object(j);
	}
	json_end_array(j);
	if (r->v != NULL)
		json_rest(j, r);
	json_key(j, "statements");
	sc.j = j;
	json_begin_object(j);
	json_key(j, "proven");
	json_begin_array(j);
	sc.want = 1;
	vreport_statements(r, json_stmt, &sc);
	json_end_array(j);
	json_key(j, "not_proven");
	json_begin_array(j);
	sc.want = 0;
	vreport_statements(r, json_stmt, &sc);
	json_end_array(j);
	json_end_object(j);
	json_end_object(j);
}

void
vreport_json(FILE *f, const struct vreport *r)
{
	struct json j;

	json_init_file(&j, f);
	json_report(&j, r);
	if (json_finish(&j) == 0)
		fputc('\n', f);
}
