/* Tests for probe: the health verdict from successive status reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>

#include "probe.h"

static struct status st(uint64_t seq, bool healthy, pid_t pid)
{
	struct status s = { .version = "2", .seq = seq, .healthy = healthy, .pid = pid };

	return s;
}

static enum probe_verdict feed(struct probe *p, uint64_t seq, bool healthy, pid_t pid)
{
	struct status s = st(seq, healthy, pid);

	return probe_feed(p, 0, &s);
}

static void test_pass_when_seq_advances(void **state)
{
	struct probe p;

	(void)state;
	probe_init(&p);
	assert_int_equal(feed(&p, 5, true, 10), PROBE_WAIT);
	assert_int_equal(feed(&p, 5, true, 10), PROBE_WAIT);
	assert_int_equal(feed(&p, 6, true, 10), PROBE_PASS);
	assert_string_equal(p.reason, "ok");
	assert_string_equal(p.version, "2");
}

static void test_unhealthy_fails_once_alive(void **state)
{
	struct probe p;

	(void)state;
	probe_init(&p);
	assert_int_equal(feed(&p, 0, false, 10), PROBE_WAIT);
	assert_int_equal(feed(&p, 1, false, 10), PROBE_FAIL);
	assert_string_equal(p.reason, "unhealthy");
}

static void test_health_judged_on_latest_read(void **state)
{
	struct probe p;

	(void)state;
	probe_init(&p);
	assert_int_equal(feed(&p, 0, false, 10), PROBE_WAIT);
	assert_int_equal(feed(&p, 3, true, 10), PROBE_PASS);
}

static void test_missing_file_then_timeout(void **state)
{
	struct probe p;

	(void)state;
	probe_init(&p);
	assert_int_equal(probe_feed(&p, -ENOENT, NULL), PROBE_WAIT);
	assert_int_equal(probe_feed(&p, -ENOENT, NULL), PROBE_WAIT);
	assert_int_equal(probe_timeout(&p), PROBE_FAIL);
	assert_string_equal(p.reason, "no-status");
	assert_string_equal(p.version, "unknown");
}

static void test_file_appears_late(void **state)
{
	struct probe p;

	(void)state;
	probe_init(&p);
	assert_int_equal(probe_feed(&p, -ENOENT, NULL), PROBE_WAIT);
	assert_int_equal(feed(&p, 0, true, 10), PROBE_WAIT);
	assert_int_equal(feed(&p, 1, true, 10), PROBE_PASS);
}

static void test_stale_seq(void **state)
{
	struct probe p;

	(void)state;
	probe_init(&p);
	for (int i = 0; i < 5; i++)
		assert_int_equal(feed(&p, 9, true, 10), PROBE_WAIT);
	assert_int_equal(probe_timeout(&p), PROBE_FAIL);
	assert_string_equal(p.reason, "stale");
	assert_string_equal(p.version, "2");
}

static void test_vanished_file_after_read_is_stale(void **state)
{
	struct probe p;

	(void)state;
	probe_init(&p);
	assert_int_equal(feed(&p, 9, true, 10), PROBE_WAIT);
	assert_int_equal(probe_feed(&p, -ENOENT, NULL), PROBE_WAIT);
	assert_int_equal(probe_timeout(&p), PROBE_FAIL);
	assert_string_equal(p.reason, "stale");
}

static void test_restart_rebases(void **state)
{
	struct probe p;

	(void)state;
	probe_init(&p);
	assert_int_equal(feed(&p, 50, true, 10), PROBE_WAIT);
	/* New pid with a higher seq is not proof that either process is alive. */
	assert_int_equal(feed(&p, 70, true, 11), PROBE_WAIT);
	assert_int_equal(feed(&p, 71, true, 11), PROBE_PASS);
}

static void test_seq_going_back_rebases(void **state)
{
	struct probe p;

	(void)state;
	probe_init(&p);
	assert_int_equal(feed(&p, 50, true, 10), PROBE_WAIT);
	assert_int_equal(feed(&p, 3, true, 10), PROBE_WAIT);
	assert_int_equal(feed(&p, 4, true, 10), PROBE_PASS);
}

static void test_garbled_and_unreadable_fail_at_once(void **state)
{
	struct probe p;

	(void)state;
	probe_init(&p);
	assert_int_equal(probe_feed(&p, -EINVAL, NULL), PROBE_FAIL);
	assert_string_equal(p.reason, "garbled");
	probe_init(&p);
	assert_int_equal(feed(&p, 1, true, 10), PROBE_WAIT);
	assert_int_equal(probe_feed(&p, -EFBIG, NULL), PROBE_FAIL);
	assert_string_equal(p.reason, "garbled");
	assert_string_equal(p.version, "2");
	probe_init(&p);
	assert_int_equal(probe_feed(&p, -EACCES, NULL), PROBE_FAIL);
	assert_string_equal(p.reason, "unreadable");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pass_when_seq_advances),
		cmocka_unit_test(test_unhealthy_fails_once_alive),
		cmocka_unit_test(test_health_judged_on_latest_read),
		cmocka_unit_test(test_missing_file_then_timeout),
		cmocka_unit_test(test_file_appears_late),
		cmocka_unit_test(test_stale_seq),
		cmocka_unit_test(test_vanished_file_after_read_is_stale),
		cmocka_unit_test(test_restart_rebases),
		cmocka_unit_test(test_seq_going_back_rebases),
		cmocka_unit_test(test_garbled_and_unreadable_fail_at_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
