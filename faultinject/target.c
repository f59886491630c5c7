/*
 * target: what a stopped tracee's system call acts on, read from /proc, from
 * a copy of its fd (fdcopy.c) and from the tracee's memory.
 */
#include "target.h"

#include "fdcopy.h"
#include "fileio.h"
#include "num.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

/* A remote iovec must not span an unmapped page: the kernel does not split one. */
#define TARGET_PAGE 4096u
#define TARGET_IOV_BATCH 16
#define TARGET_IOV_MAX 1024	/* IOV_MAX: the kernel refuses more */
#define TARGET_FDINFO_MAX 1024

static const char *const target_names[] = {
	[TARGET_OTHER] = "other",
	[TARGET_FILE] = "file",
	[TARGET_DIR] = "dir",
	[TARGET_BLOCK] = "block",
	[TARGET_PATH] = "path",
	[TARGET_NONE] = "none",
};

const char *target_kind_name(enum target_kind kind)
{
	if ((size_t)kind >= sizeof(target_names) / sizeof(target_names[0]))
		return "other";
	return target_names[kind];
}

int target_kind_parse(const char *name, enum target_kind *kind)
{
	for (size_t i = TARGET_FILE; i < sizeof(target_names) / sizeof(target_names[0]); i++) {
		if (name && strcmp(name, target_names[i]) == 0) {
			*kind = (enum target_kind)i;
			return 0;
		}
	}
	return -EINVAL;
}

static int target_readlink(const char *link, char *out, size_t size)
{
	ssize_t n = readlink(link, out, size);

	if (n < 0)
		return -errno;
	if ((size_t)n >= size)
		return -ENAMETOOLONG;
	out[n] = '\0';
	return 0;
}

/* The "pos:" and "flags:" lines of /proc/<pid>/fdinfo/<fd>. */
static int target_fdinfo(pid_t pid, int fd, int64_t *pos, unsigned long *flags)
{
	char path[64], buf[TARGET_FDINFO_MAX];
	int have_pos = 0, rc;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/fdinfo/%d", (long)pid, fd);
	rc = fileio_read(path, buf, sizeof(buf) - 1, &n);
	if (rc < 0)
		return rc;
	buf[n] = '\0';
	*flags = 0;
	for (char *line = buf; *line;) {
		size_t len = strcspn(line, "\n");
		uint64_t v;

		if (strncmp(line, "pos:\t", 5) == 0 &&
		    num_parse_u64(line + 5, len - 5, INT64_MAX, &v) == 0) {
			*pos = (int64_t)v;
			have_pos = 1;
		} else if (strncmp(line, "flags:\t", 7) == 0) {
			/* Octal, as the kernel prints it. */
			for (size_t i = 7; i < len && line[i] >= '0' && line[i] <= '7'; i++)
				*flags = *flags * 8 + (unsigned long)(line[i] - '0');
		}
		line += len;
		if (*line == '\n')
			line++;
	}
	return have_pos ? 0 : -EINVAL;
}

static enum target_kind target_kind_of(mode_t mode)
{
	if (S_ISREG(mode))
		return TARGET_FILE;
	if (S_ISDIR(mode))
		return TARGET_DIR;
	if (S_ISBLK(mode))
		return TARGET_BLOCK;
	return TARGET_OTHER;
}

/* Kind and position from a copy of the fd, which shares the tracee's open file description. */
static int target_from_copy(int copy, int want_pos, struct target *t)
{
	struct stat st;
	off_t pos;
	int flags;

	if (fstat(copy, &st) < 0)
		return -errno;
	t->kind = target_kind_of(st.st_mode);
	if (!want_pos || (t->kind != TARGET_FILE && t->kind != TARGET_BLOCK))
		return 0;
	/* An O_APPEND write to a file goes to its end, whatever the position says. */
	if (t->kind == TARGET_FILE) {
		flags = fcntl(copy, F_GETFL);
		if (flags < 0)
			return -errno;
		if (flags & O_APPEND) {
			t->pos = (int64_t)st.st_size;
			return 0;
		}
	}
	pos = lseek(copy, 0, SEEK_CUR);
	if (pos < 0)
		return -errno;
	t->pos = (int64_t)pos;
	return 0;
}

/* The same through /proc, for a kernel without pidfd_getfd. */
static int target_from_proc(const char *link, pid_t pid, int fd, int want_pos, struct target *t)
{
	unsigned long flags = 0;
	struct stat st;
	int rc;

	/* stat() follows the fd's magic link to its inode, even for a deleted file or a pipe. */
	if (stat(link, &st) < 0)
		return -errno;
	t->kind = target_kind_of(st.st_mode);
	if (!want_pos || (t->kind != TARGET_FILE && t->kind != TARGET_BLOCK))
		return 0;
	rc = target_fdinfo(pid, fd, &t->pos, &flags);
	if (rc < 0)
		return rc;
	if ((flags & O_APPEND) && t->kind == TARGET_FILE)
		t->pos = (int64_t)st.st_size;
	return 0;
}

int target_fd(pid_t pid, int fd, int want_pos, struct target *t)
{
	char link[64];
	int copy, rc;

	t->kind = TARGET_OTHER;
	t->path[0] = '\0';
	t->pos = -1;
	if (fd < 0)
		return -EBADF;
	/*
	 * The copy only saves work: when there is none (a thread whose group
	 * leader has exited, say), /proc serves. A thread that unshared its file
	 * table would be read through its group leader's; no update client does.
	 */
	copy = fdcopy_get(pid, fd);
	snprintf(link, sizeof(link), "/proc/%ld/fd/%d", (long)pid, fd);
	rc = target_readlink(link, t->path, sizeof(t->path));
	if (rc == 0)
		rc = copy >= 0 ? target_from_copy(copy, want_pos, t) :
				 target_from_proc(link, pid, fd, want_pos, t);
	if (copy >= 0)
		close(copy);
	return rc;
}

ssize_t target_read(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		struct iovec local, remote[TARGET_IOV_BATCH];
		size_t n = 0, want = 0;
		ssize_t got;

		/* Split at page boundaries so a string ending before an unmapped page is still read. */
		while (n < TARGET_IOV_BATCH && done + want < len) {
			uint64_t at = addr + done + want;
			size_t chunk = TARGET_PAGE - (size_t)(at % TARGET_PAGE);

			if (chunk > len - done - want)
				chunk = len - done - want;
			remote[n].iov_base = (void *)(uintptr_t)at;
			remote[n].iov_len = chunk;
			want += chunk;
			n++;
		}
		local.iov_base = (char *)buf + done;
		local.iov_len = want;
		got = process_vm_readv(pid, &local, 1, remote, n, 0);
		if (got < 0) {
			if (done > 0 && errno == EFAULT)
				break;
			return -errno;
		}
		done += (size_t)got;
		if ((size_t)got < want)
			break;
	}
	return (ssize_t)done;
}

int target_read_string(pid_t pid, uint64_t addr, char *buf, size_t size)
{
	size_t done = 0;

	if (size == 0)
		return -ENAMETOOLONG;
	while (done < size) {
		size_t chunk = TARGET_PAGE - (size_t)((addr + done) % TARGET_PAGE);
		ssize_t got;
		char *nul;

		if (chunk > size - done)
			chunk = size - done;
		got = target_read(pid, addr + done, buf + done, chunk);
		if (got < 0)
			return (int)got;
		nul = memchr(buf + done, '\0', (size_t)got);
		if (nul)
			return 0;
		if ((size_t)got < chunk)
			return -EFAULT;
		done += chunk;
	}
	buf[size - 1] = '\0';
	return -ENAMETOOLONG;
}

int target_abspath(pid_t pid, int dirfd, const char *path, char *out, size_t size)
{
	char link[64], base[PATH_MAX];
	int rc, n;

	if (path[0] == '/') {
		if (strlen(path) >= size)
			return -ENAMETOOLONG;
		strcpy(out, path);
		return 0;
	}
	if (dirfd == AT_FDCWD)
		snprintf(link, sizeof(link), "/proc/%ld/cwd", (long)pid);
	else
		snprintf(link, sizeof(link), "/proc/%ld/fd/%d", (long)pid, dirfd);
	rc = target_readlink(link, base, sizeof(base));
	if (rc < 0)
		return rc;
	if (path[0] == '\0')
		n = snprintf(out, size, "%s", base);
	else
		n = snprintf(out, size, "%s%s%s", base, strcmp(base, "/") == 0 ? "" : "/", path);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* The iovec array itself; iovcnt is what the tracee passed, bounded as the kernel bounds it. */
static int target_iovs(pid_t pid, uint64_t addr, uint64_t iovcnt, struct iovec *iov)
{
	ssize_t got;

	if (iovcnt > TARGET_IOV_MAX)
		return -EINVAL;
	if (iovcnt == 0)
		return 0;
	got = target_read(pid, addr, iov, (size_t)iovcnt * sizeof(*iov));
	if (got < 0)
		return (int)got;
	return (size_t)got == (size_t)iovcnt * sizeof(*iov) ? 0 : -EFAULT;
}

int target_iov_len(pid_t pid, uint64_t addr, uint64_t iovcnt, uint64_t *sum)
{
	struct iovec iov[TARGET_IOV_MAX];
	int rc = target_iovs(pid, addr, iovcnt, iov);

	if (rc < 0)
		return rc;
	*sum = 0;
	for (uint64_t i = 0; i < iovcnt; i++)
		*sum += iov[i].iov_len;
	return 0;
}

int target_iov_read(pid_t pid, uint64_t addr, uint64_t iovcnt, void *buf, size_t size,
		    size_t *got)
{
	struct iovec iov[TARGET_IOV_MAX];
	int rc = target_iovs(pid, addr, iovcnt, iov);

	*got = 0;
	if (rc < 0)
		return rc;
	for (uint64_t i = 0; i < iovcnt && *got < size; i++) {
		size_t want = iov[i].iov_len < size - *got ? iov[i].iov_len : size - *got;
		ssize_t n = target_read(pid, (uintptr_t)iov[i].iov_base, (char *)buf + *got, want);

		if (n < 0)
			return (int)n;
		*got += (size_t)n;
		if ((size_t)n < want)
			break;
	}
	return 0;
}

int target_iov_shorten(pid_t pid, uint64_t addr, uint64_t iovcnt, uint64_t keep,
		       uint64_t *iovcnt_out)
{
	struct iovec iov[TARGET_IOV_MAX], local, remote;
	uint64_t before = 0;
	ssize_t wrote;
	int rc = target_iovs(pid, addr, iovcnt, iov);

	if (rc < 0)
		return rc;
	*iovcnt_out = iovcnt;
	if (keep == 0) {
		*iovcnt_out = 0;
		return 0;
	}
	for (uint64_t i = 0; i < iovcnt; i++) {
		if (before + iov[i].iov_len < keep) {
			before += iov[i].iov_len;
			continue;
		}
		iov[i].iov_len = (size_t)(keep - before);
		local.iov_base = &iov[i];
		local.iov_len = sizeof(iov[i]);
		remote.iov_base = (void *)(uintptr_t)(addr + i * sizeof(iov[i]));
		remote.iov_len = sizeof(iov[i]);
		wrote = process_vm_writev(pid, &local, 1, &remote, 1, 0);
		if (wrote < 0)
			return -errno;
		if (wrote != (ssize_t)sizeof(iov[i]))
			return -EFAULT;
		*iovcnt_out = i + 1;
		return 0;
	}
	return 0;	/* keep covers every byte: nothing to shorten */
}
