/*
 * The per-segment query index (see index.h for what it is and why it is
 * MAC'd).  A Bloom filter with 4 probes from one SipHash by double
 * hashing, sized to about 10 bits per distinct value (about 1% false
 * positives), which only ever costs an unneeded block open.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "custody/error.h"
#include "custody/format.h"
#include "custody/keys.h"
#include "custody/le.h"
#include "custody/record.h"
#include "custody/segment.h"

#include "index.h"
#include "query.h"

#define IDX_HDR_LEN 40
#define IDX_ENTRY_FIXED 56
#define IDX_MAC_LEN 32
#define BLOOM_MIN 64u
#define BLOOM_MAX 65536u
#define PROBES 4

/*
 * Version 2 files hosts and apps in lower case (queries match them in any
 * case); a version 1 index is not believed, and is rebuilt.
 */
static const uint8_t idx_magic[8] = { 'C', 'S', 'T', 'I', 'D', 'X', '2', 0 };

/* Bloom hashing needs spread, not secrecy: a fixed SipHash key. */
static const uint8_t bloom_key[crypto_shorthash_KEYBYTES];

/* Creates each missing directory of path's parent, 0700. */
static int
mkparents(char *path)
{
	char *s;

	for (s = path + 1; (s = strchr(s, '/')) != NULL; s++) {
		*s = '\0';
		if (mkdir(path, 0700) == -1 && errno != EEXIST) {
			*s = '/';
			return (-1);
		}
		*s = '/';
	}
	return (0);
}

int
index_key_load(uint8_t key[INDEX_KEY_LEN])
{
	const char *env, *home;
	char path[4096];
	ssize_t n;
	int fd, rc;

	if ((env = getenv("CUSTODY_INDEX_KEY")) != NULL && env[0] != '\0')
		snprintf(path, sizeof(path), "%s", env);
	else if ((env = getenv("XDG_STATE_HOME")) != NULL && env[0] == '/')
		snprintf(path, sizeof(path), "%s/custody/index.key", env);
	else if ((home = getenv("HOME")) != NULL && home[0] == '/')
		snprintf(path, sizeof(path),
		    "%s/.local/state/custody/index.key", home);
	else
		return (CST_EIO);
	if (mkparents(path) != 0)
		return (CST_EIO);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) != -1) {
		randombytes_buf(key, INDEX_KEY_LEN);
		n = write(fd, key, INDEX_KEY_LEN);
		if (close(fd) != 0 || n != INDEX_KEY_LEN) {
			unlink(path);
			return (CST_EIO);
		}
		return (0);
	}
	if (errno != EEXIST)
		return (CST_EIO);
	/* A key others can read lets them forge an index that hides blocks. */
	if ((rc = cst_key_file_check(path)) != 0)
		return (rc);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (CST_EIO);
	n = read(fd, key, INDEX_KEY_LEN);
	close(fd);
	return (n == INDEX_KEY_LEN ? 0 : CST_EIO);
}

static void
idx_path(const char *dir, uint64_t segment_no, char *out, size_t len)
{
	char name[32];

	cst_segment_name(segment_no, name);
	/* "seg-0000000042.cst" -> "seg-0000000042.idx" */
	memcpy(name + 15, "idx", 3);
	snprintf(out, len, "%s/index/%s", dir, name);
}

static void
mac(const uint8_t *p, size_t len, const uint8_t key[INDEX_KEY_LEN],
    uint8_t out[IDX_MAC_LEN])
{

	crypto_generichash(out, IDX_MAC_LEN, p, len, key, INDEX_KEY_LEN);
}

int
index_seg_load(const char *dir, uint64_t segment_no,
    const uint8_t chain_id[CST_CHAIN_ID_LEN], const uint8_t key[INDEX_KEY_LEN],
    struct index_seg **out)
{
	struct index_seg *x;
	struct index_entry *e;
	char path[4096];
	uint8_t m[IDX_MAC_LEN], *p;
	cst_map map;
	size_t off, end, i, n;
	int rc;

	idx_path(dir, segment_no, path, sizeof(path));
	if ((rc = cst_map_open(path, &map)) != 0)
		return (rc == CST_ENOENT ? CST_ENOENT : CST_ECORRUPT);
	rc = CST_ECORRUPT;
	if (map.len < IDX_HDR_LEN + IDX_MAC_LEN)
		goto err0;
	end = map.len - IDX_MAC_LEN;
	mac(map.p, end, key, m);
	if (sodium_memcmp(m, map.p + end, IDX_MAC_LEN) != 0 ||
	    memcmp(map.p, idx_magic, 8) != 0 ||
	    memcmp(map.p + 16, chain_id, CST_CHAIN_ID_LEN) != 0 ||
	    cst_le_get64(map.p + 32) != segment_no)
		goto err0;
	n = cst_le_get32(map.p + 8);
	if (n > (end - IDX_HDR_LEN) / (IDX_ENTRY_FIXED + BLOOM_MIN))
		goto err0;
	rc = CST_ENOMEM;
	if ((x = calloc(1, sizeof(*x))) == NULL)
		goto err0;
	if ((x->file = malloc(map.len)) == NULL ||
	    (x->e = calloc(n > 0 ? n : 1, sizeof(*x->e))) == NULL)
		goto err1;
	memcpy(x->file, map.p, map.len);
	x->segment_no = segment_no;
	rc = CST_ECORRUPT;
	for (i = 0, off = IDX_HDR_LEN; i < n; i++) {
		if (end - off < IDX_ENTRY_FIXED)
			goto err1;
		p = x->file + off;
		e = &x->e[i];
		e->block_no = cst_le_get64(p);
		memcpy(e->hash, p + 8, CST_HASH_LEN);
		e->sev_mask = cst_le_get32(p + 40);
		e->fac_mask = cst_le_get32(p + 44);
		e->kind_mask = cst_le_get32(p + 48);
		e->bloom_len = cst_le_get32(p + 52);
		off += IDX_ENTRY_FIXED;
		if (e->bloom_len < BLOOM_MIN || e->bloom_len > BLOOM_MAX ||
		    (e->bloom_len & (e->bloom_len - 1)) != 0 ||
		    end - off < e->bloom_len ||
		    (i > 0 && e->block_no <= x->e[i - 1].block_no))
			goto err1;
		e->bloom = x->file + off;
		off += e->bloom_len;
	}
	if (off != end)
		goto err1;
	x->n = n;
	cst_map_close(&map);
	*out = x;
	return (0);

err1:
	index_seg_free(x);
err0:
	cst_map_close(&map);
	return (rc);
}

void
index_seg_free(struct index_seg *x)
{

	if (x == NULL)
		return;
	free(x->e);
	free(x->file);
	free(x);
}

const struct index_entry *
index_seg_find(const struct index_seg *x, uint64_t block_no,
    const uint8_t hash[CST_HASH_LEN])
{
	size_t lo = 0, hi = x->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (x->e[mid].block_no < block_no)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < x->n && x->e[lo].block_no == block_no &&
	    memcmp(x->e[lo].hash, hash, CST_HASH_LEN) == 0)
		return (&x->e[lo]);
	return (NULL);
}

int
index_seg_save(const char *dir, uint64_t segment_no,
    const uint8_t chain_id[CST_CHAIN_ID_LEN], const uint8_t key[INDEX_KEY_LEN],
    const struct index_entry *e, size_t n)
{
	char path[4096], tmp[4200];
	uint8_t h[IDX_HDR_LEN], eh[IDX_ENTRY_FIXED], m[IDX_MAC_LEN];
	crypto_generichash_state st;
	size_t i;
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "%s/index", dir);
	if (mkdir(path, 0755) == -1 && errno != EEXIST)
		return (CST_EIO);
	idx_path(dir, segment_no, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644)) == -1)
		return (CST_EIO);
	if ((f = fdopen(fd, "wb")) == NULL) {
		close(fd);
		goto err0;
	}
	crypto_generichash_init(&st, key, INDEX_KEY_LEN, IDX_MAC_LEN);
	memset(h, 0, sizeof(h));
	memcpy(h, idx_magic, 8);
	cst_le_put32(h + 8, (uint32_t)n);
	memcpy(h + 16, chain_id, CST_CHAIN_ID_LEN);
	cst_le_put64(h + 32, segment_no);
	fwrite(h, 1, sizeof(h), f);
	crypto_generichash_update(&st, h, sizeof(h));
	for (i = 0; i < n; i++) {
		cst_le_put64(eh, e[i].block_no);
		memcpy(eh + 8, e[i].hash, CST_HASH_LEN);
		cst_le_put32(eh + 40, e[i].sev_mask);
		cst_le_put32(eh + 44, e[i].fac_mask);
		cst_le_put32(eh + 48, e[i].kind_mask);
		cst_le_put32(eh + 52, e[i].bloom_len);
		fwrite(eh, 1, IDX_ENTRY_FIXED, f);
		fwrite(e[i].bloom, 1, e[i].bloom_len, f);
		crypto_generichash_update(&st, eh, IDX_ENTRY_FIXED);
		crypto_generichash_update(&st, e[i].bloom, e[i].bloom_len);
	}
	crypto_generichash_final(&st, m, IDX_MAC_LEN);
	fwrite(m, 1, sizeof(m), f);
	if (ferror(f) || fclose(f) != 0)
		goto err0;
	if (rename(tmp, path) != 0)
		goto err0;
	return (0);

err0:
	unlink(tmp);
	return (CST_EIO);
}

static uint64_t
item_hash(char tag, const uint8_t *p, size_t len)
{
	uint8_t buf[256 + 1], out[crypto_shorthash_BYTES];
	uint64_t h;
	size_t i;

	/* Longer values keep their first 256 bytes: a hint, not an answer. */
	if (len > 256)
		len = 256;
	buf[0] = (uint8_t)tag;
	memcpy(buf + 1, p, len);
	if (tag == 'h' || tag == 'a')
		for (i = 1; i <= len; i++)
			if (buf[i] >= 'A' && buf[i] <= 'Z')
				buf[i] = (uint8_t)(buf[i] + ('a' - 'A'));
	crypto_shorthash(out, buf, len + 1, bloom_key);
	memcpy(&h, out, sizeof(h));
	return (h);
}

static int
bloom_has(const uint8_t *bloom, uint32_t len, uint64_t h)
{
	uint32_t h1 = (uint32_t)h, h2 = (uint32_t)(h >> 32) | 1, bits, i, b;

	bits = len * 8;
	for (i = 0; i < PROBES; i++) {
		b = (h1 + i * h2) & (bits - 1);
		if ((bloom[b >> 3] & (1u << (b & 7))) == 0)
			return (0);
	}
	return (1);
}

static void
bloom_set(uint8_t *bloom, uint32_t len, uint64_t h)
{
	uint32_t h1 = (uint32_t)h, h2 = (uint32_t)(h >> 32) | 1, bits, i, b;

	bits = len * 8;
	for (i = 0; i < PROBES; i++) {
		b = (h1 + i * h2) & (bits - 1);
		bloom[b >> 3] |= (uint8_t)(1u << (b & 7));
	}
}

static int
any_in(const struct index_entry *e, char tag, const char **l, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (bloom_has(e->bloom, e->bloom_len, item_hash(tag,
		    (const uint8_t *)l[i], strlen(l[i]))))
			return (1);
	return (0);
}

int
index_may_match(const struct index_entry *e, const struct query_filter *f)
{

	if ((e->kind_mask & f->kind_mask) == 0)
		return (0);
	if (f->sev_mask != QUERY_ALL_MASK && (e->sev_mask & f->sev_mask &
	    0xffu) == 0)
		return (0);
	if (f->fac_mask != QUERY_ALL_MASK && (e->fac_mask & f->fac_mask &
	    0xffffffu) == 0)
		return (0);
	if (f->nhosts > 0 && !any_in(e, 'h', f->hosts, f->nhosts))
		return (0);
	if (f->napps > 0 && !any_in(e, 'a', f->apps, f->napps))
		return (0);
	/* A peer is filed under its whole address and its host part. */
	if (f->npeers > 0 && !any_in(e, 'p', f->peers, f->npeers))
		return (0);
	return (1);
}

void
index_builder_init(struct index_builder *b, uint64_t block_no,
    const uint8_t hash[CST_HASH_LEN])
{

	memset(b, 0, sizeof(*b));
	b->e.block_no = block_no;
	memcpy(b->e.hash, hash, CST_HASH_LEN);
}

static void
add_item(struct index_builder *b, uint64_t h)
{
	uint64_t *n;
	size_t cap;

	if (b->n == b->cap) {
		cap = b->cap == 0 ? 256 : 2 * b->cap;
		if ((n = realloc(b->items, cap * sizeof(*n))) == NULL) {
			b->oom = 1;
			return;
		}
		b->items = n;
		b->cap = cap;
	}
	/* Runs of one host are common: skip the cheap repeats. */
	if (b->n > 0 && b->items[b->n - 1] == h)
		return;
	b->items[b->n++] = h;
}

void
index_builder_add(struct index_builder *b, const cst_record *r)
{
	const cst_syslog *ps = &r->parsed;
	size_t off, hlen;

	b->e.kind_mask |= r->kind <= 31 ? 1u << r->kind : 0;
	if (r->has_parsed && ps->severity >= 0 && ps->severity <= 7)
		b->e.sev_mask |= 1u << ps->severity;
	else
		b->e.sev_mask |= 1u << 8;
	if (r->has_parsed && ps->facility >= 0 && ps->facility <= 23)
		b->e.fac_mask |= 1u << ps->facility;
	else
		b->e.fac_mask |= 1u << 24;
	if (r->has_parsed && ps->hostname.len > 0)
		add_item(b, item_hash('h', r->raw.p + ps->hostname.off,
		    ps->hostname.len));
	if (r->has_parsed && ps->app.len > 0)
		add_item(b, item_hash('a', r->raw.p + ps->app.off,
		    ps->app.len));
	if (r->peer.len > 0) {
		add_item(b, item_hash('p', r->peer.p, r->peer.len));
		query_filter_peer_host(r->peer.p, r->peer.len, &off, &hlen);
		add_item(b, item_hash('p', r->peer.p + off, hlen));
	}
}

static int
u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x < y ? -1 : x > y);
}

int
index_builder_finish(struct index_builder *b, struct index_entry *out)
{
	size_t i, distinct = 0;
	uint32_t len = BLOOM_MIN;

	if (b->oom) {
		free(b->items);
		return (CST_ENOMEM);
	}
	if (b->n > 0)
		qsort(b->items, b->n, sizeof(*b->items), u64_cmp);
	for (i = 0; i < b->n; i++)
		if (i == 0 || b->items[i] != b->items[i - 1])
			b->items[distinct++] = b->items[i];
	/* About 10 bits per value: 4 probes give ~1% false positives. */
	while (len < BLOOM_MAX && (size_t)len * 8 < distinct * 10)
		len <<= 1;
	*out = b->e;
	if ((out->bloom = calloc(1, len)) == NULL) {
		free(b->items);
		return (CST_ENOMEM);
	}
	out->bloom_len = len;
	for (i = 0; i < distinct; i++)
		bloom_set(out->bloom, len, b->items[i]);
	free(b->items);
	b->items = NULL;
	return (0);
}

void
index_entry_close(struct index_entry *e)
{

	free(e->bloom);
	e->bloom = NULL;
}
