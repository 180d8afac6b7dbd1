/*
 * Checkpoints (SPEC section 8): the exact text, a round trip through
 * decode and verify, and that no change to a single byte of a checkpoint
 * survives both decode and verify (R-CKP-1).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include "custody/buf.h"
#include "custody/checkpoint.h"
#include "custody/error.h"
#include "custody/format.h"
#include "custody/hash.h"
#include "custody/keys.h"

/* 2026-11-22T11:30:00.123456789Z */
#define NOW_NS INT64_C(1795347000123456789)

struct fix {
	cst_root_key *root;
	cst_epoch_key *e[3];
	uint8_t head[CST_HASH_LEN];
};

/* Deterministic keys, so that a failure reproduces byte for byte. */
static void
fix_make(struct fix *f)
{
	uint8_t chain[CST_CHAIN_ID_LEN], seed[CST_SEED_LEN];
	int i;

	memset(chain, 0x5a, sizeof(chain));
	memset(seed, 0x01, sizeof(seed));
	cr_assert_eq(cst_root_key_from_seed(chain, seed, &f->root), 0);
	seed[0] = 2;
	cr_assert_eq(cst_epoch_key_first_from_seed(f->root, seed, NOW_NS,
	    &f->e[0]), 0);
	for (i = 1; i < 3; i++) {
		seed[0] = (uint8_t)(2 + i);
		cr_assert_eq(cst_epoch_key_next_from_seed(f->e[i - 1], seed,
		    (uint64_t)i * 1000, NOW_NS, &f->e[i]), 0);
	}
	for (i = 0; i < CST_HASH_LEN; i++)
		f->head[i] = (uint8_t)(0xa0 + i);
}

static void
fix_free(struct fix *f)
{
	int i;

	for (i = 0; i < 3; i++)
		cst_epoch_key_free(f->e[i]);
	cst_root_key_free(f->root);
}

static void
make(const cst_epoch_key *k, const uint8_t head[CST_HASH_LEN],
    int64_t time_ns, cst_buf *out)
{

	cst_buf_init(out);
	cr_assert_eq(cst_checkpoint_encode(k, 4242, 1234567, head, time_ns,
	    out), 0);
}

/* Decodes and verifies text: 0 or the first error. */
static int
check(const uint8_t *text, size_t len, const cst_root_pub *root)
{
	cst_checkpoint cp;
	int rc;

	if ((rc = cst_checkpoint_decode((const char *)text, len, &cp)) != 0)
		return (rc);
	rc = cst_checkpoint_verify(&cp, root);
	cst_checkpoint_close(&cp);
	return (rc);
}

Test(checkpoint, exact_text)
{
	struct fix f;
	cst_buf b;
	char chain[2 * CST_CHAIN_ID_LEN + 1], head[2 * CST_HASH_LEN + 1];
	char want[512];
	int n;

	fix_make(&f);
	make(f.e[0], f.head, NOW_NS, &b);
	cst_hex(f.root->pub.chain_id, CST_CHAIN_ID_LEN, chain);
	cst_hex(f.head, CST_HASH_LEN, head);
	n = snprintf(want, sizeof(want), "custody-checkpoint-v1\n"
	    "chain %s\nblocks 4242\nrecords 1234567\nhead %s\n"
	    "time 2026-11-22T11:30:00.123456789Z\nepoch 1\ncert ", chain,
	    head);
	cr_assert(b.len > (size_t)n);
	cr_assert_arr_eq(b.p, want, (size_t)n);
	/* One cert line, one sig line, each of canonical base64. */
	cr_assert_eq(b.len, (size_t)n + 192 + 1 + 4 + 88 + 1);
	cr_assert_eq(memcmp(b.p + n + 193, "sig ", 4), 0);
	cr_assert_eq(b.p[b.len - 1], '\n');
	cst_buf_close(&b);
	fix_free(&f);
}

Test(checkpoint, round_trip)
{
	struct fix f;
	cst_checkpoint cp;
	cst_buf b;
	int e;

	fix_make(&f);
	for (e = 0; e < 3; e++) {
		make(f.e[e], f.head, NOW_NS, &b);
		cr_assert_eq(cst_checkpoint_decode((const char *)b.p, b.len,
		    &cp), 0);
		cr_assert_arr_eq(cp.chain_id, f.root->pub.chain_id,
		    CST_CHAIN_ID_LEN);
		cr_assert_eq(cp.blocks, 4242);
		cr_assert_eq(cp.records, 1234567);
		cr_assert_arr_eq(cp.head, f.head, CST_HASH_LEN);
		cr_assert_eq(cp.time_ns, NOW_NS);
		cr_assert_eq(cp.epoch, (uint32_t)e + 1);
		cr_assert_arr_eq(cp.certs, f.e[e]->certs,
		    (size_t)(e + 1) * sizeof(cst_cert));
		cr_assert_eq(cp.body_len, b.len - 4 - 88 - 1);
		cr_assert_arr_eq(cp.body, b.p, cp.body_len);
		cr_assert_eq(cst_checkpoint_verify(&cp, &f.root->pub), 0);
		cst_checkpoint_close(&cp);
		cst_buf_close(&b);
	}
	/* Closing twice, or a zeroed struct, is harmless. */
	cst_checkpoint_close(&cp);
	fix_free(&f);
}

/* Times at the edges of int64 ns and around the epoch keep every digit. */
Test(checkpoint, times)
{
	static const struct {
		int64_t ns;
		const char *text;
	} cases[] = {
		{ 0, "1970-01-01T00:00:00.000000000Z" },
		{ -1, "1969-12-31T23:59:59.999999999Z" },
		{ INT64_MAX, "2262-04-11T23:47:16.854775807Z" },
		{ INT64_MIN, "1677-09-21T00:12:43.145224192Z" },
		{ INT64_C(951782400000000000),
		    "2000-02-29T00:00:00.000000000Z" },
		{ NOW_NS, "2026-11-22T11:30:00.123456789Z" },
	};
	struct fix f;
	cst_checkpoint cp;
	cst_buf b;
	size_t i;
	const char *t;

	fix_make(&f);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		make(f.e[0], f.head, cases[i].ns, &b);
		t = memmem(b.p, b.len, "\ntime ", 6);
		cr_assert_not_null(t);
		cr_assert_eq(memcmp(t + 6, cases[i].text, 30), 0,
		    "case %zu: %.30s", i, t + 6);
		cr_assert_eq(cst_checkpoint_decode((const char *)b.p, b.len,
		    &cp), 0);
		cr_assert_eq(cp.time_ns, cases[i].ns);
		cst_checkpoint_close(&cp);
		cst_buf_close(&b);
	}
	fix_free(&f);
}

/* Replaces the value of line name in b's text by val; decode must fail. */
static void
assert_bad_line(const cst_buf *b, const char *name, const char *val)
{
	char line[64], *text, *p, *lf;
	size_t pre, n, vlen = strlen(val);
	cst_checkpoint cp;

	snprintf(line, sizeof(line), "\n%s ", name);
	p = memmem(b->p, b->len, line, strlen(line));
	cr_assert_not_null(p);
	pre = (size_t)(p - (char *)b->p) + strlen(line);
	lf = memchr(b->p + pre, '\n', b->len - pre);
	cr_assert_not_null(lf);
	n = pre + vlen + (size_t)((char *)b->p + b->len - lf);
	text = malloc(n);
	cr_assert_not_null(text);
	memcpy(text, b->p, pre);
	memcpy(text + pre, val, vlen);
	memcpy(text + pre + vlen, lf, (size_t)((char *)b->p + b->len - lf));
	cr_assert_eq(cst_checkpoint_decode(text, n, &cp), CST_EPARSE,
	    "%s %s", name, val);
	free(text);
}

Test(checkpoint, decode_is_strict)
{
	struct fix f;
	cst_buf b;
	cst_checkpoint cp;
	size_t i;

	fix_make(&f);
	make(f.e[1], f.head, NOW_NS, &b);
	assert_bad_line(&b, "blocks", "04242");
	assert_bad_line(&b, "blocks", "+4242");
	assert_bad_line(&b, "blocks", "");
	assert_bad_line(&b, "blocks", "18446744073709551616");
	assert_bad_line(&b, "records", "1234567 ");
	assert_bad_line(&b, "epoch", "0");
	assert_bad_line(&b, "epoch", "3");
	assert_bad_line(&b, "epoch", "4294967297");
	assert_bad_line(&b, "chain", "5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A");
	assert_bad_line(&b, "chain", "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a");
	assert_bad_line(&b, "time", "2026-11-22T11:30:00Z");
	assert_bad_line(&b, "time", "2026-11-22T11:30:00.123456789+00:00");
	assert_bad_line(&b, "time", "2026-11-22 11:30:00.123456789Z");
	assert_bad_line(&b, "time", "2026-02-29T11:30:00.123456789Z");
	assert_bad_line(&b, "time", "2026-11-22T24:00:00.000000000Z");
	assert_bad_line(&b, "time", "2026-11-22T23:59:60.000000000Z");
	assert_bad_line(&b, "time", "2262-04-11T23:47:16.854775808Z");
	assert_bad_line(&b, "time", "9999-12-31T23:59:59.999999999Z");

	/* Every proper prefix, and anything after the sig line. */
	for (i = 0; i < b.len; i++)
		cr_assert_eq(cst_checkpoint_decode((const char *)b.p, i, &cp),
		    CST_EPARSE, "prefix %zu", i);
	cr_assert_eq(cst_buf_append(&b, "\n", 1), 0);
	cr_assert_eq(cst_checkpoint_decode((const char *)b.p, b.len, &cp),
	    CST_EPARSE);
	cst_buf_close(&b);
	fix_free(&f);
}

/*
 * R-CKP-1: every single-byte change of a checkpoint, to every other value,
 * is refused by decode or by verify.
 */
Test(checkpoint, every_byte_change_is_rejected, .timeout = 120)
{
	struct fix f;
	cst_buf b;
	uint8_t *bad;
	size_t i;
	unsigned v, decoded = 0;
	int rc;

	fix_make(&f);
	make(f.e[0], f.head, NOW_NS, &b);
	cr_assert_eq(check(b.p, b.len, &f.root->pub), 0);
	bad = malloc(b.len);
	cr_assert_not_null(bad);
	for (i = 0; i < b.len; i++) {
		for (v = 0; v < 256; v++) {
			if (v == b.p[i])
				continue;
			memcpy(bad, b.p, b.len);
			bad[i] = (uint8_t)v;
			rc = check(bad, b.len, &f.root->pub);
			cr_assert_neq(rc, 0, "byte %zu to %u accepted", i, v);
			if (rc != CST_EPARSE)
				decoded++;
		}
	}
	/* Most changes of a value still decode: verify caught those. */
	cr_assert(decoded > 1000, "only %u reached verify", decoded);
	free(bad);
	cst_buf_close(&b);
	fix_free(&f);
}

/* The same, with bit flips only, for a checkpoint of epoch 3. */
Test(checkpoint, every_bit_flip_is_rejected_epoch_3)
{
	struct fix f;
	cst_buf b;
	uint8_t *bad;
	size_t i, bit;

	fix_make(&f);
	make(f.e[2], f.head, NOW_NS, &b);
	cr_assert_eq(check(b.p, b.len, &f.root->pub), 0);
	bad = malloc(b.len);
	cr_assert_not_null(bad);
	for (i = 0; i < b.len; i++) {
		for (bit = 0; bit < 8; bit++) {
			memcpy(bad, b.p, b.len);
			bad[i] ^= (uint8_t)(1u << bit);
			cr_assert_neq(check(bad, b.len, &f.root->pub), 0,
			    "byte %zu bit %zu", i, bit);
		}
	}
	free(bad);
	cst_buf_close(&b);
	fix_free(&f);
}

Test(checkpoint, wrong_root_is_rejected)
{
	struct fix f;
	cst_root_key *other;
	cst_root_pub forged;
	cst_buf b;

	fix_make(&f);
	make(f.e[1], f.head, NOW_NS, &b);
	cr_assert_eq(cst_root_key_generate(&other), 0);
	/* Another chain. */
	cr_assert_eq(check(b.p, b.len, &other->pub), CST_EFOREIGN);
	/* This chain's id with another root key. */
	forged = other->pub;
	memcpy(forged.chain_id, f.root->pub.chain_id, CST_CHAIN_ID_LEN);
	cr_assert_eq(check(b.p, b.len, &forged), CST_ESIG);
	cst_root_key_free(other);
	cst_buf_close(&b);
	fix_free(&f);
}

/* A checkpoint signed by a key its certificates do not lead to. */
Test(checkpoint, key_outside_the_chain_is_rejected)
{
	struct fix f;
	cst_root_key *other;
	cst_epoch_key *stray;
	cst_buf b;

	fix_make(&f);
	cr_assert_eq(cst_root_key_generate(&other), 0);
	memcpy(other->pub.chain_id, f.root->pub.chain_id, CST_CHAIN_ID_LEN);
	cr_assert_eq(cst_epoch_key_first(other, NOW_NS, &stray), 0);
	make(stray, f.head, NOW_NS, &b);
	cr_assert_eq(check(b.p, b.len, &f.root->pub), CST_ESIG);
	/* Its certificates replaced by the genuine ones: the signature. */
	memcpy(stray->certs, f.e[0]->certs, sizeof(cst_cert));
	cst_buf_close(&b);
	make(stray, f.head, NOW_NS, &b);
	cr_assert_eq(check(b.p, b.len, &f.root->pub), CST_ESIG);
	cst_epoch_key_free(stray);
	cst_root_key_free(other);
	cst_buf_close(&b);
	fix_free(&f);
}
