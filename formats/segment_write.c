/*
 * The segment writer (SPEC sections 3 and 9): the append-only file the
 * collector seals blocks into.
 *
 * The writer never moves backwards: a file is created with O_EXCL and
 * reopened with O_APPEND, so no byte before the end is ever rewritten
 * (R-REC-6).
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "custody/error.h"
#include "custody/format.h"
#include "custody/segment.h"
#include "fsutil.h"

struct cst_segw {
	int fd;
	uint64_t size;
};

int
cst_segw_create(const char *path, const cst_seg_hdr *h, cst_segw **out)
{
	uint8_t hdr[CST_SEG_HDR_LEN];
	cst_segw *w;
	int rc;

	if ((w = malloc(sizeof(*w))) == NULL) {
		rc = CST_ENOMEM;
		goto err0;
	}
	w->size = 0;
	if ((w->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_APPEND, 0640)) == -1) {
		rc = errno == EEXIST ? CST_EEXIST : CST_EIO;
		goto err1;
	}
	cst_seg_hdr_encode(h, hdr);
	if ((rc = cst_fs_write_all(w->fd, hdr, sizeof(hdr), &w->size)) != 0)
		goto err2;
	rc = CST_EIO;
	if (fsync(w->fd) != 0 || cst_fs_sync_dir_of(path) != 0)
		goto err2;
	*out = w;
	return (0);

err2:
	/* The file is ours alone (O_EXCL) and holds no evidence yet. */
	close(w->fd);
	unlink(path);
err1:
	free(w);
err0:
	return (rc);
}

int
cst_segw_open(const char *path, uint64_t valid_len, cst_segw **out)
{
	struct stat st;
	cst_segw *w;
	int rc;

	if ((w = malloc(sizeof(*w))) == NULL) {
		rc = CST_ENOMEM;
		goto err0;
	}
	if ((w->fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)) == -1) {
		rc = errno == ENOENT ? CST_ENOENT : CST_EIO;
		goto err1;
	}
	/*
	 * The cut (R-REC-5) must already be made: appending after bytes
	 * we were not told about would bury them inside the chain.
	 */
	rc = CST_EIO;
	if (fstat(w->fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size != valid_len)
		goto err2;
	w->size = valid_len;
	*out = w;
	return (0);

err2:
	close(w->fd);
err1:
	free(w);
err0:
	return (rc);
}

int
cst_segw_append(cst_segw *w, const uint8_t *data, size_t len)
{

	return (cst_fs_write_all(w->fd, data, len, &w->size));
}

int
cst_segw_sync(cst_segw *w)
{

	return (fdatasync(w->fd) == 0 ? 0 : CST_EIO);
}

uint64_t
cst_segw_size(const cst_segw *w)
{

	return (w->size);
}

int
cst_segw_close(cst_segw *w)
{
	int rc = 0;

	if (w == NULL)
		return (0);
	if (fdatasync(w->fd) != 0)
		rc = CST_EIO;
	if (close(w->fd) != 0)
		rc = CST_EIO;
	free(w);
	return (rc);
}
