/*
 * The one error list: every code has its own name and message, and a
 * failed system call keeps its cause (a full disk, a permission, the fd
 * limit) instead of becoming a bare "input/output error".
 */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "custody/error.h"

Test(error, errno_keeps_its_cause)
{
	static const struct {
		int errnum;
		int code;
		const char *name;
		const char *says;
	} cases[] = {
		{ ENOSPC, CST_ENOSPC, "CST_ENOSPC", "no space left" },
		{ EDQUOT, CST_ENOSPC, "CST_ENOSPC", "quota" },
		{ EACCES, CST_EACCES, "CST_EACCES", "permission denied" },
		{ EPERM, CST_EACCES, "CST_EACCES", "permission denied" },
		{ EMFILE, CST_EMFILE, "CST_EMFILE", "too many open files" },
		{ ENFILE, CST_EMFILE, "CST_EMFILE", "too many open files" },
		{ EROFS, CST_EROFS, "CST_EROFS", "read-only" },
		{ ENOENT, CST_ENOENT, "CST_ENOENT", "not found" },
		{ EEXIST, CST_EEXIST, "CST_EEXIST", "already exists" },
		{ ENOMEM, CST_ENOMEM, "CST_ENOMEM", "out of memory" },
		{ EIO, CST_EIO, "CST_EIO", "input/output" },
		{ EFBIG, CST_EIO, "CST_EIO", "input/output" },
		{ 0, CST_EIO, "CST_EIO", "input/output" },
	};
	size_t i;
	int rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rc = cst_err_from_errno(cases[i].errnum);
		cr_assert_eq(rc, cases[i].code, "%s: %d, want %d",
		    strerror(cases[i].errnum), rc, cases[i].code);
		cr_assert_str_eq(cst_err_name(rc), cases[i].name);
		cr_assert_not_null(strstr(cst_strerror(rc), cases[i].says),
		    "%s says \"%s\"", cases[i].name, cst_strerror(rc));
	}
}

/* Every code of the list, known by its name; the list ends before -100. */
static int
known(int code)
{

	return (strcmp(cst_err_name(code), "CST_EUNKNOWN") != 0);
}

Test(error, names_and_messages_are_distinct)
{
	int a, b, n = 0;

	cr_assert_str_eq(cst_strerror(0), "success");
	cr_assert_str_eq(cst_err_name(0), "CST_OK");
	cr_assert_str_eq(cst_err_name(-100), "CST_EUNKNOWN");
	cr_assert_str_eq(cst_strerror(-100), "unknown error");
	for (a = -1; a > -100; a--) {
		if (!known(a))
			continue;
		n++;
		cr_assert_str_neq(cst_strerror(a), "unknown error");
		for (b = a + 1; b < 0; b++)
			if (known(b)) {
				cr_assert_str_neq(cst_err_name(a),
				    cst_err_name(b));
				cr_assert_str_neq(cst_strerror(a),
				    cst_strerror(b));
			}
	}
	cr_assert_geq(n, 23, "only %d codes", n);
}
