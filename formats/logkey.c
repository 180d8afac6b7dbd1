/*
 * The log key, its certificate by the root, and custody's note
 * checkpoints (SPEC section 13.2, 13.3: R-TLOG-3..5, R-NOTE-4, R-NOTE-5).
 *
 * Texts have one spelling each, as in keys.c: lower-case hex, canonical
 * padded base64, single spaces, nothing else on the line.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "b64.h"
#include "custody/buf.h"
#include "custody/error.h"
#include "custody/format.h"
#include "custody/hash.h"
#include "custody/keys.h"
#include "custody/logkey.h"
#include "custody/note.h"
#include "keyfile.h"

#define LOG_SECRET_TAG "custody-log-secret-v1 "
#define LOG_CERT_TAG "custody-log-cert-v1 "
#define ORIGIN_PREFIX "custody/"

#define HEX_CHAIN_LEN (2 * CST_CHAIN_ID_LEN)
#define B64_SEED_LEN CST_B64_LEN(CST_SEED_LEN)
#define B64_PK_LEN CST_B64_LEN(CST_PK_LEN)
#define B64_SIG_LEN CST_B64_LEN(CST_SIG_LEN)

#define SECRET_LINE_LEN (sizeof(LOG_SECRET_TAG) - 1 + HEX_CHAIN_LEN + 1 + \
	B64_SEED_LEN + 1)
#define CERT_LINE_LEN (sizeof(LOG_CERT_TAG) - 1 + HEX_CHAIN_LEN + 1 + \
	B64_PK_LEN + 1 + B64_SIG_LEN + 1)

void
cst_log_origin(const uint8_t chain_id[CST_CHAIN_ID_LEN],
    char out[CST_LOG_ORIGIN_LEN + 1])
{

	memcpy(out, ORIGIN_PREFIX, sizeof(ORIGIN_PREFIX) - 1);
	cst_hex(chain_id, CST_CHAIN_ID_LEN, out + sizeof(ORIGIN_PREFIX) - 1);
}

int
cst_log_key_from_seed(const uint8_t chain_id[CST_CHAIN_ID_LEN],
    const uint8_t seed[CST_SEED_LEN], cst_log_key **out)
{
	cst_log_key *k;

	if (sodium_init() < 0)
		return (CST_EIO);
	if ((k = malloc(sizeof(*k))) == NULL)
		return (CST_ENOMEM);
	if ((k->sk = sodium_malloc(crypto_sign_SECRETKEYBYTES)) == NULL) {
		free(k);
		return (CST_ENOMEM);
	}
	memcpy(k->chain_id, chain_id, CST_CHAIN_ID_LEN);
	crypto_sign_seed_keypair(k->pk, k->sk, seed);
	*out = k;
	return (0);
}

int
cst_log_key_generate(const uint8_t chain_id[CST_CHAIN_ID_LEN],
    cst_log_key **out)
{
	uint8_t *seed;
	int rc;

	if (sodium_init() < 0)
		return (CST_EIO);
	if ((seed = sodium_malloc(CST_SEED_LEN)) == NULL)
		return (CST_ENOMEM);
	randombytes_buf(seed, CST_SEED_LEN);
	rc = cst_log_key_from_seed(chain_id, seed, out);
	sodium_free(seed);
	return (rc);
}

void
cst_log_key_free(cst_log_key *k)
{

	if (k == NULL)
		return;
	sodium_free(k->sk);
	free(k);
}

int
cst_log_key_save(const cst_log_key *k, const char *path)
{
	char *text;
	size_t n = sizeof(LOG_SECRET_TAG) - 1;
	int rc;

	if ((text = sodium_malloc(SECRET_LINE_LEN + 1)) == NULL)
		return (CST_ENOMEM);
	memcpy(text, LOG_SECRET_TAG, n);
	cst_hex(k->chain_id, CST_CHAIN_ID_LEN, text + n);
	n += HEX_CHAIN_LEN;
	text[n++] = ' ';
	/* The seed is the first half of libsodium's secret key. */
	cst_b64_encode(k->sk, CST_SEED_LEN, text + n);
	n += B64_SEED_LEN;
	text[n++] = '\n';
	rc = cst_keyfile_write(path, (const uint8_t *)text, n, 0600, 0);
	sodium_free(text);
	return (rc);
}

int
cst_log_key_load(const char *path, cst_log_key **out)
{
	uint8_t chain_id[CST_CHAIN_ID_LEN], *seed;
	const char *p;
	char *text;
	size_t len, n = sizeof(LOG_SECRET_TAG) - 1;
	int rc;

	if ((rc = cst_keyfile_read(path, 1, &text, &len)) != 0)
		return (rc);
	if ((seed = sodium_malloc(CST_SEED_LEN)) == NULL) {
		rc = CST_ENOMEM;
		goto err1;
	}
	rc = CST_EKEY;
	if (len > 0 && text[len - 1] == '\n')
		len--;
	p = text;
	if (len != SECRET_LINE_LEN - 1 || memcmp(p, LOG_SECRET_TAG, n) != 0 ||
	    cst_unhex_lower(p + n, HEX_CHAIN_LEN, chain_id,
	    CST_CHAIN_ID_LEN) != 0 || p[n + HEX_CHAIN_LEN] != ' ' ||
	    cst_b64_decode(p + n + HEX_CHAIN_LEN + 1, B64_SEED_LEN, seed,
	    CST_SEED_LEN) != 0)
		goto err2;
	rc = cst_log_key_from_seed(chain_id, seed, out);
err2:
	sodium_free(seed);
err1:
	sodium_free(text);
	return (rc);
}

/* The message a root signs: D_LOGCERT || NUL || chain_id || pk. */
static void
cert_message(const uint8_t chain_id[CST_CHAIN_ID_LEN],
    const uint8_t pk[CST_PK_LEN],
    uint8_t m[sizeof(CST_D_LOGCERT) + CST_CHAIN_ID_LEN + CST_PK_LEN])
{

	memcpy(m, CST_D_LOGCERT, sizeof(CST_D_LOGCERT));
	memcpy(m + sizeof(CST_D_LOGCERT), chain_id, CST_CHAIN_ID_LEN);
	memcpy(m + sizeof(CST_D_LOGCERT) + CST_CHAIN_ID_LEN, pk, CST_PK_LEN);
}

void
cst_log_cert_make(const cst_root_key *root, const uint8_t pk[CST_PK_LEN],
    cst_log_cert *out)
{
	uint8_t m[sizeof(CST_D_LOGCERT) + CST_CHAIN_ID_LEN + CST_PK_LEN];

	memcpy(out->chain_id, root->pub.chain_id, CST_CHAIN_ID_LEN);
	memcpy(out->pk, pk, CST_PK_LEN);
	cert_message(out->chain_id, out->pk, m);
	crypto_sign_detached(out->sig, NULL, m, sizeof(m), root->sk);
}

int
cst_log_cert_encode(const cst_log_cert *c, cst_buf *out)
{
	char line[CERT_LINE_LEN + 1];
	size_t n = sizeof(LOG_CERT_TAG) - 1;

	memcpy(line, LOG_CERT_TAG, n);
	cst_hex(c->chain_id, CST_CHAIN_ID_LEN, line + n);
	n += HEX_CHAIN_LEN;
	line[n++] = ' ';
	cst_b64_encode(c->pk, CST_PK_LEN, line + n);
	n += B64_PK_LEN;
	line[n++] = ' ';
	cst_b64_encode(c->sig, CST_SIG_LEN, line + n);
	n += B64_SIG_LEN;
	line[n++] = '\n';
	return (cst_buf_append(out, line, n));
}

int
cst_log_cert_decode(const char *text, size_t len, cst_log_cert *out)
{
	size_t n = sizeof(LOG_CERT_TAG) - 1, pk_at, sig_at;

	memset(out, 0, sizeof(*out));
	if (len > 0 && text[len - 1] == '\n')
		len--;
	pk_at = n + HEX_CHAIN_LEN + 1;
	sig_at = pk_at + B64_PK_LEN + 1;
	if (len != CERT_LINE_LEN - 1 || memcmp(text, LOG_CERT_TAG, n) != 0 ||
	    cst_unhex_lower(text + n, HEX_CHAIN_LEN, out->chain_id,
	    CST_CHAIN_ID_LEN) != 0 || text[pk_at - 1] != ' ' ||
	    cst_b64_decode(text + pk_at, B64_PK_LEN, out->pk, CST_PK_LEN) != 0 ||
	    text[sig_at - 1] != ' ' ||
	    cst_b64_decode(text + sig_at, B64_SIG_LEN, out->sig,
	    CST_SIG_LEN) != 0) {
		memset(out, 0, sizeof(*out));
		return (CST_EPARSE);
	}
	return (0);
}

int
cst_log_cert_load(const char *path, cst_log_cert *out)
{
	char *text;
	size_t len;
	int rc;

	if ((rc = cst_keyfile_read(path, 0, &text, &len)) != 0)
		return (rc == CST_EKEY ? CST_EPARSE : rc);
	rc = cst_log_cert_decode(text, len, out);
	sodium_free(text);
	return (rc);
}

int
cst_log_cert_save(const cst_log_cert *c, const char *path)
{
	cst_buf b;
	int rc;

	cst_buf_init(&b);
	if ((rc = cst_log_cert_encode(c, &b)) == 0)
		rc = cst_keyfile_write(path, b.p, b.len, 0644, 1);
	cst_buf_close(&b);
	return (rc);
}

int
cst_log_cert_verify(const cst_log_cert *c, const cst_root_pub *root)
{
	uint8_t m[sizeof(CST_D_LOGCERT) + CST_CHAIN_ID_LEN + CST_PK_LEN];

	if (sodium_memcmp(c->chain_id, root->chain_id, CST_CHAIN_ID_LEN) != 0)
		return (CST_EFOREIGN);
	cert_message(c->chain_id, c->pk, m);
	if (crypto_sign_verify_detached(c->sig, m, sizeof(m), root->pk) != 0)
		return (CST_ESIG);
	return (0);
}

void
cst_log_vkey(const uint8_t chain_id[CST_CHAIN_ID_LEN],
    const uint8_t pk[CST_PK_LEN], cst_note_vkey *out)
{
	char origin[CST_LOG_ORIGIN_LEN + 1];

	cst_log_origin(chain_id, origin);
	/* The origin is always a valid name. */
	(void)cst_note_vkey_make(origin, CST_LOG_ORIGIN_LEN,
	    CST_NOTE_ALG_ED25519, pk, out);
}

int
cst_log_note_encode(const cst_log_key *k, uint64_t size,
    const uint8_t root[CST_HASH_LEN], cst_buf *out)
{
	char origin[CST_LOG_ORIGIN_LEN + 1];
	size_t start = out->len, body;
	int rc;

	cst_log_origin(k->chain_id, origin);
	if ((rc = cst_note_ckpt_format(origin, CST_LOG_ORIGIN_LEN, size, root,
	    NULL, 0, out)) != 0)
		goto err;
	body = out->len - start;
	if ((rc = cst_buf_append(out, "\n", 1)) != 0 ||
	    (rc = cst_note_sign((const char *)out->p + start, body, origin,
	    CST_LOG_ORIGIN_LEN, k->sk, out)) != 0)
		goto err;
	return (0);

err:
	out->len = start;
	return (rc);
}

int
cst_log_note_verify(const char *text, size_t len, const cst_log_cert *c,
    uint64_t *size, uint8_t root[CST_HASH_LEN])
{
	char origin[CST_LOG_ORIGIN_LEN + 1];
	cst_note_vkey k;
	cst_note_ckpt ck;
	cst_note n;
	int rc;

	if ((rc = cst_note_parse(text, len, &n)) != 0)
		return (rc);
	rc = CST_EPARSE;
	if (cst_note_ckpt_parse(n.text, n.text_len, &ck) != 0 ||
	    ck.ext_len != 0 || ck.size == 0)
		goto err1;
	cst_log_origin(c->chain_id, origin);
	if (ck.origin_len < sizeof(ORIGIN_PREFIX) - 1 ||
	    memcmp(ck.origin, ORIGIN_PREFIX, sizeof(ORIGIN_PREFIX) - 1) != 0)
		goto err1;
	if (ck.origin_len != CST_LOG_ORIGIN_LEN ||
	    memcmp(ck.origin, origin, CST_LOG_ORIGIN_LEN) != 0) {
		rc = CST_EFOREIGN;
		goto err1;
	}
	cst_log_vkey(c->chain_id, c->pk, &k);
	if ((rc = cst_note_verify(&n, &k)) != 0)
		goto err1;
	*size = ck.size;
	memcpy(root, ck.root, CST_HASH_LEN);
err1:
	cst_note_close(&n);
	return (rc);
}
