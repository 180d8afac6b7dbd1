/*
 * The chain tree's node store (SPEC 13.4): built from the segments, its
 * roots and proofs are those of the chain tree (R-TLOG-1, R-TLOG-2); it
 * survives restarts, is rebuilt when missing, short, longer than the
 * chain or wrong at the head; and proofs are right while another thread
 * appends.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include "custody/block.h"
#include "custody/error.h"
#include "custody/keys.h"
#include "custody/segment.h"
#include "custody/tlog.h"

#include "store.h"
#include "teststore.h"
#include "testutil.h"
#include "treestore.h"

#define NOW_NS INT64_C(1795347000123456789)
#define H CST_HASH_LEN
#define MAX_BLOCKS 400

static char dir[64];
static cst_root_key *root;
static cst_epoch_key *key;
static uint8_t hashes[MAX_BLOCKS][H];   /* block hashes in block_no order */
static uint8_t roots[MAX_BLOCKS + 1][H]; /* roots[n]: tree of n blocks */
static uint64_t nhashes;

static void
setup(void)
{

	test_store_new(dir, sizeof(dir), "test_treestore", NOW_NS, &root,
	    &key);
	nhashes = 0;
}

static void
teardown(void)
{

	test_store_free(dir, root, key);
}

TestSuite(treestore, .init = setup, .fini = teardown);

/*
 * Writes a segment continuing st with nblocks data blocks of one record
 * and a seal, keeping their hashes.
 */
static void
write_segment(cst_chain_state *st, int nblocks)
{

	cr_assert(nhashes + (uint64_t)nblocks + 1 <= MAX_BLOCKS);
	test_store_write_segment(dir, st, key, nblocks, 1, 1, NOW_NS,
	    &hashes[nhashes]);
	nhashes += (uint64_t)nblocks + 1;
	st->segment_no++;
}

static void
make_roots(uint64_t n)
{
	cst_tlog_frontier f;
	uint8_t leaf[H];
	uint64_t i;

	cst_tlog_frontier_init(&f);
	for (i = 0; i <= n; i++) {
		cst_tlog_frontier_root(&f, roots[i]);
		if (i == n)
			break;
		cst_tlog_leaf(hashes[i], leaf);
		cr_assert_eq(cst_tlog_frontier_append(&f, leaf, NULL, NULL), 0);
	}
}

/* 3 segments: 5 + 1, 6 + 1, 2 + 1 blocks: 16 blocks. */
static uint64_t
make_store(void)
{
	cst_chain_state st;

	memset(&st, 0, sizeof(st));
	memcpy(st.chain_id, key->chain_id, CST_CHAIN_ID_LEN);
	write_segment(&st, 5);
	write_segment(&st, 6);
	write_segment(&st, 2);
	cr_assert_eq(nhashes, 16);
	make_roots(nhashes);
	return (nhashes);
}

static void
check_all(struct treestore *ts, uint64_t size)
{
	uint8_t proof[CST_TLOG_MAX_PROOF][H], r[H], leaf[H];
	size_t len;
	uint64_t m, n, i;

	cr_assert_eq(treestore_size(ts), size);
	/* Every size up to 40, and the whole tree. */
	for (n = 0; n <= size; n = n < 40 ? n + 1 : n < size ? size : n + 1) {
		cr_assert_eq(treestore_root(ts, n, r), 0);
		cr_assert(memcmp(r, roots[n], H) == 0, "root at %lu",
		    (unsigned long)n);
		for (m = 0; m <= n; m++) {
			cr_assert_eq(treestore_consistency(ts, m, n, proof,
			    &len), 0);
			cr_assert_eq(cst_tlog_verify_consistency(m, n,
			    (const uint8_t (*)[H])proof, len, roots[m],
			    roots[n]), 0, "%lu -> %lu", (unsigned long)m,
			    (unsigned long)n);
		}
		for (i = 0; i < n; i++) {
			cr_assert_eq(treestore_inclusion(ts, i, n, proof,
			    &len), 0);
			cst_tlog_leaf(hashes[i], leaf);
			cr_assert_eq(cst_tlog_verify_inclusion(leaf, i, n,
			    (const uint8_t (*)[H])proof, len, roots[n]), 0);
		}
	}
	cr_assert_eq(treestore_root(ts, size + 1, r), CST_EINVAL);
	cr_assert_eq(treestore_consistency(ts, 0, size + 1, proof, &len),
	    CST_EINVAL);
}

static struct treestore *
open_at(uint64_t blocks)
{
	char err[TREESTORE_ERR_LEN];
	struct treestore *ts;

	cr_assert_eq(treestore_open(dir, blocks, blocks > 0 ?
	    hashes[blocks - 1] : NULL, &ts, err), 0, "%s", err);
	return (ts);
}

/* Runs the shell command pre DIR post. */
static void
sh(const char *pre, const char *post)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "%s%s%s", pre, dir, post);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
}

Test(treestore, built_from_segments_matches_the_chain_tree)
{
	uint64_t n = make_store();
	struct treestore *ts = open_at(n);

	check_all(ts, n);
	treestore_close(ts);
}

Test(treestore, reopen_rebuild_and_cut)
{
	uint64_t n = make_store();
	struct treestore *ts = open_at(n);

	treestore_close(ts);
	ts = open_at(n);                      /* as it was */
	check_all(ts, n);
	treestore_close(ts);
	sh("rm -r ", "/tree");            /* missing */
	ts = open_at(n);
	check_all(ts, n);
	treestore_close(ts);
	sh("truncate -s 96 ", "/tree/level-00");  /* short */
	ts = open_at(n);
	check_all(ts, n);
	treestore_close(ts);
	sh("printf 'custody-tree-v1 999\\n' > ", "/tree/synced");
	ts = open_at(n);                      /* a lying synced file */
	check_all(ts, n);
	treestore_close(ts);
	/* Nodes of blocks a crash cut: the chain is shorter. */
	ts = open_at(11);
	make_roots(11);
	check_all(ts, 11);
	treestore_close(ts);
	make_roots(n);
	ts = open_at(n);
	check_all(ts, n);
	treestore_close(ts);
	/* A wrong last leaf: everything is recomputed. */
	sh("dd if=/dev/zero bs=32 seek=15 count=1 conv=notrunc status=none "
	    "of=", "/tree/level-00");
	ts = open_at(n);
	check_all(ts, n);
	treestore_close(ts);
}

Test(treestore, segments_short_of_the_chain_are_refused)
{
	char err[TREESTORE_ERR_LEN];
	struct treestore *ts;
	uint64_t n = make_store();

	cr_assert_eq(treestore_open(dir, n + 2, hashes[0], &ts, err),
	    CST_ECORRUPT);
	cr_assert(strstr(err, "segments hold") != NULL, "%s", err);
	/* A head that is not the chain's last block. */
	cr_assert_eq(treestore_open(dir, n, hashes[0], &ts, err),
	    CST_ECORRUPT);
}

struct reader {
	struct treestore *ts;
	uint64_t checked;
	int stop;
	int bad;
};

static void *
reader_main(void *arg)
{
	struct reader *r = arg;
	uint8_t proof[CST_TLOG_MAX_PROOF][H], got[H];
	uint64_t n, m, seed = 12345;
	size_t len;

	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		n = treestore_size(r->ts);
		seed = seed * 6364136223846793005u + 1442695040888963407u;
		m = n == 0 ? 0 : (seed >> 33) % (n + 1);
		if (treestore_consistency(r->ts, m, n, proof, &len) != 0 ||
		    cst_tlog_verify_consistency(m, n,
		    (const uint8_t (*)[H])proof, len, roots[m],
		    roots[n]) != 0 || treestore_root(r->ts, n, got) != 0 ||
		    memcmp(got, roots[n], H) != 0)
			r->bad++;
		__atomic_add_fetch(&r->checked, 1, __ATOMIC_RELEASE);
	}
	return (NULL);
}

/*
 * Waits (at most 60 s) until the reader has checked a proof more than
 * seen: so that proofs are checked between appends however the threads
 * are scheduled, and not only, or never, after the last one.
 */
static uint64_t
reader_past(struct reader *r, uint64_t seen)
{
	struct timespec ts = { 0, 1000 * 1000 };
	uint64_t now;
	int i;

	for (i = 0; i < 60000; i++) {
		if ((now = __atomic_load_n(&r->checked, __ATOMIC_ACQUIRE)) >
		    seen)
			return (now);
		nanosleep(&ts, NULL);
	}
	cr_assert_fail("the reader checked no proof in 60 s");
	return (seen);
}

Test(treestore, proofs_while_another_thread_appends)
{
	struct reader r = { 0 };
	pthread_t thr;
	uint64_t i, seen;

	printf("seed 12345\n");
	for (i = 0; i < MAX_BLOCKS; i++)
		randombytes_buf(hashes[i], H);
	nhashes = MAX_BLOCKS;
	make_roots(MAX_BLOCKS);
	r.ts = open_at(0);
	cr_assert_eq(pthread_create(&thr, NULL, reader_main, &r), 0);
	seen = reader_past(&r, 0);
	for (i = 0; i < MAX_BLOCKS; i++) {
		cr_assert_eq(treestore_append(r.ts, hashes[i]), 0);
		if (i % 50 == 0) {
			cr_assert_eq(treestore_sync(r.ts), 0);
			seen = reader_past(&r, seen);
		}
	}
	reader_past(&r, seen);
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
	pthread_join(thr, NULL);
	cr_assert_eq(r.bad, 0, "%d of %lu proofs wrong", r.bad,
	    (unsigned long)r.checked);
	cr_assert(r.checked > 0);
	check_all(r.ts, MAX_BLOCKS);
	treestore_close(r.ts);
}
