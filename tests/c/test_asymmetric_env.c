/*
 * Tests for asymmetric_env against the real libubootenv, on a file laid out like the
 * env partition (two 16 KiB copies), checked with bootenv as U-Boot reads it.
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

#include "asymmetric/env.h"
#include "bootenv.h"
#include "envfile.h"

static const char *const kv_factory[] = {
	"ASYM_RECOVERY", "0", "ASYM_ROOT_LEFT", "3",
	"ASYM_GOOD_URL", "http://10.0.2.100/asymmetric/v1/manifest",
};

static int setup(void **state)
{
	if (envfile_setup(state) < 0)
		return -1;
	envfile_make(*state, 1, kv_factory, 3, 0, kv_factory, 3);
	return 0;
}

static void test_read_factory(void **state)
{
	struct envfile *f = *state;
	struct asymmetric_env st;

	assert_int_equal(asymmetric_env_read(f->config, &st), 0);
	assert_false(st.recovery);
	assert_int_equal(st.root_left, 3);
	assert_string_equal(st.url, "");
	assert_string_equal(st.good_url, "http://10.0.2.100/asymmetric/v1/manifest");
}

static void test_store_writes_the_older_copy_with_every_variable(void **state)
{
	struct envfile *f = *state;
	uint8_t before[BOOTENV_COPY_SIZE];
	struct asymmetric_env st;
	char v[64];

	envfile_get(f);
	memcpy(before, f->c1, sizeof(before));
	assert_int_equal(asymmetric_env_read(f->config, &st), 0);
	st.recovery = true;
	strcpy(st.url, "http://10.0.2.100/asymmetric/v2/manifest");
	assert_int_equal(asymmetric_env_store(f->config, &st), 0);
	envfile_get(f);
	/* The current copy stays as it was: a cut during the store leaves it. */
	assert_memory_equal(f->c1, before, sizeof(before));
	assert_true(bootenv_copy_valid(f->c2));
	assert_int_equal(bootenv_current(f->c1, f->c2), 2);
	assert_int_equal(bootenv_get(f->c2, "ASYM_RECOVERY", v, sizeof(v)), 0);
	assert_string_equal(v, "1");
	assert_int_equal(bootenv_get(f->c2, "ASYM_URL", v, sizeof(v)), 0);
	assert_string_equal(v, "http://10.0.2.100/asymmetric/v2/manifest");
}

static void test_an_empty_url_is_dropped(void **state)
{
	struct envfile *f = *state;
	struct asymmetric_env st;
	char v[64];

	assert_int_equal(asymmetric_env_read(f->config, &st), 0);
	st.good_url[0] = '\0';
	assert_int_equal(asymmetric_env_store(f->config, &st), 0);
	envfile_get(f);
	assert_int_not_equal(bootenv_get(f->c2, "ASYM_GOOD_URL", v, sizeof(v)), 0);
	assert_int_equal(asymmetric_env_read(f->config, &st), 0);
	assert_string_equal(st.good_url, "");
}

static void test_no_valid_copy_is_enodata(void **state)
{
	struct envfile *f = *state;
	struct asymmetric_env st;

	memset(f->c1, 0x5a, sizeof(f->c1));
	memset(f->c2, 0x5a, sizeof(f->c2));
	envfile_put(f);
	assert_int_equal(asymmetric_env_read(f->config, &st), -ENODATA);
}

static void test_parse_edges(void **state)
{
	char long_url[ASYMMETRIC_ENV_URL_MAX + 1];
	struct asymmetric_env st;

	(void)state;
	assert_int_equal(asymmetric_env_parse("1", "0", NULL, NULL, &st), 0);
	assert_true(st.recovery);
	assert_int_equal(st.root_left, 0);
	assert_int_equal(asymmetric_env_parse("2", "3", NULL, NULL, &st), -EINVAL);
	assert_int_equal(asymmetric_env_parse(NULL, "3", NULL, NULL, &st), -EINVAL);
	assert_int_equal(asymmetric_env_parse("0", "4", NULL, NULL, &st), -EINVAL);
	assert_int_equal(asymmetric_env_parse("0", "", NULL, NULL, &st), -EINVAL);
	memset(long_url, 'x', ASYMMETRIC_ENV_URL_MAX);
	long_url[ASYMMETRIC_ENV_URL_MAX] = '\0';
	assert_int_equal(asymmetric_env_parse("0", "3", long_url, NULL, &st), -EINVAL);
	st.root_left = 4;
	assert_int_equal(asymmetric_env_store("/nonexistent", &st), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_read_factory, setup, envfile_teardown),
		cmocka_unit_test_setup_teardown(test_store_writes_the_older_copy_with_every_variable,
						setup, envfile_teardown),
		cmocka_unit_test_setup_teardown(test_an_empty_url_is_dropped, setup,
						envfile_teardown),
		cmocka_unit_test_setup_teardown(test_no_valid_copy_is_enodata, setup,
						envfile_teardown),
		cmocka_unit_test(test_parse_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
