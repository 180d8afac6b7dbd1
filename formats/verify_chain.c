/*
 * The consumer's checks of the chain: key certificates (R-KEY-1), the
 * authenticity of each frame (R-BLK-3, R-BLK-4), links and numbering
 * (R-BLK-6, R-BLK-7), key epochs (R-KEY-2), segment headers and seals
 * (R-SEG-3, R-SEG-4, R-SEG-5).
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "custody/block.h"
#include "custody/error.h"
#include "custody/format.h"
#include "custody/hash.h"
#include "custody/keys.h"
#include "custody/record.h"
#include "verify_int.h"

/*
 * Adds blocks b0..b1, seqs s0..s1 (CST_NONE: not known) to the ranges
 * not proven, for the reason why (static); the list stops growing at
 * CST_VERIFY_LIST_MAX.
 */
static void
add_unproven(cst_verifier *v, uint64_t b0, uint64_t b1, uint64_t s0,
    uint64_t s1, const char *why)
{
	cst_unproven *u, *n;

	/* Extends the last range when this one continues it. */
	if (v->nunproven > 0) {
		u = &v->unproven[v->nunproven - 1];
		if (u->why == why && u->block_last != CST_NONE &&
		    b0 != CST_NONE && u->block_last + 1 == b0) {
			u->block_last = b1;
			if (s1 != CST_NONE)
				u->seq_last = s1;
			if (u->seq_first == CST_NONE)
				u->seq_first = s0;
			return;
		}
	}
	if (v->nunproven >= CST_VERIFY_LIST_MAX)
		return;
	if ((n = realloc(v->unproven, (v->nunproven + 1) * sizeof(*n))) ==
	    NULL) {
		v->rc = CST_ENOMEM;
		return;
	}
	v->unproven = n;
	u = &n[v->nunproven++];
	u->block_first = b0;
	u->block_last = b1;
	u->seq_first = s0;
	u->seq_last = s1;
	u->why = why;
}

/*
 * The chain loses its anchor: frames is how many block positions the
 * damage can account for (0 for a missing segment, whose extent is not
 * known); io says it is an unreadable input, not tampering.
 */
static void
damage(cst_verifier *v, int io, uint64_t frames)
{
	struct chain *cs = &v->cs;

	if (cs->anchored) {
		cs->anchored = 0;
		cs->damaged = 0;
		cs->damage_io = 1;
	}
	cs->damaged += frames;
	if (!io)
		cs->damage_io = 0;
	cs->seg_last_bad = 1;
	v->sum.blocks_bad += frames;
}

void
cst_vrf_progress(cst_verifier *v, uint64_t done)
{

	v->done_bytes = done;
	if (v->opts.progress == NULL)
		return;
	/* About every 1/256th: a terminal needs no more. */
	if (done != v->total_bytes &&
	    done - v->last_progress < v->total_bytes / 256 + 1)
		return;
	v->last_progress = done;
	v->opts.progress(done, v->total_bytes, v->opts.progress_ctx);
}

static int
add_block(cst_verifier *v, const cst_frame *f)
{
	struct blkent *n, *b;
	size_t cap;

	if (v->nblocks == v->capblocks) {
		cap = v->capblocks == 0 ? 1024 : v->capblocks * 2;
		if ((n = realloc(v->blocks, cap * sizeof(*n))) == NULL)
			return (CST_ENOMEM);
		v->blocks = n;
		v->capblocks = cap;
	}
	b = &v->blocks[v->nblocks++];
	b->block_no = f->hdr.block_no;
	b->next_seq = f->hdr.first_seq + f->hdr.record_count;
	memcpy(b->hash, f->block_hash, CST_HASH_LEN);
	return (0);
}

/*
 * R-KEY-2 for an authentic block h (with certificate c when it carries
 * one) after the chain state cs; linked says whether cs is the block
 * right before it.
 */
static void
check_epochs(cst_verifier *v, const struct item *it, int linked)
{
	const cst_blk_hdr *h = &it->f.hdr;
	const struct vfile *vf = &v->files[it->file];
	struct chain *cs = &v->cs;
	cst_epoch_info *ep, *next;
	struct fnd f;
	int has_cert = it->f.cert != NULL;

	fnd_init(&f, CST_SEV_FAILURE, CST_EKEY, "R-KEY-2");
	fnd_file(&f, vf, it->off);
	fnd_block(&f, h);
	if (linked && cs->epoch_known) {
		if (h->block_no == 0 || h->key_epoch != cs->epoch) {
			if (!has_cert)
				report(v, &f, "key epoch changes from %" PRIu32
				    " to %" PRIu32 " without a certificate",
				    cs->epoch, h->key_epoch);
			else if (h->key_epoch != cs->epoch + 1)
				report(v, &f, "key epoch goes from %" PRIu32
				    " to %" PRIu32 "; it may only step by one",
				    cs->epoch, h->key_epoch);
		} else if (has_cert) {
			report(v, &f, "block carries a certificate but its key "
			    "epoch (%" PRIu32 ") does not change",
			    h->key_epoch);
		}
	}
	if (has_cert && it->cert_rc == 0 && (it->cert.epoch != h->key_epoch ||
	    it->cert.valid_from != h->block_no))
		report(v, &f, "the certificate it carries is for epoch %"
		    PRIu32 " from block %" PRIu64 ", not for this block",
		    it->cert.epoch, it->cert.valid_from);
	/* An epoch key signs only its own range of blocks. */
	if ((ep = epoch_get(v, h->key_epoch)) != NULL) {
		next = epoch_get(v, h->key_epoch + 1);
		if (h->block_no < ep->valid_from)
			report(v, &f, "signed by epoch %" PRIu32 ", whose key "
			    "is valid only from block %" PRIu64, h->key_epoch,
			    ep->valid_from);
		else if (next != NULL && h->block_no >= next->valid_from)
			report(v, &f, "signed by epoch %" PRIu32 " after "
			    "epoch %" PRIu32 " began at block %" PRIu64,
			    h->key_epoch, h->key_epoch + 1,
			    next->valid_from);
		if (ep->blocks == 0 || h->sealed_ns < ep->first_ns)
			ep->first_ns = h->sealed_ns;
		if (ep->blocks == 0 || h->sealed_ns > ep->last_ns)
			ep->last_ns = h->sealed_ns;
		ep->blocks++;
	}
}

void
cst_vrf_report_epochs(cst_verifier *v)
{
	const cst_epoch_info *ep;
	struct fnd f;
	size_t i;

	for (i = 0; i < v->nepochs; i++) {
		ep = &v->epochs[i];
		/* Unsigned: sealed_ns is the writer's clock, unchecked. */
		if (ep->blocks < 2 || ep->last_ns <= ep->first_ns ||
		    (uint64_t)ep->last_ns - (uint64_t)ep->first_ns <=
		    (uint64_t)CST_EPOCH_SPAN_WARN_NS)
			continue;
		fnd_init(&f, CST_SEV_WARNING, CST_EKEY, "R-KEY-4");
		f.b0 = ep->valid_from;
		report(v, &f, "key epoch %" PRIu32 " signed %" PRIu64 " blocks "
		    "sealed over %" PRIu64 " minutes, more than %d: anyone who "
		    "stole that key while it was in use could have re-signed "
		    "all of them (forward security reaches back to the start "
		    "of an epoch)", ep->epoch, ep->blocks,
		    ((uint64_t)ep->last_ns - (uint64_t)ep->first_ns) /
		    (60 * UINT64_C(1000000000)),
		    (int)(CST_EPOCH_SPAN_WARN_NS / (60 * INT64_C(1000000000))));
	}
}

/* R-SEG-3: the unsigned header must say what the first block says. */
static void
check_header(cst_verifier *v, const struct item *it)
{
	const struct vfile *vf = &v->files[it->file];
	const cst_blk_hdr *h = &it->f.hdr;
	const cst_seg_hdr *s = &vf->hdr;
	struct fnd f;

	if (vf->hdr_rc != 0)
		return;
	fnd_init(&f, CST_SEV_FAILURE, CST_ECHAIN, "R-SEG-3");
	fnd_file(&f, vf, 0);
	if (memcmp(s->chain_id, h->chain_id, CST_CHAIN_ID_LEN) != 0) {
		f.code = CST_EFOREIGN;
		report(v, &f, "the segment header names another chain than "
		    "its blocks");
	} else if (s->segment_no != h->segment_no ||
	    s->first_block_no != h->block_no || s->first_seq != h->first_seq ||
	    memcmp(s->prev_hash, h->prev_hash, CST_HASH_LEN) != 0) {
		report(v, &f, "the segment header (segment %" PRIu64 ", first "
		    "block %" PRIu64 ", first seq %" PRIu64 ") does not match "
		    "its first block (segment %" PRIu64 ", block %" PRIu64
		    ", seq %" PRIu64 ")", s->segment_no, s->first_block_no,
		    s->first_seq, h->segment_no, h->block_no, h->first_seq);
	}
}

/* The sequence numbers between from and to (exclusive), if any. */
static void
seq_gap(struct fnd *f, uint64_t from, uint64_t to)
{

	if (to > from) {
		f->s0 = from;
		f->s1 = to - 1;
	} else {
		f->s0 = f->s1 = CST_NONE;
	}
}

/*
 * The chain links of authentic block it (R-BLK-6, R-BLK-7).  Returns 1
 * when the block takes its place in the chain, 0 for a block that repeats
 * or goes back (a replay), which is reported and set aside.
 */
static int
check_links(cst_verifier *v, const struct item *it, int *linked)
{
	const struct vfile *vf = &v->files[it->file];
	const cst_blk_hdr *h = &it->f.hdr;
	struct chain *cs = &v->cs;
	uint64_t lost;
	struct fnd f;
	int sev, gap_here;

	*linked = 0;
	fnd_init(&f, CST_SEV_FAILURE, CST_ECHAIN, "R-BLK-6");
	fnd_file(&f, vf, it->off);
	fnd_block(&f, h);
	/* Blocks lost before a segment's first frame: a gap, not damage here. */
	gap_here = cs->seg_items == 1;

	if (h->segment_no != vf->segno) {
		f.coal = COAL_BLOCKS;
		report(v, &f, "the block says it is in segment %" PRIu64
		    ", but its file is segment %" PRIu64, h->segment_no,
		    vf->segno);
		f.coal = COAL_NONE;
	}

	if (h->block_no < cs->next_block) {
		f.code = CST_ESEQ;
		f.coal = COAL_BLOCKS;
		report(v, &f, "block appears again or out of order: the chain "
		    "is already at block %" PRIu64 " (a replayed, duplicated "
		    "or reordered block)", cs->next_block);
		return (0);
	}
	lost = h->block_no - cs->next_block;
	if (cs->anchored || lost == 0) {
		if (lost > 0) {
			f.code = CST_ESEQ;
			f.gap = gap_here;
			f.b0 = cs->next_block;
			f.b1 = h->block_no - 1;
			seq_gap(&f, cs->next_seq, h->first_seq);
			report(v, &f, "blocks %" PRIu64 "..%" PRIu64 " are "
			    "missing before block %" PRIu64 " (deleted, or "
			    "the chain was cut)", cs->next_block,
			    h->block_no - 1, h->block_no);
			add_unproven(v, f.b0, f.b1, f.s0, f.s1, "missing");
			cs->seg_gap = 1;
			return (1);
		}
		if (sodium_memcmp(h->prev_hash, cs->prev_hash,
		    CST_HASH_LEN) != 0) {
			if (cs->anchored)
				report(v, &f, "block %" PRIu64 " does not link "
				    "to block %" PRIu64 " before it (prev_hash "
				    "differs: a block was replaced, or the "
				    "chain forked)", h->block_no,
				    h->block_no - 1);
			return (1);
		}
		if (h->first_seq != cs->next_seq) {
			f.rule = "R-BLK-7";
			f.code = CST_ESEQ;
			report(v, &f, "block %" PRIu64 " starts at seq %" PRIu64
			    "; the block before it ends before seq %" PRIu64,
			    h->block_no, h->first_seq, cs->next_seq);
		}
		*linked = 1;
		return (1);
	}
	/* Unanchored: the damaged frames may account for the gap. */
	f.b0 = cs->next_block;
	f.b1 = h->block_no - 1;
	seq_gap(&f, cs->next_seq, h->first_seq);
	if (lost > cs->damaged) {
		sev = cs->damage_io ? CST_SEV_ERROR : CST_SEV_FAILURE;
		f.sev = sev;
		f.code = CST_ESEQ;
		f.gap = gap_here;
		report(v, &f, "the chain resumes at block %" PRIu64 ": blocks %"
		    PRIu64 "..%" PRIu64 " are missing or destroyed",
		    h->block_no, cs->next_block, h->block_no - 1);
	}
	add_unproven(v, f.b0, f.b1, f.s0, f.s1, cs->damage_io ?
	    "unreadable" : "damaged or missing");
	cs->seg_gap = 1;
	return (1);
}

/*
 * Whether frame item it is set aside before its header can be trusted:
 * not checked for want of memory, after its segment's seal (R-SEG-4), of
 * another chain (R-BLK-6), or not authentic (R-KEY-1, R-BLK-3); each is
 * reported with f, which the caller goes on using otherwise.
 */
static int
frame_rejected(cst_verifier *v, const struct item *it, struct fnd *f)
{
	const struct vfile *vf = &v->files[it->file];
	const cst_blk_hdr *h = &it->f.hdr;
	struct chain *cs = &v->cs;
	char hex[2 * CST_CHAIN_ID_LEN + 1];

	if (it->work_rc != 0) {
		/* Not checked for want of memory: unproven, not altered. */
		v->rc = it->work_rc;
		f->sev = CST_SEV_ERROR;
		f->code = it->work_rc;
		report(v, f, "out of memory checking this block");
		damage(v, 1, 1);
		return (1);
	}

	/* R-SEG-4: an authentic seal ends its segment. */
	if (cs->seg_sealed) {
		f->coal = COAL_FILE;
		report(v, f, "frames follow the seal block of segment %" PRIu64,
		    vf->segno);
		return (1);
	}
	if (memcmp(h->chain_id, v->root.chain_id, CST_CHAIN_ID_LEN) != 0) {
		cst_hex(h->chain_id, CST_CHAIN_ID_LEN, hex);
		f->rule = "R-BLK-6";
		f->code = CST_EFOREIGN;
		f->coal = COAL_FILE;
		report(v, f, "block of another chain (chain id %s)", hex);
		damage(v, 0, 1);
		return (1);
	}
	if (it->cert_rc == CST_ENOENT) {
		f->rule = "R-KEY-1";
		f->code = CST_EKEY;
		report(v, f, "the key certificate this block carries is signed "
		    "by epoch %" PRIu32 ", whose key is not known: it cannot be "
		    "checked", it->cert.signer_epoch);
	} else if (it->cert_rc == CST_EKEY) {
		f->rule = "R-KEY-2";
		f->code = CST_EKEY;
		report(v, f, "a second, different certificate for key epoch %"
		    PRIu32 ": two keys claim one epoch", it->cert.epoch);
	} else if (it->cert_rc < 0) {
		f->rule = "R-KEY-1";
		f->code = it->cert_rc;
		report(v, f, "the key certificate this block carries does not "
		    "verify (%s): its key is not trusted", cst_strerror(
		    it->cert_rc));
	}
	if (!it->has_pk) {
		f->rule = "R-BLK-3";
		f->code = CST_EKEY;
		f->coal = COAL_BLOCKS;
		report(v, f, "no certificate from the root key is known for "
		    "key epoch %" PRIu32 ": the block signature cannot be "
		    "checked", h->key_epoch);
		damage(v, 0, 1);
		return (1);
	}
	if (it->sig_rc != 0) {
		f->rule = "R-BLK-3";
		f->code = CST_ESIG;
		report(v, f, "the block signature does not verify: its header, "
		    "certificate or signature was altered");
		damage(v, 0, 1);
		return (1);
	}

	return (0);
}

/* Authentic block it (nrec records) takes its place: state and counts. */
static void
chain_take(cst_verifier *v, const struct item *it, cst_seg_info *si,
    uint64_t nrec)
{
	const cst_blk_hdr *h = &it->f.hdr;
	struct chain *cs = &v->cs;

	cs->anchored = 1;
	cs->seg_last_bad = 0;
	cs->damaged = 0;
	cs->damage_io = 0;
	cs->next_block = h->block_no + 1;
	cs->next_seq = h->first_seq + nrec;
	memcpy(cs->prev_hash, it->f.block_hash, CST_HASH_LEN);
	cs->epoch = h->key_epoch;
	cs->epoch_known = 1;
	if (add_block(v, &it->f) != 0)
		v->rc = CST_ENOMEM;

	v->sum.blocks++;
	v->sum.has_head = 1;
	v->sum.head_block_no = h->block_no;
	memcpy(v->sum.head_hash, it->f.block_hash, CST_HASH_LEN);
	v->sum.head_next_seq = cs->next_seq;
	si->blocks++;
	if (si->first_block == CST_NONE)
		si->first_block = h->block_no;
	si->last_block = h->block_no;

	if (h->type == CST_BLOCK_SEAL) {
		v->sum.seal_blocks++;
		cs->seg_sealed = 1;
	} else {
		v->sum.data_blocks++;
		v->sum.records += nrec;
		si->records += nrec;
		if (si->first_seq == CST_NONE)
			si->first_seq = h->first_seq;
		si->last_seq = h->first_seq + nrec - 1;
		if (v->sum.first_seq == CST_NONE) {
			v->sum.first_seq = h->first_seq;
			v->sum.first_ns = h->min_time_ns;
			v->sum.last_ns = h->max_time_ns;
		}
		v->sum.last_seq = h->first_seq + nrec - 1;
		if (h->min_time_ns < v->sum.first_ns)
			v->sum.first_ns = h->min_time_ns;
		if (h->max_time_ns > v->sum.last_ns)
			v->sum.last_ns = h->max_time_ns;
	}
}

void
cst_vrf_consume_frame(cst_verifier *v, struct item *it)
{
	const struct vfile *vf = &v->files[it->file];
	cst_seg_info *si = &v->segs[vf->info];
	const cst_blk_hdr *h = &it->f.hdr;
	struct chain *cs = &v->cs;
	uint64_t nrec;
	struct fnd f;
	size_t k;
	int linked, first = cs->seg_items == 0;

	cs->seg_items++;
	fnd_init(&f, CST_SEV_FAILURE, CST_ECORRUPT, "R-SEG-4");
	fnd_file(&f, vf, it->off);
	fnd_block(&f, h);
	if (frame_rejected(v, it, &f))
		return;

	/* Authentic from here: its header is what the collector wrote. */
	if (first)
		check_header(v, it);
	if (!check_links(v, it, &linked)) {
		/* A replay: its records are already counted where it belongs. */
		v->sum.blocks_bad++;
		return;
	}
	check_epochs(v, it, linked);

	nrec = h->record_count;
	chain_take(v, it, si, nrec);

	if (it->open_rc != 0) {
		f.rule = it->rule != NULL ? it->rule : "R-BLK-4";
		f.code = it->open_rc;
		f.coal = COAL_NONE;
		if (it->open_rc == CST_ENOMEM) {
			f.sev = CST_SEV_ERROR;
			report(v, &f, "out of memory opening the payload");
		} else {
			report(v, &f, "the payload does not match the signed "
			    "header (%s): the records of this block were "
			    "altered", cst_strerror(it->open_rc));
		}
		if (nrec > 0)
			add_unproven(v, h->block_no, h->block_no, f.s0, f.s1,
			    "payload altered");
		return;
	}
	v->sum.records_verified += nrec;
	for (k = 0; k <= CST_REC_KIND_MAX; k++)
		v->sum.kinds[k] += it->kinds[k];
	cst_vrf_consume_audits(v, it);
}

void
cst_vrf_consume_finding(cst_verifier *v, struct item *it)
{

	v->cs.seg_items++;
	cst_vrf_emit(v, &it->fnd, it->detail);
	it->detail = NULL;
	if (it->fnd.damage)
		damage(v, it->fnd.io, it->fnd.io ? 0 : 1);
}

void
cst_vrf_consume_seg_begin(cst_verifier *v, struct item *it)
{
	struct vfile *vf = &v->files[it->file];
	struct chain *cs = &v->cs;

	cs->seg_items = 0;
	cs->seg_sealed = 0;
	cs->seg_gap = 0;
	cs->seg_tail_failed = 0;
	cs->seg_last_bad = 0;
	/* A segment follows a missing one: the chain cannot be followed. */
	if (vf->missing_from != CST_NONE) {
		damage(v, 0, 0);
		cs->seg_gap = 1;
	}
}

void
cst_vrf_consume_seg_end(cst_verifier *v, struct item *it)
{
	struct vfile *vf = &v->files[it->file];
	cst_seg_info *si = &v->segs[vf->info];
	struct chain *cs = &v->cs;
	const cst_seg_hdr *s = &vf->hdr;
	struct fnd f;

	fnd_init(&f, CST_SEV_FAILURE, CST_ETRUNC, "R-SEG-4");
	fnd_file(&f, vf, it->tail_off);
	if (it->has_hdr)
		fnd_block(&f, &it->f.hdr);
	si->sealed = cs->seg_sealed;
	if (it->tail_len > 0) {
		si->tail_bytes = it->tail_len;
		if (vf->newest && !cs->seg_sealed) {
			v->sum.tail_partial = it->tail_len;
			f.sev = v->opts.live ? CST_SEV_NOTE : CST_SEV_WARNING;
			report(v, &f, "the newest segment ends in %" PRIu64
			    " bytes of an incomplete frame (a collector may be "
			    "writing it, or stopped in mid-write); they are "
			    "not verified", it->tail_len);
		} else {
			report(v, &f, "the segment ends in %" PRIu64 " bytes of "
			    "an incomplete frame; only the newest segment may "
			    "(a block was truncated)", it->tail_len);
			damage(v, 0, 1);
			cs->seg_tail_failed = 1;
		}
	}
	if (!cs->seg_sealed) {
		if (vf->newest) {
			v->sum.tail_unsealed = 1;
		} else if (!cs->seg_tail_failed && !cs->seg_last_bad &&
		    cs->seg_items > 0) {
			f.off = vf->map.len;
			f.code = CST_ETRUNC;
			report(v, &f, "segment %" PRIu64 " is not sealed, but "
			    "later segments exist (its end was cut off)",
			    vf->segno);
		}
	}
	if (cs->seg_items == 0 && vf->map.len >= CST_SEG_HDR_LEN) {
		if (!vf->newest) {
			fnd_init(&f, CST_SEV_FAILURE, CST_ETRUNC, "R-SEG-5");
			fnd_file(&f, vf, CST_SEG_HDR_LEN);
			report(v, &f, "segment %" PRIu64 " holds no block, but "
			    "later segments exist", vf->segno);
		} else if (vf->hdr_rc == 0 && cs->anchored &&
		    (s->first_block_no != cs->next_block ||
		    s->first_seq != cs->next_seq ||
		    memcmp(s->prev_hash, cs->prev_hash, CST_HASH_LEN) != 0)) {
			/* R-SEG-3: an empty newest segment still links. */
			fnd_init(&f, CST_SEV_FAILURE, CST_ECHAIN, "R-SEG-3");
			fnd_file(&f, vf, 0);
			report(v, &f, "the empty newest segment's header does not "
			    "continue the chain (block %" PRIu64 ", seq %" PRIu64
			    " expected)", cs->next_block, cs->next_seq);
		}
	}
	if (!vf->mapped)
		si->status = CST_SEG_UNREADABLE;
	else if (si->failures > 0)
		si->status = CST_SEG_INVALID;
	else if (cs->seg_gap)
		si->status = CST_SEG_GAP;
	else if (!cs->seg_sealed)
		si->status = vf->newest ? CST_SEG_UNSEALED : CST_SEG_INVALID;
	else
		si->status = CST_SEG_VALID;
}
