/*
 * fdcopy: a copy of a tracee's fd in this process, through a pidfd kept per
 * tracee; it shares the tracee's open file description (position, flags).
 */
#ifndef BROWNOUT_FI_FDCOPY_H
#define BROWNOUT_FI_FDCOPY_H

#include <sys/types.h>

/*
 * A new fd (close-on-exec; the caller closes it) for fd of thread tid.
 * Returns it, or -ENOENT (no such fd or thread), or another negative errno:
 * -ENOSYS or -EPERM when the kernel cannot, and /proc must serve instead.
 */
int fdcopy_get(pid_t tid, int fd);

/* Close the pidfd kept for tid (it ended). */
void fdcopy_forget(pid_t tid);

#endif
