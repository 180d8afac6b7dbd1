/*
 * The data directory (SPEC section 2) and the collector's keys: where they
 * live, the development default of creating them on first start, and
 * `custodyd keygen` for production, where the root secret stays offline.
 */
#ifndef CUSTODY_COLLECTOR_STORE_H
#define CUSTODY_COLLECTOR_STORE_H

#include <stdint.h>

#include "custody/keys.h"

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
 * (to keep offline), root.pub, and epoch.key (epoch 1, for the collector
 * host).  Refuses to overwrite a root.key.  Returns 0, CST_EEXIST or
 * CST_EIO with a message in err.
 */
int store_keygen(const char *out_dir, int64_t now_ns,
    char err[STORE_ERR_LEN]);

#endif /* CUSTODY_COLLECTOR_STORE_H */
