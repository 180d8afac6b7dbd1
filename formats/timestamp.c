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
#include <openssl/x509v3.h>
#include <sodium.h>

#include "custody/error.h"
#include "custody/segment.h"
#include "custody/timestamp.h"

struct cst_ts_trust {
	X509_STORE *store;
	STACK_OF(X509_CRL) *crlsk; /* the CRLs given, also in store; any
	                              makes R-TSA-9 apply */
	char **crl_from;        /* the file each of crlsk came from */
	unsigned char *crl_used; /* each verified with a chain's key */
	int64_t crl_time_ns;    /* when a CRL must be current; 0: now */
	X509_STORE_CTX_check_crl_fn check_crl; /* OpenSSL's own */
};

/* One revocation check (R-TSA-9), the verify context's app data. */
struct revstate {
	X509_STORE_CTX_check_crl_fn check_crl; /* OpenSSL's own */
	STACK_OF(X509_CRL) *crlsk; /* every CRL given */
	int64_t gen_s;          /* the token's genTime, seconds */
	int revoked;            /* a certificate of the chain is revoked */
	int unknown;            /* the status of one could not be told */
	char why[CST_TS_WHY_LEN];
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

/* An X509 name as RFC 2253 text, printable ASCII, into out[0..n). */
static void
name_text(const X509_NAME *nm, char *out, size_t n)
{
	char buf[512];
	BIO *mem;
	int len;

	snprintf(out, n, "(unnamed)");
	if (nm == NULL || (mem = BIO_new(BIO_s_mem())) == NULL)
		return;
	if (X509_NAME_print_ex(mem, nm, 0, XN_FLAG_RFC2253) >= 0 &&
	    (len = BIO_read(mem, buf, (int)sizeof(buf))) > 0)
		printable((const unsigned char *)buf, (size_t)len, out, n);
	BIO_free(mem);
}

/* An ASN1_TIME as seconds since 1970 and as ISO 8601 text.  0 or -1. */
static int
asn1_time(const ASN1_TIME *a, int64_t *s, char out[24])
{
	struct tm tm;
	time_t t;

	if (a == NULL || !ASN1_TIME_to_tm(a, &tm) || (t = timegm(&tm)) ==
	    (time_t)-1) {
		snprintf(out, 24, "(unreadable)");
		return (-1);
	}
	*s = (int64_t)t;
	strftime(out, 24, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return (0);
}

/* RFC 5280 section 5.3.1's name of a CRLReason, from code r. */
static const char *
crl_reason(long r)
{
	static const char *names[] = { "unspecified", "keyCompromise",
	    "cACompromise", "affiliationChanged", "superseded",
	    "cessationOfOperation", "certificateHold", "(7, unassigned)",
	    "removeFromCRL", "privilegeWithdrawn", "aACompromise" };

	if (r < 0)
		return ("none stated");
	if ((size_t)r >= sizeof(names) / sizeof(names[0]))
		return ("(not a CRLReason)");
	return (names[r]);
}

/* Certificate x, depth deep in the chain, as "the TSA certificate ...". */
static void
cert_text(X509 *x, int depth, char *out, size_t n)
{
	char name[256], serial[80] = "?";
	BIGNUM *bn;
	char *hex;

	name_text(x != NULL ? X509_get_subject_name(x) : NULL, name,
	    sizeof(name));
	if (x != NULL && (bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x),
	    NULL)) != NULL) {
		if ((hex = BN_bn2hex(bn)) != NULL) {
			snprintf(serial, sizeof(serial), "%s", hex);
			OPENSSL_free(hex);
		}
		BN_free(bn);
	}
	snprintf(out, n, "%s \"%s\" (serial %s)", depth == 0 ?
	    "the TSA certificate" : "the CA certificate", name, serial);
}

/* R-TSA-9: names the revocation of x (depth deep) by crl. */
static void
revoked_why(X509 *x, int depth, X509_CRL *crl, struct revstate *st)
{
	X509_REVOKED *rev = NULL;
	ASN1_ENUMERATED *re;
	char who[360], issuer[256], when[24], gen[24];
	int64_t rs = 0;
	long reason = -1;
	time_t gt = (time_t)st->gen_s;
	struct tm tm;

	st->revoked = 1;
	cert_text(x, depth, who, sizeof(who));
	name_text(crl != NULL ? X509_CRL_get_issuer(crl) : NULL, issuer,
	    sizeof(issuer));
	if (crl != NULL && x != NULL && X509_CRL_get0_by_cert(crl, &rev, x) ==
	    1 && rev != NULL) {
		(void)asn1_time(X509_REVOKED_get0_revocationDate(rev), &rs,
		    when);
		if ((re = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, NULL,
		    NULL)) != NULL) {
			reason = ASN1_ENUMERATED_get(re);
			ASN1_ENUMERATED_free(re);
		}
	} else {
		snprintf(when, sizeof(when), "(not read)");
	}
	gmtime_r(&gt, &tm);
	strftime(gen, sizeof(gen), "%Y-%m-%dT%H:%M:%SZ", &tm);
	setwhy(st->why, "%s is revoked by the CRL of \"%s\": since %s, "
	    "%s the token's genTime %s, reason %s; a token signed under a "
	    "revoked certificate proves nothing, whenever it was revoked "
	    "(R-TSA-9)", who, issuer, when, rs > st->gen_s ? "after" :
	    rs < st->gen_s ? "before" : "in the same second as", gen,
	    crl_reason(reason));
	ERR_clear_error();
}

/*
 * R-TSA-9: a revocation in any CRL given whose signature holds, not
 * only in the one per issuer that OpenSSL's check chose; marks each CRL
 * that verifies with the key of a certificate of the chain as used.
 */
static void
scan_crls(X509_STORE_CTX *ctx, cst_ts_trust *t, struct revstate *st)
{
	STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);
	X509_REVOKED *rev;
	X509_CRL *c;
	EVP_PKEY *k;
	X509 *x, *iss;
	int i, j, n = chain != NULL ? sk_X509_num(chain) : 0;

	for (i = 0; i < n; i++) {
		x = sk_X509_value(chain, i);
		iss = i + 1 < n ? sk_X509_value(chain, i + 1) : x;
		/* The top one's issuer is known only when it is itself. */
		if (iss == x && X509_check_issued(x, x) != X509_V_OK)
			continue;
		if ((k = X509_get0_pubkey(iss)) == NULL)
			continue;
		for (j = 0; j < sk_X509_CRL_num(t->crlsk); j++) {
			c = sk_X509_CRL_value(t->crlsk, j);
			if (X509_NAME_cmp(X509_CRL_get_issuer(c),
			    X509_get_issuer_name(x)) != 0 ||
			    X509_CRL_verify(c, k) != 1)
				continue;
			t->crl_used[j] = 1;
			/* 2 is removeFromCRL, which un-revokes (RFC 5280). */
			if (!st->revoked &&
			    X509_CRL_get0_by_cert(c, &rev, x) == 1)
				revoked_why(x, i, c, st);
		}
	}
	ERR_clear_error();
}

/*
 * How many CRLs given name the issuer of the certificate ctx is at, and
 * how many of those verify with that issuer's key (the next certificate
 * of the chain, or a self-issued one's own).
 */
static void
crls_named(X509_STORE_CTX *ctx, const struct revstate *st, int *named,
    int *authentic)
{
	STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);
	X509 *x = X509_STORE_CTX_get_current_cert(ctx), *iss = NULL;
	int d = X509_STORE_CTX_get_error_depth(ctx), i;
	EVP_PKEY *k = NULL;
	X509_CRL *c;

	*named = *authentic = 0;
	if (x == NULL)
		return;
	if (chain != NULL && d + 1 < sk_X509_num(chain))
		iss = sk_X509_value(chain, d + 1);
	else if (X509_check_issued(x, x) == X509_V_OK)
		iss = x;
	if (iss != NULL)
		k = X509_get0_pubkey(iss);
	for (i = 0; i < sk_X509_CRL_num(st->crlsk); i++) {
		c = sk_X509_CRL_value(st->crlsk, i);
		if (X509_NAME_cmp(X509_CRL_get_issuer(c),
		    X509_get_issuer_name(x)) != 0)
			continue;
		(*named)++;
		if (k != NULL && X509_CRL_verify(c, k) == 1)
			(*authentic)++;
	}
	ERR_clear_error();
}

/* R-TSA-9: why the status of the certificate ctx is at is unknown. */
static void
unknown_why(X509_STORE_CTX *ctx, struct revstate *st, int e)
{
	X509 *x = X509_STORE_CTX_get_current_cert(ctx);
	char who[360], issuer[256];
	int named, authentic;

	st->unknown = 1;
	if (st->why[0] != '\0')
		return;
	cert_text(x, X509_STORE_CTX_get_error_depth(ctx), who, sizeof(who));
	name_text(x != NULL ? X509_get_issuer_name(x) : NULL, issuer,
	    sizeof(issuer));
	switch (e) {
	case X509_V_ERR_UNABLE_TO_GET_CRL:
		crls_named(ctx, st, &named, &authentic);
		if (named == 0)
			setwhy(st->why, "the revocation status of %s is "
			    "unknown: no CRL of its issuer \"%s\" was given "
			    "(R-TSA-9)", who, issuer);
		else if (authentic == 0)
			setwhy(st->why, "the revocation status of %s is "
			    "unknown: the %d CRL(s) given in the name of its "
			    "issuer \"%s\" do not verify with that issuer's "
			    "key, so they are forged or another CA's (R-TSA-9)",
			    who, named, issuer);
		else
			setwhy(st->why, "the revocation status of %s is "
			    "unknown: none of the %d CRL(s) of its issuer "
			    "\"%s\" given is a complete CRL for it with a "
			    "nextUpdate (a delta CRL, one without nextUpdate, "
			    "an indirect or partial one cannot show that "
			    "nothing is revoked) (R-TSA-9)", who, authentic,
			    issuer);
		break;
	case X509_V_ERR_CRL_SIGNATURE_FAILURE:
		setwhy(st->why, "the revocation status of %s is unknown: the "
		    "CRL given in the name of \"%s\" does not verify with "
		    "that issuer's key, so it is forged or another CA's "
		    "(R-TSA-9)", who, issuer);
		break;
	case X509_V_ERR_CRL_HAS_EXPIRED:
		setwhy(st->why, "the revocation status of %s is unknown: the "
		    "CRL of \"%s\" given is out of date (its nextUpdate has "
		    "passed), and a newer one may list it (R-TSA-9)", who,
		    issuer);
		break;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
		setwhy(st->why, "the revocation status of %s is unknown: its "
		    "chain does not reach a self-signed CA given with "
		    "--tsa-cert, so the status of every certificate in it "
		    "cannot be told (R-TSA-9)", who);
		break;
	case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
		setwhy(st->why, "the revocation status of %s is unknown: "
		    "the certificate of its issuer \"%s\", needed to check a "
		    "CRL, was not given (give the CA with --tsa-cert) "
		    "(R-TSA-9)", who, issuer);
		break;
	default:
		setwhy(st->why, "the revocation status of %s is unknown: %s "
		    "(CRL of \"%s\", R-TSA-9)", who,
		    X509_verify_cert_error_string(e), issuer);
	}
	ERR_clear_error();
}

/*
 * The verify callback of a revocation check: certificate validity was
 * judged at genTime (R-TSA-5 c), so it is not judged again; an
 * authentic CRL that is out of date still names what it revokes.
 */
static int
rev_cb(int ok, X509_STORE_CTX *ctx)
{
	struct revstate *st = X509_STORE_CTX_get_app_data(ctx);
	int e = X509_STORE_CTX_get_error(ctx);

	if (ok || st == NULL)
		return (ok);
	switch (e) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return (1);
	case X509_V_ERR_CERT_REVOKED:
		revoked_why(X509_STORE_CTX_get_current_cert(ctx),
		    X509_STORE_CTX_get_error_depth(ctx),
		    X509_STORE_CTX_get0_current_crl(ctx), st);
		return (0);
	case X509_V_ERR_UNABLE_TO_GET_CRL:
	case X509_V_ERR_CRL_HAS_EXPIRED:
	case X509_V_ERR_CRL_NOT_YET_VALID:
		/* Reached only after the CRL's signature held. */
		unknown_why(ctx, st, e);
		return (1);
	default:
		/* Above all a CRL whose signature fails: not read further. */
		unknown_why(ctx, st, e);
		return (0);
	}
}

/*
 * OpenSSL's check of a CRL (signature, currency), then R-TSA-9's own: a
 * CRL issued before genTime cannot show the key was sound at genTime.
 */
static int
crl_fresh(X509_STORE_CTX *ctx, X509_CRL *crl)
{
	struct revstate *st = X509_STORE_CTX_get_app_data(ctx);
	char issuer[256], when[24];
	int64_t last = 0;

	/* Only a revocation check asks; anything else fails closed. */
	if (st == NULL)
		return (0);
	if (!st->check_crl(ctx, crl))
		return (0);
	if (asn1_time(X509_CRL_get0_lastUpdate(crl), &last, when) != 0 ||
	    last < st->gen_s) {
		if (!st->unknown && !st->revoked) {
			name_text(X509_CRL_get_issuer(crl), issuer,
			    sizeof(issuer));
			setwhy(st->why, "the revocation status at genTime is "
			    "unknown: the CRL of \"%s\" taken (the newest "
			    "current complete one given whose signature holds) "
			    "was issued %s, before the token's genTime, so it "
			    "cannot show the key was not compromised by then "
			    "(R-TSA-9)", issuer, when);
		}
		st->unknown = 1;
	}
	return (1);
}

int
cst_ts_trust_new(cst_ts_trust **out)
{
	X509_STORE_CTX *ctx;
	cst_ts_trust *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return (CST_ENOMEM);
	if ((t->store = X509_STORE_new()) == NULL ||
	    (t->crlsk = sk_X509_CRL_new_null()) == NULL ||
	    (ctx = X509_STORE_CTX_new()) == NULL)
		goto err0;
	/*
	 * OpenSSL's own CRL check, which crl_fresh wraps: a context of a
	 * store without a hook of its own holds it.
	 */
	if (!X509_STORE_CTX_init(ctx, t->store, NULL, NULL)) {
		X509_STORE_CTX_free(ctx);
		goto err0;
	}
	t->check_crl = X509_STORE_CTX_get_check_crl(ctx);
	X509_STORE_CTX_free(ctx);
	if (t->check_crl == NULL)
		goto err0;
	X509_STORE_set_check_crl(t->store, crl_fresh);
	/* A TSA certificate given directly is an anchor, not self-signed. */
	X509_STORE_set_flags(t->store, X509_V_FLAG_PARTIAL_CHAIN);
	*out = t;
	return (0);
err0:
	sk_X509_CRL_free(t->crlsk);
	X509_STORE_free(t->store);
	free(t);
	ERR_clear_error();
	return (CST_ENOMEM);
}

void
cst_ts_trust_set_crl_time(cst_ts_trust *t, int64_t ns)
{

	t->crl_time_ns = ns;
}

void
cst_ts_trust_free(cst_ts_trust *t)
{
	int i;

	if (t == NULL)
		return;
	for (i = 0; i < sk_X509_CRL_num(t->crlsk); i++)
		free(t->crl_from[i]);
	free(t->crl_from);
	free(t->crl_used);
	sk_X509_CRL_pop_free(t->crlsk, X509_CRL_free);
	X509_STORE_free(t->store);
	free(t);
}

/*
 * After a PEM read loop has taken n objects of kind from name: 0 when it
 * stopped at the end of the file, else CST_EPARSE with err saying why.
 * A block that cannot be read must not hide the ones after it: a CRL
 * after it could revoke what the ones before leave unrevoked.
 */
static int
pem_end(const char *name, int n, const char *kind, char *err)
{
	char reason[160];
	unsigned long e = ERR_peek_last_error();

	if (e == 0 || (ERR_GET_LIB(e) == ERR_LIB_PEM &&
	    ERR_GET_REASON(e) == PEM_R_NO_START_LINE)) {
		ERR_clear_error();
		return (0);
	}
	ossl_reason(reason, sizeof(reason));
	setwhy(err, "%s: a PEM block after %d %s%s cannot be read, so the "
	    "file is not used: %s", name, n, kind, n == 1 ? "" : "s", reason);
	return (CST_EPARSE);
}

/* Adds every PEM certificate bio holds; name says where, in err. */
static int
add_bio(cst_ts_trust *t, BIO *bio, const char *name, char *err)
{
	char reason[160];
	X509 *x;
	int n = 0, rc;

	ERR_clear_error();
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
	if ((rc = pem_end(name, n, "certificate", err)) != 0)
		return (rc);
	if (n == 0) {
		setwhy(err, "%s: no PEM certificate in it", name);
		return (CST_EPARSE);
	}
	return (0);
}

/*
 * Opens path, a file the investigator named, as a BIO: never a FIFO that
 * hangs the read (cst_file_open_named).  Returns 0 with *bio to free, or
 * a code with err saying why.
 */
static int
open_named_bio(const char *path, BIO **bio, char *err)
{
	FILE *f;
	int rc;

	if ((rc = cst_file_open_named(path, "r", &f)) != 0) {
		setwhy(err, "%s: %s", path, cst_file_why(rc));
		return (rc);
	}
	if ((*bio = BIO_new_fp(f, BIO_CLOSE)) == NULL) {
		fclose(f);
		setwhy(err, "%s: out of memory", path);
		ERR_clear_error();
		return (CST_ENOMEM);
	}
	return (0);
}

int
cst_ts_trust_add_file(cst_ts_trust *t, const char *path,
    char err[CST_TS_WHY_LEN])
{
	BIO *bio;
	int rc;

	if ((rc = open_named_bio(path, &bio, err)) != 0)
		return (rc);
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
 * R-TSA-9 (c): whether crl can show a certificate is not revoked.  A
 * delta CRL lists only what changed since its base CRL (and OpenSSL's
 * check would take it for a complete one); a CRL without nextUpdate
 * never says when it stops being current (RFC 5280 section 5.1.2.5
 * makes the field mandatory).  Either still revokes what it lists.
 */
static int
crl_may_cover(const X509_CRL *crl)
{

	return (X509_CRL_get0_nextUpdate(crl) != NULL &&
	    X509_CRL_get_ext_by_NID(crl, NID_delta_crl, -1) < 0);
}

/*
 * Makes room for one more CRL from the file name in t's parallel arrays:
 * crl_from[k] and crl_used[k], k the stack's size.  0 or CST_ENOMEM.
 */
static int
crl_note(cst_ts_trust *t, const char *name)
{
	size_t k = (size_t)sk_X509_CRL_num(t->crlsk);
	unsigned char *u;
	char **f;

	if ((f = realloc(t->crl_from, (k + 1) * sizeof(*f))) == NULL)
		return (CST_ENOMEM);
	t->crl_from = f;
	if ((u = realloc(t->crl_used, k + 1)) == NULL)
		return (CST_ENOMEM);
	t->crl_used = u;
	if ((f[k] = strdup(name)) == NULL)
		return (CST_ENOMEM);
	u[k] = 0;
	return (0);
}

/*
 * Adds every PEM CRL bio holds; name says where, in err.  Each is in
 * crlsk, where its revocations count; only one that may cover
 * (crl_may_cover) is in the store, where OpenSSL's check chooses one
 * per issuer to show that nothing is revoked.
 */
static int
add_crl_bio(cst_ts_trust *t, BIO *bio, const char *name, char *err)
{
	char reason[160];
	X509_CRL *c;
	int n = 0, rc;

	ERR_clear_error();
	while ((c = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL)) != NULL) {
		if (crl_note(t, name) != 0) {
			X509_CRL_free(c);
			setwhy(err, "%s: out of memory", name);
			return (CST_ENOMEM);
		}
		if (crl_may_cover(c) && !X509_STORE_add_crl(t->store, c)) {
			free(t->crl_from[sk_X509_CRL_num(t->crlsk)]);
			X509_CRL_free(c);
			ossl_reason(reason, sizeof(reason));
			setwhy(err, "%s: %s", name, reason);
			return (CST_ENOMEM);
		}
		/* The store took a reference of its own; the stack takes c's. */
		if (!sk_X509_CRL_push(t->crlsk, c)) {
			free(t->crl_from[sk_X509_CRL_num(t->crlsk)]);
			X509_CRL_free(c);
			setwhy(err, "%s: out of memory", name);
			ERR_clear_error();
			return (CST_ENOMEM);
		}
		n++;
	}
	if ((rc = pem_end(name, n, "CRL", err)) != 0)
		return (rc);
	if (n == 0) {
		setwhy(err, "%s: no PEM CRL (X509 CRL) in it", name);
		return (CST_EPARSE);
	}
	return (0);
}

int
cst_ts_trust_add_crl_file(cst_ts_trust *t, const char *path,
    char err[CST_TS_WHY_LEN])
{
	BIO *bio;
	int rc;

	if ((rc = open_named_bio(path, &bio, err)) != 0)
		return (rc);
	rc = add_crl_bio(t, bio, path, err);
	BIO_free(bio);
	return (rc);
}

size_t
cst_ts_trust_crl_count(const cst_ts_trust *t)
{

	return ((size_t)sk_X509_CRL_num(t->crlsk));
}

int
cst_ts_trust_crl_unused(const cst_ts_trust *t, size_t i, const char **file,
    char what[CST_TS_WHY_LEN])
{
	X509_CRL *c;
	char issuer[256], when[24];
	int64_t s;

	if (i >= cst_ts_trust_crl_count(t) || t->crl_used[i])
		return (0);
	c = sk_X509_CRL_value(t->crlsk, (int)i);
	*file = t->crl_from[i];
	name_text(X509_CRL_get_issuer(c), issuer, sizeof(issuer));
	(void)asn1_time(X509_CRL_get0_lastUpdate(c), &s, when);
	setwhy(what, "the CRL in the name of \"%s\" issued %s", issuer, when);
	ERR_clear_error();
	return (1);
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
    cst_ts_info *info, X509 **signerp, char *why)
{
	X509_VERIFY_PARAM *param = X509_STORE_get0_param(trust->store);
	char reason[160];
	X509 *signer = NULL;

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
	name_text(X509_get_subject_name(signer), info->tsa, sizeof(info->tsa));
	*signerp = signer;
	return (0);
}

/*
 * R-TSA-9: every certificate of the signer's chain, up to a self-signed
 * CA given, against the CRLs given, which must be current at the CRL
 * time and issued no earlier than genTime.
 */
static int
check_revocation(TS_RESP *resp, X509 *signer, cst_ts_trust *t,
    int64_t gen_ns, cst_ts_info *info, char *why)
{
	PKCS7 *tok = TS_RESP_get_token(resp);
	X509_VERIFY_PARAM *param;
	X509_STORE_CTX *ctx;
	struct revstate st;
	int64_t now;
	int ok;

	memset(&st, 0, sizeof(st));
	st.check_crl = t->check_crl;
	st.crlsk = t->crlsk;
	st.gen_s = gen_ns / 1000000000;
	if ((ctx = X509_STORE_CTX_new()) == NULL)
		return (CST_ENOMEM);
	if (!X509_STORE_CTX_init(ctx, t->store, signer,
	    PKCS7_type_is_signed(tok) ? tok->d.sign->cert : NULL)) {
		X509_STORE_CTX_free(ctx);
		return (CST_ENOMEM);
	}
	X509_STORE_CTX_set_app_data(ctx, &st);
	X509_STORE_CTX_set_verify_cb(ctx, rev_cb);
	param = X509_STORE_CTX_get0_param(ctx);
	/*
	 * Up to a self-signed CA given: a chain that stops at a certificate
	 * given below it leaves that certificate's own status untold.
	 */
	X509_VERIFY_PARAM_clear_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
	X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_CRL_CHECK |
	    X509_V_FLAG_CRL_CHECK_ALL);
	now = t->crl_time_ns > 0 ? t->crl_time_ns / 1000000000 :
	    (int64_t)time(NULL);
	X509_VERIFY_PARAM_set_time(param, (time_t)now);
	ok = X509_verify_cert(ctx);
	scan_crls(ctx, t, &st);
	if (st.revoked) {
		info->revocation = CST_TS_REV_REVOKED;
		memcpy(why, st.why, CST_TS_WHY_LEN);
	} else if (ok != 1 || st.unknown) {
		info->revocation = CST_TS_REV_UNKNOWN;
		if (st.why[0] == '\0')
			setwhy(st.why, "the revocation status of the TSA's "
			    "chain is unknown: %s (R-TSA-9)",
			    X509_verify_cert_error_string(
			    X509_STORE_CTX_get_error(ctx)));
		memcpy(info->revocation_why, st.why, CST_TS_WHY_LEN);
	} else {
		info->revocation = CST_TS_REV_GOOD;
	}
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	return (info->revocation == CST_TS_REV_REVOKED ? CST_ESIG : 0);
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
	X509 *signer = NULL;
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
	if (trust != NULL) {
		if ((rc = check_signature(resp, trust, info->gen_time_ns, info,
		    &signer, why)) != 0)
			goto err2;
		if (sk_X509_CRL_num(trust->crlsk) > 0 &&
		    (rc = check_revocation(resp, signer, trust,
		    info->gen_time_ns, info, why)) != 0)
			goto err2;
	}
	rc = 0;
err2:
	X509_free(signer);
	ASN1_INTEGER_free(want);
err1:
	TS_RESP_free(resp);
err0:
	ERR_clear_error();
	return (rc);
}
