/* Tests for bootenv: the redundant env copies and the boot script's slot choice. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "bootenv.h"

static uint8_t c1[BOOTENV_COPY_SIZE], c2[BOOTENV_COPY_SIZE];

static const char *const kv_ab[] = { "BOOT_ORDER", "A B", "BOOT_A_LEFT", "3", "BOOT_B_LEFT", "0" };
static const char *const kv_ba[] = { "BOOT_ORDER", "B A", "BOOT_A_LEFT", "3", "BOOT_B_LEFT", "3" };

static void make(uint8_t flag1, uint8_t flag2)
{
	assert_int_equal(bootenv_format(c1, flag1, kv_ab, 3), 0);
	assert_int_equal(bootenv_format(c2, flag2, kv_ba, 3), 0);
}

static void corrupt(uint8_t *copy)
{
	copy[BOOTENV_HDR_SIZE + 100] ^= 0x40;	/* a byte of data: the CRC no longer matches */
}

/* ---- CRC and layout ---- */

static void test_crc32_check_value(void **state)
{
	(void)state;
	/* The CRC-32 check value from the catalogue of parametrised CRCs. */
	assert_int_equal(bootenv_crc32("123456789", 9), 0xcbf43926u);
	assert_int_equal(bootenv_crc32("", 0), 0);
}

static void test_format_layout(void **state)
{
	static const char data[] = "BOOT_ORDER=A B\0BOOT_A_LEFT=3\0BOOT_B_LEFT=0\0";
	uint32_t crc;

	(void)state;
	make(7, 0);
	assert_int_equal(c1[4], 7);
	/* Data right after the flag, then the empty string, then zeros. */
	assert_memory_equal(c1 + BOOTENV_HDR_SIZE, data, sizeof(data));
	assert_int_equal(c1[BOOTENV_HDR_SIZE + sizeof(data)], 0);
	crc = bootenv_crc32(c1 + BOOTENV_HDR_SIZE, BOOTENV_DATA_SIZE);
	assert_int_equal(c1[0], crc & 0xff);
	assert_int_equal(c1[3], crc >> 24);
	assert_true(bootenv_copy_valid(c1));
}

static void test_format_rejects(void **state)
{
	static char big[BOOTENV_DATA_SIZE];
	const char *bad_key[] = { "A=B", "1" };
	const char *empty_key[] = { "", "1" };
	const char *too_big[] = { "K", big };

	(void)state;
	assert_int_equal(bootenv_format(c1, 0, bad_key, 1), -EINVAL);
	assert_int_equal(bootenv_format(c1, 0, empty_key, 1), -EINVAL);
	memset(big, 'x', sizeof(big) - 1);
	assert_int_equal(bootenv_format(c1, 0, too_big, 1), -ENOSPC);
	/* The largest that fits: "K=" + value + NUL + the terminating NUL. */
	big[BOOTENV_DATA_SIZE - 5] = '\0';
	assert_int_equal(bootenv_format(c1, 0, too_big, 1), 0);
	assert_true(bootenv_copy_valid(c1));
}

static void test_get(void **state)
{
	char v[8];

	(void)state;
	make(0, 0);
	assert_int_equal(bootenv_get(c1, "BOOT_ORDER", v, sizeof(v)), 0);
	assert_string_equal(v, "A B");
	assert_int_equal(bootenv_get(c1, "BOOT_B_LEFT", v, sizeof(v)), 0);
	assert_string_equal(v, "0");
	/* A prefix of a name is not the name. */
	assert_int_equal(bootenv_get(c1, "BOOT", v, sizeof(v)), -ENOENT);
	assert_int_equal(bootenv_get(c1, "BOOT_C_LEFT", v, sizeof(v)), -ENOENT);
	assert_int_equal(bootenv_get(c1, "BOOT_ORDER", v, 3), -ENOSPC);
	assert_int_equal(bootenv_get(c1, "BOOT_ORDER", v, 4), 0);
}

static void test_get_unterminated(void **state)
{
	char v[8];

	(void)state;
	memset(c1, 'x', sizeof(c1));
	assert_int_equal(bootenv_get(c1, "BOOT_ORDER", v, sizeof(v)), -EINVAL);
}

/* ---- which copy is current ---- */

static void test_newer_flag_wins(void **state)
{
	(void)state;
	make(5, 6);
	assert_int_equal(bootenv_current(c1, c2), 2);
	make(6, 5);
	assert_int_equal(bootenv_current(c1, c2), 1);
	/* A plain comparison, no serial-number arithmetic: 128 is newer than 3. */
	make(128, 3);
	assert_int_equal(bootenv_current(c1, c2), 1);
	make(254, 255);
	assert_int_equal(bootenv_current(c1, c2), 2);
}

static void test_equal_flags_choose_copy1(void **state)
{
	(void)state;
	make(0, 0);
	assert_int_equal(bootenv_current(c1, c2), 1);
	make(42, 42);
	assert_int_equal(bootenv_current(c1, c2), 1);
	make(255, 255);
	assert_int_equal(bootenv_current(c1, c2), 1);
}

static void test_wrap_around(void **state)
{
	(void)state;
	make(255, 0);
	assert_int_equal(bootenv_current(c1, c2), 2);
	make(0, 255);
	assert_int_equal(bootenv_current(c1, c2), 1);
	/* Only 255 -> 0 wraps: 254 and 0 compare plainly. */
	make(254, 0);
	assert_int_equal(bootenv_current(c1, c2), 1);
	make(1, 255);
	assert_int_equal(bootenv_current(c1, c2), 2);
}

static void test_bad_crc_loses_whatever_its_flag(void **state)
{
	(void)state;
	make(9, 5);
	corrupt(c1);
	assert_false(bootenv_copy_valid(c1));
	assert_int_equal(bootenv_current(c1, c2), 2);
	make(5, 9);
	corrupt(c2);
	assert_int_equal(bootenv_current(c1, c2), 1);
	/* A torn write that changed only the CRC bytes is just as bad. */
	make(0, 0);
	c1[0] ^= 1;
	assert_int_equal(bootenv_current(c1, c2), 2);
	/* The flag is outside the CRC: a changed flag alone leaves the copy valid. */
	make(3, 4);
	c2[4] = 0;
	assert_true(bootenv_copy_valid(c2));
	assert_int_equal(bootenv_current(c1, c2), 1);
}

static void test_both_bad(void **state)
{
	(void)state;
	make(1, 2);
	corrupt(c1);
	corrupt(c2);
	assert_int_equal(bootenv_current(c1, c2), -ENODATA);
	/* An erased partition: all zeros has a CRC of 0 stored but not computed. */
	memset(c1, 0, sizeof(c1));
	memset(c2, 0xff, sizeof(c2));
	assert_int_equal(bootenv_current(c1, c2), -ENODATA);
}

/* ---- parsing the variables ---- */

static void test_parse_order(void **state)
{
	static const char *const bad[] = {
		"", "A  B", "A B ", " A B", "A,B", "AB", "A A", "B B", "C", "A B A", "a b", "A\tB",
	};
	char order[BOOTENV_SLOTS + 1];

	(void)state;
	assert_int_equal(bootenv_parse_order("A B", order), 0);
	assert_string_equal(order, "AB");
	assert_int_equal(bootenv_parse_order("B A", order), 0);
	assert_string_equal(order, "BA");
	assert_int_equal(bootenv_parse_order("B", order), 0);
	assert_string_equal(order, "B");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(bootenv_parse_order(bad[i], order), -EINVAL);
	assert_int_equal(bootenv_parse_order(NULL, order), -EINVAL);
}

static void test_parse_left(void **state)
{
	static const char *const bad[] = { "", "10", "-1", "a", " 3", "3 ", "0x3" };
	unsigned left = 7;

	(void)state;
	assert_int_equal(bootenv_parse_left("0", &left), 0);
	assert_int_equal(left, 0);
	assert_int_equal(bootenv_parse_left("9", &left), 0);
	assert_int_equal(left, 9);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(bootenv_parse_left(bad[i], &left), -EINVAL);
	assert_int_equal(bootenv_parse_left(NULL, &left), -EINVAL);
	assert_int_equal(left, 9);
}

/* ---- the boot script's decision ---- */

static struct bootenv_decision decide(const char *order, unsigned a, unsigned b)
{
	struct bootenv_state st = { .left = { a, b } };
	struct bootenv_decision d;

	strcpy(st.order, order);
	assert_int_equal(bootenv_decide(&st, &d), 0);
	return d;
}

static void test_first_slot_with_tries(void **state)
{
	struct bootenv_decision d;

	(void)state;
	d = decide("AB", 3, 3);
	assert_int_equal(d.slot, 'A');
	assert_false(d.reset);
	assert_int_equal(d.next.left[0], 2);
	assert_int_equal(d.next.left[1], 3);
	assert_string_equal(d.next.order, "AB");
}

static void test_order_b_first(void **state)
{
	struct bootenv_decision d;

	(void)state;
	/* Just after an update to B: B gets its tries first, A is left alone. */
	d = decide("BA", 3, 3);
	assert_int_equal(d.slot, 'B');
	assert_int_equal(d.next.left[0], 3);
	assert_int_equal(d.next.left[1], 2);
}

static void test_skip_slot_without_tries(void **state)
{
	struct bootenv_decision d;

	(void)state;
	/* B spent its tries without being marked good: fall back to A. */
	d = decide("BA", 3, 0);
	assert_int_equal(d.slot, 'A');
	assert_false(d.reset);
	assert_int_equal(d.next.left[0], 2);
	assert_int_equal(d.next.left[1], 0);
	/* The last try is still a try. */
	d = decide("BA", 3, 1);
	assert_int_equal(d.slot, 'B');
	assert_int_equal(d.next.left[1], 0);
}

static void test_rollback_sequence(void **state)
{
	struct bootenv_state st = { .order = "BA", .left = { 3, 3 } };
	struct bootenv_decision d;
	char booted[8] = "";

	(void)state;
	/* A bad B never confirms: B, B, B, then A with its counter intact. */
	for (int i = 0; i < 5; i++) {
		assert_int_equal(bootenv_decide(&st, &d), 0);
		booted[i] = d.slot;
		st = d.next;
	}
	assert_string_equal(booted, "BBBAA");
	assert_int_equal(st.left[0], 1);
	assert_int_equal(st.left[1], 0);
}

static void test_all_spent_resets(void **state)
{
	struct bootenv_decision d;

	(void)state;
	d = decide("AB", 0, 0);
	assert_true(d.reset);
	assert_int_equal(d.slot, 'A');
	assert_int_equal(d.next.left[0], BOOTENV_TRIES - 1);
	assert_int_equal(d.next.left[1], BOOTENV_TRIES);
	d = decide("BA", 0, 0);
	assert_true(d.reset);
	assert_int_equal(d.slot, 'B');
	assert_int_equal(d.next.left[0], BOOTENV_TRIES);
	assert_int_equal(d.next.left[1], BOOTENV_TRIES - 1);
}

static void test_single_slot_order(void **state)
{
	struct bootenv_decision d;

	(void)state;
	/* A slot missing from BOOT_ORDER is never booted, even with tries left. */
	d = decide("A", 0, 3);
	assert_true(d.reset);
	assert_int_equal(d.slot, 'A');
}

static void test_decide_rejects_bad_order(void **state)
{
	struct bootenv_state st = { .order = "", .left = { 3, 3 } };
	struct bootenv_decision d;

	(void)state;
	assert_int_equal(bootenv_decide(&st, &d), -EINVAL);
	strcpy(st.order, "AC");
	assert_int_equal(bootenv_decide(&st, &d), -EINVAL);
	assert_int_equal(bootenv_slot_index('C'), -EINVAL);
	assert_int_equal(bootenv_slot_index('B'), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32_check_value),
		cmocka_unit_test(test_format_layout),
		cmocka_unit_test(test_format_rejects),
		cmocka_unit_test(test_get),
		cmocka_unit_test(test_get_unterminated),
		cmocka_unit_test(test_newer_flag_wins),
		cmocka_unit_test(test_equal_flags_choose_copy1),
		cmocka_unit_test(test_wrap_around),
		cmocka_unit_test(test_bad_crc_loses_whatever_its_flag),
		cmocka_unit_test(test_both_bad),
		cmocka_unit_test(test_parse_order),
		cmocka_unit_test(test_parse_left),
		cmocka_unit_test(test_first_slot_with_tries),
		cmocka_unit_test(test_order_b_first),
		cmocka_unit_test(test_skip_slot_without_tries),
		cmocka_unit_test(test_rollback_sequence),
		cmocka_unit_test(test_all_spent_resets),
		cmocka_unit_test(test_single_slot_order),
		cmocka_unit_test(test_decide_rejects_bad_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
