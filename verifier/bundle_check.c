/*
 * custody-verify --bundle: verifies an evidence bundle with only the root
 * public key (cst_bundle_verify, SPEC section 11) and says, in words an
 * investigator can put in a statement, what it proves and what it does
 * not.  Nothing of the bundle is listed unless every rule holds.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "custody/bundle.h"
#include "custody/checkpoint.h"
#include "custody/error.h"
#include "custody/hash.h"
#include "custody/keys.h"
#include "custody/note.h"
#include "custody/segment.h"
#include "custody/verify.h"
#include "custody_version.h"

#include "bundle_check.h"
#include "access.h"
#include "caserec.h"
#include "exit.h"
#include "fileout.h"
#include "json.h"
#include "query.h"
#include "vcase.h"
#include "witness_verify.h"

struct ctx {
	FILE *out;
	int json;
	struct json j;        /* the report, with json */
	int records;
	int section;          /* 0 none yet, 1 blocks, 2 records, 3 checkpoints */
	const cst_bundle_info *info;
	cst_buf line;
	size_t ngiven;        /* checkpoints given with --checkpoint */
	uint64_t given_head;  /* the greatest head block_no + 1 among them */
	struct vcase cs;      /* the examiner's case, as given */
	/* --records-out: the disclosed records, written only if valid. */
	int recfmt;           /* 0 none, RECORDS_JSONL, RECORDS_RAW */
	cst_buf recs;
	/* --witness and --quorum (R-BND-18), borrowed */
	const cst_note_vkey *wkeys;
	size_t nwkeys;
	unsigned quorum;
	/* what on_note found */
	unsigned cosigned;
	char wnames[1024];
	const char *wbad;     /* the witness whose line does not verify */
};

enum { RECORDS_JSONL = 1, RECORDS_RAW = 2 };

/*
 * A record's raw bytes on one line of --records-format raw: a backslash
 * is written as two backslashes, an LF as a backslash and an 'n', every
 * other byte as it is, then one LF.  Reversible, and one line per record
 * whatever its bytes.
 */
static int
raw_line(cst_buf *o, const uint8_t *p, size_t len)
{
	size_t i, from = 0;
	int rc = 0;

	for (i = 0; i < len && rc == 0; i++) {
		if (p[i] != '\\' && p[i] != '\n')
			continue;
		if ((rc = cst_buf_append(o, p + from, i - from)) == 0)
			rc = cst_buf_append(o, p[i] == '\n' ? "\\n" : "\\\\",
			    2);
		from = i + 1;
	}
	if (rc == 0)
		rc = cst_buf_append(o, p + from, len - from);
	if (rc == 0)
		rc = cst_buf_append(o, "\n", 1);
	return (rc);
}

/* Moves the listing on to section s (4: the end), opening and closing. */
static void
enter(struct ctx *c, int s)
{
	static const char *jname[] = { "", "blocks", "records",
	    "checkpoints" };
	const cst_bundle_info *in = c->info;
	uint32_t count[4];

	count[1] = in->block_count;
	count[2] = in->record_count;
	count[3] = in->checkpoint_count;
	while (c->section < s) {
		if (c->json && c->section > 0)
			json_end_array(&c->j);
		if (++c->section > 3)
			break;
		if (c->json) {
			json_key(&c->j, jname[c->section]);
			json_begin_array(&c->j);
		} else if (count[c->section] > 0)
			fprintf(c->out, "%s (%u):\n", jname[c->section],
			    count[c->section]);
	}
}

static int
on_block(void *arg, uint32_t index, const cst_blk_hdr *h,
    const uint8_t hash[CST_HASH_LEN], uint32_t run, int anchored)
{
	struct ctx *c = arg;
	char hx[2 * CST_HASH_LEN + 1], t0[48], t1[48];

	(void)index;
	enter(c, 1);
	cst_hex(hash, CST_HASH_LEN, hx);
	query_time_format(h->min_time_ns, 3, t0, sizeof(t0));
	query_time_format(h->max_time_ns, 3, t1, sizeof(t1));
	if (c->json) {
		json_begin_object(&c->j);
		json_key(&c->j, "index");
		json_u64(&c->j, index);
		json_key(&c->j, "block_no");
		json_u64(&c->j, h->block_no);
		json_key(&c->j, "segment_no");
		json_u64(&c->j, h->segment_no);
		json_key(&c->j, "type");
		json_cstring(&c->j, h->type == CST_BLOCK_SEAL ? "seal" : "data");
		json_key(&c->j, "key_epoch");
		json_u64(&c->j, h->key_epoch);
		json_key(&c->j, "first_seq");
		json_u64(&c->j, h->first_seq);
		json_key(&c->j, "record_count");
		json_u64(&c->j, h->record_count);
		json_key(&c->j, "min_time");
		json_cstring(&c->j, t0);
		json_key(&c->j, "max_time");
		json_cstring(&c->j, t1);
		json_key(&c->j, "block_hash");
		json_cstring(&c->j, hx);
		json_key(&c->j, "run");
		json_u64(&c->j, run);
		json_key(&c->j, "anchored");
		json_bool(&c->j, (anchored & CST_BND_GIVEN) != 0);
		json_key(&c->j, "carried_checkpoint_head");
		json_bool(&c->j, (anchored & CST_BND_CARRIED) != 0);
		json_key(&c->j, "note_anchored");
		json_bool(&c->j, (anchored & CST_BND_NOTE) != 0);
		json_end_object(&c->j);
	} else {
		fprintf(c->out, "  block %llu (segment %llu, epoch %u, %u "
		    "records from seq %llu, %s .. %s) run %u%s\n    hash %s\n",
		    (unsigned long long)h->block_no,
		    (unsigned long long)h->segment_no, h->key_epoch,
		    h->record_count, (unsigned long long)h->first_seq, t0, t1,
		    run, (anchored & CST_BND_GIVEN) ? ", anchored by a "
		    "checkpoint given" : (anchored & CST_BND_NOTE) ? ", "
		    "anchored by the note checkpoint" :
		    (anchored & CST_BND_CARRIED) ?
		    ", ends at a checkpoint the bundle carries (not an "
		    "anchor)" : "", hx);
	}
	return (0);
}

static int
on_record(void *arg, uint32_t block_index, const cst_blk_hdr *h,
    uint32_t leaf, const cst_record *rec, const uint8_t *bytes, size_t len)
{
	struct ctx *c = arg;
	char t[48];

	(void)block_index;
	(void)bytes;
	(void)len;
	if (c->recfmt == RECORDS_JSONL &&
	    query_out_record(&c->recs, QUERY_JSON, rec, h->block_no) != 0)
		return (CST_ENOMEM);
	if (c->recfmt == RECORDS_RAW &&
	    raw_line(&c->recs, rec->raw.p, rec->raw.len) != 0)
		return (CST_ENOMEM);
	enter(c, 2);
	c->line.len = 0;
	if (c->json) {
		if (query_out_record(&c->line, QUERY_JSON, rec,
		    h->block_no) != 0 || c->line.len < 2)
			return (CST_ENOMEM);
		/* The record's JSON object, less its newline, plus its leaf. */
		json_begin_object(&c->j);
		json_key(&c->j, "leaf_index");
		json_u64(&c->j, leaf);
		json_key(&c->j, "record");
		json_raw(&c->j, c->line.p, c->line.len - 1);
		json_end_object(&c->j);
		return (0);
	}
	query_time_format(rec->recv_ns, 9, t, sizeof(t));
	fprintf(c->out, "  seq %llu: block %llu leaf %u, received %s\n",
	    (unsigned long long)rec->seq, (unsigned long long)h->block_no,
	    leaf, t);
	if (c->records) {
		if (query_out_record(&c->line, QUERY_TEXT, rec,
		    h->block_no) != 0)
			return (CST_ENOMEM);
		fprintf(c->out, "    %.*s", (int)c->line.len,
		    (const char *)c->line.p);
	}
	return (0);
}

static int
on_checkpoint(void *arg, uint32_t index, const cst_checkpoint *cp,
    int64_t anchor)
{
	struct ctx *c = arg;
	char hx[2 * CST_HASH_LEN + 1], t[48];

	(void)index;
	enter(c, 3);
	cst_hex(cp->head, CST_HASH_LEN, hx);
	query_time_format(cp->time_ns, 0, t, sizeof(t));
	if (c->json) {
		json_begin_object(&c->j);
		json_key(&c->j, "blocks");
		json_u64(&c->j, cp->blocks);
		json_key(&c->j, "records");
		json_u64(&c->j, cp->records);
		json_key(&c->j, "head");
		json_cstring(&c->j, hx);
		json_key(&c->j, "time");
		json_cstring(&c->j, t);
		json_key(&c->j, "epoch");
		json_u64(&c->j, cp->epoch);
		json_key(&c->j, "anchors_block_index");
		json_i64(&c->j, anchor);
		json_end_object(&c->j);
	} else {
		fprintf(c->out, "  checkpoint of %s: %llu blocks, %llu records, "
		    "head %s, epoch %u; %s\n", t,
		    (unsigned long long)cp->blocks,
		    (unsigned long long)cp->records, hx, cp->epoch,
		    anchor >= 0 ? "its head block is in the bundle, but signed "
		    "by an epoch key like the blocks it is no anchor" : "its "
		    "head block is not in the bundle");
	}
	return (0);
}

/*
 * R-BND-18: which of the given witnesses cosigned the bundle's note.  A
 * line of a given witness that does not verify stops the listing: the
 * bundle then fails.
 */
static int
on_note(void *arg, const uint8_t *text, size_t len, uint64_t size,
    const uint8_t root[CST_HASH_LEN])
{
	struct ctx *c = arg;
	cst_note n;
	size_t i, l;
	int vr;

	(void)size;
	(void)root;
	if (c->nwkeys == 0)
		return (0);
	if ((vr = cst_note_parse((const char *)text, len, &n)) != 0)
		return (vr);
	for (i = 0; i < c->nwkeys; i++) {
		vr = cst_note_cosig_verify(&n, &c->wkeys[i], NULL);
		if (vr == CST_ESIG) {
			c->wbad = c->wkeys[i].name;
			cst_note_close(&n);
			return (CST_ESIG);
		}
		if (vr != 0)
			continue;
		c->cosigned++;
		l = strlen(c->wnames);
		snprintf(c->wnames + l, sizeof(c->wnames) - l, "%s%s",
		    l > 0 ? ", " : "", c->wkeys[i].name);
	}
	cst_note_close(&n);
	return (0);
}

/* The note checkpoint that anchors blocks (SPEC 11.4), in the report. */
static void
report_note(struct ctx *c, const cst_bundle_info *info)
{
	char rhex[2 * CST_HASH_LEN + 1];
	int witnessed = c->nwkeys > 0 && c->cosigned >= c->quorum;

	cst_hex(info->tree_root, CST_HASH_LEN, rhex);
	if (c->json) {
		json_key(&c->j, "note_checkpoint");
		json_begin_object(&c->j);
		json_key(&c->j, "size");
		json_u64(&c->j, info->tree_size);
		json_key(&c->j, "root");
		json_cstring(&c->j, rhex);
		json_key(&c->j, "proofs");
		json_u64(&c->j, info->proof_count);
		json_key(&c->j, "anchored_blocks");
		json_u64(&c->j, info->note_blocks);
		json_key(&c->j, "witness_keys");
		json_u64(&c->j, c->nwkeys);
		json_key(&c->j, "quorum");
		json_u64(&c->j, c->nwkeys > 0 ? c->quorum : 0);
		json_key(&c->j, "cosigned");
		json_u64(&c->j, c->cosigned);
		json_key(&c->j, "cosigned_by");
		json_cstring(&c->j, c->wnames);
		json_key(&c->j, "witnessed");
		json_bool(&c->j, witnessed);
		json_end_object(&c->j);
		return;
	}
	fprintf(c->out, "Anchored by a note checkpoint: %u of the %u blocks "
	    "are, by their chain-tree inclusion proofs (SPEC R-BND-16, "
	    "R-BND-17), blocks of the chain whose tree of %llu blocks has "
	    "root %s, as the note the bundle carries states under the log "
	    "key the root key certified.\n", info->note_blocks,
	    info->block_count, (unsigned long long)info->tree_size, rhex);
	if (c->nwkeys == 0)
		fprintf(c->out, "Not proven: that the note is not one signed "
		    "with a stolen log key over a rewritten chain (the log key "
		    "is not forward secure).  No witness key was given: give "
		    "the witnesses' keys (--witness KEY, --quorum N) to check "
		    "their cosignatures on it.\n");
	else if (witnessed)
		fprintf(c->out, "Witnessed: %u of the %zu witness key(s) given "
		    "cosigned the note (quorum %u): %s.  They cosign a tree "
		    "only consistent with every one they cosigned before, and "
		    "never two roots for one size: a rewrite of these blocks "
		    "made after they cosigned cannot carry this note.\n",
		    c->cosigned, c->nwkeys, c->quorum, c->wnames);
	else
		fprintf(c->out, "NOT WITNESSED: %u of the %zu witness key(s) "
		    "given cosigned the note, fewer than the quorum of "
		    "%u%s%s.  The note anchor rests on the log key alone.\n",
		    c->cosigned, c->nwkeys, c->quorum,
		    c->cosigned > 0 ? ": " : "", c->wnames);
}

/* The bundle file, its digests and the trust anchor, before any listing. */
/*
 * A case field of the examiner checking the bundle, when given (the
 * bundle's maker's are in its note).
 */
static void
text_case(struct ctx *c, const char *name, const char *value)
{

	if (value == NULL)
		return;
	fprintf(c->out, "%s: ", name);
	json_text_puts(c->out, value);
	fputc('\n', c->out);
}

static void
report_head(struct ctx *c, const char *bundle, const char *rootf,
    size_t len, const cst_digests *dig, const cst_root_pub *root,
    const char *kfpr)
{
	char hsha[65], hb2[65], cid[2 * CST_CHAIN_ID_LEN + 1], now[48];
	char tool[128];

	cst_hex(dig->sha256, sizeof(dig->sha256), hsha);
	cst_hex(dig->blake2b, sizeof(dig->blake2b), hb2);
	cst_hex(root->chain_id, CST_CHAIN_ID_LEN, cid);
	query_time_format((int64_t)time(NULL) * 1000000000, 0, now,
	    sizeof(now));
	if (!c->json) {
		fprintf(c->out, "custody-verify %s (%s), evidence bundle check "
		    "at %s\nbundle  %s\n  %zu bytes\n  SHA-256 %s\n  BLAKE2b "
		    "%s\nroot key fingerprint %s (%s)\nchain %s\n",
		    CUSTODY_VERSION, CUSTODY_GIT_COMMIT, now, bundle, len,
		    hsha, hb2, kfpr, rootf, cid);
		text_case(c, "case", c->cs.id);
		text_case(c, "exhibit", c->cs.exhibit);
		text_case(c, "examiner", c->cs.examiner);
		text_case(c, "organisation", c->cs.organisation);
		return;
	}
	snprintf(tool, sizeof(tool), "custody-verify %s (%s)",
	    CUSTODY_VERSION, CUSTODY_GIT_COMMIT);
	json_begin_object(&c->j);
	json_key(&c->j, "tool");
	json_cstring(&c->j, tool);
	json_key(&c->j, "verified_at");
	json_cstring(&c->j, now);
	json_key(&c->j, "case");
	json_begin_object(&c->j);
	json_key(&c->j, "id");
	json_cstring(&c->j, c->cs.id);
	json_key(&c->j, "exhibit");
	json_cstring(&c->j, c->cs.exhibit);
	json_key(&c->j, "examiner");
	json_cstring(&c->j, c->cs.examiner);
	json_key(&c->j, "organisation");
	json_cstring(&c->j, c->cs.organisation);
	json_end_object(&c->j);
	json_key(&c->j, "bundle");
	json_begin_object(&c->j);
	json_key(&c->j, "path");
	json_cstring(&c->j, bundle);
	json_key(&c->j, "size");
	json_u64(&c->j, len);
	json_key(&c->j, "sha256");
	json_cstring(&c->j, hsha);
	json_key(&c->j, "blake2b");
	json_cstring(&c->j, hb2);
	json_end_object(&c->j);
	json_key(&c->j, "root_fingerprint");
	json_cstring(&c->j, kfpr);
	json_key(&c->j, "chain_id");
	json_cstring(&c->j, cid);
}

/*
 * The maker's note in the text report: quoted and escaped as a JSON
 * string (json.h), so that UTF-8 shows as itself and a control byte
 * cannot reach the terminal.
 */
static void
text_note(struct ctx *c, const uint8_t *note, size_t len)
{

	c->line.len = 0;
	if (json_escape(&c->line, note, len) == 0)
		fwrite(c->line.p, 1, c->line.len, c->out);
	else
		fputs("(out of memory)", c->out);
}

static void
result_valid(struct ctx *c, const cst_bundle_info *info,
    const cst_root_pub *root, const char *kfpr)
{
	char hdig[65], cid[2 * CST_CHAIN_ID_LEN + 1], created[48];

	cst_hex(info->digest, CST_HASH_LEN, hdig);
	cst_hex(root->chain_id, CST_CHAIN_ID_LEN, cid);
	query_time_format(info->created_ns, 0, created, sizeof(created));
	if (c->json) {
		json_key(&c->j, "digest");
		json_cstring(&c->j, hdig);
		json_key(&c->j, "created");
		json_cstring(&c->j, created);
		json_key(&c->j, "note");
		json_string(&c->j, info->note, info->note_len);
		json_key(&c->j, "epochs");
		json_u64(&c->j, info->cert_count);
		json_key(&c->j, "runs");
		json_u64(&c->j, info->runs);
		json_key(&c->j, "anchored_runs");
		json_u64(&c->j, info->given_runs);
		json_key(&c->j, "carried_checkpoint_runs");
		json_u64(&c->j, info->anchored_runs);
		json_key(&c->j, "given_checkpoints");
		json_u64(&c->j, c->ngiven);
		json_key(&c->j, "version");
		json_u64(&c->j, info->version);
		if (info->version == 2)
			report_note(c, info);
		json_key(&c->j, "result");
		json_cstring(&c->j, "valid");
		json_end_object(&c->j);
		return;
	}
	fprintf(c->out, "bundle digest %s\nmaker's note (not proven): ",
	    hdig);
	text_note(c, info->note, info->note_len);
	fprintf(c->out, "\nmade at (not proven) %s\n\n"
	    "RESULT: VALID\n"
	    "Proven: each of the %u records above is, byte for "
	    "byte, the record at the stated block and position of "
	    "chain %s, sealed under key epochs 1..%u certified "
	    "from the root key %s; its sequence number and "
	    "receive time are as stated.  The %u blocks form %u "
	    "run(s) of consecutive blocks with nothing missing "
	    "inside a run; %u run(s) are anchored by a checkpoint "
	    "given with --checkpoint: their blocks are those of the "
	    "chain that checkpoint attests (SPEC R-BND-12).\n"
	    "Not proven: that these are all the records a "
	    "search would have found (a bundle proves inclusion, "
	    "not completeness); anything about records and "
	    "blocks not in the bundle beyond their hashes; how "
	    "far the chain had grown, for runs no checkpoint "
	    "given anchors; the maker's note and time.\n",
	    created, info->record_count, cid, info->cert_count,
	    kfpr, info->block_count, info->runs, info->given_runs);
	if (info->version == 2)
		report_note(c, info);
	if (info->anchored_runs > 0)
		fprintf(c->out, "Not an anchor: %u run(s) end at the head of a "
		    "checkpoint the bundle itself carries.  Such a checkpoint "
		    "is signed by a collector epoch key, the same kind of key "
		    "that signs the blocks: whoever held that key could have "
		    "made both, so it proves nothing the blocks do not.\n",
		    info->anchored_runs);
	if (c->ngiven == 0 && info->note_blocks < info->block_count)
		fprintf(c->out, "Not proven: that the blocks %sare those the "
		    "collector sealed rather than ones signed with a stolen "
		    "epoch key, which can sign any block number from the "
		    "start of its epoch on.  No checkpoint was given: give "
		    "one kept off the machine (--checkpoint FILE) to prove "
		    "every block up to its head.\n", info->note_blocks > 0 ?
		    "no note anchors " : "");
	else if (c->ngiven > 0)
		fprintf(c->out, "Blocks after block %llu (the head of the "
		    "newest checkpoint given), if any, rest on epoch key "
		    "signatures only: a stolen epoch key could have made "
		    "them.\n", (unsigned long long)(c->given_head > 0 ?
		    c->given_head - 1 : 0));
}

static void
result_invalid(struct ctx *c, int rc, const cst_bundle_info *info)
{

	if (c->json) {
		json_key(&c->j, "result");
		json_cstring(&c->j, "invalid");
		json_key(&c->j, "rule");
		json_cstring(&c->j, info->rule != NULL ? info->rule : "-");
		json_key(&c->j, "error");
		json_cstring(&c->j, cst_err_name(rc));
		json_key(&c->j, "part");
		json_cstring(&c->j, info->part != NULL ? info->part : "-");
		json_key(&c->j, "entry");
		json_i64(&c->j, info->entry);
		json_key(&c->j, "offset");
		json_u64(&c->j, info->offset);
		json_key(&c->j, "block_no");
		json_i64(&c->j, info->block_no);
		json_end_object(&c->j);
		return;
	}
	fprintf(c->out, "\nRESULT: INVALID\nThe bundle fails %s (%s: %s) in "
	    "its %s", info->rule != NULL ? info->rule : "-",
	    cst_err_name(rc), cst_strerror(rc),
	    info->part != NULL ? info->part : "-");
	if (info->entry >= 0)
		fprintf(c->out, " entry %lld", (long long)info->entry);
	if (info->block_no >= 0)
		fprintf(c->out, " (block %lld)", (long long)info->block_no);
	fprintf(c->out, " at byte offset %llu.  Nothing in it is proven, and "
	    "no record of it is listed.\n", (unsigned long long)info->offset);
	if (c->wbad != NULL)
		fprintf(c->out, "A cosignature line of witness %s on the note "
		    "checkpoint does not verify: forged or altered.\n",
		    c->wbad);
	if (info->rule != NULL && strcmp(info->rule, "R-BND-12") == 0 &&
	    info->part != NULL && strcmp(info->part, "block") == 0 &&
	    info->proof_count == 0)
		fprintf(c->out, "That block is at or below the head of a "
		    "checkpoint given, but the bundle does not join it to that "
		    "head: it is not shown to be part of the chain the "
		    "checkpoint attests (signed with a stolen epoch key, or "
		    "from another history).\n");
	if (info->rule != NULL && strcmp(info->rule, "R-BND-12") == 0 &&
	    info->proof_count > 0)
		fprintf(c->out, "This bundle proves its blocks in its note "
		    "checkpoint (SPEC 11.4) rather than by block headers "
		    "joined to a checkpoint's head, so a checkpoint given "
		    "with --checkpoint cannot vouch for them: check it with "
		    "the witnesses' keys (--witness), or ask for a bundle "
		    "made with custody-query --bundle-headers.\n");
}

/* The verdict of cst_bundle_verify's rc, printed; returns the status. */
static int
report_result(struct ctx *c, int rc, const cst_bundle_info *info,
    const cst_root_pub *root, const char *kfpr)
{

	if (rc == 0) {
		result_valid(c, info, root, kfpr);
		return (EXIT_OK);
	}
	result_invalid(c, rc, info);
	return (rc == CST_ENOMEM ? EXIT_IO : EXIT_INTEGRITY);
}

static void
usage(void)
{

	fprintf(stderr, "usage: custody-verify --bundle FILE --root ROOT.pub "
	    "[--root-fpr HEX] [--checkpoint FILE]... [--witness KEY]... "
	    "[--quorum N] [--json] [--report "
	    "FILE] [--records] [--records-out FILE [--records-format "
	    "jsonl|raw]]\n    [--case ID] [--exhibit REF] [--examiner NAME] "
	    "[--organisation NAME] [--case-dir DIR]\n");
}

/*
 * Reads checkpoint file path (borrowed) into cp.  Returns an exit status
 * after saying why, or EXIT_OK.
 */
static int
load_given(const char *path, cst_checkpoint *cp)
{
	cst_map m;
	int rc;

	if ((rc = cst_map_open(path, &m)) != 0) {
		fprintf(stderr, "custody-verify: %s: %s\n", path,
		    cst_strerror(rc));
		return (EXIT_IO);
	}
	memset(cp, 0, sizeof(*cp));
	rc = cst_checkpoint_decode((const char *)m.p, m.len, cp);
	cst_map_close(&m);
	if (rc == 0)
		return (EXIT_OK);
	fprintf(stderr, "custody-verify: %s: not a checkpoint in the exact "
	    "form of SPEC section 8 (%s): altered or not a checkpoint\n",
	    path, cst_strerror(rc));
	return (rc == CST_ENOMEM ? EXIT_IO : EXIT_INTEGRITY);
}

/* What the command line of custody-verify --bundle asks for. */
struct bargs {
	const char *bundle, *rootf, *fpr, *report, *recout;
	const char *case_dir;
	int recfmt;
	const char **gpaths;    /* --checkpoint FILEs; the array to free */
	size_t ngp;
	cst_note_vkey *wkeys;   /* --witness; the array to free */
	size_t nwkeys;
	long quorum;            /* --quorum; 0: all the witness keys */
	int json, records;
	struct vcase cs;
};

/* Parses argv into a.  Returns EXIT_OK, EXIT_USAGE or EXIT_IO. */
static int
bundle_args(int argc, char **argv, struct bargs *a)
{
	static const struct option lo[] = {
		{ "bundle", required_argument, NULL, 'b' },
		{ "root", required_argument, NULL, 'k' },
		{ "key", required_argument, NULL, 'k' },
		{ "fingerprint", required_argument, NULL, 'F' },
		{ "root-fpr", required_argument, NULL, 'F' },
		{ "json", no_argument, NULL, 'j' },
		{ "report", required_argument, NULL, 'o' },
		{ "records", no_argument, NULL, 'r' },
		{ "records-out", required_argument, NULL, 'R' },
		{ "case-dir", required_argument, NULL, 'D' },
		{ "records-format", required_argument, NULL, 'f' },
		{ "checkpoint", required_argument, NULL, 'c' },
		{ "case", required_argument, NULL, VCASE_OPT_CASE },
		{ "exhibit", required_argument, NULL, VCASE_OPT_EXHIBIT },
		{ "examiner", required_argument, NULL, VCASE_OPT_EXAMINER },
		{ "organisation", required_argument, NULL, VCASE_OPT_ORGANISATION },
		{ "witness", required_argument, NULL, 'w' },
		{ "quorum", required_argument, NULL, 'Q' },
		{ NULL, 0, NULL, 0 },
	};
	const char **np;
	cst_note_vkey *wk;
	char why[256], *end;
	int ch;

	memset(a, 0, sizeof(*a));
	optind = 1;
	opterr = 1;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'b': a->bundle = optarg; break;
		case 'k': a->rootf = optarg; break;
		case 'F': a->fpr = optarg; break;
		case 'j': a->json = 1; break;
		case 'o': a->report = optarg; break;
		case 'r': a->records = 1; break;
		case 'R': a->recout = optarg; break;
		case 'D': a->case_dir = optarg; break;
		case 'f':
			if (strcmp(optarg, "jsonl") == 0)
				a->recfmt = RECORDS_JSONL;
			else if (strcmp(optarg, "raw") == 0)
				a->recfmt = RECORDS_RAW;
			else {
				fprintf(stderr, "custody-verify: "
				    "--records-format: '%s' is not jsonl or "
				    "raw\n", optarg);
				return (EXIT_USAGE);
			}
			break;
		case 'c':
			if ((np = realloc(a->gpaths, (a->ngp + 1) *
			    sizeof(*np))) == NULL)
				return (EXIT_IO);
			a->gpaths = np;
			a->gpaths[a->ngp++] = optarg;
			break;
		case 'w':
			if (a->nwkeys >= 64) {
				fprintf(stderr, "custody-verify: at most 64 "
				    "--witness keys\n");
				return (EXIT_USAGE);
			}
			if ((wk = realloc(a->wkeys, (a->nwkeys + 1) *
			    sizeof(*wk))) == NULL)
				return (EXIT_IO);
			a->wkeys = wk;
			if (wv_key_parse(optarg, &a->wkeys[a->nwkeys]) != 0) {
				fprintf(stderr, "custody-verify: --witness "
				    "takes a witness's verifier key (NAME+ID+"
				    "KEY, cosignature/v1), or a file holding "
				    "it\n");
				return (EXIT_USAGE);
			}
			a->nwkeys++;
			break;
		case 'Q':
			a->quorum = strtol(optarg, &end, 10);
			if (*end != '\0' || a->quorum < 1) {
				fprintf(stderr, "custody-verify: --quorum "
				    "takes a number of witnesses, 1 or more\n");
				return (EXIT_USAGE);
			}
			break;
		case VCASE_OPT_CASE:
		case VCASE_OPT_EXHIBIT:
		case VCASE_OPT_EXAMINER:
		case VCASE_OPT_ORGANISATION:
			if (vcase_option(&a->cs, ch, optarg, why,
			    sizeof(why)) != 0) {
				fprintf(stderr, "custody-verify: %s\n", why);
				return (EXIT_USAGE);
			}
			break;
		default: usage(); return (EXIT_USAGE);
		}
	}
	if (a->bundle == NULL || a->rootf == NULL || optind != argc) {
		usage();
		return (EXIT_USAGE);
	}
	if (a->recfmt != 0 && a->recout == NULL) {
		fprintf(stderr, "custody-verify: --records-format needs "
		    "--records-out FILE\n");
		return (EXIT_USAGE);
	}
	if (a->recout != NULL && a->recfmt == 0)
		a->recfmt = RECORDS_JSONL;
	if (a->quorum > (long)a->nwkeys) {
		fprintf(stderr, "custody-verify: --quorum is larger than the "
		    "number of --witness keys\n");
		return (EXIT_USAGE);
	}
	return (EXIT_OK);
}

/*
 * The case record's entry for this check (SPEC section 16): the bundle,
 * the root key and the checkpoints given; the report and records
 * written.  Returns 0 or -1 after saying why.
 */
static int
case_entry(const struct bargs *a, const char *command, int status,
    int records_written)
{
	struct caserec_new n;
	const char **in, *out[2];
	char why[CASEREC_WHY_LEN];
	size_t i, k = 0;
	int rc;

	if ((in = calloc(a->ngp + 2, sizeof(*in))) == NULL) {
		fprintf(stderr, "custody-verify: out of memory\n");
		return (-1);
	}
	in[k++] = a->bundle;
	in[k++] = a->rootf;
	for (i = 0; i < a->ngp; i++)
		in[k++] = a->gpaths[i];
	memset(&n, 0, sizeof(n));
	n.kind = "verify";
	n.case_id = a->cs.id;
	n.command = command;
	n.inputs = in;
	n.ninputs = k;
	n.outputs = out;
	if (a->report != NULL)
		out[n.noutputs++] = a->report;
	if (records_written)
		out[n.noutputs++] = a->recout;
	n.verdict = status == EXIT_OK ? "VALID" : status == EXIT_INTEGRITY ?
	    "INVALID" : "ERROR";
	n.exit_status = status;
	if ((rc = caserec_append(a->case_dir, &n, "custody-verify",
	    why)) != 0)
		fprintf(stderr, "custody-verify: the case record has no entry "
		    "for this check: %s\n", why);
	free(in);
	return (rc);
}

int
bundle_check_main(int argc, char **argv)
{
	static char command[ACCESS_COMMAND_LEN];
	int records_written = 0;
	struct bargs a;
	cst_digests dig;
	char kfpr[2 * CST_FPR_LEN + 1];
	cst_bundle_cb cb = { on_block, on_record, on_checkpoint, on_note };
	cst_bundle_info info;
	cst_root_pub root;
	cst_checkpoint *given = NULL;
	size_t i;
	struct ctx c;
	cst_map m;
	int rc, status;

	memset(&c, 0, sizeof(c));
	cst_buf_init(&c.line);
	access_command(argc, argv, command, sizeof(command));
	if ((status = bundle_args(argc, argv, &a)) != EXIT_OK) {
		free(a.gpaths);
		free(a.wkeys);
		return (status);
	}
	c.wkeys = a.wkeys;
	c.nwkeys = a.nwkeys;
	c.quorum = a.quorum > 0 ? (unsigned)a.quorum : (unsigned)a.nwkeys;
	c.json = a.json;
	c.records = a.records;
	c.cs = a.cs;
	c.recfmt = a.recout != NULL ? a.recfmt : 0;
	cst_buf_init(&c.recs);
	if (sodium_init() < 0 || (a.ngp > 0 && (given = calloc(a.ngp,
	    sizeof(*given))) == NULL)) {
		free(a.gpaths);
		free(a.wkeys);
		return (EXIT_IO);
	}
	for (i = 0; i < a.ngp; i++) {
		if ((status = load_given(a.gpaths[i], &given[i])) != EXIT_OK)
			goto out0;
		c.ngiven++;
		if (given[i].blocks > c.given_head)
			c.given_head = given[i].blocks;
	}
	status = EXIT_IO;
	if ((rc = cst_root_pub_load(a.rootf, &root)) != 0) {
		fprintf(stderr, "custody-verify: %s: %s\n", a.rootf,
		    cst_strerror(rc));
		goto out0;
	}
	cst_key_fingerprint_hex(root.pk, kfpr);
	if (a.fpr != NULL && (strlen(a.fpr) < 16 ||
	    strncmp(kfpr, a.fpr, strlen(a.fpr)) != 0)) {
		fprintf(stderr, "custody-verify: %s has fingerprint %s, not "
		    "%s\n", a.rootf, kfpr, a.fpr);
		status = EXIT_INTEGRITY;
		goto out0;
	}
	if ((rc = cst_map_open(a.bundle, &m)) != 0) {
		fprintf(stderr, "custody-verify: %s: %s\n", a.bundle,
		    cst_strerror(rc));
		goto out0;
	}
	c.out = stdout;
	if (a.report != NULL && (c.out = fopen(a.report, "w")) == NULL) {
		fprintf(stderr, "custody-verify: %s: %s\n", a.report,
		    strerror(errno));
		goto out1;
	}
	if ((rc = cst_digests_compute(m.p, m.len, &dig)) != 0) {
		fprintf(stderr, "custody-verify: %s: %s\n", a.bundle,
		    cst_strerror(rc));
		if (c.out != stdout)
			fclose(c.out);
		goto out1;
	}
	if (c.json)
		json_init_file(&c.j, c.out);
	report_head(&c, a.bundle, a.rootf, m.len, &dig, &root, kfpr);
	/*
	 * Callbacks run only once everything has verified, blocks first,
	 * then records, then checkpoints: nothing is listed from a a.bundle
	 * that fails.
	 */
	c.info = &info;
	rc = cst_bundle_verify_given(m.p, m.len, &root, given, c.ngiven, &cb,
	    &c, &info);
	if (rc != 0 && c.wbad != NULL) {
		/* on_note refused it before anything was listed. */
		info.rule = "R-BND-18";
		info.part = "note_checkpoint";
		info.entry = -1;
		info.block_no = -1;
	}
	if (c.json || rc == 0)
		enter(&c, 4);
	status = report_result(&c, rc, &info, &root, kfpr);
	if (c.json) {
		if (json_finish(&c.j) != 0)
			status = EXIT_IO;
		else
			fputc('\n', c.out);
	}
	/* Handed on only when the bundle verified: nothing else is proven. */
	if (a.recout != NULL && status == EXIT_OK) {
		if (fileout_write(a.recout, c.recs.p, c.recs.len, 0) != 0) {
			fprintf(stderr, "custody-verify: %s: %s\n", a.recout,
			    strerror(errno));
			status = EXIT_IO;
		} else
			records_written = 1;
	} else if (a.recout != NULL && status != EXIT_OK) {
		fprintf(stderr, "custody-verify: %s not written: the bundle "
		    "did not verify\n", a.recout);
	}
	if (a.report != NULL) {
		if (fclose(c.out) != 0)
			status = EXIT_IO;
		printf("%s: %s\n", a.bundle, status == EXIT_OK ?
		    "VALID" : "INVALID");
	}
	if (a.case_dir != NULL && case_entry(&a, command, status,
	    records_written) != 0 && status == EXIT_OK)
		status = EXIT_IO;
out1:
	cst_map_close(&m);
out0:
	cst_buf_close(&c.line);
	cst_buf_close(&c.recs);
	for (i = 0; i < c.ngiven; i++)
		cst_checkpoint_close(&given[i]);
	free(given);
	free(a.gpaths);
	free(a.wkeys);
	return (status);
}
