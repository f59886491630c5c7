/* bootslot: one deployment's kernel, initramfs and arguments on a raw partition. */
#include "bootslot.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BOOTSLOT_ALIGN 4096
#define BOOTSLOT_COPY_CHUNK (1024 * 1024)

static uint64_t bootslot_align(uint64_t n)
{
	return (n + BOOTSLOT_ALIGN - 1) / BOOTSLOT_ALIGN * BOOTSLOT_ALIGN;
}

int bootslot_format(const struct bootslot *bs, char *buf, size_t size)
{
	int n;

	if (size < BOOTSLOT_HEADER_SIZE || !bs->deployment[0] || strchr(bs->deployment, '\n') ||
	    strchr(bs->args, '\n'))
		return -EINVAL;
	memset(buf, 0, size);
	n = snprintf(buf, BOOTSLOT_HEADER_SIZE,
		     "bs_deployment=%s\n"
		     "bs_kernel_block=0x%" PRIx64 "\nbs_kernel_blocks=0x%" PRIx64 "\n"
		     "bs_ramdisk_block=0x%" PRIx64 "\nbs_ramdisk_blocks=0x%" PRIx64 "\n"
		     "bs_ramdisk_size=0x%" PRIx64 "\nbs_args=%s\n",
		     bs->deployment, bs->kernel_block, bs->kernel_blocks, bs->ramdisk_block,
		     bs->ramdisk_blocks, bs->ramdisk_size, bs->args);
	/* The last byte stays NUL: env import -t reads up to it. */
	if (n < 0 || n >= BOOTSLOT_HEADER_SIZE)
		return -EINVAL;
	return 0;
}

static int bootslot_hex(const char *value, uint64_t *out)
{
	char *end;

	if (strncmp(value, "0x", 2) != 0 || !value[2])
		return -EINVAL;
	errno = 0;
	*out = strtoull(value + 2, &end, 16);
	return errno || *end ? -EINVAL : 0;
}

static int bootslot_text(const char *value, char *out, size_t size)
{
	if (strlen(value) >= size)
		return -EINVAL;
	strcpy(out, value);
	return 0;
}

/* One key=value line into bs; a key it does not know is left alone. */
static int bootslot_field(char *line, struct bootslot *bs, unsigned *seen)
{
	static const char *const keys[] = { "bs_deployment", "bs_kernel_block", "bs_kernel_blocks",
					     "bs_ramdisk_block", "bs_ramdisk_blocks",
					     "bs_ramdisk_size", "bs_args" };
	uint64_t *const numbers[] = { NULL, &bs->kernel_block, &bs->kernel_blocks,
				      &bs->ramdisk_block, &bs->ramdisk_blocks, &bs->ramdisk_size };
	char *eq = strchr(line, '=');

	if (!eq)
		return -EINVAL;
	*eq = '\0';
	for (unsigned i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strcmp(line, keys[i]) != 0)
			continue;
		*seen |= 1u << i;
		if (i == 0)
			return bootslot_text(eq + 1, bs->deployment, sizeof(bs->deployment));
		if (i == 6)
			return bootslot_text(eq + 1, bs->args, sizeof(bs->args));
		return bootslot_hex(eq + 1, numbers[i]);
	}
	return 0;
}

int bootslot_parse(const char *buf, size_t size, struct bootslot *bs)
{
	char text[BOOTSLOT_HEADER_SIZE];
	size_t len = strnlen(buf, size < sizeof(text) ? size : sizeof(text));
	unsigned seen = 0;
	char *line, *save = NULL;

	if (len == sizeof(text))
		return -EINVAL;	/* no NUL: not a header this module wrote */
	memcpy(text, buf, len);
	text[len] = '\0';
	memset(bs, 0, sizeof(*bs));
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (bootslot_field(line, bs, &seen) < 0)
			return -EINVAL;
	if (!(seen & 1u) || !bs->deployment[0])
		return -ENOENT;
	if (seen != 0x7fu || bs->kernel_blocks == 0 || bs->ramdisk_blocks == 0 ||
	    bs->ramdisk_size > bs->ramdisk_blocks * BOOTSLOT_BLOCK ||
	    bs->kernel_block * BOOTSLOT_BLOCK < BOOTSLOT_HEADER_SIZE ||
	    bs->ramdisk_block < bs->kernel_block + bs->kernel_blocks)
		return -EINVAL;
	return 0;
}

static int bootslot_pread_all(int fd, void *buf, size_t len, off_t off)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = pread(fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n, off += n, len -= (size_t)n;
	}
	return 0;
}

static int bootslot_pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n, off += n, len -= (size_t)n;
	}
	return 0;
}

int bootslot_read(const char *dev, struct bootslot *bs)
{
	char header[BOOTSLOT_HEADER_SIZE];
	int fd = open(dev, O_RDONLY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -errno;
	rc = bootslot_pread_all(fd, header, sizeof(header), 0);
	close(fd);
	return rc < 0 ? rc : bootslot_parse(header, sizeof(header), bs);
}

/* Copy the whole of file `path` (size bytes) to fd at off. */
static int bootslot_copy(int fd, const char *path, uint64_t size, off_t off, char *chunk)
{
	int in = open(path, O_RDONLY | O_CLOEXEC);
	int rc = 0;

	if (in < 0)
		return -errno;
	for (uint64_t done = 0; done < size && rc == 0;) {
		size_t n = size - done < BOOTSLOT_COPY_CHUNK ? (size_t)(size - done) : BOOTSLOT_COPY_CHUNK;

		rc = bootslot_pread_all(in, chunk, n, (off_t)done);
		if (rc == 0)
			rc = bootslot_pwrite_all(fd, chunk, n, off + (off_t)done);
		done += n;
	}
	close(in);
	return rc;
}

static int bootslot_fill(int fd, const struct bootslot *bs, const char *kernel, uint64_t ksize,
			 const char *ramdisk, char *chunk)
{
	char header[BOOTSLOT_HEADER_SIZE];
	int rc = bootslot_format(bs, header, sizeof(header));

	if (rc < 0)
		return rc;
	/* Cleared first, so no state of the slot has an old header over new bytes. */
	memset(chunk, 0, BOOTSLOT_HEADER_SIZE);
	rc = bootslot_pwrite_all(fd, chunk, BOOTSLOT_HEADER_SIZE, 0);
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	if (rc == 0)
		rc = bootslot_copy(fd, kernel, ksize, (off_t)(bs->kernel_block * BOOTSLOT_BLOCK), chunk);
	if (rc == 0)
		rc = bootslot_copy(fd, ramdisk, bs->ramdisk_size,
				   (off_t)(bs->ramdisk_block * BOOTSLOT_BLOCK), chunk);
	if (rc == 0)
		rc = bootslot_pwrite_all(fd, header, sizeof(header), 0);
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	return rc;
}

int bootslot_write(const char *dev, const char *deployment, const char *args, const char *kernel,
		   const char *ramdisk)
{
	struct bootslot bs = { .kernel_block = BOOTSLOT_HEADER_SIZE / BOOTSLOT_BLOCK };
	struct stat kst, rst;
	char *chunk;
	off_t end;
	int fd, rc;

	if (strlen(deployment) >= sizeof(bs.deployment) || strlen(args) >= sizeof(bs.args))
		return -ENAMETOOLONG;
	if (stat(kernel, &kst) != 0 || stat(ramdisk, &rst) != 0)
		return -errno;
	if (kst.st_size <= 0 || rst.st_size <= 0)
		return -EINVAL;
	strcpy(bs.deployment, deployment);
	strcpy(bs.args, args);
	bs.kernel_blocks = bootslot_align((uint64_t)kst.st_size) / BOOTSLOT_BLOCK;
	bs.ramdisk_block = bs.kernel_block + bs.kernel_blocks;
	bs.ramdisk_size = (uint64_t)rst.st_size;
	bs.ramdisk_blocks = bootslot_align(bs.ramdisk_size) / BOOTSLOT_BLOCK;

	fd = open(dev, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* A block device's size, or a file's in the tests. */
	end = lseek(fd, 0, SEEK_END);
	if (end < 0)
		rc = -errno;
	else if ((uint64_t)end < (bs.ramdisk_block + bs.ramdisk_blocks) * BOOTSLOT_BLOCK)
		rc = -ENOSPC;
	else if (!(chunk = malloc(BOOTSLOT_COPY_CHUNK)))
		rc = -ENOMEM;
	else {
		rc = bootslot_fill(fd, &bs, kernel, (uint64_t)kst.st_size, ramdisk, chunk);
		free(chunk);
	}
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	return rc;
}
