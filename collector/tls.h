/*
 * TLS (RFC 5425) as a byte-stream filter, with OpenSSL through memory
 * BIOs so that the event loop never blocks on it: the caller reads the
 * socket and feeds the ciphertext in; the plaintext comes out to a
 * consumer callback (the deframer for syslog over TLS, RELP's parser for
 * relp+tls); what must go back to the peer (handshake messages, alerts,
 * a consumer's responses written with tls_sess_write) comes out to a send
 * callback, which writes it to the socket.  The filter owns no socket.
 *
 * Lifecycle:
 *
 *   tls_server_new (from [tls]) -> tls_sess_new per connection ->
 *   tls_sess_feed / tls_sess_write ... -> tls_sess_free;
 *   tls_server_unref when the server is no longer handed out.
 *
 * A session holds a reference to its server, so a reload (SIGHUP) makes
 * a new server for new connections while established ones go on with
 * the old certificates; the old server goes with its last session.
 *
 * A peer is refused (tls_sess_feed returns CST_EPERM and tls_sess_reason
 * says why) when its first byte cannot start a TLS record (plain text on
 * a TLS port), when the handshake fails (no certificate where ca is set,
 * a certificate that does not chain to ca, expired or not yet valid),
 * or when an allow list is set and the certificate matches no entry.
 * Loop thread only: a server's plaintext buffer is shared by its
 * sessions.
 */
#ifndef CUSTODY_COLLECTOR_TLS_H
#define CUSTODY_COLLECTOR_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"

#define TLS_ERR_LEN 256
/* Room for a refusal's reason. */
#define TLS_REASON_LEN 160

struct tls_server;
struct tls_sess;

/*
 * Plaintext from the peer, p[0..len) borrowed for the call.  0 goes on;
 * a negative error stops tls_sess_feed, which returns it.
 */
typedef int tls_plain_fn(void *ctx, const uint8_t *p, size_t len);

/*
 * Ciphertext for the peer, p[0..len) borrowed for the call (the callee
 * copies what it cannot write at once).  0, or a negative error.
 */
typedef int tls_send_fn(void *ctx, const uint8_t *p, size_t len);

/*
 * A server context from c (borrowed): the certificate chain, the key
 * (refused unless mode 0600 or stricter, R-KEY-3's rule for secrets),
 * the CA bundle and allow list, the lowest version.  *out is returned
 * with one reference, to drop with tls_server_unref.  Returns 0,
 * CST_EPERM (key file readable by others), CST_EPARSE (a bad allow
 * entry or version), CST_EKEY (a file that will not load) or CST_ENOMEM,
 * with a message in err.
 */
int tls_server_new(const struct conf_tls *c, struct tls_server **out,
    char err[TLS_ERR_LEN]);

/* Drops a reference to srv; the last frees it.  NULL is a no-op. */
void tls_server_unref(struct tls_server *srv);

/*
 * Checks one allow entry's syntax (sha256:HEX of 64 digits, colons
 * allowed between bytes; name:PATTERN).  0 or CST_EPARSE.
 */
int tls_allow_check(const char *entry);

/*
 * A session on srv (borrowed; the session takes its own reference) that
 * hands plaintext to plain and ciphertext to send, both with ctx.
 * *out is returned to free with tls_sess_free.  0 or CST_ENOMEM.
 */
int tls_sess_new(struct tls_server *srv, tls_plain_fn *plain,
    tls_send_fn *send, void *ctx, struct tls_sess **out);

/*
 * Feeds p[0..len) (borrowed), ciphertext read from the peer: advances
 * the handshake and hands every whole plaintext record to plain.
 * Returns 0, CST_EPERM (the peer is refused: tls_sess_reason; every
 * later call returns it too), CST_ENOMEM, or an error from a callback.
 */
int tls_sess_feed(struct tls_sess *s, const uint8_t *p, size_t len);

/*
 * Encrypts p[0..len) (borrowed) for the peer and hands it to send.
 * Only once established.  Returns 0, CST_EAGAIN (not established),
 * CST_EPERM (refused or closed), or an error from send.
 */
int tls_sess_write(struct tls_sess *s, const uint8_t *p, size_t len);

/* 1 once the handshake has completed and the peer was accepted. */
int tls_sess_established(const struct tls_sess *s);

/*
 * Sends our close_notify (RFC 5246 7.2.1, RFC 8446 6.1) through the send
 * callback, once, when the handshake is done: the peer learns that the
 * end of the stream is ours and not a cut.  Written before the caller
 * shuts the socket down.  0, or the send callback's error.
 */
int tls_sess_shutdown(struct tls_sess *s);

/* 1 once the peer has sent its close_notify: no more plaintext. */
int tls_sess_closed(const struct tls_sess *s);

/*
 * The identity of the certificate the peer showed, as SPEC section 5
 * field 6 writes it (R-REC-7): "sha256:<64 hex> <RFC 2253 subject>";
 * NULL while none was checked or when the peer sent none.  Set also for
 * a certificate the allow list refused.  Borrowed from s; *len its
 * length.
 */
const char *tls_sess_peer(const struct tls_sess *s, size_t *len);

/*
 * Why the peer was refused ("not TLS (plain text)", "certificate: ...",
 * "handshake: ...", "certificate not allowed"); "" if it was not.
 * Borrowed from s.
 */
const char *tls_sess_reason(const struct tls_sess *s);

/*
 * Notes a refusal the owner decides on (a handshake past the idle
 * timeout), so that tls_sess_reason says it.
 */
void tls_sess_refuse(struct tls_sess *s, const char *reason);

/* Frees s (and its reference to the server).  NULL is a no-op. */
void tls_sess_free(struct tls_sess *s);

#endif /* CUSTODY_COLLECTOR_TLS_H */
