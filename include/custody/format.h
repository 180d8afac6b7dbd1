/*
 * custody store format v1: constants and fixed layouts (formats/SPEC.md).
 *
 * The structs are the decoded, host-order form of the on-disk layouts;
 * the SPEC tables give the bytes.  Every decode function treats its input
 * as hostile: it checks before it reads and never reads past len.
 */
#ifndef CUSTODY_FORMAT_H
#define CUSTODY_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#define CST_FORMAT_VERSION 1

#define CST_HASH_LEN 32
#define CST_SIG_LEN 64
#define CST_PK_LEN 32
#define CST_SEED_LEN 32
#define CST_CHAIN_ID_LEN 16
#define CST_FPR_LEN 16 /* printed part of a fingerprint */

#define CST_SEG_HDR_LEN 128
#define CST_BLK_HDR_LEN 224
#define CST_CERT_LEN 144

#define CST_MAX_PAYLOAD (64u << 20) /* R-BLK-2 */
#define CST_MAX_RAW (64u << 20)     /* R-BLK-2 */
#define CST_MAX_RECORDS (1u << 20)  /* R-BLK-2 */

/* Domain strings (SPEC section 1); the NUL is part of the domain. */
#define CST_D_SEGMENT "custody/v1/segment"
#define CST_D_BLOCK "custody/v1/block"
#define CST_D_BLOCKSIG "custody/v1/block-sig"
#define CST_D_PAYLOAD "custody/v1/payload"
#define CST_D_RECORDS "custody/v1/records"
#define CST_D_KEYCERT "custody/v1/keycert"
#define CST_D_KEYID "custody/v1/key-id"
#define CST_D_CHECKPOINT "custody/v1/checkpoint"

enum cst_block_type {
	CST_BLOCK_DATA = 1,
	CST_BLOCK_SEAL = 2,
};

/* The 9-byte zstd frame of empty content a seal block carries (R-BLK-9). */
extern const uint8_t cst_empty_zstd_frame[9];

typedef struct cst_seg_hdr {
	uint16_t version;
	uint8_t chain_id[CST_CHAIN_ID_LEN];
	uint64_t segment_no;
	uint64_t first_block_no;
	uint64_t first_seq;
	uint8_t prev_hash[CST_HASH_LEN];
	int64_t created_ns;
} cst_seg_hdr;

typedef struct cst_blk_hdr {
	uint16_t version;
	uint16_t type;
	uint32_t flags;
	uint32_t key_epoch;
	uint8_t chain_id[CST_CHAIN_ID_LEN];
	uint64_t segment_no;
	uint64_t block_no;
	uint64_t first_seq;
	uint32_t record_count;
	uint32_t cert_len;
	uint32_t payload_len;
	uint32_t raw_len;
	int64_t min_time_ns;
	int64_t max_time_ns;
	int64_t sealed_ns;
	uint8_t payload_hash[CST_HASH_LEN];
	uint8_t records_hash[CST_HASH_LEN];
	uint8_t merkle_root[CST_HASH_LEN];
	uint8_t prev_hash[CST_HASH_LEN];
} cst_blk_hdr;

typedef struct cst_cert {
	uint32_t epoch;
	uint32_t signer_epoch;
	uint8_t chain_id[CST_CHAIN_ID_LEN];
	uint8_t public_key[CST_PK_LEN];
	uint64_t valid_from;
	int64_t created_ns;
	uint8_t signature[CST_SIG_LEN];
} cst_cert;

/*
 * Encodes h into out[0..CST_SEG_HDR_LEN) (borrowed), computing the check
 * field.  Cannot fail.
 */
void cst_seg_hdr_encode(const cst_seg_hdr *h, uint8_t *out);

/*
 * Decodes a segment header from buf[0..len) into out (borrowed).
 * Returns 0, CST_ETRUNC when len < CST_SEG_HDR_LEN, CST_EVERSION for
 * another version, or CST_ECORRUPT (R-SEG-1).
 */
int cst_seg_hdr_decode(const uint8_t *buf, size_t len, cst_seg_hdr *out);

/* Encodes h into out[0..CST_BLK_HDR_LEN).  Cannot fail. */
void cst_blk_hdr_encode(const cst_blk_hdr *h, uint8_t *out);

/*
 * Decodes a block header from buf[0..len).  Checks R-BLK-1 and the limits
 * of R-BLK-2 (not that the frame fits: see cst_frame_parse).  Returns 0,
 * CST_ETRUNC, CST_EVERSION, CST_ECORRUPT or CST_ETOOBIG.
 */
int cst_blk_hdr_decode(const uint8_t *buf, size_t len, cst_blk_hdr *out);

/* Encodes c into out[0..CST_CERT_LEN).  Cannot fail. */
void cst_cert_encode(const cst_cert *c, uint8_t *out);

/*
 * Decodes a certificate from buf[0..len) (structure only, R-KEY-1 first
 * part; the signature is checked by cst_cert_verify).  Returns 0,
 * CST_ETRUNC, CST_EVERSION or CST_ECORRUPT.
 */
int cst_cert_decode(const uint8_t *buf, size_t len, cst_cert *out);

/*
 * A block frame located inside a buffer: every pointer borrows from the
 * buffer given to cst_frame_parse.
 */
typedef struct cst_frame {
	cst_blk_hdr hdr;
	const uint8_t *hdr_bytes; /* CST_BLK_HDR_LEN bytes */
	const uint8_t *cert;      /* NULL when cert_len == 0 */
	const uint8_t *payload;
	const uint8_t *sig;
	size_t frame_len;
	uint8_t block_hash[CST_HASH_LEN];
} cst_frame;

/*
 * Locates the frame starting at buf[0] within buf[0..len), decodes its
 * header and computes its block hash.  Returns 0; CST_ETRUNC when the
 * frame does not fit in len (a partial tail); or the header's decode
 * error.  Checks nothing a signature or payload check covers.
 */
int cst_frame_parse(const uint8_t *buf, size_t len, cst_frame *out);

#endif /* CUSTODY_FORMAT_H */
