/*
 * The files of checkpoints/ (and of the export directory) that the
 * writer and the timestamp fetcher both write: numbered checkpoints
 * ckpt-<20 digits>.ckpt with their tokens ckpt-<20 digits>.tsr and note
 * checkpoints ckpt-<20 digits>.note beside them (SPEC R-CKP-6, R-TSA-1,
 * R-TSA-4, R-NOTE-7), written atomically and durably.
 */
#ifndef CUSTODY_COLLECTOR_CKPTFILES_H
#define CUSTODY_COLLECTOR_CKPTFILES_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* "ckpt-" 20 digits ".ckpt" (or ".tsr"), and the NUL. */
#define CKPTFILES_NAME_LEN 31

/* The name of the numbered checkpoint, or token, covering blocks. */
void ckptfiles_name(uint64_t blocks, const char *ext,
    char out[CKPTFILES_NAME_LEN]);

/*
 * The blocks of the newest numbered checkpoint in dir (borrowed), in
 * *blocks (0: none).  Returns 0 or the error of opening dir
 * (cst_err_from_errno()).
 */
int ckptfiles_newest(const char *dir, uint64_t *blocks);

/*
 * Writes data[0..len) (borrowed) as dir/name (both borrowed): a temporary
 * file .name.tmp, fsync, rename, fsync of dir, so that dir/name is
 * either its old content or all of data, durably.  Returns 0 or the
 * failing call's errno as cst_err_from_errno() maps it.
 */
int ckptfiles_write(const char *dir, const char *name, const uint8_t *data,
    size_t len);

/*
 * Deletes the oldest numbered checkpoints of dir beyond keep, each with
 * its token and note, and tokens and notes whose checkpoint is gone; never the checkpoint
 * (nor token) of *pinned blocks (one whose token is being fetched;
 * 0: none).  Best effort: what cannot be deleted stays.
 */
void ckptfiles_prune(const char *dir, uint64_t keep,
    const _Atomic uint64_t *pinned);

#endif /* CUSTODY_COLLECTOR_CKPTFILES_H */
