/*
 * Tests for ostree_env: the boot script's rule (pure), and the boot slot and counter stored
 * with the real libubootenv in a file laid out like the env partition (two
 * 16 KiB copies), read back as the boot script reads it (bootenv).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bootenv.h"
#include "envfile.h"
#include "ostree/env.h"

/* Copy 1 current (flag 1) with kv, copy 2 older (flag 0), as the disk leaves the factory. */
static void fill(struct envfile *f, const char *const *kv, size_t n)
{
	envfile_make(f, 1, kv, n, 0, kv, n);
}

static int setup(void **state)
{
	static const char *const factory[] = { "OSTREE_BOOT", "A", "OSTREE_PENDING", "0",
					       "OSTREE_LEFT", "3" };

	if (envfile_setup(state) < 0)
		return -1;
	fill(*state, factory, 3);
	return 0;
}

static void test_parse(void **state)
{
	struct ostree_env_state st;

	(void)state;
	assert_int_equal(ostree_env_parse("B", "1", "3", &st), 0);
	assert_int_equal(st.boot, 'B');
	assert_int_equal(st.pending, 1);
	assert_int_equal(st.left, 3);
	assert_int_equal(ostree_env_parse("A", "0", "0", &st), 0);
	/* Unset, as on a disk from before the boot slots: A, as the script reads it. */
	assert_int_equal(ostree_env_parse(NULL, "0", "3", &st), 0);
	assert_int_equal(st.boot, 'A');
	assert_int_equal(ostree_env_parse("C", "0", "3", &st), -EINVAL);
	assert_int_equal(ostree_env_parse("AB", "0", "3", &st), -EINVAL);
	assert_int_equal(ostree_env_parse("A", "2", "3", &st), -EINVAL);
	assert_int_equal(ostree_env_parse("A", "", "3", &st), -EINVAL);
	assert_int_equal(ostree_env_parse("A", "10", "3", &st), -EINVAL);
	assert_int_equal(ostree_env_parse("A", "1", "10", &st), -EINVAL);	/* itest would read 0x10 */
	assert_int_equal(ostree_env_parse("A", "1", "a", &st), -EINVAL);
	assert_int_equal(ostree_env_parse("A", NULL, "3", &st), -EINVAL);
	assert_int_equal(ostree_env_parse("A", "1", NULL, &st), -EINVAL);
}

static void test_decide(void **state)
{
	struct ostree_env_decision d;

	(void)state;
	ostree_env_decide(&(struct ostree_env_state){ .boot = 'A', .pending = 0, .left = 3 }, &d);
	assert_int_equal(d.slot, 'A');
	assert_false(d.save);
	ostree_env_decide(&(struct ostree_env_state){ .boot = 'B', .pending = 0, .left = 0 }, &d);
	assert_int_equal(d.slot, 'B');	/* not on trial: the counter means nothing */
	ostree_env_decide(&(struct ostree_env_state){ .boot = 'B', .pending = 1, .left = 3 }, &d);
	assert_int_equal(d.slot, 'B');
	assert_true(d.save);
	assert_int_equal(d.next.left, 2);
	assert_int_equal(d.next.pending, 1);
	assert_int_equal(d.next.boot, 'B');
	ostree_env_decide(&(struct ostree_env_state){ .boot = 'A', .pending = 1, .left = 1 }, &d);
	assert_int_equal(d.slot, 'A');
	assert_int_equal(d.next.left, 0);
	ostree_env_decide(&(struct ostree_env_state){ .boot = 'B', .pending = 1, .left = 0 }, &d);
	assert_int_equal(d.slot, 'A');	/* tries spent: the previous deployment's slot */
	assert_false(d.save);
}

static void test_arm_then_mark_good(void **state)
{
	struct envfile *f = *state;
	struct ostree_env_state st;
	char val[8];
	int stored;

	assert_int_equal(ostree_env_arm(f->config, 'C'), -EINVAL);
	assert_int_equal(ostree_env_arm(f->config, 'B'), 0);
	envfile_current_get(f, "OSTREE_BOOT", val, sizeof(val));
	assert_string_equal(val, "B");
	envfile_current_get(f, "OSTREE_PENDING", val, sizeof(val));
	assert_string_equal(val, "1");
	envfile_current_get(f, "OSTREE_LEFT", val, sizeof(val));
	assert_string_equal(val, "3");
	assert_int_equal(ostree_env_read(f->config, &st), 0);
	assert_int_equal(st.pending, 1);
	assert_int_equal(st.boot, 'B');

	assert_int_equal(ostree_env_mark_good(f->config, 'B', &stored), 0);
	assert_true(stored);
	envfile_current_get(f, "OSTREE_PENDING", val, sizeof(val));
	assert_string_equal(val, "0");
	/* Good already: nothing is written a second time. */
	assert_int_equal(ostree_env_mark_good(f->config, 'B', &stored), 0);
	assert_false(stored);
}

static void test_mark_good_after_spent_tries(void **state)
{
	static const char *const spent[] = { "OSTREE_BOOT", "B", "OSTREE_PENDING", "1",
					     "OSTREE_LEFT", "0" };
	struct envfile *f = *state;
	char val[8];
	int stored;

	fill(f, spent, 3);
	/* U-Boot fell back to A: A is marked good and named again. */
	assert_int_equal(ostree_env_mark_good(f->config, 'A', &stored), 0);
	assert_true(stored);
	envfile_current_get(f, "OSTREE_LEFT", val, sizeof(val));
	assert_string_equal(val, "3");
	envfile_current_get(f, "OSTREE_BOOT", val, sizeof(val));
	assert_string_equal(val, "A");
}

static void test_unreadable_values(void **state)
{
	static const char *const bad[] = { "OSTREE_BOOT", "A", "OSTREE_PENDING", "yes",
					   "OSTREE_LEFT", "3" };
	struct envfile *f = *state;
	struct ostree_env_state st;
	int stored;

	fill(f, bad, 3);
	assert_int_equal(ostree_env_read(f->config, &st), -EINVAL);
	/* Marking good repairs them. */
	assert_int_equal(ostree_env_mark_good(f->config, 'A', &stored), 0);
	assert_true(stored);
	assert_int_equal(ostree_env_read(f->config, &st), 0);
	assert_int_equal(st.pending, 0);
}

static void test_both_copies_bad(void **state)
{
	struct envfile *f = *state;
	struct ostree_env_state st;

	envfile_get(f);
	f->c1[0] ^= 0xff;
	f->c2[0] ^= 0xff;
	envfile_put(f);
	assert_true(ostree_env_read(f->config, &st) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_decide),
		cmocka_unit_test_setup_teardown(test_arm_then_mark_good, setup, envfile_teardown),
		cmocka_unit_test_setup_teardown(test_mark_good_after_spent_tries, setup,
						envfile_teardown),
		cmocka_unit_test_setup_teardown(test_unreadable_values, setup, envfile_teardown),
		cmocka_unit_test_setup_teardown(test_both_copies_bad, setup, envfile_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
