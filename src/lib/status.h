/* status: the app's status file, written every beat and read by the health check. */
#ifndef BROWNOUT_STATUS_H
#define BROWNOUT_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define STATUS_DEFAULT_PATH "/run/brownout/app.status"
/* Version string size including the NUL. */
#define STATUS_VERSION_MAX 32
/* A valid file is far smaller; anything bigger is not ours. */
#define STATUS_FILE_MAX 256

/*
 * The file is four "key=value\n" lines, each key exactly once, in any order:
 *   version=<printable, no spaces>  seq=<decimal u64>  healthy=0|1  pid=<decimal >0>
 */
struct status {
	char version[STATUS_VERSION_MAX];
	uint64_t seq;
	bool healthy;
	pid_t pid;
};

/* Returns the length written (NUL excluded), -EINVAL for a bad field, -ENOSPC. */
int status_format(const struct status *st, char *buf, size_t size);

/*
 * Parse len bytes (no NUL needed). Returns 0, -EFBIG if len > STATUS_FILE_MAX,
 * -EINVAL if the text is truncated, garbled, has unknown, missing or repeated keys.
 */
int status_parse(const char *buf, size_t len, struct status *st);

/* Replace path atomically with the formatted status. Returns 0 or a negative errno. */
int status_write(const char *path, const struct status *st);

/* Read and parse path. Returns 0, -ENOENT, -EFBIG, -EINVAL or another negative errno. */
int status_read(const char *path, struct status *st);

/* Create the directories leading to path (like mkdir -p of its dirname). */
int status_make_parent(const char *path);

#endif
