/*
 * The kernel's UDP drop counters (/proc/net/udp and /proc/net/udp6), read
 * so that datagrams the kernel dropped before custodyd could read them are
 * counted and sealed in loss records.  The file is the kernel's, but it is
 * parsed as untrusted text all the same (a fuzz target feeds it).
 */
#ifndef CUSTODY_COLLECTOR_UDPDROPS_H
#define CUSTODY_COLLECTOR_UDPDROPS_H

#include <stdint.h>

/*
 * Parses one line of /proc/net/udp (line borrowed, NUL-terminated): the
 * socket's inode and its drops column.  Returns 0, or -1 for a line that
 * is not a socket's (the header, or anything malformed).
 */
int udpdrops_line(const char *line, uint64_t *inode, uint64_t *drops);

#endif /* CUSTODY_COLLECTOR_UDPDROPS_H */
