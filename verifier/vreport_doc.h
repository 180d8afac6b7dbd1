/*
 * The examiner's report of a verification as a document (vdoc.h), for
 * custody-verify --pdf, --html and --text.
 */
#ifndef CUSTODY_VREPORT_DOC_H
#define CUSTODY_VREPORT_DOC_H

#include "vdoc.h"
#include "vreport.h"

/*
 * Appends the report on r (borrowed; its verifier made with
 * opts.keep_audits for the timeline) to d.  Out of memory leaves d->oom
 * set.
 */
void vreport_doc(const struct vreport *r, struct vdoc *d);

#endif /* CUSTODY_VREPORT_DOC_H */
