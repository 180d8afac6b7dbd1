/*
 * Corpus replay: runs each file named on the command line, and each regular
 * file in each directory named, through a libFuzzer target once, so that
 * ctest keeps every corpus input as a regression test in every build,
 * without clang and under ASan.
 *
 * Each input is copied into an allocation of exactly its size, so that a
 * target reading one byte past the end is caught by ASan as it would be
 * under libFuzzer.  A missing path, an empty directory or an unreadable file
 * fails the run: a corpus that silently vanished would otherwise pass.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

/* Reads path whole into *datap (returned to free) of *sizep bytes. */
static int
read_file(const char *path, uint8_t **datap, size_t *sizep)
{
	FILE *f;
	struct stat st;
	uint8_t *data;
	size_t size;
	int saved;

	if ((f = fopen(path, "rb")) == NULL)
		goto err0;
	if (fstat(fileno(f), &st) == -1)
		goto err1;
	size = (size_t)st.st_size;
	/* For size 0 too, as libFuzzer does: ASan flags any read of it. */
	if ((data = malloc(size)) == NULL && size > 0)
		goto err1;
	if (fread(data, 1, size, f) != size || getc(f) != EOF) {
		/* Not a read error: the file changed size under us. */
		if (!ferror(f))
			errno = EIO;
		goto err2;
	}
	fclose(f);

	*datap = data;
	*sizep = size;
	return (0);

err2:
	free(data);
err1:
	saved = errno;
	fclose(f);
	errno = saved;
err0:
	fprintf(stderr, "replay: cannot read %s: %s\n", path, strerror(errno));
	return (-1);
}

static int
run_file(const char *path)
{
	uint8_t *data;
	size_t size;

	if (read_file(path, &data, &size) != 0)
		return (-1);
	/* Named first, so that a crash report says which input it was. */
	fprintf(stderr, "replay: %s (%zu bytes)\n", path, size);
	LLVMFuzzerTestOneInput(data, size);
	free(data);
	return (0);
}

static int
skip_entry(const struct dirent *e)
{

	return (e->d_name[0] != '.');
}

/* Runs every regular file in dir, in name order; adds their count to *np. */
static int
run_dir(const char *dir, size_t *np)
{
	struct dirent **entries;
	char path[PATH_MAX];
	struct stat st;
	size_t ran = 0;
	int i, n, rc = 0;

	if ((n = scandir(dir, &entries, skip_entry, alphasort)) == -1) {
		fprintf(stderr, "replay: cannot list %s: %s\n", dir,
		    strerror(errno));
		return (-1);
	}
	for (i = 0; i < n; i++) {
		if (rc == 0) {
			if (snprintf(path, sizeof(path), "%s/%s", dir,
			    entries[i]->d_name) >= (int)sizeof(path)) {
				fprintf(stderr, "replay: path too long in %s\n",
				    dir);
				rc = -1;
			} else if (stat(path, &st) == 0 &&
			    S_ISREG(st.st_mode)) {
				if (run_file(path) != 0)
					rc = -1;
				else
					ran++;
			}
		}
		free(entries[i]);
	}
	free(entries);
	if (rc == 0 && ran == 0) {
		fprintf(stderr, "replay: no inputs in %s\n", dir);
		rc = -1;
	}
	*np += ran;
	return (rc);
}

int
main(int argc, char **argv)
{
	struct stat st;
	size_t ran = 0;
	int i;

	if (argc < 2) {
		fprintf(stderr, "usage: %s corpus-dir-or-file ...\n", argv[0]);
		exit(2);
	}
	if (LLVMFuzzerInitialize != NULL)
		LLVMFuzzerInitialize(&argc, &argv);

	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) == -1) {
			fprintf(stderr, "replay: %s: %s\n", argv[i],
			    strerror(errno));
			exit(1);
		}
		if (S_ISDIR(st.st_mode)) {
			if (run_dir(argv[i], &ran) != 0)
				exit(1);
		} else {
			if (run_file(argv[i]) != 0)
				exit(1);
			ran++;
		}
	}
	printf("replay: ran %zu inputs\n", ran);
	return (0);
}
