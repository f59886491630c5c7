/*
 * Tests for client: the voice every update client speaks with (markers, the
 * one report of a failure), confirm's common part (the health check, the
 * version, the confirm markers), the reboot with --no-reboot. What a call
 * writes to stdout and stderr is captured (capture.h); the host's true and
 * false stand in for the health check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture.h"
#include "client.h"

/* Never reboots: every test runs with no_reboot. */
static const struct client cl = {
	.name = "test-client",
	.fw_config = "/nonexistent/fw_env.config",
	.health = "/bin/true",
	.version_file = "/nonexistent/version",
	.no_reboot = true,
};

/* A file holding text, its name in path (64 bytes). */
static void make_file(char *path, const char *text)
{
	int fd;

	strcpy(path, "/var/tmp/test_client.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void test_errno_words(void **state)
{
	char word[CLIENT_WORD_MAX];

	(void)state;
	assert_string_equal(client_errno_word(-EIO, word, sizeof(word)), "eio");
	assert_string_equal(client_errno_word(-ENODATA, word, sizeof(word)), "enodata");
	assert_string_equal(client_errno_word(-EBUSY, word, sizeof(word)), "ebusy");
	assert_string_equal(client_errno_word(-ENOTRECOVERABLE, word, sizeof(word)),
			    "enotrecoverable");
	assert_ptr_equal(client_errno_word(-ENOENT, word, sizeof(word)), word);
}

static void test_errno_word_without_a_name(void **state)
{
	char word[CLIENT_WORD_MAX];

	(void)state;
	assert_string_equal(client_errno_word(-4000, word, sizeof(word)), "error");
	assert_string_equal(client_errno_word(-100000, word, sizeof(word)), "error");
}

static void test_errno_word_truncated(void **state)
{
	char word[4] = "xxx";

	(void)state;
	assert_string_equal(client_errno_word(-ENODATA, word, sizeof(word)), "eno");
	assert_string_equal(client_errno_word(-ENODATA, word, 1), "");
}

static void test_fail_reports_once(void **state)
{
	struct capture c;
	int rc;

	(void)state;
	capture_start(&c);
	rc = client_fail(&cl, "verify", "size", "%s: got %d bytes", "/dev/vda4", 3);
	capture_end(&c);
	assert_int_equal(rc, CLIENT_ERROR);
	assert_string_equal(c.out, "BROWNOUT update-error reason=verify detail=size\n");
	assert_string_equal(c.err, "test-client: /dev/vda4: got 3 bytes\n");
}

static void test_fail_without_detail(void **state)
{
	struct capture c;

	(void)state;
	capture_start(&c);
	assert_int_equal(client_fail(&cl, "download", NULL, "no detail"), CLIENT_ERROR);
	capture_end(&c);
	assert_string_equal(c.out, "BROWNOUT update-error reason=download detail=unknown\n");
	assert_string_equal(c.err, "test-client: no detail\n");
}

/* A reason that is no marker value: no marker at all, and stderr says why. */
static void test_fail_with_bad_reason(void **state)
{
	struct capture c;

	(void)state;
	capture_start(&c);
	assert_int_equal(client_fail(&cl, "two words", "x", "bad reason"), CLIENT_ERROR);
	capture_end(&c);
	assert_string_equal(c.out, "");
	assert_string_equal(c.err, "test-client: bad reason\n"
			    "test-client: marker update-error: Invalid argument\n");
}

static void test_phase_markers(void **state)
{
	struct capture c;

	(void)state;
	capture_start(&c);
	client_phase(&cl, "deploy", "start", MARKER_NONE);
	client_phase(&cl, "deploy", "end", MARKER({ "readback", "direct" }));
	client_phase(&cl, "pull", "end",
		     MARKER({ "bytes", "10" }, { "received", "12" }, { "attempts", "2" }));
	capture_end(&c);
	assert_string_equal(c.out,
			    "BROWNOUT phase name=deploy state=start\n"
			    "BROWNOUT phase name=deploy state=end readback=direct\n"
			    "BROWNOUT phase name=pull state=end bytes=10 received=12 attempts=2\n");
	assert_string_equal(c.err, "");
}

static void test_phase_drops_fields_past_six(void **state)
{
	static const struct marker_field extra[] = {
		{ "a", "1" }, { "b", "2" }, { "c", "3" }, { "d", "4" }, { "e", "5" }, { "f", "6" },
	};
	struct capture c;

	(void)state;
	capture_start(&c);
	client_phase(&cl, "x", "y", extra, 4);
	client_phase(&cl, "x", "y", extra, 6);
	capture_end(&c);
	assert_string_equal(c.out, "BROWNOUT phase name=x state=y a=1 b=2 c=3 d=4\n"
			    "BROWNOUT phase name=x state=y a=1 b=2 c=3 d=4\n");
}

static void test_phase_with_bad_name(void **state)
{
	struct capture c;

	(void)state;
	capture_start(&c);
	client_phase(&cl, "", "start", MARKER_NONE);
	client_marker(&cl, "Bad Event", MARKER_NONE);
	capture_end(&c);
	assert_string_equal(c.out, "");
	assert_string_equal(c.err, "test-client: marker phase: Invalid argument\n"
			    "test-client: marker Bad Event: Invalid argument\n");
}

static void test_health_check(void **state)
{
	struct client c = cl;
	struct capture cap;

	(void)state;
	assert_true(client_healthy(&c));
	c.health = "/bin/false";
	assert_false(client_healthy(&c));
	c.health = "/nonexistent/brownout-health";
	capture_start(&cap);
	assert_false(client_healthy(&c));
	capture_end(&cap);
	/* Said, where posix_spawn tells (under valgrind the child exits 127 instead). */
	if (cap.err[0])
		assert_string_equal(cap.err, "test-client: /nonexistent/brownout-health: "
				    "No such file or directory\n");
}

static void test_read_version(void **state)
{
	/* A buffer of 8: the file's first line, if it is a marker value and fits. */
	static const struct { const char *text, *want; } cases[] = {
		{ "2-bad\nsecond line\n", "2-bad" },
		{ "two words\n", "unknown" },		/* a space: not a marker value */
		{ "\n", "unknown" },
		{ "", "unknown" },
		{ "1234567890\n", "1234567" },		/* longer than the buffer: cut to fit */
	};
	char path[64], v[8];

	(void)state;
	client_read_version("/nonexistent/version", v, sizeof(v));
	assert_string_equal(v, "unknown");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		make_file(path, cases[i].text);
		client_read_version(path, v, sizeof(v));
		unlink(path);
		assert_string_equal(v, cases[i].want);
	}
}

static void test_reboot_markers(void **state)
{
	struct capture c;

	(void)state;
	capture_start(&c);
	assert_int_equal(client_reboot(&cl, "retry", "recovery"), 0);
	assert_int_equal(client_reboot_installed(&cl, "B"), CLIENT_OK);
	capture_end(&c);
	assert_string_equal(c.out, "BROWNOUT reboot reason=retry slot=recovery\n"
			    "BROWNOUT reboot reason=update slot=B\n");
	assert_string_equal(c.err, "");
}

static void test_confirm_markers(void **state)
{
	struct client c = cl;
	struct capture cap;
	char path[64];

	(void)state;
	make_file(path, "2\n");
	c.version_file = path;
	capture_start(&cap);
	assert_int_equal(client_unhealthy(&c, "A"), CLIENT_ERROR);
	assert_int_equal(client_confirm_error(&c, "none", "cmdline"), CLIENT_CONFIRM_ERROR);
	assert_int_equal(client_confirmed(&c, "B", true, MARKER_NONE), CLIENT_OK);
	assert_int_equal(client_confirmed(&c, "root", false, MARKER({ "fallback", "yes" })),
			 CLIENT_OK);
	/* At most two fields past the four of every confirm. */
	assert_int_equal(client_confirmed(&c, "x", false, MARKER({ "a", "1" }, { "b", "2" },
								   { "c", "3" })), CLIENT_OK);
	capture_end(&cap);
	unlink(path);
	assert_string_equal(cap.out,
			    "BROWNOUT confirm result=bad slot=A\n"
			    "BROWNOUT reboot reason=unhealthy slot=A\n"
			    "BROWNOUT confirm result=error slot=none detail=cmdline\n"
			    "BROWNOUT confirm result=good slot=B version=2 env=written\n"
			    "BROWNOUT confirm result=good slot=root version=2 env=unchanged fallback=yes\n"
			    "BROWNOUT confirm result=good slot=x version=2 env=unchanged a=1 b=2\n");
	assert_string_equal(cap.err, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_errno_words),
		cmocka_unit_test(test_errno_word_without_a_name),
		cmocka_unit_test(test_errno_word_truncated),
		cmocka_unit_test(test_fail_reports_once),
		cmocka_unit_test(test_fail_without_detail),
		cmocka_unit_test(test_fail_with_bad_reason),
		cmocka_unit_test(test_phase_markers),
		cmocka_unit_test(test_phase_drops_fields_past_six),
		cmocka_unit_test(test_phase_with_bad_name),
		cmocka_unit_test(test_health_check),
		cmocka_unit_test(test_read_version),
		cmocka_unit_test(test_reboot_markers),
		cmocka_unit_test(test_confirm_markers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
