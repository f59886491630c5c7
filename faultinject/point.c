/* point: turn a stopped system call into a candidate point, a console write, or neither. */
#include "point.h"

#include "target.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <string.h>

/* The kernel takes fds and dirfds as int: only the low 32 bits count. */
static int point_fd(uint64_t arg)
{
	return (int)(uint32_t)arg;
}

static int point_stored(enum target_kind kind)
{
	return kind == TARGET_FILE || kind == TARGET_BLOCK;
}

/* A path argument, made absolute against dirfd. */
static int point_path(pid_t pid, int dirfd, uint64_t addr, char *out, size_t size)
{
	char raw[PATH_MAX];
	int rc = target_read_string(pid, addr, raw, sizeof(raw));

	if (rc < 0)
		return rc;
	return target_abspath(pid, dirfd, raw, out, size);
}

/* write, pwrite64, writev, pwritev, pwritev2. */
static unsigned int point_write(pid_t pid, const struct syscalls_entry *sc, const uint64_t *a,
				struct cut_point *p)
{
	int vec = sc->kind == SYSCALLS_WRITEV || sc->kind == SYSCALLS_PWRITEV;
	/* pwrite64 and pwritev take the offset; pwritev2 with -1 means the current position. */
	int at = sc->kind == SYSCALLS_PWRITE || (sc->kind == SYSCALLS_PWRITEV && (int64_t)a[3] != -1);
	int fd = point_fd(a[0]);
	struct target t;
	uint64_t len = a[2];
	unsigned int console;

	if (target_fd(pid, fd, !at, &t) < 0)
		return POINT_NONE;
	if (vec && target_iov_len(pid, a[1], a[2], &len) < 0)
		return POINT_NONE;
	p->kind = t.kind;
	strcpy(p->path, t.path);
	p->len = (int64_t)len;
	/*
	 * Markers are looked for in what fd 1 and 2 get, also when they go to a
	 * log file; not on a block device (dd of= writes through fd 1).
	 */
	console = (fd == 1 || fd == 2) && t.kind != TARGET_BLOCK && t.kind != TARGET_DIR &&
		  (sc->kind == SYSCALLS_WRITE || sc->kind == SYSCALLS_WRITEV) ? POINT_CONSOLE : 0;
	if (!point_stored(t.kind))
		return console;
	p->offset = at ? (int64_t)a[3] : t.pos;
	return POINT_CANDIDATE | console;
}

/* fsync, fdatasync, syncfs, sync_file_range, ftruncate, ioctl: an fd and no data. */
static unsigned int point_fdcall(pid_t pid, const struct syscalls_entry *sc, const uint64_t *a,
				 struct cut_point *p)
{
	struct target t;
	uint64_t range[2];

	if (target_fd(pid, point_fd(a[0]), 0, &t) < 0)
		return POINT_NONE;
	p->kind = t.kind;
	strcpy(p->path, t.path);
	switch (sc->kind) {
	case SYSCALLS_FSYNC:
		return point_stored(t.kind) || t.kind == TARGET_DIR ? POINT_CANDIDATE : POINT_NONE;
	case SYSCALLS_SYNC_RANGE:
		p->offset = (int64_t)a[1];
		p->len = (int64_t)a[2];
		return point_stored(t.kind) ? POINT_CANDIDATE : POINT_NONE;
	case SYSCALLS_FTRUNCATE:
		p->offset = (int64_t)a[1];
		return t.kind == TARGET_FILE ? POINT_CANDIDATE : POINT_NONE;
	case SYSCALLS_IOCTL:
		if (t.kind != TARGET_BLOCK || !syscalls_blk_ioctl(a[1]))
			return POINT_NONE;
		/* The range ioctls take {start, length} in bytes. */
		if (((unsigned int)a[1] == BLKDISCARD || (unsigned int)a[1] == BLKSECDISCARD ||
		     (unsigned int)a[1] == BLKZEROOUT) &&
		    target_read(pid, a[2], range, sizeof(range)) == (ssize_t)sizeof(range)) {
			p->offset = (int64_t)range[0];
			p->len = (int64_t)range[1];
		}
		return POINT_CANDIDATE;
	default:
		return POINT_NONE;
	}
}

/* unlink, truncate, rename, link and their *at forms. */
static unsigned int point_pathcall(pid_t pid, const struct syscalls_entry *sc, const uint64_t *a,
				   struct cut_point *p)
{
	int rc;

	p->kind = TARGET_PATH;
	switch (sc->kind) {
	case SYSCALLS_PATH:
		rc = point_path(pid, AT_FDCWD, a[0], p->path, sizeof(p->path));
		break;
	case SYSCALLS_TRUNCATE:
		rc = point_path(pid, AT_FDCWD, a[0], p->path, sizeof(p->path));
		p->offset = (int64_t)a[1];
		break;
	case SYSCALLS_PATH2:
		rc = point_path(pid, AT_FDCWD, a[0], p->path, sizeof(p->path));
		if (rc == 0)
			rc = point_path(pid, AT_FDCWD, a[1], p->path2, sizeof(p->path2));
		break;
	case SYSCALLS_AT:
		rc = point_path(pid, point_fd(a[0]), a[1], p->path, sizeof(p->path));
		break;
	case SYSCALLS_AT2:
		rc = point_path(pid, point_fd(a[0]), a[1], p->path, sizeof(p->path));
		if (rc == 0)
			rc = point_path(pid, point_fd(a[2]), a[3], p->path2, sizeof(p->path2));
		break;
	default:
		return POINT_NONE;
	}
	return rc < 0 ? POINT_NONE : POINT_CANDIDATE;
}

unsigned int point_build(pid_t pid, const struct syscalls_entry *sc, const uint64_t *args,
			     const char *phase, struct cut_point *p)
{
	memset(p, 0, sizeof(*p));
	p->syscall = sc->name;
	p->phase = phase;
	p->kind = TARGET_OTHER;
	p->offset = -1;
	p->len = -1;
	p->pid = (long)pid;
	switch (sc->kind) {
	case SYSCALLS_WRITE:
	case SYSCALLS_PWRITE:
	case SYSCALLS_WRITEV:
	case SYSCALLS_PWRITEV:
		return point_write(pid, sc, args, p);
	case SYSCALLS_FSYNC:
	case SYSCALLS_SYNC_RANGE:
	case SYSCALLS_FTRUNCATE:
	case SYSCALLS_IOCTL:
		return point_fdcall(pid, sc, args, p);
	case SYSCALLS_SYNC:
		p->kind = TARGET_NONE;
		return POINT_CANDIDATE;
	case SYSCALLS_PATH:
	case SYSCALLS_TRUNCATE:
	case SYSCALLS_PATH2:
	case SYSCALLS_AT:
	case SYSCALLS_AT2:
		return point_pathcall(pid, sc, args, p);
	}
	return POINT_NONE;
}

ssize_t point_console_data(pid_t pid, const struct syscalls_entry *sc, const uint64_t *args,
			   char *buf, size_t size, int *lost)
{
	size_t got = 0;
	ssize_t n;
	int rc;

	*lost = 0;
	if (sc->kind == SYSCALLS_WRITE) {
		n = target_read(pid, args[1], buf, args[2] < size ? (size_t)args[2] : size);
		if (n < 0)
			return n;
		*lost = (uint64_t)n < args[2];
		return n;
	}
	if (sc->kind == SYSCALLS_WRITEV) {
		uint64_t total;

		rc = target_iov_len(pid, args[1], args[2], &total);
		if (rc == 0)
			rc = target_iov_read(pid, args[1], args[2], buf, size, &got);
		if (rc < 0)
			return rc;
		*lost = got < total;
		return (ssize_t)got;
	}
	return 0;
}
