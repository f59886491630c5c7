/* record: record mode's output, one JSON object per candidate point and line. */
#include "record.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if there is none. */
static size_t record_utf8_len(const unsigned char *s)
{
	size_t n;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;	/* also stops at the NUL */
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8. */
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static int record_put(char *buf, size_t size, size_t *pos, const char *s, size_t len)
{
	if (len >= size - *pos)
		return -ENOSPC;
	memcpy(buf + *pos, s, len);
	*pos += len;
	buf[*pos] = '\0';
	return 0;
}

int record_json_string(char *buf, size_t size, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t pos = 0;
	int rc;

	if (!buf || size == 0)
		return -ENOSPC;
	rc = record_put(buf, size, &pos, "\"", 1);
	while (rc == 0 && *u) {
		char esc[8];
		size_t n = record_utf8_len(u);

		if (*u == '"' || *u == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*u;
			rc = record_put(buf, size, &pos, esc, 2);
			n = 1;
		} else if (n == 0 || *u < 0x20 || *u == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", *u);
			rc = record_put(buf, size, &pos, esc, 6);
			n = 1;
		} else {
			rc = record_put(buf, size, &pos, (const char *)u, n);
		}
		u += n;
	}
	if (rc == 0)
		rc = record_put(buf, size, &pos, "\"", 1);
	if (rc < 0) {
		buf[0] = '\0';
		return rc;
	}
	return (int)pos;
}

static int record_printf(char *buf, size_t size, size_t *pos, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf + *pos, size - *pos, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size - *pos)
		return -ENOSPC;
	*pos += (size_t)n;
	return 0;
}

static int record_string_field(char *buf, size_t size, size_t *pos, const char *key,
			       const char *value)
{
	int rc = record_printf(buf, size, pos, ",\"%s\":", key);
	int n;

	if (rc < 0)
		return rc;
	n = record_json_string(buf + *pos, size - *pos, value);
	if (n < 0)
		return n;
	*pos += (size_t)n;
	return 0;
}

static int record_int_field(char *buf, size_t size, size_t *pos, const char *key, int64_t v)
{
	if (v < 0)
		return record_printf(buf, size, pos, ",\"%s\":null", key);
	return record_printf(buf, size, pos, ",\"%s\":%" PRId64, key, v);
}

int record_format(char *buf, size_t size, const struct cut_point *p, uint64_t ms)
{
	size_t pos = 0;
	int rc;

	if (!buf || size == 0)
		return -ENOSPC;
	rc = record_printf(buf, size, &pos, "{\"index\":%" PRIu64, p->index);
	if (rc == 0)
		rc = record_string_field(buf, size, &pos, "syscall", p->syscall);
	if (rc == 0)
		rc = record_string_field(buf, size, &pos, "edge", "-");
	if (rc == 0)
		rc = record_string_field(buf, size, &pos, "phase", p->phase);
	if (rc == 0)
		rc = record_string_field(buf, size, &pos, "target", target_kind_name(p->kind));
	if (rc == 0)
		rc = record_string_field(buf, size, &pos, "path", p->path);
	if (rc == 0)
		rc = record_string_field(buf, size, &pos, "path2", p->path2);
	if (rc == 0)
		rc = record_int_field(buf, size, &pos, "offset", p->offset);
	if (rc == 0)
		rc = record_int_field(buf, size, &pos, "len", p->len);
	if (rc == 0)
		rc = record_printf(buf, size, &pos, ",\"pid\":%ld", p->pid);
	if (rc == 0)
		rc = record_int_field(buf, size, &pos, "rule", p->rule ? (int64_t)p->rule : -1);
	if (rc == 0)
		rc = record_printf(buf, size, &pos, ",\"ms\":%" PRIu64 "}\n", ms);
	if (rc < 0) {
		buf[0] = '\0';
		return rc;
	}
	return (int)pos;
}

int record_open(struct record *r, const char *path)
{
	r->path = path;
	if (clock_gettime(CLOCK_MONOTONIC, &r->opened) < 0)
		return -errno;
	r->line = malloc(RECORD_LINE_MAX);
	if (!r->line)
		return -ENOMEM;
	r->f = fopen(path, "we");
	if (!r->f) {
		int err = errno;

		free(r->line);
		r->line = NULL;
		return -err;
	}
	return 0;
}

/* Milliseconds from `from` to now; 0 if the clock cannot be read (the point is still recorded). */
static uint64_t record_ms_since(const struct timespec *from)
{
	struct timespec now;
	int64_t ms;

	if (clock_gettime(CLOCK_MONOTONIC, &now) < 0)
		return 0;
	ms = (int64_t)(now.tv_sec - from->tv_sec) * 1000 + (now.tv_nsec - from->tv_nsec) / 1000000;
	return ms > 0 ? (uint64_t)ms : 0;
}

int record_point(struct record *r, const struct cut_point *p)
{
	int len = record_format(r->line, RECORD_LINE_MAX, p, record_ms_since(&r->opened));

	if (len < 0)
		return len;
	errno = 0;
	if (fwrite(r->line, 1, (size_t)len, r->f) != (size_t)len || fflush(r->f) != 0)
		return errno ? -errno : -EIO;
	return 0;
}

int record_close(struct record *r)
{
	int rc = 0;

	if (!r->f)
		return 0;
	/* The next power cut must not take the list with it. */
	if (fflush(r->f) != 0 || fsync(fileno(r->f)) < 0)
		rc = -errno;
	if (fclose(r->f) != 0 && rc == 0)
		rc = -errno;
	r->f = NULL;
	free(r->line);
	r->line = NULL;
	return rc;
}
