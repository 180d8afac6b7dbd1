/*
 * Durable file writes shared by the key files (SPEC 6.2) and the segment
 * writer (SPEC 3, 9).  Private to formats/ and the programs built beside
 * it.
 */
#ifndef CUSTODY_FSUTIL_H
#define CUSTODY_FSUTIL_H

#include <stddef.h>
#include <stdint.h>

/*
 * Writes data[0..len) (borrowed) to fd in full, through short writes and
 * EINTR.  When written (borrowed) is not NULL, adds to *written every byte
 * that reached fd, also those before a failure.  Returns 0, or the
 * write's errno as cst_err_from_errno() maps it (CST_ENOSPC, CST_EIO...).
 */
int cst_fs_write_all(int fd, const uint8_t *data, size_t len,
    uint64_t *written);

/*
 * Syncs the directory dir (borrowed), so that a name created, linked or
 * renamed in it is durable.  Returns 0 or the errno's code
 * (cst_err_from_errno()).
 */
int cst_fs_sync_dir(const char *dir);

/*
 * Syncs the directory holding path (borrowed): its text before the last
 * '/', "/" for a file in the root, "." when there is no '/'.  Returns 0,
 * CST_EIO when memory runs out, or cst_fs_sync_dir()'s code.
 */
int cst_fs_sync_dir_of(const char *path);

#endif /* CUSTODY_FSUTIL_H */
