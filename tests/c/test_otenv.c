/*
 * Tests for otenv: the boot script's rule (pure), and the boot counter stored
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
#include "otenv.h"

struct envfile {
	char dir[64], env[96], config[96];
	uint8_t c1[BOOTENV_COPY_SIZE], c2[BOOTENV_COPY_SIZE];
};

static void put(struct envfile *f)
{
	int fd = open(f->env, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, f->c1, sizeof(f->c1)), sizeof(f->c1));
	assert_int_equal(write(fd, f->c2, sizeof(f->c2)), sizeof(f->c2));
	close(fd);
}

static void get(struct envfile *f)
{
	int fd = open(f->env, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(read(fd, f->c1, sizeof(f->c1)), sizeof(f->c1));
	assert_int_equal(read(fd, f->c2, sizeof(f->c2)), sizeof(f->c2));
	close(fd);
}

/* Copy 1 current (flag 1) with kv, copy 2 older (flag 0), as the disk leaves the factory. */
static void fill(struct envfile *f, const char *const *kv, size_t n)
{
	assert_int_equal(bootenv_format(f->c1, 1, kv, n), 0);
	assert_int_equal(bootenv_format(f->c2, 0, kv, n), 0);
	put(f);
}

static int setup(void **state)
{
	static const char *const factory[] = { "OSTREE_PENDING", "0", "OSTREE_LEFT", "3" };
	struct envfile *f = calloc(1, sizeof(*f));
	FILE *cfg;

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_otenv.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->env, sizeof(f->env), "%s/env", f->dir);
	snprintf(f->config, sizeof(f->config), "%s/fw_env.config", f->dir);
	cfg = fopen(f->config, "w");
	if (!cfg)
		return -1;
	fprintf(cfg, "%s 0x0 0x4000\n%s 0x4000 0x4000\n", f->env, f->env);
	fclose(cfg);
	fill(f, factory, 2);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct envfile *f = *state;

	unlink(f->env);
	unlink(f->config);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* The copy the boot script would use, and a variable in it. */
static void current_get(struct envfile *f, const char *key, char *val, size_t size)
{
	int cur;

	get(f);
	cur = bootenv_current(f->c1, f->c2);
	assert_true(cur == 1 || cur == 2);
	assert_int_equal(bootenv_get(cur == 1 ? f->c1 : f->c2, key, val, size), 0);
}

static void test_parse(void **state)
{
	struct otenv_state st;

	(void)state;
	assert_int_equal(otenv_parse("1", "3", &st), 0);
	assert_int_equal(st.pending, 1);
	assert_int_equal(st.left, 3);
	assert_int_equal(otenv_parse("0", "0", &st), 0);
	assert_int_equal(otenv_parse("2", "3", &st), -EINVAL);
	assert_int_equal(otenv_parse("", "3", &st), -EINVAL);
	assert_int_equal(otenv_parse("10", "3", &st), -EINVAL);
	assert_int_equal(otenv_parse("1", "10", &st), -EINVAL);	/* itest would read 0x10 */
	assert_int_equal(otenv_parse("1", "a", &st), -EINVAL);
	assert_int_equal(otenv_parse(NULL, "3", &st), -EINVAL);
	assert_int_equal(otenv_parse("1", NULL, &st), -EINVAL);
}

static void test_decide(void **state)
{
	struct otenv_decision d;

	(void)state;
	otenv_decide(&(struct otenv_state){ .pending = 0, .left = 3 }, &d);
	assert_int_equal(d.entry, 1);
	assert_false(d.save);
	otenv_decide(&(struct otenv_state){ .pending = 0, .left = 0 }, &d);
	assert_int_equal(d.entry, 1);	/* not on trial: the counter means nothing */
	otenv_decide(&(struct otenv_state){ .pending = 1, .left = 3 }, &d);
	assert_int_equal(d.entry, 1);
	assert_true(d.save);
	assert_int_equal(d.next.left, 2);
	assert_int_equal(d.next.pending, 1);
	otenv_decide(&(struct otenv_state){ .pending = 1, .left = 1 }, &d);
	assert_int_equal(d.entry, 1);
	assert_int_equal(d.next.left, 0);
	otenv_decide(&(struct otenv_state){ .pending = 1, .left = 0 }, &d);
	assert_int_equal(d.entry, 2);
	assert_false(d.save);
}

static void test_arm_then_mark_good(void **state)
{
	struct envfile *f = *state;
	struct otenv_state st;
	char val[8];
	int stored;

	assert_int_equal(otenv_arm(f->config), 0);
	current_get(f, "OSTREE_PENDING", val, sizeof(val));
	assert_string_equal(val, "1");
	current_get(f, "OSTREE_LEFT", val, sizeof(val));
	assert_string_equal(val, "3");
	assert_int_equal(otenv_read(f->config, &st), 0);
	assert_int_equal(st.pending, 1);

	assert_int_equal(otenv_mark_good(f->config, &stored), 0);
	assert_true(stored);
	current_get(f, "OSTREE_PENDING", val, sizeof(val));
	assert_string_equal(val, "0");
	/* Good already: nothing is written a second time. */
	assert_int_equal(otenv_mark_good(f->config, &stored), 0);
	assert_false(stored);
}

static void test_mark_good_after_spent_tries(void **state)
{
	static const char *const spent[] = { "OSTREE_PENDING", "1", "OSTREE_LEFT", "0" };
	struct envfile *f = *state;
	char val[8];
	int stored;

	fill(f, spent, 2);
	assert_int_equal(otenv_mark_good(f->config, &stored), 0);
	assert_true(stored);
	current_get(f, "OSTREE_LEFT", val, sizeof(val));
	assert_string_equal(val, "3");
}

static void test_unreadable_values(void **state)
{
	static const char *const bad[] = { "OSTREE_PENDING", "yes", "OSTREE_LEFT", "3" };
	struct envfile *f = *state;
	struct otenv_state st;
	int stored;

	fill(f, bad, 2);
	assert_int_equal(otenv_read(f->config, &st), -EINVAL);
	/* Marking good repairs them. */
	assert_int_equal(otenv_mark_good(f->config, &stored), 0);
	assert_true(stored);
	assert_int_equal(otenv_read(f->config, &st), 0);
	assert_int_equal(st.pending, 0);
}

static void test_both_copies_bad(void **state)
{
	struct envfile *f = *state;
	struct otenv_state st;

	get(f);
	f->c1[0] ^= 0xff;
	f->c2[0] ^= 0xff;
	put(f);
	assert_true(otenv_read(f->config, &st) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_decide),
		cmocka_unit_test_setup_teardown(test_arm_then_mark_good, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mark_good_after_spent_tries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unreadable_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_both_copies_bad, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
