/* Tests for record: JSON string escaping, the point line, the file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "record.h"

static void assert_json(const char *in, const char *want)
{
	char buf[256];
	int n = record_json_string(buf, sizeof(buf), in);

	assert_int_equal(n, (int)strlen(want));
	assert_string_equal(buf, want);
}

static void test_plain(void **state)
{
	(void)state;
	assert_json("", "\"\"");
	assert_json("/dev/vda4", "\"/dev/vda4\"");
	assert_json("pipe:[123]", "\"pipe:[123]\"");
}

static void test_quotes_and_backslashes(void **state)
{
	(void)state;
	assert_json("a\"b", "\"a\\\"b\"");
	assert_json("a\\b", "\"a\\\\b\"");
	assert_json("/x (deleted)", "\"/x (deleted)\"");
}

static void test_control_bytes(void **state)
{
	(void)state;
	assert_json("a\nb", "\"a\\u000ab\"");
	assert_json("\t\r\x01\x1f", "\"\\u0009\\u000d\\u0001\\u001f\"");
	assert_json("\x7f", "\"\\u007f\"");
}

static void test_utf8_kept_invalid_escaped(void **state)
{
	(void)state;
	assert_json("caf\xc3\xa9", "\"caf\xc3\xa9\"");
	assert_json("\xe2\x82\xac", "\"\xe2\x82\xac\"");		/* euro sign */
	assert_json("\xf0\x9f\x94\x8c", "\"\xf0\x9f\x94\x8c\"");	/* plug */
	assert_json("\xff", "\"\\u00ff\"");
	assert_json("a\xc3", "\"a\\u00c3\"");			/* cut short by the end */
	assert_json("\xc3(", "\"\\u00c3(\"");			/* bad continuation */
	assert_json("\xc0\xaf", "\"\\u00c0\\u00af\"");		/* overlong '/' */
	assert_json("\xe0\x80\xaf", "\"\\u00e0\\u0080\\u00af\"");	/* overlong, 3 bytes */
	assert_json("\xed\xa0\x80", "\"\\u00ed\\u00a0\\u0080\"");	/* UTF-16 surrogate */
	assert_json("\xf4\x90\x80\x80", "\"\\u00f4\\u0090\\u0080\\u0080\"");	/* > U+10FFFF */
}

static void test_string_does_not_fit(void **state)
{
	char buf[8];

	(void)state;
	assert_int_equal(record_json_string(buf, sizeof(buf), "abcde"), 7);
	assert_int_equal(record_json_string(buf, sizeof(buf), "abcdef"), -ENOSPC);
	assert_string_equal(buf, "");
	assert_int_equal(record_json_string(buf, sizeof(buf), "\n"), -ENOSPC);
	assert_int_equal(record_json_string(buf, 0, ""), -ENOSPC);
}

static struct cut_point sample(void)
{
	struct cut_point p = { .index = 7, .syscall = "pwrite64", .kind = TARGET_BLOCK,
			       .phase = "deploy", .offset = 1048576, .len = 1048576, .pid = 123 };

	strcpy(p.path, "/dev/vda4");
	return p;
}

static void test_format_line(void **state)
{
	struct cut_point p = sample();
	char buf[512];
	int n;

	(void)state;
	n = record_format(buf, sizeof(buf), &p, 2345);
	assert_string_equal(buf,
			    "{\"index\":7,\"syscall\":\"pwrite64\",\"edge\":\"-\",\"phase\":\"deploy\","
			    "\"target\":\"block\",\"path\":\"/dev/vda4\",\"path2\":\"\","
			    "\"offset\":1048576,\"len\":1048576,\"pid\":123,\"rule\":null,\"ms\":2345}\n");
	assert_int_equal(n, (int)strlen(buf));
}

static void test_format_nulls_and_second_path(void **state)
{
	struct cut_point p = { .index = 1, .syscall = "renameat2", .kind = TARGET_PATH,
			       .phase = "bootloader", .rule = 3, .offset = -1, .len = -1, .pid = 9 };
	char buf[512];

	(void)state;
	strcpy(p.path, "/boot/env \"new\"");
	strcpy(p.path2, "/boot/env");
	assert_true(record_format(buf, sizeof(buf), &p, 0) > 0);
	assert_string_equal(buf,
			    "{\"index\":1,\"syscall\":\"renameat2\",\"edge\":\"-\",\"phase\":\"bootloader\","
			    "\"target\":\"path\",\"path\":\"/boot/env \\\"new\\\"\",\"path2\":\"/boot/env\","
			    "\"offset\":null,\"len\":null,\"pid\":9,\"rule\":3,\"ms\":0}\n");
	assert_int_equal(record_format(buf, 40, &p, 0), -ENOSPC);
	assert_string_equal(buf, "");
}

static void test_worst_case_line_fits(void **state)
{
	struct cut_point p = sample();
	char *buf = malloc(RECORD_LINE_MAX);

	(void)state;
	assert_non_null(buf);
	memset(p.path, '\n', sizeof(p.path) - 1);
	p.path[sizeof(p.path) - 1] = '\0';
	memset(p.path2, '\xff', sizeof(p.path2) - 1);
	p.path2[sizeof(p.path2) - 1] = '\0';
	assert_true(record_format(buf, RECORD_LINE_MAX, &p, UINT64_MAX) > 2 * 6 * (PATH_MAX - 1));
	free(buf);
}

/* The record file at path into text (size bytes, NUL-terminated); its length. */
static size_t read_back(const char *path, char *text, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(text, 1, size - 1, f);
	text[n] = '\0';
	fclose(f);
	return n;
}

static void test_file_round_trip(void **state)
{
	char dir[] = "/tmp/test_record.XXXXXX", path[64], text[1024];
	struct cut_point p = sample();
	struct record r;
	size_t n;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/points.jsonl", dir);
	assert_int_equal(record_open(&r, path), 0);
	assert_int_equal(record_point(&r, &p), 0);
	p.index = 8;
	p.offset = -1;
	assert_int_equal(record_point(&r, &p), 0);
	assert_int_equal(record_close(&r), 0);
	assert_int_equal(record_close(&r), 0);	/* twice is harmless */

	n = read_back(path, text, sizeof(text));
	assert_non_null(strstr(text, "{\"index\":7,"));
	assert_non_null(strstr(text, "}\n{\"index\":8,"));
	assert_non_null(strstr(text, "\"offset\":null,\"len\":1048576,\"pid\":123,\"rule\":null,\"ms\":"));
	assert_int_equal(text[n - 1], '\n');

	/* Opening truncates: a record run lists only its own points. */
	assert_int_equal(record_open(&r, path), 0);
	assert_int_equal(record_close(&r), 0);
	assert_int_equal(read_back(path, text, sizeof(text)), 0);

	unlink(path);
	rmdir(dir);
	snprintf(path, sizeof(path), "%s/points.jsonl", dir);
	assert_int_equal(record_open(&r, path), -ENOENT);
}

/* The ms of the line at the start of text, or -1. */
static long ms_of(const char *text)
{
	const char *at = strstr(text, "\"ms\":");

	return at ? strtol(at + 5, NULL, 10) : -1;
}

static void test_points_carry_the_time_since_the_record_opened(void **state)
{
	char dir[] = "/tmp/test_record.XXXXXX", path[64], text[1024];
	const struct timespec pause = { .tv_sec = 0, .tv_nsec = 30 * 1000000L };
	struct cut_point p = sample();
	struct record r;
	long first, second;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/points.jsonl", dir);
	assert_int_equal(record_open(&r, path), 0);
	assert_int_equal(record_point(&r, &p), 0);
	assert_int_equal(nanosleep(&pause, NULL), 0);
	assert_int_equal(record_point(&r, &p), 0);
	assert_int_equal(record_close(&r), 0);

	read_back(path, text, sizeof(text));
	first = ms_of(text);
	second = ms_of(strchr(text, '\n') + 1);
	assert_true(first >= 0);
	/* The clock is monotonic: the second point comes at least the pause later. */
	assert_true(second - first >= 30);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_quotes_and_backslashes),
		cmocka_unit_test(test_control_bytes),
		cmocka_unit_test(test_utf8_kept_invalid_escaped),
		cmocka_unit_test(test_string_does_not_fit),
		cmocka_unit_test(test_format_line),
		cmocka_unit_test(test_format_nulls_and_second_path),
		cmocka_unit_test(test_worst_case_line_fits),
		cmocka_unit_test(test_file_round_trip),
		cmocka_unit_test(test_points_carry_the_time_since_the_record_opened),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
