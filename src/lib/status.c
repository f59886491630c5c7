/* status: the app's status file, written every beat and read by the health check. */
#include "status.h"

#include "fileio.h"

#include "marker.h"
#include "num.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum status_key { STATUS_VERSION, STATUS_SEQ, STATUS_HEALTHY, STATUS_PID, STATUS_NKEYS };

static const char *const status_keys[STATUS_NKEYS] = {
	[STATUS_VERSION] = "version",
	[STATUS_SEQ] = "seq",
	[STATUS_HEALTHY] = "healthy",
	[STATUS_PID] = "pid",
};

static int status_version_ok(const char *v)
{
	/* The health check prints the version in its marker, so it must be a marker value. */
	return strnlen(v, STATUS_VERSION_MAX) < STATUS_VERSION_MAX && marker_value_ok(v);
}

int status_format(const struct status *st, char *buf, size_t size)
{
	int len;

	if (!st || !buf || !status_version_ok(st->version) || st->pid <= 0)
		return -EINVAL;
	len = snprintf(buf, size, "version=%s\nseq=%" PRIu64 "\nhealthy=%d\npid=%ld\n",
		       st->version, st->seq, st->healthy ? 1 : 0, (long)st->pid);
	if (len < 0)
		return -EINVAL;
	if ((size_t)len >= size)
		return -ENOSPC;
	return len;
}

static int status_parse_field(struct status *st, enum status_key key, const char *v, size_t len)
{
	uint64_t n;
	int rc;

	switch (key) {
	case STATUS_VERSION:
		if (len >= STATUS_VERSION_MAX)
			return -EINVAL;
		memcpy(st->version, v, len);
		st->version[len] = '\0';
		return status_version_ok(st->version) ? 0 : -EINVAL;
	case STATUS_SEQ:
		rc = num_parse_u64(v, len, UINT64_MAX, &st->seq);
		return rc < 0 ? -EINVAL : 0;
	case STATUS_HEALTHY:
		if (len != 1 || (v[0] != '0' && v[0] != '1'))
			return -EINVAL;
		st->healthy = v[0] == '1';
		return 0;
	case STATUS_PID:
		rc = num_parse_u64(v, len, INT32_MAX, &n);
		if (rc < 0 || n == 0)
			return -EINVAL;
		st->pid = (pid_t)n;
		return 0;
	default:
		return -EINVAL;
	}
}

static int status_lookup(const char *key, size_t len)
{
	for (int k = 0; k < STATUS_NKEYS; k++) {
		if (strlen(status_keys[k]) == len && memcmp(status_keys[k], key, len) == 0)
			return k;
	}
	return -1;
}

int status_parse(const char *buf, size_t len, struct status *st)
{
	struct status tmp = { 0 };
	unsigned seen = 0;
	const char *p, *end;

	if (!buf || !st)
		return -EINVAL;
	if (len > STATUS_FILE_MAX)
		return -EFBIG;
	/* Every line ends in '\n'; a missing last newline means a truncated file. */
	if (len == 0 || buf[len - 1] != '\n' || memchr(buf, '\0', len))
		return -EINVAL;

	for (p = buf, end = buf + len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eq = memchr(p, '=', (size_t)(nl - p));
		int key;

		if (!eq)
			return -EINVAL;
		key = status_lookup(p, (size_t)(eq - p));
		if (key < 0 || (seen & (1u << key)))
			return -EINVAL;
		seen |= 1u << key;
		if (status_parse_field(&tmp, key, eq + 1, (size_t)(nl - eq - 1)) < 0)
			return -EINVAL;
		p = nl + 1;
	}
	if (seen != (1u << STATUS_NKEYS) - 1)
		return -EINVAL;
	*st = tmp;
	return 0;
}

int status_write(const char *path, const struct status *st)
{
	char text[STATUS_FILE_MAX + 1];
	char tmp[PATH_MAX];
	int fd = -1, len, rc;

	len = status_format(st, text, sizeof(text));
	if (len < 0)
		return len;
	if (!path || snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;

	fd = mkstemp(tmp);
	if (fd < 0)
		return -errno;
	/* mkstemp makes the file 0600; the health check need not run as the app's user. */
	if (fchmod(fd, 0644) < 0) {
		rc = -errno;
		goto out;
	}
	rc = fileio_write_all(fd, text, (size_t)len);
	if (rc < 0)
		goto out;
	rc = close(fd);
	fd = -1;
	if (rc < 0) {
		rc = -errno;
		goto out;
	}
	/*
	 * Readers see the old file or the new one, never a partial one. No fsync:
	 * the file lives on tmpfs (/run) and only describes the running process,
	 * so there is nothing to keep across a power loss.
	 */
	if (rename(tmp, path) < 0)
		rc = -errno;
out:
	if (fd >= 0)
		close(fd);
	if (rc < 0)
		unlink(tmp);
	return rc;
}

int status_read(const char *path, struct status *st)
{
	/* One byte more than allowed, so an oversized file is seen as such. */
	char buf[STATUS_FILE_MAX + 1];
	size_t got;
	int rc;

	rc = fileio_read(path, buf, sizeof(buf), &got);
	return rc < 0 ? rc : status_parse(buf, got, st);
}

int status_make_parent(const char *path)
{
	char dir[PATH_MAX];
	char *slash;
	int rc = 0;

	if (!path || snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';

	/* Create each component in turn; those that exist already are fine. */
	for (char *p = dir + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;

		*p = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			rc = -errno;
			break;
		}
		*p = saved;
		if (saved == '\0')
			break;
	}
	return rc;
}
