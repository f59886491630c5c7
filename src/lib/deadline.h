/* deadline: timespec arithmetic for absolute CLOCK_MONOTONIC deadlines. */
#ifndef BROWNOUT_DEADLINE_H
#define BROWNOUT_DEADLINE_H

#include <stdint.h>
#include <time.h>

/* Add ms milliseconds to a normalised timespec (0 <= tv_nsec < 1e9). */
void deadline_add_ms(struct timespec *t, uint32_t ms);

/* <0, 0, >0 as a is before, equal to, after b. */
int deadline_cmp(const struct timespec *a, const struct timespec *b);

/* a - b in whole milliseconds, rounded towards zero. */
int64_t deadline_diff_ms(const struct timespec *a, const struct timespec *b);

/*
 * Move *next, the deadline just served, forward by interval_ms. If that is
 * not after now (the process was stopped or starved for a whole interval or
 * more), keep moving in whole intervals until it is: missed beats are skipped,
 * not emitted in a burst, and the schedule keeps its phase. Returns the number
 * of intervals skipped (0 when on time). interval_ms must be > 0.
 */
uint64_t deadline_advance(struct timespec *next, const struct timespec *now,
			  uint32_t interval_ms);

/* Sleep until the absolute CLOCK_MONOTONIC time t. Returns 0 or a negative errno (-EINTR on a signal). */
int deadline_sleep_until(const struct timespec *t);

/* The current CLOCK_MONOTONIC time. */
void deadline_now(struct timespec *t);

#endif
