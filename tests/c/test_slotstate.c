/* Tests for slotstate: the record format, its edge cases, durable write and read back. */
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
#include <sys/stat.h>
#include <unistd.h>

#include "slotstate.h"

#define HEX64 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/test_slotstate.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char path[128];

	(void)state;
	for (const char *s = "AB"; *s; s++) {
		snprintf(path, sizeof(path), "%s/slot-%c", dir, *s);
		unlink(path);
		snprintf(path, sizeof(path), "%s/slot-%c.tmp", dir, *s);
		unlink(path);
	}
	rmdir(dir);
	return 0;
}

static struct slotstate sample(void)
{
	struct slotstate st = { .size = 315077848 };

	for (size_t i = 0; i < sizeof(st.sha256); i++)
		st.sha256[i] = (uint8_t)(i % 16 * 0x11);
	return st;
}

static void test_format_then_parse(void **state)
{
	struct slotstate st = sample(), back;
	char buf[SLOTSTATE_FILE_MAX];
	int n;

	(void)state;
	n = slotstate_format(&st, buf, sizeof(buf));
	assert_true(n > 0);
	assert_string_equal(buf, "sha256=" HEX64 "\nsize=315077848\n");
	assert_int_equal(slotstate_parse(buf, (size_t)n, &back), 0);
	assert_memory_equal(back.sha256, st.sha256, sizeof(st.sha256));
	assert_int_equal(back.size, st.size);
	assert_int_equal(slotstate_format(&st, buf, 20), -ENOSPC);
}

static void assert_garbled(const char *text)
{
	struct slotstate st;

	if (slotstate_parse(text, strlen(text), &st) != -EINVAL) {
		print_error("accepted: '%s'\n", text);
		fail();
	}
}

static void test_parse_rejects_garbage(void **state)
{
	(void)state;
	assert_garbled("");
	assert_garbled("sha256=" HEX64 "\n");				/* no size */
	assert_garbled("sha256=" HEX64 "\nsize=12");			/* cut short */
	assert_garbled("sha256=" HEX64 "\nsize=12\nextra=1\n");		/* more after */
	assert_garbled("sha256=" HEX64 "\nsize=-1\n");
	assert_garbled("sha256=" HEX64 "\nsize=\n");
	assert_garbled("sha256=00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff\nsize=1\n");
	assert_garbled("sha256=0011\nsize=1\n");
	assert_garbled("size=1\nsha256=" HEX64 "\n");
}

static void test_write_then_read(void **state)
{
	struct slotstate st = sample(), back;
	char path[128];
	struct stat sb;

	(void)state;
	assert_int_equal(slotstate_read(dir, 'B', &back), -ENOENT);
	assert_int_equal(slotstate_write(dir, 'B', &st), 0);
	assert_int_equal(slotstate_read(dir, 'B', &back), 0);
	assert_memory_equal(back.sha256, st.sha256, sizeof(st.sha256));
	assert_int_equal(back.size, st.size);
	assert_int_equal(slotstate_read(dir, 'A', &back), -ENOENT);
	/* No temporary file is left behind. */
	snprintf(path, sizeof(path), "%s/slot-B.tmp", dir);
	assert_int_equal(stat(path, &sb), -1);
	/* A second write replaces the first. */
	st.size = 7;
	assert_int_equal(slotstate_write(dir, 'B', &st), 0);
	assert_int_equal(slotstate_read(dir, 'B', &back), 0);
	assert_int_equal(back.size, 7);
}

static void test_bad_slot_and_garbled_file(void **state)
{
	struct slotstate st = sample();
	char path[128];
	int fd;

	(void)state;
	assert_int_equal(slotstate_write(dir, 'C', &st), -EINVAL);
	assert_int_equal(slotstate_read(dir, 'c', &st), -EINVAL);
	snprintf(path, sizeof(path), "%s/slot-A", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "sha256=", 7), 7);
	close(fd);
	assert_int_equal(slotstate_read(dir, 'A', &st), -EINVAL);
	assert_int_equal(slotstate_write("/nonexistent/dir/deeper", 'A', &st), -ENOENT);
}

static void test_clear(void **state)
{
	struct slotstate st = sample();

	(void)state;
	assert_int_equal(slotstate_clear(dir, 'A'), 0);		/* none: nothing to do */
	assert_int_equal(slotstate_write(dir, 'A', &st), 0);
	assert_int_equal(slotstate_write(dir, 'B', &st), 0);
	assert_int_equal(slotstate_clear(dir, 'A'), 0);
	assert_int_equal(slotstate_read(dir, 'A', &st), -ENOENT);
	assert_int_equal(slotstate_read(dir, 'B', &st), 0);
	assert_int_equal(slotstate_clear(dir, 'X'), -EINVAL);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_format_then_parse),
		T(test_parse_rejects_garbage),
		T(test_write_then_read),
		T(test_bad_slot_and_garbled_file),
		T(test_clear),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
