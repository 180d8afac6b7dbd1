/*
 * The numbered checkpoint and token files (collector/ckptfiles.c): the
 * history is trimmed oldest first with each checkpoint's token
 * (R-CKP-6, R-TSA-4), a token whose checkpoint is gone goes too, the
 * pinned checkpoint (its token being fetched) stays, and files that are
 * not numbered checkpoints are never touched.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "custody/error.h"

#include "ckptfiles.h"
#include "testutil.h"

static char dir[64];

static void
setup(void)
{

	test_tmpdir(dir, sizeof(dir), "test_ckptfiles");
}

static void
teardown(void)
{
	test_rm_tree(dir);
}

TestSuite(ckptfiles, .init = setup, .fini = teardown);

static void
put(const char *name)
{
	cr_assert_eq(ckptfiles_write(dir, name, (const uint8_t *)"x", 1), 0,
	    "%s", name);
}

static void
put_numbered(uint64_t blocks, int token)
{
	char name[CKPTFILES_NAME_LEN];

	ckptfiles_name(blocks, "ckpt", name);
	put(name);
	if (token) {
		ckptfiles_name(blocks, "tsr", name);
		put(name);
	}
}

static int
has(uint64_t blocks, const char *ext)
{
	char name[CKPTFILES_NAME_LEN], path[128];
	struct stat st;

	ckptfiles_name(blocks, ext, name);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return (stat(path, &st) == 0);
}

Test(ckptfiles, names_are_twenty_digits)
{
	char name[CKPTFILES_NAME_LEN];

	ckptfiles_name(42, "tsr", name);
	cr_assert_str_eq(name, "ckpt-00000000000000000042.tsr");
	ckptfiles_name(UINT64_MAX, "ckpt", name);
	cr_assert_str_eq(name, "ckpt-18446744073709551615.ckpt");
}

Test(ckptfiles, newest_is_the_greatest_number)
{
	uint64_t n;

	cr_assert_eq(ckptfiles_newest(dir, &n), 0);
	cr_assert_eq(n, 0);
	put_numbered(9, 0);
	put_numbered(10, 1);
	put_numbered(7, 0);
	/* A token alone, and names that are no numbered checkpoint. */
	put("ckpt-00000000000000000099.tsr");
	put("ckpt-000000000000000000100.ckpt");
	put("latest.ckpt");
	cr_assert_eq(ckptfiles_newest(dir, &n), 0);
	cr_assert_eq(n, 10);
	cr_assert_eq(ckptfiles_newest("/nonexistent/dir", &n), CST_ENOENT);
}

Test(ckptfiles, prune_takes_tokens_along_and_spares_the_pinned)
{
	_Atomic uint64_t pinned = 2;
	uint64_t i;

	for (i = 1; i <= 6; i++)
		put_numbered(i, i % 2 == 0);
	put("ckpt-00000000000000000009.tsr");  /* its checkpoint is gone */
	put("latest.ckpt");
	put("notes.txt");
	ckptfiles_prune(dir, 2, &pinned);
	cr_assert(!has(1, "ckpt"));
	cr_assert(has(2, "ckpt") && has(2, "tsr"), "pinned: kept");
	cr_assert(!has(3, "ckpt"));
	cr_assert(!has(4, "ckpt") && !has(4, "tsr"), "token with its ckpt");
	cr_assert(has(5, "ckpt") && has(6, "ckpt") && has(6, "tsr"));
	cr_assert(!has(9, "tsr"), "a token alone is removed");

	/* Unpinned, it goes at the next trim. */
	atomic_store(&pinned, 0);
	ckptfiles_prune(dir, 2, &pinned);
	cr_assert(!has(2, "ckpt") && !has(2, "tsr"));
	cr_assert(has(5, "ckpt") && has(6, "ckpt") && has(6, "tsr"));
	cr_assert_eq(chdir(dir), 0);
	cr_assert_eq(access("latest.ckpt", F_OK), 0, "not numbered: kept");
	cr_assert_eq(access("notes.txt", F_OK), 0);
}

Test(ckptfiles, write_replaces_whole_and_leaves_no_temporary)
{
	char path[128];
	uint8_t buf[16];
	FILE *f;
	size_t n;

	cr_assert_eq(ckptfiles_write(dir, "a.tsr", (const uint8_t *)"first",
	    5), 0);
	cr_assert_eq(ckptfiles_write(dir, "a.tsr", (const uint8_t *)"2nd", 3),
	    0);
	snprintf(path, sizeof(path), "%s/a.tsr", dir);
	cr_assert_not_null(f = fopen(path, "rb"));
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	cr_assert_eq(n, 3);
	cr_assert_eq(memcmp(buf, "2nd", 3), 0);
	snprintf(path, sizeof(path), "%s/.a.tsr.tmp", dir);
	cr_assert_neq(access(path, F_OK), 0);
	cr_assert_eq(ckptfiles_write("/nonexistent/dir", "a.tsr",
	    (const uint8_t *)"x", 1), CST_ENOENT);
}
