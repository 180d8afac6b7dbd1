/*
 * The fixed layouts of SPEC sections 3.1, 4.1 and 6.1: segment header,
 * block header, key certificate, and locating a block frame.
 *
 * Every decode checks len before it reads a byte; the offsets below are
 * those of the SPEC tables.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "custody/error.h"
#include "custody/format.h"
#include "custody/frame.h"
#include "custody/hash.h"
#include "custody/le.h"

/* R-BLK-9: a zstd frame header with Single_Segment set, content size 0. */
const uint8_t cst_empty_zstd_frame[9] = {
	0x28, 0xb5, 0x2f, 0xfd, 0x20, 0x00, 0x01, 0x00, 0x00
};

static const uint8_t seg_magic[8] = { 'C', 'U', 'S', 'T', 'S', 'E', 'G', 0 };
static const uint8_t cert_magic[4] = { 'C', 'K', 'E', 'Y' };

/* Bytes of the segment header covered by its check field (R-SEG-1). */
#define SEG_CHECKED_LEN 96
/* Bytes of a certificate covered by its signature (R-KEY-1). */
#define CERT_SIGNED_LEN 80

void
cst_seg_hdr_encode(const cst_seg_hdr *h, uint8_t *out)
{

	memcpy(out, seg_magic, sizeof(seg_magic));
	cst_le_put16(out + 8, h->version);
	cst_le_put16(out + 10, CST_SEG_HDR_LEN);
	cst_le_put32(out + 12, 0);
	memcpy(out + 16, h->chain_id, CST_CHAIN_ID_LEN);
	cst_le_put64(out + 32, h->segment_no);
	cst_le_put64(out + 40, h->first_block_no);
	cst_le_put64(out + 48, h->first_seq);
	memcpy(out + 56, h->prev_hash, CST_HASH_LEN);
	cst_le_put64(out + 88, (uint64_t)h->created_ns);
	cst_hash_domain(CST_D_SEGMENT, out, SEG_CHECKED_LEN, out + 96);
}

int
cst_seg_hdr_decode(const uint8_t *buf, size_t len, cst_seg_hdr *out)
{
	uint8_t check[CST_HASH_LEN];

	/* R-SEG-1: a file shorter than the header. */
	if (len < CST_SEG_HDR_LEN)
		return (CST_ETRUNC);
	/* R-SEG-1, in the order that names the most useful error. */
	if (memcmp(buf, seg_magic, sizeof(seg_magic)) != 0)
		return (CST_ECORRUPT);
	if (cst_le_get16(buf + 8) != CST_FORMAT_VERSION)
		return (CST_EVERSION);
	if (cst_le_get16(buf + 10) != CST_SEG_HDR_LEN || cst_le_get32(buf + 12) != 0)
		return (CST_ECORRUPT);
	cst_hash_domain(CST_D_SEGMENT, buf, SEG_CHECKED_LEN, check);
	if (sodium_memcmp(check, buf + 96, CST_HASH_LEN) != 0)
		return (CST_ECORRUPT);

	out->version = cst_le_get16(buf + 8);
	memcpy(out->chain_id, buf + 16, CST_CHAIN_ID_LEN);
	out->segment_no = cst_le_get64(buf + 32);
	out->first_block_no = cst_le_get64(buf + 40);
	out->first_seq = cst_le_get64(buf + 48);
	memcpy(out->prev_hash, buf + 56, CST_HASH_LEN);
	out->created_ns = cst_le_geti64(buf + 88);
	return (0);
}

void
cst_blk_hdr_encode(const cst_blk_hdr *h, uint8_t *out)
{

	memcpy(out, CST_BLK_MAGIC, CST_BLK_MAGIC_LEN);
	cst_le_put16(out + 4, h->version);
	cst_le_put16(out + 6, h->type);
	cst_le_put32(out + 8, h->flags);
	cst_le_put32(out + 12, h->key_epoch);
	memcpy(out + 16, h->chain_id, CST_CHAIN_ID_LEN);
	cst_le_put64(out + 32, h->segment_no);
	cst_le_put64(out + 40, h->block_no);
	cst_le_put64(out + 48, h->first_seq);
	cst_le_put32(out + 56, h->record_count);
	cst_le_put32(out + 60, h->cert_len);
	cst_le_put32(out + 64, h->payload_len);
	cst_le_put32(out + 68, h->raw_len);
	cst_le_put64(out + 72, (uint64_t)h->min_time_ns);
	cst_le_put64(out + 80, (uint64_t)h->max_time_ns);
	cst_le_put64(out + 88, (uint64_t)h->sealed_ns);
	memcpy(out + 96, h->payload_hash, CST_HASH_LEN);
	memcpy(out + 128, h->records_hash, CST_HASH_LEN);
	memcpy(out + 160, h->merkle_root, CST_HASH_LEN);
	memcpy(out + 192, h->prev_hash, CST_HASH_LEN);
}

int
cst_blk_hdr_decode(const uint8_t *buf, size_t len, cst_blk_hdr *out)
{
	cst_blk_hdr h;

	if (len < CST_BLK_HDR_LEN)
		return (CST_ETRUNC);
	/* R-BLK-1.  First: a verifier resynchronising tries many offsets. */
	if (memcmp(buf, CST_BLK_MAGIC, CST_BLK_MAGIC_LEN) != 0)
		return (CST_ECORRUPT);

	/* Padding too, so equal headers compare equal byte for byte. */
	memset(&h, 0, sizeof(h));
	h.version = cst_le_get16(buf + 4);
	h.type = cst_le_get16(buf + 6);
	h.flags = cst_le_get32(buf + 8);
	h.key_epoch = cst_le_get32(buf + 12);
	memcpy(h.chain_id, buf + 16, CST_CHAIN_ID_LEN);
	h.segment_no = cst_le_get64(buf + 32);
	h.block_no = cst_le_get64(buf + 40);
	h.first_seq = cst_le_get64(buf + 48);
	h.record_count = cst_le_get32(buf + 56);
	h.cert_len = cst_le_get32(buf + 60);
	h.payload_len = cst_le_get32(buf + 64);
	h.raw_len = cst_le_get32(buf + 68);
	h.min_time_ns = cst_le_geti64(buf + 72);
	h.max_time_ns = cst_le_geti64(buf + 80);
	h.sealed_ns = cst_le_geti64(buf + 88);
	memcpy(h.payload_hash, buf + 96, CST_HASH_LEN);
	memcpy(h.records_hash, buf + 128, CST_HASH_LEN);
	memcpy(h.merkle_root, buf + 160, CST_HASH_LEN);
	memcpy(h.prev_hash, buf + 192, CST_HASH_LEN);

	if (h.version != CST_FORMAT_VERSION)
		return (CST_EVERSION);
	if ((h.type != CST_BLOCK_DATA && h.type != CST_BLOCK_SEAL) ||
	    h.flags != 0)
		return (CST_ECORRUPT);
	/* R-BLK-2, before anyone reads, allocates or decompresses. */
	if (h.cert_len != 0 && h.cert_len != CST_CERT_LEN)
		return (CST_ECORRUPT);
	if (h.payload_len > CST_MAX_PAYLOAD || h.raw_len > CST_MAX_RAW ||
	    h.record_count > CST_MAX_RECORDS)
		return (CST_ETOOBIG);

	*out = h;
	return (0);
}

void
cst_cert_encode(const cst_cert *c, uint8_t *out)
{

	memcpy(out, cert_magic, sizeof(cert_magic));
	cst_le_put16(out + 4, CST_FORMAT_VERSION);
	cst_le_put16(out + 6, 0);
	cst_le_put32(out + 8, c->epoch);
	cst_le_put32(out + 12, c->signer_epoch);
	memcpy(out + 16, c->chain_id, CST_CHAIN_ID_LEN);
	memcpy(out + 32, c->public_key, CST_PK_LEN);
	cst_le_put64(out + 64, c->valid_from);
	cst_le_put64(out + 72, (uint64_t)c->created_ns);
	memcpy(out + CERT_SIGNED_LEN, c->signature, CST_SIG_LEN);
}

int
cst_cert_decode(const uint8_t *buf, size_t len, cst_cert *out)
{
	cst_cert c;

	if (len < CST_CERT_LEN)
		return (CST_ETRUNC);

	/* R-KEY-1, the part that needs no key. */
	if (memcmp(buf, cert_magic, sizeof(cert_magic)) != 0)
		return (CST_ECORRUPT);
	if (cst_le_get16(buf + 4) != CST_FORMAT_VERSION)
		return (CST_EVERSION);
	if (cst_le_get16(buf + 6) != 0)
		return (CST_ECORRUPT);
	c.epoch = cst_le_get32(buf + 8);
	c.signer_epoch = cst_le_get32(buf + 12);
	if (c.epoch < 1 || c.signer_epoch != c.epoch - 1)
		return (CST_ECORRUPT);
	memcpy(c.chain_id, buf + 16, CST_CHAIN_ID_LEN);
	memcpy(c.public_key, buf + 32, CST_PK_LEN);
	c.valid_from = cst_le_get64(buf + 64);
	c.created_ns = cst_le_geti64(buf + 72);
	memcpy(c.signature, buf + CERT_SIGNED_LEN, CST_SIG_LEN);

	*out = c;
	return (0);
}

int
cst_frame_parse(const uint8_t *buf, size_t len, cst_frame *out)
{
	cst_blk_hdr h;
	uint64_t frame_len;
	int rc;

	if ((rc = cst_blk_hdr_decode(buf, len, &h)) != 0)
		return (rc);

	/*
	 * R-BLK-2: the frame must fit.  The header's limits keep this sum
	 * far below 2^64, so it cannot wrap.
	 */
	frame_len = (uint64_t)CST_BLK_HDR_LEN + h.cert_len + h.payload_len +
	    CST_SIG_LEN;
	if (frame_len > len)
		return (CST_ETRUNC);

	out->hdr = h;
	out->hdr_bytes = buf;
	out->cert = h.cert_len > 0 ? buf + CST_BLK_HDR_LEN : NULL;
	out->payload = buf + CST_BLK_HDR_LEN + h.cert_len;
	out->sig = out->payload + h.payload_len;
	out->frame_len = (size_t)frame_len;

	/* block_hash = H(D_BLOCK || header || cert), SPEC section 4.1. */
	cst_hash_domain(CST_D_BLOCK, buf, CST_BLK_HDR_LEN + h.cert_len,
	    out->block_hash);
	return (0);
}
