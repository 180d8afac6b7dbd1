/*
 * Helpful errors for a path that is not a store: see store_where.h.
 * Only names are read (a directory listing, eight bytes of magic); the
 * store itself is checked by query_store.c and custody-verify.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "custody/segment.h"

#include "store_where.h"

/* SPEC section 11: the magic of an evidence bundle (R-BND-1). */
static const char bundle_magic[8] = "CUSTBND";
/* SPEC section 3: the magic of a segment file (R-SEG-1). */
static const char segment_magic[8] = "CUSTSEG";

/* At most this many stores are named; more are counted. */
#define WHERE_MAX_NAMED 4

static int
has_segments(const char *dir)
{
	char p[4096];
	struct stat st;

	if ((size_t)snprintf(p, sizeof(p), "%s/segments", dir) >= sizeof(p))
		return (0);
	return (stat(p, &st) == 0 && S_ISDIR(st.st_mode));
}

/* The first eight bytes of path, or -1. */
static int
magic(const char *path, char m[8])
{
	FILE *f;
	size_t n;

	if (cst_file_open_named(path, "rb", &f) != 0)
		return (-1);
	n = fread(m, 1, 8, f);
	fclose(f);
	return (n == 8 ? 0 : -1);
}

int
store_where_bundle(const char *path, char *why, size_t len)
{
	char m[8];

	if (magic(path, m) != 0 || memcmp(m, bundle_magic, 8) != 0)
		return (0);
	snprintf(why, len, "%s is an evidence bundle, not a store; read it "
	    "with: custody-verify --bundle %s --root ROOT.pub --records",
	    path, path);
	return (-1);
}

struct found {
	char names[WHERE_MAX_NAMED][4096];
	size_t n;
};

/* Adds the stores below dir, depth levels deep at most, to fd. */
static void
search(const char *dir, int depth, struct found *fd)
{
	struct dirent *de;
	struct stat st;
	char p[4096];
	DIR *d;

	if (depth == 0 || (d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(p, sizeof(p), "%s%s%s", dir,
		    dir[strlen(dir) - 1] == '/' ? "" : "/", de->d_name) >=
		    sizeof(p))
			continue;
		if (lstat(p, &st) != 0 || !S_ISDIR(st.st_mode))
			continue;
		if (has_segments(p)) {
			if (fd->n < WHERE_MAX_NAMED)
				snprintf(fd->names[fd->n], sizeof(fd->names[0]),
				    "%s", p);
			fd->n++;
		} else {
			search(p, depth - 1, fd);
		}
	}
	closedir(d);
}

int
store_where_explain(const char *path, char *why, size_t len)
{
	struct found *fd;
	struct stat st;
	size_t i, off;
	char m[8];

	if (stat(path, &st) != 0) {
		snprintf(why, len, "%s: %s", path, strerror(errno));
		return (-1);
	}
	if (S_ISREG(st.st_mode)) {
		if (store_where_bundle(path, why, len) != 0)
			return (-1);
		if (magic(path, m) == 0 && memcmp(m, segment_magic, 8) == 0)
			snprintf(why, len, "%s is a segment file; give the "
			    "store directory that holds segments/", path);
		else
			snprintf(why, len, "%s is a file, not a store "
			    "directory", path);
		return (-1);
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, len, "%s is not a store directory", path);
		return (-1);
	}
	if (has_segments(path))
		return (0);
	if ((fd = calloc(1, sizeof(*fd))) == NULL) {
		snprintf(why, len, "no segments/ in %s: not a store", path);
		return (-1);
	}
	search(path, 2, fd);
	off = (size_t)snprintf(why, len, "no segments/ in %s", path);
	for (i = 0; i < fd->n && i < WHERE_MAX_NAMED && off < len; i++)
		off += (size_t)snprintf(why + off, len - off, "%s%s",
		    i == 0 ? (fd->n == 1 ? "; a store is at " :
		    "; stores are at ") : ", ", fd->names[i]);
	if (fd->n > WHERE_MAX_NAMED && off < len)
		off += (size_t)snprintf(why + off, len - off, " and %zu more",
		    fd->n - WHERE_MAX_NAMED);
	if (fd->n == 0 && off < len)
		snprintf(why + off, len - off, ": not a store, and none "
		    "is below it");
	free(fd);
	return (-1);
}
