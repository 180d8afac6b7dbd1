/*
 * The TLS filter (collector/tls.c): whom it accepts and how it names
 * them.  Each case runs a real handshake in memory between an OpenSSL
 * client and a tls_sess, with certificates made here: a CA, the server's,
 * clients' with chosen names.  The allow list's patterns, the CN fallback,
 * fingerprints, a missing certificate, plain text, a key file others can
 * read, and the identity written into tls_peer (R-REC-7).
 */
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "custody/error.h"
#include "custody/hash.h"

#include "conf.h"
#include "tls.h"

static char dir[64];
static char ca_path[96], cert_path[96], key_path[96];
static EVP_PKEY *ca_key;
static X509 *ca_cert;

/* A certificate for cn with DNS names sans ("" for none), by the CA. */
static X509 *
make_cert(EVP_PKEY *k, const char *cn, const char *sans, long days,
    int self_signed)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	X509 *x;

	cr_assert_not_null(x = X509_new());
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), (long)random());
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), days * 86400);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "O", MBSTRING_ASC,
	    (const unsigned char *)"custody test", -1, -1, 0);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
	    MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, self_signed ? X509_get_subject_name(x) :
	    X509_get_subject_name(ca_cert));
	X509_set_pubkey(x, k);
	/* The CA is the only certificate made before ca_cert is set. */
	if (ca_cert == NULL) {
		X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
		cr_assert_not_null(ext = X509V3_EXT_conf_nid(NULL, &v3,
		    NID_basic_constraints, "critical,CA:TRUE"));
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	if (sans[0] != '\0') {
		X509V3_set_ctx(&v3, self_signed ? x : ca_cert, x, NULL, NULL,
		    0);
		cr_assert_not_null(ext = X509V3_EXT_conf_nid(NULL, &v3,
		    NID_subject_alt_name, sans));
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	cr_assert(X509_sign(x, self_signed ? k : ca_key, EVP_sha256()) > 0);
	return (x);
}

static void
write_pem(const char *path, X509 *x, EVP_PKEY *k, mode_t mode)
{
	FILE *f;

	cr_assert_not_null(f = fopen(path, "w"));
	cr_assert(chmod(path, mode) == 0);
	if (x != NULL)
		PEM_write_X509(f, x);
	if (k != NULL)
		PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
	fclose(f);
}

static void
setup(void)
{
	EVP_PKEY *k;
	X509 *x;

	snprintf(dir, sizeof(dir), "/tmp/test_tls.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(ca_path, sizeof(ca_path), "%s/ca.pem", dir);
	snprintf(cert_path, sizeof(cert_path), "%s/server.pem", dir);
	snprintf(key_path, sizeof(key_path), "%s/server.key", dir);
	cr_assert_not_null(ca_key = EVP_EC_gen("P-256"));
	ca_cert = NULL;
	ca_cert = make_cert(ca_key, "custody test CA", "", 2, 1);
	write_pem(ca_path, ca_cert, NULL, 0644);
	cr_assert_not_null(k = EVP_EC_gen("P-256"));
	x = make_cert(k, "localhost", "DNS:localhost", 2, 0);
	write_pem(cert_path, x, NULL, 0644);
	write_pem(key_path, NULL, k, 0600);
	X509_free(x);
	EVP_PKEY_free(k);
}

static void
teardown(void)
{

	unlink(ca_path);
	unlink(cert_path);
	unlink(key_path);
	rmdir(dir);
	X509_free(ca_cert);
	EVP_PKEY_free(ca_key);
}

TestSuite(tls, .init = setup, .fini = teardown);

struct out {
	uint8_t plain[4096];
	size_t nplain;
	uint8_t ct[65536];
	size_t nct;
};

static int
on_plain(void *ctx, const uint8_t *p, size_t len)
{
	struct out *o = ctx;

	cr_assert(o->nplain + len <= sizeof(o->plain));
	memcpy(o->plain + o->nplain, p, len);
	o->nplain += len;
	return (0);
}

static int
on_send(void *ctx, const uint8_t *p, size_t len)
{
	struct out *o = ctx;

	cr_assert(o->nct + len <= sizeof(o->ct));
	memcpy(o->ct + o->nct, p, len);
	o->nct += len;
	return (0);
}

static struct tls_server *
server(const char *const *allow, size_t nallow, int with_ca)
{
	struct tls_server *srv;
	struct conf_tls c;
	char err[TLS_ERR_LEN];
	size_t i;

	memset(&c, 0, sizeof(c));
	c.cert = cert_path;
	c.key = key_path;
	c.ca = with_ca ? ca_path : NULL;
	c.min_version = 12;
	for (i = 0; i < nallow; i++)
		c.allow[i] = (char *)(uintptr_t)allow[i];
	c.nallow = nallow;
	cr_assert_eq(tls_server_new(&c, &srv, err), 0, "%s", err);
	return (srv);
}

/*
 * A client with certificate x and key k (NULL: none) connects to srv and
 * sends "5 hello".  Returns tls_sess_feed's last result; *sp is the
 * session, to free.
 */
static int
connect_client(struct tls_server *srv, X509 *x, EVP_PKEY *k,
    struct out *o, struct tls_sess **sp)
{
	SSL_CTX *cctx;
	SSL *cl;
	BIO *rb, *wb;
	char *p;
	long n;
	int i, rc = 0;

	memset(o, 0, sizeof(*o));
	cr_assert_eq(tls_sess_new(srv, on_plain, on_send, o, sp), 0);
	cr_assert_not_null(cctx = SSL_CTX_new(TLS_client_method()));
	if (x != NULL) {
		cr_assert_eq(SSL_CTX_use_certificate(cctx, x), 1);
		cr_assert_eq(SSL_CTX_use_PrivateKey(cctx, k), 1);
	}
	cr_assert_not_null(cl = SSL_new(cctx));
	rb = BIO_new(BIO_s_mem());
	wb = BIO_new(BIO_s_mem());
	BIO_set_mem_eof_return(rb, -1);
	SSL_set_bio(cl, rb, wb);
	SSL_set_connect_state(cl);
	for (i = 0; i < 6 && rc == 0; i++) {
		if (SSL_is_init_finished(cl))
			(void)SSL_write(cl, "5 hello", 7);
		else
			(void)SSL_do_handshake(cl);
		if ((n = BIO_get_mem_data(wb, &p)) > 0)
			rc = tls_sess_feed(*sp, (const uint8_t *)p, (size_t)n);
		(void)BIO_reset(wb);
		BIO_write(rb, o->ct, (int)o->nct);
		o->nct = 0;
		if (o->nplain > 0)
			break;
	}
	SSL_free(cl);
	SSL_CTX_free(cctx);
	return (rc);
}

/* Whether a CA-signed client with cn and sans is let in by allow. */
static int
admitted(const char *const *allow, size_t nallow, const char *cn,
    const char *sans)
{
	struct tls_server *srv = server(allow, nallow, 1);
	struct tls_sess *s;
	struct out o;
	EVP_PKEY *k;
	X509 *x;
	int rc;

	cr_assert_not_null(k = EVP_EC_gen("P-256"));
	x = make_cert(k, cn, sans, 2, 0);
	rc = connect_client(srv, x, k, &o, &s);
	if (rc == 0)
		cr_assert(tls_sess_established(s) && o.nplain == 7 &&
		    memcmp(o.plain, "5 hello", 7) == 0);
	else
		cr_assert(rc == CST_EPERM && o.nplain == 0 &&
		    !tls_sess_established(s));
	tls_sess_free(s);
	tls_server_unref(srv);
	X509_free(x);
	EVP_PKEY_free(k);
	return (rc == 0);
}

Test(tls, wildcard_is_one_leading_label)
{
	static const char *const a[] = { "name:*.example.org" };

	cr_assert(admitted(a, 1, "x", "DNS:web1.example.org"));
	cr_assert(admitted(a, 1, "x", "DNS:WEB1.Example.ORG"));
	cr_assert(!admitted(a, 1, "x", "DNS:a.b.example.org"));
	cr_assert(!admitted(a, 1, "x", "DNS:example.org"));
	cr_assert(!admitted(a, 1, "x", "DNS:web1.example.org.evil.net"));
	cr_assert(!admitted(a, 1, "x", "DNS:webexample.org"));
}

Test(tls, exact_name_and_cn_only_without_dns_names)
{
	static const char *const a[] = { "name:log.example.net" };

	cr_assert(admitted(a, 1, "other", "DNS:log.example.net"));
	cr_assert(admitted(a, 1, "log.example.net", ""));
	/* With DNS names present the CN is not looked at. */
	cr_assert(!admitted(a, 1, "log.example.net", "DNS:other.example"));
	cr_assert(!admitted(a, 1, "log.example.net.", ""));
}

Test(tls, no_allow_list_with_ca_admits_any_chained_certificate)
{

	cr_assert(admitted(NULL, 0, "anyone", "DNS:anything.example"));
}

Test(tls, fingerprint_pins_one_certificate)
{
	struct tls_server *srv;
	struct tls_sess *s;
	struct out o;
	uint8_t md[32];
	unsigned mdlen = sizeof(md);
	char hex[65], entry[112], colons[100];
	const char *a[1] = { entry };
	EVP_PKEY *k;
	X509 *x, *y;
	size_t i;

	cr_assert_not_null(k = EVP_EC_gen("P-256"));
	x = make_cert(k, "pinned", "DNS:pinned.example", 2, 1);
	y = make_cert(k, "pinned", "DNS:pinned.example", 3, 1);
	X509_digest(x, EVP_sha256(), md, &mdlen);
	cst_hex(md, sizeof(md), hex);
	snprintf(entry, sizeof(entry), "sha256:%s", hex);
	/* No CA: the fingerprint is the trust; a self-signed one is fine. */
	srv = server(a, 1, 0);
	cr_assert_eq(connect_client(srv, x, k, &o, &s), 0);
	cr_assert_eq(o.nplain, 7);
	tls_sess_free(s);
	/* The same key in another certificate is another client. */
	cr_assert_eq(connect_client(srv, y, k, &o, &s), CST_EPERM);
	cr_assert_str_eq(tls_sess_reason(s), "certificate not allowed");
	tls_sess_free(s);
	tls_server_unref(srv);
	/* Upper case and colons between bytes: the same entry. */
	for (i = 0; i < 32; i++)
		snprintf(colons + 3 * i, 4, "%02X%s", md[i], i < 31 ? ":" : "");
	snprintf(entry, sizeof(entry), "sha256:%s", colons);
	cr_assert_eq(tls_allow_check(entry), 0);
	srv = server(a, 1, 0);
	cr_assert_eq(connect_client(srv, x, k, &o, &s), 0);
	tls_sess_free(s);
	tls_server_unref(srv);
	X509_free(x);
	X509_free(y);
	EVP_PKEY_free(k);
}

Test(tls, identity_is_fingerprint_and_subject)
{
	struct tls_server *srv = server(NULL, 0, 1);
	struct tls_sess *s;
	struct out o;
	uint8_t md[32];
	unsigned mdlen = sizeof(md);
	char hex[65], want[200];
	const char *id;
	size_t len;
	EVP_PKEY *k;
	X509 *x;

	cr_assert_not_null(k = EVP_EC_gen("P-256"));
	x = make_cert(k, "web, \"1\"", "DNS:web1.example", 2, 0);
	cr_assert_eq(connect_client(srv, x, k, &o, &s), 0);
	X509_digest(x, EVP_sha256(), md, &mdlen);
	cst_hex(md, sizeof(md), hex);
	/* R-REC-7: RFC 2253 order (most specific first) and escaping. */
	snprintf(want, sizeof(want), "sha256:%s CN=web\\, \\\"1\\\",O=custody "
	    "test", hex);
	id = tls_sess_peer(s, &len);
	cr_assert_not_null(id);
	cr_assert_eq(len, strlen(want));
	cr_assert_str_eq(id, want);
	tls_sess_free(s);
	tls_server_unref(srv);
	X509_free(x);
	EVP_PKEY_free(k);
}

Test(tls, refusals_say_why_and_stick)
{
	static const char *const a[] = { "name:*.example.org" };
	struct tls_server *srv = server(a, 1, 1);
	struct tls_sess *s;
	struct out o;
	EVP_PKEY *k;
	X509 *x;

	cr_assert_eq(connect_client(srv, NULL, NULL, &o, &s), CST_EPERM);
	cr_assert(strstr(tls_sess_reason(s), "certificate") != NULL,
	    "%s", tls_sess_reason(s));
	cr_assert_eq(tls_sess_feed(s, (const uint8_t *)"\x16", 1), CST_EPERM);
	tls_sess_free(s);

	cr_assert_not_null(k = EVP_EC_gen("P-256"));
	x = make_cert(k, "old", "DNS:old.example.org", -1, 0);
	cr_assert_eq(connect_client(srv, x, k, &o, &s), CST_EPERM);
	cr_assert_str_eq(tls_sess_reason(s), "certificate: certificate has "
	    "expired");
	tls_sess_free(s);
	X509_free(x);
	EVP_PKEY_free(k);

	memset(&o, 0, sizeof(o));
	cr_assert_eq(tls_sess_new(srv, on_plain, on_send, &o, &s), 0);
	cr_assert_eq(tls_sess_feed(s, (const uint8_t *)"7 <13>hi", 8),
	    CST_EPERM);
	cr_assert_str_eq(tls_sess_reason(s), "not TLS (plain text)");
	cr_assert_eq(o.nplain, 0);
	cr_assert_eq(o.nct, 0);
	tls_sess_free(s);
	tls_server_unref(srv);
}

Test(tls, key_readable_by_others_is_refused)
{
	struct tls_server *srv;
	struct conf_tls c;
	char err[TLS_ERR_LEN];

	memset(&c, 0, sizeof(c));
	c.cert = cert_path;
	c.key = key_path;
	c.min_version = 12;
	cr_assert(chmod(key_path, 0640) == 0);
	cr_assert_eq(tls_server_new(&c, &srv, err), CST_EPERM);
	cr_assert(strstr(err, "0600") != NULL, "%s", err);
	cr_assert(chmod(key_path, 0400) == 0);
	cr_assert_eq(tls_server_new(&c, &srv, err), 0, "%s", err);
	tls_server_unref(srv);
	cr_assert(chmod(key_path, 0600) == 0);
}

Test(tls, allow_entries_are_checked)
{
	static const char *const bad[] = {
		"sha256:", "sha256:00", "sha256:zz00", "md5:00", "name:",
		"name:a.*.org", "name:*example.org", "name:**.org", "*.x.org",
		"sha256:000000000000000000000000000000000000000000000000000000"
		"000000000000",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(tls_allow_check(bad[i]), CST_EPARSE, "%s", bad[i]);
	cr_assert_eq(tls_allow_check("name:*.example.org"), 0);
	cr_assert_eq(tls_allow_check("name:host.example.org"), 0);
	cr_assert_eq(tls_allow_check("sha256:" "00112233445566778899aabbccdd"
	    "eeff00112233445566778899aabbccddeeff"), 0);
}
