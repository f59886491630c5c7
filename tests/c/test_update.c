/*
 * Tests for update: the install steps brownout-ab and the unsafe fixture share,
 * as far as they run without a server. What a step writes to stdout (markers)
 * and stderr (the one line for people) is captured through a pipe.
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

#include "update.h"

/* Every test's settings: running A, so the target is B. */
static const struct update up = {
	.name = "test-update",
	.pubkey = "/nonexistent/update.pub",
	.device = { "/nonexistent/slot-a", "/nonexistent/slot-b" },
	.dl = DOWNLOAD_OPTS_DEFAULT,
	.no_reboot = true,
	.running = 'A',
};

/* What fd 1 and fd 2 got between capture_start and capture_end. */
struct capture {
	int saved[2];
	int pipe[2][2];
	char out[1024], err[1024];
};

static void capture_start(struct capture *c)
{
	fflush(stdout);
	fflush(stderr);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pipe(c->pipe[i]), 0);
		c->saved[i] = dup(STDOUT_FILENO + i);
		assert_true(c->saved[i] >= 0);
		assert_true(dup2(c->pipe[i][1], STDOUT_FILENO + i) >= 0);
		close(c->pipe[i][1]);
	}
}

static void capture_end(struct capture *c)
{
	char *buf[2] = { c->out, c->err };
	ssize_t len;

	fflush(stdout);
	fflush(stderr);
	/* Restore both before any assert, so a failure is seen. */
	for (int i = 0; i < 2; i++) {
		dup2(c->saved[i], STDOUT_FILENO + i);
		close(c->saved[i]);
	}
	for (int i = 0; i < 2; i++) {
		len = read(c->pipe[i][0], buf[i], sizeof(c->out) - 1);
		close(c->pipe[i][0]);
		assert_true(len >= 0);
		buf[i][len] = '\0';
	}
}

static void test_target_is_the_other_slot(void **state)
{
	struct update u = up;

	(void)state;
	assert_int_equal(update_target(&u), 'B');
	u.running = 'B';
	assert_int_equal(update_target(&u), 'A');
}

static void test_errno_words(void **state)
{
	char word[UPDATE_WORD_MAX];

	(void)state;
	assert_string_equal(update_errno_word(-EIO, word, sizeof(word)), "eio");
	assert_string_equal(update_errno_word(-ENODATA, word, sizeof(word)), "enodata");
	assert_string_equal(update_errno_word(-EBUSY, word, sizeof(word)), "ebusy");
	assert_string_equal(update_errno_word(-ENOTRECOVERABLE, word, sizeof(word)),
			    "enotrecoverable");
	assert_ptr_equal(update_errno_word(-ENOENT, word, sizeof(word)), word);
}

static void test_errno_word_without_a_name(void **state)
{
	char word[UPDATE_WORD_MAX];

	(void)state;
	assert_string_equal(update_errno_word(-4000, word, sizeof(word)), "error");
	assert_string_equal(update_errno_word(-100000, word, sizeof(word)), "error");
}

static void test_errno_word_truncated(void **state)
{
	char word[4] = "xxx";

	(void)state;
	assert_string_equal(update_errno_word(-ENODATA, word, sizeof(word)), "eno");
	assert_string_equal(update_errno_word(-ENODATA, word, 1), "");
}

static void test_fail_reports_once(void **state)
{
	struct capture c;
	int rc;

	(void)state;
	capture_start(&c);
	rc = update_fail(&up, "verify", "size", "%s: got %d bytes", "/dev/vda4", 3);
	capture_end(&c);
	assert_int_equal(rc, UPDATE_ERROR);
	assert_string_equal(c.out, "BROWNOUT update-error reason=verify detail=size\n");
	assert_string_equal(c.err, "test-update: /dev/vda4: got 3 bytes\n");
}

static void test_fail_without_detail(void **state)
{
	struct capture c;

	(void)state;
	capture_start(&c);
	assert_int_equal(update_fail(&up, "download", NULL, "no detail"), UPDATE_ERROR);
	capture_end(&c);
	assert_string_equal(c.out, "BROWNOUT update-error reason=download detail=unknown\n");
	assert_string_equal(c.err, "test-update: no detail\n");
}

/* A reason that is no marker value: no marker at all, and stderr says why. */
static void test_fail_with_bad_reason(void **state)
{
	struct capture c;

	(void)state;
	capture_start(&c);
	assert_int_equal(update_fail(&up, "two words", "x", "bad reason"), UPDATE_ERROR);
	capture_end(&c);
	assert_string_equal(c.out, "");
	assert_string_equal(c.err, "test-update: bad reason\n"
			    "test-update: marker update-error: Invalid argument\n");
}

static void test_phase_markers(void **state)
{
	struct capture c;

	(void)state;
	capture_start(&c);
	update_phase(&up, "deploy", "start", MARKER_NONE);
	update_phase(&up, "deploy", "end", MARKER({ "readback", "direct" }));
	update_phase(&up, "pull", "end",
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
	update_phase(&up, "x", "y", extra, 4);
	update_phase(&up, "x", "y", extra, 6);
	capture_end(&c);
	assert_string_equal(c.out, "BROWNOUT phase name=x state=y a=1 b=2 c=3 d=4\n"
			    "BROWNOUT phase name=x state=y a=1 b=2 c=3 d=4\n");
}

static void test_phase_with_bad_name(void **state)
{
	struct capture c;

	(void)state;
	capture_start(&c);
	update_phase(&up, "", "start", MARKER_NONE);
	update_marker(&up, "Bad Event", MARKER_NONE);
	capture_end(&c);
	assert_string_equal(c.out, "");
	assert_string_equal(c.err, "test-update: marker phase: Invalid argument\n"
			    "test-update: marker Bad Event: Invalid argument\n");
}

/* A URL libcurl is not allowed to fetch fails in the pull, before any connection. */
static void test_pull_refuses_url(void **state)
{
	struct download_result res;
	struct slot slot = { .fd = -1 };
	struct manifest m = { 0 };
	struct capture c;
	int rc;

	(void)state;
	capture_start(&c);
	rc = update_pull(&up, "ftp://example.invalid/manifest", &m, &slot, &res);
	capture_end(&c);
	assert_int_equal(rc, UPDATE_ERROR);
	assert_int_equal(slot.fd, -1);
	assert_string_equal(c.out, "BROWNOUT phase name=pull state=start slot=B\n"
			    "BROWNOUT update-error reason=download detail=url\n");
	assert_string_equal(c.err,
			    "test-update: ftp://example.invalid/manifest: Invalid argument (url)\n");
}

/* update_deploy_start on a new 4096-byte slot file, named in path, after a pull of bytes. */
static int deploy_start(uint64_t bytes, struct capture *c, char *path)
{
	struct download_result res = { .bytes = bytes };
	struct manifest m = { .size = 4096 };
	struct slot slot = { .fd = -1 };
	int fd, rc;

	strcpy(path, "/var/tmp/test_update.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 4096), 0);
	close(fd);
	/* The running slot need not exist. */
	assert_int_equal(slot_open(&slot, path, "/nonexistent/running"), 0);
	capture_start(c);
	rc = update_deploy_start(&up, &m, &slot, &res);
	capture_end(c);
	slot_close(&slot);
	unlink(path);
	return rc;
}

static void test_deploy_start(void **state)
{
	struct capture c;
	char path[64];

	(void)state;
	assert_int_equal(deploy_start(4096, &c, path), UPDATE_OK);
	assert_string_equal(c.out, "BROWNOUT phase name=deploy state=start\n");
	assert_string_equal(c.err, "");
}

static void test_deploy_start_size_differs(void **state)
{
	char path[64], want[128];
	struct capture c;

	(void)state;
	assert_int_equal(deploy_start(4095, &c, path), UPDATE_ERROR);
	assert_string_equal(c.out, "BROWNOUT phase name=deploy state=start\n"
			    "BROWNOUT update-error reason=verify detail=size\n");
	snprintf(want, sizeof(want), "test-update: %s: got 4095 bytes, manifest says 4096\n", path);
	assert_string_equal(c.err, want);
}

/* A slot that cannot be made durable: fsync on a closed descriptor. */
static void test_deploy_start_fsync_fails(void **state)
{
	struct download_result res = { .bytes = 1 };
	struct manifest m = { .size = 1 };
	struct slot slot = { .fd = -1, .path = "/dev/vdz9" };
	struct capture c;
	int rc;

	(void)state;
	capture_start(&c);
	rc = update_deploy_start(&up, &m, &slot, &res);
	capture_end(&c);
	assert_int_equal(rc, UPDATE_ERROR);
	assert_string_equal(c.out, "BROWNOUT phase name=deploy state=start\n"
			    "BROWNOUT update-error reason=deploy detail=ebadf\n");
	assert_string_equal(c.err, "test-update: /dev/vdz9: fsync: Bad file descriptor\n");
}

static int group_setup(void **state)
{
	(void)state;
	return download_global_init();
}

static int group_teardown(void **state)
{
	(void)state;
	download_global_cleanup();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_target_is_the_other_slot),
		cmocka_unit_test(test_errno_words),
		cmocka_unit_test(test_errno_word_without_a_name),
		cmocka_unit_test(test_errno_word_truncated),
		cmocka_unit_test(test_fail_reports_once),
		cmocka_unit_test(test_fail_without_detail),
		cmocka_unit_test(test_fail_with_bad_reason),
		cmocka_unit_test(test_phase_markers),
		cmocka_unit_test(test_phase_drops_fields_past_six),
		cmocka_unit_test(test_phase_with_bad_name),
		cmocka_unit_test(test_pull_refuses_url),
		cmocka_unit_test(test_deploy_start),
		cmocka_unit_test(test_deploy_start_size_differs),
		cmocka_unit_test(test_deploy_start_fsync_fails),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
