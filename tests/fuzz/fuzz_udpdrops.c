/*
 * Fuzz target for the reader of the kernel's UDP drop counters
 * (collector/udpdrops.c): the input is a /proc/net/udp file, read line by
 * line as the collector reads it (fgets into 512 bytes).  A line that
 * parses gives back the same inode and drops when the kernel's format is
 * written again from them.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "udpdrops.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char line[512], again[512];
	uint64_t inode, drops, i2, d2;
	FILE *f;

	if (size == 0 || (f = fmemopen((void *)(uintptr_t)data, size, "r")) ==
	    NULL)
		return (0);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (udpdrops_line(line, &inode, &drops) != 0)
			continue;
		snprintf(again, sizeof(again), "  1: 0100007F:0202 "
		    "00000000:0000 07 00000000:00000000 00:00000000 00000000 "
		    "0 0 %" PRIu64 " 2 0000000000000000 %" PRIu64 "\n", inode,
		    drops);
		REQUIRE(udpdrops_line(again, &i2, &d2) == 0);
		REQUIRE(i2 == inode && d2 == drops);
	}
	fclose(f);
	return (0);
}
