/* Tests for status: formatting, parsing, atomic writing and reading the status file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "status.h"

static const char good[] = "version=2\nseq=41\nhealthy=1\npid=1234\n";

static int parse(const char *text, struct status *st)
{
	return status_parse(text, strlen(text), st);
}

static struct status sample(void)
{
	struct status st = { .version = "2-bad", .seq = 7, .healthy = false, .pid = 99 };

	return st;
}

/* Field by field: the padding bytes in struct status are not part of its value. */
static void assert_status_equal(const struct status *a, const struct status *b)
{
	assert_string_equal(a->version, b->version);
	assert_true(a->seq == b->seq);
	assert_int_equal(a->healthy, b->healthy);
	assert_int_equal(a->pid, b->pid);
}

/* ---- format ---- */

static void test_format_exact_text(void **state)
{
	struct status st = { .version = "2", .seq = 41, .healthy = true, .pid = 1234 };
	char buf[STATUS_FILE_MAX];

	(void)state;
	assert_int_equal(status_format(&st, buf, sizeof(buf)), (int)strlen(good));
	assert_string_equal(buf, good);
}

static void test_format_rejects_bad_fields(void **state)
{
	char buf[STATUS_FILE_MAX];
	struct status st = sample();

	(void)state;
	strcpy(st.version, "");
	assert_int_equal(status_format(&st, buf, sizeof(buf)), -EINVAL);
	strcpy(st.version, "two words");
	assert_int_equal(status_format(&st, buf, sizeof(buf)), -EINVAL);
	memset(st.version, 'v', sizeof(st.version));	/* no NUL inside */
	assert_int_equal(status_format(&st, buf, sizeof(buf)), -EINVAL);
	st = sample();
	st.pid = 0;
	assert_int_equal(status_format(&st, buf, sizeof(buf)), -EINVAL);
	st.pid = -5;
	assert_int_equal(status_format(&st, buf, sizeof(buf)), -EINVAL);
}

static void test_format_nospace(void **state)
{
	struct status st = sample();
	char buf[STATUS_FILE_MAX];
	int len;

	(void)state;
	len = status_format(&st, buf, sizeof(buf));
	assert_true(len > 0);
	assert_int_equal(status_format(&st, buf, (size_t)len + 1), len);
	assert_int_equal(status_format(&st, buf, (size_t)len), -ENOSPC);
}

/* ---- parse ---- */

static void test_parse_good_and_roundtrip(void **state)
{
	struct status in = sample(), out;
	char buf[STATUS_FILE_MAX];

	(void)state;
	assert_int_equal(parse(good, &out), 0);
	assert_string_equal(out.version, "2");
	assert_true(out.seq == 41);
	assert_true(out.healthy);
	assert_int_equal(out.pid, 1234);

	in.seq = UINT64_MAX;
	strcpy(in.version, "0123456789012345678901234567890");	/* 31, the longest */
	assert_true(status_format(&in, buf, sizeof(buf)) > 0);
	assert_int_equal(parse(buf, &out), 0);
	assert_status_equal(&in, &out);
}

static void test_parse_any_order(void **state)
{
	struct status st;

	(void)state;
	assert_int_equal(parse("pid=1\nhealthy=0\nseq=0\nversion=1\n", &st), 0);
	assert_string_equal(st.version, "1");
	assert_false(st.healthy);
}

static void test_parse_every_truncation_fails(void **state)
{
	struct status st;

	(void)state;
	for (size_t len = 0; len < strlen(good); len++)
		assert_int_equal(status_parse(good, len, &st), -EINVAL);
}

static void test_parse_oversized(void **state)
{
	char big[STATUS_FILE_MAX + 2];
	struct status st;

	(void)state;
	memset(big, '\n', sizeof(big));
	assert_int_equal(status_parse(big, STATUS_FILE_MAX + 1, &st), -EFBIG);
	assert_int_equal(status_parse(big, STATUS_FILE_MAX, &st), -EINVAL);
}

static void test_parse_missing_duplicate_unknown_keys(void **state)
{
	static const char *const bad[] = {
		"seq=1\nhealthy=1\npid=1\n",
		"version=1\nhealthy=1\npid=1\n",
		"version=1\nseq=1\npid=1\n",
		"version=1\nseq=1\nhealthy=1\n",
		"version=1\nseq=1\nseq=2\nhealthy=1\npid=1\n",
		"version=1\nseq=1\nhealthy=1\npid=1\npid=1\n",
		"version=1\nseq=1\nhealthy=1\npid=1\nextra=1\n",
		"version=1\nseq=1\nhealthy=1\npid=1\n\n",
		"version=1\nseq=1\nhealthy=1\npid=1\n=1\n",
		"version=1\nseq=1\nhealthy=1\npid=1\nnoequals\n",
		"version=1\nSeq=1\nhealthy=1\npid=1\n",
		"version=1\nseq =1\nhealthy=1\npid=1\n",
		"",
		"\n",
	};
	struct status st;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i], &st) != -EINVAL)
			fail_msg("accepted case %zu: %s", i, bad[i]);
	}
}

static void test_parse_bad_values(void **state)
{
	static const char *const bad[] = {
		"version=1\nseq=\nhealthy=1\npid=1\n",
		"version=1\nseq=12a\nhealthy=1\npid=1\n",
		"version=1\nseq=-1\nhealthy=1\npid=1\n",
		"version=1\nseq= 1\nhealthy=1\npid=1\n",
		"version=1\nseq=18446744073709551616\nhealthy=1\npid=1\n",
		"version=1\nseq=1\nhealthy=2\npid=1\n",
		"version=1\nseq=1\nhealthy=\npid=1\n",
		"version=1\nseq=1\nhealthy=01\npid=1\n",
		"version=1\nseq=1\nhealthy=yes\npid=1\n",
		"version=1\nseq=1\nhealthy=1\npid=0\n",
		"version=1\nseq=1\nhealthy=1\npid=2147483648\n",
		"version=1\nseq=1\nhealthy=1\npid=abc\n",
		"version=\nseq=1\nhealthy=1\npid=1\n",
		"version=a b\nseq=1\nhealthy=1\npid=1\n",
		"version=01234567890123456789012345678901\nseq=1\nhealthy=1\npid=1\n",
		"version=1\r\nseq=1\r\nhealthy=1\r\npid=1\r\n",
	};
	struct status st;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i], &st) != -EINVAL)
			fail_msg("accepted case %zu: %s", i, bad[i]);
	}
}

static void test_parse_nul_byte(void **state)
{
	static const char text[] = "version=1\nseq=1\0\nhealthy=1\npid=1\n";
	struct status st;

	(void)state;
	assert_int_equal(status_parse(text, sizeof(text) - 1, &st), -EINVAL);
}

static void test_parse_failure_leaves_output_alone(void **state)
{
	struct status st = sample(), before = sample();

	(void)state;
	assert_int_equal(parse("version=9\nseq=1\nhealthy=1\n", &st), -EINVAL);
	assert_status_equal(&st, &before);
}

/* ---- files ---- */

struct fixture {
	char dir[64];
	char path[128];
};

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(path);
}

static int setup_dir(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	strcpy(fx->dir, "/tmp/test_status.XXXXXX");
	if (!mkdtemp(fx->dir)) {
		free(fx);
		return -1;
	}
	snprintf(fx->path, sizeof(fx->path), "%s/app.status", fx->dir);
	*state = fx;
	return 0;
}

static int teardown_dir(void **state)
{
	struct fixture *fx = *state;
	int rc = nftw(fx->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);

	free(fx);
	return rc;
}

static int count_entries(const char *dir)
{
	struct dirent *e;
	int n = 0;
	DIR *d = opendir(dir);

	assert_non_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void write_text(const char *path, const char *text, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
}

static void test_write_then_read(void **state)
{
	struct fixture *fx = *state;
	struct status in = sample(), out;
	struct stat sb;

	assert_int_equal(status_write(fx->path, &in), 0);
	assert_int_equal(status_read(fx->path, &out), 0);
	assert_status_equal(&in, &out);

	in.seq++;
	in.healthy = true;
	assert_int_equal(status_write(fx->path, &in), 0);
	assert_int_equal(status_read(fx->path, &out), 0);
	assert_status_equal(&in, &out);

	assert_int_equal(stat(fx->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0644);
	assert_int_equal(count_entries(fx->dir), 1);	/* no temp file left */
}

static void test_write_failures_leave_nothing(void **state)
{
	struct fixture *fx = *state;
	struct status st = sample();
	char path[PATH_MAX + 16];

	st.pid = 0;
	assert_int_equal(status_write(fx->path, &st), -EINVAL);
	st = sample();
	snprintf(path, sizeof(path), "%s/missing/app.status", fx->dir);
	assert_int_equal(status_write(path, &st), -ENOENT);
	memset(path, 'a', PATH_MAX);
	path[PATH_MAX] = '\0';
	assert_int_equal(status_write(path, &st), -ENAMETOOLONG);
	assert_int_equal(count_entries(fx->dir), 0);
}

static void test_read_errors(void **state)
{
	struct fixture *fx = *state;
	char big[STATUS_FILE_MAX + 100];
	struct status st;

	assert_int_equal(status_read(fx->path, &st), -ENOENT);
	write_text(fx->path, "", 0);
	assert_int_equal(status_read(fx->path, &st), -EINVAL);
	write_text(fx->path, good, strlen(good) - 1);
	assert_int_equal(status_read(fx->path, &st), -EINVAL);
	memset(big, '\n', sizeof(big));
	write_text(fx->path, big, sizeof(big));
	assert_int_equal(status_read(fx->path, &st), -EFBIG);
	write_text(fx->path, good, strlen(good));
	assert_int_equal(status_read(fx->path, &st), 0);
	assert_int_equal(status_read(fx->dir, &st), -EISDIR);
}

static void test_make_parent(void **state)
{
	struct fixture *fx = *state;
	char path[256];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/a/b//c/app.status", fx->dir);
	assert_int_equal(status_make_parent(path), 0);
	assert_int_equal(status_make_parent(path), 0);	/* again: all exist */
	snprintf(path, sizeof(path), "%s/a/b/c", fx->dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));

	assert_int_equal(status_make_parent("app.status"), 0);
	assert_int_equal(status_make_parent("/app.status"), 0);

	write_text(fx->path, good, strlen(good));
	snprintf(path, sizeof(path), "%s/x/app.status", fx->path);
	assert_int_equal(status_make_parent(path), -ENOTDIR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_exact_text),
		cmocka_unit_test(test_format_rejects_bad_fields),
		cmocka_unit_test(test_format_nospace),
		cmocka_unit_test(test_parse_good_and_roundtrip),
		cmocka_unit_test(test_parse_any_order),
		cmocka_unit_test(test_parse_every_truncation_fails),
		cmocka_unit_test(test_parse_oversized),
		cmocka_unit_test(test_parse_missing_duplicate_unknown_keys),
		cmocka_unit_test(test_parse_bad_values),
		cmocka_unit_test(test_parse_nul_byte),
		cmocka_unit_test(test_parse_failure_leaves_output_alone),
		cmocka_unit_test_setup_teardown(test_write_then_read, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_write_failures_leave_nothing, setup_dir,
						teardown_dir),
		cmocka_unit_test_setup_teardown(test_read_errors, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_make_parent, setup_dir, teardown_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
