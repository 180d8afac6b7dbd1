/*
 * Sealing and opening blocks (SPEC section 4).
 *
 * The sealer and the opener are per-thread scratch: their buffers and
 * zstd contexts grow to the largest block seen and are then reused, so
 * that sealing or opening a block allocates nothing in the steady state.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <sodium.h>
#include <zstd.h>

#include "custody/block.h"
#include "custody/buf.h"
#include "custody/error.h"
#include "custody/format.h"
#include "custody/hash.h"
#include "custody/keys.h"
#include "custody/merkle.h"
#include "custody/record.h"

/*
 * The shortest record: an array header and eleven elements of at least
 * one byte each (SPEC section 5).  A header claiming more records than
 * raw_len can hold is refused before anything is allocated for them.
 */
#define RECORD_MIN_LEN 12

/*
 * Leaves are hashed this many records at a time: enough for
 * cst_merkle_leaves to fill its SIMD lanes (four or eight at once), few
 * enough that the sealer hashes records while their bytes are still in
 * cache and the offsets fit on the stack.
 */
#define LEAF_BATCH 64

#define HUGE_PAGE (2u << 20)

/* The zstd frame magic, 0xFD2FB528 little-endian (RFC 8878 3.1.1). */
static const uint8_t zstd_magic[4] = { 0x28, 0xb5, 0x2f, 0xfd };

struct cst_sealer {
	ZSTD_CCtx *cctx;
	cst_buf raw;
	uint8_t (*leaves)[CST_HASH_LEN];
	size_t leaves_cap;
};

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

/* The message signed for a block: D_BLOCKSIG || block_hash. */
static void
sig_message(const uint8_t hash[CST_HASH_LEN],
    uint8_t m[sizeof(CST_D_BLOCKSIG) + CST_HASH_LEN])
{

	memcpy(m, CST_D_BLOCKSIG, sizeof(CST_D_BLOCKSIG));
	memcpy(m + sizeof(CST_D_BLOCKSIG), hash, CST_HASH_LEN);
}

/*
 * leaves[i] = H(00 || raw[offs[i]..offs[i + 1])) for i in 0..n (SPEC
 * section 5); offs has n + 1 entries.
 */
static void
hash_leaves(const uint8_t *raw, const size_t *offs, size_t n,
    uint8_t (*leaves)[CST_HASH_LEN])
{
	const uint8_t *data[LEAF_BATCH];
	size_t len[LEAF_BATCH];
	size_t i, k;

	for (i = 0; i < n; i += k) {
		for (k = 0; k < LEAF_BATCH && i + k < n; k++) {
			data[k] = raw + offs[i + k];
			len[k] = offs[i + k + 1] - offs[i + k];
		}
		cst_merkle_leaves(data, len, k, leaves + i);
	}
}

cst_sealer *
cst_sealer_new(int level)
{
	cst_sealer *s;

	/*
	 * libsodium (signatures, constant-time compares) must be set up
	 * before use; the format's BLAKE2b is the project's own (blake2b.h).
	 */
	if (sodium_init() < 0)
		goto err0;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		goto err0;
	cst_buf_init(&s->raw);
	if ((s->cctx = ZSTD_createCCtx()) == NULL)
		goto err1;
	/*
	 * R-BLK-4: the frame states its content size.  No zstd checksum:
	 * records_hash already covers the content.
	 */
	if (ZSTD_isError(ZSTD_CCtx_setParameter(s->cctx,
	    ZSTD_c_compressionLevel, level)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(s->cctx,
	    ZSTD_c_contentSizeFlag, 1)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(s->cctx,
	    ZSTD_c_checksumFlag, 0)))
		goto err2;
	return (s);

err2:
	ZSTD_freeCCtx(s->cctx);
err1:
	free(s);
err0:
	return (NULL);
}

void
cst_sealer_free(cst_sealer *s)
{

	if (s == NULL)
		return;
	ZSTD_freeCCtx(s->cctx);
	cst_buf_close(&s->raw);
	free(s->leaves);
	free(s);
}

void
cst_draft_init(cst_draft *d)
{

	memset(d, 0, sizeof(*d));
	cst_buf_init(&d->payload);
}

void
cst_draft_close(cst_draft *d)
{

	cst_buf_close(&d->payload);
	cst_draft_init(d);
}

int
cst_sealer_build(cst_sealer *s, const cst_record *recs, size_t n,
    cst_draft *out)
{
	uint8_t (*leaves)[CST_HASH_LEN];
	size_t offs[LEAF_BATCH + 1];
	int64_t min_ns, max_ns;
	size_t i, k, bound, clen;
	int rc;

	if (n == 0 || recs[0].seq > UINT64_MAX - (n - 1))
		return (CST_EINVAL);
	if (n > CST_MAX_RECORDS)
		return (CST_ETOOBIG);
	if (n > s->leaves_cap) {
		if ((leaves = realloc(s->leaves, n * CST_HASH_LEN)) == NULL)
			return (CST_ENOMEM);
		s->leaves = leaves;
		s->leaves_cap = n;
	}

	/*
	 * Each batch of LEAF_BATCH records' leaves is hashed while their
	 * bytes are still in cache.  Offsets, not pointers, are kept: raw
	 * may move as it grows.
	 */
	s->raw.len = 0;
	min_ns = max_ns = recs[0].recv_ns;
	for (i = 0, k = 0; i < n; i++) {
		/* R-BLK-7: the batch carries consecutive numbers. */
		if (recs[i].seq != recs[0].seq + i)
			return (CST_EINVAL);
		offs[k++] = s->raw.len;
		if ((rc = cst_record_encode(&recs[i], &s->raw)) != 0)
			return (rc);
		if (s->raw.len > CST_MAX_RAW)
			return (CST_ETOOBIG);
		if (k == LEAF_BATCH || i + 1 == n) {
			offs[k] = s->raw.len;
			hash_leaves(s->raw.p, offs, k, s->leaves + (i + 1 - k));
			k = 0;
		}
		if (recs[i].recv_ns < min_ns)
			min_ns = recs[i].recv_ns;
		if (recs[i].recv_ns > max_ns)
			max_ns = recs[i].recv_ns;
	}
	cst_merkle_root(s->leaves, n, out->merkle_root);
	cst_hash_domain(CST_D_RECORDS, s->raw.p, s->raw.len,
	    out->records_hash);

	/* R-BLK-4: one frame, content size stated (set in cst_sealer_new). */
	bound = ZSTD_compressBound(s->raw.len);
	out->payload.len = 0;
	if (cst_buf_reserve(&out->payload, bound) != 0)
		return (CST_ENOMEM);
	clen = ZSTD_compress2(s->cctx, out->payload.p, bound, s->raw.p,
	    s->raw.len);
	if (ZSTD_isError(clen))
		return (CST_ECOMPRESS);
	if (clen > CST_MAX_PAYLOAD)
		return (CST_ETOOBIG);
	out->payload.len = clen;
	cst_hash_domain(CST_D_PAYLOAD, out->payload.p, clen,
	    out->payload_hash);

	out->type = CST_BLOCK_DATA;
	out->record_count = (uint32_t)n;
	out->first_seq = recs[0].seq;
	out->min_time_ns = min_ns;
	out->max_time_ns = max_ns;
	out->raw_len = (uint32_t)s->raw.len;
	return (0);
}

int
cst_draft_seal(cst_draft *out, uint64_t next_seq, int64_t sealed_ns)
{

	/* R-BLK-9: no records, the empty frame, times equal to sealed_ns. */
	out->payload.len = 0;
	if (cst_buf_append(&out->payload, cst_empty_zstd_frame,
	    sizeof(cst_empty_zstd_frame)) != 0)
		return (CST_ENOMEM);
	out->type = CST_BLOCK_SEAL;
	out->record_count = 0;
	out->first_seq = next_seq;
	out->min_time_ns = sealed_ns;
	out->max_time_ns = sealed_ns;
	out->raw_len = 0;
	cst_hash_domain(CST_D_PAYLOAD, cst_empty_zstd_frame,
	    sizeof(cst_empty_zstd_frame), out->payload_hash);
	cst_hash_domain(CST_D_RECORDS, NULL, 0, out->records_hash);
	cst_merkle_root(NULL, 0, out->merkle_root);
	return (0);
}

int
cst_block_finish(const cst_draft *d, cst_chain_state *st,
    const cst_epoch_key *key, int64_t sealed_ns, cst_buf *frame,
    uint8_t hash[CST_HASH_LEN])
{
	uint8_t m[sizeof(CST_D_BLOCKSIG) + CST_HASH_LEN];
	uint8_t block_hash[CST_HASH_LEN];
	const cst_cert *cert = NULL;
	cst_blk_hdr h;
	uint8_t *p;
	size_t len;

	if (d->type != CST_BLOCK_DATA && d->type != CST_BLOCK_SEAL)
		return (CST_EINVAL);
	if (d->payload.len > CST_MAX_PAYLOAD ||
	    d->record_count > CST_MAX_RECORDS)
		return (CST_EINVAL);
	/* R-BLK-7. */
	if (d->first_seq != st->next_seq ||
	    st->next_seq > UINT64_MAX - d->record_count)
		return (CST_EINVAL);
	/* R-BLK-9: a seal's times are its sealing time. */
	if (d->type == CST_BLOCK_SEAL && (d->min_time_ns != sealed_ns ||
	    d->max_time_ns != sealed_ns))
		return (CST_EINVAL);
	if (key->epoch < 1 || memcmp(key->chain_id, st->chain_id,
	    CST_CHAIN_ID_LEN) != 0)
		return (CST_EINVAL);
	/*
	 * R-KEY-2: block 0 and each change of key carry the new key's
	 * certificate, and the epoch only ever steps by one.
	 */
	if ((st->next_block_no == 0) != (st->epoch == 0))
		return (CST_EINVAL);
	if (key->epoch != st->epoch) {
		if (key->epoch != st->epoch + 1)
			return (CST_EINVAL);
		cert = &key->certs[key->epoch - 1];
		if (cert->epoch != key->epoch ||
		    cert->valid_from != st->next_block_no)
			return (CST_EINVAL);
	}

	memset(&h, 0, sizeof(h));
	h.version = CST_FORMAT_VERSION;
	h.type = d->type;
	h.key_epoch = key->epoch;
	memcpy(h.chain_id, st->chain_id, CST_CHAIN_ID_LEN);
	h.segment_no = st->segment_no;
	h.block_no = st->next_block_no;
	h.first_seq = d->first_seq;
	h.record_count = d->record_count;
	h.cert_len = cert != NULL ? CST_CERT_LEN : 0;
	h.payload_len = (uint32_t)d->payload.len;
	h.raw_len = d->raw_len;
	h.min_time_ns = d->min_time_ns;
	h.max_time_ns = d->max_time_ns;
	h.sealed_ns = sealed_ns;
	memcpy(h.payload_hash, d->payload_hash, CST_HASH_LEN);
	memcpy(h.records_hash, d->records_hash, CST_HASH_LEN);
	memcpy(h.merkle_root, d->merkle_root, CST_HASH_LEN);
	memcpy(h.prev_hash, st->prev_hash, CST_HASH_LEN);

	len = CST_BLK_HDR_LEN + h.cert_len + d->payload.len + CST_SIG_LEN;
	if (cst_buf_reserve(frame, len) != 0)
		return (CST_ENOMEM);
	p = frame->p + frame->len;
	cst_blk_hdr_encode(&h, p);
	if (cert != NULL)
		cst_cert_encode(cert, p + CST_BLK_HDR_LEN);
	if (d->payload.len > 0)
		memcpy(p + CST_BLK_HDR_LEN + h.cert_len, d->payload.p,
		    d->payload.len);

	/* SPEC 4.1: block_hash = H(D_BLOCK || header || cert). */
	cst_hash_domain(CST_D_BLOCK, p, CST_BLK_HDR_LEN + h.cert_len,
	    block_hash);
	sig_message(block_hash, m);
	crypto_sign_detached(p + len - CST_SIG_LEN, NULL, m, sizeof(m),
	    key->sk);
	frame->len += len;

	st->next_block_no++;
	st->next_seq += d->record_count;
	memcpy(st->prev_hash, block_hash, CST_HASH_LEN);
	st->epoch = key->epoch;
	if (hash != NULL)
		memcpy(hash, block_hash, CST_HASH_LEN);
	return (0);
}

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
