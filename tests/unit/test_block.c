/*
 * Blocks (SPEC section 4): a sealed block opens to the records sealed;
 * every change to its header or payload is caught by the signature or by
 * cst_block_open, which names the rule broken; key epochs change only as
 * R-KEY-2 allows.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
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
#include "custody/syslog.h"

#include "testsign.h"

#define NOW_NS INT64_C(1795347000123456789)
#define MAX_RECS 20000
#define RAW_MAX 256

static const char listener[] = "tcp://127.0.0.1:6514";
static const char peer[] = "198.51.100.7:5140";

/* Backing store for the records' bytes. */
static uint8_t raws[MAX_RECS][RAW_MAX];
static cst_record recs[MAX_RECS];
static cst_buf detail;

/*
 * Fills recs[0..n) with events numbered from first_seq, their receive
 * times not in order; record 1 is a collector start record.
 */
static void
make_records(size_t n, uint64_t first_seq)
{
	cst_record *r;
	size_t i;
	int len;

	cr_assert(n <= MAX_RECS);
	/* Empties what a previous call built (detail starts zeroed). */
	cst_buf_close(&detail);
	cr_assert_eq(cst_detail_begin(&detail, 2), 0);
	cr_assert_eq(cst_detail_put_str(&detail, "version", "0.1.0", 5), 0);
	cr_assert_eq(cst_detail_put_u64(&detail, "pid", 4242), 0);
	for (i = 0; i < n; i++) {
		r = &recs[i];
		memset(r, 0, sizeof(*r));
		r->seq = first_seq + i;
		r->recv_ns = NOW_NS + (int64_t)((i * 7919) % 1000) * 1000;
		r->listener.p = (const uint8_t *)listener;
		r->listener.len = sizeof(listener) - 1;
		r->peer.p = (const uint8_t *)peer;
		r->peer.len = sizeof(peer) - 1;
		len = snprintf((char *)raws[i], RAW_MAX, "<34>1 "
		    "2026-11-22T11:30:00.%06zuZ host%zu.example.org sshd %zu "
		    "ID47 - Accepted publickey for user%zu from 192.0.2.%zu",
		    i % 1000000, i % 17, 1000 + i % 50, i % 97, i % 250);
		r->raw.p = raws[i];
		r->raw.len = (size_t)len;
		if (i == 1) {
			r->kind = CST_REC_START;
			r->transport = CST_TR_INTERNAL;
			r->detail.p = detail.p;
			r->detail.len = detail.len;
			continue;
		}
		r->kind = CST_REC_EVENT;
		r->transport = CST_TR_TCP;
		r->has_parsed = cst_syslog_parse(r->raw.p, r->raw.len,
		    r->recv_ns, &r->parsed) == 0;
		if (!r->has_parsed)
			r->flags = CST_RF_PARSE_FAILED;
	}
}

struct keys {
	cst_root_key *root;
	cst_epoch_key *e[3];
};

/* Epoch 2 takes over at block 2, epoch 3 at block 4. */
static void
keys_make(struct keys *k)
{
	uint8_t chain[CST_CHAIN_ID_LEN], seed[CST_SEED_LEN];

	cr_assert(sodium_init() >= 0);
	memset(chain, 0x77, sizeof(chain));
	memset(seed, 0x10, sizeof(seed));
	cr_assert_eq(cst_root_key_from_seed(chain, seed, &k->root), 0);
	seed[0] = 1;
	cr_assert_eq(cst_epoch_key_first_from_seed(k->root, seed, NOW_NS,
	    &k->e[0]), 0);
	seed[0] = 2;
	cr_assert_eq(cst_epoch_key_next_from_seed(k->e[0], seed, 2, NOW_NS,
	    &k->e[1]), 0);
	seed[0] = 3;
	cr_assert_eq(cst_epoch_key_next_from_seed(k->e[1], seed, 4, NOW_NS,
	    &k->e[2]), 0);
}

static void
keys_free(struct keys *k)
{
	int i;

	for (i = 0; i < 3; i++)
		cst_epoch_key_free(k->e[i]);
	cst_root_key_free(k->root);
}

static void
state_init(cst_chain_state *st, const struct keys *k)
{

	memset(st, 0, sizeof(*st));
	memcpy(st->chain_id, k->root->pub.chain_id, CST_CHAIN_ID_LEN);
}

/* Seals recs[0..n) as the next block of st into frame (reset first). */
static void
seal(cst_sealer *s, cst_chain_state *st, const cst_epoch_key *key,
    size_t n, cst_buf *frame)
{
	cst_draft d;

	cst_draft_init(&d);
	cr_assert_eq(cst_sealer_build(s, recs, n, &d), 0);
	frame->len = 0;
	cr_assert_eq(cst_block_finish(&d, st, key, NOW_NS, frame, NULL), 0);
	cst_draft_close(&d);
}

/* Parses, checks the signature with pk and opens; returns open's code. */
static int
open_frame(cst_opener *o, const uint8_t *p, size_t len,
    const uint8_t pk[CST_PK_LEN], const char **rule)
{
	cst_frame f;

	cr_assert_eq(cst_frame_parse(p, len, &f), 0);
	cr_assert_eq(f.frame_len, len);
	cr_assert_eq(cst_frame_verify_sig(&f, pk), 0);
	return (cst_block_open(o, &f, rule));
}

static void
assert_record_eq(const cst_record *a, const cst_record *b)
{

	cr_assert_eq(a->kind, b->kind);
	cr_assert_eq(a->seq, b->seq);
	cr_assert_eq(a->recv_ns, b->recv_ns);
	cr_assert_eq(a->transport, b->transport);
	cr_assert_eq(a->flags, b->flags);
	cr_assert_eq(a->raw.len, b->raw.len);
	cr_assert_arr_eq(a->raw.p, b->raw.p, a->raw.len);
	cr_assert_eq(a->listener.len, b->listener.len);
	cr_assert_arr_eq(a->listener.p, b->listener.p, a->listener.len);
	cr_assert_eq(a->peer.len, b->peer.len);
	cr_assert_eq(a->has_parsed, b->has_parsed);
	if (a->has_parsed)
		cr_assert_arr_eq(&a->parsed.msg, &b->parsed.msg,
		    sizeof(cst_span));
	cr_assert_eq(a->detail.p == NULL, b->detail.p == NULL);
	cr_assert_eq(a->detail.len, b->detail.len);
}

Test(block, seal_and_open_round_trip)
{
	static const size_t sizes[] = { 1, 2, 3, 1000, MAX_RECS, 5 };
	struct keys k;
	cst_chain_state st;
	cst_sealer *s;
	cst_opener *o;
	cst_buf frame;
	cst_record rec;
	cst_bytes enc;
	const char *rule = "unset";
	const uint8_t (*leaves)[CST_HASH_LEN];
	uint8_t leaf[CST_HASH_LEN];
	uint64_t seq = 0;
	size_t i, j, n, rawlen;

	keys_make(&k);
	state_init(&st, &k);
	cr_assert_not_null(s = cst_sealer_new(1));
	cr_assert_not_null(o = cst_opener_new());
	cst_buf_init(&frame);
	/* One sealer and one opener for all: their buffers are reused. */
	for (j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++) {
		n = sizes[j];
		make_records(n, seq);
		seal(s, &st, k.e[0], n, &frame);
		cr_assert_eq(open_frame(o, frame.p, frame.len, k.e[0]->pk,
		    &rule), 0);
		cr_assert_null(rule);
		cr_assert_eq(cst_opener_count(o), n);
		leaves = cst_opener_leaves(o);
		for (i = 0; i < n; i++) {
			cr_assert_eq(cst_opener_record(o, i, &rec, &enc), 0);
			assert_record_eq(&rec, &recs[i]);
			cst_merkle_leaf(enc.p, enc.len, leaf);
			cr_assert_arr_eq(leaf, leaves[i], CST_HASH_LEN);
		}
		cr_assert_eq(cst_opener_record(o, n, &rec, NULL), CST_EINVAL);
		cr_assert_not_null(cst_opener_raw(o, &rawlen));
		cr_assert(rawlen > n * 100);
		seq += n;
		cr_assert_eq(st.next_seq, seq);
		cr_assert_eq(st.next_block_no, j + 1);
		cst_buf_close(&detail);
	}
	cst_buf_close(&frame);
	cst_sealer_free(s);
	cst_opener_free(o);
	cst_sealer_free(NULL);
	cst_opener_free(NULL);
	keys_free(&k);
}

/* R-SEG-3: a new segment's header says where the chain stands. */
Test(block, segment_header_continues_the_chain)
{
	cst_chain_state st;
	cst_seg_hdr h;

	memset(&st, 0, sizeof(st));
	memset(st.chain_id, 0x5a, sizeof(st.chain_id));
	memset(st.prev_hash, 0xa5, sizeof(st.prev_hash));
	st.segment_no = 7;
	st.next_block_no = 41;
	st.next_seq = 1000;
	st.epoch = 2;
	memset(&h, 0xff, sizeof(h));
	cst_chain_seg_hdr(&st, NOW_NS, &h);
	cr_assert_eq(h.version, CST_FORMAT_VERSION);
	cr_assert_eq(memcmp(h.chain_id, st.chain_id, CST_CHAIN_ID_LEN), 0);
	cr_assert_eq(h.segment_no, 7);
	cr_assert_eq(h.first_block_no, 41);
	cr_assert_eq(h.first_seq, 1000);
	cr_assert_eq(memcmp(h.prev_hash, st.prev_hash, CST_HASH_LEN), 0);
	cr_assert_eq(h.created_ns, NOW_NS);
}

Test(block, seal_block_round_trip)
{
	struct keys k;
	cst_chain_state st;
	cst_opener *o;
	cst_draft d;
	cst_buf frame;
	cst_frame f;
	const char *rule;
	size_t rawlen;

	keys_make(&k);
	state_init(&st, &k);
	st.next_seq = 10;
	cr_assert_not_null(o = cst_opener_new());
	cst_draft_init(&d);
	cst_buf_init(&frame);
	cr_assert_eq(cst_draft_build_seal(&d, 10, NOW_NS), 0);
	/* R-BLK-9: the seal's times must be its sealing time. */
	cr_assert_eq(cst_block_finish(&d, &st, k.e[0], NOW_NS + 1, &frame,
	    NULL), CST_EINVAL);
	cr_assert_eq(cst_block_finish(&d, &st, k.e[0], NOW_NS, &frame, NULL),
	    0);
	cr_assert_eq(st.next_seq, 10);
	cr_assert_eq(frame.len, CST_BLK_HDR_LEN + CST_CERT_LEN + 9 +
	    CST_SIG_LEN);
	cr_assert_eq(open_frame(o, frame.p, frame.len, k.e[0]->pk, &rule), 0);
	cr_assert_eq(cst_opener_count(o), 0);
	cst_opener_raw(o, &rawlen);
	cr_assert_eq(rawlen, 0);
	cr_assert_eq(cst_frame_parse(frame.p, frame.len, &f), 0);
	cr_assert_eq(f.hdr.type, CST_BLOCK_SEAL);
	cr_assert_eq(f.hdr.first_seq, 10);
	cr_assert_eq(f.hdr.min_time_ns, NOW_NS);
	cr_assert_eq(f.hdr.max_time_ns, NOW_NS);
	cst_draft_close(&d);
	cst_buf_close(&frame);
	cst_opener_free(o);
	keys_free(&k);
}

/* The fields of the block header (SPEC 4.1). */
static const struct field {
	const char *name;
	size_t off;
	size_t size;
	const char *rule; /* what open reports once re-signed; NULL: none */
} fields[] = {
	{ "magic", 0, 4, "parse" },
	{ "version", 4, 2, "parse" },
	{ "type", 6, 2, "parse" },
	{ "flags", 8, 4, "parse" },
	{ "key_epoch", 12, 4, NULL },
	{ "chain_id", 16, 16, NULL },
	{ "segment_no", 32, 8, NULL },
	{ "block_no", 40, 8, NULL },
	{ "first_seq", 48, 8, "R-BLK-7" },
	{ "record_count", 56, 4, "R-BLK-5" },
	{ "cert_len", 60, 4, "parse" },
	{ "payload_len", 64, 4, "R-BLK-4" },
	{ "raw_len", 68, 4, "R-BLK-4" },
	{ "min_time_ns", 72, 8, "R-BLK-8" },
	{ "max_time_ns", 80, 8, "R-BLK-8" },
	{ "sealed_ns", 88, 8, NULL },
	{ "payload_hash", 96, 32, "R-BLK-4" },
	{ "records_hash", 128, 32, "R-BLK-4" },
	{ "merkle_root", 160, 32, "R-BLK-5" },
	{ "prev_hash", 192, 32, NULL },
};

/*
 * Every bit of the header and certificate is covered by the signature;
 * a field changed and signed again by the key holder is caught by open
 * when it describes the payload (the others are chain links, checked by
 * the scan and the verifier).
 */
Test(block, header_alterations_are_detected)
{
	struct keys k;
	cst_chain_state st;
	cst_sealer *s;
	cst_opener *o;
	cst_buf frame;
	cst_frame f;
	uint8_t *bad;
	const char *rule;
	size_t i, bit, j;
	int rc;

	keys_make(&k);
	state_init(&st, &k);
	make_records(50, 0);
	cr_assert_not_null(s = cst_sealer_new(1));
	cr_assert_not_null(o = cst_opener_new());
	cst_buf_init(&frame);
	seal(s, &st, k.e[0], 50, &frame);
	cr_assert_not_null(bad = malloc(frame.len));

	for (i = 0; i < CST_BLK_HDR_LEN + CST_CERT_LEN; i++) {
		for (bit = 0; bit < 8; bit++) {
			memcpy(bad, frame.p, frame.len);
			bad[i] ^= (uint8_t)(1u << bit);
			if (cst_frame_parse(bad, frame.len, &f) != 0)
				continue;
			cr_assert_eq(cst_frame_verify_sig(&f, k.e[0]->pk),
			    CST_ESIG, "byte %zu bit %zu", i, bit);
		}
	}

	for (j = 0; j < sizeof(fields) / sizeof(fields[0]); j++) {
		/* Down by one: a shorter payload_len still fits the buffer. */
		memcpy(bad, frame.p, frame.len);
		if (bad[fields[j].off] > 0)
			bad[fields[j].off]--;
		else
			bad[fields[j].off]++;
		rc = cst_frame_parse(bad, frame.len, &f);
		if (fields[j].rule != NULL &&
		    strcmp(fields[j].rule, "parse") == 0) {
			cr_assert_neq(rc, 0, "%s", fields[j].name);
			continue;
		}
		cr_assert_eq(rc, 0, "%s", fields[j].name);
		cr_assert_eq(cst_frame_verify_sig(&f, k.e[0]->pk), CST_ESIG);
		/* payload_len one less: the frame ends a byte earlier. */
		test_resign(bad, f.frame_len, k.e[0]);
		cr_assert_eq(cst_frame_parse(bad, f.frame_len, &f), 0);
		cr_assert_eq(cst_frame_verify_sig(&f, k.e[0]->pk), 0);
		rc = cst_block_open(o, &f, &rule);
		if (fields[j].rule == NULL) {
			cr_assert_eq(rc, 0, "%s", fields[j].name);
			continue;
		}
		cr_assert_neq(rc, 0, "%s", fields[j].name);
		cr_assert_str_eq(rule, fields[j].rule, "%s", fields[j].name);
		cr_assert_eq(cst_opener_count(o), 0);
	}
	free(bad);
	cst_buf_close(&frame);
	cst_buf_close(&detail);
	cst_sealer_free(s);
	cst_opener_free(o);
	keys_free(&k);
}

/* The payload is outside the signature: its hash is what covers it. */
Test(block, payload_flips_are_detected)
{
	struct keys k;
	cst_chain_state st;
	cst_sealer *s;
	cst_opener *o;
	cst_buf frame;
	cst_frame f;
	uint8_t *bad;
	const char *rule;
	size_t i, start, end;

	keys_make(&k);
	state_init(&st, &k);
	make_records(30, 0);
	cr_assert_not_null(s = cst_sealer_new(1));
	cr_assert_not_null(o = cst_opener_new());
	cst_buf_init(&frame);
	seal(s, &st, k.e[0], 30, &frame);
	cr_assert_not_null(bad = malloc(frame.len));
	start = CST_BLK_HDR_LEN + CST_CERT_LEN;
	end = frame.len - CST_SIG_LEN;
	for (i = start; i < end; i++) {
		memcpy(bad, frame.p, frame.len);
		bad[i] ^= 0x55;
		cr_assert_eq(open_frame(o, bad, frame.len, k.e[0]->pk, &rule),
		    CST_EHASH, "byte %zu", i);
		cr_assert_str_eq(rule, "R-BLK-4");
	}
	/* And the signature itself. */
	for (i = end; i < frame.len; i++) {
		memcpy(bad, frame.p, frame.len);
		bad[i] ^= 0x01;
		cr_assert_eq(cst_frame_parse(bad, frame.len, &f), 0);
		cr_assert_eq(cst_frame_verify_sig(&f, k.e[0]->pk), CST_ESIG);
	}
	free(bad);
	cst_buf_close(&frame);
	cst_buf_close(&detail);
	cst_sealer_free(s);
	cst_opener_free(o);
	keys_free(&k);
}

/* How draft_by_hand departs from what the sealer would write. */
struct lie {
	size_t encode;       /* records in the payload */
	uint32_t count;      /* record_count claimed */
	int64_t raw_delta;   /* added to raw_len */
	int no_content_size; /* zstd frame without its content size */
	int two_frames;      /* payload is two zstd frames */
	int skippable;       /* a skippable frame before the real one */
};

/*
 * Builds a draft from recs as a careless or hostile writer could: hashes
 * and Merkle root right for what it wrote, the rest as l says.
 */
static void
draft_by_hand(const struct lie *l, cst_draft *d)
{
	static uint8_t leaves[MAX_RECS][CST_HASH_LEN];
	ZSTD_CCtx *cctx;
	cst_buf raw;
	size_t i, off, bound, n;
	int64_t min_ns = INT64_MAX, max_ns = INT64_MIN;

	cst_buf_init(&raw);
	for (i = 0; i < l->encode; i++) {
		off = raw.len;
		cr_assert_eq(cst_record_encode(&recs[i], &raw), 0);
		cst_merkle_leaf(raw.p + off, raw.len - off, leaves[i]);
		if (i < l->count) {
			min_ns = recs[i].recv_ns < min_ns ? recs[i].recv_ns :
			    min_ns;
			max_ns = recs[i].recv_ns > max_ns ? recs[i].recv_ns :
			    max_ns;
		}
	}
	cst_merkle_root(leaves, l->count, d->merkle_root);
	cst_hash_domain(CST_D_RECORDS, raw.p, raw.len, d->records_hash);

	cr_assert_not_null(cctx = ZSTD_createCCtx());
	cr_assert(!ZSTD_isError(ZSTD_CCtx_setParameter(cctx,
	    ZSTD_c_contentSizeFlag, !l->no_content_size)));
	bound = ZSTD_compressBound(raw.len);
	d->payload.len = 0;
	cr_assert_eq(cst_buf_reserve(&d->payload, 2 * bound + 16), 0);
	if (l->skippable) {
		/* Magic 0x184D2A50, 4-byte length 0. */
		memcpy(d->payload.p, "\x50\x2a\x4d\x18\0\0\0\0", 8);
		d->payload.len = 8;
	}
	n = ZSTD_compress2(cctx, d->payload.p + d->payload.len, bound, raw.p,
	    raw.len);
	cr_assert(!ZSTD_isError(n));
	d->payload.len += n;
	if (l->two_frames) {
		n = ZSTD_compress2(cctx, d->payload.p + d->payload.len, bound,
		    raw.p, 0);
		cr_assert(!ZSTD_isError(n));
		d->payload.len += n;
	}
	ZSTD_freeCCtx(cctx);
	cst_hash_domain(CST_D_PAYLOAD, d->payload.p, d->payload.len,
	    d->payload_hash);

	d->type = CST_BLOCK_DATA;
	d->record_count = l->count;
	d->first_seq = recs[0].seq;
	d->min_time_ns = min_ns;
	d->max_time_ns = max_ns;
	d->raw_len = (uint32_t)((int64_t)raw.len + l->raw_delta);
	cst_buf_close(&raw);
}

/* Seals a hand-made draft and opens it: returns open's code and rule. */
static int
open_lie(const struct lie *l, const char **rule)
{
	struct keys k;
	cst_chain_state st;
	cst_opener *o;
	cst_draft d;
	cst_buf frame;
	int rc;

	keys_make(&k);
	state_init(&st, &k);
	st.next_seq = recs[0].seq;
	cr_assert_not_null(o = cst_opener_new());
	cst_draft_init(&d);
	cst_buf_init(&frame);
	draft_by_hand(l, &d);
	cr_assert_eq(cst_block_finish(&d, &st, k.e[0], NOW_NS, &frame, NULL),
	    0);
	rc = open_frame(o, frame.p, frame.len, k.e[0]->pk, rule);
	if (rc != 0)
		cr_assert_eq(cst_opener_count(o), 0);
	cst_draft_close(&d);
	cst_buf_close(&frame);
	cst_opener_free(o);
	keys_free(&k);
	return (rc);
}

Test(block, hand_made_honest_draft_opens)
{
	struct lie l = { .encode = 20, .count = 20 };
	const char *rule;

	make_records(20, 5);
	cr_assert_eq(open_lie(&l, &rule), 0);
	cst_buf_close(&detail);
}

Test(block, raw_len_lie_is_rejected)
{
	struct lie l = { .encode = 20, .count = 20, .raw_delta = 1 };
	const char *rule;

	make_records(20, 0);
	cr_assert_eq(open_lie(&l, &rule), CST_ECORRUPT);
	cr_assert_str_eq(rule, "R-BLK-4");
	l.raw_delta = -1;
	cr_assert_eq(open_lie(&l, &rule), CST_ECORRUPT);
	cr_assert_str_eq(rule, "R-BLK-4");
	cst_buf_close(&detail);
}

Test(block, frame_without_content_size_is_rejected)
{
	struct lie l = { .encode = 20, .count = 20, .no_content_size = 1 };
	const char *rule;

	make_records(20, 0);
	cr_assert_eq(open_lie(&l, &rule), CST_ECORRUPT);
	cr_assert_str_eq(rule, "R-BLK-4");
	cst_buf_close(&detail);
}

Test(block, payload_of_two_frames_is_rejected)
{
	struct lie l = { .encode = 20, .count = 20, .two_frames = 1 };
	const char *rule;

	make_records(20, 0);
	cr_assert_eq(open_lie(&l, &rule), CST_ECORRUPT);
	cr_assert_str_eq(rule, "R-BLK-4");
	l.two_frames = 0;
	l.skippable = 1;
	cr_assert_eq(open_lie(&l, &rule), CST_ECORRUPT);
	cr_assert_str_eq(rule, "R-BLK-4");
	cst_buf_close(&detail);
}

Test(block, extra_trailing_record_is_rejected)
{
	struct lie l = { .encode = 21, .count = 20 };
	const char *rule;

	make_records(21, 0);
	cr_assert_eq(open_lie(&l, &rule), CST_ECORRUPT);
	cr_assert_str_eq(rule, "R-BLK-5");
	/* And one record too few. */
	l.encode = 19;
	cr_assert_eq(open_lie(&l, &rule), CST_ECORRUPT);
	cr_assert_str_eq(rule, "R-BLK-5");
	cst_buf_close(&detail);
}

Test(block, records_out_of_sequence_are_rejected)
{
	struct lie l = { .encode = 20, .count = 20 };
	cst_sealer *s;
	cst_draft d;
	cst_record t;
	const char *rule;

	make_records(20, 100);
	t = recs[7];
	recs[7] = recs[8];
	recs[8] = t;
	cr_assert_eq(open_lie(&l, &rule), CST_ESEQ);
	cr_assert_str_eq(rule, "R-BLK-7");

	/* A gap. */
	make_records(20, 100);
	recs[19].seq = 120;
	cr_assert_eq(open_lie(&l, &rule), CST_ESEQ);
	cr_assert_str_eq(rule, "R-BLK-7");

	/* The sealer refuses both, and a record R-REC-1 forbids. */
	cr_assert_not_null(s = cst_sealer_new(1));
	cst_draft_init(&d);
	cr_assert_eq(cst_sealer_build(s, recs, 20, &d), CST_EINVAL);
	cr_assert_eq(cst_sealer_build(s, recs, 0, &d), CST_EINVAL);
	recs[19].seq = 119;
	cr_assert_eq(cst_sealer_build(s, recs, 20, &d), 0);
	recs[3].kind = 9;
	cr_assert_eq(cst_sealer_build(s, recs, 20, &d), CST_EINVAL);
	cst_draft_close(&d);
	cst_sealer_free(s);
	cst_buf_close(&detail);
}

Test(block, seal_block_rules)
{
	struct keys k;
	cst_chain_state st;
	cst_opener *o;
	cst_draft d;
	cst_buf frame;
	const char *rule;

	keys_make(&k);
	cr_assert_not_null(o = cst_opener_new());
	cst_draft_init(&d);
	cst_buf_init(&frame);

	/* R-BLK-9: a seal claiming a record. */
	cr_assert_eq(cst_draft_build_seal(&d, 0, NOW_NS), 0);
	d.record_count = 1;
	state_init(&st, &k);
	cr_assert_eq(cst_block_finish(&d, &st, k.e[0], NOW_NS, &frame, NULL),
	    0);
	cr_assert_eq(open_frame(o, frame.p, frame.len, k.e[0]->pk, &rule),
	    CST_ECORRUPT);
	cr_assert_str_eq(rule, "R-BLK-9");

	/* A seal with another Merkle root. */
	cr_assert_eq(cst_draft_build_seal(&d, 0, NOW_NS), 0);
	d.merkle_root[0] ^= 1;
	state_init(&st, &k);
	frame.len = 0;
	cr_assert_eq(cst_block_finish(&d, &st, k.e[0], NOW_NS, &frame, NULL),
	    0);
	cr_assert_eq(open_frame(o, frame.p, frame.len, k.e[0]->pk, &rule),
	    CST_ECORRUPT);
	cr_assert_str_eq(rule, "R-BLK-9");

	/* A data block with no records (R-BLK-8). */
	cr_assert_eq(cst_draft_build_seal(&d, 0, NOW_NS), 0);
	d.type = CST_BLOCK_DATA;
	state_init(&st, &k);
	frame.len = 0;
	cr_assert_eq(cst_block_finish(&d, &st, k.e[0], NOW_NS, &frame, NULL),
	    0);
	cr_assert_eq(open_frame(o, frame.p, frame.len, k.e[0]->pk, &rule),
	    CST_ECORRUPT);
	cr_assert_str_eq(rule, "R-BLK-8");

	cst_draft_close(&d);
	cst_buf_close(&frame);
	cst_opener_free(o);
	keys_free(&k);
}

/*
 * R-KEY-2: a block carries a certificate in block 0 and where the epoch
 * changes, and nowhere else; the epoch steps by one, at the block its
 * certificate names.
 */
Test(block, epoch_rotation_carries_cert_only_at_change)
{
	static const int epoch_of[6] = { 0, 0, 1, 1, 2, 2 };
	struct keys k;
	cst_chain_state st, saved;
	cst_sealer *s;
	cst_opener *o;
	cst_buf frame;
	cst_frame f;
	cst_draft d;
	uint8_t cert[CST_CERT_LEN];
	const char *rule;
	size_t b;
	int e;

	keys_make(&k);
	state_init(&st, &k);
	cr_assert_not_null(s = cst_sealer_new(1));
	cr_assert_not_null(o = cst_opener_new());
	cst_buf_init(&frame);
	for (b = 0; b < 6; b++) {
		e = epoch_of[b];
		make_records(3, st.next_seq);
		/* Too early or too late for a key is refused. */
		saved = st;
		if (e < 2) {
			frame.len = 0;
			cst_draft_init(&d);
			cr_assert_eq(cst_sealer_build(s, recs, 3, &d), 0);
			cr_assert_eq(cst_block_finish(&d, &st, k.e[e + 1],
			    NOW_NS, &frame, NULL), CST_EINVAL, "block %zu",
			    b);
			cr_assert_arr_eq(&st, &saved, sizeof(st));
			cst_draft_close(&d);
		}
		seal(s, &st, k.e[e], 3, &frame);
		cr_assert_eq(cst_frame_parse(frame.p, frame.len, &f), 0);
		cr_assert_eq(f.hdr.key_epoch, (uint32_t)e + 1);
		cr_assert_eq(f.hdr.block_no, b);
		if (b % 2 == 0) {
			cr_assert_eq(f.hdr.cert_len, CST_CERT_LEN, "block %zu",
			    b);
			cst_cert_encode(&k.e[e]->certs[e], cert);
			cr_assert_arr_eq(f.cert, cert, CST_CERT_LEN);
		} else {
			cr_assert_eq(f.hdr.cert_len, 0, "block %zu", b);
			cr_assert_null(f.cert);
		}
		cr_assert_eq(cst_frame_verify_sig(&f, k.e[e]->pk), 0);
		cr_assert_eq(cst_block_open(o, &f, &rule), 0);
		if (e > 0)
			cr_assert_eq(cst_frame_verify_sig(&f, k.e[e - 1]->pk),
			    CST_ESIG);
		cst_buf_close(&detail);
	}
	/* Going back to an older key, or skipping one, is refused. */
	make_records(3, st.next_seq);
	frame.len = 0;
	cst_draft_init(&d);
	cr_assert_eq(cst_sealer_build(s, recs, 3, &d), 0);
	cr_assert_eq(cst_block_finish(&d, &st, k.e[1], NOW_NS, &frame, NULL),
	    CST_EINVAL);
	st.epoch = 1;
	cr_assert_eq(cst_block_finish(&d, &st, k.e[2], NOW_NS, &frame, NULL),
	    CST_EINVAL);
	st.epoch = 3;
	d.first_seq++;
	cr_assert_eq(cst_block_finish(&d, &st, k.e[2], NOW_NS, &frame, NULL),
	    CST_EINVAL);
	cst_draft_close(&d);
	cst_buf_close(&detail);
	cst_buf_close(&frame);
	cst_sealer_free(s);
	cst_opener_free(o);
	keys_free(&k);
}

/*
 * What custody-query's opener leaves out and what it keeps: with the
 * records hash skipped, a wrong records_hash no longer stops the block,
 * but a wrong Merkle root, payload hash or record count still does, so
 * every record shown is still bound to the signed header.
 */
Test(block, skip_records_hash_keeps_the_other_checks)
{
	struct keys k;
	cst_chain_state st;
	cst_sealer *s;
	cst_opener *o;
	cst_buf frame;
	cst_frame f, g;
	const char *rule;

	keys_make(&k);
	state_init(&st, &k);
	cr_assert_not_null(s = cst_sealer_new(1));
	cr_assert_not_null(o = cst_opener_new());
	cst_buf_init(&frame);
	make_records(50, 0);
	seal(s, &st, k.e[0], 50, &frame);
	cr_assert_eq(cst_frame_parse(frame.p, frame.len, &f), 0);

	g = f;
	g.hdr.records_hash[0] ^= 1;
	cr_assert_eq(cst_block_open(o, &g, &rule), CST_EHASH);
	cr_assert_str_eq(rule, "R-BLK-4");
	cst_opener_skip_records_hash(o, 1);
	cr_assert_eq(cst_block_open(o, &g, &rule), 0);
	cr_assert_eq(cst_opener_count(o), 50);

	g = f;
	g.hdr.merkle_root[31] ^= 1;
	cr_assert_eq(cst_block_open(o, &g, &rule), CST_EHASH);
	cr_assert_str_eq(rule, "R-BLK-5");
	g = f;
	g.hdr.payload_hash[5] ^= 1;
	cr_assert_eq(cst_block_open(o, &g, &rule), CST_EHASH);
	cr_assert_str_eq(rule, "R-BLK-4");
	g = f;
	g.hdr.record_count = 49;
	cr_assert_neq(cst_block_open(o, &g, &rule), 0);
	cr_assert_eq(cst_opener_count(o), 0);

	cst_opener_skip_records_hash(o, 0);
	cr_assert_eq(cst_block_open(o, &f, &rule), 0);
	cst_buf_close(&frame);
	cst_buf_close(&detail);
	cst_sealer_free(s);
	cst_opener_free(o);
	keys_free(&k);
}

/*
 * The verifier opens blocks several at a time so that their hashes share
 * SIMD lanes: every frame of a batch must get the result, rule, records,
 * leaves and kinds it gets when opened alone, whatever its neighbours are
 * (good, altered, seal, other sizes).
 */
Test(block, open_many_matches_open_one_by_one)
{
	static const size_t sizes[] = { 1, 50, 300, 2000 };
	enum { NSIZES = sizeof(sizes) / sizeof(sizes[0]), NVAR = 8 };
	cst_frame fr[NSIZES * NVAR + 1], *pick[CST_OPEN_MAX];
	const cst_frame *fs[CST_OPEN_MAX];
	cst_opener *one, *many[CST_OPEN_MAX];
	const char *rule[CST_OPEN_MAX], *r1;
	int rc[CST_OPEN_MAX], rc1;
	cst_buf frames[NSIZES + 1];
	const uint8_t *raw1, *rawm;
	size_t len1, lenm, i, j, n, nfr = 0, start, trial;
	struct keys k;
	cst_chain_state st;
	cst_sealer *s;
	cst_draft d;
	unsigned seed = 20261122u;

	printf("block open_many: seed %u\n", seed);
	keys_make(&k);
	state_init(&st, &k);
	cr_assert_not_null(s = cst_sealer_new(1));
	cr_assert_not_null(one = cst_opener_new());
	for (i = 0; i < CST_OPEN_MAX; i++)
		cr_assert_not_null(many[i] = cst_opener_new());
	for (i = 0; i < NSIZES; i++) {
		cst_buf_init(&frames[i]);
		make_records(sizes[i], st.next_seq);
		seal(s, &st, k.e[0], sizes[i], &frames[i]);
		cr_assert_eq(cst_frame_parse(frames[i].p, frames[i].len,
		    &fr[nfr]), 0);
		/* Variants: intact, and each hash or limit the opener checks. */
		for (j = 1; j < NVAR; j++)
			fr[nfr + j] = fr[nfr];
		fr[nfr + 1].hdr.payload_hash[3] ^= 1;
		fr[nfr + 2].hdr.records_hash[7] ^= 1;
		fr[nfr + 3].hdr.merkle_root[0] ^= 0x80;
		fr[nfr + 4].hdr.record_count++;
		fr[nfr + 5].hdr.type = 3;
		fr[nfr + 6].hdr.raw_len = CST_MAX_RAW + 1;
		fr[nfr + 7].hdr.min_time_ns--;
		nfr += NVAR;
	}
	cst_buf_init(&frames[NSIZES]);
	cst_draft_init(&d);
	cr_assert_eq(cst_draft_build_seal(&d, st.next_seq, NOW_NS), 0);
	cr_assert_eq(cst_block_finish(&d, &st, k.e[0], NOW_NS,
	    &frames[NSIZES], NULL), 0);
	cst_draft_close(&d);
	cr_assert_eq(cst_frame_parse(frames[NSIZES].p, frames[NSIZES].len,
	    &fr[nfr++]), 0);

	for (trial = 0; trial < 400; trial++) {
		n = 1 + (size_t)rand_r(&seed) % CST_OPEN_MAX;
		start = (size_t)rand_r(&seed);
		for (i = 0; i < n; i++) {
			pick[i] = &fr[(start + i * (1 + trial % 5)) % nfr];
			fs[i] = pick[i];
		}
		cst_block_open_many(many, fs, n, rc, rule);
		for (i = 0; i < n; i++) {
			rc1 = cst_block_open(one, pick[i], &r1);
			cr_assert_eq(rc[i], rc1, "trial %zu frame %zu", trial,
			    i);
			cr_assert_eq(rule[i] == NULL, r1 == NULL);
			if (r1 != NULL)
				cr_assert_str_eq(rule[i], r1);
			cr_assert_eq(cst_opener_count(many[i]),
			    cst_opener_count(one));
			raw1 = cst_opener_raw(one, &len1);
			rawm = cst_opener_raw(many[i], &lenm);
			cr_assert_eq(len1, lenm);
			if (len1 > 0)
				cr_assert_arr_eq(raw1, rawm, len1);
			for (j = 0; j < cst_opener_count(one); j++) {
				cr_assert_arr_eq(cst_opener_leaves(one)[j],
				    cst_opener_leaves(many[i])[j],
				    CST_HASH_LEN);
				cr_assert_eq(cst_opener_kind(one, j),
				    cst_opener_kind(many[i], j));
			}
			cr_assert_eq(cst_opener_kind(many[i], j), CST_EINVAL);
		}
	}
	/* The batch sees each outcome at least once. */
	fs[0] = &fr[0];
	fs[1] = &fr[1];
	fs[2] = &fr[nfr - 1];
	fs[3] = &fr[NVAR + 2];
	cst_block_open_many(many, fs, 4, rc, rule);
	cr_assert_eq(rc[0], 0);
	cr_assert_eq(cst_opener_kind(many[0], 0), CST_REC_EVENT);
	cr_assert_eq(rc[1], CST_EHASH);
	cr_assert_str_eq(rule[1], "R-BLK-4");
	cr_assert_eq(rc[2], 0);
	cr_assert_eq(cst_opener_count(many[2]), 0);
	cr_assert_eq(rc[3], CST_EHASH);
	cr_assert_str_eq(rule[3], "R-BLK-4");
	cr_assert_eq(cst_opener_count(many[3]), 0);

	for (i = 0; i <= NSIZES; i++)
		cst_buf_close(&frames[i]);
	for (i = 0; i < CST_OPEN_MAX; i++)
		cst_opener_free(many[i]);
	cst_opener_free(one);
	cst_sealer_free(s);
	cst_buf_close(&detail);
	keys_free(&k);
}
