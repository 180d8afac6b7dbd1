/*
 * Signed notes, verifier keys, checkpoint bodies and cosignatures (C2SP
 * signed-note, tlog-checkpoint, tlog-cosignature; SPEC 13.3, R-NOTE-*),
 * and the log key with its certificate and note checkpoints (R-TLOG-3..5).
 * The example key and note of the signed-note reference implementation
 * (golang.org/x/mod/sumdb/note) must verify byte for byte.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include "custody/buf.h"
#include "custody/error.h"
#include "custody/format.h"
#include "custody/keys.h"
#include "custody/logkey.h"
#include "custody/note.h"

#define GO_VKEY "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
#define GO_TEXT "If you think cryptography is the answer to your problem,\n" \
	"then you don't know what your problem is.\n"
#define GO_SIG "\xe2\x80\x94 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
#define GO_NOTE GO_TEXT "\n" GO_SIG

static int
open_with(const char *note, size_t len, const cst_note_vkey *k)
{
	cst_note n;
	int rc;

	if ((rc = cst_note_parse(note, len, &n)) != 0)
		return (rc);
	rc = cst_note_verify(&n, k);
	cst_note_close(&n);
	return (rc);
}

Test(note, reference_example_verifies)
{
	cst_note_vkey k;
	cst_buf b;
	cst_note n;

	cr_assert(cst_note_vkey_parse(GO_VKEY, strlen(GO_VKEY), &k) == 0);
	cr_assert(k.key_id == 0xc74f20a3);
	cr_assert(k.alg == CST_NOTE_ALG_ED25519);
	cr_assert(cst_note_key_id("PeterNeumann", 12, 1, k.pk) == 0xc74f20a3);
	cst_buf_init(&b);
	cr_assert(cst_note_vkey_format(&k, &b) == 0);
	cr_assert(b.len == strlen(GO_VKEY) && memcmp(b.p, GO_VKEY, b.len) == 0);
	cst_buf_close(&b);
	cr_assert(cst_note_parse(GO_NOTE, strlen(GO_NOTE), &n) == 0);
	cr_assert(n.text_len == strlen(GO_TEXT));
	cr_assert(n.nsigs == 1 && n.sigs[0].key_id == 0xc74f20a3);
	cr_assert(cst_note_verify(&n, &k) == 0);
	cst_note_close(&n);
}

Test(note, tampered_reference_note_is_refused)
{
	char buf[512];
	cst_note_vkey k, other;
	size_t len = strlen(GO_NOTE), i;

	cr_assert(cst_note_vkey_parse(GO_VKEY, strlen(GO_VKEY), &k) == 0);
	/* Body: one letter changed. */
	memcpy(buf, GO_NOTE, len);
	buf[3] = 'X';
	cr_assert(open_with(buf, len, &k) == CST_ESIG);
	/* Signature: one base64 digit changed (still canonical). */
	memcpy(buf, GO_NOTE, len);
	i = strlen(GO_TEXT) + 1 + 4 + 13 + 10;
	buf[i] = buf[i] == 'A' ? 'B' : 'A';
	cr_assert(open_with(buf, len, &k) == CST_ESIG ||
	    open_with(buf, len, &k) == CST_ENOENT);
	/* Name: another signer's line is ignored, so nothing verifies. */
	memcpy(buf, GO_NOTE, len);
	buf[strlen(GO_TEXT) + 1 + 4] = 'Q';
	cr_assert(open_with(buf, len, &k) == CST_ENOENT);
	/* Same name, another key (another key ID): ignored. */
	k.pk[0] ^= 1;
	cr_assert(cst_note_vkey_make("PeterNeumann", 12, 1, k.pk, &other) ==
	    0);
	cr_assert(open_with(GO_NOTE, len, &other) == CST_ENOENT);
	/* Same name and key ID, wrong key: the line is checked and fails. */
	other.key_id = 0xc74f20a3;
	cr_assert(open_with(GO_NOTE, len, &other) == CST_ESIG);
}

Test(note, mangled_vkeys_are_refused)
{
	char buf[128];
	cst_note_vkey k;
	size_t len = strlen(GO_VKEY), i, j;

	/* Every cut of the key text gives a key that fails to parse. */
	for (i = 0; i < len; i++)
		for (j = i + 1; j <= len; j++) {
			if (i == 0 && j == len)
				continue;
			memcpy(buf, GO_VKEY, i);
			memcpy(buf + i, GO_VKEY + j, len - j);
			cr_assert(cst_note_vkey_parse(buf, len - (j - i), &k) ==
			    CST_EKEY, "cut %zu..%zu", i, j);
		}
	memcpy(buf, GO_VKEY, len);
	buf[13] = 'C';  /* upper-case key ID */
	cr_assert(cst_note_vkey_parse(buf, len, &k) == CST_EKEY);
}

static void
check_parse(const char *note, int want)
{
	cst_note n;

	cr_assert(cst_note_parse(note, strlen(note), &n) == want, "%s",
	    note);
	cst_note_close(&n);
}

Test(note, hostile_syntax_is_refused)
{
	char *big;
	size_t i, off;

	check_parse(GO_NOTE, 0);
	check_parse(GO_TEXT GO_SIG, CST_EPARSE);            /* no empty line */
	check_parse(GO_TEXT "\n", CST_EPARSE);              /* no signature */
	check_parse(GO_TEXT "\n" GO_SIG "\n", CST_EPARSE);  /* empty line after */
	check_parse(GO_TEXT "\n-- PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n", CST_EPARSE);
	check_parse(GO_TEXT "\n\xe2\x80\x94 Peter+Neumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n", CST_EPARSE);
	check_parse(GO_TEXT "\n\xe2\x80\x94 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM\n", CST_EPARSE);
	check_parse(GO_TEXT "\n\xe2\x80\x94 PeterNeumann AAAA\n", CST_EPARSE);
	check_parse(GO_TEXT "\n\xe2\x80\x94  x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n", CST_EPARSE);
	check_parse("tab\there\n\n" GO_SIG, CST_EPARSE);
	check_parse("cr\r\n\n" GO_SIG, CST_EPARSE);
	check_parse("bad \xc0\xaf utf8\n\n" GO_SIG, CST_EPARSE);
	check_parse("surrogate \xed\xa0\x80\n\n" GO_SIG, CST_EPARSE);
	check_parse("cut \xe2\x80\n\n" GO_SIG, CST_EPARSE);
	check_parse("", CST_EPARSE);
	check_parse("\n", CST_EPARSE);
	/* The last empty line splits: text may hold empty lines. */
	check_parse("a\n\nb\n\n" GO_SIG, 0);

	/* 100 signature lines are fine, 101 are too many. */
	big = malloc(CST_NOTE_MAX_LEN + 2);
	cr_assert_not_null(big);
	off = 0;
	memcpy(big, "x\n\n", 3);
	off = 3;
	for (i = 0; i < 100; i++) {
		memcpy(big + off, GO_SIG, strlen(GO_SIG));
		off += strlen(GO_SIG);
	}
	big[off] = '\0';
	check_parse(big, 0);
	memcpy(big + off, GO_SIG, strlen(GO_SIG) + 1);
	check_parse(big, CST_ETOOBIG);
	memset(big, 'a', CST_NOTE_MAX_LEN + 1);
	big[CST_NOTE_MAX_LEN + 1] = '\0';
	check_parse(big, CST_ETOOBIG);
	free(big);
}

Test(note, sign_verify_and_unknown_lines)
{
	uint8_t pk[CST_PK_LEN], sk[64], pk2[CST_PK_LEN], sk2[64];
	cst_note_vkey k, k2;
	cst_buf b;

	cr_assert(sodium_init() >= 0);
	crypto_sign_keypair(pk, sk);
	crypto_sign_keypair(pk2, sk2);
	cr_assert(cst_note_vkey_make("log.example/a", 13, 1, pk, &k) == 0);
	cr_assert(cst_note_vkey_make("other.example", 13, 1, pk2, &k2) == 0);
	cst_buf_init(&b);
	cr_assert(cst_buf_append(&b, "hello\n\n", 7) == 0);
	cr_assert(cst_note_sign("hello\n", 6, "other.example", 13, sk2, &b) ==
	    0);
	cr_assert(cst_note_sign("hello\n", 6, "log.example/a", 13, sk, &b) ==
	    0);
	cr_assert(open_with((const char *)b.p, b.len, &k) == 0);
	cr_assert(open_with((const char *)b.p, b.len, &k2) == 0);
	cr_assert(cst_note_sign("hello\n", 6, "bad name", 8, sk, &b) ==
	    CST_EINVAL);
	cst_buf_close(&b);
}

Test(note, checkpoint_body)
{
	cst_note_ckpt c;
	uint8_t root[CST_HASH_LEN];
	cst_buf b;
	const char *t;

	memset(root, 7, sizeof(root));
	cst_buf_init(&b);
	cr_assert(cst_note_ckpt_format("example.com/log", 15, 20852163, root,
	    "ext one\n", 8, &b) == 0);
	cr_assert(cst_note_ckpt_parse((const char *)b.p, b.len, &c) == 0);
	cr_assert(c.size == 20852163 && memcmp(c.root, root, 32) == 0);
	cr_assert(c.origin_len == 15 && c.ext_len == 8);
	cst_buf_close(&b);
	t = "o\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
	cr_assert(cst_note_ckpt_parse(t, strlen(t), &c) == 0);
	cr_assert(c.ext_len == 0);
	t = "o\n0\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
	cr_assert(cst_note_ckpt_parse(t, strlen(t), &c) == 0 && c.size == 0);
	t = "o\n01\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
	cr_assert(cst_note_ckpt_parse(t, strlen(t), &c) == CST_EPARSE);
	t = "o\n18446744073709551616\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
	cr_assert(cst_note_ckpt_parse(t, strlen(t), &c) == CST_EPARSE);
	t = "o\n18446744073709551615\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
	cr_assert(cst_note_ckpt_parse(t, strlen(t), &c) == 0);
	t = "\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
	cr_assert(cst_note_ckpt_parse(t, strlen(t), &c) == CST_EPARSE);
	t = "o\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n";
	cr_assert(cst_note_ckpt_parse(t, strlen(t), &c) == CST_EPARSE);
	t = "o\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
	cr_assert(cst_note_ckpt_parse(t, strlen(t), &c) == CST_EPARSE);
	t = "o\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\nx\n\ny\n";
	cr_assert(cst_note_ckpt_parse(t, strlen(t), &c) == CST_EPARSE);
	t = "o\n+5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
	cr_assert(cst_note_ckpt_parse(t, strlen(t), &c) == CST_EPARSE);
}

Test(note, cosignature_v1)
{
	uint8_t pk[CST_PK_LEN], sk[64], sig[64];
	const char *body = "example.com/behind-the-sofa\n20852163\n"
	    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
	const char *msg = "cosignature/v1\ntime 1679315147\n"
	    "example.com/behind-the-sofa\n20852163\n"
	    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
	cst_note_vkey k, klog;
	uint64_t t = 0;
	cst_note n;
	cst_buf b;

	cr_assert(sodium_init() >= 0);
	crypto_sign_keypair(pk, sk);
	cr_assert(cst_note_vkey_make("witness.example/w1", 18,
	    CST_NOTE_ALG_COSIG_V1, pk, &k) == 0);
	cr_assert(cst_note_vkey_make("witness.example/w1", 18,
	    CST_NOTE_ALG_ED25519, pk, &klog) == 0);
	cr_assert(k.key_id != klog.key_id);
	cst_buf_init(&b);
	cr_assert(cst_buf_append(&b, body, strlen(body)) == 0);
	cr_assert(cst_buf_append(&b, "\n", 1) == 0);
	cr_assert(cst_note_cosign(body, strlen(body), 1679315147,
	    "witness.example/w1", 18, sk, &b) == 0);
	cr_assert(cst_note_parse((const char *)b.p, b.len, &n) == 0);
	cr_assert(n.sigs[0].sig_len == CST_NOTE_COSIG_LEN);
	/* The signed message is exactly the one C2SP spells out. */
	cr_assert(crypto_sign_verify_detached(n.sigs[0].sig + 8,
	    (const uint8_t *)msg, strlen(msg), pk) == 0);
	cr_assert(cst_note_cosig_verify(&n, &k, &t) == 0 && t == 1679315147);
	/* A cosignature is no log signature, and the reverse. */
	cr_assert(cst_note_verify(&n, &klog) == CST_ENOENT);
	cr_assert(cst_note_cosig_verify(&n, &klog, &t) == CST_ENOENT);
	/* The time is signed: changing it breaks the cosignature. */
	n.sigbuf[4 + 7] ^= 1;
	cr_assert(cst_note_cosig_verify(&n, &k, &t) == CST_ESIG);
	cst_note_close(&n);
	(void)sig;
	cr_assert(cst_note_cosign(body, strlen(body), UINT64_MAX,
	    "witness.example/w1", 18, sk, &b) == CST_EINVAL);
	cst_buf_close(&b);
}

/* The log key. */

static const uint8_t chain_a[CST_CHAIN_ID_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8,
    9, 10, 11, 12, 13, 14, 15, 16 };
static const uint8_t seed_root[CST_SEED_LEN] = { 1 };
static const uint8_t seed_root2[CST_SEED_LEN] = { 2 };
static const uint8_t seed_log[CST_SEED_LEN] = { 3 };
static const uint8_t seed_log2[CST_SEED_LEN] = { 4 };

Test(logkey, certificate_and_note)
{
	cst_root_key *root, *root2;
	cst_log_key *lk, *lk2;
	cst_log_cert c, c2, d;
	uint8_t r[CST_HASH_LEN], got[CST_HASH_LEN];
	uint64_t size;
	cst_note_vkey vk;
	char origin[CST_LOG_ORIGIN_LEN + 1];
	cst_buf b, nb;

	memset(r, 0x5a, sizeof(r));
	cr_assert(cst_root_key_from_seed(chain_a, seed_root, &root) == 0);
	cr_assert(cst_root_key_from_seed(chain_a, seed_root2, &root2) == 0);
	cr_assert(cst_log_key_from_seed(chain_a, seed_log, &lk) == 0);
	cr_assert(cst_log_key_from_seed(chain_a, seed_log2, &lk2) == 0);
	cst_log_origin(chain_a, origin);
	cr_assert_str_eq(origin, "custody/0102030405060708090a0b0c0d0e0f10");

	cst_log_cert_make(root, lk->pk, &c);
	cr_assert(cst_log_cert_verify(&c, &root->pub) == 0);
	cr_assert(cst_log_cert_verify(&c, &root2->pub) == CST_ESIG);
	cst_buf_init(&b);
	cr_assert(cst_log_cert_encode(&c, &b) == 0);
	cr_assert(cst_log_cert_decode((const char *)b.p, b.len, &d) == 0);
	cr_assert(memcmp(&c, &d, sizeof(c)) == 0);
	((char *)b.p)[25] = (char)(((char *)b.p)[25] == 'a' ? 'A' : 'a');
	cr_assert(cst_log_cert_decode((const char *)b.p, b.len, &d) ==
	    CST_EPARSE || cst_log_cert_verify(&d, &root->pub) != 0);
	cst_buf_close(&b);

	cst_buf_init(&nb);
	cr_assert(cst_log_note_encode(lk, 42, r, &nb) == 0);
	cr_assert(cst_log_note_verify((const char *)nb.p, nb.len, &c, &size,
	    got) == 0);
	cr_assert(size == 42 && memcmp(got, r, CST_HASH_LEN) == 0);
	/* The note is a plain C2SP checkpoint under the log's vkey. */
	cst_log_vkey(chain_a, lk->pk, &vk);
	cr_assert(open_with((const char *)nb.p, nb.len, &vk) == 0);
	/* Another log key's certificate does not verify the note. */
	cst_log_cert_make(root, lk2->pk, &c2);
	cr_assert(cst_log_note_verify((const char *)nb.p, nb.len, &c2, &size,
	    got) == CST_ENOENT);
	/* Another chain's origin. */
	c2 = c;
	c2.chain_id[0] ^= 1;
	cr_assert(cst_log_note_verify((const char *)nb.p, nb.len, &c2, &size,
	    got) == CST_EFOREIGN);
	/* A changed size. */
	((char *)nb.p)[CST_LOG_ORIGIN_LEN + 2] = '3';
	cr_assert(cst_log_note_verify((const char *)nb.p, nb.len, &c, &size,
	    got) == CST_ESIG);
	cst_buf_close(&nb);

	cst_log_key_free(lk);
	cst_log_key_free(lk2);
	cst_root_key_free(root);
	cst_root_key_free(root2);
}

Test(logkey, extension_lines_and_size_zero_are_refused)
{
	cst_root_key *root;
	cst_log_key *lk;
	cst_log_cert c;
	char origin[CST_LOG_ORIGIN_LEN + 1];
	uint8_t r[CST_HASH_LEN] = { 0 }, got[CST_HASH_LEN];
	uint64_t size;
	cst_buf b;
	size_t body;

	cr_assert(cst_root_key_from_seed(chain_a, seed_root, &root) == 0);
	cr_assert(cst_log_key_from_seed(chain_a, seed_log, &lk) == 0);
	cst_log_cert_make(root, lk->pk, &c);
	cst_log_origin(chain_a, origin);
	cst_buf_init(&b);
	cr_assert(cst_note_ckpt_format(origin, CST_LOG_ORIGIN_LEN, 5, r,
	    "time 1\n", 7, &b) == 0);
	body = b.len;
	cr_assert(cst_buf_append(&b, "\n", 1) == 0);
	cr_assert(cst_note_sign((const char *)b.p, body, origin,
	    CST_LOG_ORIGIN_LEN, lk->sk, &b) == 0);
	cr_assert(cst_log_note_verify((const char *)b.p, b.len, &c, &size,
	    got) == CST_EPARSE);
	b.len = 0;
	cr_assert(cst_log_note_encode(lk, 0, r, &b) == 0);
	cr_assert(cst_log_note_verify((const char *)b.p, b.len, &c, &size,
	    got) == CST_EPARSE);
	cst_buf_close(&b);
	cst_log_key_free(lk);
	cst_root_key_free(root);
}

Test(logkey, secret_file)
{
	char dir[64], path[128];
	cst_log_key *lk, *back;

	snprintf(dir, sizeof(dir), "/tmp/test_note.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/log.key", dir);
	cr_assert(cst_log_key_generate(chain_a, &lk) == 0);
	cr_assert(cst_log_key_save(lk, path) == 0);
	cr_assert(cst_log_key_save(lk, path) == CST_EEXIST);
	cr_assert(cst_log_key_load(path, &back) == 0);
	cr_assert(memcmp(back->pk, lk->pk, CST_PK_LEN) == 0);
	cr_assert(memcmp(back->chain_id, chain_a, CST_CHAIN_ID_LEN) == 0);
	cst_log_key_free(back);
	cr_assert(chmod(path, 0640) == 0);
	cr_assert(cst_log_key_load(path, &back) == CST_EPERM);
	unlink(path);
	rmdir(dir);
	cst_log_key_free(lk);
}
