/*
 * Fuzz target for the witness's add-checkpoint checks (collector/
 * witness.c, SPEC R-WIT-1, R-WIT-2): the input is a request body.  The
 * witness witnesses one log whose key comes from a fixed seed (chain id
 * 07..07, seed 01..01), so that corpus bodies signed with it reach the
 * proof and state checks.  Every body gets an answer of R-WIT-2's
 * statuses; a 200 is one cosignature line, a 409 with a size type is a
 * decimal and LF; nothing else is allowed.  The state lives in a
 * temporary directory for the process's life.
 */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "custody/buf.h"
#include "custody/logkey.h"
#include "custody/note.h"

#include "witness.h"
#include "fuzz.h"

static struct witness *w;
static char dir[] = "/tmp/fuzz_witness.XXXXXX";

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{

	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return (0);
}

/* The state directory goes with the process. */
static void
cleanup(void)
{

	witness_close(w);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
init(void)
{
	uint8_t chain[CST_CHAIN_ID_LEN], seed[CST_SEED_LEN];
	char key[64], vk[512], err[WITNESS_ERR_LEN];
	char *logs[1] = { vk };
	cst_log_key *lk;
	cst_note_vkey k;
	cst_buf b;

	REQUIRE(sodium_init() >= 0);
	REQUIRE(mkdtemp(dir) != NULL);
	atexit(cleanup);
	snprintf(key, sizeof(key), "%s/w.key", dir);
	cst_buf_init(&b);
	REQUIRE(witness_keygen(key, "fuzz.test/w", &b) == 0);
	cst_buf_close(&b);
	memset(chain, 7, sizeof(chain));
	memset(seed, 1, sizeof(seed));
	REQUIRE(cst_log_key_from_seed(chain, seed, &lk) == 0);
	cst_log_vkey(chain, lk->pk, &k);
	cst_log_key_free(lk);
	cst_buf_init(&b);
	REQUIRE(cst_note_vkey_format(&k, &b) == 0);
	snprintf(vk, sizeof(vk), "%.*s", (int)b.len, (const char *)b.p);
	cst_buf_close(&b);
	REQUIRE(witness_open(dir, key, logs, 1, &w, err) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct witness_answer a;
	size_t i;

	if (w == NULL)
		init();
	REQUIRE(witness_add_checkpoint(w, data, size, &a) == 0);
	switch (a.status) {
	case 200:
		REQUIRE(a.body.len > 4 && memcmp(a.body.p, "\xe2\x80\x94 ",
		    4) == 0);
		REQUIRE(memchr(a.body.p, '\n', a.body.len) ==
		    (const uint8_t *)a.body.p + a.body.len - 1);
		break;
	case 409:
		if (strcmp(a.content_type, "text/x.tlog.size") == 0) {
			REQUIRE(a.body.len >= 2);
			for (i = 0; i + 1 < a.body.len; i++)
				REQUIRE(((const char *)a.body.p)[i] >= '0' &&
				    ((const char *)a.body.p)[i] <= '9');
			REQUIRE(((const char *)a.body.p)[i] == '\n');
		}
		/* FALLTHROUGH */
	case 400: case 403: case 404: case 422: case 500:
		REQUIRE(a.reason[0] != '\0');
		REQUIRE(strlen(a.request_sha256) == 64);
		break;
	default:
		REQUIRE(0);
	}
	witness_answer_close(&a);
	return (0);
}
