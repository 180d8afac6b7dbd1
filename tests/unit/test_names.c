/*
 * The names generated from the list macros of record.h and verify.h: one
 * spelling per value for every tool, "-" outside the list.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "custody/record.h"
#include "custody/verify.h"

Test(names, record_kinds)
{
	static const char *want[CST_REC_KIND_MAX + 1] = { "event", "start",
	    "stop", "recovery", "key-epoch", "loss", "stats", "clock",
	    "reload", "refusal", "-", "-", "replication" };
	unsigned k;

	for (k = 0; k <= CST_REC_KIND_MAX; k++)
		cr_expect_str_eq(cst_record_kind_name(k), want[k], "kind %u",
		    k);
	cr_expect_str_eq(cst_record_kind_name(CST_REC_KIND_MAX + 1), "-");
	cr_expect_str_eq(cst_transport_name(CST_TR_UNIX), "unix");
	cr_expect_str_eq(cst_transport_name(CST_TR_MAX + 1), "-");
}

Test(names, report_enums)
{
	cr_expect_str_eq(cst_severity_name(CST_SEV_FAILURE), "failure");
	cr_expect_str_eq(cst_severity_name(CST_SEV_NOTE), "note");
	cr_expect_str_eq(cst_severity_name(-1), "-");
	cr_expect_str_eq(cst_seg_status_name(CST_SEG_VALID), "valid");
	cr_expect_str_eq(cst_seg_status_name(CST_SEG_GAP), "gap");
	cr_expect_str_eq(cst_seg_status_name(CST_SEG_UNREADABLE),
	    "unreadable");
	cr_expect_str_eq(cst_seg_status_name(CST_SEG_UNREADABLE + 1), "-");
	cr_expect_str_eq(cst_quarantine_name(CST_QUAR_OK), "matches-record");
	cr_expect_str_eq(cst_quarantine_name(CST_QUAR_BADNAME), "bad-name");
}
