/*
 * Root and epoch keys, key certificates and key files (SPEC section 6).
 *
 * Secret keys live in sodium_malloc'd memory and are wiped when freed.
 * A secret key file readable by group or others is refused (R-KEY-3).
 * Where a file function below says CST_EIO, a failed system call may
 * also give its cause instead: CST_ENOSPC, CST_EACCES, CST_EMFILE or
 * CST_EROFS (cst_err_from_errno()).
 */
#ifndef CUSTODY_KEYS_H
#define CUSTODY_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "custody/format.h"

/* The trust anchor: what an investigator is given. */
typedef struct cst_root_pub {
	uint8_t chain_id[CST_CHAIN_ID_LEN];
	uint8_t pk[CST_PK_LEN];
} cst_root_pub;

/* The root key pair; sk is sodium_malloc'd (64 bytes, libsodium form). */
typedef struct cst_root_key {
	cst_root_pub pub;
	uint8_t *sk;
} cst_root_key;

/* An epoch key pair with its certificates from the root down. */
typedef struct cst_epoch_key {
	uint8_t chain_id[CST_CHAIN_ID_LEN];
	uint32_t epoch;
	uint8_t pk[CST_PK_LEN];
	uint8_t *sk;      /* sodium_malloc'd, 64 bytes */
	cst_cert *certs;  /* certs[i] certifies epoch i+1; epoch entries */
} cst_epoch_key;

/*
 * Makes a new root key with a new random chain id.  *out is returned to
 * free with cst_root_key_free.  Returns 0, CST_EIO (libsodium cannot
 * start) or CST_ENOMEM.
 */
int cst_root_key_generate(cst_root_key **out);

/*
 * Makes the root key whose Ed25519 seed is seed (borrowed) for chain_id:
 * deterministic keys for test vectors and fuzz corpora.  *out is returned
 * to free with cst_root_key_free.  Returns 0, CST_EIO or CST_ENOMEM.
 */
int cst_root_key_from_seed(const uint8_t chain_id[CST_CHAIN_ID_LEN],
    const uint8_t seed[CST_SEED_LEN], cst_root_key **out);

/* Wipes and frees k; NULL is a no-op. */
void cst_root_key_free(cst_root_key *k);

/*
 * Writes the root secret (path_key, mode 0600, must not exist) and the
 * root public key (path_pub, 0644, replaced if it exists) files.  Either
 * path may be NULL to skip it.  Returns 0, CST_EEXIST or CST_EIO.
 */
int cst_root_key_save(const cst_root_key *k, const char *path_key,
    const char *path_pub);

/*
 * Loads a root secret key file (refused if group/other can read it:
 * CST_EPERM).  Returns 0, CST_EPERM, CST_EIO, CST_ENOENT, CST_EKEY or
 * CST_ENOMEM.
 */
int cst_root_key_load(const char *path, cst_root_key **out);

/*
 * Parses the text of a root.pub file: the one line, its final LF optional.
 * Returns 0 or CST_EKEY.
 */
int cst_root_pub_parse(const char *text, size_t len, cst_root_pub *out);

/* Reads and parses a root.pub file.  Returns 0, CST_EIO, CST_ENOENT or CST_EKEY. */
int cst_root_pub_load(const char *path, cst_root_pub *out);

/*
 * The root key's printed identity (R-KEY-5), the one form every tool
 * prints: two lines, each after indent (borrowed),
 *   "root key SHA-256  xxxx xxxx ... (16 groups of 4 hex digits)\n"
 *   "chain id          <32 hex digits>\n"
 * into out (NUL-terminated; cut if cap is short: make it
 * CST_ROOT_ID_TEXT_LEN plus twice the indent).
 */
#define CST_ROOT_ID_TEXT_LEN 160
/* The first line's digits alone: "xxxx xxxx ..." (79 characters). */
#define CST_ROOT_SHA256_TEXT_LEN 80
void cst_root_pub_sha256_text(const cst_root_pub *root,
    char out[CST_ROOT_SHA256_TEXT_LEN]);
void cst_root_pub_identity(const cst_root_pub *root, const char *indent,
    char *out, size_t cap);

/*
 * Makes epoch 1, certified by root (valid_from 0).  *out is returned to
 * free with cst_epoch_key_free.  Returns 0 or CST_ENOMEM.
 */
int cst_epoch_key_first(const cst_root_key *root, int64_t now_ns,
    cst_epoch_key **out);

/*
 * Makes epoch cur->epoch + 1, certified by cur, first used by block
 * valid_from.  The caller then saves the new key and frees cur, which
 * wipes its secret (forward security).  Returns 0, CST_EINVAL (cur is
 * epoch 2^32-1) or CST_ENOMEM.
 */
int cst_epoch_key_next(const cst_epoch_key *cur, uint64_t valid_from,
    int64_t now_ns, cst_epoch_key **out);

/*
 * cst_epoch_key_first and cst_epoch_key_next with the new key's Ed25519
 * seed given (borrowed) instead of random: deterministic keys for test
 * vectors and fuzz corpora.  Same returns.
 */
int cst_epoch_key_first_from_seed(const cst_root_key *root,
    const uint8_t seed[CST_SEED_LEN], int64_t now_ns, cst_epoch_key **out);
int cst_epoch_key_next_from_seed(const cst_epoch_key *cur,
    const uint8_t seed[CST_SEED_LEN], uint64_t valid_from, int64_t now_ns,
    cst_epoch_key **out);

/* Wipes and frees k; NULL is a no-op. */
void cst_epoch_key_free(cst_epoch_key *k);

/*
 * Writes k to path atomically (temporary file 0600, fsync, rename, fsync
 * of the directory), replacing the previous epoch's file.  Then, and only
 * then, the bytes of the file replaced (which hold the previous epoch's
 * secret) are overwritten with zeros through a descriptor opened before
 * the rename, and fdatasync'd; rename() alone would only unlink them and
 * leave the blocks as they were.  That overwrite is best effort and not
 * reported: it does not reach a copy in a filesystem journal, blocks that
 * a copy-on-write filesystem (btrfs, ZFS) or an SSD's wear levelling
 * writes elsewhere, snapshots or backups; and it destroys any other hard
 * link to the old file, which would have kept the secret.  Returns 0,
 * CST_EIO, CST_ENOMEM or CST_EINVAL (more epochs than a key file holds:
 * about 84,000).
 */
int cst_epoch_key_save(const cst_epoch_key *k, const char *path);

/*
 * Loads an epoch key file, checking its certificates against each other
 * (not against a root: pass root to also check the first one, or NULL),
 * and that the last one certifies the file's own key.  Returns 0,
 * CST_EPERM, CST_EIO, CST_ENOENT, CST_EKEY, CST_ESIG, CST_EFOREIGN (a
 * certificate, or root, of another chain) or CST_ENOMEM.
 */
int cst_epoch_key_load(const char *path, const cst_root_pub *root,
    cst_epoch_key **out);

/* Signs c (all fields but signature set) with the 64-byte secret sk. */
void cst_cert_sign(cst_cert *c, const uint8_t *sk);

/*
 * Checks c's signature with signer_pk and the structure of R-KEY-1 for
 * chain_id.  Returns 0, CST_ECORRUPT, CST_EFOREIGN or CST_ESIG.
 */
int cst_cert_verify(const cst_cert *c, const uint8_t chain_id[CST_CHAIN_ID_LEN],
    const uint8_t signer_pk[CST_PK_LEN]) __attribute__((warn_unused_result));

/*
 * Checks a list of certificates certs[0..n) for epochs 1..n from the root
 * down (R-KEY-1).  Returns 0 or the first failure (CST_ECORRUPT also for
 * n == 0: no certificate proves no key).
 */
int cst_certs_verify(const cst_cert *certs, uint32_t n, const cst_root_pub *root)
    __attribute__((warn_unused_result));

/*
 * Checks that the file at path is a regular file no one but its owner can
 * read or write (R-KEY-3).  Returns 0, CST_EPERM, CST_ENOENT or CST_EIO.
 */
int cst_key_file_check(const char *path);

#endif /* CUSTODY_KEYS_H */
