/*
 * Helpers the unit tests share.  static inline: each test is its own
 * program and uses only some of them.
 */
#ifndef CUSTODY_TESTUTIL_H
#define CUSTODY_TESTUTIL_H

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Removes path and everything below it, as `rm -rf` would, quietly. */
static inline void
test_rm_tree(const char *path)
{
	char sub[512];
	struct dirent *de;
	struct stat sb;
	DIR *d;

	if (lstat(path, &sb) != 0)
		return;
	if (S_ISDIR(sb.st_mode) && (d = opendir(path)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			/* A path too long to build is left, not cut short. */
			if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", path,
			    de->d_name) >= sizeof(sub))
				continue;
			test_rm_tree(sub);
		}
		closedir(d);
		rmdir(path);
	} else
		unlink(path);
}

#endif /* CUSTODY_TESTUTIL_H */
