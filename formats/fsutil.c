/*
 * Durable file writes: a file's bytes survive a crash only once fsync'd,
 * and a new name for it only once its directory is fsync'd as well.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "custody/error.h"
#include "fsutil.h"

int
cst_fs_write_all(int fd, const uint8_t *data, size_t len, uint64_t *written)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, data, len)) == -1) {
			if (errno == EINTR)
				continue;
			return (cst_err_from_errno(errno));
		}
		data += n;
		len -= (size_t)n;
		if (written != NULL)
			*written += (uint64_t)n;
	}
	return (0);
}

int
cst_fs_sync_dir(const char *dir)
{
	int fd, rc = 0;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		rc = cst_err_from_errno(errno);
		goto err0;
	}
	if (fsync(fd) != 0)
		rc = cst_err_from_errno(errno);
	close(fd);
err0:
	return (rc);
}

int
cst_fs_sync_dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int rc = CST_EIO;

	if (slash == NULL)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (dir == NULL)
		goto err0;
	rc = cst_fs_sync_dir(dir);
	free(dir);
err0:
	return (rc);
}
