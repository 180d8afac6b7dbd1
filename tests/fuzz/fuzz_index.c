/*
 * Fuzz target for the query index reader (verifier/index.c): index files
 * lie in the store's directory, where anyone who can write the store can
 * write them.  A MAC under the user's own key keeps a forged index from
 * being believed, so random bytes never get past it; to fuzz what lies
 * behind it, the input is an index file without its MAC, and the target
 * appends the right MAC under its fixed key, as if the user's own tool
 * had written the file.  Input: header and entries (layout in index.h);
 * the chain id and segment number the load expects are the input's own.
 * An index that loads must find each of its entries by block number and
 * hash, answer filters, and survive being saved and loaded again.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "custody/error.h"
#include "custody/segment.h"
#include "index.h"
#include "query.h"
#include "fuzz.h"

#define MAC_LEN 32

/* The file's little-endian uint64 at p (index.h's layout). */
static uint64_t
le64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return (v);
}

static char dir[] = "/tmp/fuzz_index.XXXXXX";
static char path[4200];
static const uint8_t key[INDEX_KEY_LEN] = { 'f', 'u', 'z', 'z' };

static void
remove_dir(void)
{
	char sub[4200];

	unlink(path);
	snprintf(sub, sizeof(sub), "%s/index", dir);
	rmdir(sub);
	rmdir(dir);
}

/* Writes data[0..size) and its MAC as DIR/index/seg-N.idx. */
static void
put_index(uint64_t segment_no, const uint8_t *data, size_t size)
{
	uint8_t mac[MAC_LEN];
	char name[32], sub[4200];
	FILE *f;

	if (path[0] == '\0') {
		REQUIRE(mkdtemp(dir) != NULL);
		snprintf(sub, sizeof(sub), "%s/index", dir);
		REQUIRE(mkdir(sub, 0700) == 0);
		atexit(remove_dir);
	} else
		unlink(path);
	cst_segment_name(segment_no, name);
	memcpy(name + 15, "idx", 3);
	snprintf(path, sizeof(path), "%s/index/%s", dir, name);
	crypto_generichash(mac, sizeof(mac), data, size, key, sizeof(key));
	REQUIRE((f = fopen(path, "wb")) != NULL);
	REQUIRE(size == 0 || fwrite(data, 1, size, f) == size);
	REQUIRE(fwrite(mac, 1, sizeof(mac), f) == sizeof(mac));
	REQUIRE(fclose(f) == 0);
}

static void
same_entries(const struct index_seg *a, const struct index_seg *b)
{
	size_t i;

	REQUIRE(a->n == b->n && a->segment_no == b->segment_no);
	for (i = 0; i < a->n; i++) {
		REQUIRE(a->e[i].block_no == b->e[i].block_no);
		REQUIRE(memcmp(a->e[i].hash, b->e[i].hash, CST_HASH_LEN) == 0);
		REQUIRE(a->e[i].sev_mask == b->e[i].sev_mask &&
		    a->e[i].fac_mask == b->e[i].fac_mask &&
		    a->e[i].kind_mask == b->e[i].kind_mask);
		REQUIRE(a->e[i].bloom_len == b->e[i].bloom_len);
		REQUIRE(memcmp(a->e[i].bloom, b->e[i].bloom,
		    a->e[i].bloom_len) == 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *hosts[] = { "web1", "db.example.org" };
	static const char *apps[] = { "sshd" };
	static const char *peers[] = { "192.0.2.7", "[2001:db8::1]:514" };
	uint8_t chain_id[CST_CHAIN_ID_LEN] = { 0 };
	struct index_seg *x, *y;
	struct query_filter f;
	uint64_t segment_no = 0;
	size_t i;
	int rc;

	if (size >= 40) {
		memcpy(chain_id, data + 16, sizeof(chain_id));
		/* cst_segment_name prints 10 digits. */
		segment_no = le64(data + 32) % 10000000000u;
	}
	put_index(segment_no, data, size);
	rc = index_seg_load(dir, segment_no, chain_id, key, &x);
	REQUIRE(rc == 0 || rc == CST_ECORRUPT || rc == CST_ENOMEM);
	if (rc != 0)
		return (0);

	query_filter_init(&f);
	f.hosts = hosts;
	f.nhosts = 2;
	f.apps = apps;
	f.napps = 1;
	f.peers = peers;
	f.npeers = 2;
	f.sev_mask = 0x0f;
	f.fac_mask = 1u << 4 | 1u << 10;
	for (i = 0; i < x->n; i++) {
		REQUIRE(index_seg_find(x, x->e[i].block_no, x->e[i].hash) ==
		    &x->e[i]);
		(void)index_may_match(&x->e[i], &f);
	}
	REQUIRE(index_seg_find(x, UINT64_MAX, x->n > 0 ? x->e[0].hash :
	    chain_id) == NULL || (x->n > 0 &&
	    x->e[x->n - 1].block_no == UINT64_MAX));

	REQUIRE(index_seg_save(dir, segment_no, chain_id, key, x->e,
	    x->n) == 0);
	REQUIRE(index_seg_load(dir, segment_no, chain_id, key, &y) == 0);
	same_entries(x, y);
	index_seg_free(y);
	index_seg_free(x);
	f.hosts = f.apps = f.peers = NULL;
	query_filter_close(&f);
	return (0);
}
