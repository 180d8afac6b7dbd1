/*
 * Whole files, written so that a reader never sees half of one.
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "fileout.h"

int
fileout_write(const char *path, const uint8_t *p, size_t len, int excl)
{
	char tmp[4200];
	FILE *f;
	int e;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	if ((f = fopen(tmp, "wbx")) == NULL)
		return (-1);
	if (fwrite(p, 1, len, f) != len || fflush(f) != 0 ||
	    fsync(fileno(f)) != 0) {
		e = errno;
		fclose(f);
		unlink(tmp);
		errno = e;
		return (-1);
	}
	if (fclose(f) != 0 ||
	    (excl ? link(tmp, path) : rename(tmp, path)) != 0) {
		e = errno;
		unlink(tmp);
		errno = e;
		return (-1);
	}
	if (excl)
		unlink(tmp);
	return (0);
}
