/*
 * The exit statuses of custody-verify (a store or, with --bundle, an
 * evidence bundle) and custody-query: one scheme for both, so that a
 * script tells "the evidence does not verify" (1) from "nothing could be
 * checked" (2) the same way whichever tool it ran.  Documented in each
 * tool's --help, in README.md and in verifier/VERIFY.md.
 */
#ifndef CUSTODY_EXIT_H
#define CUSTODY_EXIT_H

/* Intact: every check made passed (custody-query: every record shown). */
#define EXIT_OK 0
/* An integrity failure was found; the report locates each one. */
#define EXIT_INTEGRITY 1
/*
 * Usage and I/O errors share a status: either way nothing is proven about
 * what was not read, and the message on stderr says which it was.
 */
#define EXIT_USAGE 2
#define EXIT_IO 2

#endif /* CUSTODY_EXIT_H */
