/*
 * The CRLs an investigator names for R-TSA-9: read with the care of any
 * named file (a FIFO refused at once, never waited on), and a file with
 * no CRL in it, or a block that cannot be read, refused with its name,
 * not taken as "nothing revoked".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "custody/error.h"
#include "custody/timestamp.h"
#include "testutil.h"

/* Made by openssl ca -gencrl; only its form matters here. */
static const char crl_pem[] =
"-----BEGIN X509 CRL-----\n"
"MIGoMFECAQEwCgYIKoZIzj0EAwIwEjEQMA4GA1UEAwwHdW5pdCBDQRcNMjYxMjA3\n"
"MDQwNDE1WhcNMjYxMjA4MDQwNDE1WqAOMAwwCgYDVR0UBAMCAQEwCgYIKoZIzj0E\n"
"AwIDRwAwRAIgTyYmKmA97k+QgLVkMgvzSr7BPeQn6mrnKUZBisl7PXACICHOJK6n\n"
"dFV1/BJNoNVSriIdpxzfIcQnGNrA2QRPE3vG\n"
"-----END X509 CRL-----\n";

/* A certificate: PEM, but not a CRL. */
static const char cert_pem[] =
"-----BEGIN CERTIFICATE-----\n"
"MIIBeTCCAR+gAwIBAgIUX+PvtYaaMNToQyRU8LmNVG/08bcwCgYIKoZIzj0EAwIw\n"
"EjEQMA4GA1UEAwwHdW5pdCBDQTAeFw0yNjEyMDcwNDA0MTVaFw0yNjEyMDgwNDA0\n"
"MTVaMBIxEDAOBgNVBAMMB3VuaXQgQ0EwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNC\n"
"AAR6tLQcBSq2AhctpP228z2uRkNnsb3/dA8GD9hJZ2xZVdajxiV1yadxXUtWo/4s\n"
"gKpqaqOCKPNmcv8yiGe11Kfro1MwUTAdBgNVHQ4EFgQUXM5P8EITm13ESQpJ0Hw9\n"
"qdOh4qEwHwYDVR0jBBgwFoAUXM5P8EITm13ESQpJ0Hw9qdOh4qEwDwYDVR0TAQH/\n"
"BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiEAsxP5er1rn/8bbP2fzc3Lt2rLYmYC\n"
"e92Y8wA4hkBOmcgCIB4Hb4QxWlaLqEiQ63kcKnecv6Sj5MquUQiI6jmOG+45\n"
"-----END CERTIFICATE-----\n";

static char dir[64];

static void
setup(void)
{

	test_tmpdir(dir, sizeof(dir), "custody-ts-unit");
}

static void
teardown(void)
{
	test_rm_tree(dir);
}

static const char *
put(const char *name, const char *text)
{
	static char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	cr_assert_not_null(f = fopen(path, "w"));
	cr_assert_eq(fputs(text, f) >= 0, 1);
	cr_assert_eq(fclose(f), 0);
	return (path);
}

static int
add(const char *path, char err[CST_TS_WHY_LEN])
{
	cst_ts_trust *t;
	int rc;

	cr_assert_eq(cst_ts_trust_new(&t), 0);
	err[0] = '\0';
	rc = cst_ts_trust_add_crl_file(t, path, err);
	cst_ts_trust_free(t);
	return (rc);
}

TestSuite(timestamp, .init = setup, .fini = teardown);

Test(timestamp, crl_file_is_read)
{
	char err[CST_TS_WHY_LEN];

	cr_assert_eq(add(put("ca.crl", crl_pem), err), 0, "%s", err);
}

Test(timestamp, fifo_is_refused_without_waiting)
{
	char err[CST_TS_WHY_LEN], path[128];
	time_t t0 = time(NULL);

	snprintf(path, sizeof(path), "%s/crl.fifo", dir);
	cr_assert_eq(mkfifo(path, 0600), 0, "%s", strerror(errno));
	/* No writer ever opens it: a blocking open would hang here. */
	cr_assert_eq(add(path, err), CST_ENOTREG, "%s", err);
	cr_assert(strstr(err, path) != NULL, "%s", err);
	cr_assert(time(NULL) - t0 < 5);
}

Test(timestamp, no_crl_in_the_file_is_refused)
{
	char err[CST_TS_WHY_LEN];
	const char *p;

	p = put("cert.pem", cert_pem);
	cr_assert_eq(add(p, err), CST_EPARSE);
	cr_assert(strstr(err, p) != NULL && strstr(err, "no PEM CRL") != NULL,
	    "%s", err);
	p = put("empty.crl", "");
	cr_assert_eq(add(p, err), CST_EPARSE, "%s", err);
	p = put("garbage.crl", "-----BEGIN X509 CRL-----\nAAAA\n"
	    "-----END X509 CRL-----\n");
	cr_assert_eq(add(p, err), CST_EPARSE, "%s", err);
}

/*
 * A block that cannot be read must not end the file quietly: a CRL after
 * it could revoke what the one before leaves unrevoked.
 */
Test(timestamp, unreadable_block_after_a_crl_refuses_the_file)
{
	char err[CST_TS_WHY_LEN], text[4096];
	const char *p;

	snprintf(text, sizeof(text), "%s-----BEGIN X509 CRL-----\nAAAA\n"
	    "-----END X509 CRL-----\n%s", crl_pem, crl_pem);
	p = put("bad-crl-between.crl", text);
	cr_assert_eq(add(p, err), CST_EPARSE, "%s", err);
	cr_assert(strstr(err, p) != NULL && strstr(err, "cannot be read") !=
	    NULL, "%s", err);
	snprintf(text, sizeof(text), "%s-----BEGIN CERTIFICATE-----\n!!!!\n"
	    "-----END CERTIFICATE-----\n%s", crl_pem, crl_pem);
	p = put("bad-base64-between.crl", text);
	cr_assert_eq(add(p, err), CST_EPARSE, "%s", err);
	/* A readable block of another kind is skipped, not an error. */
	snprintf(text, sizeof(text), "%s%s%s", crl_pem, cert_pem, crl_pem);
	cr_assert_eq(add(put("with-cert.crl", text), err), 0, "%s", err);
}

Test(timestamp, missing_file_is_refused)
{
	char err[CST_TS_WHY_LEN], path[128];

	snprintf(path, sizeof(path), "%s/absent.crl", dir);
	cr_assert_eq(add(path, err), CST_ENOENT, "%s", err);
	cr_assert(strstr(err, path) != NULL, "%s", err);
}
