/*
 * --root-dir DIR: the trust anchors of a fleet, one file per chain, for
 * custody-verify and custody-query over several stores.
 *
 * DIR holds, for each chain, either its root public key as
 * <chain id hex>.pub (the root.pub line, SPEC section 6), or its root
 * key's fingerprint as <chain id hex>.fpr (32 or 64 hex digits, a final
 * LF allowed): then the key is read from the store's keys/root.pub and
 * must have that fingerprint.  The chain id (32 lowercase hex digits) is
 * read from the store's keys/root.pub only to choose the file; nothing
 * else of it is trusted without a .fpr, and a store whose segments are of
 * another chain than the key chosen fails verification as foreign.
 */
#ifndef CUSTODY_ROOT_DIR_H
#define CUSTODY_ROOT_DIR_H

#include <stddef.h>

#include "custody/keys.h"

/*
 * Finds the root key of the store at store (borrowed) in the directory
 * dir (borrowed).  On success fills *root, sets *path (returned to free)
 * to the file the key was read from (the .pub in dir, or the store's
 * keys/root.pub checked against the .fpr in dir) and *fpr (returned to
 * free, or NULL) to the fingerprint given, and returns 0.  Otherwise
 * writes one sentence to why (len bytes) naming the chain and the file
 * looked for, and returns -1 when there is no usable key (none for the
 * chain: refused; a key file of another chain), or 1 when the store's
 * key does not have the fingerprint given (an integrity failure: the
 * store's root.pub was replaced), with *path and *fpr set as on success
 * so that the verifier reports it.
 */
int root_dir_find(const char *dir, const char *store, cst_root_pub *root,
    char **path, char **fpr, char *why, size_t len);

#endif /* CUSTODY_ROOT_DIR_H */
