/*
 * Opening blocks (SPEC section 4): checking a block's signature and its
 * payload against its header, and reading its records.  Sealing is in
 * block_seal.c.
 *
 * The opener is per-thread scratch: its buffers and zstd context grow to
 * the largest block seen and are then reused, so that opening a block
 * allocates nothing in the steady state.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <sodium.h>
#include <zstd.h>

#include "custody/block.h"
#include "custody/error.h"
#include "custody/format.h"
#include "custody/hash.h"
#include "custody/merkle.h"
#include "custody/record.h"
#include "block_int.h"

/*
 * The shortest record: an array header and eleven elements of at least
 * one byte each (SPEC section 5).  A header claiming more records than
 * raw_len can hold is refused before anything is allocated for them.
 */
#define RECORD_MIN_LEN 12

#define HUGE_PAGE (2u << 20)

/* The zstd frame magic, 0xFD2FB528 little-endian (RFC 8878 3.1.1). */
static const uint8_t zstd_magic[4] = { 0x28, 0xb5, 0x2f, 0xfd };

struct cst_opener {
	ZSTD_DCtx *dctx;
	uint8_t *raw;
	size_t raw_cap;
	size_t raw_len;
	size_t count;
	size_t cap;     /* entries of leaves and scratch; offs has cap + 1 */
	size_t *offs;   /* record i is raw[offs[i]..offs[i+1]) */
	uint8_t (*leaves)[CST_HASH_LEN];
	uint8_t (*scratch)[CST_HASH_LEN]; /* cst_merkle_root overwrites */
	uint8_t *kinds; /* record i's kind */
	int skip_records_hash;
};

int
cst_frame_verify_sig(const cst_frame *f, const uint8_t pk[CST_PK_LEN])
{
	uint8_t m[sizeof(CST_D_BLOCKSIG) + CST_HASH_LEN];

	/* R-BLK-3. */
	sig_message(f->block_hash, m);
	if (crypto_sign_verify_detached(f->sig, m, sizeof(m), pk) != 0)
		return (CST_ESIG);
	return (0);
}

cst_opener *
cst_opener_new(void)
{
	cst_opener *o;

	if (sodium_init() < 0)
		goto err0;
	if ((o = calloc(1, sizeof(*o))) == NULL)
		goto err0;
	if ((o->dctx = ZSTD_createDCtx()) == NULL)
		goto err1;
	return (o);

err1:
	free(o);
err0:
	return (NULL);
}

void
cst_opener_skip_records_hash(cst_opener *o, int skip)
{

	o->skip_records_hash = skip != 0;
}

void
cst_opener_free(cst_opener *o)
{

	if (o == NULL)
		return;
	ZSTD_freeDCtx(o->dctx);
	free(o->raw);
	free(o->offs);
	free(o->leaves);
	free(o->scratch);
	free(o->kinds);
	free(o);
}

/* Makes room for raw_len payload bytes and count records. */
static int
opener_reserve(cst_opener *o, size_t raw_len, size_t count)
{
	size_t *offs;
	uint8_t (*leaves)[CST_HASH_LEN];
	uint8_t *kinds;
	size_t cap;
	void *p;

	/*
	 * At least one byte: a zero-length buffer may be NULL.  Doubling
	 * (within R-BLK-2's bound) keeps blocks of slowly rising sizes from
	 * costing a fresh buffer, and its page faults, each time.
	 */
	if (raw_len + 1 > o->raw_cap) {
		free(o->raw);
		cap = 2 * o->raw_cap;
		if (cap < raw_len + 1)
			cap = raw_len + 1;
		if (cap > CST_MAX_RAW + 1)
			cap = CST_MAX_RAW + 1;
		o->raw_cap = 0;
		if (cap >= HUGE_PAGE) {
			cap = (cap + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
			if (posix_memalign(&p, HUGE_PAGE, cap) != 0) {
				o->raw = NULL;
				return (CST_ENOMEM);
			}
			(void)madvise(p, cap, MADV_HUGEPAGE);
			o->raw = p;
		} else if ((o->raw = malloc(cap)) == NULL) {
			return (CST_ENOMEM);
		}
		o->raw_cap = cap;
	}
	if (count > o->cap) {
		if ((offs = realloc(o->offs, (count + 1) * sizeof(*offs))) ==
		    NULL)
			return (CST_ENOMEM);
		o->offs = offs;
		if ((leaves = realloc(o->leaves, count * CST_HASH_LEN)) ==
		    NULL)
			return (CST_ENOMEM);
		o->leaves = leaves;
		if ((leaves = realloc(o->scratch, count * CST_HASH_LEN)) ==
		    NULL)
			return (CST_ENOMEM);
		o->scratch = leaves;
		if ((kinds = realloc(o->kinds, count)) == NULL)
			return (CST_ENOMEM);
		o->kinds = kinds;
		o->cap = count;
	}
	return (0);
}

/* R-BLK-9: a seal block is fixed but for its position and time. */
static int
open_seal(const cst_blk_hdr *h, const uint8_t *payload, const char **rule)
{
	uint8_t empty_records[CST_HASH_LEN], empty_root[CST_HASH_LEN];

	cst_hash_domain(CST_D_RECORDS, NULL, 0, empty_records);
	cst_merkle_root(NULL, 0, empty_root);
	*rule = "R-BLK-9";
	if (h->record_count != 0 || h->raw_len != 0 ||
	    h->payload_len != sizeof(cst_empty_zstd_frame) ||
	    memcmp(payload, cst_empty_zstd_frame,
	    sizeof(cst_empty_zstd_frame)) != 0 ||
	    memcmp(h->records_hash, empty_records, CST_HASH_LEN) != 0 ||
	    memcmp(h->merkle_root, empty_root, CST_HASH_LEN) != 0 ||
	    h->min_time_ns != h->sealed_ns || h->max_time_ns != h->sealed_ns)
		return (CST_ECORRUPT);
	*rule = NULL;
	return (0);
}

/*
 * R-BLK-4: checks that the payload is one zstd frame stating raw_len as
 * its content size, before decompressing it into o->raw.  Whether the
 * bytes hash to records_hash is checked by the caller, several blocks at
 * a time.
 */
static int
open_payload(cst_opener *o, const cst_frame *f, const char **rule)
{
	const cst_blk_hdr *h = &f->hdr;
	unsigned long long csize;
	size_t n;
	int rc;

	*rule = "R-BLK-4";
	/* A skippable or legacy frame has another magic. */
	if (h->payload_len < sizeof(zstd_magic) ||
	    memcmp(f->payload, zstd_magic, sizeof(zstd_magic)) != 0)
		return (CST_ECORRUPT);
	csize = ZSTD_getFrameContentSize(f->payload, h->payload_len);
	if (csize == ZSTD_CONTENTSIZE_UNKNOWN ||
	    csize == ZSTD_CONTENTSIZE_ERROR || csize != h->raw_len)
		return (CST_ECORRUPT);
	n = ZSTD_findFrameCompressedSize(f->payload, h->payload_len);
	if (ZSTD_isError(n) || n != h->payload_len)
		return (CST_ECORRUPT);

	/* R-BLK-5 first, so that no hostile count sizes an allocation. */
	if (h->record_count > h->raw_len / RECORD_MIN_LEN) {
		*rule = "R-BLK-5";
		return (CST_ECORRUPT);
	}
	if ((rc = opener_reserve(o, h->raw_len, h->record_count)) != 0) {
		*rule = NULL;
		return (rc);
	}
	n = ZSTD_decompressDCtx(o->dctx, o->raw, h->raw_len, f->payload,
	    h->payload_len);
	if (ZSTD_isError(n) || n != h->raw_len)
		return (CST_ECORRUPT);
	o->raw_len = n;
	*rule = NULL;
	return (0);
}

/*
 * Splits o->raw into exactly record_count records (R-BLK-5, R-REC-1,
 * R-REC-2) and checks their Merkle root, sequence numbers (R-BLK-7) and
 * times (R-BLK-8).  Leaves are hashed LEAF_BATCH records at a time, just
 * after those records are decoded, while their bytes are still in cache:
 * a block of several megabytes is not read twice from memory.
 */
static int
open_records(cst_opener *o, const cst_blk_hdr *h, const char **rule)
{
	uint8_t root[CST_HASH_LEN];
	cst_record rec;
	size_t i, off = 0, used, done = 0;
	int64_t min_ns = INT64_MAX, max_ns = INT64_MIN;
	int seq_ok, rc;

	*rule = "R-BLK-7";
	if (h->first_seq > UINT64_MAX - h->record_count)
		return (CST_ECORRUPT);
	seq_ok = 1;
	for (i = 0; i < h->record_count; i++) {
		o->offs[i] = off;
		rc = cst_record_decode(o->raw + off, o->raw_len - off, &rec,
		    &used);
		if (rc == CST_ETRUNC) {
			*rule = "R-BLK-5";
			return (CST_ECORRUPT);
		}
		if (rc != 0) {
			*rule = "R-REC-1";
			return (CST_ECORRUPT);
		}
		off += used;
		o->offs[i + 1] = off;
		o->kinds[i] = rec.kind;
		if (rec.seq != h->first_seq + i)
			seq_ok = 0;
		if (rec.recv_ns < min_ns)
			min_ns = rec.recv_ns;
		if (rec.recv_ns > max_ns)
			max_ns = rec.recv_ns;
		if (i + 1 - done == LEAF_BATCH) {
			hash_leaves(o->raw, o->offs + done, LEAF_BATCH,
			    o->leaves + done);
			done = i + 1;
		}
	}
	*rule = "R-BLK-5";
	if (off != o->raw_len)
		return (CST_ECORRUPT);
	hash_leaves(o->raw, o->offs + done, h->record_count - done,
	    o->leaves + done);
	memcpy(o->scratch, o->leaves, h->record_count * CST_HASH_LEN);
	cst_merkle_root(o->scratch, h->record_count, root);
	if (sodium_memcmp(root, h->merkle_root, CST_HASH_LEN) != 0)
		return (CST_EHASH);
	if (!seq_ok) {
		*rule = "R-BLK-7";
		return (CST_ESEQ);
	}
	*rule = "R-BLK-8";
	if (min_ns != h->min_time_ns || max_ns != h->max_time_ns)
		return (CST_ECORRUPT);
	*rule = NULL;
	return (0);
}

/* R-BLK-2 and R-BLK-1, before anything is hashed, allocated or decompressed. */
static int
open_limits(const cst_blk_hdr *h, const char **rule)
{

	*rule = "R-BLK-2";
	if ((h->cert_len != 0 && h->cert_len != CST_CERT_LEN) ||
	    h->payload_len > CST_MAX_PAYLOAD || h->raw_len > CST_MAX_RAW ||
	    h->record_count > CST_MAX_RECORDS)
		return (CST_ETOOBIG);
	*rule = "R-BLK-1";
	if (h->type != CST_BLOCK_DATA && h->type != CST_BLOCK_SEAL)
		return (CST_ECORRUPT);
	*rule = NULL;
	return (0);
}

/*
 * Checks domain hashes of the blocks still open (rc[i] == 0; with
 * records set, only data blocks whose opener checks records_hash): the
 * payloads for payload_hash, or the decompressed records for
 * records_hash, all n at once so that they share SIMD lanes.
 */
static void
open_hashes(cst_opener *const *o, const cst_frame *const *f, size_t n,
    int records, int *rc, const char **rule)
{
	uint8_t got[CST_OPEN_MAX][CST_HASH_LEN];
	const uint8_t *data[CST_OPEN_MAX] = { NULL };
	size_t len[CST_OPEN_MAX] = { 0 }, which[CST_OPEN_MAX];
	const uint8_t *want;
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		if (rc[i] != 0)
			continue;
		if (!records) {
			data[k] = f[i]->payload;
			len[k] = f[i]->hdr.payload_len;
		} else if (f[i]->hdr.type == CST_BLOCK_DATA &&
		    !o[i]->skip_records_hash) {
			data[k] = o[i]->raw;
			len[k] = o[i]->raw_len;
		} else {
			continue;
		}
		which[k++] = i;
	}
	cst_hash_domain_many(records ? CST_D_RECORDS : CST_D_PAYLOAD, data,
	    len, k, got);
	for (i = 0; i < k; i++) {
		want = records ? f[which[i]]->hdr.records_hash :
		    f[which[i]]->hdr.payload_hash;
		if (sodium_memcmp(got[i], want, CST_HASH_LEN) != 0) {
			rc[which[i]] = CST_EHASH;
			rule[which[i]] = "R-BLK-4";
		}
	}
}

void
cst_block_open_many(cst_opener *const *o, const cst_frame *const *f,
    size_t n, int *rc, const char **rule)
{
	const char *rec_rule[CST_OPEN_MAX];
	int rec_rc[CST_OPEN_MAX];
	const cst_blk_hdr *h;
	size_t i;

	for (i = 0; i < n; i++) {
		o[i]->count = 0;
		o[i]->raw_len = 0;
		rec_rc[i] = 0;
		rec_rule[i] = NULL;
		rc[i] = open_limits(&f[i]->hdr, &rule[i]);
	}
	/* R-BLK-4: the payload is what was signed before it is unpacked. */
	open_hashes(o, f, n, 0, rc, rule);
	for (i = 0; i < n; i++) {
		h = &f[i]->hdr;
		if (rc[i] != 0 || h->type == CST_BLOCK_SEAL)
			continue;
		if (h->record_count == 0) {
			rule[i] = "R-BLK-8";
			rc[i] = CST_ECORRUPT;
			continue;
		}
		/*
		 * The records are split and their leaves hashed while they
		 * are still in cache, but that result counts only if the
		 * records hash holds: R-BLK-4 is reported first.
		 */
		if ((rc[i] = open_payload(o[i], f[i], &rule[i])) == 0)
			rec_rc[i] = open_records(o[i], h, &rec_rule[i]);
	}
	open_hashes(o, f, n, 1, rc, rule);
	for (i = 0; i < n; i++) {
		h = &f[i]->hdr;
		if (rc[i] == 0 && h->type == CST_BLOCK_SEAL) {
			rc[i] = open_seal(h, f[i]->payload, &rule[i]);
		} else if (rc[i] == 0) {
			rc[i] = rec_rc[i];
			rule[i] = rec_rule[i];
		}
		if (rc[i] == 0 && h->type == CST_BLOCK_DATA)
			o[i]->count = h->record_count;
		if (rc[i] != 0) {
			/* What failed to open is not there to be read. */
			o[i]->count = 0;
			o[i]->raw_len = 0;
		} else {
			rule[i] = NULL;
		}
	}
}

int
cst_block_open(cst_opener *o, const cst_frame *f, const char **rule)
{
	const char *r;
	int rc;

	cst_block_open_many(&o, &f, 1, &rc, &r);
	if (rule != NULL)
		*rule = r;
	return (rc);
}

const uint8_t *
cst_opener_raw(const cst_opener *o, size_t *len)
{

	*len = o->raw_len;
	return (o->raw);
}

size_t
cst_opener_count(const cst_opener *o)
{

	return (o->count);
}

int
cst_opener_record(const cst_opener *o, size_t i, cst_record *rec,
    cst_bytes *encoded)
{
	size_t used;

	if (i >= o->count)
		return (CST_EINVAL);
	/* Decoded once already by cst_block_open: this cannot fail. */
	if (cst_record_decode(o->raw + o->offs[i], o->offs[i + 1] - o->offs[i],
	    rec, &used) != 0)
		return (CST_EINVAL);
	if (encoded != NULL) {
		encoded->p = o->raw + o->offs[i];
		encoded->len = used;
	}
	return (0);
}

int
cst_opener_kind(const cst_opener *o, size_t i)
{

	if (i >= o->count)
		return (CST_EINVAL);
	return (o->kinds[i]);
}

const uint8_t (*cst_opener_leaves(const cst_opener *o))[CST_HASH_LEN]
{

	return ((const uint8_t (*)[CST_HASH_LEN])o->leaves);
}
