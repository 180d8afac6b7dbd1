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
