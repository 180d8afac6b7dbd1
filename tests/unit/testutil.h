/*
 * Helpers the unit tests share.  static inline: each test is its own
 * program and uses only some of them.
 */
#ifndef CUSTODY_TESTUTIL_H
#define CUSTODY_TESTUTIL_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

/* Makes a new directory /tmp/<name>.XXXXXX; its path goes to dir. */
static inline void
test_tmpdir(char *dir, size_t len, const char *name)
{
	cr_assert((size_t)snprintf(dir, len, "/tmp/%s.XXXXXX", name) < len);
	cr_assert_not_null(mkdtemp(dir));
}

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

/*
 * One page of memory between two PROT_NONE pages, so that any byte read
 * or written just outside it faults; free with test_fenced_free.
 */
static inline uint8_t *
test_fenced_page(void)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	uint8_t *m;

	m = mmap(NULL, 3 * pg, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert(m != MAP_FAILED);
	cr_assert(mprotect(m, pg, PROT_NONE) == 0);
	cr_assert(mprotect(m + 2 * pg, pg, PROT_NONE) == 0);
	return (m + pg);
}

static inline void
test_fenced_free(uint8_t *page)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);

	cr_assert(munmap(page - pg, 3 * pg) == 0);
}

#endif /* CUSTODY_TESTUTIL_H */
