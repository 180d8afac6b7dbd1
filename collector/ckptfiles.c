/*
 * Numbered checkpoints and their tokens on disk (ckptfiles.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "custody/error.h"

#include "ckptfiles.h"

#define PATH_LEN 4096

void
ckptfiles_name(uint64_t blocks, const char *ext,
    char out[CKPTFILES_NAME_LEN])
{

	snprintf(out, CKPTFILES_NAME_LEN, "ckpt-%020" PRIu64 ".%s", blocks,
	    ext);
}

/* The number of ckpt-<20 digits>.<ext>, or 0 when name is not one. */
static uint64_t
numbered(const char *name, const char *ext)
{
	uint64_t v = 0;
	size_t i;

	if (strncmp(name, "ckpt-", 5) != 0 || name[25] != '.' ||
	    strlen(name) != 26 + strlen(ext) || strcmp(name + 26, ext) != 0)
		return (0);
	for (i = 5; i < 25; i++) {
		if (name[i] < '0' || name[i] > '9' ||
		    v > (UINT64_MAX - 9) / 10)
			return (0);
		v = v * 10 + (uint64_t)(name[i] - '0');
	}
	return (v);
}

static int
is_ckpt(const struct dirent *e)
{

	return (numbered(e->d_name, "ckpt") != 0);
}

static int
is_token(const struct dirent *e)
{

	return (numbered(e->d_name, "tsr") != 0);
}

static int
is_note(const struct dirent *e)
{

	return (numbered(e->d_name, "note") != 0);
}

static void remove_one(const char *dir, uint64_t blocks, const char *ext,
    const _Atomic uint64_t *pinned);

/*
 * Deletes the files of dir that filter takes (numbered, extension ext)
 * whose checkpoint is gone: left alone by a crash between two unlinks.
 */
static void
prune_orphans(const char *dir, int (*filter)(const struct dirent *),
    const char *ext, const _Atomic uint64_t *pinned)
{
	struct dirent **ents;
	char name[CKPTFILES_NAME_LEN], path[PATH_LEN];
	struct stat st;
	uint64_t v;
	int i, n;

	if ((n = scandir(dir, &ents, filter, NULL)) < 0)
		return;
	for (i = 0; i < n; i++) {
		v = numbered(ents[i]->d_name, ext);
		ckptfiles_name(v, "ckpt", name);
		if (snprintf(path, sizeof(path), "%s/%s", dir, name) <
		    (int)sizeof(path) && lstat(path, &st) != 0 &&
		    errno == ENOENT)
			remove_one(dir, v, ext, pinned);
		free(ents[i]);
	}
	free(ents);
}

int
ckptfiles_newest(const char *dir, uint64_t *blocks)
{
	struct dirent **ents;
	uint64_t v;
	int i, n;

	*blocks = 0;
	if ((n = scandir(dir, &ents, is_ckpt, NULL)) < 0)
		return (cst_err_from_errno(errno));
	for (i = 0; i < n; i++) {
		v = numbered(ents[i]->d_name, "ckpt");
		if (v > *blocks)
			*blocks = v;
		free(ents[i]);
	}
	free(ents);
	return (0);
}

int
ckptfiles_write(const char *dir, const char *name, const uint8_t *data,
    size_t len)
{
	char tmp[PATH_LEN], path[PATH_LEN];
	ssize_t n;
	size_t off = 0;
	int fd, dfd, rc;

	if (snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name) >=
	    (int)sizeof(tmp) ||
	    snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    (int)sizeof(path))
		return (CST_ETOOBIG);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644)) == -1)
		return (cst_err_from_errno(errno));
	while (off < len) {
		if ((n = write(fd, data + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			goto err1;
		}
		off += (size_t)n;
	}
	if (fsync(fd) != 0)
		goto err1;
	if (close(fd) != 0 || rename(tmp, path) != 0)
		goto err0;
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return (cst_err_from_errno(errno));
	rc = fsync(dfd) == 0 ? 0 : cst_err_from_errno(errno);
	close(dfd);
	return (rc);

err1:
	rc = cst_err_from_errno(errno);
	close(fd);
	unlink(tmp);
	return (rc);
err0:
	rc = cst_err_from_errno(errno);
	unlink(tmp);
	return (rc);
}

/* Unlinks dir/name(blocks, ext), unless pinned. */
static void
remove_one(const char *dir, uint64_t blocks, const char *ext,
    const _Atomic uint64_t *pinned)
{
	char name[CKPTFILES_NAME_LEN], path[PATH_LEN];

	if (pinned != NULL && atomic_load(pinned) == blocks)
		return;
	ckptfiles_name(blocks, ext, name);
	if (snprintf(path, sizeof(path), "%s/%s", dir, name) <
	    (int)sizeof(path))
		unlink(path);
}

void
ckptfiles_prune(const char *dir, uint64_t keep,
    const _Atomic uint64_t *pinned)
{
	struct dirent **ents;
	uint64_t v;
	int i, n;

	if ((n = scandir(dir, &ents, is_ckpt, alphasort)) >= 0) {
		for (i = 0; i < n; i++) {
			/* Fixed-width numbers: name order is block order. */
			v = numbered(ents[i]->d_name, "ckpt");
			if ((uint64_t)(n - i) > keep) {
				remove_one(dir, v, "tsr", pinned);
				remove_one(dir, v, "note", pinned);
				remove_one(dir, v, "ckpt", pinned);
			}
			free(ents[i]);
		}
		free(ents);
	}
	/* Left alone by a crash between the unlinks (R-TSA-4, R-NOTE-7). */
	prune_orphans(dir, is_token, "tsr", pinned);
	prune_orphans(dir, is_note, "note", pinned);
}
