/*
 * Checkpoints (SPEC section 8): a few lines of text signed by the epoch
 * key, with the certificates from the root down to that key, so that a
 * checkpoint copied off the machine can be checked with the root public
 * key alone.
 *
 * The text has exactly one spelling for each checkpoint: decode refuses
 * anything make would not have written (leading zeros, upper-case hex,
 * another time format, extra lines), so that no two texts mean the same.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "b64.h"
#include "civil.h"
#include "custody/buf.h"
#include "custody/checkpoint.h"
#include "custody/error.h"
#include "custody/format.h"
#include "custody/hash.h"
#include "custody/keys.h"

#define CKP_MAGIC "custody-checkpoint-v1\n"

#define B64_CERT_LEN CST_B64_LEN(CST_CERT_LEN)
#define B64_SIG_LEN CST_B64_LEN(CST_SIG_LEN)
#define CERT_LINE_LEN (sizeof("cert ") - 1 + B64_CERT_LEN + 1)
#define SIG_LINE_LEN (sizeof("sig ") - 1 + B64_SIG_LEN + 1)

/* "2026-11-22T11:30:00.123456789Z" */
#define TIME_LEN 30

#define NS_PER_S 1000000000

/* Writes v as exactly n decimal digits at out. */
static void
put_digits(char *out, int64_t v, size_t n)
{

	while (n-- > 0) {
		out[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

/*
 * Writes time_ns as RFC 3339 UTC with nine fraction digits into out
 * (TIME_LEN + 1 bytes).  Every int64 time falls in years 1677..2262, so
 * the year always has four digits.
 */
static void
format_time(int64_t time_ns, char out[TIME_LEN + 1])
{
	int64_t secs = time_ns / NS_PER_S, frac = time_ns % NS_PER_S;
	int64_t days, sod, y;
	int m, d;

	if (frac < 0) {
		frac += NS_PER_S;
		secs--;
	}
	days = secs / 86400;
	sod = secs % 86400;
	if (sod < 0) {
		sod += 86400;
		days--;
	}
	cst_civil_from_days(days, &y, &m, &d);
	memcpy(out, "0000-00-00T00:00:00.000000000Z", TIME_LEN + 1);
	put_digits(out, y, 4);
	put_digits(out + 5, m, 2);
	put_digits(out + 8, d, 2);
	put_digits(out + 11, sod / 3600, 2);
	put_digits(out + 14, sod / 60 % 60, 2);
	put_digits(out + 17, sod % 60, 2);
	put_digits(out + 20, frac, 9);
}

/* Reads n decimal digits at s; -1 if any is not a digit. */
static int64_t
digits(const char *s, size_t n)
{
	int64_t v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return (-1);
		v = v * 10 + (s[i] - '0');
	}
	return (v);
}

/* Parses exactly the form format_time writes. */
static int
parse_time(const char *s, size_t n, int64_t *out)
{
	int64_t y, mo, d, h, mi, sec, frac, days, t;

	if (n != TIME_LEN || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
	    s[13] != ':' || s[16] != ':' || s[19] != '.' || s[29] != 'Z')
		return (-1);
	if ((y = digits(s, 4)) < 0 || (mo = digits(s + 5, 2)) < 1 ||
	    mo > 12 || (d = digits(s + 8, 2)) < 1 ||
	    d > cst_civil_month_days(y, (int)mo) ||
	    (h = digits(s + 11, 2)) < 0 || h > 23 ||
	    (mi = digits(s + 14, 2)) < 0 || mi > 59 ||
	    (sec = digits(s + 17, 2)) < 0 || sec > 59 ||
	    (frac = digits(s + 20, 9)) < 0)
		return (-1);
	days = cst_civil_to_days(y, (int)mo, (int)d);
	t = days * 86400 + h * 3600 + mi * 60 + sec;
	/* Borrow a second so that INT64_MIN's own second does not overflow. */
	if (t < 0 && frac > 0) {
		t++;
		frac -= NS_PER_S;
	}
	/* Years 0000..9999 parse; only 1677..2262 fit in int64 ns. */
	if (__builtin_mul_overflow(t, (int64_t)NS_PER_S, &t) ||
	    __builtin_add_overflow(t, frac, &t))
		return (-1);
	*out = t;
	return (0);
}

/* Parses a decimal uint64 with no sign and no leading zero. */
static int
parse_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0 || n > 20 || (s[0] == '0' && n > 1))
		return (-1);
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9' ||
		    __builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(s[i] - '0'), &v))
			return (-1);
	}
	*out = v;
	return (0);
}

/* A cursor over the text; each line is "<name> <value>\n". */
struct cur {
	const char *p;
	const char *end;
};

/*
 * Consumes the line "<name> <value>\n" and points *val at the value, which
 * may be empty but holds no LF.
 */
static int
take_line(struct cur *c, const char *name, const char **val, size_t *n)
{
	size_t nl = strlen(name);
	const char *lf;

	if ((size_t)(c->end - c->p) < nl + 1 || memcmp(c->p, name, nl) != 0 ||
	    c->p[nl] != ' ')
		return (-1);
	c->p += nl + 1;
	if ((lf = memchr(c->p, '\n', (size_t)(c->end - c->p))) == NULL)
		return (-1);
	*val = c->p;
	*n = (size_t)(lf - c->p);
	c->p = lf + 1;
	return (0);
}

/* Appends "<name> <base64 of b[0..len)>\n" to out. */
static int
put_b64_line(cst_buf *out, const char *name, const uint8_t *b, size_t len)
{
	size_t nl = strlen(name);
	char *p;

	if (cst_buf_reserve(out, nl + CST_B64_LEN(len) + 2) != 0)
		return (CST_ENOMEM);
	p = (char *)out->p + out->len;
	memcpy(p, name, nl);
	p[nl] = ' ';
	cst_b64_encode(b, len, p + nl + 1);
	p[nl + 1 + CST_B64_LEN(len)] = '\n';
	out->len += nl + CST_B64_LEN(len) + 2;
	return (0);
}

int
cst_checkpoint_encode(const cst_epoch_key *key, uint64_t blocks,
    uint64_t records, const uint8_t head[CST_HASH_LEN], int64_t time_ns,
    cst_buf *out)
{
	char chain[2 * CST_CHAIN_ID_LEN + 1], hhex[2 * CST_HASH_LEN + 1];
	char when[TIME_LEN + 1], head_lines[512];
	uint8_t cert[CST_CERT_LEN], sig[CST_SIG_LEN];
	cst_buf msg;
	size_t body_off;
	uint32_t i;
	int n, rc;

	if (key->epoch < 1)
		return (CST_EINVAL);
	cst_hex(key->chain_id, CST_CHAIN_ID_LEN, chain);
	cst_hex(head, CST_HASH_LEN, hhex);
	format_time(time_ns, when);
	n = snprintf(head_lines, sizeof(head_lines), CKP_MAGIC "chain %s\n"
	    "blocks %" PRIu64 "\nrecords %" PRIu64 "\nhead %s\ntime %s\n"
	    "epoch %" PRIu32 "\n", chain, blocks, records, hhex, when,
	    key->epoch);

	/* Signed: D_CHECKPOINT || every byte before the sig line. */
	cst_buf_init(&msg);
	rc = CST_ENOMEM;
	if (cst_buf_append(&msg, CST_D_CHECKPOINT,
	    sizeof(CST_D_CHECKPOINT)) != 0)
		goto err0;
	body_off = msg.len;
	if (cst_buf_append(&msg, head_lines, (size_t)n) != 0)
		goto err0;
	for (i = 0; i < key->epoch; i++) {
		cst_cert_encode(&key->certs[i], cert);
		if (put_b64_line(&msg, "cert", cert, sizeof(cert)) != 0)
			goto err0;
	}
	crypto_sign_detached(sig, NULL, msg.p, msg.len, key->sk);

	if (cst_buf_append(out, msg.p + body_off, msg.len - body_off) != 0 ||
	    put_b64_line(out, "sig", sig, sizeof(sig)) != 0)
		goto err0;
	rc = 0;

err0:
	cst_buf_close(&msg);
	return (rc);
}

int
cst_checkpoint_decode(const char *text, size_t len, cst_checkpoint *out)
{
	struct cur c = { text, text + len };
	cst_checkpoint cp;
	uint8_t cert[CST_CERT_LEN];
	const char *v;
	uint64_t epoch;
	size_t n;
	uint32_t i;
	int rc = CST_EPARSE;

	memset(&cp, 0, sizeof(cp));
	memset(out, 0, sizeof(*out));
	/* R-CKP-1: each line in its place, each value in its one form. */
	if ((size_t)(c.end - c.p) < sizeof(CKP_MAGIC) - 1 ||
	    memcmp(c.p, CKP_MAGIC, sizeof(CKP_MAGIC) - 1) != 0)
		goto err0;
	c.p += sizeof(CKP_MAGIC) - 1;
	if (take_line(&c, "chain", &v, &n) != 0 ||
	    cst_unhex_lower(v, n, cp.chain_id, CST_CHAIN_ID_LEN) != 0 ||
	    take_line(&c, "blocks", &v, &n) != 0 ||
	    parse_u64(v, n, &cp.blocks) != 0 ||
	    take_line(&c, "records", &v, &n) != 0 ||
	    parse_u64(v, n, &cp.records) != 0 ||
	    take_line(&c, "head", &v, &n) != 0 ||
	    cst_unhex_lower(v, n, cp.head, CST_HASH_LEN) != 0 ||
	    take_line(&c, "time", &v, &n) != 0 ||
	    parse_time(v, n, &cp.time_ns) != 0 ||
	    take_line(&c, "epoch", &v, &n) != 0 ||
	    parse_u64(v, n, &epoch) != 0 || epoch < 1 || epoch > UINT32_MAX)
		goto err0;
	cp.epoch = (uint32_t)epoch;

	/* What is left is exactly epoch cert lines and the sig line. */
	if ((size_t)(c.end - c.p) < SIG_LINE_LEN ||
	    (size_t)(c.end - c.p) - SIG_LINE_LEN != epoch * CERT_LINE_LEN)
		goto err0;
	if ((cp.certs = calloc(cp.epoch, sizeof(cst_cert))) == NULL) {
		rc = CST_ENOMEM;
		goto err0;
	}
	for (i = 0; i < cp.epoch; i++) {
		if (take_line(&c, "cert", &v, &n) != 0 ||
		    cst_b64_decode(v, n, cert, sizeof(cert)) != 0 ||
		    cst_cert_decode(cert, sizeof(cert), &cp.certs[i]) != 0)
			goto err1;
	}
	cp.body_len = (size_t)(c.p - text);
	if (take_line(&c, "sig", &v, &n) != 0 ||
	    cst_b64_decode(v, n, cp.sig, sizeof(cp.sig)) != 0 ||
	    c.p != c.end)
		goto err1;

	if ((cp.body = malloc(cp.body_len)) == NULL) {
		rc = CST_ENOMEM;
		goto err1;
	}
	memcpy(cp.body, text, cp.body_len);
	*out = cp;
	return (0);

err1:
	free(cp.certs);
err0:
	return (rc);
}

int
cst_checkpoint_verify(const cst_checkpoint *cp, const cst_root_pub *root)
{
	uint8_t *msg;
	int rc;

	/* R-CKP-1: the certificates from the root down, then the text. */
	if (memcmp(cp->chain_id, root->chain_id, CST_CHAIN_ID_LEN) != 0)
		return (CST_EFOREIGN);
	if (cp->epoch < 1 || cp->certs == NULL || cp->body == NULL)
		return (CST_ECORRUPT);
	if ((rc = cst_certs_verify(cp->certs, cp->epoch, root)) != 0)
		return (rc);
	if ((msg = malloc(sizeof(CST_D_CHECKPOINT) + cp->body_len)) == NULL)
		return (CST_ENOMEM);
	memcpy(msg, CST_D_CHECKPOINT, sizeof(CST_D_CHECKPOINT));
	memcpy(msg + sizeof(CST_D_CHECKPOINT), cp->body, cp->body_len);
	rc = crypto_sign_verify_detached(cp->sig, msg,
	    sizeof(CST_D_CHECKPOINT) + cp->body_len,
	    cp->certs[cp->epoch - 1].public_key) == 0 ? 0 : CST_ESIG;
	free(msg);
	return (rc);
}

void
cst_checkpoint_close(cst_checkpoint *cp)
{

	free(cp->certs);
	free(cp->body);
	memset(cp, 0, sizeof(*cp));
}
