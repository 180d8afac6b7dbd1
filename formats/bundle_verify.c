/*
 * Evidence bundles (SPEC section 11): the verifier.  The layout is in
 * bundle_int.h; the writer is in bundle_write.c.
 *
 * The verifier walks the file twice: the first pass checks every rule and
 * remembers each block entry, the second hands verified entries to the
 * caller, so that nothing is shown from a bundle that fails anywhere.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "custody/block.h"
#include "custody/bundle.h"
#include "custody/checkpoint.h"
#include "custody/error.h"
#include "custody/format.h"
#include "custody/hash.h"
#include "custody/keys.h"
#include "custody/logkey.h"
#include "custody/merkle.h"
#include "custody/record.h"
#include "custody/tlog.h"
#include "bundle_int.h"
#include "custody/le.h"

#define BLK_ENTRY_MIN (CST_BLK_HDR_LEN + CST_SIG_LEN)

size_t
cst_bundle_path_len(size_t m, size_t n)
{
	size_t k, depth = 0;

	/* RFC 6962 2.1.1: one sibling per level of the subtree holding m. */
	while (n > 1) {
		for (k = 1; k << 1 < n; k <<= 1)
			;
		if (m < k) {
			n = k;
		} else {
			m -= k;
			n -= k;
		}
		depth++;
	}
	return (depth);
}

/* What the first pass keeps of each block entry. */
struct vblock {
	cst_blk_hdr hdr;
	uint8_t hash[CST_HASH_LEN];
	uint64_t off;
	uint32_t run;
	int anchored;        /* CST_BND_* */
};

/* Verifier state: the buffer, the cursor and the failure record. */
struct vstate {
	const uint8_t *buf;
	size_t end;          /* where the trailer begins */
	size_t pos;
	cst_bundle_info *info;
	cst_cert *certs;
	struct vblock *blocks;
	uint32_t nblocks;
};

/* Records the first failure and returns code. */
static int
fail(struct vstate *v, int code, const char *rule, const char *part,
    int64_t entry, size_t off)
{

	v->info->rule = rule;
	v->info->part = part;
	v->info->entry = entry;
	v->info->offset = off;
	return (code);
}

/* Is n bytes left before the trailer?  Never overflows. */
static int
room(const struct vstate *v, size_t n)
{

	return (n <= v->end - v->pos);
}

static int
check_header(struct vstate *v, const uint8_t *buf, size_t len)
{
	cst_bundle_info *in = v->info;
	uint8_t d[CST_HASH_LEN];

	/* R-BND-1: everything structural before any signature. */
	if (len < CST_BND_HDR_LEN + CST_BND_TRAILER_LEN)
		return (fail(v, CST_ETRUNC, "R-BND-1", "header", -1, 0));
	if (memcmp(buf, bnd_magic, 8) != 0 || cst_le_get16(buf + 10) !=
	    CST_BND_HDR_LEN || cst_le_get32(buf + 12) != 0)
		return (fail(v, CST_ECORRUPT, "R-BND-1", "header", -1, 0));
	in->version = cst_le_get16(buf + 8);
	if (in->version != 1 && in->version != 2)
		return (fail(v, CST_EVERSION, "R-BND-1", "header", -1, 8));
	/* Version 1: reserved.  Version 2: proof_count (R-BND-13). */
	if (in->version == 1 && cst_le_get32(buf + 60) != 0)
		return (fail(v, CST_ECORRUPT, "R-BND-1", "header", -1, 60));
	if (in->version == 2)
		in->proof_count = cst_le_get32(buf + 60);
	memcpy(in->chain_id, buf + 16, CST_CHAIN_ID_LEN);
	in->created_ns = (int64_t)cst_le_get64(buf + 32);
	in->note_len = cst_le_get32(buf + 40);
	in->cert_count = cst_le_get32(buf + 44);
	in->block_count = cst_le_get32(buf + 48);
	in->record_count = cst_le_get32(buf + 52);
	in->checkpoint_count = cst_le_get32(buf + 56);
	if (in->note_len > CST_BND_MAX_NOTE || in->cert_count == 0 ||
	    in->cert_count > CST_BND_MAX_CERTS || in->block_count == 0 ||
	    in->block_count > CST_BND_MAX_BLOCKS ||
	    in->record_count > CST_BND_MAX_RECORDS ||
	    in->checkpoint_count > CST_BND_MAX_CHECKPOINTS)
		return (fail(v, CST_ETOOBIG, "R-BND-1", "header", -1, 40));
	if (in->version == 2 && (in->proof_count == 0 ||
	    in->proof_count > in->block_count))
		return (fail(v, CST_ETOOBIG, "R-BND-13", "header", -1, 60));
	v->end = len - CST_BND_TRAILER_LEN;
	memcpy(in->digest, buf + v->end, CST_HASH_LEN);
	cst_hash_domain(CST_D_BUNDLE, buf, v->end, d);
	if (sodium_memcmp(d, buf + v->end, CST_HASH_LEN) != 0)
		return (fail(v, CST_EHASH, "R-BND-1", "trailer", -1, v->end));
	v->pos = CST_BND_HDR_LEN;
	if (!room(v, in->note_len))
		return (fail(v, CST_ETRUNC, "R-BND-1", "note", -1, v->pos));
	in->note = buf + v->pos;
	v->pos += in->note_len;
	return (0);
}

static int
check_certs(struct vstate *v, const cst_root_pub *root)
{
	cst_bundle_info *in = v->info;
	const uint8_t *signer;
	uint32_t i;
	size_t off;
	int rc;

	if (!room(v, (size_t)in->cert_count * CST_CERT_LEN))
		return (fail(v, CST_ETRUNC, "R-BND-1", "cert", -1, v->pos));
	if ((v->certs = calloc(in->cert_count, sizeof(*v->certs))) == NULL)
		return (CST_ENOMEM);
	for (i = 0; i < in->cert_count; i++) {
		off = v->pos;
		if ((rc = cst_cert_decode(v->buf + off, CST_CERT_LEN,
		    &v->certs[i])) != 0)
			return (fail(v, rc, "R-BND-3", "cert", i, off));
		v->pos += CST_CERT_LEN;
		/* R-BND-3: entry i is epoch i+1, from the root down. */
		if (v->certs[i].epoch != i + 1 ||
		    (i == 0 && v->certs[i].valid_from != 0) ||
		    (i > 0 && v->certs[i].valid_from <=
		    v->certs[i - 1].valid_from))
			return (fail(v, CST_ECORRUPT, "R-BND-3", "cert", i,
			    off));
		signer = i == 0 ? root->pk : v->certs[i - 1].public_key;
		if ((rc = cst_cert_verify(&v->certs[i], root->chain_id,
		    signer)) != 0)
			return (fail(v, rc, "R-BND-3", "cert", i, off));
	}
	return (0);
}

/* R-BND-4 and R-BND-5 for block entry i, already located at off. */
static int
check_block(struct vstate *v, uint32_t i, size_t off, uint32_t *max_epoch)
{
	struct vblock *b = &v->blocks[i];
	const cst_blk_hdr *h = &b->hdr;
	const cst_cert *ec;
	const uint8_t *sig;
	uint8_t msg[sizeof(CST_D_BLOCKSIG) + CST_HASH_LEN];
	uint8_t cert[CST_CERT_LEN];
	static const uint8_t zero[CST_HASH_LEN];
	int rc;

	if ((rc = cst_blk_hdr_decode(v->buf + off, CST_BLK_HDR_LEN,
	    &b->hdr)) != 0)
		return (fail(v, rc, "R-BND-4", "block", i, off));
	b->off = off;
	if (!room(v, (size_t)CST_BLK_HDR_LEN + h->cert_len + CST_SIG_LEN))
		return (fail(v, CST_ETRUNC, "R-BND-1", "block", i, off));
	if (memcmp(h->chain_id, v->info->chain_id, CST_CHAIN_ID_LEN) != 0)
		return (fail(v, CST_EFOREIGN, "R-BND-4", "block", i, off));
	if (i > 0 && h->block_no <= v->blocks[i - 1].hdr.block_no)
		return (fail(v, CST_ESEQ, "R-BND-4", "block", i, off));
	if (h->key_epoch < 1 || h->key_epoch > v->info->cert_count)
		return (fail(v, CST_EKEY, "R-BND-4", "block", i, off));
	ec = &v->certs[h->key_epoch - 1];
	if (h->block_no < ec->valid_from ||
	    (h->key_epoch < v->info->cert_count &&
	    h->block_no >= v->certs[h->key_epoch].valid_from))
		return (fail(v, CST_EKEY, "R-BND-4", "block", i, off));
	/* R-KEY-2: a certificate exactly where the epoch begins. */
	if ((h->cert_len != 0) != (h->block_no == ec->valid_from))
		return (fail(v, CST_ECORRUPT, "R-BND-4", "block", i, off));
	if (h->cert_len != 0) {
		cst_cert_encode(ec, cert);
		if (memcmp(cert, v->buf + off + CST_BLK_HDR_LEN,
		    CST_CERT_LEN) != 0)
			return (fail(v, CST_ECORRUPT, "R-BND-4", "block", i,
			    off));
	}
	if (h->block_no == 0 && (h->key_epoch != 1 || h->first_seq != 0 ||
	    memcmp(h->prev_hash, zero, CST_HASH_LEN) != 0))
		return (fail(v, CST_ECHAIN, "R-BND-4", "block", i, off));
	if (h->key_epoch > *max_epoch)
		*max_epoch = h->key_epoch;

	cst_hash_domain(CST_D_BLOCK, v->buf + off,
	    (size_t)CST_BLK_HDR_LEN + h->cert_len, b->hash);
	memcpy(msg, CST_D_BLOCKSIG, sizeof(CST_D_BLOCKSIG));
	memcpy(msg + sizeof(CST_D_BLOCKSIG), b->hash, CST_HASH_LEN);
	sig = v->buf + off + CST_BLK_HDR_LEN + h->cert_len;
	if (crypto_sign_verify_detached(sig, msg, sizeof(msg),
	    ec->public_key) != 0)
		return (fail(v, CST_ESIG, "R-BND-5", "block", i, off));
	v->pos = off + CST_BLK_HDR_LEN + h->cert_len + CST_SIG_LEN;
	return (0);
}

/* R-BND-6: adjacent entries with consecutive numbers are one chain. */
static int
check_runs(struct vstate *v)
{
	const cst_blk_hdr *a, *b;
	uint32_t i, run = 0;

	v->blocks[0].run = 0;
	for (i = 1; i < v->nblocks; i++) {
		a = &v->blocks[i - 1].hdr;
		b = &v->blocks[i].hdr;
		if (b->block_no != a->block_no + 1) {
			v->blocks[i].run = ++run;
			continue;
		}
		v->blocks[i].run = run;
		if (memcmp(b->prev_hash, v->blocks[i - 1].hash,
		    CST_HASH_LEN) != 0)
			return (fail(v, CST_ECHAIN, "R-BND-6", "block", i,
			    v->blocks[i].off));
		if (b->first_seq != a->first_seq + a->record_count)
			return (fail(v, CST_ESEQ, "R-BND-6", "block", i,
			    v->blocks[i].off));
		if (b->segment_no != a->segment_no &&
		    (b->segment_no != a->segment_no + 1 ||
		    a->type != CST_BLOCK_SEAL))
			return (fail(v, CST_ECHAIN, "R-BND-6", "block", i,
			    v->blocks[i].off));
	}
	v->info->runs = run + 1;
	return (0);
}

/*
 * Checks record entry i at v->pos (R-BND-7..9) and, when rec is not NULL,
 * returns its decoded form and position.
 */
static int
check_record(struct vstate *v, uint32_t i, int64_t *prev_key,
    cst_record *rec, uint32_t *bi, uint32_t *leaf, size_t *roff,
    size_t *rlen)
{
	const uint8_t *e = v->buf + v->pos;
	const struct vblock *b;
	uint8_t lh[CST_HASH_LEN];
	size_t off = v->pos, used, plen;
	uint32_t len;
	int64_t key;
	int rc;

	if (!room(v, CST_BND_REC_HDR_LEN))
		return (fail(v, CST_ETRUNC, "R-BND-1", "record", i, off));
	*bi = cst_le_get32(e);
	*leaf = cst_le_get32(e + 4);
	len = cst_le_get32(e + 8);
	plen = e[12];
	if (e[13] != 0 || e[14] != 0 || e[15] != 0)
		return (fail(v, CST_ECORRUPT, "R-BND-7", "record", i, off));
	if (len == 0 || len > CST_MAX_RAW || plen > CST_MERKLE_MAX_DEPTH)
		return (fail(v, CST_ETOOBIG, "R-BND-1", "record", i, off));
	if (!room(v, CST_BND_REC_HDR_LEN + (size_t)len +
	    plen * CST_HASH_LEN))
		return (fail(v, CST_ETRUNC, "R-BND-1", "record", i, off));
	if (*bi >= v->nblocks)
		return (fail(v, CST_ECORRUPT, "R-BND-7", "record", i, off));
	b = &v->blocks[*bi];
	key = (int64_t)*bi << 32 | *leaf;
	if (key <= *prev_key || b->hdr.type != CST_BLOCK_DATA ||
	    *leaf >= b->hdr.record_count)
		return (fail(v, CST_ECORRUPT, "R-BND-7", "record", i, off));
	*prev_key = key;
	*roff = off + CST_BND_REC_HDR_LEN;
	*rlen = len;
	if ((rc = cst_record_decode(v->buf + *roff, len, rec, &used)) != 0 ||
	    used != len)
		return (fail(v, rc != 0 ? rc : CST_ECORRUPT, "R-BND-8",
		    "record", i, off));
	if (rec->seq != b->hdr.first_seq + *leaf ||
	    rec->recv_ns < b->hdr.min_time_ns ||
	    rec->recv_ns > b->hdr.max_time_ns)
		return (fail(v, CST_ESEQ, "R-BND-8", "record", i, off));
	if (plen != cst_bundle_path_len(*leaf, b->hdr.record_count))
		return (fail(v, CST_EHASH, "R-BND-9", "record", i, off));
	cst_merkle_leaf(v->buf + *roff, len, lh);
	if (cst_merkle_verify(lh, *leaf, b->hdr.record_count,
	    cst_hash_rows(v->buf + *roff + len), plen,
	    b->hdr.merkle_root) != 0)
		return (fail(v, CST_EHASH, "R-BND-9", "record", i, off));
	v->pos = *roff + len + plen * CST_HASH_LEN;
	return (0);
}

/* Index of the block entry with block_no n, or -1. */
static int64_t
find_block(const struct vstate *v, uint64_t n)
{
	uint32_t lo = 0, hi = v->nblocks, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (v->blocks[mid].hdr.block_no < n)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < v->nblocks && v->blocks[lo].hdr.block_no == n)
		return (lo);
	return (-1);
}

/*
 * Checks checkpoint entry i at v->pos (R-BND-10) into cp, which the
 * caller closes, and sets *anchor.
 */
static int
check_checkpoint(struct vstate *v, uint32_t i, const cst_root_pub *root,
    cst_checkpoint *cp, int64_t *anchor)
{
	const struct vblock *b;
	size_t off = v->pos;
	uint32_t len, j;
	int rc;

	*anchor = -1;
	if (!room(v, 4))
		return (fail(v, CST_ETRUNC, "R-BND-1", "checkpoint", i, off));
	len = cst_le_get32(v->buf + off);
	if (len == 0 || len > CST_BND_MAX_CKP_LEN)
		return (fail(v, CST_ETOOBIG, "R-BND-1", "checkpoint", i, off));
	if (!room(v, 4 + (size_t)len))
		return (fail(v, CST_ETRUNC, "R-BND-1", "checkpoint", i, off));
	if ((rc = cst_checkpoint_decode((const char *)v->buf + off + 4, len,
	    cp)) != 0)
		return (fail(v, rc, "R-BND-10", "checkpoint", i, off));
	if (memcmp(cp->chain_id, v->info->chain_id, CST_CHAIN_ID_LEN) != 0)
		return (fail(v, CST_EFOREIGN, "R-BND-10", "checkpoint", i,
		    off));
	if ((rc = cst_checkpoint_verify(cp, root)) != 0)
		return (fail(v, rc, "R-BND-10", "checkpoint", i, off));
	if (cp->blocks > 0 && (*anchor = find_block(v, cp->blocks - 1)) >= 0) {
		b = &v->blocks[*anchor];
		/* R-CKP-2 on the bundle's copy of the head block. */
		if (sodium_memcmp(b->hash, cp->head, CST_HASH_LEN) != 0)
			return (fail(v, CST_ECHAIN, "R-BND-10", "checkpoint",
			    i, off));
		if (b->hdr.first_seq + b->hdr.record_count != cp->records)
			return (fail(v, CST_ESEQ, "R-BND-10", "checkpoint",
			    i, off));
		for (j = 0; j < v->nblocks; j++)
			if (v->blocks[j].run == b->run)
				v->blocks[j].anchored |= CST_BND_CARRIED;
	}
	v->pos = off + 4 + len;
	return (0);
}

/*
 * Locates the length-prefixed entry of at most max bytes at v->pos
 * (R-BND-13) and moves past it.
 */
static int
take_text(struct vstate *v, uint32_t max, const char *part,
    const uint8_t **text, uint32_t *len)
{
	size_t off = v->pos;

	if (!room(v, 4))
		return (fail(v, CST_ETRUNC, "R-BND-13", part, -1, off));
	*len = cst_le_get32(v->buf + off);
	if (*len == 0 || *len > max)
		return (fail(v, CST_ETOOBIG, "R-BND-13", part, -1, off));
	if (!room(v, 4 + (size_t)*len))
		return (fail(v, CST_ETRUNC, "R-BND-13", part, -1, off));
	*text = v->buf + off + 4;
	v->pos = off + 4 + *len;
	return (0);
}

/*
 * R-BND-14 and R-BND-15: the log certificate, from the root, and the note
 * checkpoint, by the certified log key.  Sets the info's tree size, root
 * and note.
 */
static int
check_anchor(struct vstate *v, const cst_root_pub *root)
{
	cst_bundle_info *in = v->info;
	const uint8_t *text;
	cst_log_cert lc;
	uint32_t len;
	size_t off;
	int rc;

	off = v->pos;
	if ((rc = take_text(v, CST_BND_MAX_LOGCERT_LEN, "logcert", &text,
	    &len)) != 0)
		return (rc);
	/* The exact file, LF and all: R-TLOG-5's form. */
	if (text[len - 1] != '\n' || (rc = cst_log_cert_decode(
	    (const char *)text, len, &lc)) != 0)
		return (fail(v, CST_EPARSE, "R-BND-14", "logcert", -1, off));
	if ((rc = cst_log_cert_verify(&lc, root)) != 0)
		return (fail(v, rc, "R-BND-14", "logcert", -1, off));
	off = v->pos;
	if ((rc = take_text(v, CST_BND_MAX_TNOTE_LEN, "note_checkpoint", &text,
	    &len)) != 0)
		return (rc);
	if ((rc = cst_log_note_verify((const char *)text, len, &lc,
	    &in->tree_size, in->tree_root)) != 0)
		return (fail(v, rc, "R-BND-15", "note_checkpoint", -1, off));
	in->tnote = text;
	in->tnote_len = len;
	return (0);
}

/*
 * R-BND-16 for proof entry i at v->pos; R-BND-17 marks the blocks it
 * anchors.
 */
static int
check_proof(struct vstate *v, uint32_t i, uint64_t *prev)
{
	cst_bundle_info *in = v->info;
	const uint8_t *e = v->buf + v->pos;
	const struct vblock *b;
	uint8_t lh[CST_HASH_LEN];
	size_t off = v->pos, plen;
	uint64_t bno, size;
	int64_t bi;
	uint32_t j;

	if (!room(v, CST_BND_PROOF_HDR_LEN))
		return (fail(v, CST_ETRUNC, "R-BND-13", "proof", i, off));
	bno = cst_le_get64(e);
	size = cst_le_get64(e + 8);
	plen = e[16];
	in->block_no = (int64_t)(bno & INT64_MAX);
	if (plen > CST_MERKLE_MAX_DEPTH)
		return (fail(v, CST_ETOOBIG, "R-BND-13", "proof", i, off));
	if (!room(v, CST_BND_PROOF_HDR_LEN + plen * CST_HASH_LEN))
		return (fail(v, CST_ETRUNC, "R-BND-13", "proof", i, off));
	for (j = 17; j < CST_BND_PROOF_HDR_LEN; j++)
		if (e[j] != 0)
			return (fail(v, CST_ECORRUPT, "R-BND-16", "proof", i,
			    off));
	if ((i > 0 && bno <= *prev) || (bi = find_block(v, bno)) < 0)
		return (fail(v, CST_ECORRUPT, "R-BND-16", "proof", i, off));
	*prev = bno;
	if (size != in->tree_size || bno >= size ||
	    plen != cst_bundle_path_len(bno, size))
		return (fail(v, CST_EHASH, "R-BND-16", "proof", i, off));
	b = &v->blocks[bi];
	cst_tlog_leaf(b->hash, lh);
	if (cst_tlog_verify_inclusion(lh, bno, size,
	    cst_hash_rows(e + CST_BND_PROOF_HDR_LEN), plen,
	    in->tree_root) != 0)
		return (fail(v, CST_EHASH, "R-BND-16", "proof", i, off));
	/* R-BND-17: the hash chain ties the run's earlier blocks to it. */
	for (j = (uint32_t)bi + 1; j-- > 0 && v->blocks[j].run == b->run;)
		v->blocks[j].anchored |= CST_BND_NOTE;
	in->block_no = -1;
	v->pos = off + CST_BND_PROOF_HDR_LEN + plen * CST_HASH_LEN;
	return (0);
}

/*
 * R-BND-12: given checkpoint k (borrowed), held by the verifier's caller.
 * Every block at or below its head must be in the run that reaches the
 * head: only then does the hash chain tie the block to a chain that no
 * key stolen later could have rewritten.
 */
static int
check_given(struct vstate *v, size_t k, const cst_root_pub *root,
    const cst_checkpoint *cp)
{
	const struct vblock *b;
	int64_t hi;
	uint32_t i;
	int rc;

	if (memcmp(cp->chain_id, v->info->chain_id, CST_CHAIN_ID_LEN) != 0)
		return (fail(v, CST_EFOREIGN, "R-BND-12", "given",
		    (int64_t)k, 0));
	if ((rc = cst_checkpoint_verify(cp, root)) != 0)
		return (fail(v, rc, "R-BND-12", "given", (int64_t)k, 0));
	if (cp->blocks == 0)
		return (0);
	if ((hi = find_block(v, cp->blocks - 1)) >= 0) {
		b = &v->blocks[hi];
		if (sodium_memcmp(b->hash, cp->head, CST_HASH_LEN) != 0)
			return (fail(v, CST_ECHAIN, "R-BND-12", "block", hi,
			    b->off));
		if (b->hdr.first_seq + b->hdr.record_count != cp->records)
			return (fail(v, CST_ESEQ, "R-BND-12", "block", hi,
			    b->off));
	}
	for (i = 0; i < v->nblocks; i++) {
		if (v->blocks[i].hdr.block_no >= cp->blocks)
			break;
		if (hi < 0 || v->blocks[i].run != v->blocks[hi].run)
			return (fail(v, CST_ECHAIN, "R-BND-12", "block", i,
			    v->blocks[i].off));
		v->blocks[i].anchored |= CST_BND_GIVEN;
	}
	return (0);
}

/* The first pass: every rule, nothing shown. */
static int
verify_all(struct vstate *v, const cst_root_pub *root,
    const cst_checkpoint *given, size_t ngiven, size_t *rec_start,
    size_t *ckp_start)
{
	cst_bundle_info *in = v->info;
	cst_checkpoint cp;
	cst_record rec;
	uint32_t i, bi, leaf, max_epoch = 0, prev_run = UINT32_MAX;
	uint32_t prev_given = UINT32_MAX;
	uint64_t prev_proof = 0;
	size_t k;
	int64_t prev_key = -1, anchor;
	size_t roff, rlen;
	int rc;

	if ((rc = check_header(v, v->buf, v->end + CST_BND_TRAILER_LEN)) != 0)
		goto err0;
	if (memcmp(in->chain_id, root->chain_id, CST_CHAIN_ID_LEN) != 0) {
		rc = fail(v, CST_EFOREIGN, "R-BND-2", "header", -1, 16);
		goto err0;
	}
	if ((rc = check_certs(v, root)) != 0)
		goto err0;
	/* A block entry is at least BLK_ENTRY_MIN bytes: bound the array. */
	if (in->block_count > (v->end - v->pos) / BLK_ENTRY_MIN) {
		rc = fail(v, CST_ETRUNC, "R-BND-1", "block", -1, v->pos);
		goto err0;
	}
	if ((v->blocks = calloc(in->block_count, sizeof(*v->blocks))) ==
	    NULL) {
		rc = CST_ENOMEM;
		goto err0;
	}
	v->nblocks = in->block_count;
	for (i = 0; i < in->block_count; i++) {
		if (!room(v, CST_BLK_HDR_LEN)) {
			rc = fail(v, CST_ETRUNC, "R-BND-1", "block", i, v->pos);
			goto err0;
		}
		if ((rc = check_block(v, i, v->pos, &max_epoch)) != 0)
			goto err0;
	}
	if (max_epoch != in->cert_count) {
		rc = fail(v, CST_ECORRUPT, "R-BND-3", "cert", -1,
		    CST_BND_HDR_LEN + in->note_len);
		goto err0;
	}
	if ((rc = check_runs(v)) != 0)
		goto err0;
	*rec_start = v->pos;
	for (i = 0; i < in->record_count; i++)
		if ((rc = check_record(v, i, &prev_key, &rec, &bi, &leaf,
		    &roff, &rlen)) != 0)
			goto err0;
	*ckp_start = v->pos;
	for (i = 0; i < in->checkpoint_count; i++) {
		memset(&cp, 0, sizeof(cp));
		rc = check_checkpoint(v, i, root, &cp, &anchor);
		cst_checkpoint_close(&cp);
		if (rc != 0)
			goto err0;
	}
	if (in->version == 2) {
		if ((rc = check_anchor(v, root)) != 0)
			goto err0;
		for (i = 0; i < in->proof_count; i++)
			if ((rc = check_proof(v, i, &prev_proof)) != 0)
				goto err0;
	}
	if (v->pos != v->end) {
		rc = fail(v, CST_ECORRUPT, in->version == 2 ? "R-BND-13" :
		    "R-BND-1", "trailer", -1, v->pos);
		goto err0;
	}
	for (k = 0; k < ngiven; k++)
		if ((rc = check_given(v, k, root, &given[k])) != 0)
			goto err0;
	for (i = 0; i < v->nblocks; i++) {
		if ((v->blocks[i].anchored & CST_BND_CARRIED) &&
		    v->blocks[i].run != prev_run) {
			in->anchored_runs++;
			prev_run = v->blocks[i].run;
		}
		if (v->blocks[i].anchored & CST_BND_NOTE)
			in->note_blocks++;
		if ((v->blocks[i].anchored & CST_BND_GIVEN) &&
		    v->blocks[i].run != prev_given) {
			in->given_runs++;
			prev_given = v->blocks[i].run;
		}
	}
	return (0);

err0:
	return (rc);
}

/* The second pass: hands the verified entries to cb. */
static int
deliver(struct vstate *v, const cst_root_pub *root, const cst_bundle_cb *cb,
    void *arg, size_t rec_start, size_t ckp_start)
{
	cst_bundle_info *in = v->info;
	cst_checkpoint cp;
	cst_record rec;
	uint32_t i, bi, leaf;
	int64_t prev_key = -1, anchor;
	size_t roff, rlen;
	int rc;

	if (cb->note != NULL && in->version == 2 && (rc = cb->note(arg,
	    in->tnote, in->tnote_len, in->tree_size, in->tree_root)) != 0)
		goto err0;
	for (i = 0; cb->block != NULL && i < v->nblocks; i++)
		if ((rc = cb->block(arg, i, &v->blocks[i].hdr,
		    v->blocks[i].hash, v->blocks[i].run,
		    v->blocks[i].anchored)) != 0)
			goto err0;
	v->pos = rec_start;
	for (i = 0; cb->record != NULL && i < in->record_count; i++) {
		if ((rc = check_record(v, i, &prev_key, &rec, &bi, &leaf,
		    &roff, &rlen)) != 0)
			goto err0;
		if ((rc = cb->record(arg, bi, &v->blocks[bi].hdr, leaf, &rec,
		    v->buf + roff, rlen)) != 0)
			goto err0;
	}
	v->pos = ckp_start;
	for (i = 0; cb->checkpoint != NULL && i < in->checkpoint_count; i++) {
		memset(&cp, 0, sizeof(cp));
		if ((rc = check_checkpoint(v, i, root, &cp, &anchor)) == 0)
			rc = cb->checkpoint(arg, i, &cp, anchor);
		cst_checkpoint_close(&cp);
		if (rc != 0)
			goto err0;
	}
	return (0);

err0:
	return (rc);
}

int
cst_bundle_verify(const uint8_t *buf, size_t len, const cst_root_pub *root,
    const cst_bundle_cb *cb, void *arg, cst_bundle_info *info)
{

	return (cst_bundle_verify_given(buf, len, root, NULL, 0, cb, arg,
	    info));
}

int
cst_bundle_verify_given(const uint8_t *buf, size_t len,
    const cst_root_pub *root, const cst_checkpoint *given, size_t ngiven,
    const cst_bundle_cb *cb, void *arg, cst_bundle_info *info)
{
	cst_bundle_info dummy;
	struct vstate v;
	size_t rec_start = 0, ckp_start = 0;
	int rc;

	if (info == NULL)
		info = &dummy;
	memset(info, 0, sizeof(*info));
	info->entry = -1;
	info->block_no = -1;
	memset(&v, 0, sizeof(v));
	v.buf = buf;
	v.info = info;
	/* check_header sets the real end once len is known to be enough. */
	v.end = len < CST_BND_TRAILER_LEN ? 0 : len - CST_BND_TRAILER_LEN;
	if (len < CST_BND_HDR_LEN + CST_BND_TRAILER_LEN) {
		rc = fail(&v, CST_ETRUNC, "R-BND-1", "header", -1, 0);
		goto err1;
	}
	if ((rc = verify_all(&v, root, given, ngiven, &rec_start,
	    &ckp_start)) != 0)
		goto err1;
	if (cb != NULL && (rc = deliver(&v, root, cb, arg, rec_start,
	    ckp_start)) != 0)
		goto err1;
	free(v.blocks);
	free(v.certs);
	return (0);

err1:
	free(v.blocks);
	free(v.certs);
	return (rc);
}
