/*
 * target: what a stopped tracee's system call acts on, read from /proc, from
 * a copy of the fd (fdcopy.h) and from the tracee's memory: an fd's kind, path and position, a path argument
 * made absolute, the lengths in an iovec array.
 */
#ifndef BROWNOUT_FI_TARGET_H
#define BROWNOUT_FI_TARGET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum target_kind {
	TARGET_OTHER,	/* pipe, socket, tty, other character device: never a point */
	TARGET_FILE,	/* regular file */
	TARGET_DIR,	/* directory (fsync of a directory after a rename) */
	TARGET_BLOCK,	/* block device */
	TARGET_PATH,	/* a path system call: rename, link, unlink, truncate */
	TARGET_NONE,	/* sync(): no target */
};

/* "file", "dir", "block", "path", "none", or "other". */
const char *target_kind_name(enum target_kind kind);
/* The kind for a name a spec may use (not "other"); -EINVAL for anything else. */
int target_kind_parse(const char *name, enum target_kind *kind);

struct target {
	enum target_kind kind;
	char path[4096];	/* readlink of /proc/<pid>/fd/<fd>: a path, "pipe:[..]", ... */
	int64_t pos;		/* where a write(2) goes: the position, or the size for O_APPEND */
};

/*
 * Describe fd of process pid. pos is read only when want_pos is set (and is -1
 * otherwise, or for a target without a position). Returns 0, or a negative
 * errno (-ENOENT: no such fd).
 */
int target_fd(pid_t pid, int fd, int want_pos, struct target *t);

/*
 * Read the NUL-terminated string at addr in pid into buf. Returns 0,
 * -ENAMETOOLONG if it does not fit, or -EFAULT.
 */
int target_read_string(pid_t pid, uint64_t addr, char *buf, size_t size);

/*
 * Read up to len bytes at addr in pid. Returns the count read (short at an
 * unmapped page) or -errno.
 */
ssize_t target_read(pid_t pid, uint64_t addr, void *buf, size_t len);

/*
 * Make path (an argument of a call in pid) absolute: relative to dirfd, or to
 * the cwd when dirfd is AT_FDCWD; an empty path names dirfd itself (AT_EMPTY_PATH).
 * Not canonicalised: "..", symlinks stay. Returns 0 or a negative errno.
 */
int target_abspath(pid_t pid, int dirfd, const char *path, char *out, size_t size);

/* The sum of the iov_len of the iovcnt iovecs at addr in pid. Returns 0 or a negative errno. */
int target_iov_len(pid_t pid, uint64_t addr, uint64_t iovcnt, uint64_t *sum);

/*
 * Copy the first bytes the iovecs at addr describe into buf, at most size.
 * *got is the count copied. Returns 0 or a negative errno.
 */
int target_iov_read(pid_t pid, uint64_t addr, uint64_t iovcnt, void *buf, size_t size,
		    size_t *got);

/*
 * Shorten the iovecs at addr so they describe only their first keep bytes:
 * the iovec where keep falls is shortened in pid's memory, and *iovcnt_out
 * is the count to pass instead of iovcnt. Returns 0 or a negative errno.
 */
int target_iov_shorten(pid_t pid, uint64_t addr, uint64_t iovcnt, uint64_t keep,
		       uint64_t *iovcnt_out);

#endif
