/* Tests for fileio: whole reads of small files, whole writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"

static char path[64];

static int setup(void **state)
{
	int fd;

	(void)state;
	strcpy(path, "/tmp/test_fileio.XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	return 0;
}

static void test_write_then_read(void **state)
{
	char buf[16];
	size_t len;
	int fd = open(path, O_WRONLY | O_TRUNC);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(fileio_write_all(fd, "hello\n", 6), 0);
	close(fd);
	assert_int_equal(fileio_read(path, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, 6);
	assert_memory_equal(buf, "hello\n", 6);
}

static void test_read_stops_at_size(void **state)
{
	char buf[4];
	size_t len;
	int fd = open(path, O_WRONLY | O_TRUNC);

	(void)state;
	assert_int_equal(fileio_write_all(fd, "0123456789", 10), 0);
	close(fd);
	assert_int_equal(fileio_read(path, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, sizeof(buf));	/* full: the caller sees it is too big */
	assert_memory_equal(buf, "0123", 4);
}

static void test_read_text(void **state)
{
	char buf[6], small[5];
	int fd = open(path, O_WRONLY | O_TRUNC);

	(void)state;
	assert_int_equal(fileio_write_all(fd, "hello", 5), 0);
	close(fd);
	assert_int_equal(fileio_read_text(path, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "hello");
	/* No room for the NUL: too big, and nothing half read is handed back. */
	assert_int_equal(fileio_read_text(path, small, sizeof(small)), -EFBIG);
	assert_string_equal(small, "");
	assert_int_equal(fileio_read_text("/nonexistent/file", buf, sizeof(buf)), -ENOENT);
	assert_string_equal(buf, "");
	assert_int_equal(fileio_read_text(path, buf, 0), -EINVAL);
}

static void test_errors(void **state)
{
	char buf[4];
	size_t len = 99;

	(void)state;
	assert_int_equal(fileio_read("/nonexistent/file", buf, sizeof(buf), &len), -ENOENT);
	assert_int_equal(len, 0);
	assert_int_equal(fileio_read("/", buf, sizeof(buf), &len), -EISDIR);
	assert_int_equal(fileio_write_all(-1, "x", 1), -EBADF);
	assert_int_equal(fileio_write_all(-1, "", 0), 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_write_then_read),
		T(test_read_stops_at_size),
		T(test_read_text),
		T(test_errors),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
