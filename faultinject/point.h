/*
 * point: turn a system call a tracee is stopped at into a candidate point
 * (a write, sync, ioctl or path call that can change what storage holds), a
 * write to stdout or stderr that may carry markers, both, or neither.
 */
#ifndef BROWNOUT_FI_POINT_H
#define BROWNOUT_FI_POINT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cutpoint.h"
#include "syscalls.h"

/* What a call is: flags, as a write to stdout redirected to a file is both. */
enum point_class {
	POINT_NONE = 0,		/* not a point: a pipe, a socket, a call that will fail */
	POINT_CANDIDATE = 1,	/* p describes it; p->index is the caller's */
	POINT_CONSOLE = 2,	/* write or writev on fd 1/2 (not a block device): scan for markers */
};

/*
 * Classify call sc with arguments args, stopped at entry in pid, and fill
 * *p (syscall, kind, path, path2, offset, len; phase set to phase). A call
 * whose fd or path cannot be read is POINT_NONE: the kernel will fail it the
 * same way.
 */
unsigned int point_build(pid_t pid, const struct syscalls_entry *sc, const uint64_t *args,
			     const char *phase, struct cut_point *p);

/*
 * The first bytes a POINT_CONSOLE write carries, at most size. *lost is set
 * when the write holds more than was read. Returns the count read or -errno.
 */
ssize_t point_console_data(pid_t pid, const struct syscalls_entry *sc, const uint64_t *args,
			   char *buf, size_t size, int *lost);

#endif
