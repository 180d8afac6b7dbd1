#include <errno.h>

#include "custody/error.h"

const char *
cst_strerror(int code)
{
	switch (code) {
	case 0:
		return "success";
#define CST_XX_(name, num, msg)                                               \
	case -(num):                                                          \
		return msg;
		CST_ERRNO_MAP(CST_XX_)
#undef CST_XX_
	}
	return "unknown error";
}

const char *
cst_err_name(int code)
{
	switch (code) {
	case 0:
		return "CST_OK";
#define CST_XX_(name, num, msg)                                               \
	case -(num):                                                          \
		return "CST_" #name;
		CST_ERRNO_MAP(CST_XX_)
#undef CST_XX_
	}
	return "CST_EUNKNOWN";
}

int
cst_err_from_errno(int errnum)
{

	switch (errnum) {
	case ENOSPC:
#ifdef EDQUOT
	case EDQUOT:
#endif
		return (CST_ENOSPC);
	case EACCES:
	case EPERM:
		return (CST_EACCES);
	case EMFILE:
	case ENFILE:
		return (CST_EMFILE);
	case EROFS:
		return (CST_EROFS);
	case ENOENT:
		return (CST_ENOENT);
	case EEXIST:
		return (CST_EEXIST);
	case ENOMEM:
		return (CST_ENOMEM);
	}
	return (CST_EIO);
}
