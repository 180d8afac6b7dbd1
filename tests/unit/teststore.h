/*
 * A store for the collector's unit tests: a fresh data directory with the
 * keys of a new chain, and segments written into it block by block as the
 * writer would.  static inline, as in testutil.h.
 */
#ifndef CUSTODY_TESTSTORE_H
#define CUSTODY_TESTSTORE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include "custody/block.h"
#include "custody/buf.h"
#include "custody/keys.h"
#include "custody/segment.h"

#include "store.h"
#include "testutil.h"

/* Records a block holds at the most in test_store_write_segment. */
#define TEST_STORE_MAX_PER_BLOCK 8

/*
 * Makes a store in a new directory /tmp/<name>.XXXXXX, written to dir
 * (borrowed, at least dirlen bytes), and the first epoch key of a new
 * chain made at now_ns; *root and *key are returned to free with
 * test_store_free.
 */
static inline void
test_store_new(char *dir, size_t dirlen, const char *name, int64_t now_ns,
    cst_root_key **root, cst_epoch_key **key)
{
	char err[STORE_ERR_LEN];

	cr_assert(sodium_init() >= 0);
	cr_assert((size_t)snprintf(dir, dirlen, "/tmp/%s.XXXXXX", name) <
	    dirlen);
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(store_prepare(dir, err), 0, "%s", err);
	cr_assert_eq(cst_root_key_generate(root), 0);
	cr_assert_eq(cst_epoch_key_first(*root, now_ns, key), 0);
}

/* Frees what test_store_new made and removes the directory dir. */
static inline void
test_store_free(const char *dir, cst_root_key *root, cst_epoch_key *key)
{

	cst_epoch_key_free(key);
	cst_root_key_free(root);
	test_rm_tree(dir);
}

/*
 * Writes segment st->segment_no of the store at dir, continuing the chain
 * st (borrowed, advanced) with nblocks data blocks of per_block records
 * each, then a seal block if seal is set, all signed with key at now_ns.
 * With hashes (borrowed) set, the hash of the segment's i-th block is
 * written to hashes[i].  Returns the file's length.
 */
static inline uint64_t
test_store_write_segment(const char *dir, cst_chain_state *st,
    const cst_epoch_key *key, int nblocks, int per_block, int seal,
    int64_t now_ns, uint8_t (*hashes)[CST_HASH_LEN])
{
	char path[256], name[32];
	cst_seg_hdr h;
	cst_segw *w;
	cst_sealer *s;
	cst_draft d;
	cst_buf frame;
	cst_record recs[TEST_STORE_MAX_PER_BLOCK];
	uint64_t size;
	int i, j;

	cr_assert(per_block > 0 && per_block <= TEST_STORE_MAX_PER_BLOCK);
	cst_segment_name(st->segment_no, name);
	snprintf(path, sizeof(path), "%s/segments/%s", dir, name);
	cst_chain_seg_hdr(st, now_ns, &h);
	cr_assert_eq(cst_segw_create(path, &h, &w), 0);
	cr_assert_not_null(s = cst_sealer_new(1));
	cst_draft_init(&d);
	cst_buf_init(&frame);
	for (i = 0; i < nblocks + (seal != 0); i++) {
		if (i < nblocks) {
			memset(recs, 0, sizeof(recs));
			for (j = 0; j < per_block; j++) {
				recs[j].seq = st->next_seq + (uint64_t)j;
				recs[j].recv_ns = now_ns + j;
				recs[j].transport = 2;
				recs[j].listener.p = (const uint8_t *)"tcp://t";
				recs[j].listener.len = 7;
				recs[j].peer.p = (const uint8_t *)"";
				recs[j].raw.p = (const uint8_t *)"<13>hello";
				recs[j].raw.len = 9;
			}
			cr_assert_eq(cst_sealer_build(s, recs,
			    (size_t)per_block, &d), 0);
		} else
			cr_assert_eq(cst_draft_build_seal(&d, st->next_seq,
			    now_ns), 0);
		frame.len = 0;
		cr_assert_eq(cst_block_finish(&d, st, key, now_ns, &frame,
		    hashes != NULL ? hashes[i] : NULL), 0);
		cr_assert_eq(cst_segw_append(w, frame.p, frame.len), 0);
	}
	size = cst_segw_size(w);
	cr_assert_eq(cst_segw_close(w), 0);
	cst_buf_close(&frame);
	cst_draft_close(&d);
	cst_sealer_free(s);
	return (size);
}

#endif /* CUSTODY_TESTSTORE_H */
