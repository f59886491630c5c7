/* marker: the "BROWNOUT <event> key=value ..." lines the harness reads from the console. */
#include "marker.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#define MARKER_PREFIX "BROWNOUT"

static int marker_name_ok(const char *s)
{
	if (!s || !*s)
		return 0;
	for (; *s; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		      *s == '_' || *s == '-'))
			return 0;
	}
	return 1;
}

int marker_value_ok(const char *s)
{
	if (!s || !*s)
		return 0;
	/* 0x21..0x7e: the harness splits on white space; bytes >0x7e may be mangled by the console. */
	for (; *s; s++) {
		if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
			return 0;
	}
	return 1;
}

/* Append s at *pos; -ENOSPC if it (plus a NUL) does not fit. */
static int marker_put(char *buf, size_t size, size_t *pos, const char *s)
{
	size_t len = strlen(s);

	if (len >= size - *pos)
		return -ENOSPC;
	memcpy(buf + *pos, s, len + 1);
	*pos += len;
	return 0;
}

int marker_format(char *buf, size_t size, const char *event,
		  const struct marker_field *fields, size_t n)
{
	size_t pos = 0;
	int rc;

	if (!buf || size == 0)
		return -ENOSPC;
	buf[0] = '\0';
	if (!marker_name_ok(event) || (n > 0 && !fields))
		return -EINVAL;
	/* Validate everything first, so a bad field is -EINVAL whatever the buffer size. */
	for (size_t i = 0; i < n; i++) {
		if (!marker_name_ok(fields[i].key) || !marker_value_ok(fields[i].value))
			return -EINVAL;
	}

	rc = marker_put(buf, size, &pos, MARKER_PREFIX " ");
	if (rc == 0)
		rc = marker_put(buf, size, &pos, event);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		rc = marker_put(buf, size, &pos, " ");
		if (rc == 0)
			rc = marker_put(buf, size, &pos, fields[i].key);
		if (rc == 0)
			rc = marker_put(buf, size, &pos, "=");
		if (rc == 0)
			rc = marker_put(buf, size, &pos, fields[i].value);
	}
	if (rc == 0)
		rc = marker_put(buf, size, &pos, "\n");
	if (rc < 0) {
		buf[0] = '\0';
		return rc;
	}
	return (int)pos;
}

int marker_emit(int fd, const char *event, const struct marker_field *fields, size_t n)
{
	char line[MARKER_MAX + 1];
	size_t done = 0;
	int len;

	len = marker_format(line, sizeof(line), event, fields, n);
	if (len < 0)
		return len;
	while (done < (size_t)len) {
		ssize_t w = write(fd, line + done, (size_t)len - done);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += (size_t)w;
	}
	return 0;
}
