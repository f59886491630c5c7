/* Tests for syscalls: the table of calls the agent stops on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <linux/fs.h>
#include <string.h>
#include <sys/syscall.h>

#include "syscalls.h"

static void test_by_name(void **state)
{
	const struct syscalls_entry *e;

	(void)state;
	e = syscalls_by_name("write");
	assert_non_null(e);
	assert_int_equal(e->nr, SYS_write);
	assert_int_equal(e->kind, SYSCALLS_WRITE);
	assert_int_equal(syscalls_by_name("pwrite64")->nr, SYS_pwrite64);
	assert_int_equal(syscalls_by_name("renameat2")->kind, SYSCALLS_AT2);
	assert_int_equal(syscalls_by_name("sync_file_range")->nr, SYS_sync_file_range);
	assert_null(syscalls_by_name("read"));
	assert_null(syscalls_by_name(""));
	assert_null(syscalls_by_name(NULL));
}

static void test_calls_this_arch_lacks(void **state)
{
	(void)state;
#ifdef SYS_rename
	assert_int_equal(syscalls_by_name("rename")->nr, SYS_rename);
	assert_int_equal(syscalls_by_name("unlink")->nr, SYS_unlink);
	assert_int_equal(syscalls_by_name("link")->nr, SYS_link);
#else
	assert_int_equal(syscalls_by_name("rename")->nr, -1);
	assert_int_equal(syscalls_by_name("unlink")->nr, -1);
	assert_int_equal(syscalls_by_name("link")->nr, -1);
#endif
	/* -1 is never looked up as a number. */
	assert_null(syscalls_by_nr(-1));
}

static void test_by_nr(void **state)
{
	(void)state;
	assert_string_equal(syscalls_by_nr(SYS_fsync)->name, "fsync");
	assert_string_equal(syscalls_by_nr(SYS_unlinkat)->name, "unlinkat");
	assert_string_equal(syscalls_by_nr(SYS_ioctl)->name, "ioctl");
	assert_null(syscalls_by_nr(SYS_read));
	assert_null(syscalls_by_nr(SYS_openat));
}

static void test_table_unique(void **state)
{
	size_t n;
	const struct syscalls_entry *t = syscalls_table(&n);

	(void)state;
	assert_true(n >= 20);
	for (size_t i = 0; i < n; i++) {
		for (size_t j = i + 1; j < n; j++) {
			assert_string_not_equal(t[i].name, t[j].name);
			assert_true(t[i].nr < 0 || t[i].nr != t[j].nr);
		}
		assert_ptr_equal(syscalls_by_name(t[i].name), &t[i]);
	}
}

static void test_write_family(void **state)
{
	(void)state;
	assert_true(syscalls_is_write(syscalls_by_name("write")));
	assert_true(syscalls_is_write(syscalls_by_name("pwrite64")));
	assert_true(syscalls_is_write(syscalls_by_name("writev")));
	assert_true(syscalls_is_write(syscalls_by_name("pwritev")));
	assert_true(syscalls_is_write(syscalls_by_name("pwritev2")));
	assert_false(syscalls_is_write(syscalls_by_name("fsync")));
	assert_false(syscalls_is_write(syscalls_by_name("ftruncate")));
	assert_false(syscalls_is_write(NULL));
}

static void test_block_ioctls(void **state)
{
	size_t n;
	const struct syscalls_ioctl *r = syscalls_blk_ioctls(&n);

	(void)state;
	assert_int_equal(n, 6);
	assert_string_equal(syscalls_blk_ioctl(BLKDISCARD), "BLKDISCARD");
	assert_string_equal(syscalls_blk_ioctl(BLKFLSBUF), "BLKFLSBUF");
	assert_string_equal(syscalls_blk_ioctl(BLKZEROOUT), "BLKZEROOUT");
	/* The kernel reads an unsigned int; garbage in the upper half does not matter. */
	assert_string_equal(syscalls_blk_ioctl(BLKDISCARD | (1ull << 40)), "BLKDISCARD");
	assert_null(syscalls_blk_ioctl(BLKGETSIZE64));
	assert_null(syscalls_blk_ioctl(0));
	for (size_t i = 0; i < n; i++)
		assert_string_equal(syscalls_blk_ioctl(r[i].request), r[i].name);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_by_name),
		cmocka_unit_test(test_calls_this_arch_lacks),
		cmocka_unit_test(test_by_nr),
		cmocka_unit_test(test_table_unique),
		cmocka_unit_test(test_write_family),
		cmocka_unit_test(test_block_ioctls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
