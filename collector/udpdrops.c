/*
 * The kernel's UDP drop counters (see udpdrops.h).
 */
#include <stdio.h>

#include "udpdrops.h"

int
udpdrops_line(const char *line, uint64_t *inode, uint64_t *drops)
{
	unsigned long long in, dr;
	unsigned long ref;

	/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops */
	if (sscanf(line, "%*s %*s %*s %*s %*s %*s %*s %*s %*s %llu %lu "
	    "%*s %llu", &in, &ref, &dr) != 3)
		return (-1);
	*inode = in;
	*drops = dr;
	return (0);
}
