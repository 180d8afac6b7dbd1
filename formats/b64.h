/*
 * Base64 (RFC 4648 section 4, padded) and lower-case hex for the key,
 * certificate and checkpoint texts of SPEC sections 6.2 and 8: each decode
 * takes only the one spelling the writer uses.  Private to formats/.
 */
#ifndef CUSTODY_B64_H
#define CUSTODY_B64_H

#include <stddef.h>
#include <stdint.h>

/* Characters in the padded encoding of len bytes, without a NUL. */
#define CST_B64_LEN(len) ((((len) + 2) / 3) * 4)

/*
 * Writes the padded encoding of in[0..len) to out (borrowed), which has
 * room for CST_B64_LEN(len) + 1 bytes; out ends with a NUL.  Cannot fail.
 */
void cst_b64_encode(const uint8_t *in, size_t len, char *out);

/*
 * Decodes s[0..slen), which must be exactly the canonical padded encoding
 * of len bytes (no whitespace, no missing or extra padding, no stray bits
 * in the last character), into out[0..len) (borrowed).  Returns 0 or
 * CST_EPARSE.
 */
int cst_b64_decode(const char *s, size_t slen, uint8_t *out, size_t len);

/*
 * Decodes s[0..slen), which must be exactly 2*len lower-case hex digits
 * (cst_hex's spelling, so that a changed byte never reads as the same
 * key), into out[0..len) (borrowed).  Returns 0 or CST_EPARSE.
 */
int cst_unhex_lower(const char *s, size_t slen, uint8_t *out, size_t len);

#endif /* CUSTODY_B64_H */
