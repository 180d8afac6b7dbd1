/*
 * Walking the block frames of a segment (SPEC sections 3 and 7): the one
 * loop over frames, and the one resynchronisation after damage, shared by
 * the verifier, the query tool and crash recovery.  What differs between
 * them is the resynchronisation policy, a parameter.
 */
#ifndef CUSTODY_FRAME_H
#define CUSTODY_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "custody/format.h"

/* The first bytes of every block header (R-BLK-1, SPEC section 4.1). */
#define CST_BLK_MAGIC "CBLK"
#define CST_BLK_MAGIC_LEN 4

/* What a walk does at a frame that does not parse. */
enum cst_resync_mode {
	/* Ends there: recovery keeps the longest valid prefix (R-REC-5). */
	CST_RESYNC_STOP = 0,
	/* Looks for the next frame the policy accepts (SPEC section 7). */
	CST_RESYNC_SKIP,
};

/*
 * Whether the candidate frame f, found at offset off while looking for
 * where to resume after damage at offset pos, may resume the walk.  arg
 * and f are borrowed.
 */
typedef int cst_frame_accept_fn(void *arg, const cst_frame *f, uint64_t off,
    uint64_t pos);

typedef struct cst_resync {
	int mode;                    /* enum cst_resync_mode */
	const uint8_t *chain_id;     /* borrowed; candidates of this chain
	                                only (R-BLK-6); NULL: any chain */
	cst_frame_accept_fn *accept; /* NULL: every candidate that parses */
	void *arg;                   /* borrowed; given to accept */
} cst_resync;

/* A run of bytes of a file that holds data (the rest are holes). */
typedef struct cst_extent {
	uint64_t off;
	uint64_t len;
} cst_extent;

/*
 * A walk over buf[0..len) from offset pos.  Every field may be read; pos
 * may be set to resume elsewhere (e.g. where cst_frame_resync points).
 */
typedef struct cst_frame_walk {
	const uint8_t *buf;          /* borrowed */
	size_t len;
	uint64_t pos;                /* where the next frame is expected */
	uint64_t last;               /* offset of the last frame taken;
	                                UINT64_MAX (CST_NONE) before the
	                                first */
	const cst_resync *rs;        /* borrowed */
	const cst_extent *data;      /* borrowed; the file's data extents in
	                                order (cst_map's), or NULL when it
	                                has no holes: no frame starts in a
	                                hole, so resync never scans one */
	size_t ndata;
} cst_frame_walk;

/*
 * Starts a walk over buf[0..len) (borrowed, and must outlive w) at pos,
 * with the policy rs (borrowed, likewise), as if buf had no holes (set
 * data and ndata after it otherwise).  Cannot fail.
 */
void cst_frame_walk_init(cst_frame_walk *w, const uint8_t *buf, size_t len,
    uint64_t pos, const cst_resync *rs);

/*
 * Parses the frame at w->pos (which must be < w->len) into *f and moves
 * w->pos past it: returns 0.  Otherwise returns cst_frame_parse's error
 * and leaves w->pos at the damage; with CST_RESYNC_STOP the walk should
 * end there.
 */
int cst_frame_walk_next(cst_frame_walk *w, cst_frame *f);

/*
 * With CST_RESYNC_SKIP, the offset of the first candidate at or after
 * from at which a frame parses, belongs to w->rs->chain_id and is
 * accepted by w->rs->accept (given pos, the damage), or UINT64_MAX when
 * there is none.  Candidates are found by searching for the block magic
 * (memmem), so zeros or garbage cost a byte scan, not a header decode per
 * offset.  With CST_RESYNC_STOP, always UINT64_MAX.
 */
uint64_t cst_frame_resync(const cst_frame_walk *w, uint64_t from,
    uint64_t pos);

/*
 * Whether p[0..n) (borrowed), the end of a file, can be the start of a
 * frame still being written: a header that decodes, or a prefix of the
 * block magic (R-SEG-4).
 */
int cst_frame_looks_partial(const uint8_t *p, size_t n);

/*
 * The rule a frame parse error breaks: R-BLK-2 when the frame is too
 * large or does not fit, R-BLK-1 otherwise.  Returns a static string.
 */
const char *cst_frame_rule(int rc);

#endif /* CUSTODY_FRAME_H */
