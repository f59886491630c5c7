/* Tests for slot: the running slot from the command line; writing and reading back a "device" file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "slot.h"

#define DEV_SIZE (3u << 20)

struct files {
	char dir[64];
	char a[96], b[96], cmdline[96];
};

static int cmdline(const char *s, char *slot)
{
	return slot_from_cmdline(s, strlen(s), slot);
}

/* A temporary directory with two slot files of DEV_SIZE bytes, "a" and "b". */
static int setup(void **state)
{
	struct files *f = calloc(1, sizeof(*f));
	int fd;

	strcpy(f->dir, "/var/tmp/test_slot.XXXXXX");
	if (!f || !mkdtemp(f->dir))
		return -1;
	snprintf(f->a, sizeof(f->a), "%s/a", f->dir);
	snprintf(f->b, sizeof(f->b), "%s/b", f->dir);
	snprintf(f->cmdline, sizeof(f->cmdline), "%s/cmdline", f->dir);
	for (int i = 0; i < 2; i++) {
		fd = open(i ? f->b : f->a, O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || ftruncate(fd, DEV_SIZE) < 0)
			return -1;
		close(fd);
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct files *f = *state;

	unlink(f->a);
	unlink(f->b);
	unlink(f->cmdline);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void fill(uint8_t *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)((i * 131 + seed) ^ (i >> 9));
}

/* ---- the command line ---- */

static void test_cmdline_finds_slot(void **state)
{
	char slot = 0;

	(void)state;
	assert_int_equal(cmdline("console=ttyAMA0 root=/dev/vda4 ro brownout.slot=B brownout.data=/dev/vda5\n",
				 &slot), 0);
	assert_int_equal(slot, 'B');
	assert_int_equal(cmdline("brownout.slot=A", &slot), 0);
	assert_int_equal(slot, 'A');
	assert_int_equal(cmdline("quiet\tbrownout.slot=A\n", &slot), 0);
	assert_int_equal(slot, 'A');
}

static void test_cmdline_rejects(void **state)
{
	static const char *const bad[] = {
		"brownout.slot=C", "brownout.slot=", "brownout.slot=AB", "brownout.slot=a",
		"brownout.slot=A brownout.slot=B", "brownout.slot=A brownout.slot=A",
	};
	char slot = 'x';

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cmdline(bad[i], &slot), -EINVAL);
	assert_int_equal(cmdline("root=/dev/vda3 xbrownout.slot=A brownout.slotx=A", &slot), -ENOENT);
	assert_int_equal(cmdline("", &slot), -ENOENT);
	assert_int_equal(slot, 'x');
}

static void test_cmdline_file(void **state)
{
	struct files *f = *state;
	char slot = 0;
	FILE *fp = fopen(f->cmdline, "w");

	fputs("root=/dev/vda3 brownout.slot=A\n", fp);
	fclose(fp);
	assert_int_equal(slot_read_cmdline(f->cmdline, &slot), 0);
	assert_int_equal(slot, 'A');
	unlink(f->cmdline);
	assert_int_equal(slot_read_cmdline(f->cmdline, &slot), -ENOENT);
}

/* ---- opening ---- */

static void test_refuses_running_slot(void **state)
{
	struct files *f = *state;
	struct slot s;
	char alias[128];

	assert_int_equal(slot_open(&s, f->a, f->a), -EBUSY);
	assert_int_equal(s.fd, -1);
	/* Another name for the same file is the same slot. */
	snprintf(alias, sizeof(alias), "%s/a-again", f->dir);
	assert_int_equal(link(f->a, alias) == 0 ? 0 : -errno, 0);
	assert_int_equal(slot_open(&s, alias, f->a), -EBUSY);
	unlink(alias);
}

static void test_open_reports_size(void **state)
{
	struct files *f = *state;
	struct slot s;

	assert_int_equal(slot_open(&s, f->b, f->a), 0);
	assert_true(s.fd >= 0);
	assert_true(s.size == DEV_SIZE);
	assert_int_equal(s.blockdev, 0);
	slot_close(&s);
	assert_int_equal(s.fd, -1);
	slot_close(&s);
}

static void test_open_errors(void **state)
{
	struct files *f = *state;
	struct slot s;

	assert_int_equal(slot_open(&s, "/nonexistent/slot", f->a), -ENOENT);
	assert_int_equal(slot_open(&s, f->dir, f->a), -EINVAL);	/* neither a device nor a file */
	/* A running path that does not exist does not stop the write (tests, odd setups). */
	assert_int_equal(slot_open(&s, f->b, "/nonexistent/running"), 0);
	slot_close(&s);
}

/* ---- writing and reading back ---- */

static void test_write_sync_verify(void **state)
{
	struct files *f = *state;
	size_t len = 2 * 1048576 + 12345;	/* not a multiple of any block size */
	uint8_t *buf = malloc(len), sha[SHA256_DIGEST_LENGTH];
	const char *method = NULL;
	struct slot s;

	fill(buf, len, 1);
	SHA256(buf, len, sha);
	assert_int_equal(slot_open(&s, f->b, f->a), 0);
	/* Out of order and in odd pieces, as a resumed download may write. */
	assert_int_equal(slot_write(&s, 1048576, buf + 1048576, len - 1048576), 0);
	assert_int_equal(slot_write(&s, 0, buf, 1000), 0);
	assert_int_equal(slot_write(&s, 1000, buf + 1000, 1048576 - 1000), 0);
	assert_int_equal(slot_sync(&s), 0);
	assert_int_equal(slot_verify(&s, len, sha, &method), 0);
	assert_non_null(method);
	assert_true(strcmp(method, "direct") == 0 || strcmp(method, "dropped-cache") == 0);
	slot_close(&s);
	free(buf);
}

static void test_verify_sees_what_storage_holds(void **state)
{
	struct files *f = *state;
	size_t len = 1048576;
	uint8_t *buf = malloc(len), sha[SHA256_DIGEST_LENGTH];
	const char *method;
	struct slot s;
	int fd;

	fill(buf, len, 2);
	SHA256(buf, len, sha);
	assert_int_equal(slot_open(&s, f->b, f->a), 0);
	assert_int_equal(slot_write(&s, 0, buf, len), 0);
	assert_int_equal(slot_sync(&s), 0);
	/* Something else changes one byte behind the slot's back: the read-back must notice. */
	fd = open(f->b, O_WRONLY);
	assert_int_equal(pwrite(fd, "\xff", 1, 777777), 1);
	close(fd);
	assert_int_equal(slot_verify(&s, len, sha, &method), -EBADMSG);
	/* A shorter range is still intact. */
	SHA256(buf, 777777, sha);
	assert_int_equal(slot_verify(&s, 777777, sha, &method), 0);
	slot_close(&s);
	free(buf);
}

static void test_write_bounds(void **state)
{
	struct files *f = *state;
	uint8_t buf[16] = { 0 }, sha[SHA256_DIGEST_LENGTH] = { 0 };
	const char *method;
	struct slot s;
	struct stat st;

	assert_int_equal(slot_open(&s, f->b, f->a), 0);
	assert_int_equal(slot_write(&s, DEV_SIZE - 16, buf, 16), 0);
	assert_int_equal(slot_write(&s, DEV_SIZE - 15, buf, 16), -ENOSPC);
	assert_int_equal(slot_write(&s, DEV_SIZE + 1, buf, 0), -ENOSPC);
	assert_int_equal(slot_write(&s, UINT64_MAX, buf, 16), -ENOSPC);
	assert_int_equal(slot_verify(&s, DEV_SIZE + 1, sha, &method), -ENOSPC);
	/* The "device" did not grow. */
	assert_int_equal(stat(f->b, &st), 0);
	assert_int_equal(st.st_size, DEV_SIZE);
	slot_close(&s);
}

static void test_verify_whole_slot(void **state)
{
	struct files *f = *state;
	uint8_t *buf = malloc(DEV_SIZE), sha[SHA256_DIGEST_LENGTH];
	const char *method;
	struct slot s;

	fill(buf, DEV_SIZE, 3);
	SHA256(buf, DEV_SIZE, sha);
	assert_int_equal(slot_open(&s, f->a, f->b), 0);
	assert_int_equal(slot_write(&s, 0, buf, DEV_SIZE), 0);
	assert_int_equal(slot_sync(&s), 0);
	assert_int_equal(slot_verify(&s, DEV_SIZE, sha, &method), 0);
	slot_close(&s);
	free(buf);
}

/* ---- the tag ---- */

static void test_tag_round_trip(void **state)
{
	struct files *f = *state;
	char tag[SLOT_TAG_SIZE + 1], text[SLOT_TAG_SIZE + 1];
	uint8_t *buf = malloc(DEV_SIZE - SLOT_TAG_SIZE);
	struct slot s;
	size_t len;

	assert_non_null(buf);
	assert_int_equal(slot_open(&s, f->b, f->a), 0);
	/* A slot never tagged reads as an empty tag (the file's zeros). */
	assert_int_equal(slot_read_tag(&s, tag, &len), 0);
	assert_int_equal(len, 0);
	assert_true(slot_has_tag_room(&s, DEV_SIZE - SLOT_TAG_SIZE));
	assert_false(slot_has_tag_room(&s, DEV_SIZE - SLOT_TAG_SIZE + 1));
	assert_int_equal(slot_write_tag(&s, "sha256=00\nsize=1\n"), 0);
	/* A payload that leaves the tag's room does not touch it. */
	fill(buf, DEV_SIZE - SLOT_TAG_SIZE, 5);
	assert_int_equal(slot_write(&s, 0, buf, DEV_SIZE - SLOT_TAG_SIZE), 0);
	assert_int_equal(slot_read_tag(&s, tag, &len), 0);
	assert_string_equal(tag, "sha256=00\nsize=1\n");
	assert_int_equal(len, strlen(tag));
	/* A shorter tag leaves nothing of the longer one before it. */
	assert_int_equal(slot_write_tag(&s, "x"), 0);
	assert_int_equal(slot_read_tag(&s, tag, &len), 0);
	assert_string_equal(tag, "x");
	memset(text, 'y', SLOT_TAG_SIZE);
	text[SLOT_TAG_SIZE] = '\0';
	assert_int_equal(slot_write_tag(&s, text), -ENOSPC);
	slot_close(&s);
	free(buf);
}

static void test_no_tag_in_a_slot_smaller_than_one(void **state)
{
	struct files *f = *state;
	char tag[SLOT_TAG_SIZE + 1];
	struct slot s;
	size_t len;
	int fd;

	fd = open(f->b, O_RDWR | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, SLOT_TAG_SIZE - 1), 0);
	close(fd);
	assert_int_equal(slot_open(&s, f->b, f->a), 0);
	assert_false(slot_has_tag_room(&s, 0));
	assert_int_equal(slot_write_tag(&s, "x"), -ENOSPC);
	assert_int_equal(slot_read_tag(&s, tag, &len), -ENOSPC);
	slot_close(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cmdline_finds_slot),
		cmocka_unit_test(test_cmdline_rejects),
		cmocka_unit_test_setup_teardown(test_cmdline_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_running_slot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_reports_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_sync_verify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_sees_what_storage_holds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_bounds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_whole_slot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tag_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_tag_in_a_slot_smaller_than_one, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
