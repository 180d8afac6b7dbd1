/*
 * Where the store is, when the path given is not one: the two mistakes
 * made most often under pressure are giving an evidence bundle where a
 * store is expected, and giving the directory above the store
 * (/var/lib for /var/lib/custody).  custody-query and custody-verify
 * both say the same thing about them.
 */
#ifndef CUSTODY_STORE_WHERE_H
#define CUSTODY_STORE_WHERE_H

#include <stddef.h>

/*
 * Is path (borrowed) a store directory, one with segments/?  Returns 0
 * when it is; otherwise writes one sentence to why (len bytes) saying
 * what path is instead and what to give, and returns -1: a bundle names
 * the custody-verify command that reads it, a directory names the
 * stores found up to two levels below it.
 */
int store_where_explain(const char *path, char *why, size_t len);

/*
 * Is the regular file path (borrowed) an evidence bundle?  Then writes
 * to why (len bytes) the custody-verify command that reads it and
 * returns -1; otherwise 0.
 */
int store_where_bundle(const char *path, char *why, size_t len);

#endif /* CUSTODY_STORE_WHERE_H */
