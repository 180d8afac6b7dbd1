/*
 * Chain verification (SPEC sections 3-9).
 *
 * Three stages, two of them on the calling thread:
 *
 *   placement  maps every file, decodes its header and orders the files
 *              of the chain by segment_no (R-SEG-2);
 *   scanner    walks each segment's bytes into frames, resynchronising
 *              after damage, and verifies key certificates as it meets
 *              them (they decide which key checks which block);
 *   consumer   takes the scanner's items back in order, once workers have
 *              checked each frame's signature and payload, and checks the
 *              chain: links, numbering, key epochs, seals, audit records.
 *
 * Between the scanner and the consumer sits a ring of items; worker
 * threads take frames from it in any order and mark them done, so the
 * expensive part (Ed25519, zstd, BLAKE2b over every record) runs on every
 * core while findings still come out in chain order.  A worker takes up
 * to CST_OPEN_MAX frames at a time and opens them together, so that the
 * blocks' payload and records hashes, one long serial hash each, share
 * SIMD lanes; with no workers the consumer does the same when the ring
 * is full.
 *
 * Authentic means: the frame's signature verifies with the key of its
 * epoch, that key certified from the root.  Only authentic headers move
 * the chain state; after a frame or region that is not authentic the
 * chain is "unanchored" and the next authentic block re-anchors it, so
 * one altered block is one failure, not a cascade.
 *
 * This file is the public run; each stage has a file of its own behind
 * the private header verify_int.h, which lists them.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "custody/error.h"
#include "custody/format.h"
#include "custody/keys.h"
#include "custody/segment.h"
#include "custody/verify.h"
#include "verify_int.h"

static const uint8_t zero_hash[CST_HASH_LEN];

cst_verifier *
cst_verifier_new(const cst_root_pub *root, const cst_verify_opts *opts,
    cst_finding_cb cb, void *ctx)
{
	cst_verifier *v;

	if (sodium_init() < 0)
		goto err0;
	if ((v = calloc(1, sizeof(*v))) == NULL)
		goto err0;
	v->root = *root;
	if (opts != NULL)
		v->opts = *opts;
	v->opts.quarantine_dir = NULL;
	if (opts != NULL && opts->quarantine_dir != NULL &&
	    (v->quarantine_dir = strdup(opts->quarantine_dir)) == NULL)
		goto err1;
	v->cb = cb;
	v->ctx = ctx;
	memcpy(v->sum.chain_id, root->chain_id, CST_CHAIN_ID_LEN);
	v->sum.first_seq = v->sum.last_seq = CST_NONE;
	return (v);

err1:
	free(v);
err0:
	return (NULL);
}

static void
free_strs(char **s, size_t n)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < n; i++)
		free(s[i]);
	free(s);
}

void
cst_verifier_free(cst_verifier *v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < v->nfiles; i++) {
		if (v->files[i].copy != NULL)
			free(v->files[i].copy);
		else if (v->files[i].mapped)
			cst_map_close(&v->files[i].map);
		free(v->files[i].path);
	}
	free(v->files);
	free(v->order);
	free(v->segs);
	free(v->epochs);
	free(v->blocks);
	free(v->recs);
	free_strs(v->recs_strs, 2 * v->nrecs);
	free(v->losses);
	free_strs(v->loss_strs, 2 * v->nlosses);
	free(v->unproven);
	free(v->ckps);
	free_strs(v->ckp_strs, 2 * v->nckps);
	free(v->notes);
	free_strs(v->note_strs, 2 * v->nnotes);
	free(v->pend.detail);
	free(v->quarantine_dir);
	free(v);
}

int
cst_verifier_run(cst_verifier *v, const char *const *paths, size_t n)
{
	pthread_t dt;
	int digesting = 0, rc;
	size_t i;

	if (v->ran)
		return (CST_EINVAL);
	v->ran = 1;
	if ((v->files = calloc(n + 1, sizeof(*v->files))) == NULL)
		return (CST_ENOMEM);
	for (i = 0; i < n; i++) {
		if ((v->files[i].path = strdup(paths[i])) == NULL)
			return (CST_ENOMEM);
		v->nfiles++;
	}
	for (i = 0; i < n; i++)
		cst_vrf_place_file(v, i);
	if ((rc = cst_vrf_place_all(v)) != 0)
		return (rc);
	if (v->opts.live && v->norder > 0 &&
	    v->files[v->order[v->norder - 1]].mapped) {
		struct vfile *nf = &v->files[v->order[v->norder - 1]];

		if ((rc = cst_vrf_copy_file(nf)) == CST_ENOMEM)
			return (rc);
		v->segs[nf->info].size = nf->map.len;
	}
	for (i = 0; i < v->norder; i++)
		v->total_bytes += v->files[v->order[i]].map.len;
	v->sum.bytes = v->total_bytes;

	if (v->opts.digests &&
	    pthread_create(&dt, NULL, cst_vrf_digest_main, v) == 0)
		digesting = 1;

	/* The start of the chain: block 0, seq 0, no previous hash. */
	v->cs.anchored = 1;
	v->cs.epoch_known = 1;
	memcpy(v->cs.prev_hash, zero_hash, CST_HASH_LEN);

	cst_vrf_report_unplaced(v);
	if ((rc = cst_vrf_start_threads(v)) == 0) {
		cst_vrf_walk(v);
		while (v->head < v->tail)
			cst_vrf_consume_one(v);
	}
	cst_vrf_stop_threads(v);
	cst_vrf_flush_pending(v);
	if (rc == 0) {
		cst_vrf_report_quarantine(v);
		cst_vrf_report_epochs(v);
	}
	cst_vrf_flush_pending(v);
	if (digesting)
		pthread_join(dt, NULL);
	cst_vrf_report_changed(v);
	cst_vrf_flush_pending(v);
	cst_vrf_progress(v, v->total_bytes);
	if (rc != 0)
		return (rc);
	return (v->rc);
}

const cst_verify_summary *
cst_verifier_summary(const cst_verifier *v)
{

	return (&v->sum);
}

const cst_seg_info *
cst_verifier_segments(const cst_verifier *v, size_t *n)
{

	*n = v->nsegs;
	return (v->segs);
}

const cst_epoch_info *
cst_verifier_epochs(const cst_verifier *v, size_t *n)
{

	*n = v->nepochs;
	return (v->epochs);
}

const cst_recovery_info *
cst_verifier_recoveries(const cst_verifier *v, size_t *n)
{

	*n = v->nrecs;
	return (v->recs);
}

const cst_loss_info *
cst_verifier_losses(const cst_verifier *v, size_t *n)
{

	*n = v->nlosses;
	return (v->losses);
}

const cst_unproven *
cst_verifier_unproven(const cst_verifier *v, size_t *n)
{

	*n = v->nunproven;
	return (v->unproven);
}

const cst_ckp_info *
cst_verifier_checkpoints(const cst_verifier *v, size_t *n)
{

	*n = v->nckps;
	return (v->ckps);
}
