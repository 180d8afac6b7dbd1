/*
 * Evidence bundles (SPEC section 11): a bundle made from a chain verifies
 * with the root key alone; changing any proven byte, adding, duplicating
 * or moving a record, or using another chain's root key fails; the bundle
 * holds no byte of the records it does not disclose.  Version 2 (11.4):
 * blocks anchored by inclusion proofs under a note checkpoint, and every
 * proven byte of the note, the log certificate and the proofs.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include "custody/block.h"
#include "custody/bundle.h"
#include "custody/checkpoint.h"
#include "custody/error.h"
#include "custody/hash.h"
#include "custody/keys.h"
#include "custody/logkey.h"
#include "custody/merkle.h"
#include "custody/record.h"
#include "custody/tlog.h"

#define NBLOCKS 4
#define PER 7

struct chain {
	cst_root_key *root;
	cst_buf frames[NBLOCKS];
	cst_frame f[NBLOCKS];
	uint8_t raws[NBLOCKS * PER][64];
	size_t rawlen[NBLOCKS * PER];
	cst_cert certs[8];
	uint32_t ncerts;
	cst_buf ckp;
};

/*
 * Four blocks of seven records; the key changes epoch at block 2, so the
 * bundle needs two certificates.
 */
static void
make_chain(struct chain *c)
{
	cst_epoch_key *ek, *next;
	cst_record recs[PER];
	cst_chain_state st;
	cst_sealer *s;
	cst_draft d;
	uint8_t head[CST_HASH_LEN];
	size_t b, i, k;

	cr_assert(sodium_init() >= 0);
	memset(c, 0, sizeof(*c));
	cr_assert_eq(cst_root_key_generate(&c->root), 0);
	cr_assert_eq(cst_epoch_key_first(c->root, 1000, &ek), 0);
	cr_assert_not_null(s = cst_sealer_new(1));
	memset(&st, 0, sizeof(st));
	memcpy(st.chain_id, c->root->pub.chain_id, CST_CHAIN_ID_LEN);
	cst_draft_init(&d);
	for (b = 0; b < NBLOCKS; b++) {
		if (b == 2) {
			cr_assert_eq(cst_epoch_key_next(ek, st.next_block_no,
			    2000, &next), 0);
			cst_epoch_key_free(ek);
			ek = next;
		}
		for (i = 0; i < PER; i++) {
			k = b * PER + i;
			c->rawlen[k] = (size_t)snprintf((char *)c->raws[k], 64,
			    "<13>1 2024-06-01T00:00:00Z h app - - - secret-%03zu",
			    k);
			memset(&recs[i], 0, sizeof(recs[i]));
			recs[i].kind = CST_REC_EVENT;
			recs[i].transport = CST_TR_TCP;
			recs[i].seq = st.next_seq + i;
			recs[i].recv_ns = 1717200000000000000LL + (int64_t)k;
			recs[i].listener.p = (const uint8_t *)"tcp";
			recs[i].listener.len = 3;
			recs[i].peer.p = (const uint8_t *)"192.0.2.1:5";
			recs[i].peer.len = 11;
			recs[i].raw.p = c->raws[k];
			recs[i].raw.len = c->rawlen[k];
		}
		cr_assert_eq(cst_sealer_build(s, recs, PER, &d), 0);
		cst_buf_init(&c->frames[b]);
		cr_assert_eq(cst_block_finish(&d, &st, ek, 3000, &c->frames[b],
		    head), 0);
		cr_assert_eq(cst_frame_parse(c->frames[b].p, c->frames[b].len,
		    &c->f[b]), 0);
	}
	c->ncerts = ek->epoch;
	memcpy(c->certs, ek->certs, ek->epoch * sizeof(cst_cert));
	cst_buf_init(&c->ckp);
	cr_assert_eq(cst_checkpoint_encode(ek, st.next_block_no, st.next_seq,
	    head, 4000, &c->ckp), 0);
	cst_draft_close(&d);
	cst_sealer_free(s);
	cst_epoch_key_free(ek);
}

static void
free_chain(struct chain *c)
{
	size_t b;

	for (b = 0; b < NBLOCKS; b++)
		cst_buf_close(&c->frames[b]);
	cst_buf_close(&c->ckp);
	cst_root_key_free(c->root);
}

/*
 * Bundles leaves[bi] of blocks bs (sorted), each from a freshly opened
 * block; `join` adds every block between, and a checkpoint.
 */
static void
make_bundle(struct chain *c, const size_t *bs, const uint32_t *leaves,
    size_t n, int join, cst_buf *out)
{
	uint8_t path[CST_MERKLE_MAX_DEPTH][CST_HASH_LEN];
	cst_bundle_writer *w;
	cst_opener *o;
	cst_record r;
	cst_bytes enc;
	size_t i, plen, last = SIZE_MAX, b;

	cr_assert_not_null(o = cst_opener_new());
	cr_assert_eq(cst_bundle_writer_new(c->root->pub.chain_id, 5000,
	    "test", 4, &w), 0);
	cr_assert_eq(cst_bundle_writer_certs(w, c->certs, c->ncerts), 0);
	for (i = 0; i < n; i++) {
		if (bs[i] != last) {
			for (b = last == SIZE_MAX ? bs[i] : last + 1;
			    join && b < bs[i]; b++)
				cr_assert_eq(cst_bundle_writer_block(w,
				    &c->f[b]), 0);
			cr_assert_eq(cst_bundle_writer_block(w, &c->f[bs[i]]),
			    0);
			last = bs[i];
			cr_assert_eq(cst_block_open(o, &c->f[bs[i]], NULL), 0);
		}
		cr_assert_eq(cst_opener_record(o, leaves[i], &r, &enc), 0);
		cr_assert_eq(cst_merkle_path(cst_opener_leaves(o),
		    cst_opener_count(o), leaves[i], path, &plen), 0);
		cr_assert_eq(cst_bundle_writer_record(w, leaves[i], enc.p,
		    enc.len, (const uint8_t (*)[CST_HASH_LEN])path, plen), 0);
	}
	if (join) {
		for (b = last + 1; b < NBLOCKS; b++)
			cr_assert_eq(cst_bundle_writer_block(w, &c->f[b]), 0);
		cr_assert_eq(cst_bundle_writer_checkpoint(w,
		    (const char *)c->ckp.p, c->ckp.len), 0);
	}
	cst_buf_init(out);
	cr_assert_eq(cst_bundle_writer_finish(w, out, NULL), 0);
	cst_bundle_writer_free(w);
	cst_opener_free(o);
}

/* Recomputes the trailer, as someone altering a bundle on purpose would. */
static void
reseal(uint8_t *p, size_t len)
{

	cst_hash_domain(CST_D_BUNDLE, p, len - CST_BND_TRAILER_LEN,
	    p + len - CST_BND_TRAILER_LEN);
}

struct seen {
	uint64_t seqs[64];
	size_t n;
};

static int
on_record(void *arg, uint32_t bi, const cst_blk_hdr *h, uint32_t leaf,
    const cst_record *rec, const uint8_t *bytes, size_t len)
{
	struct seen *s = arg;

	(void)bi;
	(void)bytes;
	(void)len;
	cr_assert_eq(rec->seq, h->first_seq + leaf);
	s->seqs[s->n++] = rec->seq;
	return (0);
}

static const size_t sel_b[] = { 0, 0, 2, 3 };
static const uint32_t sel_l[] = { 1, 6, 3, 0 };
#define NSEL 4

Test(bundle, verifies_and_lists_exactly_the_selection)
{
	struct chain c;
	cst_bundle_cb cb = { NULL, on_record, NULL, NULL };
	cst_bundle_info info;
	struct seen s = { { 0 }, 0 };
	cst_buf b;
	size_t i;

	make_chain(&c);
	make_bundle(&c, sel_b, sel_l, NSEL, 1, &b);
	cr_assert_eq(cst_bundle_verify(b.p, b.len, &c.root->pub, &cb, &s,
	    &info), 0, "rule %s", info.rule);
	cr_assert_eq(s.n, NSEL);
	for (i = 0; i < NSEL; i++)
		cr_assert_eq(s.seqs[i], sel_b[i] * PER + sel_l[i]);
	cr_assert_eq(info.block_count, NBLOCKS);
	cr_assert_eq(info.cert_count, 2);
	cr_assert_eq(info.runs, 1);
	cr_assert_eq(info.anchored_runs, 1, "R-BND-10 anchors the run");
	cst_buf_close(&b);
	free_chain(&c);
}

/*
 * R-BND-12: a checkpoint the bundle carries is the maker's claim; only one
 * the verifier is given anchors, and every block up to its head must join
 * it.  The minimal bundle's block 0 is below the head but not joined.
 */
Test(bundle, given_checkpoint_anchors_and_rejects_unjoined_blocks)
{
	struct chain c;
	cst_bundle_info info;
	cst_checkpoint cp;
	cst_buf b;

	make_chain(&c);
	memset(&cp, 0, sizeof(cp));
	cr_assert_eq(cst_checkpoint_decode((const char *)c.ckp.p, c.ckp.len,
	    &cp), 0);
	make_bundle(&c, sel_b, sel_l, NSEL, 1, &b);
	cr_assert_eq(cst_bundle_verify_given(b.p, b.len, &c.root->pub, &cp,
	    1, NULL, NULL, &info), 0, "rule %s", info.rule);
	cr_assert_eq(info.given_runs, 1);
	cr_assert_eq(info.anchored_runs, 1);
	cr_assert_eq(cst_bundle_verify(b.p, b.len, &c.root->pub, NULL, NULL,
	    &info), 0);
	cr_assert_eq(info.given_runs, 0, "a carried checkpoint is no anchor");
	cst_buf_close(&b);

	make_bundle(&c, sel_b, sel_l, NSEL, 0, &b);
	cr_assert_eq(cst_bundle_verify_given(b.p, b.len, &c.root->pub, &cp,
	    1, NULL, NULL, &info), CST_ECHAIN);
	cr_assert_str_eq(info.rule, "R-BND-12");
	cr_assert_str_eq(info.part, "block");
	cr_assert_eq(info.entry, 0);
	cst_buf_close(&b);
	cst_checkpoint_close(&cp);
	free_chain(&c);
}

Test(bundle, minimal_bundle_has_runs_and_no_anchor)
{
	struct chain c;
	cst_bundle_info info;
	cst_buf b;

	make_chain(&c);
	make_bundle(&c, sel_b, sel_l, NSEL, 0, &b);
	cr_assert_eq(cst_bundle_verify(b.p, b.len, &c.root->pub, NULL, NULL,
	    &info), 0);
	cr_assert_eq(info.block_count, 3);
	cr_assert_eq(info.runs, 2, "blocks 0 and 2..3: two runs (R-BND-6)");
	cr_assert_eq(info.anchored_runs, 0);
	cst_buf_close(&b);
	free_chain(&c);
}

Test(bundle, holds_no_byte_string_of_undisclosed_records)
{
	struct chain c;
	cst_buf b;
	size_t k, i;
	int chosen;

	make_chain(&c);
	make_bundle(&c, sel_b, sel_l, NSEL, 1, &b);
	for (k = 0; k < NBLOCKS * PER; k++) {
		for (i = 0, chosen = 0; i < NSEL; i++)
			chosen |= sel_b[i] * PER + sel_l[i] == k;
		cr_assert_eq(memmem(b.p, b.len, c.raws[k], c.rawlen[k]) != NULL,
		    chosen, "record %zu disclosed: %d", k, !chosen);
	}
	cst_buf_close(&b);
	free_chain(&c);
}

Test(bundle, every_byte_flip_fails)
{
	struct chain c;
	cst_bundle_info info;
	cst_buf b;
	size_t i;

	make_chain(&c);
	make_bundle(&c, sel_b, sel_l, NSEL, 1, &b);
	for (i = 0; i < b.len; i++) {
		b.p[i] ^= 0x01;
		cr_assert_neq(cst_bundle_verify(b.p, b.len, &c.root->pub, NULL,
		    NULL, &info), 0, "flip at %zu accepted", i);
		b.p[i] ^= 0x01;
	}
	cst_buf_close(&b);
	free_chain(&c);
}

/*
 * With the trailer recomputed, every flip in a proven byte still fails;
 * only created_ns (header bytes 32..39) and the note are the maker's word
 * (SPEC 11.1), and they change the digest.
 */
Test(bundle, every_resealed_flip_of_a_proven_byte_fails)
{
	struct chain c;
	cst_bundle_info info;
	uint8_t d0[CST_HASH_LEN];
	cst_buf b;
	size_t i, note_end = CST_BND_HDR_LEN + 4;
	int rc;

	make_chain(&c);
	make_bundle(&c, sel_b, sel_l, NSEL, 1, &b);
	memcpy(d0, b.p + b.len - CST_HASH_LEN, CST_HASH_LEN);
	for (i = 0; i < b.len - CST_BND_TRAILER_LEN; i++) {
		b.p[i] ^= 0x01;
		reseal(b.p, b.len);
		rc = cst_bundle_verify(b.p, b.len, &c.root->pub, NULL, NULL,
		    &info);
		if ((i >= 32 && i < 40) || (i >= CST_BND_HDR_LEN &&
		    i < note_end)) {
			cr_assert_eq(rc, 0, "unproven byte %zu", i);
			cr_assert_neq(memcmp(info.digest, d0, CST_HASH_LEN), 0);
		} else {
			cr_assert_neq(rc, 0, "resealed flip at %zu accepted", i);
		}
		b.p[i] ^= 0x01;
	}
	reseal(b.p, b.len);
	cst_buf_close(&b);
	free_chain(&c);
}

Test(bundle, another_chains_root_fails)
{
	struct chain c, other;
	cst_bundle_info info;
	cst_root_pub forged;
	cst_buf b;

	make_chain(&c);
	make_chain(&other);
	make_bundle(&c, sel_b, sel_l, NSEL, 1, &b);
	cr_assert_eq(cst_bundle_verify(b.p, b.len, &other.root->pub, NULL,
	    NULL, &info), CST_EFOREIGN);
	cr_assert_str_eq(info.rule, "R-BND-2");
	/* Another key that claims this chain id: the certificates fail. */
	forged = other.root->pub;
	memcpy(forged.chain_id, c.root->pub.chain_id, CST_CHAIN_ID_LEN);
	cr_assert_neq(cst_bundle_verify(b.p, b.len, &forged, NULL, NULL,
	    &info), 0);
	cr_assert_str_eq(info.rule, "R-BND-3");
	cst_buf_close(&b);
	free_chain(&c);
	free_chain(&other);
}

/* Offset of record entry i (its 16-byte header) in bundle b. */
static size_t
record_off(const cst_buf *b, const struct chain *c, size_t nblocks_in,
    size_t i)
{
	size_t off = CST_BND_HDR_LEN + 4 + 2 * CST_CERT_LEN, k, len, plen;
	const uint8_t *p;

	(void)c;
	for (k = 0; k < nblocks_in; k++) {
		p = b->p + off;
		off += CST_BLK_HDR_LEN + (p[60] | p[61] << 8) + CST_SIG_LEN;
	}
	for (k = 0; k < i; k++) {
		p = b->p + off;
		len = (size_t)p[8] | (size_t)p[9] << 8 | (size_t)p[10] << 16;
		plen = p[12];
		off += CST_BND_REC_HDR_LEN + len + plen * CST_HASH_LEN;
	}
	return (off);
}

static size_t
record_len(const cst_buf *b, size_t off)
{
	const uint8_t *p = b->p + off;

	return (CST_BND_REC_HDR_LEN + ((size_t)p[8] | (size_t)p[9] << 8 |
	    (size_t)p[10] << 16) + p[12] * CST_HASH_LEN);
}

static void
put32(uint8_t *p, uint32_t v)
{

	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

Test(bundle, removing_or_adding_a_record_fails)
{
	struct chain c;
	cst_bundle_info info;
	cst_buf b, x;
	size_t off, len;

	make_chain(&c);
	make_bundle(&c, sel_b, sel_l, NSEL, 1, &b);
	off = record_off(&b, &c, NBLOCKS, 1);
	len = record_len(&b, off);

	/* Cut record 1 out, counts and trailer untouched. */
	cst_buf_init(&x);
	cr_assert_eq(cst_buf_append(&x, b.p, off), 0);
	cr_assert_eq(cst_buf_append(&x, b.p + off + len, b.len - off - len), 0);
	cr_assert_neq(cst_bundle_verify(x.p, x.len, &c.root->pub, NULL, NULL,
	    &info), 0);
	/* Also with the count fixed, and resealed: a new, smaller bundle. */
	put32(x.p + 52, NSEL - 1);
	cr_assert_neq(cst_bundle_verify(x.p, x.len, &c.root->pub, NULL, NULL,
	    &info), 0, "naive removal must break the trailer");
	reseal(x.p, x.len);
	cr_assert_eq(cst_bundle_verify(x.p, x.len, &c.root->pub, NULL, NULL,
	    &info), 0, "a resealed subset is a valid, different bundle");
	cr_assert_neq(memcmp(info.digest, b.p + b.len - CST_HASH_LEN,
	    CST_HASH_LEN), 0, "and its digest differs");
	cst_buf_close(&x);

	/* Record 1 twice: R-BND-7, even resealed. */
	cst_buf_init(&x);
	cr_assert_eq(cst_buf_append(&x, b.p, off + len), 0);
	cr_assert_eq(cst_buf_append(&x, b.p + off, b.len - off), 0);
	cr_assert_neq(cst_bundle_verify(x.p, x.len, &c.root->pub, NULL, NULL,
	    &info), 0);
	put32(x.p + 52, NSEL + 1);
	reseal(x.p, x.len);
	cr_assert_neq(cst_bundle_verify(x.p, x.len, &c.root->pub, NULL, NULL,
	    &info), 0);
	cr_assert_str_eq(info.rule, "R-BND-7");
	cst_buf_close(&x);

	/* A record moved to another leaf: its path no longer proves it. */
	cst_buf_init(&x);
	cr_assert_eq(cst_buf_append(&x, b.p, b.len), 0);
	put32(x.p + off + 4, sel_l[1] - 1);
	reseal(x.p, x.len);
	cr_assert_neq(cst_bundle_verify(x.p, x.len, &c.root->pub, NULL, NULL,
	    &info), 0);
	cst_buf_close(&x);
	cst_buf_close(&b);
	free_chain(&c);
}

Test(bundle, truncation_at_every_length_fails)
{
	struct chain c;
	cst_bundle_info info;
	cst_buf b;
	size_t n;

	make_chain(&c);
	make_bundle(&c, sel_b, sel_l, NSEL, 0, &b);
	for (n = 0; n < b.len; n++)
		cr_assert_neq(cst_bundle_verify(b.p, n, &c.root->pub, NULL,
		    NULL, &info), 0, "truncated to %zu accepted", n);
	cst_buf_close(&b);
	free_chain(&c);
}

Test(bundle, writer_refuses_what_would_not_verify)
{
	struct chain c;
	cst_bundle_writer *w;
	uint8_t path[CST_MERKLE_MAX_DEPTH][CST_HASH_LEN];
	cst_buf out;

	make_chain(&c);
	memset(path, 0, sizeof(path));
	cr_assert_eq(cst_bundle_writer_new(c.root->pub.chain_id, 0, "", 0,
	    &w), 0);
	cr_assert_eq(cst_bundle_writer_record(w, 0, (const uint8_t *)"x", 1,
	    (const uint8_t (*)[CST_HASH_LEN])path, 3), CST_EINVAL,
	    "no block yet");
	cr_assert_eq(cst_bundle_writer_block(w, &c.f[1]), 0);
	cr_assert_eq(cst_bundle_writer_block(w, &c.f[0]), CST_EINVAL,
	    "R-BND-4 order");
	cr_assert_eq(cst_bundle_writer_record(w, PER, (const uint8_t *)"x", 1,
	    (const uint8_t (*)[CST_HASH_LEN])path, 3), CST_EINVAL,
	    "leaf out of range");
	cst_buf_init(&out);
	cr_assert_eq(cst_bundle_writer_finish(w, &out, NULL), CST_EINVAL,
	    "no certificates given");
	cst_buf_close(&out);
	cst_bundle_writer_free(w);
	free_chain(&c);
}

Test(bundle, path_len_matches_rfc6962)
{
	/* n = 7: leaves 0..3 have depth 3, 4..5 depth 3, 6 depth 2. */
	cr_assert_eq(cst_bundle_path_len(0, 1), 0);
	cr_assert_eq(cst_bundle_path_len(0, 7), 3);
	cr_assert_eq(cst_bundle_path_len(5, 7), 3);
	cr_assert_eq(cst_bundle_path_len(6, 7), 2);
	cr_assert_eq(cst_bundle_path_len(4, 5), 1);
	cr_assert_eq(cst_bundle_path_len(1023, 1024), 10);
}

/* The chain tree's node (level, index) over the four block hashes. */
static int
tree_node(void *arg, unsigned level, uint64_t index,
    uint8_t out[CST_HASH_LEN])
{
	const struct chain *c = arg;
	uint8_t l[CST_HASH_LEN], r[CST_HASH_LEN];

	if (level == 0) {
		cst_tlog_leaf(c->f[index].block_hash, out);
		return (0);
	}
	tree_node(arg, level - 1, 2 * index, l);
	tree_node(arg, level - 1, 2 * index + 1, r);
	cst_merkle_node(l, r, out);
	return (0);
}

/*
 * Leaf 1 of blocks 0 and 2, not joined: each block with its inclusion
 * proof under the note of the four blocks (SPEC 11.4).
 */
static void
make_bundle_v2(struct chain *c, cst_buf *out)
{
	static const size_t bs[] = { 0, 2 };
	static const uint32_t lv[] = { 1, 1 };
	uint8_t path[CST_TLOG_MAX_PROOF][CST_HASH_LEN], root[CST_HASH_LEN];
	uint8_t mpath[CST_MERKLE_MAX_DEPTH][CST_HASH_LEN];
	cst_bundle_writer *w;
	cst_log_key *lk;
	cst_log_cert lc;
	cst_buf cert, note;
	cst_opener *o;
	cst_record r;
	cst_bytes enc;
	size_t i, plen;

	cr_assert_eq(cst_log_key_generate(c->root->pub.chain_id, &lk), 0);
	cst_log_cert_make(c->root, lk->pk, &lc);
	cst_buf_init(&cert);
	cst_buf_init(&note);
	cr_assert_eq(cst_log_cert_encode(&lc, &cert), 0);
	cr_assert_eq(cst_tlog_root_at(NBLOCKS, tree_node, c, root), 0);
	cr_assert_eq(cst_log_note_encode(lk, NBLOCKS, root, &note), 0);
	cr_assert_not_null(o = cst_opener_new());
	cr_assert_eq(cst_bundle_writer_new(c->root->pub.chain_id, 5000,
	    "test", 4, &w), 0);
	cr_assert_eq(cst_bundle_writer_certs(w, c->certs, c->ncerts), 0);
	cr_assert_eq(cst_bundle_writer_anchor(w, (const char *)cert.p,
	    cert.len, (const char *)note.p, note.len, NBLOCKS), 0);
	for (i = 0; i < 2; i++) {
		cr_assert_eq(cst_bundle_writer_block(w, &c->f[bs[i]]), 0);
		cr_assert_eq(cst_block_open(o, &c->f[bs[i]], NULL), 0);
		cr_assert_eq(cst_opener_record(o, lv[i], &r, &enc), 0);
		cr_assert_eq(cst_merkle_path(cst_opener_leaves(o),
		    cst_opener_count(o), lv[i], mpath, &plen), 0);
		cr_assert_eq(cst_bundle_writer_record(w, lv[i], enc.p,
		    enc.len, (const uint8_t (*)[CST_HASH_LEN])mpath, plen), 0);
		cr_assert_eq(cst_tlog_inclusion_proof(bs[i], NBLOCKS,
		    tree_node, c, path, &plen), 0);
		cr_assert_eq(cst_bundle_writer_proof(w, bs[i],
		    (const uint8_t (*)[CST_HASH_LEN])path, plen), 0);
	}
	cr_assert_eq(cst_bundle_writer_proof(w, 1,
	    (const uint8_t (*)[CST_HASH_LEN])path, 2), CST_EINVAL,
	    "R-BND-16 order");
	cst_buf_init(out);
	cr_assert_eq(cst_bundle_writer_finish(w, out, NULL), 0);
	cst_bundle_writer_free(w);
	cst_opener_free(o);
	cst_buf_close(&cert);
	cst_buf_close(&note);
	cst_log_key_free(lk);
}

static int
count_note_blocks(void *arg, uint32_t index, const cst_blk_hdr *h,
    const uint8_t hash[CST_HASH_LEN], uint32_t run, int anchored)
{
	int *n = arg;

	(void)index;
	(void)h;
	(void)hash;
	(void)run;
	*n += (anchored & CST_BND_NOTE) != 0;
	return (0);
}

Test(bundle, v2_note_anchors_blocks_without_runs)
{
	cst_bundle_cb cb = { count_note_blocks, NULL, NULL, NULL };
	struct chain c;
	cst_bundle_info info;
	cst_buf b;
	int n = 0;

	make_chain(&c);
	make_bundle_v2(&c, &b);
	cr_assert_eq(b.p[8], 2, "version 2");
	cr_assert_eq(cst_bundle_verify(b.p, b.len, &c.root->pub, &cb, &n,
	    &info), 0, "%s", info.rule);
	cr_assert_eq(info.version, 2);
	cr_assert_eq(info.proof_count, 2);
	cr_assert_eq(info.tree_size, NBLOCKS);
	cr_assert_eq(info.runs, 2);
	cr_assert_eq(info.note_blocks, 2);
	cr_assert_eq(n, 2);
	cst_buf_close(&b);
	free_chain(&c);
}

/*
 * Every byte after the checkpoints (log certificate, note, proofs), or of
 * the header's version and proof_count, changed with the trailer made
 * again, fails; a version 1 reading of it (version byte set to 1) too.
 */
Test(bundle, v2_every_resealed_flip_of_the_anchor_fails)
{
	struct chain c;
	cst_bundle_info info;
	cst_buf b;
	size_t i, start;
	int rc;

	make_chain(&c);
	make_bundle_v2(&c, &b);
	/* log certificate entry: 4 + 1 line; it starts where the text is. */
	for (start = 0; start + 20 < b.len; start++)
		if (memcmp(b.p + start, "custody-log-cert-v1", 19) == 0)
			break;
	cr_assert(start + 20 < b.len);
	start -= 4;
	for (i = start; i < b.len - CST_BND_TRAILER_LEN; i++) {
		b.p[i] ^= 0x01;
		reseal(b.p, b.len);
		rc = cst_bundle_verify(b.p, b.len, &c.root->pub, NULL, NULL,
		    &info);
		cr_assert_neq(rc, 0, "resealed flip at %zu accepted", i);
		b.p[i] ^= 0x01;
	}
	for (i = 8; i < 64; i += i == 8 ? 52 : 1) {
		b.p[i] ^= 0x03;
		reseal(b.p, b.len);
		cr_assert_neq(cst_bundle_verify(b.p, b.len, &c.root->pub, NULL,
		    NULL, &info), 0, "header byte %zu", i);
		b.p[i] ^= 0x03;
	}
	cst_buf_close(&b);
	free_chain(&c);
}

Test(bundle, v2_writer_refuses_proofs_that_would_not_verify)
{
	struct chain c;
	cst_bundle_writer *w;
	uint8_t path[CST_TLOG_MAX_PROOF][CST_HASH_LEN];

	make_chain(&c);
	memset(path, 0, sizeof(path));
	cr_assert_eq(cst_bundle_writer_new(c.root->pub.chain_id, 0, "", 0,
	    &w), 0);
	cr_assert_eq(cst_bundle_writer_block(w, &c.f[0]), 0);
	cr_assert_eq(cst_bundle_writer_proof(w, 0,
	    (const uint8_t (*)[CST_HASH_LEN])path, 2), CST_EINVAL,
	    "no anchor");
	cr_assert_eq(cst_bundle_writer_anchor(w, "x\n", 2, "y\n", 2, 2), 0);
	cr_assert_eq(cst_bundle_writer_anchor(w, "x\n", 2, "y\n", 2, 2),
	    CST_EINVAL, "anchor given twice");
	cr_assert_eq(cst_bundle_writer_proof(w, 0,
	    (const uint8_t (*)[CST_HASH_LEN])path, 2), CST_EINVAL,
	    "path of the wrong length");
	cr_assert_eq(cst_bundle_writer_proof(w, 2,
	    (const uint8_t (*)[CST_HASH_LEN])path, 1), CST_EINVAL,
	    "block at the note's size");
	cr_assert_eq(cst_bundle_writer_proof(w, 1,
	    (const uint8_t (*)[CST_HASH_LEN])path, 1), CST_EINVAL,
	    "block not added");
	cr_assert_eq(cst_bundle_writer_proof(w, 0,
	    (const uint8_t (*)[CST_HASH_LEN])path, 1), 0);
	cst_bundle_writer_free(w);
	free_chain(&c);
}
