/*
 * custody-verify --witness / --quorum (SPEC R-WIT-8): which note
 * checkpoints witnesses cosigned, and whether the store reaches the
 * newest one a quorum cosigned.  Runs after the verifier has checked the
 * notes (cst_verifier_notes: log signature, R-NOTE-6 against the store).
 */
#ifndef CUSTODY_VERIFIER_WITNESS_VERIFY_H
#define CUSTODY_VERIFIER_WITNESS_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "custody/note.h"
#include "custody/verify.h"

#include "vreport.h"

/* A note's text as read before the run, and where it came from. */
struct wv_note {
	const char *path;
	const uint8_t *text;
	size_t len;
};

/*
 * Parses a --witness argument (borrowed): a file holding one verifier
 * key line, or the key text itself; must be a cosignature/v1 key.
 * Returns 0 or CST_EKEY.
 */
int wv_key_parse(const char *arg, cst_note_vkey *out);

/*
 * Checks notes[0..n) (borrowed) against keys[0..nkeys) with quorum
 * (1..nkeys) and v's results for the same notes (matched by path), and
 * adds findings to r: the newest witnessed note (a failure when the store
 * does not reach it: truncated, rolled back or rewritten), or a warning
 * when no note has a quorum.  Fills the summary line text (borrowed
 * buffer of len bytes) for the report.  Returns 0 or CST_ENOMEM.
 */
int wv_check(const cst_verifier *v, const struct wv_note *notes, size_t n,
    const cst_note_vkey *keys, size_t nkeys, unsigned quorum,
    struct vreport *r);

#endif /* CUSTODY_VERIFIER_WITNESS_VERIFY_H */
