/*
 * Keys (SPEC section 6): key files survive a save and load unchanged, a
 * secret file others can read is refused (R-KEY-3), a tampered file is
 * refused, and certificate chains hold only when every link is genuine
 * (R-KEY-1).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include "custody/error.h"
#include "custody/format.h"
#include "custody/keys.h"

#define NOW_NS INT64_C(1795347000123456789)

static char dir[64];
static char path_key[128], path_pub[128], path_epoch[128];

static void
setup(void)
{

	cr_assert(sodium_init() >= 0);
	snprintf(dir, sizeof(dir), "/tmp/test_keys.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path_key, sizeof(path_key), "%s/root.key", dir);
	snprintf(path_pub, sizeof(path_pub), "%s/root.pub", dir);
	snprintf(path_epoch, sizeof(path_epoch), "%s/epoch.key", dir);
}

static void
teardown(void)
{

	unlink(path_key);
	unlink(path_pub);
	unlink(path_epoch);
	rmdir(dir);
}

TestSuite(keys, .init = setup, .fini = teardown);

static uint8_t *
read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	cr_assert_not_null(f, "%s", path);
	cr_assert(fseek(f, 0, SEEK_END) == 0);
	n = ftell(f);
	cr_assert(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	cr_assert_not_null(buf);
	cr_assert(fread(buf, 1, (size_t)n, f) == (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return (buf);
}

/* Writes buf as path with mode, replacing it. */
static void
write_all(const char *path, const uint8_t *buf, size_t len, mode_t mode)
{
	int fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
	cr_assert(fd >= 0);
	cr_assert(write(fd, buf, len) == (ssize_t)len);
	cr_assert(fchmod(fd, mode) == 0);
	close(fd);
}

static mode_t
mode_of(const char *path)
{
	struct stat st;

	cr_assert(stat(path, &st) == 0);
	return (st.st_mode & 07777);
}

static void
assert_same_epoch_key(const cst_epoch_key *a, const cst_epoch_key *b)
{

	cr_assert_eq(a->epoch, b->epoch);
	cr_assert_arr_eq(a->chain_id, b->chain_id, CST_CHAIN_ID_LEN);
	cr_assert_arr_eq(a->pk, b->pk, CST_PK_LEN);
	cr_assert_arr_eq(a->sk, b->sk, crypto_sign_SECRETKEYBYTES);
	cr_assert_arr_eq(a->certs, b->certs, a->epoch * sizeof(cst_cert));
}

Test(keys, root_save_load_round_trip)
{
	cst_root_key *k, *l;
	cst_root_pub pub;

	cr_assert_eq(cst_root_key_generate(&k), 0);
	cr_assert_eq(cst_root_key_save(k, path_key, path_pub), 0);
	cr_assert_eq(mode_of(path_key), 0600);
	cr_assert_eq(mode_of(path_pub), 0644);

	cr_assert_eq(cst_root_key_load(path_key, &l), 0);
	cr_assert_arr_eq(l->pub.chain_id, k->pub.chain_id, CST_CHAIN_ID_LEN);
	cr_assert_arr_eq(l->pub.pk, k->pub.pk, CST_PK_LEN);
	cr_assert_arr_eq(l->sk, k->sk, crypto_sign_SECRETKEYBYTES);
	cr_assert_eq(cst_root_pub_load(path_pub, &pub), 0);
	cr_assert_arr_eq(pub.chain_id, k->pub.chain_id, CST_CHAIN_ID_LEN);
	cr_assert_arr_eq(pub.pk, k->pub.pk, CST_PK_LEN);

	/* The root secret is never overwritten; the public file is. */
	cr_assert_eq(cst_root_key_save(l, path_key, NULL), CST_EEXIST);
	cr_assert_eq(cst_root_key_save(l, NULL, path_pub), 0);
	cst_root_key_free(k);
	cst_root_key_free(l);
	cst_root_key_free(NULL);
}

Test(keys, root_key_from_seed_is_deterministic)
{
	uint8_t chain[CST_CHAIN_ID_LEN], seed[CST_SEED_LEN];
	cst_root_key *a, *b;

	memset(chain, 0x22, sizeof(chain));
	memset(seed, 0x11, sizeof(seed));
	cr_assert_eq(cst_root_key_from_seed(chain, seed, &a), 0);
	cr_assert_eq(cst_root_key_from_seed(chain, seed, &b), 0);
	cr_assert_arr_eq(a->pub.pk, b->pub.pk, CST_PK_LEN);
	cr_assert_arr_eq(a->pub.chain_id, chain, CST_CHAIN_ID_LEN);
	cst_root_key_free(a);
	cst_root_key_free(b);
}

Test(keys, root_pub_text)
{
	static const char good[] = "custody-root-v1 "
	    "00112233445566778899aabbccddeeff "
	    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n";
	cst_root_pub pub, alt;
	size_t n = sizeof(good) - 1;
	char bad[sizeof(good) + 1];
	unsigned i, v;

	cr_assert_eq(cst_root_pub_parse(good, n, &pub), 0);
	for (i = 0; i < CST_PK_LEN; i++)
		cr_assert_eq(pub.pk[i], i);
	cr_assert_eq(pub.chain_id[15], 0xff);
	/* One line copied by hand may lack its LF. */
	cr_assert_eq(cst_root_pub_parse(good, n - 1, &pub), 0);

	/* Anything else around the line is refused. */
	memcpy(bad, good, n);
	bad[n] = '\n';
	cr_assert_eq(cst_root_pub_parse(bad, n + 1, &pub), CST_EKEY);
	cr_assert_eq(cst_root_pub_parse(good, n - 2, &pub), CST_EKEY);
	cr_assert_eq(cst_root_pub_parse(good + 1, n - 1, &pub), CST_EKEY);
	cr_assert_eq(cst_root_pub_parse("", 0, &pub), CST_EKEY);
	/* One spelling: a changed byte is refused or names another key. */
	for (i = 0; i < n; i++) {
		for (v = 0; v < 256; v++) {
			if (v == (uint8_t)good[i])
				continue;
			memcpy(bad, good, n);
			bad[i] = (char)v;
			if (cst_root_pub_parse(bad, n, &alt) != 0)
				continue;
			cr_assert(memcmp(&alt, &pub, sizeof(pub)) != 0,
			    "byte %u value %u", i, v);
		}
	}
}

Test(keys, epoch_save_load_round_trip)
{
	cst_root_key *root;
	cst_epoch_key *e1, *e2, *e3, *l;

	cr_assert_eq(cst_root_key_generate(&root), 0);
	cr_assert_eq(cst_epoch_key_first(root, NOW_NS, &e1), 0);
	cr_assert_eq(e1->epoch, 1);
	cr_assert_eq(e1->certs[0].valid_from, 0);
	cr_assert_eq(e1->certs[0].signer_epoch, 0);
	cr_assert_eq(cst_epoch_key_next(e1, 100, NOW_NS + 1, &e2), 0);
	cr_assert_eq(cst_epoch_key_next(e2, 250, NOW_NS + 2, &e3), 0);
	cr_assert_eq(e3->epoch, 3);
	cr_assert_eq(e3->certs[1].valid_from, 100);
	cr_assert_eq(e3->certs[2].valid_from, 250);
	cr_assert_arr_eq(e3->certs[2].public_key, e3->pk, CST_PK_LEN);

	cr_assert_eq(cst_epoch_key_save(e1, path_epoch), 0);
	cr_assert_eq(mode_of(path_epoch), 0600);
	cr_assert_eq(cst_epoch_key_load(path_epoch, &root->pub, &l), 0);
	assert_same_epoch_key(l, e1);
	cst_epoch_key_free(l);

	/* Each rotation replaces the file whole. */
	cr_assert_eq(cst_epoch_key_save(e3, path_epoch), 0);
	cr_assert_eq(cst_epoch_key_load(path_epoch, &root->pub, &l), 0);
	assert_same_epoch_key(l, e3);
	cst_epoch_key_free(l);
	cr_assert_eq(cst_epoch_key_load(path_epoch, NULL, &l), 0);
	assert_same_epoch_key(l, e3);
	cst_epoch_key_free(l);

	cst_epoch_key_free(e1);
	cst_epoch_key_free(e2);
	cst_epoch_key_free(e3);
	cst_epoch_key_free(NULL);
	cst_root_key_free(root);
}

/*
 * Forward security on disk (SPEC 6): the file a rotation replaces has its
 * bytes overwritten with zeros, not just its name moved.  A descriptor
 * kept open on the old file reads what its blocks now hold; a symlink at
 * the key's path is replaced, and its target left alone.
 */
Test(keys, epoch_save_overwrites_the_old_file)
{
	cst_root_key *root;
	cst_epoch_key *e1, *e2, *l;
	char target[160], buf[4096];
	struct stat st;
	ssize_t n, i;
	int fd;

	cr_assert_eq(cst_root_key_generate(&root), 0);
	cr_assert_eq(cst_epoch_key_first(root, NOW_NS, &e1), 0);
	cr_assert_eq(cst_epoch_key_next(e1, 100, NOW_NS + 1, &e2), 0);
	cr_assert_eq(cst_epoch_key_save(e1, path_epoch), 0);
	cr_assert_geq(fd = open(path_epoch, O_RDONLY), 0);
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_gt(st.st_size, 0);
	cr_assert_eq(pread(fd, buf, 23, 0), 23);
	cr_assert(memcmp(buf, "custody-epoch-secret-v1", 23) == 0);

	cr_assert_eq(cst_epoch_key_save(e2, path_epoch), 0);
	n = pread(fd, buf, sizeof(buf), 0);
	cr_assert_eq(n, st.st_size, "the old file keeps its length");
	for (i = 0; i < n; i++)
		cr_assert_eq(buf[i], 0, "old byte %zd is %#x, not 0", i,
		    (unsigned)(uint8_t)buf[i]);
	close(fd);
	cr_assert_eq(cst_epoch_key_load(path_epoch, &root->pub, &l), 0);
	assert_same_epoch_key(l, e2);
	cst_epoch_key_free(l);

	/* A symlink is replaced by the new file; its target is not zeroed. */
	snprintf(target, sizeof(target), "%s/elsewhere", dir);
	cr_assert_eq(rename(path_epoch, target), 0);
	cr_assert_eq(symlink(target, path_epoch), 0);
	cr_assert_eq(cst_epoch_key_save(e1, path_epoch), 0);
	cr_assert_eq(lstat(path_epoch, &st), 0);
	cr_assert(S_ISREG(st.st_mode));
	cr_assert_eq(cst_epoch_key_load(target, &root->pub, &l), 0);
	assert_same_epoch_key(l, e2);
	cst_epoch_key_free(l);
	unlink(target);

	cst_epoch_key_free(e1);
	cst_epoch_key_free(e2);
	cst_root_key_free(root);
}

Test(keys, secret_files_readable_by_others_are_refused)
{
	cst_root_key *root, *l;
	cst_epoch_key *e, *el;
	static const mode_t bad[] = { 0644, 0640, 0604, 0620, 0602, 0610 };
	size_t i;

	cr_assert_eq(cst_root_key_generate(&root), 0);
	cr_assert_eq(cst_epoch_key_first(root, NOW_NS, &e), 0);
	cr_assert_eq(cst_root_key_save(root, path_key, path_pub), 0);
	cr_assert_eq(cst_epoch_key_save(e, path_epoch), 0);
	cr_assert_eq(cst_key_file_check(path_key), 0);
	cr_assert_eq(cst_key_file_check(path_epoch), 0);

	/* R-KEY-3. */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert(chmod(path_key, bad[i]) == 0);
		cr_assert(chmod(path_epoch, bad[i]) == 0);
		cr_assert_eq(cst_root_key_load(path_key, &l), CST_EPERM);
		cr_assert_eq(cst_epoch_key_load(path_epoch, NULL, &el),
		    CST_EPERM);
		cr_assert_eq(cst_key_file_check(path_key), CST_EPERM);
	}
	/* Stricter than 0600 is fine. */
	cr_assert(chmod(path_key, 0400) == 0);
	cr_assert_eq(cst_root_key_load(path_key, &l), 0);
	cst_root_key_free(l);
	/* A public key file is meant to be read by anyone. */
	cr_assert_eq(mode_of(path_pub), 0644);

	unlink(path_key);
	cr_assert_eq(cst_root_key_load(path_key, &l), CST_ENOENT);
	cr_assert_eq(cst_key_file_check(path_key), CST_ENOENT);
	cst_epoch_key_free(e);
	cst_root_key_free(root);
}

/*
 * Every byte of an epoch key file matters: changed anywhere, the file no
 * longer loads (against its root, which checks the first certificate).
 */
Test(keys, tampered_epoch_file_is_refused)
{
	cst_root_key *root;
	cst_epoch_key *e1, *e2, *l;
	uint8_t *good, *bad;
	size_t len, i;
	int rc;

	cr_assert_eq(cst_root_key_generate(&root), 0);
	cr_assert_eq(cst_epoch_key_first(root, NOW_NS, &e1), 0);
	cr_assert_eq(cst_epoch_key_next(e1, 7, NOW_NS, &e2), 0);
	cr_assert_eq(cst_epoch_key_save(e2, path_epoch), 0);
	good = read_all(path_epoch, &len);
	bad = malloc(len + 1);
	cr_assert_not_null(bad);

	for (i = 0; i < len; i++) {
		memcpy(bad, good, len);
		bad[i] ^= 0x01;
		write_all(path_epoch, bad, len, 0600);
		rc = cst_epoch_key_load(path_epoch, &root->pub, &l);
		cr_assert(rc == CST_EKEY || rc == CST_ESIG ||
		    rc == CST_EFOREIGN, "byte %zu gave %s", i,
		    cst_err_name(rc));
	}
	/* Cut short, or with anything appended. */
	for (i = 0; i < len; i++) {
		write_all(path_epoch, good, i, 0600);
		cr_assert_eq(cst_epoch_key_load(path_epoch, &root->pub, &l),
		    CST_EKEY, "length %zu", i);
	}
	memcpy(bad, good, len);
	bad[len] = '\n';
	write_all(path_epoch, bad, len + 1, 0600);
	cr_assert_eq(cst_epoch_key_load(path_epoch, &root->pub, &l), CST_EKEY);

	/* Unchanged, it still loads. */
	write_all(path_epoch, good, len, 0600);
	cr_assert_eq(cst_epoch_key_load(path_epoch, &root->pub, &l), 0);
	cst_epoch_key_free(l);

	free(good);
	free(bad);
	cst_epoch_key_free(e1);
	cst_epoch_key_free(e2);
	cst_root_key_free(root);
}

/*
 * Nothing in a root secret file can check its seed, so a changed byte must
 * be refused or load as another key, never as the same one.
 */
Test(keys, tampered_root_file_is_refused_or_another_key)
{
	cst_root_key *root, *l;
	uint8_t *good, *bad;
	size_t len, i, j;
	static const uint8_t flips[] = { 0x01, 0x20, 0x40 };
	int rc;

	cr_assert_eq(cst_root_key_generate(&root), 0);
	cr_assert_eq(cst_root_key_save(root, path_key, NULL), 0);
	good = read_all(path_key, &len);
	bad = malloc(len);
	cr_assert_not_null(bad);
	for (i = 0; i < len; i++) {
		for (j = 0; j < sizeof(flips); j++) {
			memcpy(bad, good, len);
			bad[i] ^= flips[j];
			write_all(path_key, bad, len, 0600);
			if ((rc = cst_root_key_load(path_key, &l)) != 0) {
				cr_assert_eq(rc, CST_EKEY, "byte %zu", i);
				continue;
			}
			cr_assert(memcmp(&l->pub, &root->pub,
			    sizeof(root->pub)) != 0, "byte %zu", i);
			cst_root_key_free(l);
		}
	}
	free(good);
	free(bad);
	cst_root_key_free(root);
}

Test(keys, epoch_file_of_another_root_is_refused)
{
	cst_root_key *root, *other;
	cst_epoch_key *e, *l;

	cr_assert_eq(cst_root_key_generate(&root), 0);
	cr_assert_eq(cst_root_key_generate(&other), 0);
	cr_assert_eq(cst_epoch_key_first(root, NOW_NS, &e), 0);
	cr_assert_eq(cst_epoch_key_save(e, path_epoch), 0);
	cr_assert_eq(cst_epoch_key_load(path_epoch, &other->pub, &l),
	    CST_EFOREIGN);
	/* Same chain id, another root key: a forged root. */
	memcpy(other->pub.chain_id, root->pub.chain_id, CST_CHAIN_ID_LEN);
	cr_assert_eq(cst_epoch_key_load(path_epoch, &other->pub, &l),
	    CST_ESIG);
	cst_epoch_key_free(e);
	cst_root_key_free(root);
	cst_root_key_free(other);
}

/* A fixture: a root and three epochs. */
struct chain {
	cst_root_key *root;
	cst_epoch_key *e[3];
};

static void
chain_make(struct chain *c)
{
	int i;

	cr_assert_eq(cst_root_key_generate(&c->root), 0);
	cr_assert_eq(cst_epoch_key_first(c->root, NOW_NS, &c->e[0]), 0);
	for (i = 1; i < 3; i++)
		cr_assert_eq(cst_epoch_key_next(c->e[i - 1], (uint64_t)i * 10,
		    NOW_NS + i, &c->e[i]), 0);
}

static void
chain_free(struct chain *c)
{
	int i;

	for (i = 0; i < 3; i++)
		cst_epoch_key_free(c->e[i]);
	cst_root_key_free(c->root);
}

Test(keys, cert_chain_verifies)
{
	struct chain c;

	chain_make(&c);
	cr_assert_eq(cst_certs_verify(c.e[2]->certs, 3, &c.root->pub), 0);
	cr_assert_eq(cst_certs_verify(c.e[2]->certs, 2, &c.root->pub), 0);
	cr_assert_eq(cst_certs_verify(c.e[2]->certs, 0, &c.root->pub),
	    CST_ECORRUPT);
	cr_assert_eq(cst_cert_verify(&c.e[2]->certs[2], c.root->pub.chain_id,
	    c.e[1]->pk), 0);
	chain_free(&c);
}

Test(keys, forged_certs_are_refused)
{
	struct chain c;
	cst_root_key *evil;
	cst_cert certs[3];

	chain_make(&c);

	/* Wrong signer: epoch 3 certified by the root, not by epoch 2. */
	memcpy(certs, c.e[2]->certs, sizeof(certs));
	cst_cert_sign(&certs[2], c.root->sk);
	cr_assert_eq(cst_certs_verify(certs, 3, &c.root->pub), CST_ESIG);
	/* ... or by epoch 1. */
	cst_cert_sign(&certs[2], c.e[0]->sk);
	cr_assert_eq(cst_certs_verify(certs, 3, &c.root->pub), CST_ESIG);

	/* Wrong epoch, even re-signed by the right key. */
	memcpy(certs, c.e[2]->certs, sizeof(certs));
	certs[2].epoch = 4;
	certs[2].signer_epoch = 3;
	cst_cert_sign(&certs[2], c.e[1]->sk);
	cr_assert_eq(cst_certs_verify(certs, 3, &c.root->pub), CST_ECORRUPT);
	certs[2].epoch = 3;
	certs[2].signer_epoch = 0;
	cst_cert_sign(&certs[2], c.e[1]->sk);
	cr_assert_eq(cst_certs_verify(certs, 3, &c.root->pub), CST_ECORRUPT);

	/* Wrong chain, re-signed. */
	memcpy(certs, c.e[2]->certs, sizeof(certs));
	certs[1].chain_id[0] ^= 1;
	cst_cert_sign(&certs[1], c.e[0]->sk);
	cr_assert_eq(cst_certs_verify(certs, 3, &c.root->pub), CST_EFOREIGN);

	/* Out of order. */
	memcpy(certs, c.e[2]->certs, sizeof(certs));
	certs[1] = c.e[2]->certs[2];
	certs[2] = c.e[2]->certs[1];
	cr_assert_neq(cst_certs_verify(certs, 3, &c.root->pub), 0);

	/* Another root key claiming the same chain. */
	cr_assert_eq(cst_root_key_generate(&evil), 0);
	cr_assert_eq(cst_cert_verify(&c.e[0]->certs[0], c.root->pub.chain_id,
	    evil->pub.pk), CST_ESIG);
	cst_root_key_free(evil);
	chain_free(&c);
}

/* Every bit of an encoded certificate is covered: flipped, it fails. */
Test(keys, flipped_cert_bits_are_refused)
{
	struct chain c;
	uint8_t enc[CST_CERT_LEN], bad[CST_CERT_LEN];
	const uint8_t *signer;
	cst_cert d;
	size_t i, bit, epoch;

	chain_make(&c);
	for (epoch = 0; epoch < 3; epoch++) {
		signer = epoch == 0 ? c.root->pub.pk : c.e[epoch - 1]->pk;
		cst_cert_encode(&c.e[2]->certs[epoch], enc);
		cr_assert_eq(cst_cert_decode(enc, sizeof(enc), &d), 0);
		cr_assert_eq(cst_cert_verify(&d, c.root->pub.chain_id,
		    signer), 0);
		for (i = 0; i < CST_CERT_LEN; i++) {
			for (bit = 0; bit < 8; bit++) {
				memcpy(bad, enc, sizeof(bad));
				bad[i] ^= (uint8_t)(1u << bit);
				if (cst_cert_decode(bad, sizeof(bad), &d) != 0)
					continue;
				cr_assert_neq(cst_cert_verify(&d,
				    c.root->pub.chain_id, signer), 0,
				    "epoch %zu byte %zu bit %zu", epoch + 1,
				    i, bit);
			}
		}
	}
	chain_free(&c);
}
