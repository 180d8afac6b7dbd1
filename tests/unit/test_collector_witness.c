/*
 * The witness role (collector/witness.c, SPEC R-WIT-2, R-WIT-3, R-WIT-7):
 * each check of add-checkpoint, with the forgery or mistake it stops, and
 * the state surviving a restart.  Leaves are fixed (leaf i = H(i)), so
 * the test is deterministic.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include "custody/buf.h"
#include "custody/error.h"
#include "custody/logkey.h"
#include "custody/note.h"
#include "custody/tlog.h"

#include "witness.h"

#define NLEAVES 64

static char dir[64];
static char keypath[128];
static uint8_t leaves[NLEAVES][CST_HASH_LEN];
static uint8_t forked[NLEAVES][CST_HASH_LEN];
static cst_log_key *lk;
static cst_log_key *other_chain;
static cst_log_key *impostor;       /* the same chain id, another key */
static char logvk[512];
static cst_note_vkey wvk;
static struct witness *w;

static void
root_of(uint8_t (*lv)[CST_HASH_LEN], uint64_t from, uint64_t n,
    uint8_t out[CST_HASH_LEN])
{
	cst_tlog_frontier f;
	uint64_t i;

	cst_tlog_frontier_init(&f);
	for (i = 0; i < n; i++)
		cr_assert_eq(cst_tlog_frontier_append(&f, lv[from + i], NULL,
		    NULL), 0);
	cst_tlog_frontier_root(&f, out);
}

static int
node(void *arg, unsigned level, uint64_t index, uint8_t out[CST_HASH_LEN])
{

	root_of(arg, index << level, (uint64_t)1 << level, out);
	return (0);
}

static void
open_witness(void)
{
	char err[WITNESS_ERR_LEN];
	char *logs[1] = { logvk };

	cr_assert_eq(witness_open(dir, keypath, logs, 1, &w, err), 0, "%s",
	    err);
}

static void
setup(void)
{
	uint8_t chain[CST_CHAIN_ID_LEN], chain2[CST_CHAIN_ID_LEN];
	cst_note_vkey k;
	cst_buf b;
	size_t i;

	cr_assert(sodium_init() >= 0);
	snprintf(dir, sizeof(dir), "/tmp/test_witness.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(keypath, sizeof(keypath), "%s/w.key", dir);
	cst_buf_init(&b);
	cr_assert_eq(witness_keygen(keypath, "witness.test/a", &b), 0);
	cr_assert_eq(cst_note_vkey_parse((const char *)b.p, b.len, &wvk), 0);
	cst_buf_close(&b);
	for (i = 0; i < NLEAVES; i++) {
		uint8_t x = (uint8_t)i;

		crypto_generichash(leaves[i], CST_HASH_LEN, &x, 1, NULL, 0);
		memcpy(forked[i], leaves[i], CST_HASH_LEN);
	}
	/* The fork rewrites leaf 6 onwards. */
	for (i = 6; i < NLEAVES; i++)
		forked[i][0] ^= 1;
	memset(chain, 7, sizeof(chain));
	memset(chain2, 9, sizeof(chain2));
	cr_assert_eq(cst_log_key_generate(chain, &lk), 0);
	cr_assert_eq(cst_log_key_generate(chain, &impostor), 0);
	cr_assert_eq(cst_log_key_generate(chain2, &other_chain), 0);
	cst_log_vkey(chain, lk->pk, &k);
	cst_buf_init(&b);
	cr_assert_eq(cst_note_vkey_format(&k, &b), 0);
	snprintf(logvk, sizeof(logvk), "%.*s", (int)b.len, (const char *)b.p);
	cst_buf_close(&b);
	open_witness();
}

static void
teardown(void)
{
	char cmd[128];

	witness_close(w);
	cst_log_key_free(lk);
	cst_log_key_free(impostor);
	cst_log_key_free(other_chain);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

/* The request body: old, the proof from old to size, the note by k. */
static void
request(cst_buf *b, const cst_log_key *k, uint8_t (*lv)[CST_HASH_LEN],
    uint64_t old, uint64_t size, int spoil_proof)
{
	uint8_t proof[CST_TLOG_MAX_PROOF][CST_HASH_LEN], root[CST_HASH_LEN];
	char line[64];
	size_t n = 0, i;

	cst_buf_init(b);
	snprintf(line, sizeof(line), "old %llu\n", (unsigned long long)old);
	cr_assert_eq(cst_buf_append(b, line, strlen(line)), 0);
	if (old > 0 && old < size)
		cr_assert_eq(cst_tlog_consistency_proof(old, size, node, lv,
		    proof, &n), 0);
	if (spoil_proof && n > 0)
		proof[n - 1][3] ^= 0x40;
	for (i = 0; i < n; i++) {
		sodium_bin2base64(line, sizeof(line), proof[i], CST_HASH_LEN,
		    sodium_base64_VARIANT_ORIGINAL);
		cr_assert_eq(cst_buf_append(b, line, 44), 0);
		cr_assert_eq(cst_buf_append(b, "\n", 1), 0);
	}
	cr_assert_eq(cst_buf_append(b, "\n", 1), 0);
	root_of(lv, 0, size, root);
	cr_assert_eq(cst_log_note_encode(k, size, root, b), 0);
}

/* Sends one request; returns the status; *ans kept for the caller. */
static unsigned
send_req(const cst_log_key *k, uint8_t (*lv)[CST_HASH_LEN], uint64_t old,
    uint64_t size, int spoil, struct witness_answer *ans)
{
	cst_buf b;

	request(&b, k, lv, old, size, spoil);
	cr_assert_eq(witness_add_checkpoint(w, b.p, b.len, ans), 0);
	cst_buf_close(&b);
	return (ans->status);
}

static void
expect(const cst_log_key *k, uint8_t (*lv)[CST_HASH_LEN], uint64_t old,
    uint64_t size, int spoil, unsigned status, const char *body)
{
	struct witness_answer a;

	cr_expect_eq(send_req(k, lv, old, size, spoil, &a), status,
	    "old %llu size %llu: %u %s", (unsigned long long)old,
	    (unsigned long long)size, a.status, a.reason);
	if (body != NULL)
		cr_expect(a.body.len == strlen(body) &&
		    memcmp(a.body.p, body, a.body.len) == 0,
		    "old %llu size %llu: body %.*s", (unsigned long long)old,
		    (unsigned long long)size, (int)a.body.len,
		    (const char *)a.body.p);
	witness_answer_close(&a);
}

TestSuite(witness, .init = setup, .fini = teardown);

Test(witness, cosigns_a_consistent_checkpoint_and_the_line_verifies)
{
	struct witness_answer a;
	cst_buf b;
	cst_note n;
	uint64_t ts;

	cr_assert_eq(send_req(lk, leaves, 0, 5, 0, &a), 200, "%s", a.reason);
	cr_assert_str_eq(a.content_type, "text/x.tlog.cosignature");
	/* The answer's line, added to the note, verifies with the key. */
	request(&b, lk, leaves, 0, 5, 0);
	{
		const char *note = memchr(b.p, '\n', b.len);

		note += 2;
		cst_buf nb;

		cst_buf_init(&nb);
		cr_assert_eq(cst_buf_append(&nb, note, b.len -
		    (size_t)(note - (const char *)b.p)), 0);
		cr_assert_eq(cst_buf_append(&nb, a.body.p, a.body.len), 0);
		cr_assert_eq(cst_note_parse((const char *)nb.p, nb.len, &n),
		    0);
		cr_assert_eq(cst_note_cosig_verify(&n, &wvk, &ts), 0);
		cst_note_close(&n);
		cst_buf_close(&nb);
	}
	cst_buf_close(&b);
	witness_answer_close(&a);
	expect(lk, leaves, 5, 9, 0, 200, NULL);
	/* The same checkpoint again: cosigned again, nothing changes. */
	expect(lk, leaves, 9, 9, 0, 200, NULL);
}

Test(witness, a_stale_old_size_gets_409_with_the_witness_size)
{
	struct witness_answer a;

	expect(lk, leaves, 0, 5, 0, 200, NULL);
	cr_assert_eq(send_req(lk, leaves, 0, 8, 0, &a), 409);
	cr_assert_str_eq(a.content_type, "text/x.tlog.size");
	cr_assert(a.body.len == 2 && memcmp(a.body.p, "5\n", 2) == 0);
	witness_answer_close(&a);
}

Test(witness, a_rollback_is_refused_and_kept_as_evidence)
{
	struct witness_answer a;
	char path[256];
	struct stat st;

	expect(lk, leaves, 0, 8, 0, 200, NULL);
	/* The log went back to size 3 and says the witness saw 3. */
	cr_assert_eq(send_req(lk, leaves, 3, 3, 0, &a), 409);
	cr_assert(a.body.len == 2 && memcmp(a.body.p, "8\n", 2) == 0);
	cr_assert_eq(a.have_latest, 1);
	cr_assert_eq(a.latest, 8);
	cr_assert_not_null(strstr(a.reason, "rollback"), "%s", a.reason);
	cr_assert_neq(a.evidence[0], '\0');
	snprintf(path, sizeof(path), "%s/witness/refused/%s", dir, a.evidence);
	cr_assert_eq(stat(path, &st), 0, "%s", path);
	witness_answer_close(&a);
	/* old larger than the checkpoint: malformed. */
	expect(lk, leaves, 8, 3, 0, 400, NULL);
}

Test(witness, a_bad_proof_is_422_and_a_fork_is_409)
{
	expect(lk, leaves, 0, 8, 0, 200, NULL);
	expect(lk, leaves, 8, 12, 1, 422, NULL);
	/* A fork after leaf 6: its proof from 8 does not hold. */
	expect(lk, forked, 8, 12, 0, 422, NULL);
	/* The same size with another root. */
	expect(lk, forked, 8, 8, 0, 409, NULL);
	/* A non-empty proof from 0. */
	{
		struct witness_answer a;
		cst_buf b;
		const char *bad = "old 0\n"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n";

		request(&b, lk, leaves, 0, 9, 0);
		cst_buf nb;
		cst_buf_init(&nb);
		cr_assert_eq(cst_buf_append(&nb, bad, strlen(bad)), 0);
		cr_assert_eq(cst_buf_append(&nb, (const char *)b.p + 7,
		    b.len - 7), 0);
		cr_assert_eq(witness_add_checkpoint(w, nb.p, nb.len, &a), 0);
		cr_expect_eq(a.status, 409, "%u %s", a.status, a.reason);
		witness_answer_close(&a);
		cst_buf_close(&nb);
		cst_buf_close(&b);
	}
	expect(lk, leaves, 8, 12, 0, 200, NULL);
}

Test(witness, unknown_logs_and_forged_signatures)
{
	struct witness_answer a;

	cr_assert_eq(send_req(other_chain, leaves, 0, 5, 0, &a), 404);
	witness_answer_close(&a);
	cr_assert_eq(send_req(impostor, leaves, 0, 5, 0, &a), 403);
	/* Anyone can send a 403: not kept as evidence. */
	cr_assert_eq(a.evidence[0], '\0');
	witness_answer_close(&a);
	/* Nothing was cosigned: old 0 still holds. */
	expect(lk, leaves, 0, 5, 0, 200, NULL);
}

Test(witness, malformed_bodies_are_400)
{
	static const char *bad[] = { "", "old\n\n", "old 01\n\n",
	    "old 0\nnot base64\n\n", "old 0\n", "old 0\n\nnot a note\n" };
	struct witness_answer a;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(witness_add_checkpoint(w,
		    (const uint8_t *)bad[i], strlen(bad[i]), &a), 0);
		cr_expect_eq(a.status, 400, "%zu: %u", i, a.status);
		witness_answer_close(&a);
	}
}

Test(witness, the_state_survives_a_restart)
{
	expect(lk, leaves, 0, 8, 0, 200, NULL);
	witness_close(w);
	open_witness();
	expect(lk, leaves, 0, 9, 0, 409, "8\n");
	expect(lk, leaves, 8, 9, 0, 200, NULL);
}

Test(witness, a_key_readable_by_others_is_refused)
{
	char err[WITNESS_ERR_LEN];
	char *logs[1] = { logvk };
	struct witness *w2;

	cr_assert_eq(chmod(keypath, 0644), 0);
	cr_assert_eq(witness_open(dir, keypath, logs, 1, &w2, err), CST_EPERM);
	cr_assert_not_null(strstr(err, "chmod 600"), "%s", err);
	cr_assert_eq(chmod(keypath, 0600), 0);
}
