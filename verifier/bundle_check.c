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
#include "custody/segment.h"
#include "custody/verify.h"
#include "custody_version.h"

#include "bundle_check.h"
#include "exit.h"
#include "query.h"

struct ctx {
	FILE *out;
	int json;
	int records;
	int section;          /* 0 none yet, 1 blocks, 2 records, 3 checkpoints */
	int first;            /* no entry printed yet in this section */
	const cst_bundle_info *info;
	cst_buf line;
};

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
			fputs("]", c->out);
		if (++c->section > 3)
			break;
		if (c->json)
			fprintf(c->out, ",\"%s\":[", jname[c->section]);
		else if (count[c->section] > 0)
			fprintf(c->out, "%s (%u):\n", jname[c->section],
			    count[c->section]);
		c->first = 1;
	}
}

static void
jstr(FILE *f, const char *s, size_t len)
{
	size_t i;

	putc('"', f);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			putc(c, f);
	}
	putc('"', f);
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
		fprintf(c->out, "%s{\"index\":%u,\"block_no\":%llu,"
		    "\"segment_no\":%llu,\"type\":\"%s\",\"key_epoch\":%u,"
		    "\"first_seq\":%llu,\"record_count\":%u,\"min_time\":\"%s\","
		    "\"max_time\":\"%s\",\"block_hash\":\"%s\",\"run\":%u,"
		    "\"anchored\":%s}", c->first ? "" : ",", index,
		    (unsigned long long)h->block_no,
		    (unsigned long long)h->segment_no,
		    h->type == CST_BLOCK_SEAL ? "seal" : "data", h->key_epoch,
		    (unsigned long long)h->first_seq, h->record_count, t0, t1,
		    hx, run, anchored ? "true" : "false");
	} else {
		fprintf(c->out, "  block %llu (segment %llu, epoch %u, %u "
		    "records from seq %llu, %s .. %s) run %u%s\n    hash %s\n",
		    (unsigned long long)h->block_no,
		    (unsigned long long)h->segment_no, h->key_epoch,
		    h->record_count, (unsigned long long)h->first_seq, t0, t1,
		    run, anchored ? ", anchored by a checkpoint" : "", hx);
	}
	c->first = 0;
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
	enter(c, 2);
	c->line.len = 0;
	if (c->json) {
		if (query_out_record(&c->line, QUERY_JSON, rec,
		    h->block_no) != 0 || c->line.len < 2)
			return (CST_ENOMEM);
		/* The record's JSON object, less its newline, plus its leaf. */
		fprintf(c->out, "%s{\"leaf_index\":%u,\"record\":%.*s}",
		    c->first ? "" : ",", leaf, (int)(c->line.len - 1),
		    (const char *)c->line.p);
		c->first = 0;
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
	if (c->json)
		fprintf(c->out, "%s{\"blocks\":%llu,\"records\":%llu,"
		    "\"head\":\"%s\",\"time\":\"%s\",\"epoch\":%u,"
		    "\"anchors_block_index\":%lld}", c->first ? "" : ",",
		    (unsigned long long)cp->blocks,
		    (unsigned long long)cp->records, hx, t, cp->epoch,
		    (long long)anchor);
	else
		fprintf(c->out, "  checkpoint of %s: %llu blocks, %llu records, "
		    "head %s, epoch %u; %s\n", t,
		    (unsigned long long)cp->blocks,
		    (unsigned long long)cp->records, hx, cp->epoch,
		    anchor >= 0 ? "its head block is in the bundle: it anchors "
		    "that run" : "its head block is not in the bundle: it "
		    "anchors nothing here");
	c->first = 0;
	return (0);
}

static void
usage(void)
{

	fprintf(stderr, "usage: custody-verify --bundle FILE --root ROOT.pub "
	    "[--root-fpr HEX] [--json] [--report FILE] [--records]\n");
}

int
bundle_check_main(int argc, char **argv)
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
		{ NULL, 0, NULL, 0 },
	};
	const char *bundle = NULL, *rootf = NULL, *fpr = NULL, *report = NULL;
	cst_digests dig;
	char hsha[65], hb2[65], hdig[65], kfpr[2 * CST_FPR_LEN + 1];
	char cid[2 * CST_CHAIN_ID_LEN + 1], now[48], created[48];
	cst_bundle_cb cb = { on_block, on_record, on_checkpoint };
	cst_bundle_info info;
	cst_root_pub root;
	struct ctx c;
	cst_map m;
	int ch, rc, status;

	memset(&c, 0, sizeof(c));
	cst_buf_init(&c.line);
	optind = 1;
	opterr = 1;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'b': bundle = optarg; break;
		case 'k': rootf = optarg; break;
		case 'F': fpr = optarg; break;
		case 'j': c.json = 1; break;
		case 'o': report = optarg; break;
		case 'r': c.records = 1; break;
		default: usage(); return (EXIT_USAGE);
		}
	}
	if (bundle == NULL || rootf == NULL || optind != argc) {
		usage();
		return (EXIT_USAGE);
	}
	if (sodium_init() < 0)
		return (EXIT_IO);
	if ((rc = cst_root_pub_load(rootf, &root)) != 0) {
		fprintf(stderr, "custody-verify: %s: %s\n", rootf,
		    cst_strerror(rc));
		return (EXIT_IO);
	}
	cst_key_fingerprint_hex(root.pk, kfpr);
	if (fpr != NULL && (strlen(fpr) < 16 ||
	    strncmp(kfpr, fpr, strlen(fpr)) != 0)) {
		fprintf(stderr, "custody-verify: %s has fingerprint %s, not "
		    "%s\n", rootf, kfpr, fpr);
		return (EXIT_INTEGRITY);
	}
	if ((rc = cst_map_open(bundle, &m)) != 0) {
		fprintf(stderr, "custody-verify: %s: %s\n", bundle,
		    cst_strerror(rc));
		return (EXIT_IO);
	}
	c.out = stdout;
	if (report != NULL && (c.out = fopen(report, "w")) == NULL) {
		fprintf(stderr, "custody-verify: %s: %s\n", report,
		    strerror(errno));
		cst_map_close(&m);
		return (EXIT_IO);
	}
	if ((rc = cst_digests_compute(m.p, m.len, &dig)) != 0) {
		fprintf(stderr, "custody-verify: %s: %s\n", bundle,
		    cst_strerror(rc));
		if (c.out != stdout)
			fclose(c.out);
		cst_map_close(&m);
		return (EXIT_IO);
	}
	cst_hex(dig.sha256, sizeof(dig.sha256), hsha);
	cst_hex(dig.blake2b, sizeof(dig.blake2b), hb2);
	cst_hex(root.chain_id, CST_CHAIN_ID_LEN, cid);
	query_time_format((int64_t)time(NULL) * 1000000000, 0, now,
	    sizeof(now));
	if (c.json)
		fprintf(c.out, "{\"tool\":\"custody-verify %s (%s)\","
		    "\"verified_at\":\"%s\",\"bundle\":{\"path\":", CUSTODY_VERSION,
		    CUSTODY_GIT_COMMIT, now);
	if (c.json) {
		jstr(c.out, bundle, strlen(bundle));
		fprintf(c.out, ",\"size\":%zu,\"sha256\":\"%s\",\"blake2b\":"
		    "\"%s\"},\"root_fingerprint\":\"%s\",\"chain_id\":\"%s\"",
		    m.len, hsha, hb2, kfpr, cid);
	} else {
		fprintf(c.out, "custody-verify %s (%s), evidence bundle check "
		    "at %s\nbundle  %s\n  %zu bytes\n  SHA-256 %s\n  BLAKE2b "
		    "%s\nroot key fingerprint %s (%s)\nchain %s\n",
		    CUSTODY_VERSION, CUSTODY_GIT_COMMIT, now, bundle, m.len,
		    hsha, hb2, kfpr, rootf, cid);
	}
	/*
	 * Callbacks run only once everything has verified, blocks first,
	 * then records, then checkpoints: nothing is listed from a bundle
	 * that fails.
	 */
	c.info = &info;
	rc = cst_bundle_verify(m.p, m.len, &root, &cb, &c, &info);
	if (c.json || rc == 0)
		enter(&c, 4);
	cst_hex(info.digest, CST_HASH_LEN, hdig);
	query_time_format(info.created_ns, 0, created, sizeof(created));
	if (rc == 0) {
		status = EXIT_OK;
		if (c.json) {
			fprintf(c.out, ",\"digest\":\"%s\",\"created\":\"%s\","
			    "\"note\":", hdig, created);
			jstr(c.out, (const char *)info.note, info.note_len);
			fprintf(c.out, ",\"epochs\":%u,\"runs\":%u,"
			    "\"anchored_runs\":%u,\"result\":\"valid\"}\n",
			    info.cert_count, info.runs, info.anchored_runs);
		} else {
			fprintf(c.out, "bundle digest %s\nmaker's note (not "
			    "proven): ", hdig);
			jstr(c.out, (const char *)info.note, info.note_len);
			fprintf(c.out, "\nmade at (not proven) %s\n\n"
			    "RESULT: VALID\n"
			    "Proven: each of the %u records above is, byte for "
			    "byte, the record at the stated block and position of "
			    "chain %s, sealed under key epochs 1..%u certified "
			    "from the root key %s; its sequence number and "
			    "receive time are as stated.  The %u blocks form %u "
			    "run(s) of consecutive blocks with nothing missing "
			    "inside a run; %u run(s) are anchored by a signed "
			    "checkpoint.\n"
			    "Not proven: that these are all the records a "
			    "search would have found (a bundle proves inclusion, "
			    "not completeness); anything about records and "
			    "blocks not in the bundle beyond their hashes; how "
			    "far the chain had grown, for runs no checkpoint "
			    "anchors; the maker's note and time.\n",
			    created, info.record_count, cid, info.cert_count,
			    kfpr, info.block_count, info.runs, info.anchored_runs);
		}
	} else {
		status = rc == CST_ENOMEM ? EXIT_IO :
		    EXIT_INTEGRITY;
		if (c.json) {
			fprintf(c.out, ",\"result\":\"invalid\",\"rule\":\"%s\","
			    "\"error\":\"%s\",\"part\":\"%s\",\"entry\":%lld,"
			    "\"offset\":%llu}\n", info.rule != NULL ? info.rule :
			    "-", cst_err_name(rc), info.part != NULL ?
			    info.part : "-", (long long)info.entry,
			    (unsigned long long)info.offset);
		} else {
			fprintf(c.out, "\nRESULT: INVALID\nThe bundle fails %s "
			    "(%s: %s) in its %s", info.rule != NULL ?
			    info.rule : "-", cst_err_name(rc), cst_strerror(rc),
			    info.part != NULL ? info.part : "-");
			if (info.entry >= 0)
				fprintf(c.out, " entry %lld",
				    (long long)info.entry);
			fprintf(c.out, " at byte offset %llu.  Nothing in it is "
			    "proven, and no record of it is listed.\n",
			    (unsigned long long)info.offset);
		}
	}
	if (report != NULL) {
		if (fclose(c.out) != 0)
			status = EXIT_IO;
		printf("%s: %s\n", bundle, status == EXIT_OK ?
		    "VALID" : "INVALID");
	}
	cst_buf_close(&c.line);
	cst_map_close(&m);
	return (status);
}
