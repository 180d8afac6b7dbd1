/*
 * The scanner: walks each chain segment in order into frames with the
 * one frame walker (formats/frame.c), resynchronising after damage (SPEC
 * section 7), and queues frames and findings on the ring in file order.
 * It verifies key certificates as it meets them (R-KEY-1): they decide
 * which key checks each block, and which frames are authentic when
 * resynchronising.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "custody/block.h"
#include "custody/error.h"
#include "custody/format.h"
#include "custody/frame.h"
#include "custody/hash.h"
#include "custody/keys.h"
#include "custody/segment.h"
#include "verify_int.h"

/*
 * R-KEY-1 for the certificate of the frame at (vf, off): decodes it and
 * verifies it with the root key or the key of the epoch before, adding
 * its key to the table when it is the next epoch.  Returns 0 or the
 * failure: CST_ENOENT when the signing epoch's key is not known, CST_EKEY
 * when the epoch is known with another key.
 */
static int
cert_check(cst_verifier *v, const cst_frame *f, const struct vfile *vf,
    uint64_t off, cst_cert *c)
{
	const uint8_t *signer;
	cst_epoch_info *ep, *n;
	int rc;

	if ((rc = cst_cert_decode(f->cert, CST_CERT_LEN, c)) != 0)
		return (rc);
	if (c->signer_epoch == 0)
		signer = v->root.pk;
	else if ((ep = epoch_get(v, c->signer_epoch)) != NULL)
		signer = ep->pk;
	else
		return (CST_ENOENT);
	if ((rc = cst_cert_verify(c, v->root.chain_id, signer)) != 0)
		return (rc);
	if ((ep = epoch_get(v, c->epoch)) != NULL)
		return (sodium_memcmp(ep->pk, c->public_key,
		    CST_PK_LEN) == 0 ? 0 : CST_EKEY);
	/* Only the next epoch can be certified by a known key. */
	if ((n = realloc(v->epochs, (v->nepochs + 1) * sizeof(*n))) == NULL)
		return (CST_ENOMEM);
	v->epochs = n;
	ep = &n[v->nepochs++];
	memset(ep, 0, sizeof(*ep));
	ep->epoch = c->epoch;
	memcpy(ep->pk, c->public_key, CST_PK_LEN);
	cst_key_fingerprint_hex(c->public_key, ep->fpr);
	ep->valid_from = c->valid_from;
	ep->created_ns = c->created_ns;
	ep->file = vf->path;
	ep->offset = off;
	return (0);
}

/*
 * Whether the frame at p[0..len) is a frame of this chain whose
 * signature verifies with a known key (or a key its own certificate
 * brings): the strict test for resynchronising where a planted fake
 * frame would otherwise be taken for a real one.
 */
static int
frame_authentic(cst_verifier *v, const cst_frame *f)
{
	const uint8_t *signer, *pk;
	cst_epoch_info *ep;
	cst_cert c;

	if (memcmp(f->hdr.chain_id, v->root.chain_id, CST_CHAIN_ID_LEN) != 0)
		return (0);
	if ((ep = epoch_get(v, f->hdr.key_epoch)) != NULL) {
		pk = ep->pk;
	} else {
		if (f->cert == NULL ||
		    cst_cert_decode(f->cert, CST_CERT_LEN, &c) != 0 ||
		    c.epoch != f->hdr.key_epoch)
			return (0);
		if (c.signer_epoch == 0)
			signer = v->root.pk;
		else if ((ep = epoch_get(v, c.signer_epoch)) != NULL)
			signer = ep->pk;
		else
			return (0);
		if (cst_cert_verify(&c, v->root.chain_id, signer) != 0)
			return (0);
		pk = c.public_key;
	}
	return (cst_frame_verify_sig(f, pk) == 0);
}

/* Queues a finding (text detail, taken) in chain order. */
static void
queue_finding(cst_verifier *v, size_t file, const struct fnd *f, char *detail)
{
	struct item *it;

	if (detail == NULL) {
		v->rc = CST_ENOMEM;
		return;
	}
	it = cst_vrf_item_new(v, IT_FINDING, file, f->off);
	it->fnd = *f;
	it->detail = detail;
	cst_vrf_item_push(v, it);
}

static void
push_frame(cst_verifier *v, size_t file, uint64_t off, const cst_frame *fr)
{
	struct vfile *vf = &v->files[file];
	cst_epoch_info *ep;
	struct item *it;
	int rc;

	it = cst_vrf_item_new(v, IT_FRAME, file, off);
	it->f = *fr;
	it->cert_rc = 1;
	if (fr->cert != NULL) {
		rc = cert_check(v, fr, vf, off, &it->cert);
		if (rc == CST_ENOMEM)
			v->rc = rc;
		it->cert_rc = rc;
	}
	if (memcmp(fr->hdr.chain_id, v->root.chain_id, CST_CHAIN_ID_LEN) == 0 &&
	    (ep = epoch_get(v, fr->hdr.key_epoch)) != NULL) {
		it->has_pk = 1;
		memcpy(it->pk, ep->pk, CST_PK_LEN);
	}
	cst_vrf_item_push(v, it);
}

/*
 * The verifier's resynchronisation policy (R-VER-1): a candidate before
 * pos lies inside a frame already taken, whose length may have been
 * altered, so it must be authentic; from pos on, any candidate frame of
 * this chain will do, the damage being reported anyway.  Not even after
 * a frame that runs past the end of the file is authenticity asked for:
 * the key of the frames after it may be in the very certificate whose
 * frame was damaged (R-SEG-8).
 */
static int
resync_accept(void *arg, const cst_frame *f, uint64_t off, uint64_t pos)
{

	return (off >= pos || frame_authentic(arg, f));
}

/* Walks the frames of the chain file index fi. */
static void
scan_file(cst_verifier *v, size_t fi)
{
	struct vfile *vf = &v->files[fi];
	const uint8_t *p = vf->map.p;
	uint64_t len = vf->map.len, pos, q, from;
	int last_seal = 0, rc;
	cst_resync rs = { CST_RESYNC_SKIP, v->root.chain_id, resync_accept,
	    v };
	cst_frame_walk w;
	struct item *it;
	cst_frame f;
	struct fnd fd;

	/* One file at a time: a store may be larger than memory. */
	if (vf->copy == NULL)
		cst_map_will_read(&vf->map);
	cst_frame_walk_init(&w, p, vf->map.len, CST_SEG_HDR_LEN, &rs);
	w.data = vf->map.data;
	w.ndata = vf->map.ndata;
	while (w.pos < len) {
		pos = w.pos;
		rc = cst_frame_walk_next(&w, &f);
		if (rc == 0) {
			push_frame(v, fi, pos, &f);
			last_seal = f.hdr.type == CST_BLOCK_SEAL;
			continue;
		}
		from = w.last == UINT64_MAX ? CST_SEG_HDR_LEN : w.last + 1;
		fnd_init(&fd, CST_SEV_FAILURE, rc, cst_frame_rule(rc));
		fnd_file(&fd, vf, pos);
		fd.damage = 1;
		if (rc == CST_ETRUNC) {
			/*
			 * A frame that does not fit: the tail a writer is
			 * appending only when no candidate frame follows
			 * (R-SEG-8).
			 */
			if (cst_blk_hdr_decode(p + pos, len - pos, &f.hdr) == 0)
				fnd_block(&fd, &f.hdr);
			q = cst_frame_resync(&w, pos + 1, pos + 1);
			if (q == CST_NONE) {
				if (last_seal) {
					fd.rule = "R-SEG-4";
					queue_finding(v, fi, &fd, fmt("%" PRIu64
					    " bytes follow the seal block",
					    len - pos));
				} else if (cst_frame_looks_partial(p + pos,
				    len - pos)) {
					it = cst_vrf_item_new(v, IT_SEG_END, fi,
					    0);
					it->tail_off = pos;
					it->tail_len = len - pos;
					it->has_hdr = fd.b0 != CST_NONE;
					it->f.hdr = f.hdr;
					cst_vrf_item_push(v, it);
					return;
				} else {
					queue_finding(v, fi, &fd, fmt("%" PRIu64
					    " bytes at the end are not a frame",
					    len - pos));
				}
				break;
			}
			queue_finding(v, fi, &fd, fmt("the frame at offset %"
			    PRIu64 " claims a length that runs past the next "
			    "frame at offset %" PRIu64 " (%" PRIu64 " bytes "
			    "not verified)", pos, q, q - pos));
			w.pos = q;
			continue;
		}
		q = cst_frame_resync(&w, from, pos);
		if (q == CST_NONE) {
			if (last_seal)
				fd.rule = "R-SEG-4";
			queue_finding(v, fi, &fd, last_seal ? fmt("%" PRIu64
			    " bytes follow the seal block", len - pos) :
			    fmt("%" PRIu64 " bytes from here to the end of the "
			    "file are not a frame (%s)", len - pos,
			    cst_strerror(rc)));
			break;
		}
		if (q > pos) {
			if (last_seal)
				fd.rule = "R-SEG-4";
			queue_finding(v, fi, &fd, fmt("%" PRIu64 " bytes are "
			    "not a frame (%s); the next frame is at offset %"
			    PRIu64, q - pos, cst_strerror(rc), q));
		}
		/* q < pos: the frame taken last was longer than it said. */
		w.pos = q;
	}
	it = cst_vrf_item_new(v, IT_SEG_END, fi, 0);
	cst_vrf_item_push(v, it);
}

/* Walks the chain's segments in order. */
void
cst_vrf_walk(cst_verifier *v)
{
	struct vfile *vf;
	struct item *it;
	struct fnd f;
	size_t i, fi;

	for (i = 0; i < v->norder; i++) {
		fi = v->order[i];
		vf = &v->files[fi];
		if (vf->missing_from != CST_NONE) {
			fnd_init(&f, CST_SEV_FAILURE, CST_ENOENT, "R-SEG-2");
			f.segno = vf->missing_from;
			queue_finding(v, fi, &f, vf->missing_from ==
			    vf->missing_to ? fmt("segment %" PRIu64 " is "
			    "missing", vf->missing_from) : fmt("segments %"
			    PRIu64 "..%" PRIu64 " are missing",
			    vf->missing_from, vf->missing_to));
		}
		it = cst_vrf_item_new(v, IT_SEG_BEGIN, fi, 0);
		cst_vrf_item_push(v, it);

		/* R-SEG-1 */
		fnd_init(&f, CST_SEV_FAILURE, vf->hdr_rc, "R-SEG-1");
		fnd_file(&f, vf, 0);
		if (!vf->mapped) {
			f.sev = CST_SEV_ERROR;
			f.damage = f.io = 1;
			queue_finding(v, fi, &f, fmt("cannot read the file (%s): "
			    "nothing in this segment is verified",
			    cst_strerror(vf->hdr_rc)));
			it = cst_vrf_item_new(v, IT_SEG_END, fi, 0);
			cst_vrf_item_push(v, it);
			continue;
		}
		/*
		 * Even the newest: a writer renames a segment into place only
		 * once its header is written (R-SEG-6).
		 */
		if (vf->hdr_rc == CST_ETRUNC) {
			f.damage = 1;
			queue_finding(v, fi, &f, fmt("the file is shorter than "
			    "a segment header (%zu bytes)", vf->map.len));
		} else if (vf->hdr_rc != 0) {
			queue_finding(v, fi, &f, fmt("the segment header is "
			    "invalid (%s): altered or damaged",
			    cst_strerror(vf->hdr_rc)));
		}
		scan_file(v, fi);
	}
}
