/*
 * Tests for envstore against the real libubootenv, on a file laid out like
 * the env partition (envfile.h): what it reads, that a store writes the older
 * copy once and whole, that a read-modify-write writes only when asked, and
 * that nothing is written when neither copy is valid.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bootenv.h"
#include "envfile.h"
#include "envstore.h"

static const char *const kv_current[] = { "X", "new", "Y", "1", "bootdelay", "0" };
static const char *const kv_older[] = { "X", "old", "Y", "0" };
static const char *const names[] = { "X", "Y", "Z" };

/* What parse and change saw, and what change answers. */
struct seen {
	char x[8], y[8];
	int z_unset;
	int answer;
	const char *want[3];
};

static void copy_or_unset(char *dst, size_t size, const char *v)
{
	snprintf(dst, size, "%s", v ? v : "(unset)");
}

static int parse(const char *const got[], void *out)
{
	struct seen *s = out;

	copy_or_unset(s->x, sizeof(s->x), got[0]);
	copy_or_unset(s->y, sizeof(s->y), got[1]);
	s->z_unset = got[2] == NULL;
	return s->answer;
}

static int change(const char *const got[], const char *want[], void *arg)
{
	struct seen *s = arg;

	parse(got, s);
	memcpy(want, s->want, sizeof(s->want));
	return s->answer;
}

static void test_read_hands_the_current_copy_to_parse(void **state)
{
	struct envfile *f = *state;
	struct seen s = { .answer = 0 };

	envfile_make(f, 5, kv_current, 3, 4, kv_older, 2);
	assert_int_equal(envstore_read(f->config, names, 3, parse, &s), 0);
	assert_string_equal(s.x, "new");
	assert_string_equal(s.y, "1");
	assert_true(s.z_unset);
	/* parse's verdict is the answer. */
	s.answer = -EINVAL;
	assert_int_equal(envstore_read(f->config, names, 3, parse, &s), -EINVAL);
}

static void test_equal_flags_read_copy1(void **state)
{
	struct envfile *f = *state;
	struct seen s = { .answer = 0 };

	envfile_make(f, 7, kv_older, 2, 7, kv_current, 3);
	assert_int_equal(envstore_read(f->config, names, 3, parse, &s), 0);
	assert_string_equal(s.x, "old");
}

static void test_write_stores_the_older_copy_once(void **state)
{
	static const char *const values[] = { "written", "", "z" };
	struct envfile *f = *state;
	uint8_t before[BOOTENV_COPY_SIZE];
	char v[8];

	envfile_make(f, 5, kv_current, 3, 4, kv_older, 2);
	memcpy(before, f->c1, sizeof(before));
	assert_int_equal(envstore_write(f->config, names, values, 3), 0);
	envfile_get(f);
	/* The current copy is untouched; the older one now holds all of the new state. */
	assert_memory_equal(f->c1, before, sizeof(before));
	assert_true(bootenv_copy_valid(f->c2));
	assert_int_equal(f->c2[4], 6);
	assert_int_equal(bootenv_current(f->c1, f->c2), 2);
	envfile_expect(f->c2, "X", "written");
	envfile_expect(f->c2, "Z", "z");
	envfile_expect(f->c2, "bootdelay", "0");	/* what was not named stays */
	/* An empty value unsets the variable. */
	assert_int_equal(bootenv_get(f->c2, "Y", v, sizeof(v)), -ENOENT);
}

static void test_flag_wraps(void **state)
{
	static const char *const values[] = { "a", "b", "c" };
	struct envfile *f = *state;

	envfile_make(f, 255, kv_current, 3, 254, kv_older, 2);
	assert_int_equal(envstore_write(f->config, names, values, 3), 0);
	envfile_get(f);
	assert_int_equal(f->c2[4], 0);
	/* 0 after 255 is the newer one for the boot script too. */
	assert_int_equal(bootenv_current(f->c1, f->c2), 2);
}

static void test_update_writes_only_when_asked(void **state)
{
	struct envfile *f = *state;
	uint8_t c1[BOOTENV_COPY_SIZE], c2[BOOTENV_COPY_SIZE];
	struct seen s = { .answer = 0, .want = { "changed", "1", NULL } };
	int stored = -1;

	envfile_make(f, 5, kv_current, 3, 4, kv_older, 2);
	memcpy(c1, f->c1, sizeof(c1));
	memcpy(c2, f->c2, sizeof(c2));
	assert_int_equal(envstore_update(f->config, names, 3, change, &s, &stored), 0);
	assert_int_equal(stored, 0);
	assert_string_equal(s.x, "new");
	s.answer = -EINVAL;
	assert_int_equal(envstore_update(f->config, names, 3, change, &s, &stored), -EINVAL);
	assert_int_equal(stored, 0);
	envfile_get(f);
	assert_memory_equal(f->c1, c1, sizeof(c1));
	assert_memory_equal(f->c2, c2, sizeof(c2));

	/* Asked: one write of the older copy, read back. */
	s.answer = 1;
	assert_int_equal(envstore_update(f->config, names, 3, change, &s, &stored), 0);
	assert_int_equal(stored, 1);
	envfile_get(f);
	assert_memory_equal(f->c1, c1, sizeof(c1));
	assert_int_equal(bootenv_current(f->c1, f->c2), 2);
	envfile_expect(f->c2, "X", "changed");
	envfile_expect(f->c2, "bootdelay", "0");
}

static void test_store_without_read_back(void **state)
{
	static const char *const values[] = { "stored" };
	struct envfile *f = *state;
	struct uboot_ctx *ctx;

	envfile_make(f, 1, kv_current, 3, 0, kv_older, 2);
	assert_int_equal(envstore_open(f->config, &ctx), 0);
	assert_int_equal(envstore_store(ctx, names, values, 1), 0);
	envstore_close(ctx);
	envfile_get(f);
	assert_int_equal(bootenv_current(f->c1, f->c2), 2);
	envfile_expect(f->c2, "X", "stored");
	envfile_expect(f->c2, "Y", "1");
	envstore_close(NULL);
}

static void test_both_copies_bad(void **state)
{
	static const char *const values[] = { "a", "b", "c" };
	struct envfile *f = *state;
	uint8_t c1[BOOTENV_COPY_SIZE], c2[BOOTENV_COPY_SIZE];
	struct seen s = { .answer = 1, .want = { "a", "b", "c" } };
	struct uboot_ctx *ctx = (struct uboot_ctx *)&s;
	int stored = 1;

	envfile_make(f, 1, kv_current, 3, 2, kv_older, 2);
	f->c1[100] ^= 1;
	f->c2[100] ^= 1;
	envfile_put(f);
	memcpy(c1, f->c1, sizeof(c1));
	memcpy(c2, f->c2, sizeof(c2));
	assert_int_equal(envstore_open(f->config, &ctx), -ENODATA);
	assert_null(ctx);
	assert_int_equal(envstore_read(f->config, names, 3, parse, &s), -ENODATA);
	assert_int_equal(envstore_write(f->config, names, values, 3), -ENODATA);
	assert_int_equal(envstore_update(f->config, names, 3, change, &s, &stored), -ENODATA);
	assert_int_equal(stored, 0);
	/* Nothing was written: no default env invented behind the boot script's back. */
	envfile_get(f);
	assert_memory_equal(f->c1, c1, sizeof(c1));
	assert_memory_equal(f->c2, c2, sizeof(c2));
}

static void test_bad_arguments(void **state)
{
	static const char *const many[ENVSTORE_VARS_MAX + 1] = { "X" };
	struct envfile *f = *state;
	struct seen s = { .answer = 0 };
	int stored = 1;

	envfile_make(f, 1, kv_current, 3, 0, kv_older, 2);
	assert_true(envstore_read("/nonexistent/fw_env.config", names, 3, parse, &s) < 0);
	assert_int_equal(envstore_read(f->config, many, ENVSTORE_VARS_MAX + 1, parse, &s), -E2BIG);
	assert_int_equal(envstore_write(f->config, many, many, ENVSTORE_VARS_MAX + 1), -E2BIG);
	assert_int_equal(envstore_update(f->config, many, ENVSTORE_VARS_MAX + 1, change, &s, &stored),
			 -E2BIG);
	assert_int_equal(stored, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_read_hands_the_current_copy_to_parse,
						envfile_setup, envfile_teardown),
		cmocka_unit_test_setup_teardown(test_equal_flags_read_copy1, envfile_setup,
						envfile_teardown),
		cmocka_unit_test_setup_teardown(test_write_stores_the_older_copy_once, envfile_setup,
						envfile_teardown),
		cmocka_unit_test_setup_teardown(test_flag_wraps, envfile_setup, envfile_teardown),
		cmocka_unit_test_setup_teardown(test_update_writes_only_when_asked, envfile_setup,
						envfile_teardown),
		cmocka_unit_test_setup_teardown(test_store_without_read_back, envfile_setup,
						envfile_teardown),
		cmocka_unit_test_setup_teardown(test_both_copies_bad, envfile_setup, envfile_teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments, envfile_setup, envfile_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
