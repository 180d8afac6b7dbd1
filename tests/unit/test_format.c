/*
 * Fixed layouts (SPEC sections 3.1, 4.1, 6.1), frame location, hashing
 * helpers and the byte buffer.
 */
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>
#include <sodium.h>
#include <zstd.h>

#include "custody/buf.h"
#include "custody/error.h"
#include "custody/format.h"
#include "custody/hash.h"

/* H(domain || NUL || data), computed here without cst_hash_domain. */
static void
ref_hash(const char *domain, const uint8_t *data, size_t len, uint8_t *out)
{
	uint8_t m[512];
	size_t dlen = strlen(domain) + 1;

	cr_assert(dlen + len <= sizeof(m));
	memcpy(m, domain, dlen);
	if (len > 0)
		memcpy(m + dlen, data, len);
	crypto_generichash(out, CST_HASH_LEN, m, dlen + len, NULL, 0);
}

static uint64_t
le64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return (v);
}

static void
fill_bytes(uint8_t *p, size_t n, uint8_t seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + 7 * i);
}

static cst_seg_hdr
sample_seg(void)
{
	cst_seg_hdr h;

	memset(&h, 0, sizeof(h));
	h.version = CST_FORMAT_VERSION;
	fill_bytes(h.chain_id, sizeof(h.chain_id), 1);
	h.segment_no = 0x0102030405060708ULL;
	h.first_block_no = 42;
	h.first_seq = UINT64_MAX;
	fill_bytes(h.prev_hash, sizeof(h.prev_hash), 9);
	h.created_ns = -1234567890123LL;
	return (h);
}

/* Rewrites the check of an encoded segment header after a change. */
static void
seg_recheck(uint8_t *b)
{

	ref_hash(CST_D_SEGMENT, b, 96, b + 96);
}

Test(format, seg_hdr_roundtrip_and_offsets)
{
	cst_seg_hdr h = sample_seg(), d;
	uint8_t b[CST_SEG_HDR_LEN], check[CST_HASH_LEN];

	cst_seg_hdr_encode(&h, b);
	cr_assert(memcmp(b, "CUSTSEG\0", 8) == 0);
	cr_assert_eq(b[8], 1);
	cr_assert_eq(b[9], 0);
	cr_assert_eq(b[10], 128);
	cr_assert_eq(le64(b + 32), h.segment_no);
	cr_assert_eq(le64(b + 48), UINT64_MAX);
	cr_assert_eq((int64_t)le64(b + 88), h.created_ns);
	ref_hash(CST_D_SEGMENT, b, 96, check);
	cr_assert(memcmp(b + 96, check, CST_HASH_LEN) == 0,
	    "check = H(D_SEGMENT || bytes 0..95)");

	cr_assert_eq(cst_seg_hdr_decode(b, sizeof(b), &d), 0);
	cr_assert_eq(d.version, 1);
	cr_assert(memcmp(d.chain_id, h.chain_id, CST_CHAIN_ID_LEN) == 0);
	cr_assert_eq(d.segment_no, h.segment_no);
	cr_assert_eq(d.first_block_no, h.first_block_no);
	cr_assert_eq(d.first_seq, h.first_seq);
	cr_assert(memcmp(d.prev_hash, h.prev_hash, CST_HASH_LEN) == 0);
	cr_assert_eq(d.created_ns, h.created_ns);
}

Test(format, seg_hdr_rejects_r_seg_1)
{
	cst_seg_hdr h = sample_seg(), d;
	uint8_t good[CST_SEG_HDR_LEN], b[CST_SEG_HDR_LEN];
	size_t i, len;

	cst_seg_hdr_encode(&h, good);

	/* R-SEG-1: shorter than 128 bytes, at every length. */
	for (len = 0; len < CST_SEG_HDR_LEN; len++)
		cr_assert_eq(cst_seg_hdr_decode(good, len, &d), CST_ETRUNC,
		    "len %zu", len);

	/* Bad magic, each byte, even with a correct check. */
	for (i = 0; i < 8; i++) {
		memcpy(b, good, sizeof(b));
		b[i] ^= 0x20;
		seg_recheck(b);
		cr_assert_eq(cst_seg_hdr_decode(b, sizeof(b), &d),
		    CST_ECORRUPT, "magic byte %zu", i);
	}

	memcpy(b, good, sizeof(b));
	b[8] = 2;
	seg_recheck(b);
	cr_assert_eq(cst_seg_hdr_decode(b, sizeof(b), &d), CST_EVERSION);
	b[8] = 0;
	seg_recheck(b);
	cr_assert_eq(cst_seg_hdr_decode(b, sizeof(b), &d), CST_EVERSION);

	memcpy(b, good, sizeof(b));
	b[10] = 127;
	seg_recheck(b);
	cr_assert_eq(cst_seg_hdr_decode(b, sizeof(b), &d), CST_ECORRUPT,
	    "header_len");

	for (i = 12; i < 16; i++) {
		memcpy(b, good, sizeof(b));
		b[i] = 0x80;
		seg_recheck(b);
		cr_assert_eq(cst_seg_hdr_decode(b, sizeof(b), &d),
		    CST_ECORRUPT, "flags byte %zu", i);
	}

	/* Any byte changed under the check, or in the check itself. */
	for (i = 16; i < CST_SEG_HDR_LEN; i++) {
		memcpy(b, good, sizeof(b));
		b[i] ^= 1;
		cr_assert_eq(cst_seg_hdr_decode(b, sizeof(b), &d),
		    CST_ECORRUPT, "byte %zu", i);
	}

	/* A longer buffer is fine: the header is its first 128 bytes. */
	{
		uint8_t longer[CST_SEG_HDR_LEN + 10];

		memcpy(longer, good, sizeof(good));
		memset(longer + sizeof(good), 0xff, 10);
		cr_assert_eq(cst_seg_hdr_decode(longer, sizeof(longer), &d), 0);
	}
}

static cst_blk_hdr
sample_blk(void)
{
	cst_blk_hdr h;

	memset(&h, 0, sizeof(h));
	h.version = CST_FORMAT_VERSION;
	h.type = CST_BLOCK_DATA;
	h.flags = 0;
	h.key_epoch = 3;
	fill_bytes(h.chain_id, sizeof(h.chain_id), 2);
	h.segment_no = 5;
	h.block_no = 0x1122334455667788ULL;
	h.first_seq = 1000;
	h.record_count = 17;
	h.cert_len = CST_CERT_LEN;
	h.payload_len = 40;
	h.raw_len = 400;
	h.min_time_ns = -5;
	h.max_time_ns = INT64_MAX;
	h.sealed_ns = INT64_MIN;
	fill_bytes(h.payload_hash, CST_HASH_LEN, 3);
	fill_bytes(h.records_hash, CST_HASH_LEN, 4);
	fill_bytes(h.merkle_root, CST_HASH_LEN, 5);
	fill_bytes(h.prev_hash, CST_HASH_LEN, 6);
	return (h);
}

Test(format, blk_hdr_roundtrip_and_offsets)
{
	cst_blk_hdr h = sample_blk(), d;
	uint8_t b[CST_BLK_HDR_LEN];

	cst_blk_hdr_encode(&h, b);
	cr_assert(memcmp(b, "CBLK", 4) == 0);
	cr_assert_eq(le64(b + 40), h.block_no);
	cr_assert_eq(b[60], 144);
	cr_assert_eq((int64_t)le64(b + 88), INT64_MIN);
	cr_assert(memcmp(b + 192, h.prev_hash, CST_HASH_LEN) == 0);

	cr_assert_eq(cst_blk_hdr_decode(b, sizeof(b), &d), 0);
	cr_assert(memcmp(&d, &h, sizeof(h)) == 0,
	    "every field survives the round trip");
}

Test(format, blk_hdr_rejects_r_blk_1_and_2)
{
	cst_blk_hdr h = sample_blk(), d;
	uint8_t b[CST_BLK_HDR_LEN];
	size_t i, len;

	cst_blk_hdr_encode(&h, b);
	for (len = 0; len < CST_BLK_HDR_LEN; len++)
		cr_assert_eq(cst_blk_hdr_decode(b, len, &d), CST_ETRUNC);

	for (i = 0; i < 4; i++) {
		cst_blk_hdr_encode(&h, b);
		b[i] ^= 0x01;
		cr_assert_eq(cst_blk_hdr_decode(b, sizeof(b), &d),
		    CST_ECORRUPT, "magic byte %zu", i);
	}

	/* R-BLK-1 */
	d = h;
	d.version = 2;
	cst_blk_hdr_encode(&d, b);
	cr_assert_eq(cst_blk_hdr_decode(b, sizeof(b), &d), CST_EVERSION);
	d = h;
	d.version = 0;
	cst_blk_hdr_encode(&d, b);
	cr_assert_eq(cst_blk_hdr_decode(b, sizeof(b), &d), CST_EVERSION);
	{
		static const uint16_t bad_types[] = { 0, 3, 0xffff };

		for (i = 0; i < 3; i++) {
			d = h;
			d.type = bad_types[i];
			cst_blk_hdr_encode(&d, b);
			cr_assert_eq(cst_blk_hdr_decode(b, sizeof(b), &d),
			    CST_ECORRUPT, "type %u", bad_types[i]);
		}
	}
	for (i = 0; i < 32; i++) {
		d = h;
		d.flags = 1u << i;
		cst_blk_hdr_encode(&d, b);
		cr_assert_eq(cst_blk_hdr_decode(b, sizeof(b), &d),
		    CST_ECORRUPT, "flag bit %zu", i);
	}

	/* R-BLK-2 */
	{
		static const uint32_t bad_cert[] = { 1, 143, 145, 288,
		    UINT32_MAX };

		for (i = 0; i < 5; i++) {
			d = h;
			d.cert_len = bad_cert[i];
			cst_blk_hdr_encode(&d, b);
			cr_assert_eq(cst_blk_hdr_decode(b, sizeof(b), &d),
			    CST_ECORRUPT, "cert_len %u", bad_cert[i]);
		}
	}
	d = h;
	d.payload_len = CST_MAX_PAYLOAD + 1;
	cst_blk_hdr_encode(&d, b);
	cr_assert_eq(cst_blk_hdr_decode(b, sizeof(b), &d), CST_ETOOBIG);
	d = h;
	d.raw_len = UINT32_MAX;
	cst_blk_hdr_encode(&d, b);
	cr_assert_eq(cst_blk_hdr_decode(b, sizeof(b), &d), CST_ETOOBIG);
	d = h;
	d.record_count = CST_MAX_RECORDS + 1;
	cst_blk_hdr_encode(&d, b);
	cr_assert_eq(cst_blk_hdr_decode(b, sizeof(b), &d), CST_ETOOBIG);

	/* The limits themselves are allowed, as are a seal and no cert. */
	d = h;
	d.payload_len = CST_MAX_PAYLOAD;
	d.raw_len = CST_MAX_RAW;
	d.record_count = CST_MAX_RECORDS;
	d.cert_len = 0;
	d.type = CST_BLOCK_SEAL;
	cst_blk_hdr_encode(&d, b);
	cr_assert_eq(cst_blk_hdr_decode(b, sizeof(b), &h), 0);
	cr_assert(memcmp(&d, &h, sizeof(h)) == 0);
}

static cst_cert
sample_cert(void)
{
	cst_cert c;

	memset(&c, 0, sizeof(c));
	c.epoch = 7;
	c.signer_epoch = 6;
	fill_bytes(c.chain_id, CST_CHAIN_ID_LEN, 11);
	fill_bytes(c.public_key, CST_PK_LEN, 12);
	c.valid_from = 99;
	c.created_ns = -1;
	fill_bytes(c.signature, CST_SIG_LEN, 13);
	return (c);
}

Test(format, cert_roundtrip_and_rejects)
{
	cst_cert c = sample_cert(), d;
	uint8_t good[CST_CERT_LEN], b[CST_CERT_LEN];
	size_t i, len;

	cst_cert_encode(&c, good);
	cr_assert(memcmp(good, "CKEY", 4) == 0);
	cr_assert_eq(good[4], 1);
	cr_assert_eq(good[8], 7);
	cr_assert_eq(good[12], 6);
	cr_assert(memcmp(good + 80, c.signature, CST_SIG_LEN) == 0);
	cr_assert_eq(cst_cert_decode(good, sizeof(good), &d), 0);
	cr_assert(memcmp(&d, &c, sizeof(c)) == 0);

	for (len = 0; len < CST_CERT_LEN; len++)
		cr_assert_eq(cst_cert_decode(good, len, &d), CST_ETRUNC);

	/* R-KEY-1: magic, version, reserved, epoch >= 1, signer = epoch - 1. */
	for (i = 0; i < 4; i++) {
		memcpy(b, good, sizeof(b));
		b[i] ^= 0x40;
		cr_assert_eq(cst_cert_decode(b, sizeof(b), &d), CST_ECORRUPT);
	}
	memcpy(b, good, sizeof(b));
	b[4] = 2;
	cr_assert_eq(cst_cert_decode(b, sizeof(b), &d), CST_EVERSION);
	for (i = 6; i < 8; i++) {
		memcpy(b, good, sizeof(b));
		b[i] = 1;
		cr_assert_eq(cst_cert_decode(b, sizeof(b), &d), CST_ECORRUPT,
		    "reserved byte %zu", i);
	}
	d = c;
	d.epoch = 0;
	d.signer_epoch = UINT32_MAX;
	cst_cert_encode(&d, b);
	cr_assert_eq(cst_cert_decode(b, sizeof(b), &d), CST_ECORRUPT);
	d = c;
	d.signer_epoch = 5;
	cst_cert_encode(&d, b);
	cr_assert_eq(cst_cert_decode(b, sizeof(b), &d), CST_ECORRUPT);
	d = c;
	d.signer_epoch = 7;
	cst_cert_encode(&d, b);
	cr_assert_eq(cst_cert_decode(b, sizeof(b), &d), CST_ECORRUPT);

	/* Epoch 1 is signed by the root (signer_epoch 0). */
	d = c;
	d.epoch = 1;
	d.signer_epoch = 0;
	cst_cert_encode(&d, b);
	cr_assert_eq(cst_cert_decode(b, sizeof(b), &c), 0);
	cr_assert_eq(c.epoch, 1);
}

/* Builds a frame with or without a certificate into buf; returns its length. */
static size_t
make_frame(uint8_t *buf, int with_cert, uint32_t payload_len)
{
	cst_blk_hdr h = sample_blk();
	cst_cert c = sample_cert();
	size_t off = 0;

	h.cert_len = with_cert ? CST_CERT_LEN : 0;
	h.payload_len = payload_len;
	cst_blk_hdr_encode(&h, buf);
	off = CST_BLK_HDR_LEN;
	if (with_cert) {
		cst_cert_encode(&c, buf + off);
		off += CST_CERT_LEN;
	}
	fill_bytes(buf + off, payload_len, 0x30);
	off += payload_len;
	fill_bytes(buf + off, CST_SIG_LEN, 0x50);
	return (off + CST_SIG_LEN);
}

Test(format, frame_parse)
{
	static uint8_t buf[1024];
	uint8_t hash[CST_HASH_LEN];
	cst_frame f;
	size_t n, len;
	int with_cert;

	for (with_cert = 0; with_cert <= 1; with_cert++) {
		n = make_frame(buf, with_cert, 40);
		cr_assert_eq(n, CST_BLK_HDR_LEN + (with_cert ? 144 : 0) + 40 +
		    64);
		/* Trailing bytes (the next frame) are not part of it. */
		cr_assert_eq(cst_frame_parse(buf, n + 100, &f), 0);
		cr_assert_eq(f.frame_len, n);
		cr_assert_eq(f.hdr_bytes, buf);
		if (with_cert)
			cr_assert_eq(f.cert, buf + CST_BLK_HDR_LEN);
		else
			cr_assert_null(f.cert);
		cr_assert_eq(f.payload, buf + CST_BLK_HDR_LEN + f.hdr.cert_len);
		cr_assert_eq(f.sig, f.payload + 40);
		cr_assert_eq(f.hdr.payload_len, 40);
		/* block_hash = H(D_BLOCK || header || cert) */
		ref_hash(CST_D_BLOCK, buf, CST_BLK_HDR_LEN + f.hdr.cert_len,
		    hash);
		cr_assert(memcmp(f.block_hash, hash, CST_HASH_LEN) == 0);

		cr_assert_eq(cst_frame_parse(buf, n, &f), 0);
		/* A partial frame, at every length, is a torn tail. */
		for (len = 0; len < n; len++)
			cr_assert_eq(cst_frame_parse(buf, len, &f), CST_ETRUNC,
			    "cert %d len %zu", with_cert, len);
	}

	/* A header error wins over the frame not fitting. */
	n = make_frame(buf, 0, 40);
	buf[0] = 'X';
	cr_assert_eq(cst_frame_parse(buf, n, &f), CST_ECORRUPT);
	buf[0] = 'C';
	buf[4] = 9;
	cr_assert_eq(cst_frame_parse(buf, n, &f), CST_EVERSION);
}

Test(format, frame_parse_huge_lengths)
{
	cst_blk_hdr h = sample_blk();
	uint8_t buf[CST_BLK_HDR_LEN + 64];
	cst_frame f;

	/* A plausible header claiming 64 MiB must not be read past. */
	h.cert_len = 0;
	h.payload_len = CST_MAX_PAYLOAD;
	cst_blk_hdr_encode(&h, buf);
	memset(buf + CST_BLK_HDR_LEN, 0, 64);
	cr_assert_eq(cst_frame_parse(buf, sizeof(buf), &f), CST_ETRUNC);
}

Test(format, empty_zstd_frame)
{
	uint8_t out[16];

	/* R-BLK-9: a single zstd frame stating content size 0. */
	cr_assert_eq(ZSTD_findFrameCompressedSize(cst_empty_zstd_frame, 9), 9);
	cr_assert_eq(ZSTD_getFrameContentSize(cst_empty_zstd_frame, 9), 0);
	cr_assert_eq(ZSTD_decompress(out, sizeof(out), cst_empty_zstd_frame,
	    9), 0);
}

Test(hash, domain_and_fingerprint)
{
	static const uint8_t data[] = "some data";
	uint8_t a[CST_HASH_LEN], b[CST_HASH_LEN], pk[CST_PK_LEN];
	char hex[2 * CST_FPR_LEN + 1], full[2 * CST_HASH_LEN + 1];

	cst_hash_domain(CST_D_PAYLOAD, data, sizeof(data) - 1, a);
	ref_hash(CST_D_PAYLOAD, data, sizeof(data) - 1, b);
	cr_assert(memcmp(a, b, CST_HASH_LEN) == 0);
	/* The NUL separates the domain from the data. */
	cst_hash_domain(CST_D_RECORDS, NULL, 0, a);
	ref_hash(CST_D_RECORDS, NULL, 0, b);
	cr_assert(memcmp(a, b, CST_HASH_LEN) == 0);
	crypto_generichash(b, CST_HASH_LEN, (const uint8_t *)CST_D_RECORDS,
	    strlen(CST_D_RECORDS), NULL, 0);
	cr_assert(memcmp(a, b, CST_HASH_LEN) != 0);

	fill_bytes(pk, sizeof(pk), 77);
	cst_key_fingerprint(pk, a);
	ref_hash(CST_D_KEYID, pk, sizeof(pk), b);
	cr_assert(memcmp(a, b, CST_HASH_LEN) == 0);
	cst_key_fingerprint_hex(pk, hex);
	cst_hex(b, CST_HASH_LEN, full);
	cr_assert_eq(strlen(hex), 32);
	cr_assert(strncmp(hex, full, 32) == 0);
}

Test(hash, hex)
{
	static const uint8_t in[] = { 0x00, 0x01, 0xab, 0xcd, 0xef, 0xff };
	uint8_t out[6];
	char s[13];

	cst_hex(in, sizeof(in), s);
	cr_assert_str_eq(s, "0001abcdefff");
	cst_hex(in, 0, s);
	cr_assert_str_eq(s, "");

	cr_assert_eq(cst_unhex("0001abcdefff", 12, out, 6), 0);
	cr_assert(memcmp(out, in, 6) == 0);
	memset(out, 0, sizeof(out));
	cr_assert_eq(cst_unhex("0001ABCDEFFF", 12, out, 6), 0);
	cr_assert(memcmp(out, in, 6) == 0);
	cr_assert_eq(cst_unhex("0001aBcDeFfF", 12, out, 6), 0);
	cr_assert(memcmp(out, in, 6) == 0);
	cr_assert_eq(cst_unhex("", 0, out, 0), 0);

	/* Exactly 2*len digits, nothing else. */
	cr_assert_eq(cst_unhex("0001abcdeff", 11, out, 6), CST_EPARSE);
	cr_assert_eq(cst_unhex("0001abcdefff0", 13, out, 6), CST_EPARSE);
	cr_assert_eq(cst_unhex("0001abcdefgf", 12, out, 6), CST_EPARSE);
	cr_assert_eq(cst_unhex("0001abcdef f", 12, out, 6), CST_EPARSE);
	cr_assert_eq(cst_unhex("0001abcdef\0f", 12, out, 6), CST_EPARSE);
	cr_assert_eq(cst_unhex("0x01abcdefff", 12, out, 6), CST_EPARSE);
	cr_assert_eq(cst_unhex("+001abcdefff", 12, out, 6), CST_EPARSE);
}

Test(buf, append_reserve_close)
{
	cst_buf b;
	uint8_t chunk[1000];
	size_t i;

	cst_buf_init(&b);
	cr_assert_null(b.p);
	cr_assert_eq(b.len, 0);
	cr_assert_eq(cst_buf_append(&b, NULL, 0), 0);
	for (i = 0; i < 100; i++) {
		memset(chunk, (int)i, sizeof(chunk));
		cr_assert_eq(cst_buf_append(&b, chunk, sizeof(chunk)), 0);
	}
	cr_assert_eq(b.len, 100000);
	cr_assert_geq(b.cap, b.len);
	for (i = 0; i < 100; i++)
		cr_assert_eq(b.p[i * 1000 + 999], (uint8_t)i);
	cr_assert_eq(cst_buf_reserve(&b, 1 << 20), 0);
	cr_assert_geq(b.cap - b.len, (size_t)1 << 20);
	cr_assert_eq(cst_buf_reserve(&b, SIZE_MAX), CST_ENOMEM);
	cr_assert_eq(b.len, 100000, "a failed reserve keeps the contents");
	cst_buf_close(&b);
	cr_assert_null(b.p);
	cr_assert_eq(b.len, 0);
	cr_assert_eq(b.cap, 0);
	cst_buf_close(&b);
}
