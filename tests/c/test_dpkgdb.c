/*
 * Tests for dpkgdb: journal entries counted by dpkg's rule in a directory of
 * our own; a missing directory, stray names, the import temp file, a
 * too-long name and a path that is not a directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "inplace/dpkgdb.h"

struct dir {
	char path[64];
};

static void touch(const struct dir *d, const char *name)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", d->path, name);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	close(fd);
}

static int dir_setup(void **state)
{
	struct dir *d = calloc(1, sizeof(*d));

	if (!d)
		return -1;
	strcpy(d->path, "/tmp/test_dpkgdb.XXXXXX");
	if (!mkdtemp(d->path)) {
		free(d);
		return -1;
	}
	*state = d;
	return 0;
}

static int dir_teardown(void **state)
{
	struct dir *d = *state;
	DIR *dir = opendir(d->path);
	struct dirent *de;
	int rc = 0;

	if (!dir)
		return -1;
	/* The tests make files only, no subdirectories. */
	while ((de = readdir(dir)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
		    unlinkat(dirfd(dir), de->d_name, 0) < 0)
			rc = -1;
	closedir(dir);
	if (rmdir(d->path) < 0)
		rc = -1;
	free(d);
	return rc;
}

static void test_empty_dir_has_no_entries(void **state)
{
	const struct dir *d = *state;

	assert_int_equal(dpkgdb_journal_entries(d->path), 0);
}

static void test_missing_dir_has_no_entries(void **state)
{
	const struct dir *d = *state;
	char path[96];

	snprintf(path, sizeof(path), "%s/absent", d->path);
	assert_int_equal(dpkgdb_journal_entries(path), 0);
}

static void test_counts_digit_names_only(void **state)
{
	const struct dir *d = *state;

	touch(d, "0000");
	touch(d, "0001");
	touch(d, "0017");
	touch(d, "tmp.i");	/* dpkg's import in progress, not a journal entry */
	touch(d, "00a1");
	touch(d, "0002~");
	assert_int_equal(dpkgdb_journal_entries(d->path), 3);
}

static void test_name_longer_than_dpkg_reads_is_not_an_entry(void **state)
{
	const struct dir *d = *state;

	touch(d, "0123456789");
	touch(d, "01234567890");
	assert_int_equal(dpkgdb_journal_entries(d->path), 1);
}

static void test_file_instead_of_dir_is_an_error(void **state)
{
	const struct dir *d = *state;
	char path[96];

	touch(d, "status");
	snprintf(path, sizeof(path), "%s/status", d->path);
	assert_int_equal(dpkgdb_journal_entries(path), -ENOTDIR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_empty_dir_has_no_entries, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_missing_dir_has_no_entries, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_counts_digit_names_only, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_name_longer_than_dpkg_reads_is_not_an_entry,
						dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_file_instead_of_dir_is_an_error, dir_setup,
						dir_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
