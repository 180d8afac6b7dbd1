/*
 * Locating every block of a store and checking its header chain without
 * decompressing anything (see query_store.h).
 *
 * Three passes over the blocks found: certificates in chain order (each
 * epoch key is proven by the one before it, down to the root), then the
 * signatures on all threads (the costly part: ~60,000 per second per
 * core), then the links in chain order, reported in that order.  A block
 * whose own signature or key fails is marked and never shown; a broken
 * link between two blocks that each prove themselves is reported (and
 * makes the query fail) but hides neither, since each block's signed
 * header states its own place in the chain.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "custody/block.h"
#include "custody/checkpoint.h"
#include "custody/error.h"
#include "custody/format.h"
#include "custody/frame.h"
#include "custody/keys.h"
#include "custody/segment.h"

#include "query_store.h"

static const uint8_t zero_hash[CST_HASH_LEN];

static void
report(struct query_store *s, size_t seg, uint64_t off, int64_t block_no,
    const char *rule, int code, const char *what)
{

	s->failures++;
	if (s->report != NULL)
		s->report(s->arg, seg < s->nsegs ? s->segs[seg].path : s->dir,
		    off, block_no, rule, code, what);
}

/* Loads latest.ckpt; its certificates prove epochs whose blocks are lost. */
static void
load_checkpoint(struct query_store *s)
{
	char path[4096];
	cst_map m;
	int rc;

	snprintf(path, sizeof(path), "%s/checkpoints/latest.ckpt", s->dir);
	if (cst_map_open(path, &m) != 0)
		return;
	memset(&s->ckp, 0, sizeof(s->ckp));
	if ((rc = cst_checkpoint_decode((const char *)m.p, m.len,
	    &s->ckp)) == 0 &&
	    (rc = cst_checkpoint_verify(&s->ckp, &s->root)) == 0) {
		if ((s->certs = calloc(s->ckp.epoch, sizeof(*s->certs))) !=
		    NULL) {
			memcpy(s->certs, s->ckp.certs,
			    s->ckp.epoch * sizeof(*s->certs));
			s->nepochs = s->ckp.epoch;
		}
		s->have_ckp = 1;
	} else {
		cst_checkpoint_close(&s->ckp);
		s->failures++;
		if (s->report != NULL)
			s->report(s->arg, path, 0, -1, "R-CKP-1", rc,
			    "the latest checkpoint does not verify");
	}
	cst_map_close(&m);
}

static int
seg_cmp(const void *a, const void *b)
{
	const struct query_seg *x = a, *y = b;

	return (x->number < y->number ? -1 : x->number > y->number);
}

static int
add_seg(struct query_store *s, uint64_t number)
{
	struct query_seg *n;
	char name[32], *path;
	size_t len;

	if ((n = realloc(s->segs, (s->nsegs + 1) * sizeof(*n))) == NULL)
		return (CST_ENOMEM);
	s->segs = n;
	cst_segment_name(number, name);
	len = strlen(s->dir) + strlen(name) + 16;
	if ((path = malloc(len)) == NULL)
		return (CST_ENOMEM);
	snprintf(path, len, "%s/segments/%s", s->dir, name);
	memset(&n[s->nsegs], 0, sizeof(n[0]));
	n[s->nsegs].path = path;
	n[s->nsegs].number = number;
	s->nsegs++;
	return (0);
}

/* Segment files by the number in their names (R-SEG-2 checks the rest). */
static int
list_segments(struct query_store *s)
{
	char path[4096], *end;
	struct dirent *de;
	unsigned long long n;
	DIR *d;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/segments", s->dir);
	if ((d = opendir(path)) == NULL)
		return (errno == ENOENT ? CST_ENOENT : CST_EIO);
	while ((de = readdir(d)) != NULL) {
		if (strlen(de->d_name) != 18 ||
		    strncmp(de->d_name, "seg-", 4) != 0 ||
		    strcmp(de->d_name + 14, ".cst") != 0)
			continue;
		errno = 0;
		n = strtoull(de->d_name + 4, &end, 10);
		if (errno != 0 || end != de->d_name + 14)
			continue;
		if ((rc = add_seg(s, n)) != 0)
			break;
	}
	closedir(d);
	if (rc == 0)
		qsort(s->segs, s->nsegs, sizeof(*s->segs), seg_cmp);
	return (rc);
}

static int
add_block(struct query_store *s, size_t seg, uint64_t off,
    const cst_frame *f)
{
	struct query_block *n;
	size_t cap;

	if (s->nblocks == s->cap) {
		cap = s->cap == 0 ? 1024 : 2 * s->cap;
		if ((n = realloc(s->blocks, cap * sizeof(*n))) == NULL)
			return (CST_ENOMEM);
		s->blocks = n;
		s->cap = cap;
	}
	n = &s->blocks[s->nblocks++];
	memset(n, 0, sizeof(*n));
	n->f = *f;
	n->seg = (uint32_t)seg;
	n->off = off;
	return (0);
}

/*
 * Finds the frames of segment si from where the last scan stopped.  Only
 * the newest segment may end in a partial frame: a collector may be
 * writing it (R-SEG-4).
 */
static int
scan_seg(struct query_store *s, size_t si, int newest)
{
	struct query_seg *g = &s->segs[si];
	cst_resync rs = { CST_RESYNC_SKIP, s->root.chain_id, NULL, NULL };
	cst_frame_walk w;
	const uint8_t *p;
	cst_frame f;
	uint64_t off, q;
	uint32_t damaged = 0;
	int rc;

	cst_map_close(&g->map);
	if ((rc = cst_map_open(g->path, &g->map)) != 0) {
		/* R-SEG-7: a FIFO or a link there is damage, not an error. */
		if (rc == CST_ENOTREG)
			report(s, si, 0, -1, "R-SEG-7", rc, "not a regular "
			    "file: not read");
		return (rc == CST_ENOENT || rc == CST_ENOTREG ? 0 : rc);
	}
	p = g->map.p;
	if (g->scanned == 0 && g->map.holes > 0)
		report(s, si, 0, -1, "R-SEG-7", CST_ECORRUPT, "the file has "
		    "holes: a segment is written by appending and has none; "
		    "only its data is read");
	if (g->scanned == 0) {
		if (g->map.len < CST_SEG_HDR_LEN) {
			if (!newest)
				report(s, si, 0, -1, "R-SEG-1", CST_ETRUNC,
				    "segment shorter than its header");
			return (0);
		}
		if ((rc = cst_seg_hdr_decode(p, g->map.len, &g->hdr)) != 0) {
			report(s, si, 0, -1, "R-SEG-1", rc,
			    "segment header is malformed");
		} else {
			g->hdr_ok = 1;
			if (g->hdr.segment_no != g->number)
				report(s, si, 0, -1, "R-SEG-2", CST_ESEQ,
				    "segment number differs from the file name");
			if (memcmp(g->hdr.chain_id, s->root.chain_id,
			    CST_CHAIN_ID_LEN) != 0)
				report(s, si, 0, -1, "R-SEG-3", CST_EFOREIGN,
				    "segment belongs to another chain");
		}
		g->scanned = CST_SEG_HDR_LEN;
	}
	cst_frame_walk_init(&w, p, g->map.len, g->scanned, &rs);
	w.data = g->map.data;
	w.ndata = g->map.ndata;
	while (w.pos < g->map.len) {
		off = w.pos;
		rc = cst_frame_walk_next(&w, &f);
		if (rc != 0) {
			/* Resynchronise on the next frame of the chain. */
			q = cst_frame_resync(&w, off + 1, off + 1);
			/*
			 * Only the newest may end in a frame being written,
			 * and only when no frame follows it (R-SEG-4,
			 * R-SEG-8).
			 */
			if (rc == CST_ETRUNC && q == UINT64_MAX && newest)
				break;
			if (rc == CST_ETRUNC && q == UINT64_MAX) {
				report(s, si, off, -1, "R-SEG-4", rc,
				    "partial frame at the end of an older "
				    "segment");
				break;
			}
			report(s, si, off, -1, cst_frame_rule(rc), rc,
			    rc == CST_ETRUNC ? "frame runs past the next "
			    "frame" : "malformed block header; looking for "
			    "the next frame");
			damaged++;
			w.pos = q == UINT64_MAX ? g->map.len : q;
			continue;
		}
		if (g->sealed)
			report(s, si, off, (int64_t)f.hdr.block_no, "R-SEG-4",
			    CST_ECORRUPT, "block after the segment's seal");
		if ((rc = add_block(s, si, off, &f)) != 0)
			return (rc);
		s->blocks[s->nblocks - 1].damaged = damaged;
		damaged = 0;
		g->sealed = f.hdr.type == CST_BLOCK_SEAL;
	}
	g->scanned = w.pos;
	if (cst_map_shrank(&g->map))
		report(s, si, 0, -1, "R-SEG-7", CST_ETRUNC, "the file shrank "
		    "while it was read: what lay past its new end was read "
		    "as zeros");
	return (0);
}

/* Pass 1: the epoch keys, each proven by the one before (R-KEY-1). */
static void
pass_certs(struct query_store *s, size_t from)
{
	struct query_block *b;
	uint8_t enc[CST_CERT_LEN];
	const uint8_t *signer;
	cst_cert c, *n;
	size_t i;
	int rc;

	for (i = from; i < s->nblocks; i++) {
		b = &s->blocks[i];
		if (b->f.cert == NULL)
			continue;
		if ((rc = cst_cert_decode(b->f.cert, CST_CERT_LEN, &c)) != 0 ||
		    c.epoch != b->f.hdr.key_epoch ||
		    c.valid_from != b->f.hdr.block_no) {
			b->rc = rc != 0 ? rc : CST_EKEY;
			b->rule = rc != 0 ? "R-KEY-1" : "R-KEY-2";
			continue;
		}
		if (c.epoch <= s->nepochs) {
			cst_cert_encode(&s->certs[c.epoch - 1], enc);
			if (memcmp(enc, b->f.cert, CST_CERT_LEN) != 0) {
				b->rc = CST_EKEY;
				b->rule = "R-KEY-1";
			}
			continue;
		}
		if (c.epoch != s->nepochs + 1) {
			b->rc = CST_EKEY;
			b->rule = "R-KEY-1";
			continue;
		}
		signer = c.epoch == 1 ? s->root.pk :
		    s->certs[c.epoch - 2].public_key;
		if ((rc = cst_cert_verify(&c, s->root.chain_id, signer)) != 0) {
			b->rc = rc;
			b->rule = "R-KEY-1";
			continue;
		}
		if ((n = realloc(s->certs, (s->nepochs + 1) * sizeof(*n))) ==
		    NULL) {
			b->rc = CST_ENOMEM;
			b->rule = "R-KEY-1";
			continue;
		}
		s->certs = n;
		s->certs[s->nepochs++] = c;
	}
}

/* Pass 2 for one block: its key and signature (R-BLK-3, R-KEY-2). */
static void
check_sig(struct query_store *s, struct query_block *b)
{
	const cst_blk_hdr *h = &b->f.hdr;
	uint32_t e = h->key_epoch;

	if (b->rc != 0)
		return;
	if (memcmp(h->chain_id, s->root.chain_id, CST_CHAIN_ID_LEN) != 0) {
		b->rc = CST_EFOREIGN;
		b->rule = "R-BLK-6";
	} else if (e < 1 || e > s->nepochs) {
		b->rc = CST_EKEY;
		b->rule = "R-BLK-3";
	} else if (h->block_no < s->certs[e - 1].valid_from ||
	    (e < s->nepochs && h->block_no >= s->certs[e].valid_from)) {
		/* A key signs only its own epoch's blocks: forward security. */
		b->rc = CST_EKEY;
		b->rule = "R-KEY-2";
	} else if (cst_frame_verify_sig(&b->f, s->certs[e - 1].public_key) !=
	    0) {
		b->rc = CST_ESIG;
		b->rule = "R-BLK-3";
	}
}

struct par {
	struct query_store *s;
	size_t next;
	size_t end;
	pthread_mutex_t mu;
};

#define SIG_BATCH 64

static void *
sig_worker(void *arg)
{
	struct par *p = arg;
	size_t i, lo, hi;

	for (;;) {
		pthread_mutex_lock(&p->mu);
		lo = p->next;
		hi = lo + SIG_BATCH < p->end ? lo + SIG_BATCH : p->end;
		p->next = hi;
		pthread_mutex_unlock(&p->mu);
		if (lo >= hi)
			return (NULL);
		for (i = lo; i < hi; i++)
			check_sig(p->s, &p->s->blocks[i]);
	}
}

/* Pass 2: signatures on every thread; falls back to this one alone. */
static void
pass_sigs(struct query_store *s, size_t from)
{
	pthread_t t[16];
	struct par p;
	int i, n = 0;

	p.s = s;
	p.next = from;
	p.end = s->nblocks;
	pthread_mutex_init(&p.mu, NULL);
	for (i = 1; i < s->threads && i < 16 &&
	    s->nblocks - from > SIG_BATCH; i++)
		if (pthread_create(&t[n], NULL, sig_worker, &p) == 0)
			n++;
	sig_worker(&p);
	for (i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	pthread_mutex_destroy(&p.mu);
}

/*
 * The link into block b, which follows regions that are not frames: as
 * custody-verify judges it (SPEC section 7), each region may have been
 * one block, so only a gap larger than the damage, a block that goes
 * back, or sequence numbers that break across an intact link are
 * failures of their own (R-BLK-6, R-BLK-7).
 */
static void
link_after_damage(struct query_store *s, const struct query_block *b)
{
	const cst_blk_hdr *h = &b->f.hdr;
	int64_t bn = (int64_t)h->block_no;

	if (h->block_no < s->next_block_no)
		report(s, b->seg, b->off, bn, "R-BLK-6", CST_ESEQ,
		    "block number repeated or out of order");
	else if (h->block_no - s->next_block_no > b->damaged)
		report(s, b->seg, b->off, bn, "R-BLK-6", CST_ESEQ,
		    "blocks missing before this one");
	else if (h->block_no == s->next_block_no &&
	    memcmp(h->prev_hash, s->prev_hash, CST_HASH_LEN) == 0 &&
	    h->first_seq != s->next_seq)
		report(s, b->seg, b->off, bn, "R-BLK-7", CST_ESEQ,
		    "sequence numbers not continuous");
}

/* Pass 3: links, in chain order, and every failure reported in order. */
static void
pass_links(struct query_store *s, size_t from)
{
	struct query_block *b;
	struct query_seg *g;
	const cst_blk_hdr *h;
	int64_t bn;
	size_t i;

	for (i = from; i < s->nblocks; i++) {
		b = &s->blocks[i];
		h = &b->f.hdr;
		g = &s->segs[b->seg];
		bn = (int64_t)h->block_no;
		if (b->rc != 0) {
			report(s, b->seg, b->off, bn, b->rule, b->rc,
			    b->rc == CST_ESIG ? "signature does not verify; "
			    "block not shown" : "key not proven; block not "
			    "shown");
			/*
			 * A header that is not authentic states nothing about
			 * its place in the chain: one altered block is one
			 * failure, as custody-verify counts it (SPEC section
			 * 7), and the next block re-anchors the links.
			 */
			g->have_first = 1;
			s->have_prev = 1;
			s->prev_failed = 1;
			continue;
		}
		if (h->segment_no != g->number)
			report(s, b->seg, b->off, bn, "R-BLK-6", CST_ECHAIN,
			    "block names another segment");
		if (!g->have_first) {
			g->have_first = 1;
			/* After damage this may not be the segment's first. */
			if (g->hdr_ok && b->damaged == 0 &&
			    (g->hdr.first_block_no != h->block_no ||
			    g->hdr.first_seq != h->first_seq ||
			    memcmp(g->hdr.prev_hash, h->prev_hash,
			    CST_HASH_LEN) != 0))
				report(s, b->seg, 0, bn, "R-SEG-3", CST_ECHAIN,
				    "segment header differs from its first "
				    "block");
		}
		if (!s->have_prev) {
			/* Each region of damage before it may be a block. */
			if ((b->damaged == 0 || h->block_no > b->damaged) &&
			    (h->block_no != 0 || h->first_seq != 0 ||
			    memcmp(h->prev_hash, zero_hash, CST_HASH_LEN) != 0))
				report(s, b->seg, b->off, bn, "R-BLK-6",
				    CST_ECHAIN, "the chain does not start at "
				    "block 0: earlier blocks are missing");
		} else if (b->damaged > 0 && !s->prev_failed) {
			link_after_damage(s, b);
		} else if (!s->prev_failed) {
			/* After a failed block the link cannot be judged. */
			if (h->block_no != s->next_block_no)
				report(s, b->seg, b->off, bn, "R-BLK-6",
				    CST_ESEQ, h->block_no > s->next_block_no ?
				    "blocks missing before this one" :
				    "block number repeated or out of order");
			else if (memcmp(h->prev_hash, s->prev_hash,
			    CST_HASH_LEN) != 0)
				report(s, b->seg, b->off, bn, "R-BLK-6",
				    CST_ECHAIN, "previous-hash link broken");
			else if (h->first_seq != s->next_seq)
				report(s, b->seg, b->off, bn, "R-BLK-7",
				    CST_ESEQ, "sequence numbers not continuous");
			else if (h->key_epoch != s->epoch &&
			    (h->key_epoch != s->epoch + 1 || b->f.cert == NULL))
				report(s, b->seg, b->off, bn, "R-KEY-2",
				    CST_EKEY, "key epoch changes without a "
				    "certificate");
		}
		s->have_prev = 1;
		s->prev_failed = 0;
		s->next_block_no = h->block_no + 1;
		s->next_seq = h->first_seq + h->record_count;
		memcpy(s->prev_hash, b->f.block_hash, CST_HASH_LEN);
		s->epoch = h->key_epoch;
	}
}

static void
check_blocks(struct query_store *s, size_t from)
{

	pass_certs(s, from);
	pass_sigs(s, from);
	pass_links(s, from);
}

/* R-CKP-2: the store must reach the head of its own latest checkpoint. */
static void
check_anchor(struct query_store *s)
{
	const struct query_block *b;
	size_t i;

	if (!s->have_ckp || s->ckp.blocks == 0)
		return;
	for (i = 0; i < s->nblocks; i++) {
		b = &s->blocks[i];
		if (b->f.hdr.block_no != s->ckp.blocks - 1)
			continue;
		if (memcmp(b->f.block_hash, s->ckp.head, CST_HASH_LEN) != 0)
			report(s, b->seg, b->off, (int64_t)b->f.hdr.block_no,
			    "R-CKP-2", CST_ECHAIN, "block differs from the "
			    "latest checkpoint's head: the chain was altered");
		return;
	}
	report(s, SIZE_MAX, 0, (int64_t)(s->ckp.blocks - 1), "R-CKP-2",
	    CST_ETRUNC, "the store ends before the head of its latest "
	    "checkpoint: truncated or rolled back");
}

int
query_store_open(const char *dir, const cst_root_pub *root, int threads,
    query_store_report_fn *rep, void *arg, struct query_store **out)
{
	struct query_store *s;
	size_t i;
	int rc;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return (CST_ENOMEM);
	s->root = *root;
	s->threads = threads < 1 ? 1 : threads;
	s->report = rep;
	s->arg = arg;
	if ((s->dir = strdup(dir)) == NULL) {
		rc = CST_ENOMEM;
		goto err1;
	}
	load_checkpoint(s);
	if ((rc = list_segments(s)) != 0)
		goto err1;
	for (i = 0; i < s->nsegs; i++) {
		if (i > 0 && s->segs[i].number != s->segs[i - 1].number + 1)
			report(s, i, 0, -1, "R-SEG-2", CST_ESEQ,
			    "segments missing before this one");
		if ((rc = scan_seg(s, i, i + 1 == s->nsegs)) != 0)
			goto err1;
		if (i + 1 < s->nsegs && !s->segs[i].sealed)
			report(s, i, s->segs[i].scanned, -1, "R-SEG-4",
			    CST_ETRUNC, "older segment is not sealed");
	}
	check_blocks(s, 0);
	check_anchor(s);
	*out = s;
	return (0);

err1:
	query_store_free(s);
	return (rc);
}

int
query_store_poll(struct query_store *s)
{
	struct query_seg *g;
	char name[32], path[4096];
	size_t i;
	int rc, more;

	s->nblocks = 0;
	for (i = 0; i + 1 < s->nsegs; i++)
		cst_map_close(&s->segs[i].map);
	if (s->nsegs == 0) {
		if ((rc = list_segments(s)) != 0)
			return (rc == CST_ENOENT ? 0 : rc);
		if (s->nsegs == 0)
			return (0);
		/* Only the first file: later ones come one by one below. */
		for (i = 1; i < s->nsegs; i++)
			free(s->segs[i].path);
		s->nsegs = 1;
	}
	do {
		g = &s->segs[s->nsegs - 1];
		cst_segment_name(g->number + 1, name);
		snprintf(path, sizeof(path), "%s/segments/%s", s->dir, name);
		/* A newer file means this one is complete: scan it whole. */
		more = access(path, F_OK) == 0;
		if ((rc = scan_seg(s, s->nsegs - 1, !more)) != 0)
			return (rc);
		if (more) {
			if (!s->segs[s->nsegs - 1].sealed)
				report(s, s->nsegs - 1,
				    s->segs[s->nsegs - 1].scanned, -1,
				    "R-SEG-4", CST_ETRUNC,
				    "older segment is not sealed");
			if ((rc = add_seg(s, g->number + 1)) != 0)
				return (rc);
		}
	} while (more);
	check_blocks(s, 0);
	return (0);
}

void
query_store_free(struct query_store *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nsegs; i++) {
		cst_map_close(&s->segs[i].map);
		free(s->segs[i].path);
	}
	free(s->segs);
	free(s->blocks);
	free(s->certs);
	if (s->have_ckp)
		cst_checkpoint_close(&s->ckp);
	free(s->dir);
	free(s);
}
