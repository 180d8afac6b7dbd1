/*
 * Base64 through libsodium, and hex, each held to the one canonical
 * spelling: a text that two spellings could encode would let a signed line
 * change without breaking its signature's meaning.
 */
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "b64.h"
#include "custody/error.h"
#include "custody/hash.h"

void
cst_b64_encode(const uint8_t *in, size_t len, char *out)
{

	sodium_bin2base64(out, CST_B64_LEN(len) + 1, in, len,
	    sodium_base64_VARIANT_ORIGINAL);
}

int
cst_b64_decode(const char *s, size_t slen, uint8_t *out, size_t len)
{
	const char *end;
	size_t i, n;

	if (len > SIZE_MAX / 2 || slen != CST_B64_LEN(len))
		goto err0;
	/* libsodium 1.0.18 decodes every byte 0x80..0xff as '/'. */
	for (i = 0; i < slen; i++)
		if ((unsigned char)s[i] >= 0x80)
			goto err0;
	/* libsodium rejects stray bits but stops quietly at extra padding. */
	if (sodium_base642bin(out, len, s, slen, NULL, &n, &end,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || end != s + slen ||
	    n != len)
		goto err0;
	return (0);

err0:
	return (CST_EPARSE);
}

int
cst_unhex_lower(const char *s, size_t slen, uint8_t *out, size_t len)
{
	size_t i;

	for (i = 0; i < slen; i++)
		if (s[i] >= 'A' && s[i] <= 'F')
			goto err0;
	return (cst_unhex(s, slen, out, len));

err0:
	return (CST_EPARSE);
}
