/*
 * Forging a block for the tests that tamper with one: its signature made
 * again after its header was changed, so that only the check under test
 * can notice.  static inline, as in testutil.h.
 */
#ifndef CUSTODY_TESTSIGN_H
#define CUSTODY_TESTSIGN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include "custody/block.h"
#include "custody/format.h"
#include "custody/keys.h"

/* Signs the frame p[0..len) (borrowed, changed) again with key. */
static inline void
test_resign(uint8_t *p, size_t len, const cst_epoch_key *key)
{
	uint8_t m[sizeof(CST_D_BLOCKSIG) + CST_HASH_LEN];
	cst_frame f;

	cr_assert_eq(cst_frame_parse(p, len, &f), 0);
	memcpy(m, CST_D_BLOCKSIG, sizeof(CST_D_BLOCKSIG));
	memcpy(m + sizeof(CST_D_BLOCKSIG), f.block_hash, CST_HASH_LEN);
	/* The signature's place in the caller's own, writable frame. */
	crypto_sign_detached(p + (f.sig - p), NULL, m, sizeof(m), key->sk);
}

#endif /* CUSTODY_TESTSIGN_H */
