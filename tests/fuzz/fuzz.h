/*
 * What the fuzz targets share: libFuzzer's entry point, and REQUIRE for
 * a property a target checks, which aborts (so that libFuzzer and the
 * corpus replay both stop on it) naming the file, line and condition.
 */
#ifndef CUSTODY_FUZZ_H
#define CUSTODY_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define REQUIRE(cond) do {                                                    \
	if (!(cond)) {                                                        \
		fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond);    \
		abort();                                                      \
	}                                                                     \
} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif /* CUSTODY_FUZZ_H */
