/*
 * Durable small files (wfile.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "custody/error.h"

#include "wfile.h"

static int
sync_dir_of(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, rc = 0;

	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if ((size_t)(slash - path) >= sizeof(dir))
		return (CST_EIO);
	else
		snprintf(dir, sizeof(dir), "%.*s",
		    slash == path ? 1 : (int)(slash - path), path);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return (cst_err_from_errno(errno));
	if (fsync(fd) != 0)
		rc = cst_err_from_errno(errno);
	close(fd);
	return (rc);
}

int
wfile_replace(const char *path, const void *data, size_t len, unsigned mode)
{
	char tmp[PATH_MAX];
	const uint8_t *p = data;
	ssize_t n;
	int fd, rc;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return (CST_EIO);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)mode);
	if (fd < 0)
		return (cst_err_from_errno(errno));
	while (len > 0) {
		if ((n = write(fd, p, len)) < 0) {
			if (errno == EINTR)
				continue;
			goto err1;
		}
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) != 0)
		goto err1;
	if (close(fd) != 0) {
		rc = cst_err_from_errno(errno);
		goto err0;
	}
	if (rename(tmp, path) != 0) {
		rc = cst_err_from_errno(errno);
		goto err0;
	}
	return (sync_dir_of(path));

err1:
	rc = cst_err_from_errno(errno);
	close(fd);
err0:
	unlink(tmp);
	return (rc);
}

int
wfile_read(const char *path, void *buf, size_t cap, size_t *len)
{
	uint8_t *p = buf;
	size_t got = 0;
	ssize_t n;
	int fd, rc = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return (cst_err_from_errno(errno));
	for (;;) {
		if (got == cap) {
			uint8_t c;

			if (read(fd, &c, 1) > 0)
				rc = CST_ETOOBIG;
			break;
		}
		if ((n = read(fd, p + got, cap - got)) < 0) {
			if (errno == EINTR)
				continue;
			rc = cst_err_from_errno(errno);
			break;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	*len = got;
	return (rc);
}

int
wfile_mkdirs(const char *base, const char *sub)
{
	char path[PATH_MAX];
	size_t blen = strlen(base), i;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", base, sub) >=
	    sizeof(path))
		return (CST_EIO);
	for (i = blen + 1; ; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		char c = path[i];

		path[i] = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST)
			return (cst_err_from_errno(errno));
		path[i] = c;
		if (c == '\0')
			break;
	}
	return (0);
}
