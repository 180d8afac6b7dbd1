/*
 * The log key, its certificate and custody's note checkpoints (SPEC
 * section 13, R-TLOG-*, R-NOTE-*).
 *
 * The log key is a stable Ed25519 key that signs note checkpoints; the
 * chain's root key certifies it (keys/log.cert, also copied into
 * checkpoints/log.cert).  Its secret (keys/log.key, 0600) lives in
 * sodium_malloc'd memory and is wiped when freed.
 *
 * The origin of a chain's notes, which is also the log key's note name,
 * is "custody/" followed by the chain id in 32 lower-case hex digits.
 *
 * File functions may give the cause of a failed system call instead of
 * CST_EIO (CST_ENOSPC, CST_EACCES, CST_EMFILE, CST_EROFS), as keys.h.
 */
#ifndef CUSTODY_LOGKEY_H
#define CUSTODY_LOGKEY_H

#include <stddef.h>
#include <stdint.h>

#include "custody/buf.h"
#include "custody/format.h"
#include "custody/keys.h"
#include "custody/note.h"

/* Domain of the message a root key signs in a log certificate. */
#define CST_D_LOGCERT "custody/v1/log-cert"

/* "custody/" + 32 hex digits. */
#define CST_LOG_ORIGIN_LEN (8 + 2 * CST_CHAIN_ID_LEN)

typedef struct cst_log_key {
	uint8_t chain_id[CST_CHAIN_ID_LEN];
	uint8_t pk[CST_PK_LEN];
	uint8_t *sk;   /* sodium_malloc'd, 64 bytes */
} cst_log_key;

/*
 * The root's statement that pk is the log key of chain_id (R-TLOG-5):
 * signature is Ed25519 by the root over D_LOGCERT || chain_id || pk.
 */
typedef struct cst_log_cert {
	uint8_t chain_id[CST_CHAIN_ID_LEN];
	uint8_t pk[CST_PK_LEN];
	uint8_t sig[CST_SIG_LEN];
} cst_log_cert;

/* Writes the origin of chain_id, NUL-terminated, to out. */
void cst_log_origin(const uint8_t chain_id[CST_CHAIN_ID_LEN],
    char out[CST_LOG_ORIGIN_LEN + 1]);

/*
 * Makes a new random log key for chain_id; *out is returned to free with
 * cst_log_key_free.  Returns 0, CST_EIO (libsodium) or CST_ENOMEM.
 */
int cst_log_key_generate(const uint8_t chain_id[CST_CHAIN_ID_LEN],
    cst_log_key **out);

/* The same from a given seed (borrowed): test vectors.  Same returns. */
int cst_log_key_from_seed(const uint8_t chain_id[CST_CHAIN_ID_LEN],
    const uint8_t seed[CST_SEED_LEN], cst_log_key **out);

/* Wipes and frees k; NULL is a no-op. */
void cst_log_key_free(cst_log_key *k);

/*
 * Writes k's secret file (path, mode 0600, must not exist): the line
 * "custody-log-secret-v1 <chain id hex> <seed base64>".  Returns 0,
 * CST_EEXIST or CST_EIO.
 */
int cst_log_key_save(const cst_log_key *k, const char *path);

/*
 * Loads a log secret file (refused if group/other can read it).  Returns
 * 0, CST_EPERM, CST_EIO, CST_ENOENT, CST_EKEY or CST_ENOMEM.
 */
int cst_log_key_load(const char *path, cst_log_key **out);

/* Fills out with the certificate of pk for root's chain, signed by root. */
void cst_log_cert_make(const cst_root_key *root,
    const uint8_t pk[CST_PK_LEN], cst_log_cert *out);

/*
 * Appends the certificate's text, one line "custody-log-cert-v1 <chain id
 * hex> <public key base64> <signature base64>\n", to out.  Returns 0 or
 * CST_ENOMEM.
 */
int cst_log_cert_encode(const cst_log_cert *c, cst_buf *out);

/*
 * Parses certificate text[0..len) (the one line, its LF optional).  Does
 * not check the signature.  Returns 0 or CST_EPARSE.
 */
int cst_log_cert_decode(const char *text, size_t len, cst_log_cert *out);

/* Reads and parses a log.cert file.  Returns 0, CST_EIO, CST_ENOENT or CST_EPARSE. */
int cst_log_cert_load(const char *path, cst_log_cert *out);

/*
 * Writes c to path atomically (0644, replaced if it exists).  Returns 0
 * or CST_EIO.
 */
int cst_log_cert_save(const cst_log_cert *c, const char *path);

/*
 * Checks c against the root (R-TLOG-5): same chain, signature by the root
 * key.  Returns 0, CST_EFOREIGN or CST_ESIG.
 */
int cst_log_cert_verify(const cst_log_cert *c, const cst_root_pub *root)
    __attribute__((warn_unused_result));

/*
 * Fills out with the verifier key of the log key pk of chain_id (name =
 * origin, alg 0x01).  Cannot fail.
 */
void cst_log_vkey(const uint8_t chain_id[CST_CHAIN_ID_LEN],
    const uint8_t pk[CST_PK_LEN], cst_note_vkey *out);

/*
 * Appends the note checkpoint of the chain tree of `size` blocks with
 * root `root`, signed by k, to out: the body of R-NOTE-4, the empty line,
 * the log's signature line.  Returns 0 or CST_ENOMEM.
 */
int cst_log_note_encode(const cst_log_key *k, uint64_t size,
    const uint8_t root[CST_HASH_LEN], cst_buf *out);

/*
 * Parses and checks note text[0..len) as a note checkpoint of the chain
 * of log certificate c (whose root signature the caller has checked):
 * R-NOTE-2 syntax, R-NOTE-4 body (origin of c's chain, exactly three
 * lines), R-NOTE-5 signature by c's key.  On success *size and root are
 * set; other signature lines (cosignatures) are ignored.  Returns 0,
 * CST_EPARSE, CST_ETOOBIG, CST_EFOREIGN (another chain's origin),
 * CST_ENOENT (no signature of this log key), CST_ESIG or CST_ENOMEM.
 */
int cst_log_note_verify(const char *text, size_t len, const cst_log_cert *c,
    uint64_t *size, uint8_t root[CST_HASH_LEN])
    __attribute__((warn_unused_result));

#endif /* CUSTODY_LOGKEY_H */
