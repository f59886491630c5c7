/* deadline: timespec arithmetic for absolute CLOCK_MONOTONIC deadlines. */
#include "deadline.h"

#include <errno.h>

#define NS_PER_SEC 1000000000LL
#define NS_PER_MS 1000000LL

static int64_t deadline_to_ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * NS_PER_SEC + t->tv_nsec;
}

void deadline_add_ms(struct timespec *t, uint32_t ms)
{
	t->tv_sec += ms / 1000;
	t->tv_nsec += (long)(ms % 1000) * NS_PER_MS;
	if (t->tv_nsec >= NS_PER_SEC) {
		t->tv_sec++;
		t->tv_nsec -= NS_PER_SEC;
	}
}

int deadline_cmp(const struct timespec *a, const struct timespec *b)
{
	if (a->tv_sec != b->tv_sec)
		return a->tv_sec < b->tv_sec ? -1 : 1;
	if (a->tv_nsec != b->tv_nsec)
		return a->tv_nsec < b->tv_nsec ? -1 : 1;
	return 0;
}

int64_t deadline_diff_ms(const struct timespec *a, const struct timespec *b)
{
	return (deadline_to_ns(a) - deadline_to_ns(b)) / NS_PER_MS;
}

uint64_t deadline_advance(struct timespec *next, const struct timespec *now,
			  uint32_t interval_ms)
{
	int64_t late_ns, jump_ns, step_ns = (int64_t)interval_ms * NS_PER_MS;
	uint64_t skipped;

	deadline_add_ms(next, interval_ms);
	if (deadline_cmp(next, now) > 0)
		return 0;

	/* Jump in one step: a long stall must not cost a loop iteration per interval. */
	late_ns = deadline_to_ns(now) - deadline_to_ns(next);
	skipped = (uint64_t)(late_ns / step_ns) + 1;
	jump_ns = (int64_t)skipped * step_ns;
	next->tv_sec += jump_ns / NS_PER_SEC;
	next->tv_nsec += jump_ns % NS_PER_SEC;
	if (next->tv_nsec >= NS_PER_SEC) {
		next->tv_sec++;
		next->tv_nsec -= NS_PER_SEC;
	}
	return skipped;
}

int deadline_sleep_until(const struct timespec *t)
{
	/* Absolute deadlines: time spent printing and writing does not add up to drift. */
	int rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, t, NULL);

	return rc == 0 ? 0 : -rc;
}

void deadline_now(struct timespec *t)
{
	/* Cannot fail for CLOCK_MONOTONIC with a valid pointer. */
	clock_gettime(CLOCK_MONOTONIC, t);
}
