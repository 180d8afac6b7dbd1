/*
 * The reader's side of access records (SPEC section 13): before it shows
 * anything, a reader on the collector's host tells the collector's
 * control socket what it was asked (its command line); after, how many
 * records it showed and the SHA-256 of a bundle it wrote.  The collector
 * seals both with the kernel's credentials of the connection (R-ACC-1).
 */
#ifndef CUSTODY_VERIFIER_ACCESS_H
#define CUSTODY_VERIFIER_ACCESS_H

#include <stddef.h>
#include <stdint.h>

#define ACCESS_WHY_LEN 512
/* How long a collector may take to answer one line. */
#define ACCESS_TIMEOUT_S 5

struct access;

/* Room for the command of a begin line (R-CTL-2), NUL included. */
#define ACCESS_COMMAND_LEN (4096 - 7)

/*
 * Connects to the control socket path (borrowed) and sends the begin
 * line with command (borrowed, from access_command).  Returns 0 and *out
 * (to access_end), or -1 with the reason in why (errno's text where a
 * system call failed, or the collector's answer).
 */
int access_begin(const char *path, const char *command,
    struct access **out, char why[ACCESS_WHY_LEN]);

/* The id the collector gave the access. */
uint64_t access_id(const struct access *a);

/*
 * Sends the end line: shown, and bundle_sha256 (64 hex digits, borrowed;
 * NULL: no bundle), waits for the answer and frees a.  Returns 0 or -1
 * with why.  a NULL: returns 0.
 */
int access_end(struct access *a, uint64_t shown, const char *bundle_sha256,
    char why[ACCESS_WHY_LEN]);

/*
 * The command line argv[0..argc) (borrowed) as the begin line carries it,
 * quoted as a shell reads it (control bytes as \xNN), into out (cap
 * bytes, NUL-terminated, cut with " [cut]" to fit).  Taken before getopt
 * reorders argv.
 */
void access_command(int argc, char **argv, char *out, size_t cap);

#endif /* CUSTODY_VERIFIER_ACCESS_H */
