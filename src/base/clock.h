/* Time units and the monotonic clock.
 *
 * vpf measures every interval on CLOCK_MONOTONIC (the clock its timerfds are created
 * on), in nanoseconds as a uint64_t: 2^64 ns is 584 years of uptime. The conversions
 * below are the only place a struct timespec is taken apart or built.
 *
 * Threads: any; no state. */
#ifndef VPF_BASE_CLOCK_H
#define VPF_BASE_CLOCK_H

#include <stdint.h>
#include <time.h>

#define NSEC_PER_USEC 1000ull
#define NSEC_PER_MSEC 1000000ull
#define NSEC_PER_SEC 1000000000ull

static inline uint64_t timespec_to_ns(const struct timespec *ts)
{
    return (uint64_t)ts->tv_sec * NSEC_PER_SEC + (uint64_t)ts->tv_nsec;
}

static inline struct timespec ns_to_timespec(uint64_t ns)
{
    return (struct timespec){ .tv_sec = (time_t)(ns / NSEC_PER_SEC),
                              .tv_nsec = (long)(ns % NSEC_PER_SEC) };
}

/* CLOCK_MONOTONIC now, in ns. */
static inline uint64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return timespec_to_ns(&ts);
}

#endif
