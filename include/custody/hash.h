/*
 * Hashing helpers: BLAKE2b-256 with the domain strings of SPEC section 1.
 */
#ifndef CUSTODY_HASH_H
#define CUSTODY_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "custody/format.h"

/*
 * out = H(domain || NUL || data).  domain is one of the CST_D_* strings.
 */
void cst_hash_domain(const char *domain, const uint8_t *data, size_t len,
    uint8_t out[CST_HASH_LEN]);

/*
 * out[i] = H(domain || NUL || data[i][0..len[i])) for i in 0..n: the same
 * hashes as n calls of cst_hash_domain, several at a time in SIMD lanes
 * where the CPU has them (for long messages, e.g. the payloads of several
 * blocks).  domain is one of the CST_D_* strings (at most 127 bytes).
 * data, len and out are borrowed; data[i] may be NULL only if len[i] is
 * 0; out must not overlap the data.  Cannot fail.
 */
void cst_hash_domain_many(const char *domain, const uint8_t *const *data,
    const size_t *len, size_t n, uint8_t (*out)[CST_HASH_LEN]);

/* Fingerprint of a public key: H(D_KEYID || pk) (all 32 bytes). */
void cst_key_fingerprint(const uint8_t pk[CST_PK_LEN],
    uint8_t out[CST_HASH_LEN]);

/*
 * Writes the printed fingerprint (first CST_FPR_LEN bytes as lowercase
 * hex, NUL-terminated) of pk into out.
 */
void cst_key_fingerprint_hex(const uint8_t pk[CST_PK_LEN],
    char out[2 * CST_FPR_LEN + 1]);

/*
 * p viewed as consecutive hashes (a Merkle path in a buffer).  Through
 * uintptr_t because C11 puts const on the elements, not on the array, so
 * a plain pointer cast to this type trips -Wcast-qual.  p is borrowed.
 */
static inline const uint8_t (*cst_hash_rows(const uint8_t *p))[CST_HASH_LEN]
{
	return ((const uint8_t (*)[CST_HASH_LEN])(uintptr_t)p);
}

/* Lowercase hex of in[0..len) into out (2*len+1 bytes, NUL-terminated). */
void cst_hex(const uint8_t *in, size_t len, char *out);

/*
 * Parses exactly 2*len hex digits from s into out.  Returns 0 or
 * CST_EPARSE.
 */
int cst_unhex(const char *s, size_t slen, uint8_t *out, size_t len);

#endif /* CUSTODY_HASH_H */
