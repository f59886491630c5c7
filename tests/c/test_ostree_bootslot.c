/*
 * Tests for bootslot: the header as U-Boot's `env import -t` reads it, and a
 * slot written into a file that stands for the partition, read back byte for
 * byte where the header says the kernel and initramfs are.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ostree/bootslot.h"

#define DEPLOYMENT "0123abcd.0"
#define ARGS "ostree=/ostree/deploy/brownout/deploy/0123abcd.0 quiet"

struct files {
	char dir[64], dev[96], kernel[96], ramdisk[96];
};

static void put(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* A file of `size` bytes of `fill`. */
static void make_file(const char *path, size_t size, int fill)
{
	char *buf = malloc(size);

	assert_non_null(buf);
	memset(buf, fill, size);
	put(path, buf, size);
	free(buf);
}

static int setup(void **state)
{
	struct files *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/bootslot.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->dev, sizeof(f->dev), "%s/slot", f->dir);
	snprintf(f->kernel, sizeof(f->kernel), "%s/vmlinuz", f->dir);
	snprintf(f->ramdisk, sizeof(f->ramdisk), "%s/initrd", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct files *f = *state;

	unlink(f->dev), unlink(f->kernel), unlink(f->ramdisk);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void test_format_then_parse(void **state)
{
	struct bootslot bs = { .deployment = DEPLOYMENT, .kernel_block = 8, .kernel_blocks = 16,
			       .ramdisk_block = 24, .ramdisk_blocks = 8, .ramdisk_size = 4000,
			       .args = ARGS };
	struct bootslot got;
	char header[BOOTSLOT_HEADER_SIZE];

	(void)state;
	assert_int_equal(bootslot_format(&bs, header, sizeof(header)), 0);
	/* What the boot script reads: hex with 0x, the arguments whole on one line. */
	assert_non_null(strstr(header, "bs_kernel_blocks=0x10\n"));
	assert_non_null(strstr(header, "bs_ramdisk_size=0xfa0\n"));
	assert_non_null(strstr(header, "bs_args=" ARGS "\n"));
	assert_int_equal(header[sizeof(header) - 1], '\0');
	assert_int_equal(bootslot_parse(header, sizeof(header), &got), 0);
	assert_memory_equal(&got, &bs, sizeof(bs));
}

static void test_format_refuses(void **state)
{
	struct bootslot bs = { .deployment = DEPLOYMENT, .args = "a\nb" };
	char header[BOOTSLOT_HEADER_SIZE];

	(void)state;
	assert_int_equal(bootslot_format(&bs, header, sizeof(header)), -EINVAL);
	bs.args[0] = '\0';
	assert_int_equal(bootslot_format(&bs, header, sizeof(header) - 1), -EINVAL);
	bs.deployment[0] = '\0';
	assert_int_equal(bootslot_format(&bs, header, sizeof(header)), -EINVAL);
}

static void test_parse_empty_and_malformed(void **state)
{
	static const char *const malformed[] = {
		/* a field missing */
		"bs_deployment=x.0\nbs_kernel_block=0x8\nbs_kernel_blocks=0x1\n"
		"bs_ramdisk_block=0x9\nbs_ramdisk_blocks=0x1\nbs_args=\n",
		/* decimal where hex is read */
		"bs_deployment=x.0\nbs_kernel_block=8\nbs_kernel_blocks=0x1\nbs_ramdisk_block=0x9\n"
		"bs_ramdisk_blocks=0x1\nbs_ramdisk_size=0x200\nbs_args=\n",
		/* the kernel over the header */
		"bs_deployment=x.0\nbs_kernel_block=0x1\nbs_kernel_blocks=0x1\nbs_ramdisk_block=0x9\n"
		"bs_ramdisk_blocks=0x1\nbs_ramdisk_size=0x200\nbs_args=\n",
		/* the initramfs bigger than its blocks */
		"bs_deployment=x.0\nbs_kernel_block=0x8\nbs_kernel_blocks=0x1\nbs_ramdisk_block=0x9\n"
		"bs_ramdisk_blocks=0x1\nbs_ramdisk_size=0x201\nbs_args=\n",
		/* the initramfs over the kernel */
		"bs_deployment=x.0\nbs_kernel_block=0x8\nbs_kernel_blocks=0x2\nbs_ramdisk_block=0x9\n"
		"bs_ramdisk_blocks=0x1\nbs_ramdisk_size=0x200\nbs_args=\n",
		"no equals sign\n",
	};
	static char zeros[BOOTSLOT_HEADER_SIZE], full[BOOTSLOT_HEADER_SIZE];
	struct bootslot bs;

	(void)state;
	assert_int_equal(bootslot_parse(zeros, sizeof(zeros), &bs), -ENOENT);
	assert_int_equal(bootslot_parse("other=1\n", 9, &bs), -ENOENT);
	for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++)
		assert_int_equal(bootslot_parse(malformed[i], strlen(malformed[i]) + 1, &bs),
				 -EINVAL);
	/* No NUL in the header: a torn or foreign block, not a header. */
	memset(full, 'a', sizeof(full));
	assert_int_equal(bootslot_parse(full, sizeof(full), &bs), -EINVAL);
}

static void read_at(const char *path, off_t off, void *buf, size_t len)
{
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, off), (ssize_t)len);
	close(fd);
}

static void test_write_then_read(void **state)
{
	struct files *f = *state;
	struct bootslot bs;
	char got[5000];

	make_file(f->kernel, 5000, 'k');	/* not a multiple of the block */
	make_file(f->ramdisk, 3000, 'r');
	make_file(f->dev, 64 * 1024, 0xee);
	assert_int_equal(bootslot_write(f->dev, DEPLOYMENT, ARGS, f->kernel, f->ramdisk), 0);
	assert_int_equal(bootslot_read(f->dev, &bs), 0);
	assert_string_equal(bs.deployment, DEPLOYMENT);
	assert_string_equal(bs.args, ARGS);
	assert_int_equal(bs.kernel_block, BOOTSLOT_HEADER_SIZE / BOOTSLOT_BLOCK);
	assert_int_equal(bs.kernel_blocks * BOOTSLOT_BLOCK, 8192);	/* 4 KiB aligned */
	assert_int_equal(bs.ramdisk_block, bs.kernel_block + bs.kernel_blocks);
	assert_int_equal(bs.ramdisk_size, 3000);
	read_at(f->dev, (off_t)(bs.kernel_block * BOOTSLOT_BLOCK), got, 5000);
	for (size_t i = 0; i < 5000; i++)
		assert_int_equal(got[i], 'k');
	read_at(f->dev, (off_t)(bs.ramdisk_block * BOOTSLOT_BLOCK), got, 3000);
	for (size_t i = 0; i < 3000; i++)
		assert_int_equal(got[i], 'r');
}

static void test_write_refuses_what_does_not_fit(void **state)
{
	struct files *f = *state;
	char before[BOOTSLOT_HEADER_SIZE], after[BOOTSLOT_HEADER_SIZE];
	char long_args[BOOTSLOT_ARGS_MAX + 1];

	make_file(f->kernel, 60 * 1024, 'k');
	make_file(f->ramdisk, 8 * 1024, 'r');
	make_file(f->dev, 64 * 1024, 0xee);
	read_at(f->dev, 0, before, sizeof(before));
	assert_int_equal(bootslot_write(f->dev, DEPLOYMENT, ARGS, f->kernel, f->ramdisk), -ENOSPC);
	memset(long_args, 'a', sizeof(long_args) - 1);
	long_args[sizeof(long_args) - 1] = '\0';
	assert_int_equal(bootslot_write(f->dev, DEPLOYMENT, long_args, f->kernel, f->ramdisk),
			 -ENAMETOOLONG);
	assert_int_equal(bootslot_write(f->dev, DEPLOYMENT, ARGS, "/nonexistent", f->ramdisk),
			 -ENOENT);
	/* Refused before anything was written: the header is as it was. */
	read_at(f->dev, 0, after, sizeof(after));
	assert_memory_equal(before, after, sizeof(before));
}

static void test_missing_slot(void **state)
{
	struct bootslot bs;

	(void)state;
	assert_int_equal(bootslot_read("/nonexistent/slot", &bs), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_then_parse),
		cmocka_unit_test(test_format_refuses),
		cmocka_unit_test(test_parse_empty_and_malformed),
		cmocka_unit_test_setup_teardown(test_write_then_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_refuses_what_does_not_fit, setup, teardown),
		cmocka_unit_test(test_missing_slot),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
