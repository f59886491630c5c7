/*
 * Tests for update: the install steps of the slot-writing clients, as far as
 * they run without a server. What a step writes to stdout (markers) and
 * stderr (the one line for people) is captured (capture.h).
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
#include "update.h"
#include "verify.h"

static const struct client cl = { .name = "test-update", .no_reboot = true };

/* Every test's settings: running A, so the target is B. */
static const struct update up = {
	.client = &cl,
	.pubkey = "/nonexistent/update.pub",
	.device = { "/nonexistent/slot-a", "/nonexistent/slot-b" },
	.dl = DOWNLOAD_OPTS_DEFAULT,
	.running = 'A',
};

static void test_target_is_the_other_slot(void **state)
{
	struct update u = up;

	(void)state;
	assert_int_equal(update_target(&u), 'B');
	u.running = 'B';
	assert_int_equal(update_target(&u), 'A');
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
	assert_int_equal(rc, CLIENT_ERROR);
	assert_int_equal(slot.fd, -1);
	assert_string_equal(c.out, "BROWNOUT phase name=pull state=start slot=B\n"
			    "BROWNOUT update-error reason=download detail=url\n");
	assert_string_equal(c.err,
			    "test-update: ftp://example.invalid/manifest: Invalid argument (url)\n");
}

/* update_check_release of version against a running root whose version file
 * holds running: its status, with *install. */
static int check_release(const char *running, const char *version, bool *install,
			 struct capture *c)
{
	char path[] = "/tmp/brownout-test-version-XXXXXX";
	struct client vc = cl;
	struct update u = up;
	struct manifest m = { 0 };
	int rc, fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, running, strlen(running)), (ssize_t)strlen(running));
	close(fd);
	vc.version_file = path;
	u.client = &vc;
	snprintf(m.version, sizeof(m.version), "%s", version);
	capture_start(c);
	rc = update_check_release(&u, &m, install);
	capture_end(c);
	unlink(path);
	return rc;
}

static void test_a_newer_release_installs_silently(void **state)
{
	struct capture c;
	bool install = false;

	(void)state;
	assert_int_equal(check_release("1\n", "2", &install, &c), CLIENT_OK);
	assert_true(install);
	assert_int_equal(check_release("2\n", "10", &install, &c), CLIENT_OK);
	assert_true(install);
	assert_string_equal(c.out, "");
	assert_string_equal(c.err, "");
}

/* A replayed manifest of the running release, or another build of it, installs nothing. */
static void test_the_running_release_is_current(void **state)
{
	struct capture c;
	bool install = true;

	(void)state;
	assert_int_equal(check_release("2\n", "2", &install, &c), CLIENT_OK);
	assert_false(install);
	assert_string_equal(c.out, "BROWNOUT update-none reason=current version=2\n");
	install = true;
	assert_int_equal(check_release("2\n", "2-bad", &install, &c), CLIENT_OK);
	assert_false(install);
}

static void test_an_older_release_is_refused(void **state)
{
	struct capture c;
	bool install = true;

	(void)state;
	assert_int_equal(check_release("2\n", "1", &install, &c), CLIENT_ERROR);
	assert_false(install);
	assert_string_equal(c.out, "BROWNOUT update-error reason=verify detail=downgrade\n");
	assert_string_equal(c.err, "test-update: version 1 is older than the running 2\n");
	/* No version file reads "unknown": nothing can be ordered against it. */
	assert_int_equal(check_release("", "2", &install, &c), CLIENT_ERROR);
	assert_string_equal(c.out, "BROWNOUT update-error reason=verify detail=version\n");
}

/* A new slot file of 4096 zero bytes, named in path (64 bytes), open in slot. */
static void open_new_slot(char *path, struct slot *slot)
{
	int fd;

	strcpy(path, "/var/tmp/test_update.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 4096), 0);
	close(fd);
	/* The running slot need not exist. */
	assert_int_equal(slot_open(slot, path, "/nonexistent/running"), 0);
}

/* update_deploy_start on a new 4096-byte slot file, named in path, after a pull of bytes. */
static int deploy_start(uint64_t bytes, struct capture *c, char *path)
{
	struct download_result res = { .bytes = bytes };
	struct manifest m = { .size = 4096 };
	struct slot slot = { .fd = -1 };
	int rc;

	open_new_slot(path, &slot);
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
	assert_int_equal(deploy_start(4096, &c, path), CLIENT_OK);
	assert_string_equal(c.out, "BROWNOUT phase name=deploy state=start\n");
	assert_string_equal(c.err, "");
}

static void test_deploy_start_size_differs(void **state)
{
	char path[64], want[128];
	struct capture c;

	(void)state;
	assert_int_equal(deploy_start(4095, &c, path), CLIENT_ERROR);
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
	assert_int_equal(rc, CLIENT_ERROR);
	assert_string_equal(c.out, "BROWNOUT phase name=deploy state=start\n"
			    "BROWNOUT update-error reason=deploy detail=ebadf\n");
	assert_string_equal(c.err, "test-update: /dev/vdz9: fsync: Bad file descriptor\n");
}

/* The SHA-256 of n bytes of value c. */
static void sha_of(int c, size_t n, uint8_t out[VERIFY_SHA256_LEN])
{
	struct verify_sha256 h = { 0 };
	uint8_t buf[4096];

	assert_true(n <= sizeof(buf));
	memset(buf, c, n);
	assert_int_equal(verify_sha256_init(&h), 0);
	assert_int_equal(verify_sha256_update(&h, buf, n), 0);
	assert_int_equal(verify_sha256_final(&h, out), 0);
}

/*
 * update_deploy on a new slot file of 4096 zero bytes, named in path, after a
 * pull that hashed got, of a manifest that says want.
 */
static int deploy(int want, int got, struct capture *c, char *path, const char **method)
{
	struct download_result res = { .bytes = 4096 };
	struct manifest m = { .size = 4096 };
	struct slot slot = { .fd = -1 };
	int rc;

	sha_of(want, 4096, m.sha256);
	sha_of(got, 4096, res.sha256);
	open_new_slot(path, &slot);
	capture_start(c);
	rc = update_deploy(&up, &m, &slot, &res, method);
	capture_end(c);
	slot_close(&slot);
	unlink(path);
	return rc;
}

static void test_deploy_reads_back(void **state)
{
	const char *method = NULL;
	struct capture c;
	char path[64];

	(void)state;
	assert_int_equal(deploy(0, 0, &c, path, &method), CLIENT_OK);
	assert_true(strcmp(method, "direct") == 0 || strcmp(method, "dropped-cache") == 0);
	/* "phase deploy end" is the caller's, after what it records. */
	assert_string_equal(c.out, "BROWNOUT phase name=deploy state=start\n");
	assert_string_equal(c.err, "");
}

static void test_deploy_hash_differs(void **state)
{
	char path[64], want[VERIFY_SHA256_HEX], got[VERIFY_SHA256_HEX], err[256];
	uint8_t sha[VERIFY_SHA256_LEN];
	const char *method = NULL;
	struct capture c;

	(void)state;
	assert_int_equal(deploy(0, 1, &c, path, &method), CLIENT_ERROR);
	assert_string_equal(method, "none");
	assert_string_equal(c.out, "BROWNOUT phase name=deploy state=start\n"
			    "BROWNOUT update-error reason=verify detail=sha256\n");
	sha_of(0, 4096, sha);
	verify_hex(sha, sizeof(sha), want);
	sha_of(1, 4096, sha);
	verify_hex(sha, sizeof(sha), got);
	snprintf(err, sizeof(err), "test-update: payload sha256 %s, manifest says %s\n", got, want);
	assert_string_equal(c.err, err);
}

/* The transfer hashed what the manifest says, yet storage holds other bytes. */
static void test_deploy_read_back_differs(void **state)
{
	const char *method = NULL;
	char path[64], err[128];
	struct capture c;

	(void)state;
	assert_int_equal(deploy(1, 1, &c, path, &method), CLIENT_ERROR);
	assert_string_equal(c.out, "BROWNOUT phase name=deploy state=start\n"
			    "BROWNOUT update-error reason=verify detail=readback\n");
	snprintf(err, sizeof(err), "test-update: %s: reading back 4096 bytes (%s): sha256 differs\n",
		 path, method);
	assert_string_equal(c.err, err);
}

static int group_setup(void **state)
{
	const char *why;

	(void)state;
	return download_global_init(&why);
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
		cmocka_unit_test(test_pull_refuses_url),
		cmocka_unit_test(test_a_newer_release_installs_silently),
		cmocka_unit_test(test_the_running_release_is_current),
		cmocka_unit_test(test_an_older_release_is_refused),
		cmocka_unit_test(test_deploy_start),
		cmocka_unit_test(test_deploy_start_size_differs),
		cmocka_unit_test(test_deploy_start_fsync_fails),
		cmocka_unit_test(test_deploy_reads_back),
		cmocka_unit_test(test_deploy_hash_differs),
		cmocka_unit_test(test_deploy_read_back_differs),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
