/*
 * The log side of witnessing (SPEC R-WIT-5, R-WIT-6): a thread that
 * submits each new note checkpoint to every configured witness (libcurl,
 * HTTPS checked against witness.ca), verifies each cosignature with that
 * witness's key and adds it to checkpoints/ckpt-<size>.note.  It reads
 * what the writer has written (checkpoints/latest.note) and proofs from
 * the tree store, and waits on nothing the writer or the loop holds, so
 * a slow or dead witness never slows ingest.
 *
 * Lifecycle: submit_new -> submit_start -> (submit_kick ...) ->
 * submit_free (stops and joins).  Counters are atomics, read by any
 * thread (metrics).
 */
#ifndef CUSTODY_COLLECTOR_SUBMIT_H
#define CUSTODY_COLLECTOR_SUBMIT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "custody/format.h"
#include "custody/note.h"

#define SUBMIT_ERR_LEN 256

/* One witness's counters (metrics, custodyd status). */
struct submit_peer_ctr {
	char url[128];
	char name[256];                     /* the witness key's name */
	_Atomic uint64_t submissions;
	_Atomic uint64_t failures;
	_Atomic uint64_t conflicts;         /* 409 answers */
	_Atomic uint64_t cosigned_size;     /* 0: none yet */
	_Atomic int64_t cosigned_at_s;      /* when it last cosigned; 0 */
};

struct submit;

/*
 * The consistency proof from tree size m to n (0 < m < n) of the store's
 * chain tree into proof (room for CST_TLOG_MAX_PROOF), its length in
 * *len: treestore_consistency, callable from the submitter's thread.
 * 0 or an error.
 */
typedef int submit_proof_fn(void *arg, uint64_t m, uint64_t n,
    uint8_t (*proof)[CST_HASH_LEN], size_t *len);

/*
 * Prepares submission for data_dir (borrowed) to the peers of w
 * (borrowed for the call: copied), with TLS client files of tls (NULL
 * when none), proofs from prove(arg) (outlives the submitter).  When
 * export_dir (borrowed; NULL: none) holds the same numbered note, it gets
 * the cosignatures too.  Returns 0, CST_EINVAL (a bad peer entry) or
 * CST_ENOMEM, with err.
 */
int submit_new(const char *data_dir, const char *export_dir,
    const struct conf_witness *w,
    const struct conf_tls *tls, submit_proof_fn *prove, void *arg,
    struct submit **out, char err[SUBMIT_ERR_LEN]);

/*
 * Parses a witness.peer entry (borrowed): "https://HOST:PORT KEY" into
 * url[0..urllen) and vkey (cosignature/v1); *vk (may be NULL) points at
 * the key text in entry.  0 or CST_EINVAL with err.
 */
int submit_peer_parse(const char *entry, char *url, size_t urllen,
    cst_note_vkey *vkey, const char **vk, char err[SUBMIT_ERR_LEN]);

/* Starts the thread.  0 or CST_ENOMEM. */
int submit_start(struct submit *s);

/* A new note checkpoint may be there: look now.  Any thread. */
void submit_kick(struct submit *s);

/* Peers, and one peer's counters (borrowed from s). */
size_t submit_npeers(const struct submit *s);
struct submit_peer_ctr *submit_peer(struct submit *s, size_t i);

/* 1 while no witness has cosigned for longer than stale_after. */
int submit_stale(const struct submit *s);

/* Stops and joins the thread, frees s.  NULL: no-op. */
void submit_free(struct submit *s);

#endif /* CUSTODY_COLLECTOR_SUBMIT_H */
