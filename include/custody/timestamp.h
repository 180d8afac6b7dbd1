/*
 * RFC 3161 timestamp tokens over numbered checkpoints (SPEC section 15):
 * the request a collector sends, and the checks of a response that the
 * collector (R-TSA-3) and a verifier (R-TSA-5) make.
 *
 * OpenSSL does the ASN.1 and CMS work; no OpenSSL type appears here.
 * Nothing here prints or touches the network.
 */
#ifndef CUSTODY_TIMESTAMP_H
#define CUSTODY_TIMESTAMP_H

#include <stddef.h>
#include <stdint.h>

#include "custody/buf.h"

/* The digest a token covers: SHA-256 of the checkpoint file's bytes. */
#define CST_TS_DIGEST_LEN 32
/* R-TSA-2: the nonce a collector sends, in bytes. */
#define CST_TS_NONCE_LEN 16
/* R-TSA-1: a larger response is not a token file. */
#define CST_TS_MAX 65536
/* A reason for a refusal, as one sentence. */
#define CST_TS_WHY_LEN 512

/* What the CRLs given say of a token's signer chain (R-TSA-9). */
enum cst_ts_revocation {
	CST_TS_REV_UNCHECKED = 0, /* no CRL given (R-TSA-10) */
	CST_TS_REV_GOOD,          /* every certificate covered, none revoked */
	CST_TS_REV_REVOKED,       /* one of the chain is revoked */
	CST_TS_REV_UNKNOWN,       /* the status of one could not be told */
};

/* What a checked response says (fields are the TSA's statements). */
typedef struct cst_ts_info {
	int status;             /* PKIStatus; -1 when unreadable */
	int64_t gen_time_ns;    /* genTime, UTC ns */
	int64_t accuracy_ns;    /* the accuracy field; -1: absent */
	char serial[68];        /* serialNumber, hex, "" when too long */
	char policy[80];        /* the TSA's policy OID, dotted */
	char tsa[256];          /* signer's subject (RFC 2253, ASCII), ""
	                           unless its signature was verified */
	int revocation;         /* enum cst_ts_revocation */
	char revocation_why[CST_TS_WHY_LEN]; /* why UNKNOWN; else "" */
} cst_ts_info;

/* Trusted TSA certificates (R-TSA-5 c).  Opaque. */
typedef struct cst_ts_trust cst_ts_trust;

/*
 * Writes into out (borrowed, appended) the DER TimeStampReq of R-TSA-2
 * for digest (SHA-256), with a fresh random nonce returned in nonce.
 * Returns 0 or CST_ENOMEM.
 */
int cst_ts_request(const uint8_t digest[CST_TS_DIGEST_LEN],
    uint8_t nonce[CST_TS_NONCE_LEN], cst_buf *out);

/* Returns in *out an empty trust set.  0 or CST_ENOMEM. */
int cst_ts_trust_new(cst_ts_trust **out);

/*
 * Adds every certificate of the PEM file path (borrowed) as a trust
 * anchor (a CA or the TSA's own certificate).  Returns 0, CST_ENOENT /
 * CST_EIO (unreadable), CST_EPARSE (no certificate in it) or CST_ENOMEM,
 * with a message in err.
 */
int cst_ts_trust_add_file(cst_ts_trust *t, const char *path,
    char err[CST_TS_WHY_LEN]);

/*
 * As cst_ts_trust_add_file, from the PEM text pem[0..len) (borrowed).
 * Returns 0, CST_EPARSE or CST_ENOMEM, with a message in err.
 */
int cst_ts_trust_add_pem(cst_ts_trust *t, const char *pem, size_t len,
    char err[CST_TS_WHY_LEN]);

/*
 * Adds every CRL of the PEM file path (borrowed), opened as
 * cst_file_open_named does (never waiting on a FIFO).  Once one is
 * added, cst_ts_check checks the signer's chain against them
 * (R-TSA-9).  A CRL is not trusted for being given: its signature is
 * checked against the chain when it is used.  Returns 0, CST_ENOENT /
 * CST_ENOTREG / CST_EIO (unreadable), CST_EPARSE (no CRL in it) or
 * CST_ENOMEM, with a message in err.
 */
int cst_ts_trust_add_crl_file(cst_ts_trust *t, const char *path,
    char err[CST_TS_WHY_LEN]);

/*
 * Sets the time, UTC ns, at which a CRL must be current (R-TSA-9); by
 * default the time of each check.
 */
void cst_ts_trust_set_crl_time(cst_ts_trust *t, int64_t ns);

/* Frees t; NULL is a no-op. */
void cst_ts_trust_free(cst_ts_trust *t);

/* The number of CRLs added to t, in the order added. */
size_t cst_ts_trust_crl_count(const cst_ts_trust *t);

/*
 * 1 when CRL i of t has not verified with the key of any certificate of
 * a chain checked so far (R-TSA-9 a: it neither revoked nor covered):
 * then *file is the file it came from (t's) and what names it.  Else 0.
 */
int cst_ts_trust_crl_unused(const cst_ts_trust *t, size_t i,
    const char **file, char what[CST_TS_WHY_LEN]);

/*
 * Checks the response der[0..len) (borrowed; hostile) against digest, the
 * SHA-256 of the checkpoint file's bytes: R-TSA-1's form, status granted,
 * TSTInfo version 1, messageImprint SHA-256 equal to digest (R-TSA-5 b),
 * and, when nonce is not NULL, the nonce (R-TSA-3).  When trust is not
 * NULL, the signature, the certificate chain at genTime, the timestamping
 * extended key usage and the ESS signing certificate too (R-TSA-5 c),
 * and, when CRLs were added to trust, the revocation of every
 * certificate of the signer's chain (R-TSA-9): a revoked one fails the
 * token (CST_ESIG, info->revocation CST_TS_REV_REVOKED); a status that
 * cannot be told leaves the return 0 with info->revocation
 * CST_TS_REV_UNKNOWN and the reason in info->revocation_why.  trust is
 * used by one thread at a time.  Fills info (as far as it could
 * read) and, on a refusal, why.  Returns 0; CST_ECORRUPT (not a granted
 * response of that form, or the wrong nonce), CST_EHASH (the token
 * covers other bytes), CST_ESIG (signature or certificate) or
 * CST_ENOMEM.
 */
int cst_ts_check(const uint8_t *der, size_t len,
    const uint8_t digest[CST_TS_DIGEST_LEN], const uint8_t *nonce,
    cst_ts_trust *trust, cst_ts_info *info, char why[CST_TS_WHY_LEN])
    __attribute__((warn_unused_result));

#endif /* CUSTODY_TIMESTAMP_H */
