/*
 * syscalls: the system calls the agent stops on, by name and by this
 * architecture's number. Names a kernel lacks here (aarch64 has no rename,
 * link or unlink, only the *at variants) are listed with nr -1, so a spec
 * naming them gets a clear error rather than a point that never fires.
 */
#ifndef BROWNOUT_FI_SYSCALLS_H
#define BROWNOUT_FI_SYSCALLS_H

#include <stddef.h>

/* How to read a call's arguments; the argument order is in each comment. */
enum syscalls_kind {
	SYSCALLS_WRITE,		/* write(fd, buf, count) */
	SYSCALLS_PWRITE,	/* pwrite64(fd, buf, count, offset) */
	SYSCALLS_WRITEV,	/* writev(fd, iov, iovcnt) */
	SYSCALLS_PWRITEV,	/* pwritev(fd, iov, iovcnt, offset), pwritev2 (offset -1: current) */
	SYSCALLS_FSYNC,		/* fsync(fd), fdatasync(fd), syncfs(fd) */
	SYSCALLS_SYNC_RANGE,	/* sync_file_range(fd, offset, nbytes, flags) */
	SYSCALLS_FTRUNCATE,	/* ftruncate(fd, length) */
	SYSCALLS_IOCTL,		/* ioctl(fd, request, arg), block-device requests only */
	SYSCALLS_SYNC,		/* sync() */
	SYSCALLS_PATH,		/* unlink(path) */
	SYSCALLS_TRUNCATE,	/* truncate(path, length) */
	SYSCALLS_PATH2,		/* rename(old, new), link(old, new) */
	SYSCALLS_AT,		/* unlinkat(dirfd, path, flags) */
	SYSCALLS_AT2,		/* renameat(odirfd, old, ndirfd, new), renameat2, linkat */
};

struct syscalls_entry {
	const char *name;
	long nr;		/* -1: not a system call on this architecture */
	enum syscalls_kind kind;
};

/* The entry for a name or a number (nr >= 0), or NULL. */
const struct syscalls_entry *syscalls_by_name(const char *name);
const struct syscalls_entry *syscalls_by_nr(long nr);

/* The whole table, for the seccomp filter; entries with nr -1 included. */
const struct syscalls_entry *syscalls_table(size_t *n);

/* True for the calls a torn cut can shorten: write, pwrite64, writev, pwritev, pwritev2. */
int syscalls_is_write(const struct syscalls_entry *e);

/*
 * The block-device ioctl requests that change the device (flush, discard,
 * zero-out, re-read or edit the partition table): the name, or NULL for any
 * other request. Queries such as BLKGETSIZE64 are not points.
 */
struct syscalls_ioctl {
	unsigned int request;
	const char *name;
};

const char *syscalls_blk_ioctl(unsigned long request);
const struct syscalls_ioctl *syscalls_blk_ioctls(size_t *n);

#endif
