/*
 * Tests for selftest. Built twice: against the good self-test, and with
 * -DAPP_SELFTEST_BROKEN against the v2-bad one, which must fail.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>

#include "app/selftest.h"

static void test_crc32_empty(void **state)
{
	(void)state;
	/* No bits go through the polynomial, so even the broken one agrees. */
	assert_int_equal(selftest_crc32("", 0), 0);
}

#ifndef APP_SELFTEST_BROKEN

static void test_crc32_known_answers(void **state)
{
	(void)state;
	assert_int_equal(selftest_crc32("123456789", 9), 0xCBF43926u);
	assert_int_equal(selftest_crc32("a", 1), 0xE8B7BE43u);
	assert_int_equal(selftest_crc32("The quick brown fox jumps over the lazy dog", 43),
			 0x414FA339u);
}

static void test_run_result(void **state)
{
	const char *reason = NULL;

	(void)state;
	assert_int_equal(selftest_run(&reason), 0);
	assert_string_equal(reason, "ok");
}

#else

static void test_crc32_known_answers(void **state)
{
	(void)state;
	assert_int_not_equal(selftest_crc32("123456789", 9), 0xCBF43926u);
}

static void test_run_result(void **state)
{
	const char *reason = NULL;

	(void)state;
	assert_int_equal(selftest_run(&reason), -EBADMSG);
	assert_string_equal(reason, "crc-kat");
}

#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32_empty),
		cmocka_unit_test(test_crc32_known_answers),
		cmocka_unit_test(test_run_result),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
