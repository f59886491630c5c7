/* Tests for num: strict decimal parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "num.h"

static int parse(const char *s, uint64_t max, uint64_t *out)
{
	return num_parse_u64(s, strlen(s), max, out);
}

static void test_accepts_plain_decimals(void **state)
{
	uint64_t v = 99;

	(void)state;
	assert_int_equal(parse("0", UINT64_MAX, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(parse("1234", UINT64_MAX, &v), 0);
	assert_int_equal(v, 1234);
	assert_int_equal(parse("007", UINT64_MAX, &v), 0);
	assert_int_equal(v, 7);
}

static void test_uint64_limits(void **state)
{
	uint64_t v = 0;

	(void)state;
	assert_int_equal(parse("18446744073709551615", UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(parse("18446744073709551616", UINT64_MAX, &v), -ERANGE);
	assert_int_equal(parse("99999999999999999999999", UINT64_MAX, &v), -ERANGE);
	assert_true(v == UINT64_MAX);	/* untouched on error */
}

static void test_max_is_inclusive(void **state)
{
	uint64_t v = 5;

	(void)state;
	assert_int_equal(parse("100", 100, &v), 0);
	assert_int_equal(v, 100);
	assert_int_equal(parse("101", 100, &v), -ERANGE);
	assert_int_equal(parse("0", 0, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(parse("1", 0, &v), -ERANGE);
	assert_int_equal(parse("9", 8, &v), -ERANGE);
}

static void test_rejects_non_digits(void **state)
{
	static const char *const bad[] = {
		"", "-1", "+1", " 1", "1 ", "0x10", "1a", "1.5", "1e3", "\n", "1\n",
	};
	uint64_t v = 42;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(bad[i], UINT64_MAX, &v), -EINVAL);
		assert_int_equal(v, 42);
	}
}

static void test_garbage_after_overflow_is_einval(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(parse("99999999999999999999x", UINT64_MAX, &v), -EINVAL);
}

static void test_length_bounds_the_input(void **state)
{
	uint64_t v = 0;

	(void)state;
	assert_int_equal(num_parse_u64("123abc", 3, UINT64_MAX, &v), 0);
	assert_int_equal(v, 123);
	assert_int_equal(num_parse_u64("123", 0, UINT64_MAX, &v), -EINVAL);
}

static void test_null_arguments(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(num_parse_u64(NULL, 1, UINT64_MAX, &v), -EINVAL);
	assert_int_equal(num_parse_u64("1", 1, UINT64_MAX, NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts_plain_decimals),
		cmocka_unit_test(test_uint64_limits),
		cmocka_unit_test(test_max_is_inclusive),
		cmocka_unit_test(test_rejects_non_digits),
		cmocka_unit_test(test_garbage_after_overflow_is_einval),
		cmocka_unit_test(test_length_bounds_the_input),
		cmocka_unit_test(test_null_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
