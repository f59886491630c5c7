/*
 * Tests for ab_env against the real libubootenv, on a file laid out like the env
 * partition: two 16 KiB copies at 0 and 0x4000, named by a two-line fw_env.config.
 * What libubootenv writes is checked with bootenv, i.e. as the boot script reads it.
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

#include "ab/env.h"
#include "bootenv.h"
#include "envfile.h"

static const char *const kv_a_good[] = {
	"BOOT_ORDER", "A B", "BOOT_A_LEFT", "3", "BOOT_B_LEFT", "3", "bootdelay", "0",
};
static const char *const kv_old[] = {
	"BOOT_ORDER", "A B", "BOOT_A_LEFT", "2", "BOOT_B_LEFT", "3",
};

static void test_read(void **state)
{
	struct envfile *f = *state;
	struct bootenv_state st;

	envfile_make(f, 5, kv_a_good, 4, 4, kv_old, 3);
	assert_int_equal(ab_env_read(f->config, &st), 0);
	assert_string_equal(st.order, "AB");
	assert_int_equal(st.left[0], 3);
	assert_int_equal(st.left[1], 3);
}

static void test_switch_writes_the_other_copy_once(void **state)
{
	struct envfile *f = *state;
	uint8_t before[BOOTENV_COPY_SIZE];
	struct bootenv_decision d;
	struct bootenv_state st;

	envfile_make(f, 5, kv_a_good, 4, 4, kv_old, 3);
	memcpy(before, f->c1, sizeof(before));
	assert_int_equal(ab_env_switch(f->config, 'B'), 0);
	envfile_get(f);
	/* The current copy is untouched; the older one now holds all of the new state. */
	assert_memory_equal(f->c1, before, sizeof(before));
	assert_true(bootenv_copy_valid(f->c2));
	assert_int_equal(f->c2[4], 6);
	assert_int_equal(bootenv_current(f->c1, f->c2), 2);
	envfile_expect(f->c2, "BOOT_ORDER", "B A");
	envfile_expect(f->c2, "BOOT_B_LEFT", "3");
	envfile_expect(f->c2, "BOOT_A_LEFT", "3");
	envfile_expect(f->c2, "bootdelay", "0");	/* what we did not touch stays */
	/* And the boot script, reading it, boots B. */
	assert_int_equal(ab_env_read(f->config, &st), 0);
	assert_int_equal(bootenv_decide(&st, &d), 0);
	assert_int_equal(d.slot, 'B');
}

static void test_switch_refreshes_the_running_slot(void **state)
{
	struct envfile *f = *state;
	static const char *const kv_spent[] = { "BOOT_ORDER", "A B", "BOOT_A_LEFT", "0",
		"BOOT_B_LEFT", "3" };
	struct bootenv_decision d;
	struct bootenv_state st;

	/* Running A on its last try, not yet confirmed; then B never comes up. */
	envfile_make(f, 1, kv_spent, 3, 0, kv_spent, 3);
	assert_int_equal(ab_env_switch(f->config, 'B'), 0);
	assert_int_equal(ab_env_read(f->config, &st), 0);
	for (int boot = 0; boot < 4; boot++) {
		assert_int_equal(bootenv_decide(&st, &d), 0);
		st = d.next;
	}
	/* Three tries of B, then A: the fallback had tries to fall back on. */
	assert_int_equal(d.slot, 'A');
	assert_false(d.reset);
}

static void test_equal_flags_read_copy1(void **state)
{
	struct envfile *f = *state;
	struct bootenv_state st;

	/* Same flag, different content: libubootenv reads copy 1, as U-Boot does. */
	envfile_make(f, 7, kv_a_good, 4, 7, kv_old, 3);
	assert_int_equal(ab_env_read(f->config, &st), 0);
	assert_int_equal(st.left[0], 3);
	assert_int_equal(ab_env_switch(f->config, 'B'), 0);
	envfile_get(f);
	assert_int_equal(f->c2[4], 8);
	assert_int_equal(bootenv_current(f->c1, f->c2), 2);
	envfile_expect(f->c2, "BOOT_ORDER", "B A");
}

static void test_bad_crc_copy_is_overwritten(void **state)
{
	struct envfile *f = *state;
	uint8_t before[BOOTENV_COPY_SIZE];
	struct bootenv_state st;

	/* Copy 1 has the newer flag but was torn: copy 2 is current, copy 1 is written. */
	envfile_make(f, 9, kv_a_good, 4, 4, kv_old, 3);
	f->c1[200] ^= 1;
	envfile_put(f);
	assert_int_equal(ab_env_read(f->config, &st), 0);
	assert_int_equal(st.left[0], 2);	/* from copy 2 */
	memcpy(before, f->c2, sizeof(before));
	assert_int_equal(ab_env_switch(f->config, 'B'), 0);
	envfile_get(f);
	assert_memory_equal(f->c2, before, sizeof(before));
	assert_true(bootenv_copy_valid(f->c1));
	assert_int_equal(f->c1[4], 5);
	assert_int_equal(bootenv_current(f->c1, f->c2), 1);
	envfile_expect(f->c1, "BOOT_ORDER", "B A");
}

static void test_flag_wraps(void **state)
{
	struct envfile *f = *state;

	envfile_make(f, 255, kv_a_good, 4, 254, kv_old, 3);
	assert_int_equal(ab_env_switch(f->config, 'B'), 0);
	envfile_get(f);
	assert_int_equal(f->c2[4], 0);
	/* 0 after 255 is the newer one for the boot script too. */
	assert_int_equal(bootenv_current(f->c1, f->c2), 2);
}

static void test_both_copies_bad(void **state)
{
	struct envfile *f = *state;
	uint8_t c1[BOOTENV_COPY_SIZE], c2[BOOTENV_COPY_SIZE];
	struct bootenv_state st;
	int stored = 1;

	envfile_make(f, 1, kv_a_good, 4, 2, kv_old, 3);
	f->c1[100] ^= 1;
	f->c2[100] ^= 1;
	envfile_put(f);
	memcpy(c1, f->c1, sizeof(c1));
	memcpy(c2, f->c2, sizeof(c2));
	assert_int_equal(ab_env_read(f->config, &st), -ENODATA);
	assert_int_equal(ab_env_switch(f->config, 'B'), -ENODATA);
	assert_int_equal(ab_env_mark_good(f->config, 'A', &stored), -ENODATA);
	assert_int_equal(stored, 0);
	/* Nothing was written: no default env invented behind the boot script's back. */
	envfile_get(f);
	assert_memory_equal(f->c1, c1, sizeof(c1));
	assert_memory_equal(f->c2, c2, sizeof(c2));
}

static void test_mark_good_only_when_needed(void **state)
{
	struct envfile *f = *state;
	uint8_t c1[BOOTENV_COPY_SIZE], c2[BOOTENV_COPY_SIZE];
	int stored = -1;

	envfile_make(f, 5, kv_a_good, 4, 4, kv_old, 3);
	memcpy(c1, f->c1, sizeof(c1));
	memcpy(c2, f->c2, sizeof(c2));
	assert_int_equal(ab_env_mark_good(f->config, 'A', &stored), 0);
	assert_int_equal(stored, 0);
	envfile_get(f);
	assert_memory_equal(f->c1, c1, sizeof(c1));
	assert_memory_equal(f->c2, c2, sizeof(c2));

	/* After a boot spent a try: one write, only the counter changes. */
	envfile_make(f, 4, kv_a_good, 4, 5, kv_old, 3);
	assert_int_equal(ab_env_mark_good(f->config, 'A', &stored), 0);
	assert_int_equal(stored, 1);
	envfile_get(f);
	assert_int_equal(bootenv_current(f->c1, f->c2), 1);
	assert_int_equal(f->c1[4], 6);
	envfile_expect(f->c1, "BOOT_A_LEFT", "3");
	envfile_expect(f->c1, "BOOT_B_LEFT", "3");
	envfile_expect(f->c1, "BOOT_ORDER", "A B");
}

static void test_malformed_variables(void **state)
{
	struct envfile *f = *state;
	static const char *const kv_comma[] = { "BOOT_ORDER", "A,B", "BOOT_A_LEFT", "3",
		"BOOT_B_LEFT", "3" };
	static const char *const kv_missing[] = { "BOOT_ORDER", "A B", "BOOT_A_LEFT", "3" };
	static const char *const kv_big[] = { "BOOT_ORDER", "A B", "BOOT_A_LEFT", "10",
		"BOOT_B_LEFT", "3" };
	struct bootenv_state st;
	int stored = 1;

	envfile_make(f, 1, kv_comma, 3, 0, kv_old, 3);
	assert_int_equal(ab_env_read(f->config, &st), -EINVAL);
	assert_int_equal(ab_env_mark_good(f->config, 'A', &stored), -EINVAL);
	assert_int_equal(stored, 0);
	envfile_make(f, 1, kv_missing, 2, 0, kv_old, 3);
	assert_int_equal(ab_env_read(f->config, &st), -EINVAL);
	envfile_make(f, 1, kv_big, 3, 0, kv_old, 3);
	assert_int_equal(ab_env_read(f->config, &st), -EINVAL);
	/* A switch writes a fresh, well-formed state over whatever was there. */
	assert_int_equal(ab_env_switch(f->config, 'A'), 0);
	assert_int_equal(ab_env_read(f->config, &st), 0);
	assert_string_equal(st.order, "AB");
}

static void test_bad_arguments(void **state)
{
	struct envfile *f = *state;
	struct bootenv_state st;
	int stored;

	envfile_make(f, 1, kv_a_good, 4, 0, kv_old, 3);
	assert_int_equal(ab_env_switch(f->config, 'C'), -EINVAL);
	assert_int_equal(ab_env_mark_good(f->config, 'c', &stored), -EINVAL);
	assert_true(ab_env_read("/nonexistent/fw_env.config", &st) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_read, envfile_setup, envfile_teardown),
		cmocka_unit_test_setup_teardown(test_switch_writes_the_other_copy_once,
						envfile_setup, envfile_teardown),
		cmocka_unit_test_setup_teardown(test_switch_refreshes_the_running_slot,
						envfile_setup, envfile_teardown),
		cmocka_unit_test_setup_teardown(test_equal_flags_read_copy1, envfile_setup,
						envfile_teardown),
		cmocka_unit_test_setup_teardown(test_bad_crc_copy_is_overwritten, envfile_setup,
						envfile_teardown),
		cmocka_unit_test_setup_teardown(test_flag_wraps, envfile_setup, envfile_teardown),
		cmocka_unit_test_setup_teardown(test_both_copies_bad, envfile_setup,
						envfile_teardown),
		cmocka_unit_test_setup_teardown(test_mark_good_only_when_needed, envfile_setup,
						envfile_teardown),
		cmocka_unit_test_setup_teardown(test_malformed_variables, envfile_setup,
						envfile_teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments, envfile_setup,
						envfile_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
