/* Tests for deadline: timespec arithmetic for the heartbeat schedule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "deadline.h"

static struct timespec ts(time_t sec, long nsec)
{
	return (struct timespec){ .tv_sec = sec, .tv_nsec = nsec };
}

static void assert_ts(const struct timespec *t, time_t sec, long nsec)
{
	assert_int_equal(t->tv_sec, sec);
	assert_int_equal(t->tv_nsec, nsec);
}

static void test_add_ms_carries(void **state)
{
	struct timespec t = ts(5, 0);

	(void)state;
	deadline_add_ms(&t, 0);
	assert_ts(&t, 5, 0);
	deadline_add_ms(&t, 999);
	assert_ts(&t, 5, 999000000);
	deadline_add_ms(&t, 1);
	assert_ts(&t, 6, 0);

	t = ts(1, 999999999);
	deadline_add_ms(&t, 1);
	assert_ts(&t, 2, 999999);

	t = ts(0, 500000000);
	deadline_add_ms(&t, 1500);
	assert_ts(&t, 2, 0);

	t = ts(0, 999999999);
	deadline_add_ms(&t, UINT32_MAX);	/* 4294967.295 s */
	assert_ts(&t, 4294968, 294999999);
}

static void test_cmp(void **state)
{
	struct timespec a = ts(1, 500), b = ts(2, 0), c = ts(1, 600);

	(void)state;
	assert_true(deadline_cmp(&a, &b) < 0);
	assert_true(deadline_cmp(&b, &a) > 0);
	assert_true(deadline_cmp(&a, &c) < 0);
	assert_true(deadline_cmp(&c, &a) > 0);
	assert_int_equal(deadline_cmp(&a, &a), 0);
}

static void test_diff_ms(void **state)
{
	struct timespec a = ts(10, 0), b = ts(9, 900000000);
	struct timespec c = ts(10, 1999999), d = ts(9, 998500000);

	(void)state;
	assert_int_equal(deadline_diff_ms(&a, &b), 100);
	assert_int_equal(deadline_diff_ms(&b, &a), -100);
	assert_int_equal(deadline_diff_ms(&c, &a), 1);	/* 1.999999 ms */
	assert_int_equal(deadline_diff_ms(&d, &a), -1);	/* -1.5 ms, towards zero */
	assert_int_equal(deadline_diff_ms(&a, &a), 0);
}

static void test_advance_on_time(void **state)
{
	struct timespec next = ts(10, 950000000), now = ts(10, 960000000);

	(void)state;
	assert_int_equal(deadline_advance(&next, &now, 100), 0);
	assert_ts(&next, 11, 50000000);
}

static void test_advance_exactly_one_interval_late(void **state)
{
	/* The new deadline would equal now: that beat is missed, the next one is due. */
	struct timespec next = ts(10, 0), now = ts(10, 100000000);

	(void)state;
	assert_int_equal(deadline_advance(&next, &now, 100), 1);
	assert_ts(&next, 10, 200000000);
}

static void test_advance_after_long_stall_keeps_phase(void **state)
{
	struct timespec next = ts(100, 30000000), now = ts(3700, 31000000);

	(void)state;
	/* One hour stopped: 36000 beats are skipped in one step, phase stays at .x30 s. */
	assert_int_equal(deadline_advance(&next, &now, 100), 36000);
	assert_ts(&next, 3700, 130000000);
	assert_true(deadline_cmp(&next, &now) > 0);
}

static void test_advance_with_clock_behind(void **state)
{
	struct timespec next = ts(10, 0), now = ts(9, 0);

	(void)state;
	assert_int_equal(deadline_advance(&next, &now, 250), 0);
	assert_ts(&next, 10, 250000000);
}

static void test_advance_carries_nsec(void **state)
{
	struct timespec next = ts(0, 900000000), now = ts(2, 850000000);

	(void)state;
	assert_int_equal(deadline_advance(&next, &now, 300), 6);
	assert_ts(&next, 3, 0);
}

static void test_sleep_until(void **state)
{
	struct timespec start, end, t;

	(void)state;
	deadline_now(&start);
	t = start;
	assert_int_equal(deadline_sleep_until(&t), 0);	/* in the past: returns at once */
	deadline_add_ms(&t, 30);
	assert_int_equal(deadline_sleep_until(&t), 0);
	deadline_now(&end);
	assert_true(deadline_cmp(&end, &t) >= 0);
	assert_true(deadline_diff_ms(&end, &start) >= 30);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_ms_carries),
		cmocka_unit_test(test_cmp),
		cmocka_unit_test(test_diff_ms),
		cmocka_unit_test(test_advance_on_time),
		cmocka_unit_test(test_advance_exactly_one_interval_late),
		cmocka_unit_test(test_advance_after_long_stall_keeps_phase),
		cmocka_unit_test(test_advance_with_clock_behind),
		cmocka_unit_test(test_advance_carries_nsec),
		cmocka_unit_test(test_sleep_until),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
