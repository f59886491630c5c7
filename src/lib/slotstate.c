/* slotstate: the record of the verified payload a slot holds (see slotstate.h). */
#include "slotstate.h"

#include "fileio.h"
#include "num.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int slotstate_format(const struct slotstate *st, char *buf, size_t size)
{
	char hex[VERIFY_SHA256_HEX];
	int n;

	verify_hex(st->sha256, VERIFY_SHA256_LEN, hex);
	n = snprintf(buf, size, "sha256=%s\nsize=%" PRIu64 "\n", hex, st->size);
	return n < 0 || (size_t)n >= size ? -ENOSPC : n;
}

static int slotstate_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int slotstate_parse(const char *buf, size_t len, struct slotstate *st)
{
	static const char sha_key[] = "sha256=", size_key[] = "size=";
	const size_t sha_line = sizeof(sha_key) - 1 + 2 * VERIFY_SHA256_LEN + 1;
	const char *p = buf, *nl;

	if (len < sha_line || memcmp(p, sha_key, sizeof(sha_key) - 1) != 0 || p[sha_line - 1] != '\n')
		return -EINVAL;
	for (size_t i = 0; i < VERIFY_SHA256_LEN; i++) {
		int hi = slotstate_hexval(p[sizeof(sha_key) - 1 + 2 * i]);
		int lo = slotstate_hexval(p[sizeof(sha_key) - 1 + 2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		st->sha256[i] = (uint8_t)(hi << 4 | lo);
	}
	p += sha_line;
	len -= sha_line;
	if (len < sizeof(size_key) || memcmp(p, size_key, sizeof(size_key) - 1) != 0)
		return -EINVAL;
	p += sizeof(size_key) - 1;
	len -= sizeof(size_key) - 1;
	nl = memchr(p, '\n', len);
	/* The size line ends the file: a record cut short or with more after it is not ours. */
	if (!nl || (size_t)(nl - p) + 1 != len)
		return -EINVAL;
	return num_parse_u64(p, (size_t)(nl - p), UINT64_MAX, &st->size) < 0 ? -EINVAL : 0;
}

static int slotstate_path(const char *dir, char slot, const char *suffix, char *out, size_t size)
{
	if (slot != 'A' && slot != 'B')
		return -EINVAL;
	if (snprintf(out, size, "%s/slot-%c%s", dir, slot, suffix) >= (int)size)
		return -ENAMETOOLONG;
	return 0;
}

static int slotstate_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

int slotstate_write(const char *dir, char slot, const struct slotstate *st)
{
	char text[SLOTSTATE_FILE_MAX], path[PATH_MAX], tmp[PATH_MAX];
	int fd = -1, len, rc;

	len = slotstate_format(st, text, sizeof(text));
	if (len < 0)
		return len;
	rc = slotstate_path(dir, slot, "", path, sizeof(path));
	if (rc == 0)
		rc = slotstate_path(dir, slot, ".tmp", tmp, sizeof(tmp));
	if (rc < 0)
		return rc;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	rc = fileio_write_all(fd, text, (size_t)len);
	if (rc < 0)
		goto out;
	/* The content is durable before its name says anything. */
	if (fsync(fd) < 0) {
		rc = -errno;
		goto out;
	}
	rc = close(fd);
	fd = -1;
	if (rc < 0) {
		rc = -errno;
		goto out;
	}
	if (rename(tmp, path) < 0) {
		rc = -errno;
		goto out;
	}
	/* ... and the rename is durable before the install relies on the record. */
	rc = slotstate_fsync_dir(dir);
out:
	if (fd >= 0)
		close(fd);
	if (rc < 0)
		unlink(tmp);
	return rc;
}

int slotstate_read(const char *dir, char slot, struct slotstate *st)
{
	char text[SLOTSTATE_FILE_MAX], path[PATH_MAX];
	size_t len;
	int rc;

	rc = slotstate_path(dir, slot, "", path, sizeof(path));
	if (rc == 0)
		rc = fileio_read(path, text, sizeof(text), &len);
	if (rc < 0)
		return rc;
	if (len == sizeof(text))
		return -EINVAL;
	return slotstate_parse(text, len, st);
}

int slotstate_clear(const char *dir, char slot)
{
	char path[PATH_MAX];
	int rc;

	rc = slotstate_path(dir, slot, "", path, sizeof(path));
	if (rc < 0)
		return rc;
	if (unlink(path) < 0)
		return errno == ENOENT ? 0 : -errno;
	/* Gone for good before the slot it spoke for is written. */
	return slotstate_fsync_dir(dir);
}
