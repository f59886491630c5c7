/*
 * fdcopy: a copy of a tracee's fd, made through a pidfd (pidfd_getfd). The
 * copy shares the tracee's open file description, so fstat, lseek and fcntl
 * on it say what a stat through /proc/<pid>/fd/<fd> and a read of its fdinfo
 * would, without two more walks of /proc at every stop: under emulation
 * those made a stop about half again as costly. A pidfd is kept per tracee.
 */
#include "fdcopy.h"

#include "fileio.h"
#include "num.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define FDCOPY_PROCS 32
#define FDCOPY_STATUS_MAX 2048

struct fdcopy_proc {
	int used;
	pid_t tid;
	int pidfd;
};

static struct fdcopy_proc fdcopy_procs[FDCOPY_PROCS];
static size_t fdcopy_next;

/* The thread group tid belongs to: pidfd_open takes a group leader only. */
static int fdcopy_tgid(pid_t tid, pid_t *tgid)
{
	char path[64], buf[FDCOPY_STATUS_MAX];
	const char *line;
	size_t len;
	uint64_t v;
	int rc;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)tid);
	/* Tgid is near the top: a longer file's tail does not matter. */
	rc = fileio_read(path, buf, sizeof(buf) - 1, &len);
	if (rc < 0)
		return rc;
	buf[len] = '\0';
	line = strstr(buf, "\nTgid:\t");
	if (!line)
		return -EPROTO;
	line += strlen("\nTgid:\t");
	if (num_parse_u64(line, strcspn(line, "\n"), INT32_MAX, &v) < 0)
		return -EPROTO;
	*tgid = (pid_t)v;
	return 0;
}

static void fdcopy_drop(struct fdcopy_proc *p)
{
	if (p->used)
		close(p->pidfd);
	*p = (struct fdcopy_proc){ .used = 0 };
}

static int fdcopy_pidfd(pid_t tid, struct fdcopy_proc **out)
{
	struct fdcopy_proc *p;
	pid_t tgid;
	int pidfd, rc;

	for (size_t i = 0; i < FDCOPY_PROCS; i++) {
		if (fdcopy_procs[i].used && fdcopy_procs[i].tid == tid) {
			*out = &fdcopy_procs[i];
			return 0;
		}
	}
	rc = fdcopy_tgid(tid, &tgid);
	if (rc < 0)
		return rc;
	pidfd = (int)syscall(SYS_pidfd_open, tgid, 0);
	if (pidfd < 0)
		return -errno;
	/* pidfd_open has no close-on-exec flag; a command started later must not inherit it. */
	(void)fcntl(pidfd, F_SETFD, FD_CLOEXEC);
	p = &fdcopy_procs[fdcopy_next];
	fdcopy_next = (fdcopy_next + 1) % FDCOPY_PROCS;
	fdcopy_drop(p);
	*p = (struct fdcopy_proc){ .used = 1, .tid = tid, .pidfd = pidfd };
	*out = p;
	return 0;
}

int fdcopy_get(pid_t tid, int fd)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		struct fdcopy_proc *p = NULL;
		int rc = fdcopy_pidfd(tid, &p), copy;

		if (rc < 0)
			return rc == -ESRCH ? -ENOENT : rc;
		copy = (int)syscall(SYS_pidfd_getfd, p->pidfd, fd, 0);
		/* pidfd_getfd sets close-on-exec on the copy itself. */
		if (copy >= 0)
			return copy;
		rc = -errno;
		if (rc == -EBADF)
			return -ENOENT;
		if (rc != -ESRCH)
			return rc;
		/* The process the pidfd named has ended; tid may name another one now. */
		fdcopy_drop(p);
	}
	return -ENOENT;
}

void fdcopy_forget(pid_t tid)
{
	for (size_t i = 0; i < FDCOPY_PROCS; i++) {
		if (fdcopy_procs[i].used && fdcopy_procs[i].tid == tid)
			fdcopy_drop(&fdcopy_procs[i]);
	}
}
