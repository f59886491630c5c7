/*
 * Tests for bootargs: the command lines the boot scripts build, keys absent,
 * repeated, as prefixes of other words, values too long, and first lines of
 * files with and without a newline.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "init/bootargs.h"

static void test_the_ab_command_line(void **state)
{
	struct bootargs a;

	(void)state;
	assert_int_equal(bootargs_parse("console=ttyAMA0 root=/dev/vda3 ro rootwait quiet panic=-1 "
					"cryptomgr.notests init=/sbin/brownout-init brownout.method=ab "
					"rauc.slot=B brownout.slot=B brownout.data=/dev/vda5\n", &a), 0);
	assert_string_equal(a.method, "ab");
	assert_string_equal(a.slot, "B");
	assert_string_equal(a.data, "/dev/vda5");
}

static void test_absent_keys_have_their_defaults(void **state)
{
	struct bootargs a;

	(void)state;
	assert_int_equal(bootargs_parse("console=ttyAMA0 quiet\n", &a), 0);
	assert_string_equal(a.method, "");
	assert_string_equal(a.slot, "none");
	assert_string_equal(a.data, "");
	assert_int_equal(bootargs_parse("", &a), 0);
	assert_string_equal(a.slot, "none");
}

static void test_the_last_occurrence_wins(void **state)
{
	struct bootargs a;

	(void)state;
	assert_int_equal(bootargs_parse("brownout.slot=A  brownout.slot=B\tbrownout.slot=root", &a), 0);
	assert_string_equal(a.slot, "root");
}

static void test_only_whole_keys_match(void **state)
{
	struct bootargs a;

	(void)state;
	assert_int_equal(bootargs_parse("xbrownout.method=ab brownout.methods=x brownout.method "
					"brownout.data= brownout.method=ostree=1", &a), 0);
	assert_string_equal(a.method, "ostree=1");
	assert_string_equal(a.data, "");
}

static void test_a_value_too_long_is_refused(void **state)
{
	char cmdline[BOOTARGS_VALUE_MAX + 64];
	struct bootargs a;

	(void)state;
	strcpy(cmdline, "brownout.method=ab brownout.data=");
	memset(cmdline + strlen(cmdline), 'x', BOOTARGS_VALUE_MAX);
	cmdline[strlen("brownout.method=ab brownout.data=") + BOOTARGS_VALUE_MAX] = '\0';
	assert_int_equal(bootargs_parse(cmdline, &a), -ENAMETOOLONG);
	assert_string_equal(a.method, "ab");
	cmdline[strlen(cmdline) - 1] = '\0';
	assert_int_equal(bootargs_parse(cmdline, &a), 0);
	assert_int_equal(strlen(a.data), BOOTARGS_VALUE_MAX - 1);
}

static void test_first_line(void **state)
{
	char out[8];

	(void)state;
	assert_int_equal(bootargs_first_line("2\n", out, sizeof(out)), 0);
	assert_string_equal(out, "2");
	assert_int_equal(bootargs_first_line("v2-bad", out, sizeof(out)), 0);
	assert_string_equal(out, "v2-bad");
	assert_int_equal(bootargs_first_line("a\nb\n", out, sizeof(out)), 0);
	assert_string_equal(out, "a");
	assert_int_equal(bootargs_first_line("", out, sizeof(out)), 0);
	assert_string_equal(out, "");
	assert_int_equal(bootargs_first_line("1234567\n", out, sizeof(out)), 0);
	assert_int_equal(bootargs_first_line("12345678\n", out, sizeof(out)), -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_the_ab_command_line),
		cmocka_unit_test(test_absent_keys_have_their_defaults),
		cmocka_unit_test(test_the_last_occurrence_wins),
		cmocka_unit_test(test_only_whole_keys_match),
		cmocka_unit_test(test_a_value_too_long_is_refused),
		cmocka_unit_test(test_first_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
