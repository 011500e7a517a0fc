/*
 * clock - the monotonic clock, in the units the modules count in.
 *
 * Time since an arbitrary start that never goes back and does not jump
 * when the date is set: for deadlines, intervals and rate limits, never
 * for dates. The modules that decide take the time as an argument; these
 * are what the programs and event-driven modules pass them.
 */
#ifndef TLSPOLICY_CLOCK_H
#define TLSPOLICY_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t
clock_monotonic_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static inline uint64_t
clock_monotonic_ms(void)
{
	return clock_monotonic_us() / 1000;
}

#endif
