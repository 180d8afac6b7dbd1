/*
 * custody error codes.
 *
 * Every library function returns 0 on success or one negative code from
 * this list, as libuv does.  The list is one macro so that the values,
 * their names and their messages cannot drift apart.  A failed system call
 * is reported with cst_err_from_errno(errno), not a bare CST_EIO: a full
 * disk, a permission or the fd limit each need a different remedy.
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
	XX(ENOTREG, 20, "not a regular file")                                 \
	XX(ENOSPC, 21, "no space left on device (or quota exceeded)")         \
	XX(EACCES, 22, "permission denied")                                   \
	XX(EMFILE, 23, "too many open files")                                 \
	XX(EROFS, 24, "read-only file system")

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

/*
 * Returns the code for the errno value errnum of a failed system call, so
 * that the cause goes with the error to where it is reported: ENOSPC and
 * EDQUOT give CST_ENOSPC, EACCES and EPERM CST_EACCES, EMFILE and ENFILE
 * CST_EMFILE, EROFS CST_EROFS, ENOENT CST_ENOENT, EEXIST CST_EEXIST,
 * ENOMEM CST_ENOMEM; any other (EIO itself, or 0) CST_EIO.
 */
int cst_err_from_errno(int errnum);

#endif /* CUSTODY_ERROR_H */
