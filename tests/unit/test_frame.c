/*
 * The frame walker (formats/frame.c): a walk over a committed segment,
 * both resynchronisation policies after zeros and garbage (SPEC section
 * 7, R-REC-5), the policy's chain and accept filters, and the partial
 * tail test (R-SEG-4).  The segment comes from tests/vectors/ through
 * CUSTODY_SOURCE_DIR (set by ctest).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "custody/error.h"
#include "custody/format.h"
#include "custody/frame.h"
#include "custody/segment.h"

/* good_single: one sealed segment of several blocks. */
#define VEC_SEG "tests/vectors/good_single/segments/seg-0000000000.cst"
#define GAP 4096

static cst_map seg;
static uint64_t offs[16];
static size_t nframes;

static void
setup(void)
{
	const char *src = getenv("CUSTODY_SOURCE_DIR");
	cst_resync rs = { CST_RESYNC_STOP, NULL, NULL, NULL };
	cst_frame_walk w;
	cst_frame f;
	char path[4096];

	cr_assert_not_null(src, "CUSTODY_SOURCE_DIR is not set (run under "
	    "ctest)");
	snprintf(path, sizeof(path), "%s/%s", src, VEC_SEG);
	cr_assert_eq(cst_map_open(path, &seg), 0);
	nframes = 0;
	cst_frame_walk_init(&w, seg.p, seg.len, CST_SEG_HDR_LEN, &rs);
	while (w.pos < seg.len) {
		cr_assert_lt(nframes, 16);
		offs[nframes] = w.pos;
		cr_assert_eq(cst_frame_walk_next(&w, &f), 0);
		cr_assert_eq(w.last, offs[nframes]);
		cr_assert_eq(w.pos, offs[nframes] + f.frame_len);
		nframes++;
	}
	cr_assert_eq(w.pos, seg.len);
	cr_assert_geq(nframes, 4);
}

static void
teardown(void)
{

	cst_map_close(&seg);
}

TestSuite(frame, .init = setup, .fini = teardown);

/*
 * The segment with fill[0..GAP) inserted before its second frame;
 * returned to free.
 */
static uint8_t *
with_gap(const uint8_t *fill, size_t *len)
{
	uint8_t *b;

	*len = seg.len + GAP;
	cr_assert_not_null(b = malloc(*len));
	memcpy(b, seg.p, offs[1]);
	memcpy(b + offs[1], fill, GAP);
	memcpy(b + offs[1] + GAP, seg.p + offs[1], seg.len - offs[1]);
	return (b);
}

static int
reject_before_damage(void *arg, const cst_frame *f, uint64_t off,
    uint64_t pos)
{

	(void)f;
	++*(int *)arg;
	return (off >= pos);
}

static void
check_gap(const uint8_t *fill)
{
	cst_resync skip = { CST_RESYNC_SKIP, NULL, NULL, NULL };
	cst_resync stop = { CST_RESYNC_STOP, NULL, NULL, NULL };
	cst_frame_walk w;
	cst_frame f;
	uint8_t *b;
	size_t len;

	b = with_gap(fill, &len);
	cst_frame_walk_init(&w, b, len, CST_SEG_HDR_LEN, &stop);
	cr_assert_eq(cst_frame_walk_next(&w, &f), 0);
	cr_assert_neq(cst_frame_walk_next(&w, &f), 0);
	cr_assert_eq(w.pos, offs[1], "the walk stays at the damage");
	/* R-REC-5: recovery never looks past the damage. */
	cr_assert_eq(cst_frame_resync(&w, w.pos + 1, w.pos), UINT64_MAX);

	cst_frame_walk_init(&w, b, len, offs[1], &skip);
	cr_assert_eq(cst_frame_resync(&w, offs[1] + 1, offs[1]),
	    offs[1] + GAP, "resumes at the frame after the gap");
	w.pos = offs[1] + GAP;
	cr_assert_eq(cst_frame_walk_next(&w, &f), 0);
	cr_assert_eq(memcmp(f.hdr_bytes, seg.p + offs[1], CST_BLK_HDR_LEN),
	    0);
	free(b);
}

Test(frame, resync_over_zeros)
{
	uint8_t fill[GAP];

	memset(fill, 0, sizeof(fill));
	check_gap(fill);
}

Test(frame, resync_over_garbage_with_false_magics)
{
	uint8_t fill[GAP];
	size_t i;

	/* Fixed pattern (seed 1), with a bare magic every 97 bytes. */
	srandom(1);
	for (i = 0; i < sizeof(fill); i++)
		fill[i] = (uint8_t)random();
	for (i = 0; i + CST_BLK_MAGIC_LEN <= sizeof(fill); i += 97)
		memcpy(fill + i, CST_BLK_MAGIC, CST_BLK_MAGIC_LEN);
	check_gap(fill);
}

Test(frame, policy_filters_candidates)
{
	uint8_t other[CST_CHAIN_ID_LEN];
	cst_resync rs = { CST_RESYNC_SKIP, NULL, NULL, NULL };
	cst_frame_walk w;
	cst_frame f;
	int calls = 0;

	cr_assert_eq(cst_frame_parse(seg.p + offs[0], seg.len - offs[0], &f),
	    0);
	/* R-BLK-6: only frames of the named chain. */
	rs.chain_id = f.hdr.chain_id;
	cst_frame_walk_init(&w, seg.p, seg.len, CST_SEG_HDR_LEN, &rs);
	cr_assert_eq(cst_frame_resync(&w, offs[0] + 1, offs[0] + 1), offs[1]);
	memcpy(other, f.hdr.chain_id, sizeof(other));
	other[0] ^= 1;
	rs.chain_id = other;
	cr_assert_eq(cst_frame_resync(&w, offs[0] + 1, offs[0] + 1),
	    UINT64_MAX);

	/* accept sees every candidate and the damage offset. */
	rs.chain_id = NULL;
	rs.accept = reject_before_damage;
	rs.arg = &calls;
	cr_assert_eq(cst_frame_resync(&w, offs[0] + 1, offs[2]), offs[2]);
	cr_assert_eq(calls, 2, "offered frames 1 and 2");
}

Test(frame, partial_tail_and_rules)
{

	cr_assert(cst_frame_looks_partial(seg.p + offs[1], 3));
	cr_assert(cst_frame_looks_partial(seg.p + offs[1], CST_BLK_HDR_LEN));
	cr_assert_not(cst_frame_looks_partial((const uint8_t *)"CBLx", 4));
	cr_assert_not(cst_frame_looks_partial(seg.p + offs[1] + 1,
	    CST_BLK_HDR_LEN));
	cr_assert_str_eq(cst_frame_rule(CST_ETRUNC), "R-BLK-2");
	cr_assert_str_eq(cst_frame_rule(CST_ETOOBIG), "R-BLK-2");
	cr_assert_str_eq(cst_frame_rule(CST_ECORRUPT), "R-BLK-1");
}
