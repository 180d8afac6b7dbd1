/*
 * The open-file limit against input.max_connections (fdlimit.h).
 */
#include <stdio.h>
#include <sys/resource.h>

#include "custody/error.h"

#include "fdlimit.h"

int
fdlimit_fit(uint64_t max_connections, size_t nlisten, uint64_t *limit,
    char err[FDLIMIT_ERR_LEN])
{
	struct rlimit rl;
	uint64_t need = max_connections + FDLIMIT_RESERVE + nlisten;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		snprintf(err, FDLIMIT_ERR_LEN, "getrlimit(RLIMIT_NOFILE): "
		    "failed");
		return (CST_EINVAL);
	}
	/* The soft limit is often 1024 outside systemd; the hard one more. */
	if (rl.rlim_cur != rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	*limit = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX :
	    (uint64_t)rl.rlim_cur;
	if (need <= *limit)
		return (0);
	snprintf(err, FDLIMIT_ERR_LEN, "input.max_connections = %llu needs "
	    "%llu open files (one per connection, %zu for the listeners and "
	    "%d for the store, keys, checkpoints and metrics), but the "
	    "open-file limit (RLIMIT_NOFILE, raised to the hard limit) is "
	    "%llu: set input.max_connections "
	    "to at most %llu, or raise the limit (ulimit -n, LimitNOFILE=)",
	    (unsigned long long)max_connections, (unsigned long long)need,
	    nlisten, FDLIMIT_RESERVE, (unsigned long long)*limit,
	    *limit > FDLIMIT_RESERVE + nlisten ? (unsigned long long)(*limit -
	    FDLIMIT_RESERVE - nlisten) : 0ULL);
	return (CST_EINVAL);
}
