/*
 * The names of the library's enumerations, each generated from its one
 * list macro (record.h, verify.h), as error.c does for the error codes.
 * The static assertions keep each list's values equal to its enum's.
 */
#include "custody/record.h"
#include "custody/verify.h"

#define CST_CHECK_(prefix, name, num)                                         \
	_Static_assert(prefix##name == (num), #prefix #name " is " #num);

#define CST_KIND_(name, num, str) CST_CHECK_(CST_REC_, name, num)
CST_RECORD_KIND_MAP(CST_KIND_)
#undef CST_KIND_
#define CST_TR_(name, num, str) CST_CHECK_(CST_TR_, name, num)
CST_TRANSPORT_MAP(CST_TR_)
#undef CST_TR_
#define CST_SEV_(name, num, str) CST_CHECK_(CST_SEV_, name, num)
CST_SEVERITY_MAP(CST_SEV_)
#undef CST_SEV_
#define CST_SEG_(name, num, str) CST_CHECK_(CST_SEG_, name, num)
CST_SEG_STATUS_MAP(CST_SEG_)
#undef CST_SEG_
#define CST_QUAR_(name, num, str) CST_CHECK_(CST_QUAR_, name, num)
CST_QUARANTINE_MAP(CST_QUAR_)
#undef CST_QUAR_

/* One case per entry of a list macro. */
#define CST_CASE_(name, num, str)                                             \
	case (num):                                                           \
		return (str);

const char *
cst_record_kind_name(unsigned kind)
{

	switch (kind) {
		CST_RECORD_KIND_MAP(CST_CASE_)
	}
	return ("-");
}

const char *
cst_transport_name(unsigned t)
{

	switch (t) {
		CST_TRANSPORT_MAP(CST_CASE_)
	}
	return ("-");
}

const char *
cst_severity_name(int severity)
{

	switch (severity) {
		CST_SEVERITY_MAP(CST_CASE_)
	}
	return ("-");
}

const char *
cst_seg_status_name(int status)
{

	switch (status) {
		CST_SEG_STATUS_MAP(CST_CASE_)
	}
	return ("-");
}

const char *
cst_quarantine_name(int state)
{

	switch (state) {
		CST_QUARANTINE_MAP(CST_CASE_)
	}
	return ("-");
}
