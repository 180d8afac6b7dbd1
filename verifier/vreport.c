/*
 * The report of a verification, as text and as JSON.
 *
 * The wording of the statements is meant to be quoted: each says what
 * was checked, against what, and cites the SPEC rule, and what was not
 * proven is said as plainly as what was.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "custody/error.h"
#include "custody/hash.h"
#include "custody/keys.h"
#include "custody/record.h"
#include "custody/verify.h"
#include "custody_version.h"
#include "vreport.h"

static const char *kind_names[CST_REC_KIND_MAX + 1] = { "event", "start",
    "stop", "recovery", "key_epoch", "loss", "stats", "clock", "reload",
    "refusal" };

static const char *sev_names[] = { "failure", "error", "warning", "note" };

static const char *seg_status_names[] = { "valid", "unsealed", "invalid",
    "missing", "gap", "foreign", "duplicate", "unreadable" };

static const char *quar_names[] = { "none", "verified", "mismatch",
    "absent", "bad-name" };

static char *
xstrdup(const char *s)
{

	return (s != NULL ? strdup(s) : NULL);
}

void
vreport_init(struct vreport *r)
{
	struct timespec ts;

	memset(r, 0, sizeof(*r));
	clock_gettime(CLOCK_REALTIME, &ts);
	r->verified_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void
vreport_free(struct vreport *r)
{
	size_t i;

	for (i = 0; i < r->ninputs; i++)
		free(r->inputs[i].path);
	free(r->inputs);
	for (i = 0; i < r->nfindings; i++) {
		free((char *)(uintptr_t)r->findings[i].file);
		free((char *)(uintptr_t)r->findings[i].detail);
	}
	free(r->findings);
	for (i = 0; i < r->nunused; i++)
		free(r->unused_ckps[i]);
	free(r->unused_ckps);
	free(r->root_source);
	free(r->root_fpr_given);
	free(r->error);
	memset(r, 0, sizeof(*r));
}

int
vreport_add_finding(struct vreport *r, const cst_finding *f)
{
	cst_finding *n, c = *f;

	c.file = xstrdup(f->file);
	c.detail = xstrdup(f->detail);
	if ((f->file != NULL && c.file == NULL) || c.detail == NULL)
		goto err0;
	if ((n = realloc(r->findings, (r->nfindings + 1) * sizeof(*n))) ==
	    NULL)
		goto err0;
	r->findings = n;
	n[r->nfindings++] = c;
	return (0);

err0:
	free((char *)(uintptr_t)c.file);
	free((char *)(uintptr_t)c.detail);
	return (CST_ENOMEM);
}

void
vreport_finding_cb(const cst_finding *f, void *ctx)
{
	struct vreport *r = ctx;

	/* A finding lost to memory still counts in the verifier's summary. */
	(void)vreport_add_finding(r, f);
}

int
vreport_add_input(struct vreport *r, const char *path, const char *role,
    const cst_digests *d, uint64_t size)
{
	struct vreport_input *n, *in;

	if ((n = realloc(r->inputs, (r->ninputs + 1) * sizeof(*n))) == NULL)
		return (CST_ENOMEM);
	r->inputs = n;
	in = &n[r->ninputs];
	memset(in, 0, sizeof(*in));
	if ((in->path = strdup(path)) == NULL)
		return (CST_ENOMEM);
	in->role = role;
	if (d != NULL) {
		in->d = *d;
		in->size = size;
		in->ok = 1;
	} else {
		in->ok = cst_digests_file(path, &in->d, &in->size) == 0;
	}
	r->ninputs++;
	return (0);
}

int
vreport_add_unused(struct vreport *r, const char *path)
{
	char **n;

	if ((n = realloc(r->unused_ckps, (r->nunused + 1) * sizeof(*n))) ==
	    NULL)
		return (CST_ENOMEM);
	r->unused_ckps = n;
	if ((n[r->nunused] = strdup(path)) == NULL)
		return (CST_ENOMEM);
	r->nunused++;
	return (0);
}

int
vreport_verdict(const struct vreport *r)
{
	const cst_verify_summary *s;
	size_t i;

	for (i = 0; i < r->nfindings; i++)
		if (r->findings[i].severity == CST_SEV_FAILURE)
			return (VREPORT_FAILED);
	if (r->error != NULL || r->v == NULL)
		return (VREPORT_ERROR);
	s = cst_verifier_summary(r->v);
	if (s->failures > 0)
		return (VREPORT_FAILED);
	if (s->errors > 0)
		return (VREPORT_ERROR);
	return (VREPORT_INTACT);
}

void
vreport_time(int64_t ns, char out[40])
{
	int64_t sec = ns / 1000000000, frac = ns % 1000000000;
	struct tm tm;
	time_t t;

	if (frac < 0) {
		frac += 1000000000;
		sec--;
	}
	t = (time_t)sec;
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		snprintf(out, 40, "@%" PRId64, ns);
		return;
	}
	snprintf(out + strlen(out), 40 - strlen(out), ".%09" PRId64 "Z", frac);
}

/* Statements. */

typedef void (*stmt_fn)(int proven, const char *text, void *ctx);

static void
say(stmt_fn fn, void *ctx, int proven, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
say(stmt_fn fn, void *ctx, int proven, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	fn(proven, s != NULL ? s : "(out of memory)", ctx);
	free(s);
}

static void
statements(const struct vreport *r, stmt_fn fn, void *ctx)
{
	const cst_verify_summary *s;
	const cst_seg_info *segs;
	const cst_unproven *un;
	const cst_recovery_info *recs;
	char fpr[2 * CST_FPR_LEN + 1], cid[2 * CST_CHAIN_ID_LEN + 1];
	char head[2 * CST_HASH_LEN + 1];
	size_t nsegs, neps, nun, nrecs, i, files = 0;
	uint64_t audits = 0;
	int intact;

	if (r->has_root) {
		cst_key_fingerprint_hex(r->root.pk, fpr);
		cst_hex(r->root.chain_id, CST_CHAIN_ID_LEN, cid);
		say(fn, ctx, 1, "The verification used the root public key "
		    "with fingerprint %s, for the chain with id %s, read from "
		    "%s.", fpr, cid, r->root_source != NULL ?
		    r->root_source : "(unknown)");
		if (r->root_fpr_given != NULL)
			say(fn, ctx, 1, "That key has the fingerprint given "
			    "independently to the verifier (%s).",
			    r->root_fpr_given);
		else if (r->root_from_store)
			say(fn, ctx, 0, "The root public key was read from the "
			    "store being verified. Whoever could alter the "
			    "store could also have replaced that key, so "
			    "nothing below is proven unless the fingerprint "
			    "%s is confirmed from an independent source (for "
			    "example, the record made when the collector was "
			    "set up).", fpr);
	}
	if (r->error != NULL || r->v == NULL) {
		say(fn, ctx, 0, "Nothing was verified: %s.", r->error != NULL ?
		    r->error : "the verification did not run");
		return;
	}
	s = cst_verifier_summary(r->v);
	segs = cst_verifier_segments(r->v, &nsegs);
	(void)cst_verifier_epochs(r->v, &neps);
	un = cst_verifier_unproven(r->v, &nun);
	recs = cst_verifier_recoveries(r->v, &nrecs);
	for (i = 0; i < nsegs; i++)
		if (segs[i].path != NULL)
			files++;
	for (i = 1; i <= CST_REC_KIND_MAX; i++)
		audits += s->kinds[i];
	intact = vreport_verdict(r) == VREPORT_INTACT;

	if (r->live)
		say(fn, ctx, 0, "The store was being written while it was "
		    "verified: the verification covers each file as it was "
		    "when read, up to its last complete block.");
	if (intact && s->blocks > 0) {
		cst_hex(s->head_hash, CST_HASH_LEN, head);
		say(fn, ctx, 1, "All %" PRIu64 " blocks in the %zu segment "
		    "files listed carry valid Ed25519 signatures by %zu epoch "
		    "key(s), each certified in turn from the root key (SPEC "
		    "R-BLK-3, R-KEY-1, R-KEY-2).", s->blocks, files, neps);
		say(fn, ctx, 1, "The blocks form one unbroken hash chain from "
		    "block 0 to block %" PRIu64 " (hash %s): no block between "
		    "them is missing, repeated, reordered or altered, and the "
		    "segments are numbered without gap (SPEC R-BLK-6, R-SEG-2, "
		    "R-SEG-3).", s->head_block_no, head);
		if (s->records > 0)
			say(fn, ctx, 1, "The chain holds %" PRIu64 " records "
			    "(%" PRIu64 " received events and %" PRIu64
			    " records of the collector's own audit) with the "
			    "gapless sequence numbers %" PRIu64 " to %" PRIu64
			    "; the exact bytes of every record match the "
			    "hashes and Merkle roots signed in its block (SPEC "
			    "R-BLK-4, R-BLK-5, R-BLK-7, R-REC-1).", s->records,
			    s->kinds[CST_REC_EVENT], audits, s->first_seq,
			    s->last_seq);
	} else if (intact) {
		say(fn, ctx, 1, "The store holds no block yet; nothing in it "
		    "contradicts the format.");
	} else {
		say(fn, ctx, 0, "The store is NOT intact: %" PRIu64 " integrity "
		    "failure(s) were found. Each is listed with the file, the "
		    "byte offset, the block number and the sequence range "
		    "where it was detected.", s->failures);
		for (i = 0; i < nun; i++) {
			if (un[i].seq_first != CST_NONE &&
			    un[i].seq_last != CST_NONE)
				say(fn, ctx, 0, "Records with sequence numbers "
				    "%" PRIu64 " to %" PRIu64 " (blocks %" PRIu64
				    " to %" PRIu64 ") are not proven: %s.",
				    un[i].seq_first, un[i].seq_last,
				    un[i].block_first, un[i].block_last,
				    un[i].why);
			else if (un[i].block_first != CST_NONE)
				say(fn, ctx, 0, "Blocks %" PRIu64 " to %" PRIu64
				    " are not proven: %s.", un[i].block_first,
				    un[i].block_last, un[i].why);
		}
		if (s->blocks > 0)
			say(fn, ctx, 1, "Outside what is listed as failed or "
			    "not proven, %" PRIu64 " blocks verified (signature, "
			    "certificate, chain link) and %" PRIu64 " records "
			    "matched their signed hashes; this does not make "
			    "the store as a whole intact.", s->blocks,
			    s->records_verified);
	}
	if (s->errors > 0)
		say(fn, ctx, 0, "%" PRIu64 " input(s) or part(s) could not be "
		    "read; what they hold is not verified.", s->errors);

	if (s->has_anchor && s->anchor_blocks > 0) {
		say(fn, ctx, 1, "A checkpoint signed by the collector shows the "
		    "chain had reached block %" PRIu64 " (%" PRIu64 " records) "
		    "when it was made, and the store contains that same chain "
		    "up to there: nothing up to that block was removed or "
		    "replaced afterwards (SPEC R-CKP-2).",
		    s->anchor_blocks - 1, s->anchor_records);
		if (s->has_head && s->head_block_no + 1 > s->anchor_blocks)
			say(fn, ctx, 0, "Records after block %" PRIu64 " (from "
			    "sequence number %" PRIu64 ") are not covered by "
			    "any checkpoint given: their integrity and order "
			    "are proven, but not their completeness; deletion "
			    "of the newest blocks cannot be told from a "
			    "collector that stopped (SPEC R-CKP-3).",
			    s->anchor_blocks - 1, s->anchor_records);
	} else if (s->has_head) {
		say(fn, ctx, 0, "No checkpoint anchors this store, so its "
		    "completeness at the end is not proven: blocks after block "
		    "%" PRIu64 " (sequence number %" PRIu64 " on) could have "
		    "been deleted, or the whole store rolled back, without "
		    "trace (SPEC R-CKP-3). A checkpoint copied off the machine "
		    "earlier would prove it up to that checkpoint.",
		    s->head_block_no, s->head_next_seq);
	}
	for (i = 0; i < r->ninputs; i++)
		if (strcmp(r->inputs[i].role, "not-segment") == 0)
			say(fn, ctx, 0, "%s is in segments/ but its name does "
			    "not end in .cst: it is not a segment and was not "
			    "verified (SPEC R-SEG-0).", r->inputs[i].path);
	if (s->tail_unsealed)
		say(fn, ctx, 0, "The newest segment is not sealed: the "
		    "collector was still writing it, or stopped without "
		    "closing it (SPEC R-SEG-4).");
	if (s->tail_partial > 0)
		say(fn, ctx, 0, "%" PRIu64 " bytes at the end of the newest "
		    "segment are an incomplete block and were not verified.",
		    s->tail_partial);
	if (s->recoveries > 0) {
		say(fn, ctx, 1, "The collector recorded %" PRIu64 " crash "
		    "recovery(ies) in the chain.", s->recoveries);
		for (i = 0; i < nrecs; i++) {
			if (recs[i].state == CST_QUAR_OK)
				say(fn, ctx, 1, "The %" PRIu64 " bytes cut from "
				    "segment %" PRIu64 " in recovery (record %"
				    PRIu64 ") are in quarantine/%s, with the "
				    "length and SHA-256 the chain records (SPEC "
				    "R-REC-4).", recs[i].cut_len,
				    recs[i].segment_no, recs[i].seq,
				    recs[i].quarantine);
			else if (recs[i].state == CST_QUAR_ABSENT)
				say(fn, ctx, 0, "The %" PRIu64 " bytes cut from "
				    "segment %" PRIu64 " in recovery (record %"
				    PRIu64 ") were not available (quarantine/%s)"
				    ", so what was cut is not checked.",
				    recs[i].cut_len, recs[i].segment_no,
				    recs[i].seq, recs[i].quarantine);
		}
	}
	if (s->losses > 0)
		say(fn, ctx, 1, "The collector recorded in the chain, in %"
		    PRIu64 " loss record(s), that it did not receive or could "
		    "not keep %" PRIu64 " UDP datagram(s) (%" PRIu64 " dropped "
		    "by the kernel, %" PRIu64 " oversize): those messages are "
		    "not in the store, by the collector's own account.",
		    s->losses, s->udp_dropped, s->kernel_dropped, s->oversize);
	if (s->records > 0)
		say(fn, ctx, 0, "Receive times are those of the collector's "
		    "clock when it received each message; the verification "
		    "proves they were not changed after sealing, not that the "
		    "clock was right.");
}

/* Text. */

static void
text_stmt(int proven, const char *text, void *ctx)
{
	struct { FILE *f; int want; } *c = ctx;

	if (proven == c->want)
		fprintf(c->f, "  - %s\n", text);
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

	fprintf(f, "  [%s] %s", sev_names[x->severity], x->rule);
	if (x->file != NULL)
		fprintf(f, " %s", x->file);
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
	fprintf(f, "\n      %s\n", x->detail);
}

void
vreport_text(FILE *f, const struct vreport *r)
{
	const cst_verify_summary *s;
	const cst_seg_info *segs;
	const cst_epoch_info *eps;
	const cst_ckp_info *ckps;
	const cst_loss_info *losses;
	char t[40], t2[40], a[24], b[24], c1[24], c2[24], hex[65], hex2[65];
	char fpr[2 * CST_FPR_LEN + 1];
	struct { FILE *f; int want; } sc;
	size_t i, n;
	int verdict = vreport_verdict(r);

	vreport_time(r->verified_ns, t);
	fprintf(f, "custody-verify %s (commit %s), store format v%d\n",
	    CUSTODY_VERSION, CUSTODY_GIT_COMMIT, CST_FORMAT_VERSION);
	fprintf(f, "verified at %s (UTC)\n\n", t);
	fprintf(f, "VERDICT: %s\n\n", verdict == VREPORT_INTACT ? "INTACT" :
	    verdict == VREPORT_FAILED ? "FAILED: integrity failure" :
	    "ERROR: could not verify");

	fprintf(f, "Trust anchor\n");
	if (r->has_root) {
		cst_key_fingerprint_hex(r->root.pk, fpr);
		cst_hex(r->root.chain_id, CST_CHAIN_ID_LEN, hex);
		fprintf(f, "  root key fingerprint %s\n  chain id %s\n  from "
		    "%s\n", fpr, hex, r->root_source != NULL ?
		    r->root_source : "-");
		if (r->root_from_store && r->root_fpr_given == NULL)
			fprintf(f, "  WARNING: this root key was taken from "
			    "the store being verified; confirm its "
			    "fingerprint independently\n");
		if (r->root_fpr_given != NULL)
			fprintf(f, "  fingerprint given: %s\n",
			    r->root_fpr_given);
	} else {
		fprintf(f, "  none\n");
	}

	fprintf(f, "\nInput files (%zu)\n", r->ninputs);
	for (i = 0; i < r->ninputs; i++) {
		if (!r->inputs[i].ok) {
			fprintf(f, "  %-10s %s (unreadable)\n",
			    r->inputs[i].role, r->inputs[i].path);
			continue;
		}
		cst_hex(r->inputs[i].d.sha256, 32, hex);
		cst_hex(r->inputs[i].d.blake2b, 32, hex2);
		fprintf(f, "  %-10s %s\n             %" PRIu64 " bytes\n"
		    "             sha256  %s\n             blake2b %s\n",
		    r->inputs[i].role, r->inputs[i].path, r->inputs[i].size,
		    hex, hex2);
	}

	if (r->v != NULL) {
		s = cst_verifier_summary(r->v);
		eps = cst_verifier_epochs(r->v, &n);
		fprintf(f, "\nKey epochs (%zu)\n", n);
		for (i = 0; i < n; i++) {
			vreport_time(eps[i].created_ns, t2);
			fprintf(f, "  epoch %" PRIu32 "  fingerprint %s  from "
			    "block %" PRIu64 "  certified %s  signed %" PRIu64
			    " blocks\n", eps[i].epoch, eps[i].fpr,
			    eps[i].valid_from, t2, eps[i].blocks);
		}

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
			fprintf(f, "  %s  %s  %s%s\n      blocks %s..%s",
			    a, seg_status_names[g->status],
			    g->path != NULL ? g->path : "-",
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
				    quar_names[g->quarantine]);
			fprintf(f, "\n");
		}

		fprintf(f, "\nChain\n  blocks %" PRIu64 " (data %" PRIu64
		    ", seal %" PRIu64 "), frames that did not verify %" PRIu64
		    "\n", s->blocks, s->data_blocks, s->seal_blocks,
		    s->blocks_bad);
		fprintf(f, "  records %" PRIu64 " (verified %" PRIu64 ")",
		    s->records, s->records_verified);
		for (i = 0; i <= CST_REC_KIND_MAX; i++)
			if (s->kinds[i] > 0)
				fprintf(f, ", %s %" PRIu64, kind_names[i],
				    s->kinds[i]);
		fprintf(f, "\n");
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

		fprintf(f, "\nCollector audit\n  recoveries %" PRIu64 ", loss "
		    "records %" PRIu64 " (udp dropped %" PRIu64 ", kernel "
		    "dropped %" PRIu64 ", oversize %" PRIu64 ")\n",
		    s->recoveries, s->losses, s->udp_dropped,
		    s->kernel_dropped, s->oversize);
		{
			const cst_recovery_info *rc;

			rc = cst_verifier_recoveries(r->v, &n);
			for (i = 0; i < n; i++) {
				vreport_time(rc[i].recv_ns, t);
				fprintf(f, "  recovery seq %" PRIu64 " at %s: "
				    "segment %" PRIu64 " cut at %" PRIu64
				    ", %" PRIu64 " bytes to quarantine/%s: %s\n",
				    rc[i].seq, t, rc[i].segment_no,
				    rc[i].valid_len, rc[i].cut_len,
				    rc[i].quarantine, quar_names[rc[i].state]);
			}
		}
		losses = cst_verifier_losses(r->v, &n);
		for (i = 0; i < n && i < 20; i++) {
			vreport_time(losses[i].recv_ns, t);
			fprintf(f, "  loss seq %" PRIu64 " at %s: %s udp %" PRIu64
			    " kernel %" PRIu64 " oversize %" PRIu64 "\n",
			    losses[i].seq, t, losses[i].listener,
			    losses[i].udp_dropped, losses[i].kernel_dropped,
			    losses[i].oversize);
		}
		if (n > 20)
			fprintf(f, "  ... %zu more loss records\n", n - 20);

		ckps = cst_verifier_checkpoints(r->v, &n);
		fprintf(f, "\nCheckpoints (%zu given)\n", n);
		for (i = 0; i < n; i++) {
			vreport_time(ckps[i].time_ns, t);
			fprintf(f, "  %s: %s, %" PRIu64 " blocks, %" PRIu64
			    " records, made %s%s%s\n", ckps[i].path != NULL ?
			    ckps[i].path : "-", ckps[i].ok ? "holds" : "FAILS",
			    ckps[i].blocks, ckps[i].records, t,
			    ckps[i].ok ? "" : ": ", ckps[i].why);
		}
		for (i = 0; i < r->nunused; i++)
			fprintf(f, "  (in the store, not given: %s)\n",
			    r->unused_ckps[i]);
	}

	fprintf(f, "\nFindings (%zu)\n", r->nfindings);
	for (i = 0; i < r->nfindings; i++)
		text_finding(f, &r->findings[i]);
	if (r->nfindings == 0)
		fprintf(f, "  none\n");

	sc.f = f;
	fprintf(f, "\nWhat this verification proves\n");
	sc.want = 1;
	statements(r, text_stmt, &sc);
	fprintf(f, "\nWhat it does not prove\n");
	sc.want = 0;
	statements(r, text_stmt, &sc);
}

/* JSON. */

/* Writes s as a JSON string; bytes that are not UTF-8 become U+FFFD. */
static void
j_str(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n, k;

	if (s == NULL) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	while (*p != '\0') {
		if (*p == '"' || *p == '\\') {
			fprintf(f, "\\%c", *p++);
		} else if (*p < 0x20 || *p == 0x7f) {
			fprintf(f, "\\u%04x", *p++);
		} else if (*p < 0x80) {
			fputc(*p++, f);
		} else {
			n = (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 :
			    (*p & 0xf8) == 0xf0 ? 4 : 0;
			for (k = 1; n > 0 && k < n; k++)
				if ((p[k] & 0xc0) != 0x80)
					n = 0;
			/* Overlong and surrogate forms are not UTF-8 either. */
			if (n == 2 && *p < 0xc2)
				n = 0;
			if (n == 3 && ((*p == 0xe0 && p[1] < 0xa0) ||
			    (*p == 0xed && p[1] >= 0xa0)))
				n = 0;
			if (n == 4 && ((*p == 0xf0 && p[1] < 0x90) ||
			    *p > 0xf4 || (*p == 0xf4 && p[1] >= 0x90)))
				n = 0;
			if (n == 0) {
				fputs("\\ufffd", f);
				p++;
			} else {
				fwrite(p, 1, n, f);
				p += n;
			}
		}
	}
	fputc('"', f);
}

static void
j_u64(FILE *f, uint64_t v)
{

	if (v == CST_NONE)
		fputs("null", f);
	else
		fprintf(f, "%" PRIu64, v);
}

static void
j_key(FILE *f, int *first, const char *k)
{

	fputs(*first ? "" : ",", f);
	*first = 0;
	fprintf(f, "\"%s\":", k);
}

static void
j_time(FILE *f, int64_t ns)
{
	char t[40];

	vreport_time(ns, t);
	j_str(f, t);
}

static void
j_hex(FILE *f, const uint8_t *p, size_t n)
{
	char h[2 * 64 + 1];

	cst_hex(p, n, h);
	j_str(f, h);
}

static void
j_finding(FILE *f, const cst_finding *x)
{
	int first = 1;

	fputc('{', f);
	j_key(f, &first, "rule");
	j_str(f, x->rule);
	j_key(f, &first, "severity");
	j_str(f, sev_names[x->severity]);
	j_key(f, &first, "code");
	j_str(f, cst_err_name(x->code));
	j_key(f, &first, "file");
	j_str(f, x->file);
	j_key(f, &first, "segment_no");
	j_u64(f, x->segment_no);
	j_key(f, &first, "offset");
	j_u64(f, x->offset);
	j_key(f, &first, "block_no");
	j_u64(f, x->block_no);
	j_key(f, &first, "block_last");
	j_u64(f, x->block_last);
	j_key(f, &first, "seq_first");
	j_u64(f, x->seq_first);
	j_key(f, &first, "seq_last");
	j_u64(f, x->seq_last);
	j_key(f, &first, "detail");
	j_str(f, x->detail);
	fputc('}', f);
}

static void
json_stmt(int proven, const char *text, void *ctx)
{
	struct { FILE *f; int want; int n; } *c = ctx;

	if (proven != c->want)
		return;
	fputs(c->n++ > 0 ? "," : "", c->f);
	j_str(c->f, text);
}

static void
json_chain(FILE *f, const struct vreport *r)
{
	const cst_verify_summary *s = cst_verifier_summary(r->v);
	int first = 1, k = 1;
	size_t i;

	fputc('{', f);
	j_key(f, &first, "blocks");
	j_u64(f, s->blocks);
	j_key(f, &first, "data_blocks");
	j_u64(f, s->data_blocks);
	j_key(f, &first, "seal_blocks");
	j_u64(f, s->seal_blocks);
	j_key(f, &first, "bad_frames");
	j_u64(f, s->blocks_bad);
	j_key(f, &first, "records");
	j_u64(f, s->records);
	j_key(f, &first, "records_verified");
	j_u64(f, s->records_verified);
	j_key(f, &first, "events");
	j_u64(f, s->kinds[CST_REC_EVENT]);
	j_key(f, &first, "audit_records");
	fputc('{', f);
	for (i = 1; i <= CST_REC_KIND_MAX; i++) {
		j_key(f, &k, kind_names[i]);
		j_u64(f, s->kinds[i]);
	}
	fputc('}', f);
	j_key(f, &first, "first_seq");
	j_u64(f, s->first_seq);
	j_key(f, &first, "last_seq");
	j_u64(f, s->last_seq);
	j_key(f, &first, "first_time");
	if (s->first_seq != CST_NONE)
		j_time(f, s->first_ns);
	else
		fputs("null", f);
	j_key(f, &first, "last_time");
	if (s->first_seq != CST_NONE)
		j_time(f, s->last_ns);
	else
		fputs("null", f);
	j_key(f, &first, "head");
	if (s->has_head) {
		k = 1;
		fputc('{', f);
		j_key(f, &k, "block_no");
		j_u64(f, s->head_block_no);
		j_key(f, &k, "hash");
		j_hex(f, s->head_hash, CST_HASH_LEN);
		j_key(f, &k, "next_seq");
		j_u64(f, s->head_next_seq);
		fputc('}', f);
	} else {
		fputs("null", f);
	}
	j_key(f, &first, "tail_unsealed");
	fputs(s->tail_unsealed ? "true" : "false", f);
	j_key(f, &first, "tail_partial_bytes");
	j_u64(f, s->tail_partial);
	fputc('}', f);
}

static void
json_segments(FILE *f, const struct vreport *r)
{
	const cst_seg_info *g;
	size_t i, n;
	int first;

	g = cst_verifier_segments(r->v, &n);
	fputc('[', f);
	for (i = 0; i < n; i++) {
		first = 1;
		fputs(i > 0 ? ",{" : "{", f);
		j_key(f, &first, "segment_no");
		j_u64(f, g[i].segment_no);
		j_key(f, &first, "segment_last");
		j_u64(f, g[i].segment_last);
		j_key(f, &first, "file");
		j_str(f, g[i].path);
		j_key(f, &first, "status");
		j_str(f, seg_status_names[g[i].status]);
		j_key(f, &first, "size");
		j_u64(f, g[i].size);
		j_key(f, &first, "sealed");
		fputs(g[i].sealed ? "true" : "false", f);
		j_key(f, &first, "blocks");
		j_u64(f, g[i].blocks);
		j_key(f, &first, "records");
		j_u64(f, g[i].records);
		j_key(f, &first, "first_block");
		j_u64(f, g[i].first_block);
		j_key(f, &first, "last_block");
		j_u64(f, g[i].last_block);
		j_key(f, &first, "first_seq");
		j_u64(f, g[i].first_seq);
		j_key(f, &first, "last_seq");
		j_u64(f, g[i].last_seq);
		j_key(f, &first, "failures");
		j_u64(f, g[i].failures);
		j_key(f, &first, "partial_tail_bytes");
		j_u64(f, g[i].tail_bytes);
		j_key(f, &first, "quarantine");
		j_str(f, quar_names[g[i].quarantine]);
		fputc('}', f);
	}
	fputc(']', f);
}

static void
json_audit(FILE *f, const struct vreport *r)
{
	const cst_verify_summary *s = cst_verifier_summary(r->v);
	const cst_recovery_info *rc;
	const cst_loss_info *l;
	size_t i, n;
	int first;

	fputs(",\"recoveries\":[", f);
	rc = cst_verifier_recoveries(r->v, &n);
	for (i = 0; i < n; i++) {
		first = 1;
		fputs(i > 0 ? ",{" : "{", f);
		j_key(f, &first, "seq");
		j_u64(f, rc[i].seq);
		j_key(f, &first, "time");
		j_time(f, rc[i].recv_ns);
		j_key(f, &first, "segment_no");
		j_u64(f, rc[i].segment_no);
		j_key(f, &first, "valid_len");
		j_u64(f, rc[i].valid_len);
		j_key(f, &first, "cut_len");
		j_u64(f, rc[i].cut_len);
		j_key(f, &first, "last_block_no");
		fprintf(f, "%" PRId64, rc[i].last_block_no);
		j_key(f, &first, "quarantine");
		j_str(f, rc[i].quarantine);
		j_key(f, &first, "cut_sha256");
		j_str(f, rc[i].cut_sha256);
		j_key(f, &first, "quarantine_check");
		j_str(f, quar_names[rc[i].state]);
		fputc('}', f);
	}
	fputs("],\"losses\":{", f);
	first = 1;
	j_key(f, &first, "records");
	j_u64(f, s->losses);
	j_key(f, &first, "udp_dropped");
	j_u64(f, s->udp_dropped);
	j_key(f, &first, "kernel_dropped");
	j_u64(f, s->kernel_dropped);
	j_key(f, &first, "oversize");
	j_u64(f, s->oversize);
	j_key(f, &first, "list");
	fputc('[', f);
	l = cst_verifier_losses(r->v, &n);
	for (i = 0; i < n; i++) {
		first = 1;
		fputs(i > 0 ? ",{" : "{", f);
		j_key(f, &first, "seq");
		j_u64(f, l[i].seq);
		j_key(f, &first, "time");
		j_time(f, l[i].recv_ns);
		j_key(f, &first, "listener");
		j_str(f, l[i].listener);
		j_key(f, &first, "udp_dropped");
		j_u64(f, l[i].udp_dropped);
		j_key(f, &first, "kernel_dropped");
		j_u64(f, l[i].kernel_dropped);
		j_key(f, &first, "oversize");
		j_u64(f, l[i].oversize);
		fputc('}', f);
	}
	fputs("]}", f);
}

static void
json_rest(FILE *f, const struct vreport *r)
{
	const cst_verify_summary *s = cst_verifier_summary(r->v);
	const cst_epoch_info *e;
	const cst_unproven *u;
	const cst_ckp_info *c;
	size_t i, n;
	int first;

	fputs(",\"epochs\":[", f);
	e = cst_verifier_epochs(r->v, &n);
	for (i = 0; i < n; i++) {
		first = 1;
		fputs(i > 0 ? ",{" : "{", f);
		j_key(f, &first, "epoch");
		j_u64(f, e[i].epoch);
		j_key(f, &first, "fingerprint");
		j_str(f, e[i].fpr);
		j_key(f, &first, "public_key");
		j_hex(f, e[i].pk, CST_PK_LEN);
		j_key(f, &first, "valid_from");
		j_u64(f, e[i].valid_from);
		j_key(f, &first, "certified");
		j_time(f, e[i].created_ns);
		j_key(f, &first, "certificate_file");
		j_str(f, e[i].file);
		j_key(f, &first, "certificate_offset");
		j_u64(f, e[i].offset);
		j_key(f, &first, "blocks");
		j_u64(f, e[i].blocks);
		fputc('}', f);
	}
	fputs("],\"segments\":", f);
	json_segments(f, r);
	fputs(",\"chain\":", f);
	json_chain(f, r);
	json_audit(f, r);
	fputs(",\"unproven\":[", f);
	u = cst_verifier_unproven(r->v, &n);
	for (i = 0; i < n; i++) {
		first = 1;
		fputs(i > 0 ? ",{" : "{", f);
		j_key(f, &first, "block_first");
		j_u64(f, u[i].block_first);
		j_key(f, &first, "block_last");
		j_u64(f, u[i].block_last);
		j_key(f, &first, "seq_first");
		j_u64(f, u[i].seq_first);
		j_key(f, &first, "seq_last");
		j_u64(f, u[i].seq_last);
		j_key(f, &first, "why");
		j_str(f, u[i].why);
		fputc('}', f);
	}
	fputs("],\"checkpoints\":[", f);
	c = cst_verifier_checkpoints(r->v, &n);
	for (i = 0; i < n; i++) {
		first = 1;
		fputs(i > 0 ? ",{" : "{", f);
		j_key(f, &first, "file");
		j_str(f, c[i].path);
		j_key(f, &first, "ok");
		fputs(c[i].ok ? "true" : "false", f);
		j_key(f, &first, "blocks");
		j_u64(f, c[i].blocks);
		j_key(f, &first, "records");
		j_u64(f, c[i].records);
		j_key(f, &first, "head");
		j_hex(f, c[i].head, CST_HASH_LEN);
		j_key(f, &first, "time");
		j_time(f, c[i].time_ns);
		j_key(f, &first, "epoch");
		j_u64(f, c[i].epoch);
		j_key(f, &first, "why");
		j_str(f, c[i].why);
		fputc('}', f);
	}
	fputs("],\"anchor\":", f);
	if (s->has_anchor) {
		first = 1;
		fputc('{', f);
		j_key(f, &first, "blocks");
		j_u64(f, s->anchor_blocks);
		j_key(f, &first, "records");
		j_u64(f, s->anchor_records);
		fputc('}', f);
	} else {
		fputs("null", f);
	}
	fputs(",\"counts\":{", f);
	first = 1;
	j_key(f, &first, "failures");
	j_u64(f, s->failures);
	j_key(f, &first, "errors");
	j_u64(f, s->errors);
	j_key(f, &first, "warnings");
	j_u64(f, s->warnings);
	j_key(f, &first, "notes");
	j_u64(f, s->notes);
	j_key(f, &first, "bytes");
	j_u64(f, s->bytes);
	fputc('}', f);
}

void
vreport_json(FILE *f, const struct vreport *r)
{
	static const char *verdicts[] = { "intact", "failed", "error" };
	struct { FILE *f; int want; int n; } sc;
	char fpr[2 * CST_FPR_LEN + 1];
	int verdict = vreport_verdict(r), first = 1;
	size_t i;

	fputc('{', f);
	j_key(f, &first, "verdict");
	j_str(f, verdicts[verdict]);
	j_key(f, &first, "exit_code");
	fprintf(f, "%d", verdict);
	j_key(f, &first, "findings");
	fputc('[', f);
	for (i = 0; i < r->nfindings; i++) {
		if (i > 0)
			fputc(',', f);
		j_finding(f, &r->findings[i]);
	}
	fputc(']', f);
	j_key(f, &first, "tool");
	j_str(f, "custody-verify");
	j_key(f, &first, "version");
	j_str(f, CUSTODY_VERSION);
	j_key(f, &first, "commit");
	j_str(f, CUSTODY_GIT_COMMIT);
	j_key(f, &first, "format_version");
	fprintf(f, "%d", CST_FORMAT_VERSION);
	j_key(f, &first, "verified_at");
	j_time(f, r->verified_ns);
	j_key(f, &first, "live");
	fputs(r->live ? "true" : "false", f);
	j_key(f, &first, "error");
	j_str(f, r->error);
	j_key(f, &first, "root");
	if (r->has_root) {
		int k = 1;

		cst_key_fingerprint_hex(r->root.pk, fpr);
		fputc('{', f);
		j_key(f, &k, "fingerprint");
		j_str(f, fpr);
		j_key(f, &k, "public_key");
		j_hex(f, r->root.pk, CST_PK_LEN);
		j_key(f, &k, "source");
		j_str(f, r->root_source);
		j_key(f, &k, "from_store");
		fputs(r->root_from_store ? "true" : "false", f);
		j_key(f, &k, "fingerprint_given");
		j_str(f, r->root_fpr_given);
		fputc('}', f);
		j_key(f, &first, "chain_id");
		j_hex(f, r->root.chain_id, CST_CHAIN_ID_LEN);
	} else {
		fputs("null", f);
		j_key(f, &first, "chain_id");
		fputs("null", f);
	}
	j_key(f, &first, "inputs");
	fputc('[', f);
	for (i = 0; i < r->ninputs; i++) {
		int k = 1;

		fputs(i > 0 ? ",{" : "{", f);
		j_key(f, &k, "file");
		j_str(f, r->inputs[i].path);
		j_key(f, &k, "role");
		j_str(f, r->inputs[i].role);
		j_key(f, &k, "readable");
		fputs(r->inputs[i].ok ? "true" : "false", f);
		j_key(f, &k, "size");
		j_u64(f, r->inputs[i].ok ? r->inputs[i].size : CST_NONE);
		j_key(f, &k, "sha256");
		if (r->inputs[i].ok)
			j_hex(f, r->inputs[i].d.sha256, 32);
		else
			fputs("null", f);
		j_key(f, &k, "blake2b");
		if (r->inputs[i].ok)
			j_hex(f, r->inputs[i].d.blake2b, 32);
		else
			fputs("null", f);
		fputc('}', f);
	}
	fputc(']', f);
	j_key(f, &first, "unused_store_checkpoints");
	fputc('[', f);
	for (i = 0; i < r->nunused; i++) {
		if (i > 0)
			fputc(',', f);
		j_str(f, r->unused_ckps[i]);
	}
	fputc(']', f);
	if (r->v != NULL)
		json_rest(f, r);
	j_key(f, &first, "statements");
	sc.f = f;
	fputs("{\"proven\":[", f);
	sc.want = 1;
	sc.n = 0;
	statements(r, json_stmt, &sc);
	fputs("],\"not_proven\":[", f);
	sc.want = 0;
	sc.n = 0;
	statements(r, json_stmt, &sc);
	fputs("]}}\n", f);
}
