/*
 * What the record reader (record_decode.c) and writer (record_encode.c)
 * share: the schema's sizes (SPEC section 5) and the reader's check of a
 * detail map, which the writer runs over a map it is handed so that it
 * never encodes one the reader would refuse.  Private to the format
 * library.
 */
#ifndef CUSTODY_RECORD_INT_H
#define CUSTODY_RECORD_INT_H

#include <stddef.h>
#include <stdint.h>

#include "custody/record.h"

#define RECORD_FIELDS 11
#define PARSED_FIELDS 18
#define FACILITY_MAX 23
#define SEVERITY_MAX 7

/*
 * Checks that detail[0..len) (borrowed) is exactly one detail map that
 * cst_record_decode accepts (R-REC-1) and nothing after it.  Returns 0,
 * CST_ETRUNC or CST_ECORRUPT.
 */
int cst_detail_check(const uint8_t *detail, size_t len);

#endif /* CUSTODY_RECORD_INT_H */
