/*
 * BLAKE2b-256 with the domain strings of SPEC section 1, and hex.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "blake2b.h"
#include "custody/error.h"
#include "custody/format.h"
#include "custody/hash.h"

/*
 * out = H(domain || NUL || data).  The NUL is hashed so that no domain is a
 * prefix of another (SPEC section 1).
 */
void
cst_hash_domain(const char *domain, const uint8_t *data, size_t len,
    uint8_t out[CST_HASH_LEN])
{
	cst_b2b st;

	cst_b2b_init(&st, CST_HASH_LEN);
	cst_b2b_update(&st, domain, strlen(domain) + 1);
	cst_b2b_update(&st, data, len);
	cst_b2b_final(&st, out);
}

/*
 * out[i] = H(domain || NUL || data[i][0..len[i])) for i in 0..n, as n
 * calls of cst_hash_domain would.  domain is one of the CST_D_* strings
 * (at most 127 bytes: with its NUL, the lanes' one-block prefix).  data,
 * len and out are borrowed; data[i] may be NULL only if len[i] is 0; out
 * must not overlap the data.
 *
 * For R-BLK-4's payload_hash and records_hash of the blocks a verifier
 * has open at once: hashing each block's payload alone is most of the
 * cost of verifying it.  CST_B2B_AVX512 is the highest level, so the
 * CPU's own decides.
 */
void
cst_hash_domain_many(const char *domain, const uint8_t *const *data,
    const size_t *len, size_t n, uint8_t (*out)[CST_HASH_LEN])
{

	cst_b2b_hash_many_with(CST_B2B_AVX512, (uint8_t *)out,
	    CST_HASH_LEN, (const uint8_t *)domain, strlen(domain) + 1, data,
	    len, n);
}

void
cst_key_fingerprint(const uint8_t pk[CST_PK_LEN], uint8_t out[CST_HASH_LEN])
{

	cst_hash_domain(CST_D_KEYID, pk, CST_PK_LEN, out);
}

void
cst_key_fingerprint_hex(const uint8_t pk[CST_PK_LEN],
    char out[2 * CST_FPR_LEN + 1])
{
	uint8_t fpr[CST_HASH_LEN];

	cst_key_fingerprint(pk, fpr);
	cst_hex(fpr, CST_FPR_LEN, out);
}

void
cst_hex(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0x0f];
	}
	out[2 * len] = '\0';
}

/* Returns the value of hex digit c (either case), or -1. */
static int
hexval(char c)
{

	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

int
cst_unhex(const char *s, size_t slen, uint8_t *out, size_t len)
{
	size_t i;
	int hi, lo;

	if (len > SIZE_MAX / 2 || slen != 2 * len)
		goto err0;
	for (i = 0; i < len; i++) {
		if ((hi = hexval(s[2 * i])) < 0 ||
		    (lo = hexval(s[2 * i + 1])) < 0)
			goto err0;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return (0);

err0:
	return (CST_EPARSE);
}
