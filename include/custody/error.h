/*
 * custody error codes.
 *
 * Every library function returns 0 on success or one negative code from
 * this list, as libuv does.  The list is one macro so that the values,
 * their names and their messages cannot drift apart.
 */
#ifndef CUSTODY_ERROR_H
#define CUSTODY_ERROR_H

#define CST_ERRNO_MAP(XX)                                                     \
	XX(EINVAL, 1, "invalid argument")                                     \
	XX(ENOMEM, 2, "out of memory")                                        \
	XX(EIO, 3, "input/output error")                                      \
	XX(ECORRUPT, 4, "malformed data")                                     \
	XX(EVERSION, 5, "unsupported format version")                         \
	XX(ESIG, 6, "signature does not verify")                              \
	XX(EHASH, 7, "hash does not match")                                   \
	XX(ECHAIN, 8, "hash chain broken")                                    \
	XX(ESEQ, 9, "sequence out of order or missing")                       \
	XX(EKEY, 10, "key is missing or malformed")                           \
	XX(EPERM, 11, "key file is readable by others")                       \
	XX(ETRUNC, 12, "data ends early")                                     \
	XX(ETOOBIG, 13, "value exceeds a limit")                              \
	XX(ENOENT, 14, "not found")                                           \
	XX(EAGAIN, 15, "not ready, try again")                                \
	XX(EPARSE, 16, "cannot parse")                                        \
	XX(ECOMPRESS, 17, "compression failed")                               \
	XX(EFOREIGN, 18, "belongs to another chain")                          \
	XX(EEXIST, 19, "already exists")                                      \
	XX(ENOTREG, 20, "not a regular file")

typedef enum {
#define CST_XX_(name, num, msg) CST_##name = -(num),
	CST_ERRNO_MAP(CST_XX_)
#undef CST_XX_
	CST_ERRNO_MIN_ = -100
} cst_errno;

/* Returns a static message for code (0 gives "success"). */
const char *cst_strerror(int code);

/* Returns the static symbolic name of code ("CST_ECORRUPT"). */
const char *cst_err_name(int code);

#endif /* CUSTODY_ERROR_H */
