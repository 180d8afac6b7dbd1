/*
 * For a fuzz target whose code under test reads a file by its name, as
 * the program does: the one file of the process, fuzz_file_path, made
 * 0600 on first use and removed at exit.  Include it in the target's
 * one source file.
 */
#ifndef CUSTODY_FUZZFILE_H
#define CUSTODY_FUZZFILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

static char fuzz_file_path[] = "/tmp/fuzz_file.XXXXXX";
static int fuzz_file_fd = -1;

static void
fuzz_file_remove(void)
{

	unlink(fuzz_file_path);
}

/* Makes fuzz_file_path hold data[0..size) exactly. */
static void
fuzz_file_put(const uint8_t *data, size_t size)
{

	if (fuzz_file_fd == -1) {
		REQUIRE((fuzz_file_fd = mkstemp(fuzz_file_path)) != -1);
		REQUIRE(fchmod(fuzz_file_fd, 0600) == 0);
		atexit(fuzz_file_remove);
	}
	REQUIRE(ftruncate(fuzz_file_fd, 0) == 0);
	REQUIRE(size == 0 ||
	    pwrite(fuzz_file_fd, data, size, 0) == (ssize_t)size);
}

#endif /* CUSTODY_FUZZFILE_H */
