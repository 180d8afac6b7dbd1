/*
 * The key file primitives of keys.c, shared with logkey.c: atomic writes
 * and the R-KEY-3 checked read.  Private to formats/.
 */
#ifndef CUSTODY_KEYFILE_H
#define CUSTODY_KEYFILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Writes data[0..len) (borrowed) to path with mode through a temporary
 * file, fsync and rename (replace nonzero) or link (replace 0: fails with
 * CST_EEXIST when path exists).  Returns 0, CST_EEXIST or the errno's
 * code.
 */
int cst_keyfile_write(const char *path, const uint8_t *data, size_t len,
    mode_t mode, int replace);

/*
 * Reads the key file path whole into *text (returned, sodium_malloc'd, to
 * sodium_free) of *len bytes; when secret, refuses a file anyone but its
 * owner can read or write (CST_EPERM, R-KEY-3).  Returns 0, CST_EPERM,
 * CST_EKEY (too large), CST_ENOENT, CST_ENOMEM or CST_EIO.
 */
int cst_keyfile_read(const char *path, int secret, char **text, size_t *len);

#endif /* CUSTODY_KEYFILE_H */
