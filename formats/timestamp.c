/*
 * RFC 3161 requests and the checks of responses (SPEC section 15).
 *
 * Every response is hostile: it is parsed by OpenSSL's DER decoder with
 * its length checked first, and nothing of it is trusted before the
 * checks below; the TSA's texts are reduced to printable ASCII before
 * they reach a message.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/ts.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <sodium.h>

#include "custody/error.h"
#include "custody/segment.h"
#include "custody/timestamp.h"

struct cst_ts_trust {
	X509_STORE *store;
};

/* A reason into why (CST_TS_WHY_LEN); a long one is cut short. */
static void
setwhy(char *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
setwhy(char *why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, CST_TS_WHY_LEN, fmt, ap);
	va_end(ap);
}

/* Copies s[0..len) to out as printable ASCII (others as '?'). */
static void
printable(const unsigned char *s, size_t len, char *out, size_t n)
{
	size_t i, j = 0;

	for (i = 0; i < len && j + 1 < n; i++)
		out[j++] = s[i] >= 0x20 && s[i] < 0x7f ? (char)s[i] : '?';
	out[j] = '\0';
}

/* Text of OpenSSL's newest error, for a reason; clears the queue. */
static void
ossl_reason(char *out, size_t n)
{
	const char *data = NULL;
	unsigned long e;
	size_t len;
	int flags = 0;

	if ((e = ERR_peek_last_error_data(&data, &flags)) == 0) {
		snprintf(out, n, "no detail");
	} else {
		ERR_error_string_n(e, out, n);
		/* The certificate check says why in the error's data. */
		len = strlen(out);
		if ((flags & ERR_TXT_STRING) && data != NULL &&
		    data[0] != '\0' && len + 3 < n) {
			out[len] = ':';
			printable((const unsigned char *)data, strlen(data),
			    out + len + 1, n - len - 1);
		}
	}
	ERR_clear_error();
}

static ASN1_INTEGER *
nonce_int(const uint8_t nonce[CST_TS_NONCE_LEN])
{
	ASN1_INTEGER *ai;
	BIGNUM *bn;

	if ((bn = BN_bin2bn(nonce, CST_TS_NONCE_LEN, NULL)) == NULL)
		return (NULL);
	ai = BN_to_ASN1_INTEGER(bn, NULL);
	BN_free(bn);
	return (ai);
}

int
cst_ts_request(const uint8_t digest[CST_TS_DIGEST_LEN],
    uint8_t nonce[CST_TS_NONCE_LEN], cst_buf *out)
{
	TS_REQ *req = NULL;
	TS_MSG_IMPRINT *mi = NULL;
	X509_ALGOR *alg = NULL;
	ASN1_INTEGER *ni = NULL;
	unsigned char *der = NULL;
	int len, rc = CST_ENOMEM;

	randombytes_buf(nonce, CST_TS_NONCE_LEN);
	/* A leading zero byte would encode shorter: keep all 16 bytes. */
	nonce[0] |= 0x01;
	if ((req = TS_REQ_new()) == NULL || !TS_REQ_set_version(req, 1) ||
	    (mi = TS_MSG_IMPRINT_new()) == NULL ||
	    (alg = X509_ALGOR_new()) == NULL)
		goto err0;
	if (!X509_ALGOR_set0(alg, OBJ_nid2obj(NID_sha256), V_ASN1_NULL,
	    NULL) || !TS_MSG_IMPRINT_set_algo(mi, alg) ||
	    !TS_MSG_IMPRINT_set_msg(mi, (unsigned char *)(uintptr_t)digest,
	    CST_TS_DIGEST_LEN) || !TS_REQ_set_msg_imprint(req, mi) ||
	    (ni = nonce_int(nonce)) == NULL || !TS_REQ_set_nonce(req, ni) ||
	    !TS_REQ_set_cert_req(req, 1))
		goto err0;
	if ((len = i2d_TS_REQ(req, &der)) <= 0)
		goto err0;
	rc = cst_buf_append(out, der, (size_t)len);
	OPENSSL_free(der);
err0:
	ASN1_INTEGER_free(ni);
	X509_ALGOR_free(alg);
	TS_MSG_IMPRINT_free(mi);
	TS_REQ_free(req);
	ERR_clear_error();
	return (rc);
}

int
cst_ts_trust_new(cst_ts_trust **out)
{
	cst_ts_trust *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return (CST_ENOMEM);
	if ((t->store = X509_STORE_new()) == NULL) {
		free(t);
		return (CST_ENOMEM);
	}
	/* A TSA certificate given directly is an anchor, not self-signed. */
	X509_STORE_set_flags(t->store, X509_V_FLAG_PARTIAL_CHAIN);
	*out = t;
	return (0);
}

void
cst_ts_trust_free(cst_ts_trust *t)
{

	if (t == NULL)
		return;
	X509_STORE_free(t->store);
	free(t);
}

/* Adds every PEM certificate bio holds; name says where, in err. */
static int
add_bio(cst_ts_trust *t, BIO *bio, const char *name, char *err)
{
	char reason[160];
	X509 *x;
	int n = 0;

	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (!X509_STORE_add_cert(t->store, x)) {
			X509_free(x);
			ossl_reason(reason, sizeof(reason));
			setwhy(err, "%s: %s", name, reason);
			return (CST_ENOMEM);
		}
		X509_free(x);
		n++;
	}
	ERR_clear_error();
	if (n == 0) {
		setwhy(err, "%s: no PEM certificate in it", name);
		return (CST_EPARSE);
	}
	return (0);
}

int
cst_ts_trust_add_file(cst_ts_trust *t, const char *path,
    char err[CST_TS_WHY_LEN])
{
	BIO *bio;
	FILE *f;
	int rc;

	/* A file the investigator named: never a FIFO that hangs the read. */
	if ((rc = cst_file_open_named(path, "r", &f)) != 0) {
		setwhy(err, "%s: %s", path, cst_file_why(rc));
		return (rc);
	}
	if ((bio = BIO_new_fp(f, BIO_CLOSE)) == NULL) {
		fclose(f);
		setwhy(err, "%s: out of memory", path);
		ERR_clear_error();
		return (CST_ENOMEM);
	}
	rc = add_bio(t, bio, path, err);
	BIO_free(bio);
	return (rc);
}

int
cst_ts_trust_add_pem(cst_ts_trust *t, const char *pem, size_t len,
    char err[CST_TS_WHY_LEN])
{
	BIO *bio;
	int rc;

	if (len > INT32_MAX || (bio = BIO_new_mem_buf(pem, (int)len)) ==
	    NULL) {
		setwhy(err, "%s", cst_strerror(CST_ENOMEM));
		return (CST_ENOMEM);
	}
	rc = add_bio(t, bio, "PEM text", err);
	BIO_free(bio);
	return (rc);
}

/*
 * genTime (DER GeneralizedTime: YYYYMMDDHHMMSS[.f...]Z) to UTC ns.
 * Returns 0 or -1.
 */
static int
gen_time_ns(const ASN1_GENERALIZEDTIME *t, int64_t *out)
{
	const unsigned char *s = ASN1_STRING_get0_data(t);
	int len = ASN1_STRING_length(t), i, v[6], w[6] = { 4, 2, 2, 2, 2, 2 };
	int64_t frac = 0, scale = 1000000000;
	struct tm tm;
	time_t sec;
	int k = 0;

	for (i = 0; i < 6; i++) {
		int d;

		v[i] = 0;
		for (d = 0; d < w[i]; d++, k++) {
			if (k >= len || s[k] < '0' || s[k] > '9')
				return (-1);
			v[i] = v[i] * 10 + (s[k] - '0');
		}
	}
	if (k < len && s[k] == '.') {
		for (k++, i = 0; k < len && s[k] >= '0' && s[k] <= '9'; k++,
		    i++)
			if (i < 9) {
				scale /= 10;
				frac += (s[k] - '0') * scale;
			}
		if (i == 0)
			return (-1);
	}
	if (k + 1 != len || s[k] != 'Z' || v[0] < 1970 || v[1] < 1 ||
	    v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 || v[4] > 59 ||
	    v[5] > 60)
		return (-1);
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = v[0] - 1900;
	tm.tm_mon = v[1] - 1;
	tm.tm_mday = v[2];
	tm.tm_hour = v[3];
	tm.tm_min = v[4];
	tm.tm_sec = v[5];
	if ((sec = timegm(&tm)) == (time_t)-1 || sec > INT64_MAX / 1000000000 -
	    1)
		return (-1);
	*out = (int64_t)sec * 1000000000 + frac;
	return (0);
}

/* An ASN1_INTEGER that fits, as an int64_t; else -1. */
static int64_t
small_int(const ASN1_INTEGER *a, int64_t max)
{
	int64_t v;

	if (a == NULL)
		return (0);
	if (!ASN1_INTEGER_get_int64(&v, a) || v < 0 || v > max)
		return (-1);
	return (v);
}

static int64_t
accuracy_ns(TS_TST_INFO *tst)
{
	TS_ACCURACY *a = TS_TST_INFO_get_accuracy(tst);
	int64_t s, ms, us;

	if (a == NULL)
		return (-1);
	s = small_int(TS_ACCURACY_get_seconds(a), INT64_C(1) << 32);
	ms = small_int(TS_ACCURACY_get_millis(a), 999);
	us = small_int(TS_ACCURACY_get_micros(a), 999);
	if (s < 0 || ms < 0 || us < 0)
		return (-1);
	return (s * 1000000000 + ms * 1000000 + us * 1000);
}

/* The status, its text and failure bits, for a refused response. */
static void
status_reason(TS_STATUS_INFO *si, int status, char *why)
{
	static const struct { int bit; const char *name; } fails[] = {
		{ TS_INFO_BAD_ALG, "badAlg" },
		{ TS_INFO_BAD_REQUEST, "badRequest" },
		{ TS_INFO_BAD_DATA_FORMAT, "badDataFormat" },
		{ TS_INFO_TIME_NOT_AVAILABLE, "timeNotAvailable" },
		{ TS_INFO_UNACCEPTED_POLICY, "unacceptedPolicy" },
		{ TS_INFO_UNACCEPTED_EXTENSION, "unacceptedExtension" },
		{ TS_INFO_ADD_INFO_NOT_AVAILABLE, "addInfoNotAvailable" },
		{ TS_INFO_SYSTEM_FAILURE, "systemFailure" },
	};
	const STACK_OF(ASN1_UTF8STRING) *texts;
	const ASN1_BIT_STRING *fi;
	char text[128] = "", bits[128] = "";
	size_t i, n;

	if ((texts = TS_STATUS_INFO_get0_text(si)) != NULL &&
	    sk_ASN1_UTF8STRING_num(texts) > 0) {
		const ASN1_UTF8STRING *u = sk_ASN1_UTF8STRING_value(texts, 0);

		printable(ASN1_STRING_get0_data(u),
		    (size_t)ASN1_STRING_length(u), text, sizeof(text));
	}
	if ((fi = TS_STATUS_INFO_get0_failure_info(si)) != NULL)
		for (i = 0; i < sizeof(fails) / sizeof(fails[0]); i++)
			if (ASN1_BIT_STRING_get_bit(fi, fails[i].bit)) {
				n = strlen(bits);
				snprintf(bits + n, sizeof(bits) - n, "%s%s",
				    n > 0 ? "," : "", fails[i].name);
			}
	setwhy(why, "the TSA did not grant a token: status "
	    "%d%s%s%s%s%s", status, text[0] != '\0' ? ", \"" : "", text,
	    text[0] != '\0' ? "\"" : "", bits[0] != '\0' ? ", failure " : "",
	    bits);
}

/* Fills info->serial and info->policy. */
static void
describe(TS_TST_INFO *tst, cst_ts_info *info)
{
	const ASN1_INTEGER *serial = TS_TST_INFO_get_serial(tst);
	ASN1_OBJECT *pol = TS_TST_INFO_get_policy_id(tst);
	int i, len;

	info->serial[0] = '\0';
	if (serial != NULL && (len = ASN1_STRING_length(serial)) > 0 &&
	    (size_t)len * 2 < sizeof(info->serial))
		for (i = 0; i < len; i++)
			snprintf(info->serial + 2 * i, 3, "%02x",
			    ASN1_STRING_get0_data(serial)[i]);
	info->policy[0] = '\0';
	if (pol != NULL && OBJ_obj2txt(info->policy, sizeof(info->policy),
	    pol, 1) <= 0)
		info->policy[0] = '\0';
}

/* R-TSA-5 b: SHA-256, and the digest of the checkpoint's bytes. */
static int
check_imprint(TS_TST_INFO *tst, const uint8_t *digest, char *why)
{
	TS_MSG_IMPRINT *mi = TS_TST_INFO_get_msg_imprint(tst);
	const ASN1_OBJECT *oid;
	ASN1_OCTET_STRING *msg;
	X509_ALGOR *alg;

	if (mi == NULL || (alg = TS_MSG_IMPRINT_get_algo(mi)) == NULL ||
	    (msg = TS_MSG_IMPRINT_get_msg(mi)) == NULL) {
		setwhy(why, "the token has no message "
		    "imprint");
		return (CST_ECORRUPT);
	}
	X509_ALGOR_get0(&oid, NULL, NULL, alg);
	if (OBJ_obj2nid(oid) != NID_sha256) {
		setwhy(why, "the token's message imprint is "
		    "not SHA-256 (R-TSA-5 b)");
		return (CST_EHASH);
	}
	if (ASN1_STRING_length(msg) != CST_TS_DIGEST_LEN ||
	    memcmp(ASN1_STRING_get0_data(msg), digest, CST_TS_DIGEST_LEN) !=
	    0) {
		setwhy(why, "the token covers other bytes: "
		    "its message imprint is not the SHA-256 of this "
		    "checkpoint file (R-TSA-5 b)");
		return (CST_EHASH);
	}
	return (0);
}

/* R-TSA-5 c, at genTime. */
static int
check_signature(TS_RESP *resp, cst_ts_trust *trust, int64_t gen_ns,
    cst_ts_info *info, char *why)
{
	X509_VERIFY_PARAM *param = X509_STORE_get0_param(trust->store);
	char reason[160], name[512];
	X509 *signer = NULL;
	BIO *mem;
	int n;

	X509_VERIFY_PARAM_set_time(param, (time_t)(gen_ns / 1000000000));
	ERR_clear_error();
	if (TS_RESP_verify_signature(TS_RESP_get_token(resp), NULL,
	    trust->store, &signer) != 1) {
		ossl_reason(reason, sizeof(reason));
		setwhy(why, "the token's signature or its "
		    "TSA certificate does not verify against the trusted TSA "
		    "certificates (R-TSA-5 c): %s", reason);
		X509_free(signer);
		return (CST_ESIG);
	}
	if ((mem = BIO_new(BIO_s_mem())) != NULL) {
		if (X509_NAME_print_ex(mem, X509_get_subject_name(signer), 0,
		    XN_FLAG_RFC2253) >= 0 && (n = BIO_read(mem, name,
		    (int)sizeof(name))) > 0)
			printable((const unsigned char *)name, (size_t)n,
			    info->tsa, sizeof(info->tsa));
		BIO_free(mem);
	}
	X509_free(signer);
	return (0);
}

int
cst_ts_check(const uint8_t *der, size_t len,
    const uint8_t digest[CST_TS_DIGEST_LEN], const uint8_t *nonce,
    cst_ts_trust *trust, cst_ts_info *info, char why[CST_TS_WHY_LEN])
{
	const unsigned char *p = der;
	ASN1_INTEGER *want = NULL;
	TS_STATUS_INFO *si;
	TS_TST_INFO *tst;
	TS_RESP *resp = NULL;
	int64_t st;
	int rc = CST_ECORRUPT;

	memset(info, 0, sizeof(*info));
	info->status = -1;
	info->accuracy_ns = -1;
	why[0] = '\0';
	ERR_clear_error();
	if (len == 0 || len > CST_TS_MAX) {
		setwhy(why, "%zu bytes: not a timestamp "
		    "response (1 to %d bytes, R-TSA-1)", len, CST_TS_MAX);
		goto err0;
	}
	if ((resp = d2i_TS_RESP(NULL, &p, (long)len)) == NULL) {
		char reason[160];

		ossl_reason(reason, sizeof(reason));
		setwhy(why, "not a DER TimeStampResp with a "
		    "readable token (R-TSA-1): %s", reason);
		goto err0;
	}
	if (p != der + len) {
		setwhy(why, "%zu bytes after the "
		    "TimeStampResp (R-TSA-1)", len - (size_t)(p - der));
		goto err1;
	}
	si = TS_RESP_get_status_info(resp);
	st = small_int(TS_STATUS_INFO_get0_status(si), 1000);
	info->status = (int)st;
	if (st != TS_STATUS_GRANTED && st != TS_STATUS_GRANTED_WITH_MODS) {
		status_reason(si, (int)st, why);
		goto err1;
	}
	if (TS_RESP_get_token(resp) == NULL ||
	    (tst = TS_RESP_get_tst_info(resp)) == NULL) {
		setwhy(why, "a granted response without a "
		    "token (R-TSA-1)");
		goto err1;
	}
	if (TS_TST_INFO_get_version(tst) != 1) {
		setwhy(why, "TSTInfo version %ld, not 1 "
		    "(R-TSA-1)", TS_TST_INFO_get_version(tst));
		goto err1;
	}
	if (gen_time_ns(TS_TST_INFO_get_time(tst), &info->gen_time_ns) != 0) {
		setwhy(why, "the token's genTime is not a "
		    "DER GeneralizedTime from 1970 on (R-TSA-1)");
		goto err1;
	}
	info->accuracy_ns = accuracy_ns(tst);
	describe(tst, info);
	if ((rc = check_imprint(tst, digest, why)) != 0)
		goto err1;
	if (nonce != NULL) {
		if ((want = nonce_int(nonce)) == NULL) {
			rc = CST_ENOMEM;
			goto err1;
		}
		if (TS_TST_INFO_get_nonce(tst) == NULL ||
		    ASN1_INTEGER_cmp(TS_TST_INFO_get_nonce(tst), want) != 0) {
			setwhy(why, "the token's nonce is not "
			    "the one sent (a replayed or misdirected answer, "
			    "R-TSA-3)");
			rc = CST_ECORRUPT;
			goto err2;
		}
	}
	if (trust != NULL && (rc = check_signature(resp, trust,
	    info->gen_time_ns, info, why)) != 0)
		goto err2;
	rc = 0;
err2:
	ASN1_INTEGER_free(want);
err1:
	TS_RESP_free(resp);
err0:
	ERR_clear_error();
	return (rc);
}
