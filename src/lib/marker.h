/* marker: the "BROWNOUT <event> key=value ..." lines the harness reads from the console. */
#ifndef BROWNOUT_MARKER_H
#define BROWNOUT_MARKER_H

#include <stddef.h>

/* Longest line including the newline; a console line longer than this is not a marker. */
#define MARKER_MAX 256

struct marker_field {
	const char *key;
	const char *value;
};

/*
 * The fields of one marker and their count, as the two arguments a marker
 * function takes after the event: MARKER({ "result", "good" }, { "slot", s })
 * is an array of two fields, then 2. The count comes from sizeof, so it
 * cannot disagree with the list; sizeof evaluates nothing twice.
 * MARKER_NONE is a marker with no fields.
 */
#define MARKER(...) \
	((const struct marker_field[]){ __VA_ARGS__ }), \
	(sizeof((const struct marker_field[]){ __VA_ARGS__ }) / sizeof(struct marker_field))
#define MARKER_NONE NULL, (size_t)0

/*
 * Format "BROWNOUT <event> k1=v1 k2=v2\n" into buf (NUL-terminated).
 * event and keys are [a-z0-9_-]+; values are printable ASCII without spaces.
 * Returns the line length (newline included, NUL excluded), -EINVAL for a bad
 * event, key or value, -ENOSPC if the line does not fit in size bytes.
 */
int marker_format(char *buf, size_t size, const char *event,
		  const struct marker_field *fields, size_t n);

/*
 * Format a marker and write it to fd with one write(2), so another writer to the
 * same console cannot split the line. Returns 0 or a negative errno.
 */
int marker_emit(int fd, const char *event, const struct marker_field *fields, size_t n);

/* True if s is a valid marker value (non-empty, printable, no spaces). */
int marker_value_ok(const char *s);

#endif
