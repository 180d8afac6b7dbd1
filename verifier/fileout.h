/*
 * Files the read side hands on (bundles, disclosed records, case record
 * entries): written whole under a temporary name, fsync'ed, then renamed,
 * so that a reader never sees half of one.
 */
#ifndef CUSTODY_VERIFIER_FILEOUT_H
#define CUSTODY_VERIFIER_FILEOUT_H

#include <stddef.h>
#include <stdint.h>

/*
 * Writes p[0..len) (borrowed) to path (borrowed) through "path.tmp",
 * which must not exist.  excl: fail with EEXIST when path exists (link
 * instead of rename).  Returns 0, or -1 with errno set and no file left
 * behind.
 */
int fileout_write(const char *path, const uint8_t *p, size_t len, int excl);

#endif /* CUSTODY_VERIFIER_FILEOUT_H */
