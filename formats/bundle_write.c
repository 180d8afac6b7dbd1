/*
 * Evidence bundles (SPEC section 11): the writer.  The layout is in
 * bundle_int.h; the verifier is in bundle_verify.c.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "custody/buf.h"
#include "custody/bundle.h"
#include "custody/error.h"
#include "custody/format.h"
#include "custody/hash.h"
#include "custody/keys.h"
#include "bundle_int.h"
#include "custody/le.h"

struct cst_bundle_writer {
	uint8_t chain_id[CST_CHAIN_ID_LEN];
	int64_t created_ns;
	cst_buf note;
	cst_cert *certs;
	uint32_t ncerts;
	cst_buf blocks;
	uint32_t nblocks;
	uint32_t max_epoch;
	int have_last;
	uint64_t last_block_no;
	uint16_t last_type;
	uint32_t last_count;
	int have_leaf;
	uint32_t last_leaf;
	cst_buf records;
	uint32_t nrecords;
	cst_buf ckps;
	uint32_t nckps;
	/* Version 2 (SPEC 11.4): the anchor and the proofs. */
	int have_anchor;
	uint64_t tree_size;
	cst_buf anchor;       /* log certificate entry || note entry */
	cst_buf proofs;
	uint32_t nproofs;
	int have_proof;
	uint64_t last_proof;
};

int
cst_bundle_writer_new(const uint8_t chain_id[CST_CHAIN_ID_LEN],
    int64_t created_ns, const char *note, size_t note_len,
    cst_bundle_writer **out)
{
	cst_bundle_writer *w;
	int rc;

	if (note_len > CST_BND_MAX_NOTE)
		return (CST_ETOOBIG);
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return (CST_ENOMEM);
	memcpy(w->chain_id, chain_id, CST_CHAIN_ID_LEN);
	w->created_ns = created_ns;
	cst_buf_init(&w->note);
	cst_buf_init(&w->blocks);
	cst_buf_init(&w->records);
	cst_buf_init(&w->ckps);
	cst_buf_init(&w->anchor);
	cst_buf_init(&w->proofs);
	if ((rc = cst_buf_append(&w->note, note, note_len)) != 0)
		goto err1;
	*out = w;
	return (0);

err1:
	cst_bundle_writer_free(w);
	return (rc);
}

void
cst_bundle_writer_free(cst_bundle_writer *w)
{

	if (w == NULL)
		return;
	cst_buf_close(&w->note);
	cst_buf_close(&w->blocks);
	cst_buf_close(&w->records);
	cst_buf_close(&w->ckps);
	cst_buf_close(&w->anchor);
	cst_buf_close(&w->proofs);
	free(w->certs);
	free(w);
}

int
cst_bundle_writer_certs(cst_bundle_writer *w, const cst_cert *certs,
    uint32_t n)
{
	cst_cert *c;
	uint32_t i;

	if (n == 0 || n > CST_BND_MAX_CERTS)
		return (CST_EINVAL);
	for (i = 0; i < n; i++)
		if (certs[i].epoch != i + 1)
			return (CST_EINVAL);
	if ((c = malloc(n * sizeof(*c))) == NULL)
		return (CST_ENOMEM);
	memcpy(c, certs, n * sizeof(*c));
	free(w->certs);
	w->certs = c;
	w->ncerts = n;
	return (0);
}

int
cst_bundle_writer_block(cst_bundle_writer *w, const cst_frame *f)
{
	const cst_blk_hdr *h = &f->hdr;
	int rc;

	if (memcmp(h->chain_id, w->chain_id, CST_CHAIN_ID_LEN) != 0)
		return (CST_EINVAL);
	/* R-BND-4: strictly increasing block numbers. */
	if (w->have_last && h->block_no <= w->last_block_no)
		return (CST_EINVAL);
	if (w->nblocks >= CST_BND_MAX_BLOCKS)
		return (CST_ETOOBIG);
	if ((rc = cst_buf_append(&w->blocks, f->hdr_bytes,
	    CST_BLK_HDR_LEN)) != 0)
		goto err0;
	if (h->cert_len > 0 &&
	    (rc = cst_buf_append(&w->blocks, f->cert, h->cert_len)) != 0)
		goto err0;
	if ((rc = cst_buf_append(&w->blocks, f->sig, CST_SIG_LEN)) != 0)
		goto err0;
	w->nblocks++;
	w->have_last = 1;
	w->last_block_no = h->block_no;
	w->last_type = h->type;
	w->last_count = h->record_count;
	w->have_leaf = 0;
	if (h->key_epoch > w->max_epoch)
		w->max_epoch = h->key_epoch;
	return (0);

err0:
	return (rc);
}

int
cst_bundle_writer_record(cst_bundle_writer *w, uint32_t leaf_index,
    const uint8_t *rec, size_t len, const uint8_t (*path)[CST_HASH_LEN],
    size_t path_len)
{
	uint8_t eh[CST_BND_REC_HDR_LEN];
	int rc;

	/* R-BND-7 order and R-BND-9 length, so finish never writes junk. */
	if (!w->have_last || w->last_type != CST_BLOCK_DATA ||
	    leaf_index >= w->last_count ||
	    (w->have_leaf && leaf_index <= w->last_leaf) ||
	    path_len != cst_bundle_path_len(leaf_index, w->last_count) ||
	    len == 0)
		return (CST_EINVAL);
	if (len > CST_MAX_RAW || w->nrecords >= CST_BND_MAX_RECORDS)
		return (CST_ETOOBIG);
	memset(eh, 0, sizeof(eh));
	cst_le_put32(eh, w->nblocks - 1);
	cst_le_put32(eh + 4, leaf_index);
	cst_le_put32(eh + 8, (uint32_t)len);
	eh[12] = (uint8_t)path_len;
	if ((rc = cst_buf_append(&w->records, eh, sizeof(eh))) != 0 ||
	    (rc = cst_buf_append(&w->records, rec, len)) != 0 ||
	    (path_len > 0 && (rc = cst_buf_append(&w->records, path,
	    path_len * CST_HASH_LEN)) != 0))
		goto err0;
	w->nrecords++;
	w->have_leaf = 1;
	w->last_leaf = leaf_index;
	return (0);

err0:
	return (rc);
}

int
cst_bundle_writer_checkpoint(cst_bundle_writer *w, const char *text,
    size_t len)
{
	uint8_t lb[4];
	int rc;

	if (len == 0 || len > CST_BND_MAX_CKP_LEN ||
	    w->nckps >= CST_BND_MAX_CHECKPOINTS)
		return (CST_ETOOBIG);
	cst_le_put32(lb, (uint32_t)len);
	if ((rc = cst_buf_append(&w->ckps, lb, 4)) != 0 ||
	    (rc = cst_buf_append(&w->ckps, text, len)) != 0)
		goto err0;
	w->nckps++;
	return (0);

err0:
	return (rc);
}

int
cst_bundle_writer_anchor(cst_bundle_writer *w, const char *logcert,
    size_t cert_len, const char *tnote, size_t tnote_len, uint64_t size)
{
	uint8_t lb[4];
	int rc;

	if (w->have_anchor || size == 0)
		return (CST_EINVAL);
	if (cert_len == 0 || cert_len > CST_BND_MAX_LOGCERT_LEN ||
	    tnote_len == 0 || tnote_len > CST_BND_MAX_TNOTE_LEN)
		return (CST_ETOOBIG);
	cst_le_put32(lb, (uint32_t)cert_len);
	if ((rc = cst_buf_append(&w->anchor, lb, 4)) != 0 ||
	    (rc = cst_buf_append(&w->anchor, logcert, cert_len)) != 0)
		goto err0;
	cst_le_put32(lb, (uint32_t)tnote_len);
	if ((rc = cst_buf_append(&w->anchor, lb, 4)) != 0 ||
	    (rc = cst_buf_append(&w->anchor, tnote, tnote_len)) != 0)
		goto err0;
	w->have_anchor = 1;
	w->tree_size = size;
	return (0);

err0:
	w->anchor.len = 0;
	return (rc);
}

int
cst_bundle_writer_proof(cst_bundle_writer *w, uint64_t block_no,
    const uint8_t (*path)[CST_HASH_LEN], size_t path_len)
{
	uint8_t ph[CST_BND_PROOF_HDR_LEN];
	size_t at = w->proofs.len;
	int rc;

	/* R-BND-16 order, range and length, so finish never writes junk. */
	if (!w->have_anchor || block_no >= w->tree_size ||
	    (w->have_proof && block_no <= w->last_proof) ||
	    !w->have_last || block_no > w->last_block_no ||
	    w->nproofs >= w->nblocks ||
	    path_len != cst_bundle_path_len(block_no, w->tree_size))
		return (CST_EINVAL);
	memset(ph, 0, sizeof(ph));
	cst_le_put64(ph, block_no);
	cst_le_put64(ph + 8, w->tree_size);
	ph[16] = (uint8_t)path_len;
	if ((rc = cst_buf_append(&w->proofs, ph, sizeof(ph))) != 0 ||
	    (path_len > 0 && (rc = cst_buf_append(&w->proofs, path,
	    path_len * CST_HASH_LEN)) != 0)) {
		w->proofs.len = at;
		return (rc);
	}
	w->nproofs++;
	w->have_proof = 1;
	w->last_proof = block_no;
	return (0);
}

int
cst_bundle_writer_finish(cst_bundle_writer *w, cst_buf *out,
    uint8_t digest[CST_HASH_LEN])
{
	uint8_t h[CST_BND_HDR_LEN], c[CST_CERT_LEN], trailer[CST_HASH_LEN];
	size_t start = out->len, total;
	uint32_t i;
	int rc;

	if (w->nblocks == 0 || w->max_epoch == 0 || w->max_epoch > w->ncerts)
		return (CST_EINVAL);
	total = CST_BND_HDR_LEN + w->note.len +
	    (size_t)w->max_epoch * CST_CERT_LEN + w->blocks.len +
	    w->records.len + w->ckps.len + CST_BND_TRAILER_LEN;
	/* R-BND-13: version 2 only with a proof; its parts only then. */
	if (w->nproofs > 0)
		total += w->anchor.len + w->proofs.len;
	if ((rc = cst_buf_reserve(out, total)) != 0)
		goto err0;
	memset(h, 0, sizeof(h));
	memcpy(h, bnd_magic, 8);
	h[8] = w->nproofs > 0 ? 2 : 1;
	h[10] = CST_BND_HDR_LEN;
	memcpy(h + 16, w->chain_id, CST_CHAIN_ID_LEN);
	cst_le_put64(h + 32, (uint64_t)w->created_ns);
	cst_le_put32(h + 40, (uint32_t)w->note.len);
	cst_le_put32(h + 44, w->max_epoch);
	cst_le_put32(h + 48, w->nblocks);
	cst_le_put32(h + 52, w->nrecords);
	cst_le_put32(h + 56, w->nckps);
	cst_le_put32(h + 60, w->nproofs);
	/* Reserved space was made above: these appends cannot fail. */
	(void)cst_buf_append(out, h, sizeof(h));
	if (w->note.len > 0)
		(void)cst_buf_append(out, w->note.p, w->note.len);
	for (i = 0; i < w->max_epoch; i++) {
		cst_cert_encode(&w->certs[i], c);
		(void)cst_buf_append(out, c, sizeof(c));
	}
	(void)cst_buf_append(out, w->blocks.p, w->blocks.len);
	if (w->records.len > 0)
		(void)cst_buf_append(out, w->records.p, w->records.len);
	if (w->ckps.len > 0)
		(void)cst_buf_append(out, w->ckps.p, w->ckps.len);
	if (w->nproofs > 0) {
		(void)cst_buf_append(out, w->anchor.p, w->anchor.len);
		(void)cst_buf_append(out, w->proofs.p, w->proofs.len);
	}
	cst_hash_domain(CST_D_BUNDLE, out->p + start, out->len - start,
	    trailer);
	(void)cst_buf_append(out, trailer, sizeof(trailer));
	if (digest != NULL)
		memcpy(digest, trailer, CST_HASH_LEN);
	return (0);

err0:
	return (rc);
}
