/*
 * What vreport.c shares with the two printers of a report,
 * vreport_text.c and vreport_json.c: the statements, made once so that
 * the text and the JSON say the same things.
 */
#ifndef CUSTODY_VREPORT_INT_H
#define CUSTODY_VREPORT_INT_H

#include "vreport.h"

/* Receives one statement: text (borrowed, for the call) is proven or not. */
typedef void (*vreport_stmt_fn)(int proven, const char *text, void *ctx);

/* Calls fn with ctx for each statement about r (borrowed), in order. */
void vreport_statements(const struct vreport *r, vreport_stmt_fn fn,
    void *ctx);

#endif /* CUSTODY_VREPORT_INT_H */
