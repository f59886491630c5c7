/*
 * Tests for rootargs: the command lines the boot scripts build (A/B, OSTree),
 * defaults, ro and rw, repeated keys, keys as prefixes of other words, and a
 * value too long.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "initramfs/rootargs.h"

static void test_the_ab_command_line(void **state)
{
	struct rootargs a;

	(void)state;
	assert_int_equal(rootargs_parse("console=ttyAMA0 root=/dev/vda4 ro rootwait quiet panic=-1 "
					"cryptomgr.notests init=/sbin/brownout-init brownout.method=ab "
					"rauc.slot=B brownout.slot=B brownout.data=/dev/vda5\n", &a), 0);
	assert_string_equal(a.root, "/dev/vda4");
	assert_string_equal(a.fstype, "ext4");
	assert_string_equal(a.init, "/sbin/brownout-init");
	assert_string_equal(a.ostree, "");
	assert_false(a.rw);
}

static void test_the_ostree_command_line(void **state)
{
	struct rootargs a;

	(void)state;
	assert_int_equal(rootargs_parse("console=ttyAMA0 root=/dev/vda3 rw rootwait init=/sbin/brownout-init "
					"brownout.method=ostree ostree=/ostree/boot.1/brownout/abc/0\n", &a), 0);
	assert_string_equal(a.root, "/dev/vda3");
	assert_string_equal(a.ostree, "/ostree/boot.1/brownout/abc/0");
	assert_true(a.rw);
}

static void test_defaults(void **state)
{
	struct rootargs a;

	(void)state;
	assert_int_equal(rootargs_parse("", &a), 0);
	assert_string_equal(a.root, "");
	assert_string_equal(a.fstype, "ext4");
	assert_string_equal(a.init, "/sbin/init");
	assert_false(a.rw);
}

static void test_the_last_occurrence_wins(void **state)
{
	struct rootargs a;

	(void)state;
	assert_int_equal(rootargs_parse("root=/dev/vda3 rw rootfstype=vfat root=/dev/vda4\tro rootfstype=ext4", &a), 0);
	assert_string_equal(a.root, "/dev/vda4");
	assert_string_equal(a.fstype, "ext4");
	assert_false(a.rw);
}

static void test_only_whole_words_match(void **state)
{
	struct rootargs a;

	(void)state;
	assert_int_equal(rootargs_parse("rootwait rwx xro rauc.root=/dev/x myinit=/x root= init=/init", &a), 0);
	assert_string_equal(a.root, "");
	assert_string_equal(a.init, "/init");
	assert_false(a.rw);
}

static void test_a_value_too_long_is_refused(void **state)
{
	char cmdline[ROOTARGS_VALUE_MAX + 16];
	struct rootargs a;

	(void)state;
	strcpy(cmdline, "root=");
	memset(cmdline + 5, 'x', ROOTARGS_VALUE_MAX - 1);
	cmdline[5 + ROOTARGS_VALUE_MAX - 1] = '\0';
	assert_int_equal(rootargs_parse(cmdline, &a), 0);
	assert_int_equal(strlen(a.root), ROOTARGS_VALUE_MAX - 1);
	strcat(cmdline, "x");
	assert_int_equal(rootargs_parse(cmdline, &a), -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_the_ab_command_line),
		cmocka_unit_test(test_the_ostree_command_line),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_the_last_occurrence_wins),
		cmocka_unit_test(test_only_whole_words_match),
		cmocka_unit_test(test_a_value_too_long_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
