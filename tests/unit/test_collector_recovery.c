/*
 * Crash recovery at start (SPEC section 9): the chain continues exactly
 * where its last valid block left it; a torn tail is moved into
 * quarantine/ byte for byte, never deleted, and the numbers the recovery
 * record will carry (R-REC-4) match what was cut (R-REC-5); an unclean
 * stop without a tail is still reported (R-REC-6); a store or key that
 * cannot continue the chain is refused.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include "custody/block.h"
#include "custody/error.h"
#include "custody/hash.h"
#include "custody/keys.h"
#include "custody/segment.h"

#include "recovery.h"
#include "store.h"
#include "teststore.h"
#include "testutil.h"

#define NOW_NS INT64_C(1795347000123456789)

static char dir[64];
static cst_root_key *root;
static cst_epoch_key *key;

static void
setup(void)
{

	test_store_new(dir, sizeof(dir), "test_recovery", NOW_NS, &root,
	    &key);
}

static void
teardown(void)
{

	test_store_free(dir, root, key);
}

TestSuite(recovery, .init = setup, .fini = teardown);

static void
seg_path(uint64_t n, char *out, size_t len)
{
	char name[32];

	cst_segment_name(n, name);
	snprintf(out, len, "%s/segments/%s", dir, name);
}

/*
 * Writes segment st->segment_no continuing the chain st with nblocks data
 * blocks of 3 records each, then a seal if seal is set.  Returns the
 * file's length.
 */
static uint64_t
write_segment(cst_chain_state *st, int nblocks, int seal)
{

	return (test_store_write_segment(dir, st, key, nblocks, 3, seal,
	    NOW_NS, NULL));
}

static cst_chain_state
chain(void)
{
	cst_chain_state st;

	memset(&st, 0, sizeof(st));
	memcpy(st.chain_id, key->chain_id, CST_CHAIN_ID_LEN);
	return (st);
}

static uint64_t
file_size(const char *path)
{
	struct stat sb;

	cr_assert_eq(stat(path, &sb), 0, "%s", path);
	return ((uint64_t)sb.st_size);
}

static void
append_bytes(const char *path, const uint8_t *p, size_t len)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0640);

	cr_assert_neq(fd, -1);
	cr_assert_eq(write(fd, p, len), (ssize_t)len);
	close(fd);
}

static void
assert_same_state(const cst_chain_state *a, const cst_chain_state *b)
{

	cr_assert_eq(a->next_block_no, b->next_block_no);
	cr_assert_eq(a->next_seq, b->next_seq);
	cr_assert_eq(memcmp(a->prev_hash, b->prev_hash, CST_HASH_LEN), 0);
	cr_assert_eq(a->epoch, b->epoch);
	cr_assert_eq(memcmp(a->chain_id, b->chain_id, CST_CHAIN_ID_LEN), 0);
}

Test(recovery, empty_store_starts_a_new_chain)
{
	struct recovery r;
	char err[RECOVERY_ERR_LEN];
	cst_chain_state st = chain();

	cr_assert_eq(recovery_run(dir, key, NOW_NS, &r, err), 0, "%s", err);
	cr_assert(r.fresh);
	cr_assert(!r.append);
	cr_assert(!r.unclean, "a new store has no stop to recover from");
	cr_assert_eq(r.st.segment_no, 0);
	assert_same_state(&r.st, &st);
}

Test(recovery, clean_stop_continues_in_the_next_segment)
{
	struct recovery r;
	char err[RECOVERY_ERR_LEN];
	cst_chain_state st = chain();

	write_segment(&st, 2, 1);
	cr_assert_eq(recovery_run(dir, key, NOW_NS, &r, err), 0, "%s", err);
	cr_assert(!r.fresh);
	cr_assert(!r.append);
	cr_assert(!r.unclean);
	cr_assert_eq(r.st.segment_no, 1);
	assert_same_state(&r.st, &st);
	cr_assert_eq(r.st.next_block_no, 3, "two data blocks and a seal");
	cr_assert_eq(r.st.next_seq, 6);
	cr_assert_eq(r.st.epoch, 1);
}

/* R-REC-6: an unclean stop without a torn tail is still reported. */
Test(recovery, unsealed_segment_is_an_unclean_stop)
{
	struct recovery r;
	char err[RECOVERY_ERR_LEN], path[256];
	cst_chain_state st = chain();
	uint64_t len;

	len = write_segment(&st, 3, 0);
	seg_path(0, path, sizeof(path));
	cr_assert_eq(recovery_run(dir, key, NOW_NS, &r, err), 0, "%s", err);
	cr_assert(r.unclean);
	cr_assert(r.append, "R-REC-6: go on in the same segment");
	cr_assert_eq(r.append_len, len);
	cr_assert_eq(r.st.segment_no, 0);
	cr_assert_eq(r.segment_no, 0);
	cr_assert_eq(r.valid_len, len);
	cr_assert_eq(r.cut_len, 0);
	cr_assert_str_eq(r.quarantine, "");
	cr_assert_eq(r.last_block_no, 2);
	cr_assert_eq(file_size(path), len, "nothing is cut");
	assert_same_state(&r.st, &st);
}

/* R-REC-5: the torn tail goes to quarantine/, byte for byte. */
Test(recovery, torn_tail_is_moved_to_quarantine)
{
	struct recovery r;
	char err[RECOVERY_ERR_LEN], path[256], qpath[512];
	uint8_t tail[777], digest[crypto_hash_sha256_BYTES], *q;
	char hex[65];
	cst_chain_state st = chain();
	uint64_t len;
	FILE *f;
	size_t i;

	len = write_segment(&st, 4, 0);
	/* A frame cut short: a valid header's first bytes, then noise. */
	for (i = 0; i < sizeof(tail); i++)
		tail[i] = (uint8_t)(i * 37 + 11);
	memcpy(tail, "CBLK", 4);
	seg_path(0, path, sizeof(path));
	append_bytes(path, tail, sizeof(tail));

	cr_assert_eq(recovery_run(dir, key, NOW_NS, &r, err), 0, "%s", err);
	cr_assert(r.unclean);
	cr_assert(r.append);
	cr_assert_eq(r.valid_len, len);
	cr_assert_eq(r.append_len, len);
	cr_assert_eq(r.cut_len, sizeof(tail));
	cr_assert_eq(r.segment_no, 0);
	cr_assert_eq(r.last_block_no, 3);
	cr_assert_eq(file_size(path), len, "the segment ends at the cut");
	assert_same_state(&r.st, &st);

	crypto_hash_sha256(digest, tail, sizeof(tail));
	cst_hex(digest, sizeof(digest), hex);
	cr_assert_str_eq(r.cut_sha256, hex);
	snprintf(qpath, sizeof(qpath), "%s/quarantine/%s", dir, r.quarantine);
	cr_assert_eq(file_size(qpath), sizeof(tail));
	cr_assert_not_null(f = fopen(qpath, "rb"));
	cr_assert_not_null(q = malloc(sizeof(tail)));
	cr_assert_eq(fread(q, 1, sizeof(tail), f), sizeof(tail));
	fclose(f);
	cr_assert_eq(memcmp(q, tail, sizeof(tail)), 0);
	free(q);

	/* Run again: nothing more to cut, still an unclean stop. */
	cr_assert_eq(recovery_run(dir, key, NOW_NS + 1, &r, err), 0, "%s",
	    err);
	cr_assert(r.unclean);
	cr_assert_eq(r.cut_len, 0);
}

/* Names in dir/quarantine, or -1 when there is no such directory. */
static int
quarantine_files(void)
{
	char qdir[128];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(qdir, sizeof(qdir), "%s/quarantine", dir);
	if ((d = opendir(qdir)) == NULL)
		return (-1);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return (n);
}

/*
 * The quarantine copy cannot be written (the disk is full; here a file
 * size limit makes write() fail part way): start fails, saying why, the
 * segment is untouched, and no torn copy is left behind, however often
 * the start is retried.
 */
Test(recovery, a_failed_quarantine_copy_is_removed)
{
	struct recovery r;
	char err[RECOVERY_ERR_LEN], path[256];
	static uint8_t tail[4096];
	cst_chain_state st = chain();
	struct rlimit lim, old;
	uint64_t len;
	int i, rc;

	len = write_segment(&st, 2, 0);
	memset(tail, 0xa5, sizeof(tail));
	seg_path(0, path, sizeof(path));
	append_bytes(path, tail, sizeof(tail));

	/* Past the limit write() fails with EFBIG, not a signal. */
	cr_assert_neq(signal(SIGXFSZ, SIG_IGN), SIG_ERR);
	cr_assert_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	/* The soft limit only, so that it can be raised again. */
	lim.rlim_cur = 100;
	lim.rlim_max = old.rlim_max;
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	for (i = 0; i < 3; i++) {
		rc = recovery_run(dir, key, NOW_NS + i, &r, err);
		cr_assert_eq(rc, CST_EIO, "%s", cst_err_name(rc));
		cr_assert_not_null(strstr(err, "cannot write the torn tail: "
		    "input/output error"), "%s", err);
		cr_assert_eq(quarantine_files(), 0, "a torn copy was left");
		cr_assert_eq(file_size(path), len + sizeof(tail));
	}
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &old), 0);

	/* Room again: the tail is moved as usual. */
	cr_assert_eq(recovery_run(dir, key, NOW_NS + 9, &r, err), 0, "%s", err);
	cr_assert_eq(r.cut_len, sizeof(tail));
	cr_assert_eq(quarantine_files(), 1);
	cr_assert_eq(file_size(path), len);
}

/* A block whose signature is wrong is as torn as a partial one. */
Test(recovery, a_forged_last_block_is_cut)
{
	struct recovery r;
	char err[RECOVERY_ERR_LEN], path[256];
	cst_chain_state st = chain();
	uint64_t len2, len3;
	int fd;
	uint8_t b;

	write_segment(&st, 2, 0);
	seg_path(0, path, sizeof(path));
	len2 = file_size(path);
	unlink(path);
	st = chain();
	len3 = write_segment(&st, 3, 0);
	/* Flip the last byte: the third block's signature. */
	cr_assert_neq(fd = open(path, O_RDWR), -1);
	cr_assert_eq(pread(fd, &b, 1, (off_t)len3 - 1), 1);
	b ^= 1;
	cr_assert_eq(pwrite(fd, &b, 1, (off_t)len3 - 1), 1);
	close(fd);

	cr_assert_eq(recovery_run(dir, key, NOW_NS, &r, err), 0, "%s", err);
	cr_assert_eq(r.valid_len, len2);
	cr_assert_eq(r.cut_len, len3 - len2);
	cr_assert_eq(r.st.next_block_no, 2);
	cr_assert_eq(r.st.next_seq, 6);
	cr_assert_eq(r.last_block_no, 1);
}

/* Bytes after a seal (R-SEG-4) are cut; the next segment follows. */
Test(recovery, bytes_after_a_seal_are_cut)
{
	struct recovery r;
	char err[RECOVERY_ERR_LEN];
	char path[256];
	cst_chain_state st = chain();
	uint64_t len;

	len = write_segment(&st, 1, 1);
	seg_path(0, path, sizeof(path));
	append_bytes(path, (const uint8_t *)"junk", 4);
	cr_assert_eq(recovery_run(dir, key, NOW_NS, &r, err), 0, "%s", err);
	cr_assert(r.unclean);
	cr_assert(!r.append);
	cr_assert_eq(r.cut_len, 4);
	cr_assert_eq(r.valid_len, len);
	cr_assert_eq(r.st.segment_no, 1);
	assert_same_state(&r.st, &st);
}

/* A segment created just before a crash: no block yet, same chain. */
Test(recovery, empty_newest_segment_takes_its_epoch_from_the_previous)
{
	struct recovery r;
	char err[RECOVERY_ERR_LEN];
	cst_chain_state st = chain();

	write_segment(&st, 2, 1);
	st.segment_no = 1;
	write_segment(&st, 0, 0);
	cr_assert_eq(recovery_run(dir, key, NOW_NS, &r, err), 0, "%s", err);
	cr_assert(r.unclean);
	cr_assert(r.append);
	cr_assert_eq(r.append_len, CST_SEG_HDR_LEN);
	cr_assert_eq(r.st.segment_no, 1);
	cr_assert_eq(r.st.epoch, 1);
	cr_assert_eq(r.last_block_no, 2);
	assert_same_state(&r.st, &st);
}

/* A header torn while the next segment was being created. */
Test(recovery, torn_header_of_a_new_segment_is_moved_aside)
{
	struct recovery r;
	char err[RECOVERY_ERR_LEN], path[256], qpath[512];
	cst_chain_state st = chain();

	write_segment(&st, 2, 1);
	seg_path(1, path, sizeof(path));
	append_bytes(path, (const uint8_t *)"CUSTSEG", 7);
	cr_assert_eq(recovery_run(dir, key, NOW_NS, &r, err), 0, "%s", err);
	cr_assert(r.unclean);
	cr_assert(!r.append, "segment 1 is made anew");
	cr_assert_eq(r.segment_no, 1);
	cr_assert_eq(r.valid_len, 0);
	cr_assert_eq(r.cut_len, 7);
	cr_assert_eq(r.st.segment_no, 1);
	assert_same_state(&r.st, &st);
	cr_assert_neq(access(path, F_OK), 0, "moved, not copied");
	snprintf(qpath, sizeof(qpath), "%s/quarantine/%s", dir, r.quarantine);
	cr_assert_eq(file_size(qpath), 7);
}

Test(recovery, torn_header_behind_an_unsealed_segment_is_refused)
{
	struct recovery r;
	char err[RECOVERY_ERR_LEN], path[256];
	cst_chain_state st = chain();

	write_segment(&st, 2, 0);
	seg_path(1, path, sizeof(path));
	append_bytes(path, (const uint8_t *)"CUSTSEG", 7);
	cr_assert_eq(recovery_run(dir, key, NOW_NS, &r, err), CST_ECORRUPT);
	cr_assert_not_null(strstr(err, "not sealed"), "%s", err);
	cr_assert_eq(file_size(path), 7, "left for a human");
}

Test(recovery, another_chains_store_is_refused)
{
	struct recovery r;
	char err[RECOVERY_ERR_LEN];
	cst_chain_state st = chain();
	cst_root_key *other_root;
	cst_epoch_key *other;

	write_segment(&st, 1, 1);
	cr_assert_eq(cst_root_key_generate(&other_root), 0);
	cr_assert_eq(cst_epoch_key_first(other_root, NOW_NS, &other), 0);
	cr_assert_eq(recovery_run(dir, other, NOW_NS, &r, err), CST_EFOREIGN);
	cst_epoch_key_free(other);
	cst_root_key_free(other_root);
}

/*
 * R-KEY-2 at start: a key rotated at the commit point (valid from the
 * next block) continues the chain; one valid from elsewhere does not.
 */
Test(recovery, the_key_must_continue_the_chain)
{
	struct recovery r;
	char err[RECOVERY_ERR_LEN];
	cst_chain_state st = chain();
	cst_epoch_key *next;

	write_segment(&st, 2, 1);
	cr_assert_eq(cst_epoch_key_next(key, st.next_block_no, NOW_NS, &next),
	    0);
	cr_assert_eq(recovery_run(dir, next, NOW_NS, &r, err), 0, "%s", err);
	cst_epoch_key_free(next);

	cr_assert_eq(cst_epoch_key_next(key, st.next_block_no + 1, NOW_NS,
	    &next), 0);
	cr_assert_eq(recovery_run(dir, next, NOW_NS, &r, err), CST_EKEY);
	cr_assert_not_null(strstr(err, "epoch"), "%s", err);
	cst_epoch_key_free(next);
}

Test(recovery, newest_segment_is_found_by_number)
{
	char path[256];
	uint64_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/segments", dir);
	cr_assert_eq(recovery_newest_segment(path, &n), CST_ENOENT);
	seg_path(9, path, sizeof(path));
	cr_assert_neq(fd = open(path, O_CREAT | O_WRONLY, 0600), -1);
	close(fd);
	seg_path(10, path, sizeof(path));
	cr_assert_neq(fd = open(path, O_CREAT | O_WRONLY, 0600), -1);
	close(fd);
	snprintf(path, sizeof(path), "%s/segments/seg-0000000099.cst.tmp",
	    dir);
	cr_assert_neq(fd = open(path, O_CREAT | O_WRONLY, 0600), -1);
	close(fd);
	snprintf(path, sizeof(path), "%s/segments", dir);
	cr_assert_eq(recovery_newest_segment(path, &n), 0);
	cr_assert_eq(n, 10);
}
