/*
 * The report of a verification: what a run gathers, its verdict, and the
 * statements of what was proven (vreport_text.c and vreport_json.c print
 * them).
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
#include "vreport_int.h"

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
	for (i = 0; i < r->ntokens; i++) {
		free(r->tokens[i].path);
		free(r->tokens[i].checkpoint);
		free(r->tokens[i].why);
	}
	free(r->tokens);
	free(r->root_source);
	free(r->root_fpr_given);
	free(r->origin);
	free(r->error);
	free(r->cmdline);
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

int
vreport_add_token(struct vreport *r, const struct vreport_token *t)
{
	struct vreport_token *n, c = *t;

	c.path = xstrdup(t->path);
	c.checkpoint = xstrdup(t->checkpoint);
	c.why = xstrdup(t->why);
	if ((t->path != NULL && c.path == NULL) ||
	    (t->checkpoint != NULL && c.checkpoint == NULL) ||
	    (t->why != NULL && c.why == NULL))
		goto err0;
	if ((n = realloc(r->tokens, (r->ntokens + 1) * sizeof(*n))) == NULL)
		goto err0;
	r->tokens = n;
	n[r->ntokens++] = c;
	return (0);

err0:
	free(c.path);
	free(c.checkpoint);
	free(c.why);
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

int
vreport_warning(const struct vreport *r, char *out, size_t n)
{
	const cst_verify_summary *s;
	size_t i, odd = 0;
	int len = 0;

	if (vreport_verdict(r) != VREPORT_INTACT)
		return (0);
	s = cst_verifier_summary(r->v);
	for (i = 0; i < r->ninputs; i++)
		if (strcmp(r->inputs[i].role, "not-segment") == 0)
			odd++;
	if (n > 0)
		out[0] = '\0';
	/* Under --live the tail is the frame being written (R-SEG-8). */
	if (s->tail_partial > 0 && !r->live)
		len = snprintf(out, n, "the last %" PRIu64 " bytes of the "
		    "newest segment, an incomplete block, were not verified",
		    s->tail_partial);
	if (odd > 0 && len >= 0 && (size_t)len < n)
		snprintf(out + len, n - (size_t)len, "%s%zu file(s) in "
		    "segments/ are not segments and were not verified",
		    len > 0 ? "; " : "", odd);
	return ((s->tail_partial > 0 && !r->live) || odd > 0);
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

static void
say(vreport_stmt_fn fn, void *ctx, int proven, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
say(vreport_stmt_fn fn, void *ctx, int proven, const char *fmt, ...)
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

/* Which root key the run trusted, and why it is or is not independent. */
static void
say_root(const struct vreport *r, vreport_stmt_fn fn, void *ctx)
{
	char fpr[2 * CST_FPR_LEN + 1], cid[2 * CST_CHAIN_ID_LEN + 1];

	if (!r->has_root)
		return;
	cst_key_fingerprint_hex(r->root.pk, fpr);
	cst_hex(r->root.chain_id, CST_CHAIN_ID_LEN, cid);
	say(fn, ctx, 1, "The verification used the root public key "
	    "with fingerprint %s, for the chain with id %s, read from "
	    "%s.", fpr, cid, r->root_source != NULL ?
	    r->root_source : "(unknown)");
	if (r->root_fpr_given != NULL && r->root_fpr_ok)
		say(fn, ctx, 1, "That key has the fingerprint given "
		    "independently to the verifier (%s).",
		    r->root_fpr_given);
	else if (r->root_fpr_given != NULL)
		say(fn, ctx, 0, "That key does NOT have the fingerprint given "
		    "independently to the verifier (%s): it is not the root "
		    "key the verifier was told to expect (SPEC R-KEY-1).",
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

/*
 * Failures found: the verifier's, or the report's failure findings when
 * there are more (those of the source, e.g. a stream, R-REP-8).
 */
static uint64_t
failures_found(const struct vreport *r, const cst_verify_summary *s)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i < r->nfindings; i++)
		if (r->findings[i].severity == CST_SEV_FAILURE)
			n++;
	return (n > s->failures ? n : s->failures);
}

/* The verdict on the blocks, the chain and the records. */
static void
say_chain(const struct vreport *r, vreport_stmt_fn fn, void *ctx)
{
	const cst_verify_summary *s;
	const cst_seg_info *segs;
	const cst_unproven *un;
	char head[2 * CST_HASH_LEN + 1];
	size_t nsegs, neps, nun, i, files = 0;
	uint64_t audits = 0;
	int intact;

	s = cst_verifier_summary(r->v);
	segs = cst_verifier_segments(r->v, &nsegs);
	(void)cst_verifier_epochs(r->v, &neps);
	un = cst_verifier_unproven(r->v, &nun);
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
		if (failures_found(r, s) == 0)
			/* Not intact only for want of reading: say just that. */
			say(fn, ctx, 0, "The store is not proven intact: no "
			    "integrity failure was found in what could be "
			    "read, but not everything could be read.");
		else
			say(fn, ctx, 0, "The store is NOT intact: %" PRIu64
			    " integrity failure(s) were found. Each is listed "
			    "with the file, the byte offset, the block number "
			    "and the sequence range where it was detected.",
			    failures_found(r, s));
		for (i = 0; i < nun; i++) {
			if (un[i].seq_first != CST_NONE &&
			    un[i].seq_last != CST_NONE &&
			    un[i].block_first == un[i].block_last)
				say(fn, ctx, 0, "Records with sequence numbers "
				    "%" PRIu64 " to %" PRIu64 " (block %" PRIu64
				    ") are not proven: %s.", un[i].seq_first,
				    un[i].seq_last, un[i].block_first, un[i].why);
			else if (un[i].seq_first != CST_NONE &&
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
}

/*
 * The forward security window (R-KEY-4): a key stolen while in use can
 * re-sign its whole epoch.
 */
static void
say_epochs(const struct vreport *r, vreport_stmt_fn fn, void *ctx)
{
	const cst_epoch_info *ep, *w = NULL;
	size_t n, i;

	ep = cst_verifier_epochs(r->v, &n);
	for (i = 0; i < n; i++)
		if (ep[i].blocks >= 2 && ep[i].last_ns > ep[i].first_ns &&
		    (w == NULL || ep[i].last_ns - ep[i].first_ns >
		    w->last_ns - w->first_ns))
			w = &ep[i];
	if (w == NULL)
		return;
	say(fn, ctx, 0, "Signatures prove who held a key, not when: anyone "
	    "who stole an epoch key while it was in use could have re-signed "
	    "every block of that epoch from its first block on. The longest "
	    "epoch here, %" PRIu32 ", signed blocks sealed over %" PRId64
	    " s (by the collector's clock); blocks an off-machine checkpoint "
	    "covers are beyond that reach (SPEC R-KEY-4).", w->epoch,
	    (w->last_ns - w->first_ns) / INT64_C(1000000000));
}

/* Completeness: what the checkpoints prove of the chain, and what not. */
static void
say_anchors(const struct vreport *r, vreport_stmt_fn fn, void *ctx)
{
	const cst_verify_summary *s = cst_verifier_summary(r->v);
	const char *held;
	int intact;

	intact = vreport_verdict(r) == VREPORT_INTACT;
	/*
	 * With failures listed, a checkpoint that holds shows only that its
	 * block is there with the hash it names, not that nothing before it
	 * was replaced.
	 */
	held = intact ? "the store contains that same chain up to there: "
	    "nothing up to that block was removed or replaced afterwards" :
	    "the store holds the block it names with the hash it states; "
	    "with the failures listed, that is all it shows of the blocks "
	    "before it";
	if (s->has_given_anchor && s->given_anchor_blocks > 0)
		say(fn, ctx, 1, "A checkpoint given from off the machine "
		    "shows the chain had reached block %" PRIu64 " (%" PRIu64
		    " records) when it was made, and %s (SPEC R-CKP-2).",
		    s->given_anchor_blocks - 1, s->given_anchor_records, held);
	if (s->has_anchor && s->anchor_blocks > 0 && (!s->has_given_anchor ||
	    s->anchor_blocks > s->given_anchor_blocks))
		say(fn, ctx, 0, "A checkpoint found only in the store, not "
		    "given from off the machine, reaches block %" PRIu64 " (%"
		    PRIu64 " records), and %s; this is weaker: whoever removed "
		    "the newest blocks could have deleted that checkpoint too, "
		    "which cannot be detected (SPEC R-CKP-4).",
		    s->anchor_blocks - 1, s->anchor_records, held);
	if (s->has_anchor && s->anchor_blocks > 0) {
		if (s->has_head && s->head_block_no + 1 > s->anchor_blocks)
			say(fn, ctx, 0, "Records after block %" PRIu64 " (from "
			    "sequence number %" PRIu64 ") are not covered by "
			    "any checkpoint: %s, but not their "
			    "completeness; deletion of the newest blocks "
			    "cannot be told from a collector that stopped "
			    "(SPEC R-CKP-3).", s->anchor_blocks - 1,
			    s->anchor_records, intact ? "their integrity and "
			    "order are proven" : "their integrity and order "
			    "are proven only outside what is listed as failed "
			    "or not proven");
	} else if (s->has_head) {
		say(fn, ctx, 0, "No checkpoint anchors this store, so its "
		    "completeness at the end is not proven: blocks after block "
		    "%" PRIu64 " (sequence number %" PRIu64 " on) could have "
		    "been deleted, or the whole store rolled back, without "
		    "trace (SPEC R-CKP-3). A checkpoint copied off the machine "
		    "earlier would prove it up to that checkpoint.",
		    s->head_block_no, s->head_next_seq);
	}
}

/*
 * What the timestamp tokens prove (R-TSA-7): an upper bound on when the
 * blocks their checkpoints cover were sealed, and nothing else.
 */
static void
say_tokens(const struct vreport *r, vreport_stmt_fn fn, void *ctx)
{
	const struct vreport_token *t, *lo = NULL, *hi = NULL;
	size_t i, unverified = 0, unknown = 0, verified = 0;
	int64_t acc = -1;
	char a[40], b[40];

	for (i = 0; i < r->ntokens; i++) {
		t = &r->tokens[i];
		if (t->state == VREPORT_TOKEN_UNVERIFIED)
			unverified++;
		if (t->state == VREPORT_TOKEN_UNKNOWN)
			unknown++;
		/* blocks 0 names no block (SPEC section 8): nothing to bound. */
		if (t->state != VREPORT_TOKEN_VERIFIED || t->blocks == 0)
			continue;
		verified++;
		if (lo == NULL || t->gen_ns < lo->gen_ns)
			lo = t;
		if (hi == NULL || t->gen_ns > hi->gen_ns)
			hi = t;
		if (t->accuracy_ns > acc)
			acc = t->accuracy_ns;
	}
	if (unverified > 0)
		say(fn, ctx, 0, "%zu timestamp token(s) are beside the "
		    "checkpoints but were not verified, since no TSA "
		    "certificate was given (--tsa-cert): nothing is claimed "
		    "from them (SPEC R-TSA-6).", unverified);
	if (unknown > 0)
		say(fn, ctx, 0, "%zu timestamp token(s) have a valid "
		    "signature, but whether their TSA certificate or a CA above "
		    "it was revoked could not be told from the CRLs given "
		    "(--tsa-crl): they are not counted as trusted time, and "
		    "nothing is claimed from them (SPEC R-TSA-9).", unknown);
	if (lo == NULL)
		return;
	vreport_time(lo->gen_ns, a);
	vreport_time(hi->gen_ns, b);
	say(fn, ctx, 1, "%zu timestamp token(s) verified against the TSA "
	    "certificate(s) given (signature, certificate chain, "
	    "time-stamping usage%s) over the exact bytes of their checkpoints "
	    "(SPEC R-TSA-5%s). The earliest shows that the chain up to block %"
	    PRIu64 " (%" PRIu64 " records) existed by %s, and the latest "
	    "that the chain up to block %" PRIu64 " (%" PRIu64 " records) "
	    "existed by %s, by the time-stamping authority's clock%s: an "
	    "upper bound on when those records were sealed (SPEC R-TSA-7).",
	    verified, r->tsa_crl_given ? ", and no certificate of the chain "
	    "revoked by the CRLs given" : "", r->tsa_crl_given ? ", R-TSA-9" :
	    "", lo->blocks - 1, lo->records, a, hi->blocks - 1,
	    hi->records, b, acc > 0 ? " (within its stated accuracy)" : "");
	if (!r->tsa_crl_given)
		say(fn, ctx, 0, "The revocation status of the TSA "
		    "certificate(s) was not checked, since no CRL was given "
		    "(--tsa-crl): a token signed under a certificate its CA "
		    "has revoked, after a compromise of the TSA's key say, "
		    "is counted here all the same (SPEC R-TSA-10).");
	say(fn, ctx, 0, "A timestamp bounds only from above: it does not "
	    "show when any event happened or was received (receive times "
	    "are the collector's clock), nor that a checkpoint was not made "
	    "long before its timestamp, and says nothing of blocks after "
	    "block %" PRIu64 ". It rests on the time-stamping authority's key "
	    "and honesty (SPEC R-TSA-7).", hi->blocks - 1);
}

/* The newest note checkpoint that holds (SPEC 13). */
static void
say_notes(const struct vreport *r, vreport_stmt_fn fn, void *ctx)
{
	const cst_verify_summary *s = cst_verifier_summary(r->v);

	if (s->has_given_note)
		say(fn, ctx, 1, "The newest note checkpoint given from off the "
		    "machine that verified is of size %" PRIu64 " (blocks 0 to "
		    "%" PRIu64 "): its log signature holds and the chain tree "
		    "of the store's first %" PRIu64 " blocks has its root "
		    "(SPEC R-NOTE-6); a witness that cosigned it vouches that "
		    "no chain it saw before was rewritten.",
		    s->given_note_size, s->given_note_size - 1,
		    s->given_note_size);
	if (s->has_note && (!s->has_given_note ||
	    s->note_size > s->given_note_size))
		say(fn, ctx, 0, "The newest note checkpoint found only in the "
		    "store that verified is of size %" PRIu64 " (blocks 0 to "
		    "%" PRIu64 "): the chain tree of the store's first %"
		    PRIu64 " blocks has its root (SPEC R-NOTE-6); like any "
		    "checkpoint kept only in the store, it could have been "
		    "deleted with the blocks it covers (SPEC R-NOTE-7).",
		    s->note_size, s->note_size - 1, s->note_size);
}

/* Completeness (checkpoints), the tail, and the collector's own account. */
static void
say_rest(const struct vreport *r, vreport_stmt_fn fn, void *ctx)
{
	const cst_verify_summary *s = cst_verifier_summary(r->v);
	const cst_recovery_info *recs;
	size_t nrecs, i;

	recs = cst_verifier_recoveries(r->v, &nrecs);
	say_epochs(r, fn, ctx);
	say_anchors(r, fn, ctx);
	say_tokens(r, fn, ctx);
	say_notes(r, fn, ctx);
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
		    "segment are an incomplete block and were not verified: "
		    "no block starts after them, and nothing proves what "
		    "they would have held (SPEC R-SEG-8).", s->tail_partial);
	if (s->recoveries > 0) {
		say(fn, ctx, 1, "The collector recorded %" PRIu64 " crash "
		    "recovery(ies) in the chain.", s->recoveries);
		for (i = 0; i < nrecs; i++) {
			if (recs[i].state == CST_QUAR_OK) {
				say(fn, ctx, 1, "quarantine/%s has the length "
				    "(%" PRIu64 " bytes) and SHA-256 that the "
				    "recovery record (record %" PRIu64 ") states "
				    "for the bytes cut from segment %" PRIu64
				    " (SPEC R-REC-4).", recs[i].quarantine,
				    recs[i].cut_len, recs[i].seq,
				    recs[i].segment_no);
				say(fn, ctx, 0, "What quarantine/%s holds is not "
				    "authenticated: the bytes were cut because "
				    "they were not a complete signed block, so no "
				    "signature covers them. The match shows only "
				    "that the file is the one the recovery record "
				    "(record %" PRIu64 ") describes; that record "
				    "is the collector's own statement, signed "
				    "with a key that was on the collector's host, "
				    "and does not prove that those bytes were "
				    "ever in segment %" PRIu64 " (SPEC R-REC-4).",
				    recs[i].quarantine, recs[i].seq,
				    recs[i].segment_no);
			}
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
		    PRIu64 " loss record(s), that %" PRIu64 " UDP datagram(s) "
		    "were dropped by the collector and %" PRIu64 " by the "
		    "kernel: those messages are not in the store, by the "
		    "collector's own account.", s->losses, s->udp_dropped,
		    s->kernel_dropped);
	if (s->oversize > 0)
		say(fn, ctx, 1, "The collector recorded %" PRIu64 " message(s) "
		    "longer than its maximum message size: those are in the "
		    "store, split into pieces, one record each: every piece "
		    "but the last is flagged truncated and every piece but "
		    "the first continued (SPEC section 5, record flags bits 1 "
		    "and 2).", s->oversize);
	if (s->records > 0)
		say(fn, ctx, 0, "Receive times are those of the collector's "
		    "clock when it received each message; the verification "
		    "proves they were not changed after sealing, not that the "
		    "clock was right.");
}

void
vreport_statements(const struct vreport *r, vreport_stmt_fn fn, void *ctx)
{

	say_root(r, fn, ctx);
	if (r->error != NULL || r->v == NULL) {
		say(fn, ctx, 0, "Nothing was verified: %s.", r->error != NULL ?
		    r->error : "the verification did not run");
		return;
	}
	say_chain(r, fn, ctx);
	say_rest(r, fn, ctx);
}
