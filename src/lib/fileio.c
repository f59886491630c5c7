/* fileio: whole reads and writes of small files. */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int fileio_read(const char *path, char *buf, size_t size, size_t *len)
{
	int fd, rc = 0;

	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (*len < size) {
		ssize_t n = read(fd, buf + *len, size - *len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		if (n == 0)
			break;
		*len += (size_t)n;
	}
	close(fd);
	return rc;
}

int fileio_read_text(const char *path, char *buf, size_t size)
{
	size_t len = 0;
	int rc;

	if (size == 0)
		return -EINVAL;
	rc = fileio_read(path, buf, size, &len);
	if (rc == 0 && len == size)
		rc = -EFBIG;
	buf[rc < 0 ? 0 : len] = '\0';
	return rc;
}

int fileio_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
