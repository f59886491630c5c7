/* Tests for target: fds, paths and iovecs of a process, tried on this one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "target.h"

struct dir {
	char path[64];
	char file[96];
};

static int setup(void **state)
{
	struct dir *d = calloc(1, sizeof(*d));

	if (!d)
		return -1;
	strcpy(d->path, "/tmp/test_target.XXXXXX");
	if (!mkdtemp(d->path))
		return -1;
	snprintf(d->file, sizeof(d->file), "%s/f", d->path);
	*state = d;
	return 0;
}

static int teardown(void **state)
{
	struct dir *d = *state;

	unlink(d->file);
	rmdir(d->path);
	free(d);
	return 0;
}

static uint64_t addr(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

static void test_kind_names(void **state)
{
	enum target_kind k = TARGET_OTHER;

	(void)state;
	assert_string_equal(target_kind_name(TARGET_BLOCK), "block");
	assert_string_equal(target_kind_name(TARGET_OTHER), "other");
	assert_string_equal(target_kind_name((enum target_kind)42), "other");
	assert_int_equal(target_kind_parse("dir", &k), 0);
	assert_int_equal(k, TARGET_DIR);
	assert_int_equal(target_kind_parse("other", &k), -EINVAL);
	assert_int_equal(target_kind_parse("", &k), -EINVAL);
	assert_int_equal(target_kind_parse(NULL, &k), -EINVAL);
}

static void test_regular_file_position(void **state)
{
	struct dir *d = *state;
	struct target t;
	int fd = open(d->file, O_RDWR | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "0123456789", 10), 10);
	assert_int_equal(lseek(fd, 3, SEEK_SET), 3);
	assert_int_equal(target_fd(getpid(), fd, 1, &t), 0);
	assert_int_equal(t.kind, TARGET_FILE);
	assert_string_equal(t.path, d->file);
	assert_int_equal(t.pos, 3);
	assert_int_equal(target_fd(getpid(), fd, 0, &t), 0);
	assert_int_equal(t.pos, -1);
	close(fd);

	/* O_APPEND: the write goes to the end, wherever the position is. */
	fd = open(d->file, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(target_fd(getpid(), fd, 1, &t), 0);
	assert_int_equal(t.pos, 10);
	close(fd);
}

static void test_pipe_and_directory(void **state)
{
	struct dir *d = *state;
	struct target t;
	int p[2], fd;

	assert_int_equal(pipe(p), 0);
	assert_int_equal(target_fd(getpid(), p[1], 1, &t), 0);
	assert_int_equal(t.kind, TARGET_OTHER);
	assert_memory_equal(t.path, "pipe:[", 6);
	assert_int_equal(t.pos, -1);
	close(p[0]);
	close(p[1]);

	fd = open(d->path, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	assert_int_equal(target_fd(getpid(), fd, 1, &t), 0);
	assert_int_equal(t.kind, TARGET_DIR);
	assert_string_equal(t.path, d->path);
	close(fd);
}

static void test_bad_fds(void **state)
{
	struct target t;

	(void)state;
	assert_int_equal(target_fd(getpid(), 999, 1, &t), -ENOENT);
	assert_int_equal(target_fd(getpid(), -1, 1, &t), -EBADF);
	assert_int_equal(target_fd(999999999, 0, 1, &t), -ENOENT);
}

static void test_read_string(void **state)
{
	long page = sysconf(_SC_PAGESIZE);
	char buf[64], *map;

	(void)state;
	assert_int_equal(target_read_string(getpid(), addr("/etc/fstab"), buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/etc/fstab");
	assert_int_equal(target_read_string(getpid(), addr("/etc/fstab"), buf, 5), -ENAMETOOLONG);
	assert_int_equal(target_read_string(getpid(), 0, buf, sizeof(buf)), -EFAULT);

	/* A string that ends just before an unmapped page is read; one running into it is not. */
	map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(map != MAP_FAILED);
	assert_int_equal(munmap(map + page, page), 0);
	memcpy(map + page - 4, "abc", 4);
	assert_int_equal(target_read_string(getpid(), addr(map + page - 4), buf, sizeof(buf)), 0);
	assert_string_equal(buf, "abc");
	memcpy(map + page - 4, "abcd", 4);
	assert_int_equal(target_read_string(getpid(), addr(map + page - 4), buf, sizeof(buf)),
			 -EFAULT);
	assert_int_equal(target_read(getpid(), addr(map + page - 4), buf, 10), 4);
	munmap(map, page);
}

static void test_abspath(void **state)
{
	struct dir *d = *state;
	char out[PATH_MAX], cwd[PATH_MAX], want[PATH_MAX + 8], tiny[8];
	int fd = open(d->path, O_RDONLY | O_DIRECTORY);

	assert_true(fd >= 0);
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(target_abspath(getpid(), AT_FDCWD, "/abs/x", out, sizeof(out)), 0);
	assert_string_equal(out, "/abs/x");
	assert_int_equal(target_abspath(getpid(), AT_FDCWD, "rel/x", out, sizeof(out)), 0);
	snprintf(want, sizeof(want), "%s/rel/x", strcmp(cwd, "/") == 0 ? "" : cwd);
	assert_string_equal(out, want);
	assert_int_equal(target_abspath(getpid(), fd, "f.tmp", out, sizeof(out)), 0);
	snprintf(want, sizeof(want), "%s/f.tmp", d->path);
	assert_string_equal(out, want);
	/* An empty path (AT_EMPTY_PATH) is the directory fd itself. */
	assert_int_equal(target_abspath(getpid(), fd, "", out, sizeof(out)), 0);
	assert_string_equal(out, d->path);
	assert_int_equal(target_abspath(getpid(), fd, "f", tiny, sizeof(tiny)), -ENAMETOOLONG);
	assert_int_equal(target_abspath(getpid(), 999, "f", out, sizeof(out)), -ENOENT);
	close(fd);
}

static void test_iovecs(void **state)
{
	char a[] = "abc", b[] = "defgh", c[] = "ijklmno", buf[32];
	struct iovec iov[3] = { { a, 3 }, { b, 5 }, { c, 7 } };
	uint64_t sum = 0, cnt = 0;
	size_t got = 0;

	(void)state;
	assert_int_equal(target_iov_len(getpid(), addr(iov), 3, &sum), 0);
	assert_true(sum == 15);
	assert_int_equal(target_iov_len(getpid(), addr(iov), 0, &sum), 0);
	assert_true(sum == 0);
	assert_int_equal(target_iov_len(getpid(), addr(iov), 1025, &sum), -EINVAL);
	assert_int_equal(target_iov_len(getpid(), 0, 2, &sum), -EFAULT);

	assert_int_equal(target_iov_read(getpid(), addr(iov), 3, buf, 10, &got), 0);
	assert_int_equal(got, 10);
	assert_memory_equal(buf, "abcdefghij", 10);
	assert_int_equal(target_iov_read(getpid(), addr(iov), 3, buf, sizeof(buf), &got), 0);
	assert_int_equal(got, 15);

	/* Keep 6: "abc" + "def"; the second iovec is cut to 3 and the count to 2. */
	assert_int_equal(target_iov_shorten(getpid(), addr(iov), 3, 6, &cnt), 0);
	assert_true(cnt == 2);
	assert_int_equal(iov[1].iov_len, 3);
	assert_int_equal(iov[2].iov_len, 7);
	iov[1].iov_len = 5;
	/* Exactly at a boundary: the first iovec whole, nothing more. */
	assert_int_equal(target_iov_shorten(getpid(), addr(iov), 3, 3, &cnt), 0);
	assert_true(cnt == 1);
	assert_int_equal(iov[0].iov_len, 3);
	assert_int_equal(target_iov_shorten(getpid(), addr(iov), 3, 0, &cnt), 0);
	assert_true(cnt == 0);
	assert_int_equal(target_iov_shorten(getpid(), addr(iov), 3, 100, &cnt), 0);
	assert_true(cnt == 3);
	assert_int_equal(iov[0].iov_len + iov[1].iov_len + iov[2].iov_len, 15);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kind_names),
		cmocka_unit_test_setup_teardown(test_regular_file_position, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipe_and_directory, setup, teardown),
		cmocka_unit_test(test_bad_fds),
		cmocka_unit_test(test_read_string),
		cmocka_unit_test_setup_teardown(test_abspath, setup, teardown),
		cmocka_unit_test(test_iovecs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
