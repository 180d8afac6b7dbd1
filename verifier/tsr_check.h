/*
 * custody-verify's check of RFC 3161 timestamp tokens beside checkpoints
 * (SPEC section 15, R-TSA-5, R-TSA-6, R-TSA-9): each outcome goes into the report
 * as a token entry, a finding when it fails, and an input file.
 */
#ifndef CUSTODY_TSR_CHECK_H
#define CUSTODY_TSR_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "custody/timestamp.h"
#include "custody/verify.h"

#include "vreport.h"

/* A checkpoint file as the run read and checked it (all borrowed). */
struct tsr_ckpt {
	const char *path;
	const uint8_t *text;     /* its bytes; NULL: could not be read */
	size_t len;
	const cst_ckp_info *info; /* its R-CKP-1/2 outcome */
};

/*
 * The path of the token that stands for checkpoint path (borrowed):
 * its name with .ckpt replaced by .tsr, returned to free; NULL when
 * path does not end in .ckpt.  Exits on memory exhaustion, like the
 * rest of the program.
 */
char *tsr_check_token_path(const char *path);

/*
 * The checkpoint path a token path (borrowed) stands for, returned to
 * free; NULL when path does not end in .tsr.
 */
char *tsr_check_ckpt_path(const char *path);

/*
 * Checks the token file path (borrowed) against ckpt (borrowed; NULL
 * when no checkpoint file is beside it) with trust (NULL: no TSA
 * certificate given, R-TSA-6; with CRLs in it, revocation too, R-TSA-9),
 * and records the outcome in r.  Returns 0
 * or CST_ENOMEM.
 */
int tsr_check(struct vreport *r, const char *path,
    const struct tsr_ckpt *ckpt, cst_ts_trust *trust);

#endif /* CUSTODY_TSR_CHECK_H */
