/*
 * Signed notes, verifier keys, checkpoint bodies and cosignature/v1
 * (C2SP signed-note, tlog-checkpoint, tlog-cosignature; SPEC section
 * 13.3, R-NOTE-1..3, R-NOTE-8).
 *
 * A note comes from anywhere (a store, a witness, a file an investigator
 * was handed): cst_note_parse checks every byte against the limits before
 * anything is allocated for it or any signature looked at.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "b64.h"
#include "custody/buf.h"
#include "custody/error.h"
#include "custody/format.h"
#include "custody/note.h"

/* U+2014 EM DASH, then a space: how a signature line begins. */
#define DASH "\xe2\x80\x94 "
#define DASH_LEN 4

#define COSIG_HDR "cosignature/v1\ntime "

int
cst_note_name_ok(const char *name, size_t len)
{
	size_t i;

	if (len == 0 || len > CST_NOTE_MAX_NAME)
		return (0);
	for (i = 0; i < len; i++)
		if (name[i] < 0x21 || name[i] > 0x7e || name[i] == '+')
			return (0);
	return (1);
}

uint32_t
cst_note_key_id(const char *name, size_t name_len, uint8_t alg,
    const uint8_t pk[CST_PK_LEN])
{
	crypto_hash_sha256_state st;
	uint8_t h[crypto_hash_sha256_BYTES];
	const uint8_t nl = '\n';

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)name, name_len);
	crypto_hash_sha256_update(&st, &nl, 1);
	crypto_hash_sha256_update(&st, &alg, 1);
	crypto_hash_sha256_update(&st, pk, CST_PK_LEN);
	crypto_hash_sha256_final(&st, h);
	return ((uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 |
	    (uint32_t)h[2] << 8 | (uint32_t)h[3]);
}

int
cst_note_vkey_make(const char *name, size_t name_len, uint8_t alg,
    const uint8_t pk[CST_PK_LEN], cst_note_vkey *out)
{

	if (!cst_note_name_ok(name, name_len))
		return (CST_EINVAL);
	memset(out, 0, sizeof(*out));
	memcpy(out->name, name, name_len);
	out->name_len = name_len;
	out->alg = alg;
	memcpy(out->pk, pk, CST_PK_LEN);
	out->key_id = cst_note_key_id(name, name_len, alg, pk);
	return (0);
}

/* Parses exactly 8 lower-case hex digits. */
static int
parse_id(const char *s, size_t len, uint32_t *out)
{
	uint32_t v = 0;
	size_t i;

	if (len != 8)
		return (CST_EPARSE);
	for (i = 0; i < 8; i++) {
		if (s[i] >= '0' && s[i] <= '9')
			v = v << 4 | (uint32_t)(s[i] - '0');
		else if (s[i] >= 'a' && s[i] <= 'f')
			v = v << 4 | (uint32_t)(s[i] - 'a' + 10);
		else
			return (CST_EPARSE);
	}
	*out = v;
	return (0);
}

int
cst_note_vkey_parse(const char *text, size_t len, cst_note_vkey *out)
{
	uint8_t key[1 + CST_PK_LEN];
	const char *p1, *p2;
	uint32_t id;

	memset(out, 0, sizeof(*out));
	if ((p1 = memchr(text, '+', len)) == NULL ||
	    (p2 = memchr(p1 + 1, '+', len - (size_t)(p1 + 1 - text))) == NULL)
		return (CST_EKEY);
	if (!cst_note_name_ok(text, (size_t)(p1 - text)) ||
	    parse_id(p1 + 1, (size_t)(p2 - p1 - 1), &id) != 0 ||
	    cst_b64_decode(p2 + 1, len - (size_t)(p2 + 1 - text), key,
	    sizeof(key)) != 0)
		return (CST_EKEY);
	if (key[0] != CST_NOTE_ALG_ED25519 && key[0] != CST_NOTE_ALG_COSIG_V1)
		return (CST_EKEY);
	if (cst_note_vkey_make(text, (size_t)(p1 - text), key[0], key + 1,
	    out) != 0 || out->key_id != id) {
		memset(out, 0, sizeof(*out));
		return (CST_EKEY);
	}
	return (0);
}

int
cst_note_vkey_format(const cst_note_vkey *k, cst_buf *out)
{
	uint8_t key[1 + CST_PK_LEN];
	char id[9], b64[CST_B64_LEN(sizeof(key)) + 1];
	int rc;

	key[0] = k->alg;
	memcpy(key + 1, k->pk, CST_PK_LEN);
	snprintf(id, sizeof(id), "%08" PRIx32, k->key_id);
	cst_b64_encode(key, sizeof(key), b64);
	if ((rc = cst_buf_append(out, k->name, k->name_len)) != 0 ||
	    (rc = cst_buf_append(out, "+", 1)) != 0 ||
	    (rc = cst_buf_append(out, id, 8)) != 0 ||
	    (rc = cst_buf_append(out, "+", 1)) != 0 ||
	    (rc = cst_buf_append(out, b64, strlen(b64))) != 0)
		return (rc);
	return (0);
}

/*
 * Whether p[0..len) is UTF-8 (RFC 3629: no overlong form, no surrogate,
 * nothing above U+10FFFF) with no ASCII control character (below 0x20)
 * but LF (R-NOTE-2).
 */
static int
text_ok(const uint8_t *p, size_t len)
{
	size_t i = 0, n, j;
	uint32_t c;

	while (i < len) {
		c = p[i];
		if (c < 0x80) {
			if (c < 0x20 && c != '\n')
				return (0);
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			c &= 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			c &= 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			c &= 0x07;
		} else
			return (0);
		if (len - i <= n)
			return (0);
		for (j = 1; j <= n; j++) {
			if ((p[i + j] & 0xc0) != 0x80)
				return (0);
			c = c << 6 | (p[i + j] & 0x3f);
		}
		if ((n == 2 && c < 0x800) || (n == 3 && c < 0x10000) ||
		    c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return (0);
		i += n + 1;
	}
	return (1);
}

/* Bytes a canonical padded base64 text of slen characters decodes to. */
static int
b64_len(const char *s, size_t slen, size_t *out)
{
	size_t n;

	if (slen == 0 || slen % 4 != 0)
		return (CST_EPARSE);
	n = slen / 4 * 3;
	if (s[slen - 1] == '=')
		n--;
	if (s[slen - 2] == '=')
		n--;
	*out = n;
	return (0);
}

int
cst_note_parse(const char *buf, size_t len, cst_note *out)
{
	const char *p, *end, *sp, *nl;
	cst_note n;
	size_t i, nsig = 0, dlen, off = 0;
	int rc = CST_EPARSE;

	memset(out, 0, sizeof(*out));
	memset(&n, 0, sizeof(n));
	if (len > CST_NOTE_MAX_LEN)
		return (CST_ETOOBIG);
	if (len < 2 || buf[len - 1] != '\n' ||
	    !text_ok((const uint8_t *)buf, len))
		return (CST_EPARSE);
	/* The text ends at the last empty line. */
	for (i = len - 1; i > 0; i--)
		if (buf[i] == '\n' && buf[i - 1] == '\n')
			break;
	if (i == 0)
		return (CST_EPARSE);
	n.text_len = i;
	/* Count and check the signature lines before allocating. */
	for (p = buf + i + 1, end = buf + len; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (++nsig > CST_NOTE_MAX_SIGS)
			return (CST_ETOOBIG);
		if ((size_t)(nl - p) < DASH_LEN ||
		    memcmp(p, DASH, DASH_LEN) != 0)
			return (CST_EPARSE);
		sp = memchr(p + DASH_LEN, ' ', (size_t)(nl - p - DASH_LEN));
		if (sp == NULL || !cst_note_name_ok(p + DASH_LEN,
		    (size_t)(sp - p - DASH_LEN)) ||
		    b64_len(sp + 1, (size_t)(nl - sp - 1), &dlen) != 0 ||
		    dlen < 5 || dlen > 4 + CST_NOTE_MAX_SIG)
			return (CST_EPARSE);
	}
	if (nsig == 0)
		return (CST_EPARSE);

	rc = CST_ENOMEM;
	if ((n.text = malloc(len)) == NULL ||
	    (n.sigs = calloc(nsig, sizeof(*n.sigs))) == NULL ||
	    (n.sigbuf = malloc(len)) == NULL)
		goto err1;
	memcpy(n.text, buf, len);
	n.len = len;
	rc = CST_EPARSE;
	for (p = n.text + i + 1, end = n.text + len; p < end; p = nl + 1) {
		cst_note_sig *s = &n.sigs[n.nsigs];
		uint8_t *d = n.sigbuf + off;

		nl = memchr(p, '\n', (size_t)(end - p));
		sp = memchr(p + DASH_LEN, ' ', (size_t)(nl - p - DASH_LEN));
		(void)b64_len(sp + 1, (size_t)(nl - sp - 1), &dlen);
		if (cst_b64_decode(sp + 1, (size_t)(nl - sp - 1), d, dlen) != 0)
			goto err1;
		s->name = p + DASH_LEN;
		s->name_len = (size_t)(sp - p - DASH_LEN);
		s->key_id = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 |
		    (uint32_t)d[2] << 8 | (uint32_t)d[3];
		s->sig = d + 4;
		s->sig_len = dlen - 4;
		off += dlen;
		n.nsigs++;
	}
	*out = n;
	return (0);

err1:
	cst_note_close(&n);
	return (rc);
}

void
cst_note_close(cst_note *n)
{

	free(n->text);
	free(n->sigs);
	free(n->sigbuf);
	memset(n, 0, sizeof(*n));
}

/* Whether s is a line of key k. */
static int
is_keys(const cst_note_sig *s, const cst_note_vkey *k)
{

	return (s->key_id == k->key_id && s->name_len == k->name_len &&
	    memcmp(s->name, k->name, k->name_len) == 0);
}

int
cst_note_verify(const cst_note *n, const cst_note_vkey *k)
{
	size_t i, found = 0;

	if (k->alg != CST_NOTE_ALG_ED25519)
		return (CST_ENOENT);
	for (i = 0; i < n->nsigs; i++) {
		if (!is_keys(&n->sigs[i], k))
			continue;
		if (n->sigs[i].sig_len != CST_SIG_LEN ||
		    crypto_sign_verify_detached(n->sigs[i].sig,
		    (const uint8_t *)n->text, n->text_len, k->pk) != 0)
			return (CST_ESIG);
		found++;
	}
	return (found > 0 ? 0 : CST_ENOENT);
}

/* Appends "— name base64(id || sig[0..sig_len))\n" to out. */
static int
put_sig_line(const char *name, size_t name_len, uint32_t id,
    const uint8_t *sig, size_t sig_len, cst_buf *out)
{
	uint8_t field[4 + CST_NOTE_COSIG_LEN];
	char b64[CST_B64_LEN(sizeof(field)) + 1];
	int rc;

	field[0] = (uint8_t)(id >> 24);
	field[1] = (uint8_t)(id >> 16);
	field[2] = (uint8_t)(id >> 8);
	field[3] = (uint8_t)id;
	memcpy(field + 4, sig, sig_len);
	cst_b64_encode(field, 4 + sig_len, b64);
	if ((rc = cst_buf_append(out, DASH, DASH_LEN)) != 0 ||
	    (rc = cst_buf_append(out, name, name_len)) != 0 ||
	    (rc = cst_buf_append(out, " ", 1)) != 0 ||
	    (rc = cst_buf_append(out, b64, strlen(b64))) != 0 ||
	    (rc = cst_buf_append(out, "\n", 1)) != 0)
		return (rc);
	return (0);
}

int
cst_note_sign(const char *text, size_t len, const char *name,
    size_t name_len, const uint8_t *sk, cst_buf *out)
{
	uint8_t sig[CST_SIG_LEN], pk[CST_PK_LEN];

	if (!cst_note_name_ok(name, name_len))
		return (CST_EINVAL);
	crypto_sign_ed25519_sk_to_pk(pk, sk);
	crypto_sign_detached(sig, NULL, (const uint8_t *)text, len, sk);
	return (put_sig_line(name, name_len, cst_note_key_id(name, name_len,
	    CST_NOTE_ALG_ED25519, pk), sig, sizeof(sig), out));
}

/* Takes one line [p, LF) of [p, end) into *line, *llen; moves p past it. */
static int
take_line(const char **p, const char *end, const char **line, size_t *llen)
{
	const char *nl;

	if (*p >= end || (nl = memchr(*p, '\n', (size_t)(end - *p))) == NULL)
		return (CST_EPARSE);
	*line = *p;
	*llen = (size_t)(nl - *p);
	*p = nl + 1;
	return (0);
}

int
cst_note_ckpt_parse(const char *text, size_t len, cst_note_ckpt *out)
{
	const char *p = text, *end = text + len, *l;
	uint64_t v = 0;
	size_t ll, i;

	memset(out, 0, sizeof(*out));
	if (take_line(&p, end, &out->origin, &out->origin_len) != 0 ||
	    out->origin_len == 0)
		goto err;
	if (take_line(&p, end, &l, &ll) != 0 || ll == 0 || ll > 20 ||
	    (ll > 1 && l[0] == '0'))
		goto err;
	for (i = 0; i < ll; i++) {
		if (l[i] < '0' || l[i] > '9' ||
		    v > (UINT64_MAX - (uint64_t)(l[i] - '0')) / 10)
			goto err;
		v = v * 10 + (uint64_t)(l[i] - '0');
	}
	out->size = v;
	if (take_line(&p, end, &l, &ll) != 0 ||
	    cst_b64_decode(l, ll, out->root, CST_HASH_LEN) != 0)
		goto err;
	out->ext = p;
	out->ext_len = (size_t)(end - p);
	while (p < end)
		if (take_line(&p, end, &l, &ll) != 0 || ll == 0)
			goto err;
	return (0);

err:
	memset(out, 0, sizeof(*out));
	return (CST_EPARSE);
}

int
cst_note_ckpt_format(const char *origin, size_t origin_len, uint64_t size,
    const uint8_t root[CST_HASH_LEN], const char *ext, size_t ext_len,
    cst_buf *out)
{
	char num[24], b64[CST_B64_LEN(CST_HASH_LEN) + 1];
	size_t i;
	int rc;

	if (origin_len == 0 || !text_ok((const uint8_t *)origin, origin_len) ||
	    memchr(origin, '\n', origin_len) != NULL)
		return (CST_EINVAL);
	if (ext_len > 0 && (ext[ext_len - 1] != '\n' || ext[0] == '\n' ||
	    !text_ok((const uint8_t *)ext, ext_len)))
		return (CST_EINVAL);
	for (i = 1; i < ext_len; i++)
		if (ext[i] == '\n' && ext[i - 1] == '\n')
			return (CST_EINVAL);
	snprintf(num, sizeof(num), "%" PRIu64 "\n", size);
	cst_b64_encode(root, CST_HASH_LEN, b64);
	if ((rc = cst_buf_append(out, origin, origin_len)) != 0 ||
	    (rc = cst_buf_append(out, "\n", 1)) != 0 ||
	    (rc = cst_buf_append(out, num, strlen(num))) != 0 ||
	    (rc = cst_buf_append(out, b64, strlen(b64))) != 0 ||
	    (rc = cst_buf_append(out, "\n", 1)) != 0 ||
	    (ext_len > 0 && (rc = cst_buf_append(out, ext, ext_len)) != 0))
		return (rc);
	return (0);
}

/* Builds "cosignature/v1\ntime <t>\n" || text in m. */
static int
cosig_message(const char *text, size_t len, uint64_t t, cst_buf *m)
{
	char num[24];
	int rc;

	snprintf(num, sizeof(num), "%" PRIu64 "\n", t);
	if ((rc = cst_buf_append(m, COSIG_HDR, sizeof(COSIG_HDR) - 1)) != 0 ||
	    (rc = cst_buf_append(m, num, strlen(num))) != 0 ||
	    (rc = cst_buf_append(m, text, len)) != 0)
		return (rc);
	return (0);
}

int
cst_note_cosign(const char *text, size_t len, uint64_t timestamp,
    const char *name, size_t name_len, const uint8_t *sk, cst_buf *out)
{
	uint8_t field[CST_NOTE_COSIG_LEN], pk[CST_PK_LEN];
	cst_buf m;
	int i, rc;

	if (!cst_note_name_ok(name, name_len) || timestamp > INT64_MAX)
		return (CST_EINVAL);
	cst_buf_init(&m);
	if ((rc = cosig_message(text, len, timestamp, &m)) != 0)
		goto err0;
	for (i = 0; i < 8; i++)
		field[i] = (uint8_t)(timestamp >> (56 - 8 * i));
	crypto_sign_detached(field + 8, NULL, m.p, m.len, sk);
	crypto_sign_ed25519_sk_to_pk(pk, sk);
	rc = put_sig_line(name, name_len, cst_note_key_id(name, name_len,
	    CST_NOTE_ALG_COSIG_V1, pk), field, sizeof(field), out);
err0:
	cst_buf_close(&m);
	return (rc);
}

int
cst_note_cosig_verify(const cst_note *n, const cst_note_vkey *k,
    uint64_t *timestamp)
{
	const cst_note_sig *s;
	uint64_t t, newest = 0;
	cst_buf m;
	size_t i, found = 0;
	int j, rc = 0;

	if (k->alg != CST_NOTE_ALG_COSIG_V1)
		return (CST_ENOENT);
	cst_buf_init(&m);
	for (i = 0; i < n->nsigs; i++) {
		s = &n->sigs[i];
		if (!is_keys(s, k))
			continue;
		rc = CST_ESIG;
		if (s->sig_len != CST_NOTE_COSIG_LEN)
			goto err0;
		for (t = 0, j = 0; j < 8; j++)
			t = t << 8 | s->sig[j];
		if (t > INT64_MAX)
			goto err0;
		m.len = 0;
		if ((rc = cosig_message(n->text, n->text_len, t, &m)) != 0)
			goto err0;
		rc = CST_ESIG;
		if (crypto_sign_verify_detached(s->sig + 8, m.p, m.len,
		    k->pk) != 0)
			goto err0;
		if (t > newest)
			newest = t;
		found++;
	}
	rc = found > 0 ? 0 : CST_ENOENT;
	if (rc == 0 && timestamp != NULL)
		*timestamp = newest;
err0:
	cst_buf_close(&m);
	return (rc);
}
