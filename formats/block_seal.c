/*
 * Sealing blocks (SPEC section 4): drafts, the sealer, and placing and
 * signing a draft in the chain.  Opening is in block_open.c.
 *
 * The sealer is per-thread scratch: its buffers and zstd context grow to
 * the largest block seen and are then reused, so that sealing a block
 * allocates nothing in the steady state.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
#include "block_int.h"

struct cst_sealer {
	ZSTD_CCtx *cctx;
	cst_buf raw;
	uint8_t (*leaves)[CST_HASH_LEN];
	size_t leaves_cap;
};

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

/*
 * Makes d (borrowed) an empty draft that owns nothing; allocates nothing.
 * Call it once on fresh memory before d is given to cst_sealer_build or
 * cst_draft_build_seal, which overwrite d and reuse its payload buffer
 * from one draft to the next.  Release with cst_draft_close.
 */
void
cst_draft_init(cst_draft *d)
{

	memset(d, 0, sizeof(*d));
	cst_buf_init(&d->payload);
}

/*
 * Frees the payload buffer d (borrowed) owns and leaves d as
 * cst_draft_init does, ready for reuse; safe on a draft that was only
 * initialised or already closed.
 */
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

/*
 * Builds the draft of a seal block (R-BLK-9) before sequence next_seq into
 * out (borrowed, initialised by cst_draft_init, overwritten); pass the
 * same sealed_ns to cst_block_finish.  Returns 0 or CST_ENOMEM.
 */
int
cst_draft_build_seal(cst_draft *out, uint64_t next_seq, int64_t sealed_ns)
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

void
cst_chain_seg_hdr(const cst_chain_state *st, int64_t created_ns,
    cst_seg_hdr *h)
{

	memset(h, 0, sizeof(*h));
	h->version = CST_FORMAT_VERSION;
	memcpy(h->chain_id, st->chain_id, CST_CHAIN_ID_LEN);
	h->segment_no = st->segment_no;
	h->first_block_no = st->next_block_no;
	h->first_seq = st->next_seq;
	memcpy(h->prev_hash, st->prev_hash, CST_HASH_LEN);
	h->created_ns = created_ns;
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
