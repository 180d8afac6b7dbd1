/*
 * Small durable files of the witness role (SPEC section 14): state,
 * evidence and the log's record of its witnesses.  Any thread.
 */
#ifndef CUSTODY_COLLECTOR_WFILE_H
#define CUSTODY_COLLECTOR_WFILE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Replaces path (borrowed) with data[0..len) so that a crash leaves the
 * old or the new content, never a mix, and the new is durable when this
 * returns: path.tmp written and fsync'ed, renamed over path, directory
 * fsync'ed (R-WIT-3).  mode for a new file.  Returns 0 or the errno's
 * code (cst_err_from_errno).
 */
int wfile_replace(const char *path, const void *data, size_t len,
    unsigned mode);

/*
 * Reads path (borrowed) whole into buf[0..cap) and *len.  Returns 0,
 * CST_ENOENT, CST_ETOOBIG (longer than cap) or the errno's code.
 */
int wfile_read(const char *path, void *buf, size_t cap, size_t *len);

/*
 * Creates dir and its parents below base ("witness/state" under the
 * data directory), mode 0700.  Returns 0 or the errno's code.
 */
int wfile_mkdirs(const char *base, const char *sub);

#endif /* CUSTODY_COLLECTOR_WFILE_H */
