/*
 * The frame walker (see frame.h): the only loop that locates block frames
 * in a segment's bytes, and the only resynchronisation after damage.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "custody/error.h"
#include "custody/format.h"
#include "custody/frame.h"

void
cst_frame_walk_init(cst_frame_walk *w, const uint8_t *buf, size_t len,
    uint64_t pos, const cst_resync *rs)
{

	w->buf = buf;
	w->len = len;
	w->pos = pos;
	w->last = UINT64_MAX;
	w->rs = rs;
	w->data = NULL;
	w->ndata = 0;
}

int
cst_frame_walk_next(cst_frame_walk *w, cst_frame *f)
{
	int rc;

	if ((rc = cst_frame_parse(w->buf + w->pos, w->len - w->pos, f)) != 0)
		return (rc);
	w->last = w->pos;
	w->pos += f->frame_len;
	return (0);
}

uint64_t
cst_frame_resync(const cst_frame_walk *w, uint64_t from, uint64_t pos)
{
	const cst_resync *rs = w->rs;
	const uint8_t *p = w->buf, *hit;
	size_t len = w->len, i = 0;
	uint64_t q = from, end = len;
	cst_frame f;

	if (rs->mode != CST_RESYNC_SKIP)
		return (UINT64_MAX);
	/* SPEC section 7: the next frame whose magic and length hold. */
	for (;;) {
		if (w->data != NULL) {
			/* R-SEG-7: holes hold no frame; they are not read. */
			while (i < w->ndata &&
			    w->data[i].off + w->data[i].len <= q)
				i++;
			if (i == w->ndata)
				break;
			if (q < w->data[i].off)
				q = w->data[i].off;
			end = w->data[i].off + w->data[i].len;
			if (end > len)
				end = len;
		}
		if (q + CST_BLK_MAGIC_LEN > end) {
			if (w->data == NULL || end >= len)
				break;
			q = end;
			continue;
		}
		hit = memmem(p + q, end - q, CST_BLK_MAGIC, CST_BLK_MAGIC_LEN);
		if (hit == NULL) {
			if (w->data == NULL)
				break;
			q = end;
			continue;
		}
		q = (uint64_t)(hit - p);
		if (cst_frame_parse(p + q, len - q, &f) == 0 &&
		    (rs->chain_id == NULL || memcmp(f.hdr.chain_id,
		    rs->chain_id, CST_CHAIN_ID_LEN) == 0) &&
		    (rs->accept == NULL || rs->accept(rs->arg, &f, q, pos)))
			return (q);
		q++;
	}
	return (UINT64_MAX);
}

int
cst_frame_looks_partial(const uint8_t *p, size_t n)
{
	cst_blk_hdr h;

	if (n >= CST_BLK_HDR_LEN)
		return (cst_blk_hdr_decode(p, n, &h) == 0);
	return (memcmp(p, CST_BLK_MAGIC, n < CST_BLK_MAGIC_LEN ? n :
	    CST_BLK_MAGIC_LEN) == 0);
}

const char *
cst_frame_rule(int rc)
{

	return (rc == CST_ETOOBIG || rc == CST_ETRUNC ? "R-BLK-2" : "R-BLK-1");
}
