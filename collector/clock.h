/*
 * The daemon's two clocks.  Records carry the real time (the clock an
 * examiner reads); intervals and deadlines use the monotonic one, which a
 * step of the real clock does not move.
 */
#ifndef CUSTODY_COLLECTOR_CLOCK_H
#define CUSTODY_COLLECTOR_CLOCK_H

#include <stdint.h>
#include <time.h>

#define NS_PER_MS INT64_C(1000000)
#define NS_PER_S INT64_C(1000000000)

/* Nanoseconds since the epoch (CLOCK_REALTIME). */
static inline int64_t
clock_real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec);
}

/* Nanoseconds of CLOCK_MONOTONIC. */
static inline int64_t
clock_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec);
}

/* Milliseconds of CLOCK_MONOTONIC. */
static inline int64_t
clock_mono_ms(void)
{

	return (clock_mono_ns() / NS_PER_MS);
}

#endif /* CUSTODY_COLLECTOR_CLOCK_H */
