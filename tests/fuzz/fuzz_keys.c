/*
 * Fuzz target for the key file parsers (formats/keys.c, SPEC 6.2): a
 * verifier is handed root.pub, and custodyd and the tools read root.key
 * and epoch.key from disk.  Input: one byte choosing the parser, then the
 * file's text:
 *   0  root.pub text (cst_root_pub_parse)
 *   1  root.key, from a 0600 file (cst_root_key_load)
 *   2  epoch.key, from a 0600 file, certificates checked among themselves
 *   3  the same, and the first certificate against the root key of this
 *      corpus's seeds, so that their signatures are checked from the root
 * What loads must hold together: a root key's public half is the one its
 * secret makes, an epoch key's newest certificate certifies that key.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "custody/error.h"
#include "custody/keys.h"
#include "fuzzfile.h"

/* The root.pub of the seeds root_key, epoch1_key and epoch3_key. */
static const char root_text[] = "custody-root-v1 "
    "788ec9aae97506c56609e2ba168e53e7 "
    "kKOo8iJWTo2CV3zNA6A0KoHWvUSEo/NETuJ6gMrULd8=\n";

static void
check_epoch_key(const cst_epoch_key *k)
{
	const cst_cert *c;

	REQUIRE(k->epoch >= 1 && k->certs != NULL);
	c = &k->certs[k->epoch - 1];
	REQUIRE(c->epoch == k->epoch);
	REQUIRE(memcmp(c->public_key, k->pk, CST_PK_LEN) == 0);
	REQUIRE(memcmp(c->chain_id, k->chain_id, CST_CHAIN_ID_LEN) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static cst_root_pub seed_root;
	static int have_root;
	cst_root_pub pub;
	cst_root_key *rk;
	cst_epoch_key *ek;
	int rc;

	if (!have_root) {
		REQUIRE(cst_root_pub_parse(root_text, sizeof(root_text) - 1,
		    &seed_root) == 0);
		have_root = 1;
	}
	if (size < 1)
		return (0);
	switch (data[0] % 4) {
	case 0:
		rc = cst_root_pub_parse((const char *)data + 1, size - 1, &pub);
		REQUIRE(rc == 0 || rc == CST_EKEY);
		break;
	case 1:
		fuzz_file_put(data + 1, size - 1);
		rc = cst_root_key_load(fuzz_file_path, &rk);
		REQUIRE(rc == 0 || rc == CST_EKEY || rc == CST_ENOMEM);
		if (rc == 0) {
			/* libsodium's secret key is seed || public key. */
			REQUIRE(memcmp(rk->sk + CST_SEED_LEN, rk->pub.pk,
			    CST_PK_LEN) == 0);
			cst_root_key_free(rk);
		}
		break;
	default:
		fuzz_file_put(data + 1, size - 1);
		rc = cst_epoch_key_load(fuzz_file_path,
		    data[0] % 4 == 3 ? &seed_root : NULL, &ek);
		REQUIRE(rc == 0 || rc == CST_EKEY || rc == CST_ESIG ||
		    rc == CST_EFOREIGN || rc == CST_ECORRUPT ||
		    rc == CST_ENOMEM);
		if (rc == 0) {
			check_epoch_key(ek);
			cst_epoch_key_free(ek);
		}
		break;
	}
	return (0);
}
