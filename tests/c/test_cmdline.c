/*
 * Tests for cmdline: value keys and bare words from one table, the last
 * occurrence winning across both, whole words only, a value that fills its
 * field exactly and one that does not fit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "lib/cmdline.h"

struct picked {
	char name[8];
	bool on;
};

static const struct cmdline_key keys[] = {
	{ "name=", offsetof(struct picked, name), sizeof(((struct picked *)0)->name), false },
	{ "off", offsetof(struct picked, on), 0, false },
	{ "on", offsetof(struct picked, on), 0, true },
};

static int parse(const char *cmdline, struct picked *p)
{
	memset(p, 0, sizeof(*p));
	return cmdline_parse(cmdline, keys, sizeof(keys) / sizeof(keys[0]), p);
}

static void test_values_and_bare_words(void **state)
{
	struct picked p;

	(void)state;
	assert_int_equal(parse("quiet name=abc on\n", &p), 0);
	assert_string_equal(p.name, "abc");
	assert_true(p.on);
	assert_int_equal(parse("on name=x\toff name=y", &p), 0);
	assert_string_equal(p.name, "y");
	assert_false(p.on);
}

static void test_only_whole_words_match(void **state)
{
	struct picked p;

	(void)state;
	assert_int_equal(parse("only onx xon rename=z name", &p), 0);
	assert_string_equal(p.name, "");
	assert_false(p.on);
}

static void test_a_value_must_fit_its_field(void **state)
{
	struct picked p;

	(void)state;
	assert_int_equal(parse("name=1234567", &p), 0);
	assert_string_equal(p.name, "1234567");
	assert_int_equal(parse("name=12345678 on", &p), -ENAMETOOLONG);
	assert_false(p.on);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values_and_bare_words),
		cmocka_unit_test(test_only_whole_words_match),
		cmocka_unit_test(test_a_value_must_fit_its_field),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
