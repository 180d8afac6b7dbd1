/*
 * `custodyd status`'s reading of the counters (collector/status.c): the
 * sums, and the per-witness lines of SPEC section 14's submitter.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "status.h"

Test(status, witness_lines_per_witness)
{
	static const char text[] =
	    "# HELP custody_received_total x\n"
	    "custody_received_total{listener=\"tcp://a\"} 5\n"
	    "custody_received_total{listener=\"tls://b\"} 7\n"
	    "custody_witness_submissions_total{witness=\"w.test/b\"} 9\n"
	    "custody_witness_failures_total{witness=\"w.test/b\"} 2\n"
	    "custody_witness_failures_total{witness=\"w.test/c\"} 4\n"
	    "custody_witness_cosigned_size{witness=\"w.test/b\"} 120\n"
	    "custody_witness_cosigned_size{witness=\"w.test/c\"} 0\n"
	    "custody_witness_cosigned_age_seconds{witness=\"w.test/b\"} 3\n"
	    "custody_witness_cosigned_age_seconds{witness=\"w.test/c\"} -1\n"
	    "custody_witness_stale 1\n";
	struct status_counts c;

	status_parse(text, sizeof(text) - 1, &c);
	cr_assert_eq(c.received, 12);
	cr_assert_eq(c.nwitness, 2);
	cr_assert_str_eq(c.witness[0].name, "w.test/b");
	cr_assert_eq(c.witness[0].cosigned_size, 120);
	cr_assert_eq(c.witness[0].age_s, 3);
	cr_assert_eq(c.witness[0].failures, 2);
	cr_assert_str_eq(c.witness[1].name, "w.test/c");
	cr_assert_eq(c.witness[1].age_s, -1);
	cr_assert_eq(c.witness[1].failures, 4);
	cr_assert_eq(c.witness_stale, 1);
}
