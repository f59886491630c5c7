/* Tests for marker: formatting and emitting BROWNOUT console lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "marker.h"

static const struct marker_field hb[] = { { "version", "2-bad" }, { "seq", "17" } };
static const char hb_line[] = "BROWNOUT heartbeat version=2-bad seq=17\n";

static void test_formats_heartbeat(void **state)
{
	char buf[MARKER_MAX + 1];

	(void)state;
	assert_int_equal(marker_format(buf, sizeof(buf), "heartbeat", hb, 2),
			 (int)strlen(hb_line));
	assert_string_equal(buf, hb_line);
}

static void test_event_without_fields(void **state)
{
	char buf[64];

	(void)state;
	assert_int_equal(marker_format(buf, sizeof(buf), "app-stop", NULL, 0), 18);
	assert_string_equal(buf, "BROWNOUT app-stop\n");
}

static void test_rejects_bad_event(void **state)
{
	static const char *const bad[] = { "", "two words", "Upper", "nl\n", "a=b", "tab\t" };
	char buf[64];

	(void)state;
	assert_int_equal(marker_format(buf, sizeof(buf), NULL, NULL, 0), -EINVAL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(marker_format(buf, sizeof(buf), bad[i], NULL, 0), -EINVAL);
	assert_string_equal(buf, "");
}

static void test_rejects_bad_key(void **state)
{
	static const char *const bad[] = { "", "a b", "a=b", "a\n", "A", "k\xc3\xa9" };
	char buf[64];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct marker_field f = { bad[i], "v" };

		assert_int_equal(marker_format(buf, sizeof(buf), "e", &f, 1), -EINVAL);
	}
	assert_int_equal(marker_format(buf, sizeof(buf), "e",
				       &(struct marker_field){ NULL, "v" }, 1), -EINVAL);
}

static void test_rejects_bad_value(void **state)
{
	static const char *const bad[] = { "", "a b", "a\n", "\tx", "x\r", "\x7f", "\xc3\xa9" };
	char buf[64];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct marker_field f = { "k", bad[i] };

		assert_int_equal(marker_format(buf, sizeof(buf), "e", &f, 1), -EINVAL);
	}
	assert_int_equal(marker_format(buf, sizeof(buf), "e",
				       &(struct marker_field){ "k", NULL }, 1), -EINVAL);
	assert_int_equal(marker_format(buf, sizeof(buf), "e", NULL, 1), -EINVAL);
}

static void test_value_may_contain_equals(void **state)
{
	char buf[64];

	(void)state;
	assert_true(marker_format(buf, sizeof(buf), "e",
				  &(struct marker_field){ "k", "a=b" }, 1) > 0);
	assert_string_equal(buf, "BROWNOUT e k=a=b\n");
}

static void test_overflow_by_one(void **state)
{
	size_t len = strlen(hb_line);
	char buf[sizeof(hb_line)];

	(void)state;
	/* Exactly enough room for the line and its NUL. */
	assert_int_equal(marker_format(buf, len + 1, "heartbeat", hb, 2), (int)len);
	/* One byte short: nothing half-written is left behind. */
	assert_int_equal(marker_format(buf, len, "heartbeat", hb, 2), -ENOSPC);
	assert_string_equal(buf, "");
	assert_int_equal(marker_format(buf, 1, "heartbeat", hb, 2), -ENOSPC);
	assert_int_equal(marker_format(buf, 0, "heartbeat", hb, 2), -ENOSPC);
}

static void test_invalid_wins_over_nospace(void **state)
{
	char buf[4];

	(void)state;
	assert_int_equal(marker_format(buf, sizeof(buf), "e",
				       &(struct marker_field){ "k", "a b" }, 1), -EINVAL);
}

static void test_emit_writes_one_line(void **state)
{
	char got[MARKER_MAX];
	int fds[2];
	ssize_t n;

	(void)state;
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(marker_emit(fds[1], "heartbeat", hb, 2), 0);
	close(fds[1]);
	n = read(fds[0], got, sizeof(got));
	close(fds[0]);
	assert_int_equal(n, (ssize_t)strlen(hb_line));
	assert_memory_equal(got, hb_line, (size_t)n);
}

/* MARKER gives the fields and their count; a second run of the list is never evaluated. */
static void test_marker_macro_counts_fields(void **state)
{
	char buf[MARKER_MAX + 1], seq[] = "17";
	int calls = 0;

	(void)state;
	assert_int_equal(marker_format(buf, sizeof(buf), "heartbeat",
				       MARKER({ "version", "2-bad" }, { "seq", (calls++, seq) })),
			 (int)strlen(hb_line));
	assert_string_equal(buf, hb_line);
	assert_int_equal(calls, 1);
	assert_int_equal(marker_format(buf, sizeof(buf), "app-stop", MARKER_NONE), 18);
	assert_string_equal(buf, "BROWNOUT app-stop\n");
	assert_int_equal(marker_format(buf, sizeof(buf), "e", MARKER({ "k", "v" })), 15);
	assert_string_equal(buf, "BROWNOUT e k=v\n");
}

static void test_emit_errors(void **state)
{
	char big[MARKER_MAX];

	(void)state;
	assert_int_equal(marker_emit(-1, "heartbeat", hb, 2), -EBADF);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(marker_emit(1, "e", &(struct marker_field){ "k", big }, 1), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_formats_heartbeat),
		cmocka_unit_test(test_event_without_fields),
		cmocka_unit_test(test_rejects_bad_event),
		cmocka_unit_test(test_rejects_bad_key),
		cmocka_unit_test(test_rejects_bad_value),
		cmocka_unit_test(test_value_may_contain_equals),
		cmocka_unit_test(test_overflow_by_one),
		cmocka_unit_test(test_invalid_wins_over_nospace),
		cmocka_unit_test(test_emit_writes_one_line),
		cmocka_unit_test(test_marker_macro_counts_fields),
		cmocka_unit_test(test_emit_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
