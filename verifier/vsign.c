/*
 * Detached CMS signatures of report files (vsign.h), with OpenSSL.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "custody/segment.h"

#include "vsign.h"

struct vsign {
	EVP_PKEY *key;
	X509 *cert;
};

/* OpenSSL's reason for the last failure, or a fallback. */
static const char *
ssl_reason(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *r;

	r = e != 0 ? ERR_reason_error_string(e) : NULL;
	return (r != NULL ? r : "unknown OpenSSL error");
}

struct vsign *
vsign_new(const char *key, const char *cert, char *why, size_t n)
{
	struct vsign *s;
	struct stat st;
	FILE *f;
	int rc;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(why, n, "out of memory");
		return (NULL);
	}
	if ((rc = cst_file_open_named(key, "r", &f)) != 0) {
		snprintf(why, n, "--sign-with %s: %s", key, cst_file_why(rc));
		goto err0;
	}
	if (fstat(fileno(f), &st) != 0) {
		snprintf(why, n, "--sign-with %s: %s", key, strerror(errno));
		fclose(f);
		goto err0;
	}
	/* A signing key is a secret like the collector's (DESIGN: 0600). */
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		snprintf(why, n, "--sign-with %s: readable by others (mode "
		    "%03o); it must be 0600 or stricter", key,
		    (unsigned)(st.st_mode & 0777));
		fclose(f);
		goto err0;
	}
	s->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (s->key == NULL) {
		snprintf(why, n, "--sign-with %s: not a PEM private key (%s)",
		    key, ssl_reason());
		goto err0;
	}
	if ((rc = cst_file_open_named(cert, "r", &f)) != 0) {
		snprintf(why, n, "--cert %s: %s", cert, cst_file_why(rc));
		goto err0;
	}
	s->cert = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (s->cert == NULL) {
		snprintf(why, n, "--cert %s: not a PEM certificate (%s)", cert,
		    ssl_reason());
		goto err0;
	}
	if (X509_check_private_key(s->cert, s->key) != 1) {
		snprintf(why, n, "--cert %s is not the certificate of the key "
		    "%s", cert, key);
		goto err0;
	}
	return (s);

err0:
	vsign_free(s);
	return (NULL);
}

void
vsign_free(struct vsign *s)
{

	if (s == NULL)
		return;
	EVP_PKEY_free(s->key);
	X509_free(s->cert);
	free(s);
}

int
vsign_file(struct vsign *s, const char *path, char *why, size_t n)
{
	CMS_ContentInfo *cms = NULL;
	BIO *in = NULL, *out = NULL;
	char *sig = NULL;
	int rc = -1;

	if (asprintf(&sig, "%s.p7s", path) < 0) {
		snprintf(why, n, "out of memory");
		return (-1);
	}
	if ((in = BIO_new_file(path, "rb")) == NULL) {
		snprintf(why, n, "%s: %s", path, strerror(errno));
		goto err0;
	}
	/* BINARY: the bytes as they are, no MIME canonical line ends. */
	if ((cms = CMS_sign(s->cert, s->key, NULL, in, CMS_DETACHED |
	    CMS_BINARY)) == NULL) {
		snprintf(why, n, "%s: cannot sign (%s)", path, ssl_reason());
		goto err0;
	}
	if ((out = BIO_new_file(sig, "wb")) == NULL) {
		snprintf(why, n, "%s: %s", sig, strerror(errno));
		goto err0;
	}
	if (i2d_CMS_bio(out, cms) != 1 || BIO_flush(out) != 1) {
		snprintf(why, n, "%s: cannot write the signature (%s)", sig,
		    errno != 0 ? strerror(errno) : ssl_reason());
		goto err0;
	}
	rc = 0;

err0:
	BIO_free(out);
	BIO_free(in);
	CMS_ContentInfo_free(cms);
	free(sig);
	return (rc);
}
