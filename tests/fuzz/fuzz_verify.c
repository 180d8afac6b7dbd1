/*
 * Fuzz target: the input is one segment file, given to the chain verifier
 * (formats/verify.c) with a fixed root key.  It runs twice: on the input
 * as it is, and on a copy whose frames are re-chained and re-signed with
 * the test keys (payload hash, prev_hash and signature made right), so
 * that mutations also reach what lies behind a valid signature: payload
 * and record checks, audit records, key epochs, seals.  Nothing may
 * crash, leak or read out of bounds; every finding must be well formed.
 *
 * The keys are those custody-mkstore derives from --seed 21, which made
 * the corpus in tests/fuzz/corpus/verify/.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <sodium.h>

#include "custody/error.h"
#include "custody/format.h"
#include "custody/hash.h"
#include "custody/keys.h"
#include "custody/verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SEED 21
#define EPOCHS 4

static cst_root_pub root;
static uint8_t sk[EPOCHS + 1][64];

/* custody-mkstore's key derivation: H(label || seed || n), LE64s. */
static void
derive(const char *label, uint64_t n, uint8_t *out, size_t len)
{
	crypto_generichash_state st;
	uint8_t h[32], b[16];
	int i;

	for (i = 0; i < 8; i++) {
		b[i] = (uint8_t)((uint64_t)SEED >> (8 * i));
		b[8 + i] = (uint8_t)(n >> (8 * i));
	}
	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, (const uint8_t *)label, strlen(label));
	crypto_generichash_update(&st, b, sizeof(b));
	crypto_generichash_final(&st, h, sizeof(h));
	memcpy(out, h, len);
}

static void
init(void)
{
	uint8_t chain[CST_CHAIN_ID_LEN], seed[CST_SEED_LEN], pk[CST_PK_LEN];
	cst_root_key *k;
	uint32_t e;

	if (sodium_init() < 0)
		abort();
	derive("custody-mkstore/chain", 0, chain, sizeof(chain));
	derive("custody-mkstore/root", 0, seed, sizeof(seed));
	if (cst_root_key_from_seed(chain, seed, &k) != 0)
		abort();
	root = k->pub;
	cst_root_key_free(k);
	for (e = 1; e <= EPOCHS; e++) {
		derive("custody-mkstore/epoch", e, seed, sizeof(seed));
		crypto_sign_seed_keypair(pk, sk[e], seed);
	}
}

static void
check_finding(const cst_finding *f, void *ctx)
{
	size_t *n = ctx;

	/* Touch every string: a dangling one shows under ASan. */
	if (f->rule == NULL || f->detail == NULL || strlen(f->rule) < 5 ||
	    strlen(f->detail) == 0 || (f->file != NULL && strlen(f->file) == 0))
		abort();
	if (f->block_no != CST_NONE && f->block_last != CST_NONE &&
	    f->block_last < f->block_no)
		abort();
	(*n)++;
}

static void
run(const uint8_t *data, size_t size, int live)
{
	const char *paths[1];
	const cst_seg_info *segs;
	cst_verify_opts o;
	cst_verifier *v;
	char path[64];
	size_t n = 0, nsegs, off = 0;
	ssize_t w;
	int fd;

	if ((fd = memfd_create("segment", MFD_CLOEXEC)) == -1)
		abort();
	while (off < size) {
		if ((w = write(fd, data + off, size - off)) <= 0)
			abort();
		off += (size_t)w;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	paths[0] = path;
	memset(&o, 0, sizeof(o));
	o.live = live;
	if ((v = cst_verifier_new(&root, &o, check_finding, &n)) == NULL)
		abort();
	if (cst_verifier_run(v, paths, 1) != 0)
		abort();
	/* Every finding was counted, and the table names the file. */
	if (cst_verifier_summary(v)->failures +
	    cst_verifier_summary(v)->errors + cst_verifier_summary(v)->warnings +
	    cst_verifier_summary(v)->notes != n)
		abort();
	segs = cst_verifier_segments(v, &nsegs);
	if (nsegs == 0 || segs == NULL)
		abort();
	cst_verifier_free(v);
	close(fd);
}

/* Makes every frame's payload hash, link and signature right. */
static void
resign(uint8_t *d, size_t size)
{
	uint8_t m[sizeof(CST_D_BLOCKSIG) + CST_HASH_LEN], prev[CST_HASH_LEN];
	uint8_t *h;
	cst_frame f;
	size_t pos = CST_SEG_HDR_LEN;
	int first = 1;

	while (pos < size && cst_frame_parse(d + pos, size - pos, &f) == 0) {
		h = d + pos;
		if (!first)
			memcpy(h + 192, prev, CST_HASH_LEN);
		first = 0;
		cst_hash_domain(CST_D_PAYLOAD, f.payload, f.hdr.payload_len,
		    h + 96);
		cst_hash_domain(CST_D_BLOCK, h, CST_BLK_HDR_LEN +
		    f.hdr.cert_len, prev);
		if (f.hdr.key_epoch >= 1 && f.hdr.key_epoch <= EPOCHS) {
			memcpy(m, CST_D_BLOCKSIG, sizeof(CST_D_BLOCKSIG));
			memcpy(m + sizeof(CST_D_BLOCKSIG), prev, CST_HASH_LEN);
			crypto_sign_detached(h + f.frame_len - CST_SIG_LEN,
			    NULL, m, sizeof(m), sk[f.hdr.key_epoch]);
		}
		pos += f.frame_len;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	uint8_t *copy;

	if (!ready) {
		init();
		ready = 1;
	}
	run(data, size, 0);
	if ((copy = malloc(size + 1)) == NULL)
		abort();
	if (size > 0)
		memcpy(copy, data, size);
	resign(copy, size);
	run(copy, size, (int)(size & 1));
	free(copy);
	return (0);
}
