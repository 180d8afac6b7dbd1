/*
 * Signed notes (C2SP signed-note), their verifier keys, checkpoint bodies
 * (C2SP tlog-checkpoint) and witness cosignatures (C2SP tlog-cosignature,
 * cosignature/v1): the generic, interoperable half of SPEC section 13
 * (R-NOTE-*).  custody/logkey.h adds what is custody's own (the log key,
 * its certificate, the origin).
 *
 * A note is: text (one or more lines, each ending in LF), one empty line,
 * then signature lines "\u2014 <name> <base64(key ID, 4 bytes big-endian
 * || signature)>\n".  Every note read is hostile: cst_note_parse holds it
 * to the limits below before anything looks at a signature.
 *
 * Only Ed25519 is implemented: signature type 0x01 (a log signing its
 * note) and 0x04 (a timestamped witness cosignature).
 */
#ifndef CUSTODY_NOTE_H
#define CUSTODY_NOTE_H

#include <stddef.h>
#include <stdint.h>

#include "custody/buf.h"
#include "custody/format.h"

/* Limits a parser holds a hostile note to (R-NOTE-2). */
#define CST_NOTE_MAX_LEN 65536   /* whole note, bytes */
#define CST_NOTE_MAX_SIGS 100    /* signature lines */
#define CST_NOTE_MAX_NAME 255    /* key name, bytes */
#define CST_NOTE_MAX_SIG 8192    /* one decoded signature field, bytes */

/* Signature type bytes (C2SP signed-note). */
#define CST_NOTE_ALG_ED25519 0x01
#define CST_NOTE_ALG_COSIG_V1 0x04

/* Bytes of an Ed25519 cosignature/v1 signature field: time || sig. */
#define CST_NOTE_COSIG_LEN (8 + CST_SIG_LEN)

/* One parsed signature line; name and sig point into the cst_note. */
typedef struct cst_note_sig {
	const char *name;     /* not NUL-terminated */
	size_t name_len;
	uint32_t key_id;
	const uint8_t *sig;   /* the bytes after the key ID */
	size_t sig_len;
} cst_note_sig;

/*
 * A parsed note.  text is an owned copy of the whole note; the signed
 * text is text[0..text_len) (it ends with its final LF; the empty line is
 * not part of it).  sigs[0..nsigs) in the order of the lines.
 */
typedef struct cst_note {
	char *text;
	size_t len;
	size_t text_len;
	cst_note_sig *sigs;
	size_t nsigs;
	uint8_t *sigbuf;      /* decoded signatures, owned */
} cst_note;

/*
 * A verifier key: "<name>+<key ID, 8 lower-case hex>+<base64(type ||
 * public key)>" (C2SP signed-note verifier keys).
 */
typedef struct cst_note_vkey {
	char name[CST_NOTE_MAX_NAME + 1];  /* NUL-terminated */
	size_t name_len;
	uint8_t alg;                       /* CST_NOTE_ALG_* */
	uint32_t key_id;
	uint8_t pk[CST_PK_LEN];
} cst_note_vkey;

/* A checkpoint body (C2SP tlog-checkpoint); origin and ext point into it. */
typedef struct cst_note_ckpt {
	const char *origin;   /* not NUL-terminated, no LF */
	size_t origin_len;
	uint64_t size;
	uint8_t root[CST_HASH_LEN];
	const char *ext;      /* extension lines, each ending in LF; may be empty */
	size_t ext_len;
} cst_note_ckpt;

/*
 * Returns 1 if name[0..len) is a valid key name (R-NOTE-1: 1..255 bytes
 * of printable ASCII other than space and '+'; custody accepts no other
 * byte, a subset of what C2SP allows), else 0.
 */
int cst_note_name_ok(const char *name, size_t len);

/*
 * The key ID: the first 4 bytes, big-endian, of SHA-256(name || 0A ||
 * alg || pk).  name is borrowed.
 */
uint32_t cst_note_key_id(const char *name, size_t name_len, uint8_t alg,
    const uint8_t pk[CST_PK_LEN]);

/*
 * Fills out (borrowed) with the verifier key of pk for name and alg,
 * computing its key ID.  Returns 0 or CST_EINVAL (bad name).
 */
int cst_note_vkey_make(const char *name, size_t name_len, uint8_t alg,
    const uint8_t pk[CST_PK_LEN], cst_note_vkey *out);

/*
 * Parses verifier key text[0..len) (no LF) into out.  The key ID in the
 * text must be the one the name and key give.  Returns 0 or CST_EKEY;
 * alg other than 0x01 and 0x04 is CST_EKEY.
 */
int cst_note_vkey_parse(const char *text, size_t len, cst_note_vkey *out);

/* Appends k's text form (no LF) to out.  Returns 0 or CST_ENOMEM. */
int cst_note_vkey_format(const cst_note_vkey *k, cst_buf *out);

/*
 * Parses note buf[0..len) (borrowed; copied) into out, to be released
 * with cst_note_close (zeroed on failure).  Checks the syntax only
 * (R-NOTE-2): size, UTF-8, no ASCII control character but LF, the last empty
 * line, 1..CST_NOTE_MAX_SIGS signature lines, names, canonical base64 of
 * at least 5 bytes.  Returns 0, CST_EPARSE, CST_ETOOBIG or CST_ENOMEM.
 */
int cst_note_parse(const char *buf, size_t len, cst_note *out);

/* Frees what cst_note_parse allocated; safe on a zeroed struct. */
void cst_note_close(cst_note *n);

/*
 * Checks n's signature by k (alg 0x01): the signature lines whose name
 * and key ID are k's are checked, every other line is ignored (R-NOTE-3).
 * Returns 0 (one or more match and all of them verify), CST_ENOENT (no
 * line is k's) or CST_ESIG (a line of k's does not verify).
 */
int cst_note_verify(const cst_note *n, const cst_note_vkey *k)
    __attribute__((warn_unused_result));

/*
 * Appends the signature line of text[0..len) (the note text, ending in
 * LF) by the Ed25519 secret sk (64 bytes, libsodium form, borrowed) under
 * name to out.  A note is then: text, "\n", one or more such lines.
 * Returns 0, CST_EINVAL (bad name) or CST_ENOMEM.
 */
int cst_note_sign(const char *text, size_t len, const char *name,
    size_t name_len, const uint8_t *sk, cst_buf *out);

/*
 * Parses checkpoint body text[0..len) (a note's signed text): origin,
 * size (decimal, no leading zeros, < 2^64), root (base64 of 32 bytes),
 * then any extension lines, each non-empty.  Returns 0 or CST_EPARSE.
 */
int cst_note_ckpt_parse(const char *text, size_t len, cst_note_ckpt *out);

/*
 * Appends the checkpoint body for origin, size and root, followed by
 * ext[0..ext_len) (extension lines ending in LF, or NULL/0) to out.
 * Returns 0, CST_EINVAL (bad origin or extension) or CST_ENOMEM.
 */
int cst_note_ckpt_format(const char *origin, size_t origin_len,
    uint64_t size, const uint8_t root[CST_HASH_LEN], const char *ext,
    size_t ext_len, cst_buf *out);

/*
 * Appends a cosignature/v1 signature line for checkpoint text[0..len)
 * made at `timestamp` (POSIX seconds, < 2^63) by the cosigner's Ed25519
 * secret sk (64 bytes, borrowed) under name to out: signed message
 * "cosignature/v1\ntime <timestamp>\n" || text, key ID with alg 0x04,
 * signature field timestamp (8 bytes big-endian) || signature.  Returns
 * 0, CST_EINVAL or CST_ENOMEM.
 */
int cst_note_cosign(const char *text, size_t len, uint64_t timestamp,
    const char *name, size_t name_len, const uint8_t *sk, cst_buf *out);

/*
 * Checks the cosignature of k (alg 0x04) on n as cst_note_verify does for
 * 0x01; on success *timestamp (may be NULL) is the newest timestamp of
 * k's lines.  Returns 0, CST_ENOENT, CST_ESIG (also for a signature
 * field that is not 72 bytes or a timestamp >= 2^63) or CST_ENOMEM.
 */
int cst_note_cosig_verify(const cst_note *n, const cst_note_vkey *k,
    uint64_t *timestamp) __attribute__((warn_unused_result));

#endif /* CUSTODY_NOTE_H */
