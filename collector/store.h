/*
 * The data directory (SPEC section 2) and the collector's keys: where they
 * live, the development default of creating them on first start, and
 * `custodyd keygen` for production, where the root secret stays offline.
 */
#ifndef CUSTODY_COLLECTOR_STORE_H
#define CUSTODY_COLLECTOR_STORE_H

#include <stdint.h>

#include "custody/keys.h"
#include "custody/logkey.h"

#define STORE_ERR_LEN 512

/*
 * Creates data_dir and its segments/, quarantine/, keys/ and checkpoints/
 * directories (mode 0700) where missing.  Returns 0 or CST_EIO with a
 * message in err.
 */
int store_prepare(const char *data_dir, char err[STORE_ERR_LEN]);

/*
 * Loads data_dir/keys/epoch.key, checked against data_dir/keys/root.pub,
 * into *key (returned, to free with cst_epoch_key_free) and *root.  When
 * there is no epoch key, and create is set and the store holds no
 * segment, makes a development key set (root.key, root.pub, epoch.key)
 * first and sets *created.  Returns 0, CST_ENOENT (no key and may not
 * create), CST_EPERM (R-KEY-3), CST_EKEY, CST_ESIG, CST_EFOREIGN or
 * CST_EIO, with a message in err.
 */
int store_keys(const char *data_dir, int create, int64_t now_ns,
    cst_epoch_key **key, cst_root_pub *root, int *created,
    char err[STORE_ERR_LEN]);

/*
 * Makes a new chain's keys in out_dir (created 0700 if missing): root.key
 * (to keep offline), root.pub, epoch.key (epoch 1, for the collector
 * host), and log.key with log.cert (the log key, SPEC 13.2).  Refuses to
 * overwrite a root.key.  Returns 0, CST_EEXIST or
 * CST_EIO with a message in err.
 */
int store_keygen(const char *out_dir, int64_t now_ns,
    char err[STORE_ERR_LEN]);

/*
 * Makes a log key for the chain of the root secret file root_key
 * (borrowed path) in out_dir (created 0700 if missing): log.key (0600,
 * must not exist) and log.cert, certified by that root (R-TLOG-3/4).
 * For a store made before log keys.  Returns 0, CST_EEXIST, CST_EPERM,
 * CST_EKEY or CST_EIO with a message in err.
 */
int store_log_keygen(const char *out_dir, const char *root_key,
    char err[STORE_ERR_LEN]);

/*
 * Loads data_dir/keys/log.key into *lk (returned, to free with
 * cst_log_key_free) and data_dir/keys/log.cert into *cert, and checks
 * that the certificate is root's and certifies that key.  With create
 * set, a store whose keys/root.key is at hand (development) and that has
 * no log key gets one first.  Returns 0, CST_ENOENT (no log key: the
 * store writes no note checkpoints), CST_EPERM, CST_EKEY, CST_EPARSE,
 * CST_ESIG, CST_EFOREIGN or CST_EIO, with a message in err.
 */
int store_log_key(const char *data_dir, const cst_root_pub *root, int create,
    cst_log_key **lk, cst_log_cert *cert, char err[STORE_ERR_LEN]);

/*
 * Writes the log's verifier key (SPEC 13.3; what a witness operator is
 * given), NUL-terminated, to out[0..outlen), from the log.cert found in
 * dir/keys/, dir/ or dir/checkpoints/ (a data directory, a keygen output
 * directory or a copy of the checkpoints), checked against the root.pub
 * beside it when there is one.  Returns 0, CST_ENOENT, CST_EPARSE,
 * CST_ESIG, CST_EFOREIGN, CST_ENOMEM or CST_EIO with a message in err.
 */
int store_vkey(const char *dir, char *out, size_t outlen,
    char err[STORE_ERR_LEN]);

#endif /* CUSTODY_COLLECTOR_STORE_H */
