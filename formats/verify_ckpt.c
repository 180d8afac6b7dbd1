/*
 * Checkpoints given to the verifier after its run (SPEC section 8):
 * signature (R-CKP-1) and that the store extends them (R-CKP-2).
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "custody/checkpoint.h"
#include "custody/error.h"
#include "custody/hash.h"
#include "custody/segment.h"
#include "verify_int.h"

static void
hex32(const uint8_t *h, char out[2 * CST_HASH_LEN + 1])
{

	cst_hex(h, CST_HASH_LEN, out);
}

static const struct blkent *
find_block(const cst_verifier *v, uint64_t block_no)
{
	size_t lo = 0, hi = v->nblocks, mid;

	/* Authentic blocks are kept in increasing block_no. */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (v->blocks[mid].block_no < block_no)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < v->nblocks && v->blocks[lo].block_no == block_no)
		return (&v->blocks[lo]);
	return (NULL);
}

static int
ckp_add(cst_verifier *v, const char *path, cst_ckp_info **out)
{
	cst_ckp_info *n;
	char *p = NULL;

	if (path != NULL && (p = strdup(path)) == NULL)
		return (CST_ENOMEM);
	if ((n = realloc(v->ckps, (v->nckps + 1) * sizeof(*n))) == NULL)
		goto err0;
	v->ckps = n;
	if (cst_vrf_keep_strs(&v->ckp_strs, v->nckps, p, NULL) != 0)
		goto err0;
	*out = &n[v->nckps++];
	memset(*out, 0, sizeof(**out));
	(*out)->path = p;
	(*out)->why = "";
	return (0);

err0:
	free(p);
	return (CST_ENOMEM);
}

/* Reports checkpoint failure f (text detail, taken) and keeps its text. */
static void
ckp_fail(cst_verifier *v, cst_ckp_info *ci, size_t idx, struct fnd *f,
    char *detail)
{

	ci->ok = 0;
	if (detail != NULL) {
		free(v->ckp_strs[2 * idx + 1]);
		v->ckp_strs[2 * idx + 1] = strdup(detail);
		if (v->ckp_strs[2 * idx + 1] != NULL)
			ci->why = v->ckp_strs[2 * idx + 1];
	}
	cst_vrf_emit(v, f, detail);
}

/* cst_verifier_check_checkpoint, with how (CST_CKP_*). */
static int
check_ckp(cst_verifier *v, const cst_checkpoint *cp, const char *path,
    int how)
{
	char want[2 * CST_HASH_LEN + 1], got[2 * CST_HASH_LEN + 1];
	const struct blkent *b;
	cst_ckp_info *ci;
	struct fnd f;
	size_t idx;
	int rc;

	if (!v->ran)
		return (CST_EINVAL);
	if ((rc = ckp_add(v, path, &ci)) != 0)
		return (rc);
	idx = v->nckps - 1;
	ci->blocks = cp->blocks;
	ci->records = cp->records;
	memcpy(ci->head, cp->head, CST_HASH_LEN);
	ci->time_ns = cp->time_ns;
	ci->epoch = cp->epoch;
	ci->from_store = (how & CST_CKP_FROM_STORE) != 0;
	fnd_init(&f, CST_SEV_FAILURE, 0, "R-CKP-1");
	f.path = ci->path;

	/* R-CKP-1 */
	if ((rc = cst_checkpoint_verify(cp, &v->root)) == CST_ENOMEM)
		return (rc);
	if (rc != 0) {
		f.code = rc;
		ckp_fail(v, ci, idx, &f, rc == CST_EFOREIGN ? fmt("the "
		    "checkpoint belongs to another chain") : fmt("the "
		    "checkpoint's signature or key certificates do not verify "
		    "(%s): it is forged or altered", cst_strerror(rc)));
		return (v->rc);
	}

	/* R-CKP-2 */
	f.rule = "R-CKP-2";
	hex32(cp->head, want);
	if (cp->blocks == 0) {
		ci->ok = cp->records == 0;
		if (!ci->ok) {
			f.code = CST_ECORRUPT;
			ckp_fail(v, ci, idx, &f, fmt("the checkpoint names no "
			    "block but %" PRIu64 " records", cp->records));
		}
		return (v->rc);
	}
	f.b0 = f.b1 = cp->blocks - 1;
	if ((b = find_block(v, cp->blocks - 1)) == NULL) {
		if (!v->sum.has_head || v->sum.head_block_no < cp->blocks - 1) {
			f.code = CST_ETRUNC;
			/*
			 * A store being written may have grown past what was
			 * read, and a newer checkpoint been made since; not
			 * so when the checkpoint was read first (R-CKP-5).
			 */
			if (v->opts.live && !(how & CST_CKP_READ_FIRST)) {
				f.sev = CST_SEV_ERROR;
				ckp_fail(v, ci, idx, &f, fmt("the checkpoint "
				    "states the chain had %" PRIu64 " blocks; "
				    "the store, being written, was read up to "
				    "%" PRIu64 ": this cannot tell a truncation "
				    "from growth since the read; verify again "
				    "without --live once the collector has "
				    "stopped", cp->blocks, v->sum.has_head ?
				    v->sum.head_block_no + 1 : 0));
				return (v->rc);
			}
			ckp_fail(v, ci, idx, &f, v->sum.has_head ? fmt("the "
			    "checkpoint states the chain had %" PRIu64
			    " blocks and %" PRIu64 " records; the store ends "
			    "at block %" PRIu64 " (%" PRIu64 " records): its "
			    "newest data was removed or the store was rolled "
			    "back%s", cp->blocks, cp->records,
			    v->sum.head_block_no, v->sum.head_next_seq,
			    v->opts.live ? " (the checkpoint was read before "
			    "the store, so this is not growth since the read)"
			    : "") :
			    fmt("the checkpoint states the chain had %" PRIu64
			    " blocks; the store holds none that verifies",
			    cp->blocks));
		} else {
			f.code = CST_ENOENT;
			ckp_fail(v, ci, idx, &f, fmt("block %" PRIu64 ", the "
			    "checkpoint's head, is not among the blocks that "
			    "verify (lost or damaged)", cp->blocks - 1));
		}
		return (v->rc);
	}
	if (sodium_memcmp(b->hash, cp->head, CST_HASH_LEN) != 0) {
		hex32(b->hash, got);
		f.code = CST_ECHAIN;
		ckp_fail(v, ci, idx, &f, fmt("block %" PRIu64 " in the store "
		    "(hash %s) is not the checkpoint's head (hash %s): the "
		    "chain was altered or replaced after the checkpoint (a "
		    "rollback or fork)", cp->blocks - 1, got, want));
		return (v->rc);
	}
	if (b->next_seq != cp->records) {
		f.code = CST_ESEQ;
		ckp_fail(v, ci, idx, &f, fmt("the checkpoint counts %" PRIu64
		    " records up to block %" PRIu64 "; the store counts %"
		    PRIu64, cp->records, cp->blocks - 1, b->next_seq));
		return (v->rc);
	}
	ci->ok = 1;
	if (!v->sum.has_anchor || cp->blocks > v->sum.anchor_blocks) {
		v->sum.has_anchor = 1;
		v->sum.anchor_blocks = cp->blocks;
		v->sum.anchor_records = cp->records;
	}
	if (!ci->from_store && (!v->sum.has_given_anchor ||
	    cp->blocks > v->sum.given_anchor_blocks)) {
		v->sum.has_given_anchor = 1;
		v->sum.given_anchor_blocks = cp->blocks;
		v->sum.given_anchor_records = cp->records;
	}
	return (v->rc);
}

int
cst_verifier_check_checkpoint(cst_verifier *v, const cst_checkpoint *cp,
    const char *path)
{

	return (check_ckp(v, cp, path, 0));
}

int
cst_verifier_check_checkpoint_text(cst_verifier *v, const uint8_t *text,
    size_t len, const char *path, int how)
{
	cst_checkpoint cp;
	cst_ckp_info *ci;
	struct fnd f;
	int rc;

	if (!v->ran)
		return (CST_EINVAL);
	memset(&cp, 0, sizeof(cp));
	rc = cst_checkpoint_decode((const char *)text, len, &cp);
	if (rc == CST_ENOMEM)
		return (rc);
	if (rc != 0) {
		if ((rc = ckp_add(v, path, &ci)) != 0)
			return (rc);
		ci->from_store = (how & CST_CKP_FROM_STORE) != 0;
		fnd_init(&f, CST_SEV_FAILURE, CST_EPARSE, "R-CKP-1");
		f.path = ci->path;
		ckp_fail(v, ci, v->nckps - 1, &f, fmt("not a checkpoint in the "
		    "exact form of SPEC section 8: altered or not a "
		    "checkpoint"));
		return (v->rc);
	}
	rc = check_ckp(v, &cp, path, how);
	cst_checkpoint_close(&cp);
	return (rc);
}

int
cst_verifier_check_checkpoint_file(cst_verifier *v, const char *path,
    cst_digests *digests)
{
	struct fnd f;
	cst_map m;
	int rc;

	if (!v->ran)
		return (CST_EINVAL);
	fnd_init(&f, CST_SEV_ERROR, 0, "R-CKP-1");
	f.path = path;
	if ((rc = cst_map_open(path, &m)) != 0) {
		f.code = rc;
		report(v, &f, "cannot read the checkpoint file (%s)",
		    cst_strerror(rc));
		return (v->rc);
	}
	if (digests != NULL && (rc = cst_digests_compute(m.p, m.len,
	    digests)) != 0) {
		cst_map_close(&m);
		return (rc);
	}
	rc = cst_verifier_check_checkpoint_text(v, m.p, m.len, path, 0);
	cst_map_close(&m);
	return (rc);
}
