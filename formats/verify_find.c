/*
 * Findings (see verify_int.h): the stages describe a finding in a struct
 * fnd; here it is formatted, merged with the one before when it continues
 * it (coalesce), counted and handed to the caller in chain order.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "custody/error.h"
#include "verify_int.h"

static void
deliver(cst_verifier *v, const cst_finding *f)
{

	switch (f->severity) {
	case CST_SEV_FAILURE:
		v->sum.failures++;
		break;
	case CST_SEV_ERROR:
		v->sum.errors++;
		break;
	case CST_SEV_WARNING:
		v->sum.warnings++;
		break;
	default:
		v->sum.notes++;
		break;
	}
	if (v->cb != NULL)
		v->cb(f, v->ctx);
}

void
cst_vrf_flush_pending(cst_verifier *v)
{
	struct pending *p = &v->pend;
	char *d;

	if (!p->active)
		return;
	if (p->count > 1 && asprintf(&d, "%s (%" PRIu64 " frames)",
	    p->detail, p->count) >= 0) {
		free(p->detail);
		p->detail = d;
	}
	p->f.detail = p->detail;
	deliver(v, &p->f);
	free(p->detail);
	p->detail = NULL;
	p->active = 0;
}

static int
can_merge(const struct pending *p, const cst_finding *f, int coal,
    const char *detail)
{

	if (!p->active || p->coal == COAL_NONE || coal != p->coal)
		return (0);
	if (p->f.severity != f->severity || p->f.code != f->code ||
	    strcmp(p->f.rule, f->rule) != 0 || p->f.file != f->file ||
	    p->f.segment_no != f->segment_no ||
	    strcmp(p->detail, detail) != 0)
		return (0);
	if (coal == COAL_BLOCKS && (p->f.block_last == CST_NONE ||
	    f->block_no == CST_NONE || p->f.block_last == UINT64_MAX - 1 ||
	    f->block_no != p->f.block_last + 1))
		return (0);
	return (1);
}

/* Widens the range [*lo, *hi] to cover [lo2, hi2]; CST_NONE is none. */
static void
widen(uint64_t *lo, uint64_t *hi, uint64_t lo2, uint64_t hi2)
{

	if (lo2 == CST_NONE || hi2 == CST_NONE)
		return;
	if (*lo == CST_NONE || *hi == CST_NONE) {
		*lo = lo2;
		*hi = hi2;
		return;
	}
	if (lo2 < *lo)
		*lo = lo2;
	if (hi2 > *hi)
		*hi = hi2;
}

/* Hands finding f with text detail (taken) to the caller, in order. */
void
cst_vrf_emit(cst_verifier *v, const struct fnd *in, char *detail)
{
	struct pending *p = &v->pend;
	cst_finding f;

	if (detail == NULL) {
		v->rc = CST_ENOMEM;
		return;
	}
	f.severity = in->sev;
	f.code = in->code;
	f.rule = in->rule;
	f.file = in->file != NULL ? in->file->path : in->path;
	f.segment_no = in->segno;
	f.offset = in->off;
	f.block_no = in->b0;
	f.block_last = in->b1;
	f.seq_first = in->s0;
	f.seq_last = in->s1;
	f.detail = detail;
	if (in->sev == CST_SEV_FAILURE && in->file != NULL && !in->gap &&
	    in->file->info < v->nsegs)
		v->segs[in->file->info].failures++;

	if (can_merge(p, &f, in->coal, detail)) {
		/* The ranges span both: in file order blocks may go back. */
		widen(&p->f.block_no, &p->f.block_last, f.block_no,
		    f.block_last);
		widen(&p->f.seq_first, &p->f.seq_last, f.seq_first,
		    f.seq_last);
		p->count++;
		free(detail);
		return;
	}
	cst_vrf_flush_pending(v);
	if (in->coal == COAL_NONE) {
		f.detail = detail;
		deliver(v, &f);
		free(detail);
		return;
	}
	p->active = 1;
	p->f = f;
	p->detail = detail;
	p->coal = in->coal;
	p->count = 1;
}
