/* syscalls: the system calls the agent stops on, by name and by this architecture's number. */
#include "syscalls.h"

#include <linux/blkpg.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/syscall.h>

#define SC(name, nr, kind) { name, nr, kind }

static const struct syscalls_entry syscalls[] = {
	SC("write", SYS_write, SYSCALLS_WRITE),
	SC("pwrite64", SYS_pwrite64, SYSCALLS_PWRITE),
	SC("writev", SYS_writev, SYSCALLS_WRITEV),
	SC("pwritev", SYS_pwritev, SYSCALLS_PWRITEV),
	SC("pwritev2", SYS_pwritev2, SYSCALLS_PWRITEV),
	SC("fsync", SYS_fsync, SYSCALLS_FSYNC),
	SC("fdatasync", SYS_fdatasync, SYSCALLS_FSYNC),
	SC("syncfs", SYS_syncfs, SYSCALLS_FSYNC),
	SC("sync_file_range", SYS_sync_file_range, SYSCALLS_SYNC_RANGE),
	SC("ftruncate", SYS_ftruncate, SYSCALLS_FTRUNCATE),
	SC("ioctl", SYS_ioctl, SYSCALLS_IOCTL),
	SC("sync", SYS_sync, SYSCALLS_SYNC),
#ifdef SYS_unlink
	SC("unlink", SYS_unlink, SYSCALLS_PATH),
#else
	SC("unlink", -1, SYSCALLS_PATH),
#endif
	SC("truncate", SYS_truncate, SYSCALLS_TRUNCATE),
#ifdef SYS_rename
	SC("rename", SYS_rename, SYSCALLS_PATH2),
#else
	SC("rename", -1, SYSCALLS_PATH2),
#endif
#ifdef SYS_link
	SC("link", SYS_link, SYSCALLS_PATH2),
#else
	SC("link", -1, SYSCALLS_PATH2),
#endif
	SC("unlinkat", SYS_unlinkat, SYSCALLS_AT),
	SC("renameat", SYS_renameat, SYSCALLS_AT2),
	SC("renameat2", SYS_renameat2, SYSCALLS_AT2),
	SC("linkat", SYS_linkat, SYSCALLS_AT2),
};

#define SYSCALLS_N (sizeof(syscalls) / sizeof(syscalls[0]))

static const struct syscalls_ioctl blk_ioctls[] = {
	{ BLKFLSBUF, "BLKFLSBUF" },
	{ BLKRRPART, "BLKRRPART" },
	{ BLKPG, "BLKPG" },
	{ BLKDISCARD, "BLKDISCARD" },
	{ BLKSECDISCARD, "BLKSECDISCARD" },
	{ BLKZEROOUT, "BLKZEROOUT" },
};

#define BLK_IOCTLS_N (sizeof(blk_ioctls) / sizeof(blk_ioctls[0]))

const struct syscalls_entry *syscalls_by_name(const char *name)
{
	for (size_t i = 0; name && i < SYSCALLS_N; i++) {
		if (strcmp(syscalls[i].name, name) == 0)
			return &syscalls[i];
	}
	return NULL;
}

const struct syscalls_entry *syscalls_by_nr(long nr)
{
	for (size_t i = 0; nr >= 0 && i < SYSCALLS_N; i++) {
		if (syscalls[i].nr == nr)
			return &syscalls[i];
	}
	return NULL;
}

const struct syscalls_entry *syscalls_table(size_t *n)
{
	*n = SYSCALLS_N;
	return syscalls;
}

int syscalls_is_write(const struct syscalls_entry *e)
{
	return e && (e->kind == SYSCALLS_WRITE || e->kind == SYSCALLS_PWRITE ||
		     e->kind == SYSCALLS_WRITEV || e->kind == SYSCALLS_PWRITEV);
}

const char *syscalls_blk_ioctl(unsigned long request)
{
	/* The kernel takes the request as an unsigned int; the upper bits are not looked at. */
	for (size_t i = 0; i < BLK_IOCTLS_N; i++) {
		if (blk_ioctls[i].request == (unsigned int)request)
			return blk_ioctls[i].name;
	}
	return NULL;
}

const struct syscalls_ioctl *syscalls_blk_ioctls(size_t *n)
{
	*n = BLK_IOCTLS_N;
	return blk_ioctls;
}
