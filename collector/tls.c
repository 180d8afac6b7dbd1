/*
 * TLS as a byte-stream filter over OpenSSL memory BIOs (tls.h).
 *
 * The socket is never OpenSSL's: ciphertext is written into the read
 * BIO, SSL_do_handshake and SSL_read run until they want more, and what
 * OpenSSL put in the write BIO goes to the send callback.  Nothing here
 * can block, and a slow peer costs only its buffered bytes.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "custody/error.h"
#include "custody/hash.h"

#include "log.h"
#include "tls.h"

/* One TLS record's plaintext at most (RFC 8446 section 5.1). */
#define PLAIN_LEN 16384
/* A subject longer than this is cut: it is a name, not a payload. */
#define SUBJECT_MAX 1024
#define FPR_LEN 32
#define FEED_MAX ((size_t)1 << 30)

struct allow {
	int is_fpr;
	uint8_t fpr[FPR_LEN];
	char *pattern;           /* name:PATTERN, lower case */
};

struct tls_server {
	SSL_CTX *ctx;
	unsigned refs;
	int has_ca;
	struct allow *allow;
	size_t nallow;
	uint8_t plain[PLAIN_LEN];
};

struct tls_sess {
	struct tls_server *srv;
	SSL *ssl;
	BIO *rb;                 /* ciphertext in (owned by ssl) */
	BIO *wb;                 /* ciphertext out (owned by ssl) */
	tls_plain_fn *plain;
	tls_send_fn *send;
	void *ctx;
	int seen;                /* a byte has arrived */
	int established;
	int closed;
	int refused;
	int shut;                /* our close_notify is out */
	char *peer;              /* the identity; NULL: none */
	size_t peer_len;
	char reason[TLS_REASON_LEN];
};

/* The reason for a failure, into err (TLS_ERR_LEN-sized): log.h. */
#define seterr(err, ...) log_seterr(err, TLS_ERR_LEN, __VA_ARGS__)

/* OpenSSL's last reason, for a message: its queue is then cleared. */
static const char *
ssl_reason(void)
{
	unsigned long e = ERR_peek_last_error(), q;
	const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;

	/* A file that cannot be opened: say why, as errno does. */
	while ((q = ERR_get_error()) != 0)
		if (ERR_SYSTEM_ERROR(q))
			r = strerror(ERR_GET_REASON(q));
	ERR_clear_error();
	return (r != NULL ? r : "unknown error");
}

static int
hexval(int ch)
{

	if (ch >= '0' && ch <= '9')
		return (ch - '0');
	ch = tolower(ch);
	if (ch >= 'a' && ch <= 'f')
		return (ch - 'a' + 10);
	return (-1);
}

/* Parses a fingerprint's hex (colons between bytes allowed). */
static int
parse_fpr(const char *s, uint8_t out[FPR_LEN])
{
	size_t n = 0;
	int hi, lo;

	while (*s != '\0') {
		if (*s == ':' && n > 0) {
			s++;
			continue;
		}
		if (n == FPR_LEN || (hi = hexval(s[0])) < 0 ||
		    (lo = hexval(s[1])) < 0)
			return (CST_EPARSE);
		out[n++] = (uint8_t)(hi << 4 | lo);
		s += 2;
	}
	return (n == FPR_LEN ? 0 : CST_EPARSE);
}

int
tls_allow_check(const char *entry)
{
	uint8_t fpr[FPR_LEN];

	if (strncmp(entry, "sha256:", 7) == 0)
		return (parse_fpr(entry + 7, fpr));
	if (strncmp(entry, "name:", 5) == 0 && entry[5] != '\0' &&
	    strchr(entry + 6, '*') == NULL &&
	    (entry[5] != '*' || entry[6] == '.'))
		return (0);
	return (CST_EPARSE);
}

/*
 * Without a CA the chain cannot be checked (the allow list's fingerprints
 * are the trust), but a certificate out of its validity period is still
 * refused.
 */
static int
verify_untrusted(int ok, X509_STORE_CTX *x)
{
	int e = X509_STORE_CTX_get_error(x);

	(void)ok;
	return (e != X509_V_ERR_CERT_HAS_EXPIRED &&
	    e != X509_V_ERR_CERT_NOT_YET_VALID);
}

/* Loads the key at path, refused unless mode 0600 or stricter. */
static int
load_key(SSL_CTX *ctx, const char *path, char *err)
{
	struct stat st;
	EVP_PKEY *k;
	FILE *f;
	int fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		seterr(err, "tls.key %s: %s", path, strerror(errno));
		return (CST_EKEY);
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		seterr(err, "tls.key %s: not a regular file", path);
		close(fd);
		return (CST_EKEY);
	}
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		seterr(err, "tls.key %s: readable by others (mode %03o); "
		    "it must be 0600 or stricter", path,
		    (unsigned)(st.st_mode & 0777));
		close(fd);
		return (CST_EPERM);
	}
	if ((f = fdopen(fd, "r")) == NULL) {
		close(fd);
		return (CST_ENOMEM);
	}
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	rc = 0;
	if (k == NULL || SSL_CTX_use_PrivateKey(ctx, k) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		seterr(err, "tls.key %s: %s", path, ssl_reason());
		rc = CST_EKEY;
	}
	EVP_PKEY_free(k);
	return (rc);
}

static int
parse_allow(struct tls_server *srv, const struct conf_tls *c, char *err)
{
	size_t i, j;

	if (c->nallow == 0)
		return (0);
	if ((srv->allow = calloc(c->nallow, sizeof(*srv->allow))) == NULL)
		return (CST_ENOMEM);
	for (i = 0; i < c->nallow; i++) {
		struct allow *a = &srv->allow[i];
		const char *e = c->allow[i];

		if (tls_allow_check(e) != 0) {
			seterr(err, "tls.allow \"%s\": expected sha256:HEX "
			    "(64 digits) or name:PATTERN", e);
			return (CST_EPARSE);
		}
		srv->nallow++;
		if (strncmp(e, "sha256:", 7) == 0) {
			a->is_fpr = 1;
			(void)parse_fpr(e + 7, a->fpr);
			continue;
		}
		if ((a->pattern = strdup(e + 5)) == NULL)
			return (CST_ENOMEM);
		for (j = 0; a->pattern[j] != '\0'; j++)
			a->pattern[j] = (char)tolower(
			    (unsigned char)a->pattern[j]);
	}
	return (0);
}

int
tls_server_new(const struct conf_tls *c, struct tls_server **out,
    char err[TLS_ERR_LEN])
{
	struct tls_server *srv;
	STACK_OF(X509_NAME) *names;
	int rc, v;

	err[0] = '\0';
	if (c->cert == NULL || c->key == NULL) {
		seterr(err, "a tls:// listener needs tls.cert and tls.key");
		return (CST_EKEY);
	}
	if ((srv = calloc(1, sizeof(*srv))) == NULL)
		return (CST_ENOMEM);
	srv->refs = 1;
	rc = CST_ENOMEM;
	if ((srv->ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		goto err;
	v = c->min_version == 13 ? TLS1_3_VERSION : TLS1_2_VERSION;
	SSL_CTX_set_min_proto_version(srv->ctx, v);
	/*
	 * No resumption: every connection shows its certificate, so the
	 * identity in each record is one this handshake checked.
	 */
	SSL_CTX_set_session_cache_mode(srv->ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(srv->ctx, SSL_OP_NO_TICKET |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_num_tickets(srv->ctx, 0);
	/*
	 * A quiet connection holds no record buffers (a session takes about
	 * 30 KiB instead of 40): max_connections of them must stay cheap.
	 */
	SSL_CTX_set_mode(srv->ctx, SSL_MODE_RELEASE_BUFFERS);
	rc = CST_EKEY;
	if (SSL_CTX_use_certificate_chain_file(srv->ctx, c->cert) != 1) {
		seterr(err, "tls.cert %s: %s", c->cert, ssl_reason());
		goto err;
	}
	if ((rc = load_key(srv->ctx, c->key, err)) != 0)
		goto err;
	if ((rc = parse_allow(srv, c, err)) != 0)
		goto err;
	rc = CST_EKEY;
	if (c->ca != NULL) {
		if (SSL_CTX_load_verify_locations(srv->ctx, c->ca, NULL) != 1 ||
		    (names = SSL_load_client_CA_file(c->ca)) == NULL) {
			seterr(err, "tls.ca %s: %s", c->ca, ssl_reason());
			goto err;
		}
		SSL_CTX_set_client_CA_list(srv->ctx, names);
		SSL_CTX_set_verify(srv->ctx, SSL_VERIFY_PEER |
		    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
		srv->has_ca = 1;
	} else if (srv->nallow > 0)
		SSL_CTX_set_verify(srv->ctx, SSL_VERIFY_PEER |
		    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_untrusted);
	*out = srv;
	return (0);

err:
	if (rc == CST_ENOMEM && err[0] == '\0')
		seterr(err, "%s", cst_strerror(rc));
	tls_server_unref(srv);
	return (rc);
}

void
tls_server_unref(struct tls_server *srv)
{
	size_t i;

	if (srv == NULL || --srv->refs > 0)
		return;
	for (i = 0; i < srv->nallow; i++)
		free(srv->allow[i].pattern);
	free(srv->allow);
	SSL_CTX_free(srv->ctx);
	free(srv);
}

int
tls_sess_new(struct tls_server *srv, tls_plain_fn *plain, tls_send_fn *send,
    void *ctx, struct tls_sess **out)
{
	struct tls_sess *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		goto err0;
	if ((s->ssl = SSL_new(srv->ctx)) == NULL)
		goto err1;
	if ((s->rb = BIO_new(BIO_s_mem())) == NULL)
		goto err2;
	if ((s->wb = BIO_new(BIO_s_mem())) == NULL) {
		BIO_free(s->rb);
		goto err2;
	}
	/* An empty read BIO means "more later", not end of file. */
	BIO_set_mem_eof_return(s->rb, -1);
	SSL_set_bio(s->ssl, s->rb, s->wb);
	SSL_set_accept_state(s->ssl);
	s->srv = srv;
	srv->refs++;
	s->plain = plain;
	s->send = send;
	s->ctx = ctx;
	*out = s;
	return (0);

err2:
	SSL_free(s->ssl);
err1:
	free(s);
err0:
	ERR_clear_error();
	return (CST_ENOMEM);
}

void
tls_sess_free(struct tls_sess *s)
{

	if (s == NULL)
		return;
	SSL_free(s->ssl);
	tls_server_unref(s->srv);
	free(s->peer);
	free(s);
}

void
tls_sess_refuse(struct tls_sess *s, const char *reason)
{

	s->refused = 1;
	snprintf(s->reason, sizeof(s->reason), "%s", reason);
}

/* Hands what OpenSSL wrote to the send callback. */
static int
flush(struct tls_sess *s)
{
	char *p;
	long n;
	int rc;

	if ((n = BIO_get_mem_data(s->wb, &p)) <= 0)
		return (0);
	rc = s->send(s->ctx, (const uint8_t *)p, (size_t)n);
	(void)BIO_reset(s->wb);
	return (rc);
}

/* 1 if name (len bytes) matches pattern p (lower case). */
static int
name_match(const char *p, const char *name, size_t len)
{
	const char *dot;
	size_t plen = strlen(p);

	if (memchr(name, '\0', len) != NULL)
		return (0);
	if (p[0] != '*')
		return (plen == len && strncasecmp(p, name, len) == 0);
	/* "*.example.org": exactly one label, not empty, before it. */
	if ((dot = memchr(name, '.', len)) == NULL || dot == name)
		return (0);
	return (plen - 1 == len - (size_t)(dot - name) &&
	    strncasecmp(p + 1, dot, plen - 1) == 0);
}

/* 1 if a DNS SAN of cert, or failing any its CN, matches pattern. */
static int
cert_name_match(X509 *cert, const char *pattern)
{
	GENERAL_NAMES *sans;
	X509_NAME *subj;
	const ASN1_STRING *v;
	int i, n, found = 0, any = 0;

	sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	n = sans != NULL ? sk_GENERAL_NAME_num(sans) : 0;
	for (i = 0; i < n && !found; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);

		if (g->type != GEN_DNS)
			continue;
		any = 1;
		v = g->d.dNSName;
		found = name_match(pattern, (const char *)ASN1_STRING_get0_data(
		    v), (size_t)ASN1_STRING_length(v));
	}
	GENERAL_NAMES_free(sans);
	if (found || any)
		return (found);
	subj = X509_get_subject_name(cert);
	i = -1;
	while ((i = X509_NAME_get_index_by_NID(subj, NID_commonName, i)) >= 0) {
		v = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i));
		if (name_match(pattern, (const char *)ASN1_STRING_get0_data(v),
		    (size_t)ASN1_STRING_length(v)))
			return (1);
	}
	return (0);
}

/*
 * The handshake is done: the identity is written (R-REC-7) and the
 * certificate checked against the allow list.  0, CST_EPERM or
 * CST_ENOMEM.
 */
static int
accept_peer(struct tls_sess *s)
{
	uint8_t fpr[FPR_LEN];
	char hex[2 * FPR_LEN + 1];
	unsigned flen = sizeof(fpr);
	X509 *cert;
	BIO *b;
	char *subj;
	long slen;
	size_t i;
	int ok;

	if ((cert = SSL_get0_peer_certificate(s->ssl)) == NULL) {
		if (s->srv->nallow > 0) {
			tls_sess_refuse(s, "no certificate");
			return (CST_EPERM);
		}
		return (0);
	}
	if (X509_digest(cert, EVP_sha256(), fpr, &flen) != 1 ||
	    flen != FPR_LEN)
		goto nomem;
	cst_hex(fpr, sizeof(fpr), hex);
	if ((b = BIO_new(BIO_s_mem())) == NULL)
		goto nomem;
	X509_NAME_print_ex(b, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
	slen = BIO_get_mem_data(b, &subj);
	if (slen < 0)
		slen = 0;
	if (slen > SUBJECT_MAX)
		slen = SUBJECT_MAX;
	s->peer_len = 7 + 2 * FPR_LEN + 1 + (size_t)slen;
	if ((s->peer = malloc(s->peer_len + 1)) == NULL) {
		BIO_free(b);
		goto nomem;
	}
	memcpy(s->peer, "sha256:", 7);
	memcpy(s->peer + 7, hex, 2 * FPR_LEN);
	s->peer[7 + 2 * FPR_LEN] = ' ';
	memcpy(s->peer + 8 + 2 * FPR_LEN, subj, (size_t)slen);
	s->peer[s->peer_len] = '\0';
	BIO_free(b);
	ok = s->srv->nallow == 0;
	for (i = 0; i < s->srv->nallow && !ok; i++) {
		const struct allow *a = &s->srv->allow[i];

		ok = a->is_fpr ? memcmp(a->fpr, fpr, FPR_LEN) == 0 :
		    cert_name_match(cert, a->pattern);
	}
	if (!ok) {
		tls_sess_refuse(s, "certificate not allowed");
		return (CST_EPERM);
	}
	return (0);

nomem:
	ERR_clear_error();
	return (CST_ENOMEM);
}

/* The handshake failed: why, in the words an operator can act on. */
static void
handshake_failed(struct tls_sess *s)
{
	long v = SSL_get_verify_result(s->ssl);

	if (v != X509_V_OK)
		snprintf(s->reason, sizeof(s->reason), "certificate: %s",
		    X509_verify_cert_error_string(v));
	else
		snprintf(s->reason, sizeof(s->reason), "handshake: %s",
		    ssl_reason());
	ERR_clear_error();
	s->refused = 1;
}

int
tls_sess_feed(struct tls_sess *s, const uint8_t *p, size_t len)
{
	int n, rc, e;

	if (s->refused)
		return (CST_EPERM);
	/* OpenSSL counts in int: a larger feed goes in pieces. */
	while (len > FEED_MAX) {
		if ((rc = tls_sess_feed(s, p, FEED_MAX)) != 0)
			return (rc);
		p += FEED_MAX;
		len -= FEED_MAX;
	}
	if (len == 0 || s->closed)
		return (0);
	/*
	 * A TLS connection starts with a handshake record (content type
	 * 22): anything else is a sender that does not speak TLS, refused
	 * before OpenSSL guesses at it.
	 */
	if (!s->seen) {
		s->seen = 1;
		if (p[0] != 0x16) {
			tls_sess_refuse(s, "not TLS (plain text)");
			return (CST_EPERM);
		}
	}
	if (BIO_write(s->rb, p, (int)len) != (int)len) {
		ERR_clear_error();
		return (CST_ENOMEM);
	}
	if (!s->established) {
		ERR_clear_error();
		n = SSL_do_handshake(s->ssl);
		e = n == 1 ? SSL_ERROR_NONE : SSL_get_error(s->ssl, n);
		/* An alert for the peer goes out before the refusal. */
		rc = flush(s);
		if (e == SSL_ERROR_WANT_READ)
			return (rc);
		if (e != SSL_ERROR_NONE) {
			handshake_failed(s);
			return (CST_EPERM);
		}
		if (rc != 0)
			return (rc);
		if ((rc = accept_peer(s)) != 0)
			return (rc);
		s->established = 1;
	}
	for (;;) {
		ERR_clear_error();
		n = SSL_read(s->ssl, s->srv->plain, PLAIN_LEN);
		if (n > 0) {
			if ((rc = s->plain(s->ctx, s->srv->plain,
			    (size_t)n)) != 0)
				return (rc);
			continue;
		}
		e = SSL_get_error(s->ssl, n);
		if (e == SSL_ERROR_WANT_READ)
			break;
		if (e == SSL_ERROR_ZERO_RETURN) {
			s->closed = 1;
			break;
		}
		snprintf(s->reason, sizeof(s->reason), "record: %s",
		    ssl_reason());
		s->refused = 1;
		(void)flush(s);
		return (CST_EPERM);
	}
	return (flush(s));
}

int
tls_sess_write(struct tls_sess *s, const uint8_t *p, size_t len)
{
	size_t done = 0;
	int n;

	if (s->refused || s->closed)
		return (CST_EPERM);
	if (!s->established)
		return (CST_EAGAIN);
	while (done < len) {
		ERR_clear_error();
		/* Memory BIOs take everything: no partial write to retry. */
		n = SSL_write(s->ssl, p + done, (int)(len - done > FEED_MAX ?
		    FEED_MAX : len - done));
		if (n <= 0) {
			ERR_clear_error();
			return (CST_ENOMEM);
		}
		done += (size_t)n;
	}
	return (flush(s));
}

int
tls_sess_shutdown(struct tls_sess *s)
{

	if (s->refused || !s->established || s->shut)
		return (0);
	s->shut = 1;
	ERR_clear_error();
	/* With memory BIOs this only writes the alert: nothing to wait on. */
	(void)SSL_shutdown(s->ssl);
	ERR_clear_error();
	return (flush(s));
}

int
tls_sess_established(const struct tls_sess *s)
{

	return (s->established);
}

int
tls_sess_closed(const struct tls_sess *s)
{

	return (s->closed);
}

const char *
tls_sess_peer(const struct tls_sess *s, size_t *len)
{

	*len = s->peer_len;
	return (s->peer);
}

const char *
tls_sess_reason(const struct tls_sess *s)
{

	return (s->reason);
}
