/*
 * --root-dir: a store's root key, chosen by its chain id (root_dir.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "custody/error.h"
#include "custody/format.h"
#include "custody/hash.h"
#include "custody/keys.h"
#include "custody/segment.h"

#include "root_dir.h"

/*
 * Reads a .fpr file: 32 or 64 hex digits, an LF allowed.  Returns 0 or
 * cst_file_open_named()'s code.
 */
static int
read_fpr(const char *path, char *hex, size_t hexlen)
{
	FILE *f;
	size_t n;
	int rc;

	if ((rc = cst_file_open_named(path, "r", &f)) != 0)
		return (rc);
	n = fread(hex, 1, hexlen - 1, f);
	fclose(f);
	hex[n] = '\0';
	while (n > 0 && (hex[n - 1] == '\n' || hex[n - 1] == '\r' ||
	    hex[n - 1] == ' '))
		hex[--n] = '\0';
	return (0);
}

int
root_dir_find(const char *dir, const char *store, cst_root_pub *root,
    char **path, char **fpr, char *why, size_t len)
{
	uint8_t want[CST_HASH_LEN], got[CST_HASH_LEN];
	char chain[2 * CST_CHAIN_ID_LEN + 1], hex[2 * CST_HASH_LEN + 8];
	char *p = NULL, *sp = NULL, *f = NULL;
	cst_root_pub in_store;
	size_t n;
	int rc;

	*path = NULL;
	*fpr = NULL;
	if (asprintf(&sp, "%s/keys/root.pub", store) < 0)
		goto oom;
	if ((rc = cst_root_pub_load(sp, &in_store)) != 0) {
		snprintf(why, len, "%s: cannot read the chain id from %s (%s): "
		    "no key of --root-dir can be chosen for it", store, sp,
		    cst_strerror(rc));
		goto err;
	}
	cst_hex(in_store.chain_id, CST_CHAIN_ID_LEN, chain);
	if (asprintf(&p, "%s/%s.pub", dir, chain) < 0 ||
	    asprintf(&f, "%s/%s.fpr", dir, chain) < 0)
		goto oom;
	if (access(p, F_OK) == 0) {
		if ((rc = cst_root_pub_load(p, root)) != 0) {
			snprintf(why, len, "%s: %s", p, cst_strerror(rc));
			goto err;
		}
		if (memcmp(root->chain_id, in_store.chain_id,
		    CST_CHAIN_ID_LEN) != 0) {
			snprintf(why, len, "%s holds the root key of another "
			    "chain than its name says: refused", p);
			goto err;
		}
		free(sp);
		free(f);
		*path = p;
		return (0);
	}
	if (access(f, F_OK) != 0) {
		snprintf(why, len, "%s: chain %s has no root key in %s (looked "
		    "for %s.pub and %s.fpr): refused", store, chain, dir,
		    chain, chain);
		goto err;
	}
	if ((rc = read_fpr(f, hex, sizeof(hex))) != 0) {
		snprintf(why, len, "%s: %s", f, cst_file_why(rc));
		goto err;
	}
	n = strlen(hex);
	if ((n != 2 * CST_FPR_LEN && n != 2 * CST_HASH_LEN) ||
	    cst_unhex(hex, n, want, n / 2) != 0) {
		snprintf(why, len, "%s: not a fingerprint (32 or 64 hex "
		    "digits)", f);
		goto err;
	}
	cst_key_fingerprint(in_store.pk, got);
	if (memcmp(got, want, n / 2) != 0) {
		snprintf(why, len, "%s: the root key in the store does not "
		    "have the fingerprint in %s: it is not the chain's root "
		    "key (replaced?)", sp, f);
		if ((*fpr = strdup(hex)) == NULL)
			goto oom;
		free(p);
		free(f);
		*path = sp;
		return (1);
	}
	*root = in_store;
	if ((*fpr = strdup(hex)) == NULL)
		goto oom;
	free(p);
	free(f);
	*path = sp;
	return (0);

oom:
	snprintf(why, len, "out of memory");
err:
	free(p);
	free(sp);
	free(f);
	return (-1);
}
