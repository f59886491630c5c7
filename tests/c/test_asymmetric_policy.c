/*
 * Tests for asymmetric_policy: what recovery does with each env it can find, what it
 * stores after each way an install can end, and what a confirming root stores.
 * The properties that make the method safe: a cut anywhere comes back to a
 * state recovery acts on; a bad payload is never retried; a rollback always
 * has something good to install or gives the root its tries back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "asymmetric/policy.h"

#define V1 "http://10.0.2.100/asymmetric/v1/manifest"
#define V2 "http://10.0.2.100/asymmetric/v2/manifest"

static struct asymmetric_env env(bool recovery, unsigned left, const char *url, const char *good)
{
	struct asymmetric_env st = { .recovery = recovery, .root_left = left };

	strcpy(st.url, url);
	strcpy(st.good_url, good);
	return st;
}

static void assert_env_equal(const struct asymmetric_env *a, const struct asymmetric_env *b)
{
	assert_int_equal(a->recovery, b->recovery);
	assert_int_equal(a->root_left, b->root_left);
	assert_string_equal(a->url, b->url);
	assert_string_equal(a->good_url, b->good_url);
}

static void test_start_installs_a_request(void **state)
{
	struct asymmetric_env st = env(true, 3, V2, V1), next;

	(void)state;
	assert_int_equal(asymmetric_policy_start(&st, &next), ASYMMETRIC_POLICY_INSTALL);
	assert_env_equal(&next, &st);
}

static void test_start_without_request_clears_the_flag(void **state)
{
	struct asymmetric_env flag_only = env(true, 3, "", V1), booted_anyway = env(false, 2, V2,
										    V1), next;

	(void)state;
	assert_int_equal(asymmetric_policy_start(&flag_only, &next), ASYMMETRIC_POLICY_NOTHING);
	assert_false(next.recovery);
	assert_string_equal(next.good_url, V1);
	/* Recovery booted with tries left and no flag: nothing to install, the pending URL stays. */
	assert_int_equal(asymmetric_policy_start(&booted_anyway, &next), ASYMMETRIC_POLICY_NOTHING);
	assert_false(next.recovery);
	assert_int_equal(next.root_left, 2);
	assert_string_equal(next.url, V2);
}

static void test_start_rolls_back_a_root_out_of_tries(void **state)
{
	struct asymmetric_env st = env(false, 0, V2, V1), next;

	(void)state;
	assert_int_equal(asymmetric_policy_start(&st, &next), ASYMMETRIC_POLICY_ROLLBACK);
	/* Stored before the reinstall: a cut during it boots recovery, which installs V1 again. */
	assert_true(next.recovery);
	assert_string_equal(next.url, V1);
	assert_string_equal(next.good_url, V1);
	assert_int_equal(next.root_left, ASYMMETRIC_ENV_TRIES);
	assert_int_equal(asymmetric_policy_start(&next, &st), ASYMMETRIC_POLICY_INSTALL);
}

static void test_start_without_good_image_gives_new_tries(void **state)
{
	struct asymmetric_env st = env(false, 0, V2, ""), next;

	(void)state;
	assert_int_equal(asymmetric_policy_start(&st, &next), ASYMMETRIC_POLICY_NO_GOOD);
	assert_false(next.recovery);
	assert_int_equal(next.root_left, ASYMMETRIC_ENV_TRIES);
}

static void test_installed_boots_the_new_root_pending(void **state)
{
	struct asymmetric_env st = env(true, 1, V2, V1), next;

	(void)state;
	assert_int_equal(asymmetric_policy_after_install(&st, ASYMMETRIC_POLICY_INSTALLED, &next),
			 ASYMMETRIC_POLICY_BOOT_ROOT);
	assert_false(next.recovery);
	assert_int_equal(next.root_left, ASYMMETRIC_ENV_TRIES);
	/* Pending until it confirms itself: its tries running out means a rollback to V1. */
	assert_string_equal(next.url, V2);
	assert_string_equal(next.good_url, V1);
}

static void test_reinstalled_good_image_is_not_pending(void **state)
{
	struct asymmetric_env st = env(true, 3, V1, V1), next;

	(void)state;
	assert_int_equal(asymmetric_policy_after_install(&st, ASYMMETRIC_POLICY_INSTALLED, &next),
			 ASYMMETRIC_POLICY_BOOT_ROOT);
	assert_string_equal(next.url, "");
	assert_string_equal(next.good_url, V1);
}

static void test_refused_before_writing_drops_the_request(void **state)
{
	struct asymmetric_env st = env(true, 3, V2, V1), next;

	(void)state;
	assert_int_equal(asymmetric_policy_after_install(&st, ASYMMETRIC_POLICY_UNTOUCHED, &next),
			 ASYMMETRIC_POLICY_DROP);
	assert_false(next.recovery);
	assert_string_equal(next.url, "");
	assert_string_equal(next.good_url, V1);
}

static void test_broken_download_keeps_the_request(void **state)
{
	struct asymmetric_env st = env(true, 3, V2, V1), next;

	(void)state;
	assert_int_equal(asymmetric_policy_after_install(&st, ASYMMETRIC_POLICY_BROKEN, &next),
			 ASYMMETRIC_POLICY_RETRY);
	assert_env_equal(&next, &st);
}

static void test_bad_payload_is_never_retried(void **state)
{
	struct asymmetric_env st = env(true, 3, V2, V1), next, last;

	(void)state;
	assert_int_equal(asymmetric_policy_after_install(&st, ASYMMETRIC_POLICY_BAD_PAYLOAD, &next),
			 ASYMMETRIC_POLICY_REINSTALL_GOOD);
	assert_true(next.recovery);
	assert_string_equal(next.url, V1);
	/* The good image failing too leaves it as the request: recovery retries V1, not V2. */
	assert_int_equal(asymmetric_policy_after_install(&next, ASYMMETRIC_POLICY_BAD_PAYLOAD,
							 &last), ASYMMETRIC_POLICY_RETRY);
	assert_string_equal(last.url, V1);
}

static void test_bad_payload_without_good_image_retries(void **state)
{
	struct asymmetric_env st = env(true, 3, V2, ""), next;

	(void)state;
	assert_int_equal(asymmetric_policy_after_install(&st, ASYMMETRIC_POLICY_BAD_PAYLOAD, &next),
			 ASYMMETRIC_POLICY_RETRY);
	assert_true(next.recovery);
}

static void test_confirm_makes_the_pending_url_good(void **state)
{
	struct asymmetric_env st = env(false, 2, V2, V1), next;

	(void)state;
	assert_true(asymmetric_policy_confirm(&st, &next));
	assert_int_equal(next.root_left, ASYMMETRIC_ENV_TRIES);
	assert_string_equal(next.url, "");
	assert_string_equal(next.good_url, V2);
	assert_false(next.recovery);
}

static void test_confirm_of_a_settled_root_stores_nothing(void **state)
{
	struct asymmetric_env st = env(false, ASYMMETRIC_ENV_TRIES, "", V1), next;

	(void)state;
	assert_false(asymmetric_policy_confirm(&st, &next));
	assert_env_equal(&next, &st);
}

static void test_confirm_resets_spent_tries(void **state)
{
	struct asymmetric_env st = env(false, 1, "", V1), next;

	(void)state;
	assert_true(asymmetric_policy_confirm(&st, &next));
	assert_int_equal(next.root_left, ASYMMETRIC_ENV_TRIES);
	assert_string_equal(next.good_url, V1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start_installs_a_request),
		cmocka_unit_test(test_start_without_request_clears_the_flag),
		cmocka_unit_test(test_start_rolls_back_a_root_out_of_tries),
		cmocka_unit_test(test_start_without_good_image_gives_new_tries),
		cmocka_unit_test(test_installed_boots_the_new_root_pending),
		cmocka_unit_test(test_reinstalled_good_image_is_not_pending),
		cmocka_unit_test(test_refused_before_writing_drops_the_request),
		cmocka_unit_test(test_broken_download_keeps_the_request),
		cmocka_unit_test(test_bad_payload_is_never_retried),
		cmocka_unit_test(test_bad_payload_without_good_image_retries),
		cmocka_unit_test(test_confirm_makes_the_pending_url_good),
		cmocka_unit_test(test_confirm_of_a_settled_root_stores_nothing),
		cmocka_unit_test(test_confirm_resets_spent_tries),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
