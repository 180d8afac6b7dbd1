/*
 * The witness role (SPEC section 14, R-WIT-1..4, R-WIT-7's evidence):
 * checks a log's add-checkpoint request against the latest checkpoint
 * it cosigned for that log, keeps that state durably, and cosigns.  No
 * sockets: witness_srv.c serves it over HTTPS.
 *
 * Threads: witness_add_checkpoint may be called from any thread; one
 * mutex makes each request's check of `old` and its state write one
 * step (R-WIT-3), so requests are served one at a time.
 */
#ifndef CUSTODY_COLLECTOR_WITNESS_H
#define CUSTODY_COLLECTOR_WITNESS_H

#include <stddef.h>
#include <stdint.h>

#include "custody/buf.h"
#include "custody/note.h"

#define WITNESS_ERR_LEN 256

struct witness;

/* The answer to one request, and what a refusal record needs (R-WIT-7). */
struct witness_answer {
	unsigned status;              /* 200, 400, 403, 404, 409, 422, 500 */
	const char *content_type;     /* static */
	cst_buf body;                 /* the response body; owned */
	char reason[160];             /* refusals: why */
	char origin[CST_NOTE_MAX_NAME + 1]; /* as received; may be "" */
	size_t origin_len;
	uint64_t old;
	uint64_t size;
	uint64_t latest;
	int have_latest;
	char request_sha256[65];
	char evidence[80];            /* "" when none was kept */
};

/* Frees what a holds; safe on a zeroed struct and twice. */
void witness_answer_close(struct witness_answer *a);

/*
 * Opens the witness: its secret key file key_path (refused unless mode
 * 0600 or stricter), the verifier keys logs[0..nlogs) of the logs it
 * witnesses (text form, R-NOTE-1's names), and data_dir/witness/ for its
 * state and evidence (created).  All borrowed.  *out is returned to free
 * with witness_close.  Returns 0, CST_EPERM, CST_EKEY, CST_EINVAL (a bad
 * log key, two for one origin), CST_EIO or CST_ENOMEM, with err.
 */
int witness_open(const char *data_dir, const char *key_path,
    char *const *logs, size_t nlogs, struct witness **out,
    char err[WITNESS_ERR_LEN]);

/*
 * What witness_open checks of its key and logs, without opening anything
 * (custodyd --check).  0, or witness_open's errors with err.
 */
int witness_check(const char *key_path, char *const *logs, size_t nlogs,
    char err[WITNESS_ERR_LEN]);

/* Wipes the key and frees w; NULL is a no-op. */
void witness_close(struct witness *w);

/* The witness's verifier key (cosignature/v1, alg 0x04), borrowed. */
const cst_note_vkey *witness_vkey(const struct witness *w);

/*
 * Answers the add-checkpoint request body[0..len) (borrowed, hostile)
 * into a (zeroed by the call; close it with witness_answer_close), as
 * R-WIT-2 orders the checks.  A 200 has been made durable first
 * (R-WIT-3).  A refusal whose log signature verified keeps the body in
 * witness/refused/ (a->evidence).  Returns 0 (a is the answer, whatever
 * its status) or CST_ENOMEM.
 */
int witness_add_checkpoint(struct witness *w, const uint8_t *body,
    size_t len, struct witness_answer *a);

/*
 * `custodyd keygen --witness-key`: makes a new witness key for name
 * (borrowed, R-NOTE-1) in path (must not exist, 0600) and appends its
 * verifier key text to vkey.  Returns 0, CST_EINVAL, CST_EEXIST, CST_EIO
 * or CST_ENOMEM.
 */
int witness_keygen(const char *path, const char *name, cst_buf *vkey);

#endif /* CUSTODY_COLLECTOR_WITNESS_H */
