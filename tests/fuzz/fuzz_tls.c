/*
 * Fuzz target for the TLS filter (collector/tls.c) and its plaintext
 * hand-off to the deframer.  Input: one mode byte, one chunk byte, then
 * the body.
 *
 *   mode even: the body is what a hostile client sends (ciphertext), fed
 *     to a server session in chunks of 1 + chunk bytes.  Nothing may come
 *     out as plaintext (no handshake can complete without the client's
 *     secrets), a refusal must stick (every later feed refused too) and
 *     say why.
 *   mode odd: the body is plaintext a real client (OpenSSL, memory BIOs)
 *     writes after a real handshake, in records cut every 1 + chunk * 7
 *     bytes, the ciphertext fed to the session in chunks of 1 + chunk
 *     bytes.  The plaintext handed on must be the body, byte for byte, in
 *     order, and the deframer must find the messages a single read of
 *     the body gives.
 *
 * The server's certificate and key are made once, in a directory that is
 * removed as soon as they are loaded.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "custody/error.h"
#include "framing.h"
#include "tls.h"
#include "fuzz.h"

#define MAX_MSG 256

struct sink {
	uint8_t *plain;          /* plaintext handed on, back to back */
	size_t nplain;
	size_t cap;
	uint8_t *ct;             /* ciphertext for the client */
	size_t nct;
	size_t ctcap;
	uint8_t *msgs;           /* the deframer's pieces: len, flags, bytes */
	size_t nmsgs;
	size_t msgcap;
	cst_deframer df;
	int dferr;               /* the deframer stopped on bad framing */
};

static struct tls_server *srv;

/* The server's key and self-signed certificate, made and loaded once. */
static void
server_once(void)
{
	char dir[] = "/tmp/fuzz_tls.XXXXXX", cert[64], key[64];
	struct conf_tls c;
	char err[TLS_ERR_LEN];
	EVP_PKEY *k;
	X509 *x;
	FILE *f;

	if (srv != NULL)
		return;
	REQUIRE(mkdtemp(dir) != NULL);
	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	REQUIRE((k = EVP_EC_gen("P-256")) != NULL);
	REQUIRE((x = X509_new()) != NULL);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	    (const unsigned char *)"fuzz", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_set_pubkey(x, k);
	REQUIRE(X509_sign(x, k, EVP_sha256()) > 0);
	REQUIRE((f = fopen(cert, "w")) != NULL);
	PEM_write_X509(f, x);
	fclose(f);
	REQUIRE((f = fopen(key, "w")) != NULL);
	REQUIRE(chmod(key, 0600) == 0);
	PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	X509_free(x);
	EVP_PKEY_free(k);
	memset(&c, 0, sizeof(c));
	c.cert = cert;
	c.key = key;
	c.min_version = 12;
	REQUIRE(tls_server_new(&c, &srv, err) == 0);
	unlink(cert);
	unlink(key);
	rmdir(dir);
}

static int
grow(uint8_t **p, size_t *cap, size_t need)
{
	uint8_t *q;

	if (need <= *cap)
		return (0);
	if ((q = realloc(*p, need * 2)) == NULL)
		return (CST_ENOMEM);
	*p = q;
	*cap = need * 2;
	return (0);
}

static int
on_msg(void *ctx, const uint8_t *msg, size_t len, unsigned flags)
{
	struct sink *s = ctx;
	uint32_t l32 = (uint32_t)len, f32 = flags;

	REQUIRE(grow(&s->msgs, &s->msgcap, s->nmsgs + len + 8) == 0);
	memcpy(s->msgs + s->nmsgs, &l32, 4);
	memcpy(s->msgs + s->nmsgs + 4, &f32, 4);
	memcpy(s->msgs + s->nmsgs + 8, msg, len);
	s->nmsgs += len + 8;
	return (0);
}

static int
on_plain(void *ctx, const uint8_t *p, size_t len)
{
	struct sink *s = ctx;

	REQUIRE(len > 0);
	REQUIRE(grow(&s->plain, &s->cap, s->nplain + len) == 0);
	memcpy(s->plain + s->nplain, p, len);
	s->nplain += len;
	/* As the listener does: bad framing ends what the deframer takes. */
	if (!s->dferr && cst_deframer_feed(&s->df, p, len) != 0)
		s->dferr = 1;
	return (0);
}

static int
on_send(void *ctx, const uint8_t *p, size_t len)
{
	struct sink *s = ctx;

	REQUIRE(grow(&s->ct, &s->ctcap, s->nct + len) == 0);
	memcpy(s->ct + s->nct, p, len);
	s->nct += len;
	return (0);
}

static void
sink_close(struct sink *s)
{

	cst_deframer_close(&s->df);
	free(s->plain);
	free(s->ct);
	free(s->msgs);
}

/* Feeds p[0..n) to sess in chunks of step; the last result. */
static int
feed(struct tls_sess *sess, const uint8_t *p, size_t n, size_t step)
{
	size_t off, k;
	int rc = 0;

	for (off = 0; off < n; off += k) {
		k = n - off < step ? n - off : step;
		rc = tls_sess_feed(sess, p + off, k);
		if (rc != 0)
			break;
	}
	return (rc);
}

static void
hostile(const uint8_t *body, size_t n, size_t step)
{
	struct tls_sess *sess;
	struct sink s;
	int rc;

	memset(&s, 0, sizeof(s));
	cst_deframer_init(&s.df, MAX_MSG, on_msg, &s);
	REQUIRE(tls_sess_new(srv, on_plain, on_send, &s, &sess) == 0);
	rc = feed(sess, body, n, step);
	REQUIRE(rc == 0 || rc == CST_EPERM);
	REQUIRE(s.nplain == 0 && !tls_sess_established(sess));
	if (rc == CST_EPERM) {
		REQUIRE(tls_sess_reason(sess)[0] != '\0');
		REQUIRE(tls_sess_feed(sess, body, n > 0 ? 1 : 0) == CST_EPERM ||
		    n == 0);
	}
	if (n > 0 && body[0] != 0x16)
		REQUIRE(rc == CST_EPERM);
	tls_sess_free(sess);
	sink_close(&s);
}

/* Moves what one side's write BIO holds to the other side. */
static void
client_out(BIO *wb, uint8_t **buf, size_t *len, size_t *cap)
{
	char *p;
	long n;

	n = BIO_get_mem_data(wb, &p);
	if (n <= 0)
		return;
	REQUIRE(grow(buf, cap, *len + (size_t)n) == 0);
	memcpy(*buf + *len, p, (size_t)n);
	*len += (size_t)n;
	(void)BIO_reset(wb);
}

/*
 * 1 if a and b hold the same pieces up to and including a framing error,
 * whose bytes are those left in the read that met it (cut in pieces of
 * max_msg): those depend on where reads end, so only the error itself
 * must match.
 */
static int
same_pieces(const struct sink *a, const struct sink *b)
{
	size_t i = 0, j = 0;
	uint32_t la, lb, fa, fb;

	while (i < a->nmsgs && j < b->nmsgs) {
		memcpy(&la, a->msgs + i, 4);
		memcpy(&fa, a->msgs + i + 4, 4);
		memcpy(&lb, b->msgs + j, 4);
		memcpy(&fb, b->msgs + j + 4, 4);
		/* Its split in pieces too depends on where the read ended. */
		if ((fa | fb) & CST_FRAME_ERROR)
			return ((fa & fb & CST_FRAME_ERROR) != 0);
		if (fa != fb)
			return (0);
		if (la != lb || memcmp(a->msgs + i + 8, b->msgs + j + 8, la) != 0)
			return (0);
		i += 8 + la;
		j += 8 + lb;
	}
	return (i == a->nmsgs && j == b->nmsgs);
}

static void
honest(const uint8_t *body, size_t n, size_t step)
{
	static SSL_CTX *cctx;
	struct tls_sess *sess;
	struct sink s, once;
	uint8_t *ct = NULL;
	size_t nct = 0, ctcap = 0, off, k, rec = 1 + (step - 1) * 7;
	BIO *rb, *wb;
	SSL *cl;
	int i, rc;

	if (cctx == NULL)
		REQUIRE((cctx = SSL_CTX_new(TLS_client_method())) != NULL);
	memset(&s, 0, sizeof(s));
	cst_deframer_init(&s.df, MAX_MSG, on_msg, &s);
	REQUIRE(tls_sess_new(srv, on_plain, on_send, &s, &sess) == 0);
	REQUIRE((cl = SSL_new(cctx)) != NULL);
	rb = BIO_new(BIO_s_mem());
	wb = BIO_new(BIO_s_mem());
	REQUIRE(rb != NULL && wb != NULL);
	BIO_set_mem_eof_return(rb, -1);
	SSL_set_bio(cl, rb, wb);
	SSL_set_connect_state(cl);
	/* The handshake, turn by turn, the session's side in chunks. */
	for (i = 0; i < 8 && !SSL_is_init_finished(cl); i++) {
		(void)SSL_do_handshake(cl);
		nct = 0;
		client_out(wb, &ct, &nct, &ctcap);
		REQUIRE(feed(sess, ct, nct, step) == 0);
		BIO_write(rb, s.ct, (int)s.nct);
		s.nct = 0;
	}
	REQUIRE(SSL_is_init_finished(cl));
	for (off = 0; off < n; off += k) {
		k = n - off < rec ? n - off : rec;
		REQUIRE(SSL_write(cl, body + off, (int)k) == (int)k);
	}
	nct = 0;
	client_out(wb, &ct, &nct, &ctcap);
	rc = feed(sess, ct, nct, step);
	REQUIRE(rc == 0);
	REQUIRE(tls_sess_established(sess));
	REQUIRE(s.nplain == n && (n == 0 || memcmp(s.plain, body, n) == 0));
	if (!s.dferr)
		(void)cst_deframer_finish(&s.df);

	/* The same plaintext in one read, with no TLS between. */
	memset(&once, 0, sizeof(once));
	cst_deframer_init(&once.df, MAX_MSG, on_msg, &once);
	if (cst_deframer_feed(&once.df, body, n) == 0)
		(void)cst_deframer_finish(&once.df);
	REQUIRE(same_pieces(&once, &s));

	SSL_free(cl);
	free(ct);
	tls_sess_free(sess);
	sink_close(&s);
	sink_close(&once);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t step;

	if (size < 2)
		return (0);
	server_once();
	step = 1 + (size_t)data[1];
	if (data[0] & 1)
		honest(data + 2, size - 2, step);
	else
		hostile(data + 2, size - 2, step);
	return (0);
}
