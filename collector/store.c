/*
 * The data directory and the collector's keys.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "custody/buf.h"
#include "custody/error.h"
#include "custody/keys.h"
#include "custody/logkey.h"
#include "custody/note.h"

#include "recovery.h"
#include "store.h"
#include "log.h"

#define PATH_LEN 4096

/* The reason for a failure, into err (STORE_ERR_LEN-sized): log.h. */
#define seterr(err, ...) log_seterr(err, STORE_ERR_LEN, __VA_ARGS__)

static int
mkdir_0700(const char *path, char *err)
{
	struct stat sb;

	if (mkdir(path, 0700) == 0)
		return (0);
	if (errno == EEXIST && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
		return (0);
	seterr(err, "%s: cannot create directory: %s", path, strerror(errno));
	return (CST_EIO);
}

int
store_prepare(const char *data_dir, char err[STORE_ERR_LEN])
{
	static const char *subdirs[] = { "segments", "quarantine", "keys",
	    "checkpoints" };
	char path[PATH_LEN];
	size_t i;
	int rc;

	if ((rc = mkdir_0700(data_dir, err)) != 0)
		return (rc);
	for (i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		if (snprintf(path, sizeof(path), "%s/%s", data_dir,
		    subdirs[i]) >= (int)sizeof(path)) {
			seterr(err, "%s: path too long", data_dir);
			return (CST_EIO);
		}
		if ((rc = mkdir_0700(path, err)) != 0)
			return (rc);
	}
	return (0);
}

/*
 * Makes a log key for root's chain and saves dir/log.key (0600, must not
 * exist) and dir/log.cert, certified by root (R-TLOG-3, R-TLOG-4).
 */
static int
make_log_key(const char *dir, const cst_root_key *root, char *err)
{
	char lkey[PATH_LEN], lcert[PATH_LEN];
	cst_log_key *lk;
	cst_log_cert c;
	int rc;

	if (snprintf(lkey, PATH_LEN, "%s/log.key", dir) >= PATH_LEN ||
	    snprintf(lcert, PATH_LEN, "%s/log.cert", dir) >= PATH_LEN) {
		seterr(err, "%s: path too long", dir);
		return (CST_EIO);
	}
	if ((rc = cst_log_key_generate(root->pub.chain_id, &lk)) != 0) {
		seterr(err, "generating the log key: %s", cst_strerror(rc));
		return (rc);
	}
	if ((rc = cst_log_key_save(lk, lkey)) != 0) {
		seterr(err, "%s: %s", lkey, rc == CST_EEXIST ?
		    "exists: not overwriting a log key" : cst_strerror(rc));
		goto err1;
	}
	cst_log_cert_make(root, lk->pk, &c);
	if ((rc = cst_log_cert_save(&c, lcert)) != 0)
		seterr(err, "%s: %s", lcert, cst_strerror(rc));
err1:
	cst_log_key_free(lk);
	return (rc);
}

/* Saves root.key (unless path_key is NULL), root.pub and epoch 1. */
static int
make_keys(const char *dir, int64_t now_ns, char *err)
{
	char rkey[PATH_LEN], rpub[PATH_LEN], ekey[PATH_LEN];
	cst_root_key *root;
	cst_epoch_key *ek;
	int rc;

	if (snprintf(rkey, PATH_LEN, "%s/root.key", dir) >= PATH_LEN ||
	    snprintf(rpub, PATH_LEN, "%s/root.pub", dir) >= PATH_LEN ||
	    snprintf(ekey, PATH_LEN, "%s/epoch.key", dir) >= PATH_LEN) {
		seterr(err, "%s: path too long", dir);
		return (CST_EIO);
	}
	if ((rc = cst_root_key_generate(&root)) != 0) {
		seterr(err, "generating the root key: %s", cst_strerror(rc));
		goto err0;
	}
	if ((rc = cst_root_key_save(root, rkey, rpub)) != 0) {
		seterr(err, "%s: %s", rc == CST_EEXIST ? rkey : dir,
		    rc == CST_EEXIST ? "exists: not overwriting a root key" :
		    cst_strerror(rc));
		goto err1;
	}
	if ((rc = cst_epoch_key_first(root, now_ns, &ek)) != 0) {
		seterr(err, "generating the epoch key: %s", cst_strerror(rc));
		goto err1;
	}
	if ((rc = cst_epoch_key_save(ek, ekey)) != 0) {
		seterr(err, "%s: %s", ekey, cst_strerror(rc));
		goto err2;
	}
	if ((rc = make_log_key(dir, root, err)) != 0)
		goto err2;
	cst_epoch_key_free(ek);
	cst_root_key_free(root);
	return (0);

err2:
	cst_epoch_key_free(ek);
err1:
	cst_root_key_free(root);
err0:
	return (rc);
}

/*
 * A development start interrupted between root.key and epoch.key: make
 * epoch 1 from the root key already saved.
 */
static int
finish_keys(const char *rkey, const char *ekey, int64_t now_ns, char *err)
{
	cst_root_key *root;
	cst_epoch_key *ek;
	int rc;

	if ((rc = cst_root_key_load(rkey, &root)) != 0) {
		seterr(err, "%s: %s", rkey, cst_strerror(rc));
		goto err0;
	}
	if ((rc = cst_epoch_key_first(root, now_ns, &ek)) != 0) {
		seterr(err, "generating the epoch key: %s", cst_strerror(rc));
		goto err1;
	}
	if ((rc = cst_epoch_key_save(ek, ekey)) != 0)
		seterr(err, "%s: %s", ekey, cst_strerror(rc));
	cst_epoch_key_free(ek);
err1:
	cst_root_key_free(root);
err0:
	return (rc);
}

int
store_keys(const char *data_dir, int create, int64_t now_ns,
    cst_epoch_key **key, cst_root_pub *root, int *created,
    char err[STORE_ERR_LEN])
{
	char kdir[PATH_LEN], segdir[PATH_LEN];
	char rkey[PATH_LEN], rpub[PATH_LEN], ekey[PATH_LEN];
	uint64_t n;
	int rc;

	*created = 0;
	if (snprintf(kdir, PATH_LEN, "%s/keys", data_dir) >= PATH_LEN ||
	    snprintf(segdir, PATH_LEN, "%s/segments", data_dir) >= PATH_LEN ||
	    snprintf(rkey, PATH_LEN, "%s/root.key", kdir) >= PATH_LEN ||
	    snprintf(rpub, PATH_LEN, "%s/root.pub", kdir) >= PATH_LEN ||
	    snprintf(ekey, PATH_LEN, "%s/epoch.key", kdir) >= PATH_LEN) {
		seterr(err, "%s: path too long", data_dir);
		return (CST_EIO);
	}
	if (access(ekey, F_OK) != 0) {
		if (!create) {
			seterr(err, "%s: no epoch key; make one with "
			    "`custodyd keygen --out DIR` and copy root.pub and "
			    "epoch.key into %s (or set keys.create = yes for "
			    "a development store)", ekey, kdir);
			return (CST_ENOENT);
		}
		if (recovery_newest_segment(segdir, &n) != CST_ENOENT) {
			seterr(err, "%s: no epoch key, but the store already "
			    "holds segments: restore the key file", ekey);
			return (CST_ENOENT);
		}
		if (access(rkey, F_OK) == 0 && access(rpub, F_OK) == 0)
			rc = finish_keys(rkey, ekey, now_ns, err);
		else
			rc = make_keys(kdir, now_ns, err);
		if (rc != 0)
			return (rc);
		*created = 1;
	}
	if ((rc = cst_root_pub_load(rpub, root)) != 0) {
		seterr(err, "%s: %s", rpub, cst_strerror(rc));
		return (rc);
	}
	if ((rc = cst_epoch_key_load(ekey, root, key)) != 0) {
		seterr(err, "%s: %s", ekey, rc == CST_EPERM ?
		    "readable by group or others: chmod 0600 it" :
		    cst_strerror(rc));
		return (rc);
	}
	return (0);
}

int
store_log_keygen(const char *out_dir, const char *root_key,
    char err[STORE_ERR_LEN])
{
	cst_root_key *root;
	int rc;

	if ((rc = cst_root_key_load(root_key, &root)) != 0) {
		seterr(err, "%s: %s", root_key, rc == CST_EPERM ?
		    "readable by group or others: chmod 0600 it" :
		    cst_strerror(rc));
		return (rc);
	}
	if ((rc = mkdir_0700(out_dir, err)) == 0)
		rc = make_log_key(out_dir, root, err);
	cst_root_key_free(root);
	return (rc);
}

int
store_log_key(const char *data_dir, const cst_root_pub *root, int create,
    cst_log_key **lk, cst_log_cert *cert, char err[STORE_ERR_LEN])
{
	char kdir[PATH_LEN], rkey[PATH_LEN], lkey[PATH_LEN], lcert[PATH_LEN];
	cst_root_key *rk;
	int rc;

	if (snprintf(kdir, PATH_LEN, "%s/keys", data_dir) >= PATH_LEN ||
	    snprintf(rkey, PATH_LEN, "%s/root.key", kdir) >= PATH_LEN ||
	    snprintf(lkey, PATH_LEN, "%s/log.key", kdir) >= PATH_LEN ||
	    snprintf(lcert, PATH_LEN, "%s/log.cert", kdir) >= PATH_LEN) {
		seterr(err, "%s: path too long", data_dir);
		return (CST_EIO);
	}
	/* A development store made before log keys: its root is at hand. */
	if (create && access(lkey, F_OK) != 0 && access(rkey, F_OK) == 0) {
		if ((rc = cst_root_key_load(rkey, &rk)) != 0) {
			seterr(err, "%s: %s", rkey, cst_strerror(rc));
			return (rc);
		}
		rc = make_log_key(kdir, rk, err);
		cst_root_key_free(rk);
		if (rc != 0)
			return (rc);
	}
	if (access(lkey, F_OK) != 0) {
		seterr(err, "%s: no log key", lkey);
		return (CST_ENOENT);
	}
	if ((rc = cst_log_cert_load(lcert, cert)) != 0) {
		seterr(err, "%s: %s", lcert, cst_strerror(rc));
		return (rc);
	}
	if ((rc = cst_log_cert_verify(cert, root)) != 0) {
		seterr(err, "%s: %s", lcert, rc == CST_EFOREIGN ?
		    "certifies a log key of another chain" :
		    "not signed by this chain's root key");
		return (rc);
	}
	if ((rc = cst_log_key_load(lkey, lk)) != 0) {
		seterr(err, "%s: %s", lkey, rc == CST_EPERM ?
		    "readable by group or others: chmod 0600 it" :
		    cst_strerror(rc));
		return (rc);
	}
	if (memcmp((*lk)->pk, cert->pk, CST_PK_LEN) != 0 ||
	    memcmp((*lk)->chain_id, cert->chain_id, CST_CHAIN_ID_LEN) != 0) {
		seterr(err, "%s: not the key %s certifies", lkey, lcert);
		cst_log_key_free(*lk);
		*lk = NULL;
		return (CST_EKEY);
	}
	return (0);
}

int
store_vkey(const char *dir, char *out, size_t outlen,
    char err[STORE_ERR_LEN])
{
	static const char *const where[] = { "keys/log.cert", "log.cert",
	    "checkpoints/log.cert" };
	char path[PATH_LEN], rpub[PATH_LEN];
	cst_log_cert c;
	cst_root_pub root;
	cst_note_vkey k;
	cst_buf b;
	size_t i;
	int rc = CST_ENOENT;

	for (i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
		if (snprintf(path, sizeof(path), "%s/%s", dir, where[i]) >=
		    (int)sizeof(path))
			continue;
		if ((rc = cst_log_cert_load(path, &c)) != CST_ENOENT)
			break;
	}
	if (rc != 0) {
		seterr(err, rc == CST_ENOENT ? "%s: no log.cert in keys/, "
		    "checkpoints/ or the directory itself" : "%s: %s",
		    rc == CST_ENOENT ? dir : path, cst_strerror(rc));
		return (rc);
	}
	/* Where the root public key is beside it, the certificate must hold. */
	if ((snprintf(rpub, sizeof(rpub), "%s/keys/root.pub", dir) <
	    (int)sizeof(rpub) && cst_root_pub_load(rpub, &root) == 0) ||
	    (snprintf(rpub, sizeof(rpub), "%s/root.pub", dir) <
	    (int)sizeof(rpub) && cst_root_pub_load(rpub, &root) == 0)) {
		if ((rc = cst_log_cert_verify(&c, &root)) != 0) {
			seterr(err, "%s: not signed by the root key of %s",
			    path, rpub);
			return (rc);
		}
	}
	cst_log_vkey(c.chain_id, c.pk, &k);
	cst_buf_init(&b);
	if ((rc = cst_note_vkey_format(&k, &b)) != 0 || b.len >= outlen) {
		cst_buf_close(&b);
		seterr(err, "%s", cst_strerror(CST_ENOMEM));
		return (CST_ENOMEM);
	}
	memcpy(out, b.p, b.len);
	out[b.len] = '\0';
	cst_buf_close(&b);
	return (0);
}

int
store_keygen(const char *out_dir, int64_t now_ns, char err[STORE_ERR_LEN])
{
	int rc;

	if ((rc = mkdir_0700(out_dir, err)) != 0)
		return (rc);
	return (make_keys(out_dir, now_ns, err));
}
