/*
 * The report of a verification: what custody-verify prints, as text for a
 * person or as JSON for a program, and the plain statements of what was
 * proven and what was not.
 *
 * A vreport gathers what the run saw (findings, input files and their
 * digests, the trust anchor) beside the verifier it borrows; nothing is
 * printed until vreport_text or vreport_json.
 */
#ifndef CUSTODY_VREPORT_H
#define CUSTODY_VREPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "custody/keys.h"
#include "custody/verify.h"

#include "exit.h"
#include "vcase.h"

enum vreport_verdict {
	VREPORT_INTACT = EXIT_OK,
	VREPORT_FAILED = EXIT_INTEGRITY,
	VREPORT_ERROR = EXIT_IO,        /* could not verify */
};

struct vreport_input {
	char *path;
	const char *role;       /* "segment", "root", "checkpoint", ... */
	uint64_t size;
	int ok;                 /* read and digested */
	cst_digests d;
};

/* What became of one timestamp token file (SPEC section 15). */
enum vreport_token_state {
	VREPORT_TOKEN_VERIFIED = 0,   /* R-TSA-5 holds */
	VREPORT_TOKEN_UNVERIFIED,     /* no --tsa-cert: not checked (R-TSA-6) */
	VREPORT_TOKEN_FAILED,         /* a failure, in why */
	VREPORT_TOKEN_ALONE,          /* no checkpoint beside it: not checked */
	VREPORT_TOKEN_UNKNOWN,        /* R-TSA-5 holds, revocation status
	                                 unknown: not counted (R-TSA-9) */
};

struct vreport_token {
	char *path;
	char *checkpoint;       /* the .ckpt beside it */
	int state;              /* enum vreport_token_state */
	int64_t gen_ns;         /* genTime, when verified */
	int64_t accuracy_ns;    /* -1: none stated */
	uint64_t blocks;        /* what its checkpoint covers */
	uint64_t records;
	char tsa[256];          /* the signer's subject */
	int revocation;         /* enum cst_ts_revocation, when checked */
	char *why;              /* the failure; NULL */
};

struct vreport {
	int64_t verified_ns;    /* when the run started */
	cst_root_pub root;
	int has_root;
	char *root_source;      /* the file it came from */
	int root_from_store;    /* taken from the store being verified */
	char *root_fpr_given;   /* --root-fpr, as given; NULL */
	int root_fpr_ok;        /* the key has the fingerprint given */
	int live;
	const cst_verifier *v;  /* borrowed; NULL when no walk was made */
	struct vreport_input *inputs;
	size_t ninputs;
	cst_finding *findings;  /* copies, strings owned */
	size_t nfindings;
	char *error;            /* why nothing could be verified; NULL */
	struct vreport_token *tokens;
	size_t ntokens;
	int tsa_given;          /* TSA certificates were given (--tsa-cert) */
	int tsa_crl_given;      /* CRLs were given (--tsa-crl, R-TSA-9) */
	struct vcase cs;        /* the case, fields NULL when not given */
	char *cmdline;          /* the command, shell-quoted; NULL */
	/* How the run was made (vreport_env), for the examiner's report. */
	char exe_sha256[65];    /* of the running binary; "" unknown */
	char local_time[96];    /* verified_ns in the local zone */
	char clock[192];        /* the host clock's synchronisation */
	char *origin;           /* where the store was read from when not
	                           a directory given (--nats); NULL */
};

/* Initialises r empty, noting the time. */
void vreport_init(struct vreport *r);

/* Frees what r owns (not r->v); safe on an initialised report. */
void vreport_free(struct vreport *r);

/*
 * Copies finding f (borrowed) into r.  Returns 0 or CST_ENOMEM.  Usable
 * directly as a cst_finding_cb through vreport_finding_cb.
 */
int vreport_add_finding(struct vreport *r, const cst_finding *f);

/* A cst_finding_cb whose ctx is a struct vreport. */
void vreport_finding_cb(const cst_finding *f, void *ctx);

/*
 * Records input file path (borrowed, copied) in role (a static string),
 * digesting it unless d (borrowed) gives its digests already.  Returns 0
 * or CST_ENOMEM; a file that cannot be read is recorded as such.
 */
int vreport_add_input(struct vreport *r, const char *path, const char *role,
    const cst_digests *d, uint64_t size);

/* The verdict of the run. */
int vreport_verdict(const struct vreport *r);

/*
 * Whether an intact run leaves something present unverified that the
 * verdict line must warn of (SPEC R-VER-2): a partial frame at the end
 * of the newest segment outside --live, files in segments/ that are not
 * segments.  Returns 0, or 1 with one sentence in out[0..n).
 */
int vreport_warning(const struct vreport *r, char *out, size_t n);

/*
 * Adds a copy of token t (borrowed; its strings copied) to r.  Returns 0
 * or CST_ENOMEM.
 */
int vreport_add_token(struct vreport *r, const struct vreport_token *t);

/*
 * Fills r's exe_sha256 (of /proc/self/exe), local_time and clock (from
 * ntp_adjtime), each "unknown" when it cannot be told.
 */
void vreport_env(struct vreport *r);

/* Writes the report for a person to f. */
void vreport_text(FILE *f, const struct vreport *r);

/* Writes the report as one JSON object to f (SPEC-independent schema). */
void vreport_json(FILE *f, const struct vreport *r);

/* Writes "2024-03-01T00:00:00.000000001Z" into out (40 bytes). */
void vreport_time(int64_t ns, char out[40]);

#endif /* CUSTODY_VREPORT_H */
