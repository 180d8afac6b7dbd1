/*
 * Fuzz target for the evidence bundle verifier (SPEC section 11): any
 * input must be rejected or accepted without a crash, a read out of
 * bounds or a leak.  The first 48 bytes are the root key (chain id, then
 * public key) so that the corpus can hold real, valid bundles; the rest
 * is the bundle.  An accepted bundle is walked with every callback.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "custody/bundle.h"
#include "custody/keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
on_block(void *arg, uint32_t index, const cst_blk_hdr *h,
    const uint8_t hash[CST_HASH_LEN], uint32_t run, int anchored)
{

	(void)arg;
	(void)index;
	(void)hash;
	(void)run;
	(void)anchored;
	return (h->record_count > CST_MAX_RECORDS ? -1 : 0);
}

static int
on_record(void *arg, uint32_t block_index, const cst_blk_hdr *h,
    uint32_t leaf, const cst_record *rec, const uint8_t *bytes, size_t len)
{
	uint8_t sink = 0;
	size_t i;

	(void)arg;
	(void)block_index;
	(void)h;
	(void)leaf;
	/* Touch every byte handed out: ASan checks they are in bounds. */
	for (i = 0; i < len; i++)
		sink ^= bytes[i];
	for (i = 0; i < rec->raw.len; i++)
		sink ^= rec->raw.p[i];
	/* Never true for a record: keeps the reads from being optimised out. */
	return (sink == 0 && len == 0 ? -1 : 0);
}

static int
on_note(void *arg, const uint8_t *text, size_t len, uint64_t size,
    const uint8_t root[CST_HASH_LEN])
{
	uint8_t sink = root[0];
	size_t i;

	(void)arg;
	for (i = 0; i < len; i++)
		sink ^= text[i];
	return (sink == 0 && size == 0 ? -1 : 0);
}

static int
on_checkpoint(void *arg, uint32_t index, const cst_checkpoint *cp,
    int64_t anchor)
{

	(void)arg;
	(void)index;
	(void)cp;
	(void)anchor;
	return (0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cst_bundle_cb cb = { on_block, on_record, on_checkpoint, on_note };
	cst_bundle_info info;
	cst_root_pub root;
	static int inited;

	if (!inited) {
		if (sodium_init() < 0)
			return (0);
		inited = 1;
	}
	if (size < CST_CHAIN_ID_LEN + CST_PK_LEN)
		return (0);
	memcpy(root.chain_id, data, CST_CHAIN_ID_LEN);
	memcpy(root.pk, data + CST_CHAIN_ID_LEN, CST_PK_LEN);
	data += CST_CHAIN_ID_LEN + CST_PK_LEN;
	size -= CST_CHAIN_ID_LEN + CST_PK_LEN;
	/* R-BND-1: a bundle without a block is never valid. */
	if (cst_bundle_verify(data, size, &root, &cb, NULL, &info) == 0 &&
	    (info.block_count == 0 || info.rule != NULL))
		abort();
	return (0);
}
