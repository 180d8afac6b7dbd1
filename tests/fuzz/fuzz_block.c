/*
 * Fuzz target: the input is a segment file.  Decodes its header, walks its
 * frames with cst_frame_parse, checks each signature against a fixed test
 * key, opens each block (whatever its signature said, to reach the payload
 * checks) and decodes each record; then opens each block again with its
 * payload hashes made right, so that mutations reach the zstd frame checks
 * and the record splitter; and runs the recovery scan over the whole.
 * Nothing may crash or read out of bounds.
 *
 * The corpus in tests/fuzz/corpus/block/ is written by test_segment
 * (CUSTODY_GEN_CORPUS=dir) with the same key.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zstd.h>

#include "custody/block.h"
#include "custody/error.h"
#include "custody/format.h"
#include "custody/hash.h"
#include "custody/keys.h"
#include "custody/record.h"
#include "custody/segment.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* test_segment.c's fuzz key: the committed corpus is signed with it. */
#define NOW_NS INT64_C(1795347000123456789)
#define EPOCH2_FROM 3

/* Payloads decompressed for re-hashing: larger ones are skipped. */
#define REHASH_MAX (1u << 20)

static cst_epoch_key *key;
static cst_opener *opener;
static cst_opener *batch[CST_OPEN_MAX]; /* cst_block_open_many's */
static uint8_t *scratch;
static size_t signed_frames; /* frames whose signature held */

static void
init(void)
{
	uint8_t chain[CST_CHAIN_ID_LEN], seed[CST_SEED_LEN];
	cst_root_key *root;
	cst_epoch_key *e1;
	size_t i;

	memset(chain, 0x22, sizeof(chain));
	memset(seed, 0x11, sizeof(seed));
	if (cst_root_key_from_seed(chain, seed, &root) != 0)
		abort();
	memset(seed, 0x33, sizeof(seed));
	if (cst_epoch_key_first_from_seed(root, seed, NOW_NS, &e1) != 0)
		abort();
	memset(seed, 0x44, sizeof(seed));
	if (cst_epoch_key_next_from_seed(e1, seed, EPOCH2_FROM, NOW_NS,
	    &key) != 0)
		abort();
	cst_epoch_key_free(e1);
	cst_root_key_free(root);
	if ((opener = cst_opener_new()) == NULL ||
	    (scratch = malloc(REHASH_MAX)) == NULL)
		abort();
	for (i = 0; i < CST_OPEN_MAX; i++)
		if ((batch[i] = cst_opener_new()) == NULL)
			abort();
}

/*
 * The input's first frames opened together give each the result and rule
 * it gets alone (one_rc, one_rule), and nothing to read where it failed.
 */
static void
open_together(const cst_frame *fr, size_t n, const int *one_rc,
    const char *const *one_rule)
{
	const cst_frame *fs[CST_OPEN_MAX];
	const char *rule[CST_OPEN_MAX];
	int rc[CST_OPEN_MAX];
	size_t i;

	for (i = 0; i < n; i++)
		fs[i] = &fr[i];
	cst_block_open_many(batch, fs, n, rc, rule);
	for (i = 0; i < n; i++) {
		if (rc[i] != one_rc[i] || (rule[i] == NULL) !=
		    (one_rule[i] == NULL) || (rule[i] != NULL &&
		    strcmp(rule[i], one_rule[i]) != 0))
			abort();
		if (rc[i] != 0 && cst_opener_count(batch[i]) != 0)
			abort();
	}
}

/* Reads every record of the opened block, and their detail maps. */
static void
read_records(void)
{
	cst_record rec;
	cst_bytes enc;
	uint64_t u;
	size_t i, n = cst_opener_count(opener);

	for (i = 0; i < n; i++) {
		if (cst_opener_record(opener, i, &rec, &enc) != 0)
			abort();
		if (rec.detail.p != NULL)
			(void)cst_detail_get_u64(rec.detail.p, rec.detail.len,
			    "epoch", &u);
	}
	if (n > 0 && cst_opener_leaves(opener) == NULL)
		abort();
}

/*
 * Opens a copy of frame f (of len bytes) whose payload_hash, and
 * records_hash when the payload decompresses, are those of its bytes.
 */
static void
open_rehashed(const uint8_t *p, size_t len)
{
	uint8_t *copy;
	cst_frame f;
	size_t n;
	const char *rule;

	if ((copy = malloc(len)) == NULL)
		abort();
	memcpy(copy, p, len);
	if (cst_frame_parse(copy, len, &f) != 0)
		abort();
	cst_hash_domain(CST_D_PAYLOAD, f.payload, f.hdr.payload_len,
	    copy + 96);
	n = ZSTD_decompress(scratch, REHASH_MAX, f.payload,
	    f.hdr.payload_len);
	if (!ZSTD_isError(n))
		cst_hash_domain(CST_D_RECORDS, scratch, n, copy + 128);
	if (cst_frame_parse(copy, len, &f) != 0)
		abort();
	if (cst_block_open(opener, &f, &rule) == 0)
		read_records();
	free(copy);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cst_frame fr[CST_OPEN_MAX];
	const char *one_rule[CST_OPEN_MAX];
	int one_rc[CST_OPEN_MAX];
	cst_seg_hdr hdr;
	cst_frame f;
	cst_scan sc;
	const char *rule;
	size_t off, nfr = 0;
	uint32_t e;
	int rc;

	if (key == NULL)
		init();
	(void)cst_seg_hdr_decode(data, size, &hdr);
	(void)cst_segment_scan(data, size, key, &sc);

	for (off = size < CST_SEG_HDR_LEN ? size : CST_SEG_HDR_LEN;
	    off < size; off += f.frame_len) {
		if (cst_frame_parse(data + off, size - off, &f) != 0)
			break;
		e = f.hdr.key_epoch;
		if (e >= 1 && e <= key->epoch && cst_frame_verify_sig(&f,
		    key->certs[e - 1].public_key) == 0)
			signed_frames++;
		if ((rc = cst_block_open(opener, &f, &rule)) == 0)
			read_records();
		else if (cst_opener_count(opener) != 0)
			abort();
		if (nfr < CST_OPEN_MAX) {
			fr[nfr] = f;
			one_rc[nfr] = rc;
			one_rule[nfr++] = rule;
		}
		open_rehashed(data + off, f.frame_len);
	}
	if (nfr > 0)
		open_together(fr, nfr, one_rc, one_rule);
	return (0);
}
