/*
 * Open files: stream connections must never take the descriptors that
 * the store, the keys, checkpoints and the metrics endpoint need, or a
 * flood of connections turns into failed checkpoints, a silent /metrics
 * and a segment that cannot be created.
 */
#ifndef CUSTODY_COLLECTOR_FDLIMIT_H
#define CUSTODY_COLLECTOR_FDLIMIT_H

#include <stddef.h>
#include <stdint.h>

#define FDLIMIT_ERR_LEN 512

/*
 * Descriptors kept from connections, besides one per listener: stdio,
 * the event loop's own (epoll, async, signals), the spare descriptor of
 * the listeners, the metrics endpoint and its 16 clients, the segment
 * and its directory, a checkpoint and its copy with their directories,
 * a key rotation's files, /proc/net/udp, sd_notify -- about 35 -- and,
 * with a log key, the chain tree's level files (one per level: 31 at a
 * billion blocks, SPEC 13.4), with room to spare.
 */
#define FDLIMIT_RESERVE 128

/*
 * Raises the soft RLIMIT_NOFILE to the hard limit, then checks that
 * max_connections connections, nlisten listeners and FDLIMIT_RESERVE fit
 * under it.  Sets *limit to the limit now in force.  Returns 0, or
 * CST_EINVAL with a message naming the numbers in err.
 */
int fdlimit_fit(uint64_t max_connections, size_t nlisten, uint64_t *limit,
    char err[FDLIMIT_ERR_LEN]);

#endif /* CUSTODY_COLLECTOR_FDLIMIT_H */
