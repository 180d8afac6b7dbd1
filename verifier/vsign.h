/*
 * Detached CMS signatures of report files (--sign-with KEY --cert CERT):
 * FILE.p7s beside each FILE, DER, over the file's exact bytes, which
 * `openssl cms -verify -binary -inform DER -in FILE.p7s -content FILE`
 * checks.
 *
 * Lifecycle: vsign_new -> vsign_file* -> vsign_free.
 */
#ifndef CUSTODY_VSIGN_H
#define CUSTODY_VSIGN_H

#include <stddef.h>

struct vsign;

/*
 * Loads the PEM private key at key (borrowed), refused unless a regular
 * file of mode 0600 or stricter, and the PEM certificate at cert
 * (borrowed), which must match it.  Returns a signer, or NULL with
 * why[0..n) saying what failed.
 */
struct vsign *vsign_new(const char *key, const char *cert, char *why,
    size_t n);

/* Frees s; NULL is a no-op. */
void vsign_free(struct vsign *s);

/*
 * Writes path.p7s, a detached DER CMS signature of the file path
 * (borrowed) as it is now.  Returns 0, or -1 with why[0..n).
 */
int vsign_file(struct vsign *s, const char *path, char *why, size_t n);

#endif /* CUSTODY_VSIGN_H */
