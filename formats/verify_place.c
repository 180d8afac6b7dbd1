/*
 * Placement: maps every input file, decodes its header and orders the
 * files of the chain by segment_no (R-SEG-2), with missing numbers and
 * duplicates, foreign and unreadable files set aside and reported.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "custody/error.h"
#include "custody/format.h"
#include "custody/hash.h"
#include "custody/segment.h"
#include "verify_int.h"

/* The segment number in a file name "seg-NNNNNNNNNN.cst", or CST_NONE. */
static uint64_t
name_segno(const char *path)
{
	const char *b = strrchr(path, '/');
	uint64_t n = 0;
	size_t i;

	b = b == NULL ? path : b + 1;
	if (strncmp(b, "seg-", 4) != 0 || strlen(b) != 18 ||
	    strcmp(b + 14, ".cst") != 0)
		return (CST_NONE);
	for (i = 4; i < 14; i++) {
		if (b[i] < '0' || b[i] > '9')
			return (CST_NONE);
		n = n * 10 + (uint64_t)(b[i] - '0');
	}
	return (n);
}

static int
cmp_order(const void *a, const void *b, void *arg)
{
	const struct vfile *files = arg;
	const struct vfile *x = &files[*(const size_t *)a];
	const struct vfile *y = &files[*(const size_t *)b];

	if (x->segno != y->segno)
		return (x->segno < y->segno ? -1 : 1);
	return (strcmp(x->path, y->path));
}

/*
 * Maps file fi and decides where it belongs: by its header and the
 * segment_no of its first block (signed, unlike the header) when they
 * agree; when they do not, by the one its name agrees with, else the
 * block; by either alone when the other is unusable; else by its name.
 */
void
cst_vrf_place_file(cst_verifier *v, size_t fi)
{
	struct vfile *vf = &v->files[fi];
	cst_frame f;
	int rc, hdr_ok;

	vf->segno = CST_NONE;
	vf->missing_from = vf->missing_to = CST_NONE;
	if ((rc = cst_map_open(vf->path, &vf->map)) != 0) {
		/*
		 * Named for a number, it holds that place, unread; but not
		 * what is no file at all (R-SEG-7): that place is a gap.
		 */
		vf->hdr_rc = rc;
		vf->segno = name_segno(vf->path);
		vf->place = vf->segno == CST_NONE || rc == CST_ENOTREG ?
		    PLACE_UNREADABLE : PLACE_CHAIN;
		return;
	}
	vf->mapped = 1;
	vf->hdr_rc = cst_seg_hdr_decode(vf->map.p, vf->map.len, &vf->hdr);
	memset(&f, 0, sizeof(f));
	hdr_ok = vf->hdr_rc == 0 && memcmp(vf->hdr.chain_id,
	    v->root.chain_id, CST_CHAIN_ID_LEN) == 0;
	if (vf->map.len > CST_SEG_HDR_LEN &&
	    cst_frame_parse(vf->map.p + CST_SEG_HDR_LEN,
	    vf->map.len - CST_SEG_HDR_LEN, &f) == 0 &&
	    memcmp(f.hdr.chain_id, v->root.chain_id, CST_CHAIN_ID_LEN) == 0) {
		vf->segno = f.hdr.segment_no;
		/* An altered first block must not move its file. */
		if (hdr_ok && vf->hdr.segment_no != vf->segno &&
		    name_segno(vf->path) == vf->hdr.segment_no)
			vf->segno = vf->hdr.segment_no;
	} else if (hdr_ok) {
		vf->segno = vf->hdr.segment_no;
	} else if (vf->hdr_rc == 0) {
		vf->place = PLACE_FOREIGN;
		vf->segno = vf->hdr.segment_no;
		return;
	} else if ((vf->segno = name_segno(vf->path)) == CST_NONE) {
		vf->place = PLACE_UNREADABLE;
		return;
	}
	vf->place = PLACE_CHAIN;
}

static int
add_seg_row(cst_verifier *v, const struct vfile *vf, uint64_t from,
    uint64_t to, int status)
{
	cst_seg_info *n, *s;

	if ((n = realloc(v->segs, (v->nsegs + 1) * sizeof(*n))) == NULL)
		return (CST_ENOMEM);
	v->segs = n;
	s = &n[v->nsegs++];
	memset(s, 0, sizeof(*s));
	s->path = vf != NULL ? vf->path : NULL;
	s->segment_no = from;
	s->segment_last = to;
	s->size = vf != NULL ? vf->map.len : 0;
	s->status = status;
	s->first_block = s->last_block = CST_NONE;
	s->first_seq = s->last_seq = CST_NONE;
	return (0);
}

/*
 * Orders the chain's files (R-SEG-2), picks one file per number, and
 * builds the segment table with missing numbers in place.
 */
int
cst_vrf_place_all(cst_verifier *v)
{
	struct vfile *vf, *pv;
	uint64_t expect = 0;
	size_t i, j, k;
	int status;

	if ((v->order = calloc(v->nfiles + 1, sizeof(*v->order))) == NULL)
		return (CST_ENOMEM);
	for (i = 0; i < v->nfiles; i++)
		if (v->files[i].place == PLACE_CHAIN)
			v->order[v->norder++] = i;
	qsort_r(v->order, v->norder, sizeof(*v->order), cmp_order, v->files);

	/*
	 * Of files claiming one number, keep one: a valid header first,
	 * then the one named for the number.
	 */
	for (i = 0, k = 0; i < v->norder; i = j) {
		size_t best = i;

		for (j = i + 1; j < v->norder && v->files[v->order[j]].segno ==
		    v->files[v->order[i]].segno; j++) {
			vf = &v->files[v->order[j]];
			pv = &v->files[v->order[best]];
			if ((vf->hdr_rc == 0 && pv->hdr_rc != 0) ||
			    (vf->hdr_rc == pv->hdr_rc &&
			    name_segno(vf->path) == vf->segno &&
			    name_segno(pv->path) != pv->segno))
				best = j;
		}
		for (size_t m = i; m < j; m++) {
			if (m == best)
				continue;
			v->files[v->order[m]].place = PLACE_DUP;
			v->files[v->order[m]].dup_of = v->order[best];
		}
		v->order[k++] = v->order[best];
	}
	v->norder = k;

	for (i = 0; i < v->norder; i++) {
		vf = &v->files[v->order[i]];
		if (vf->segno > expect) {
			vf->missing_from = expect;
			vf->missing_to = vf->segno - 1;
			if (add_seg_row(v, NULL, expect, vf->segno - 1,
			    CST_SEG_MISSING) != 0)
				return (CST_ENOMEM);
		}
		vf->info = v->nsegs;
		vf->newest = i + 1 == v->norder;
		if (add_seg_row(v, vf, vf->segno, vf->segno, CST_SEG_VALID) != 0)
			return (CST_ENOMEM);
		expect = vf->segno == UINT64_MAX ? vf->segno : vf->segno + 1;
	}
	for (i = 0; i < v->nfiles; i++) {
		vf = &v->files[i];
		if (vf->place == PLACE_CHAIN)
			continue;
		status = vf->place == PLACE_FOREIGN ? CST_SEG_FOREIGN :
		    vf->place == PLACE_DUP ? CST_SEG_DUPLICATE :
		    CST_SEG_UNREADABLE;
		vf->info = v->nsegs;
		if (add_seg_row(v, vf, vf->segno, vf->segno, status) != 0)
			return (CST_ENOMEM);
	}
	return (0);
}

/*
 * Replaces the mapping of file vf by a copy read whole: a collector that
 * restarts cuts a torn tail off its newest segment (R-REC-5), and touching
 * a mapped page past a new end of file would kill the process.  Returns 0
 * (also when the file cannot be read again: the mapping then stays) or
 * CST_ENOMEM.
 */
int
cst_vrf_copy_file(struct vfile *vf)
{
	uint8_t *b = NULL;
	uint64_t size;
	size_t len = 0;
	ssize_t n;
	int fd, rc;

	if (cst_file_open_read(vf->path, &fd, &size) != 0)
		return (0);
	/* What it held when opened; what was appended since is not read. */
	if ((b = malloc(size > 0 ? (size_t)size : 1)) == NULL) {
		rc = CST_ENOMEM;
		goto err0;
	}
	while (len < size) {
		n = read(fd, b + len, (size_t)size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(b);
			rc = 0;
			goto err0;
		}
		/* Shorter now: a restart cut its tail. */
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	cst_map_close(&vf->map);
	vf->copy = b;
	vf->map.p = b;
	vf->map.len = len;
	return (0);

err0:
	close(fd);
	return (rc);
}

/* Reports the files that are not part of the walk. */
void
cst_vrf_report_unplaced(cst_verifier *v)
{
	char hex[2 * CST_CHAIN_ID_LEN + 1];
	struct vfile *vf;
	struct fnd f;
	size_t i;

	for (i = 0; i < v->nfiles; i++) {
		vf = &v->files[i];
		fnd_init(&f, CST_SEV_FAILURE, CST_ECORRUPT, "R-SEG-1");
		fnd_file(&f, vf, 0);
		switch (vf->place) {
		case PLACE_FOREIGN:
			cst_hex(vf->hdr.chain_id, CST_CHAIN_ID_LEN, hex);
			f.rule = "R-SEG-3";
			f.code = CST_EFOREIGN;
			report(v, &f, "this segment belongs to another chain "
			    "(chain id %s) and is not part of the evidence",
			    hex);
			break;
		case PLACE_DUP:
			f.rule = "R-SEG-2";
			f.code = CST_ESEQ;
			report(v, &f, "a second file claims segment %" PRIu64
			    " (the chain uses %s): a duplicated or replayed "
			    "segment", vf->segno, v->files[vf->dup_of].path);
			break;
		case PLACE_UNREADABLE:
			if (vf->mapped) {
				report(v, &f, "not a segment file: its header "
				    "is invalid (%s), its name gives no "
				    "number and no block of this chain "
				    "follows it", cst_strerror(vf->hdr_rc));
			} else if (vf->hdr_rc == CST_ENOTREG) {
				f.rule = "R-SEG-7";
				f.code = vf->hdr_rc;
				report(v, &f, "not a regular file (a directory, "
				    "FIFO, device, socket or symbolic link): "
				    "not read; a store holds only regular "
				    "segment files");
			} else {
				f.sev = CST_SEV_ERROR;
				f.code = vf->hdr_rc;
				report(v, &f, "cannot read the file (%s): "
				    "nothing in it is verified",
				    cst_strerror(vf->hdr_rc));
			}
			break;
		default:
			break;
		}
	}
}

void
cst_vrf_report_changed(cst_verifier *v)
{
	struct vfile *vf;
	struct fnd f;
	size_t i;

	for (i = 0; i < v->nfiles; i++) {
		vf = &v->files[i];
		if (!vf->mapped)
			continue;
		if (vf->map.holes > 0) {
			fnd_init(&f, CST_SEV_FAILURE, CST_ECORRUPT, "R-SEG-7");
			fnd_file(&f, vf, 0);
			report(v, &f, "the file has holes (%" PRIu64 " of its %"
			    PRIu64 " bytes): a segment is written by appending "
			    "and has none; only its data was examined",
			    vf->map.holes, (uint64_t)vf->map.len);
		}
		if (!cst_map_shrank(&vf->map))
			continue;
		/* What was digested past the new end was zeros too. */
		if (vf->info < v->nsegs)
			v->segs[vf->info].has_digests = 0;
		fnd_init(&f, CST_SEV_FAILURE, CST_ETRUNC, "R-SEG-7");
		fnd_file(&f, vf, 0);
		report(v, &f, "the file shrank while it was read: what lay "
		    "past its new end was read as zeros, so no finding about "
		    "that part stands; verify the store again");
	}
}
