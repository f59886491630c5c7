/*
 * filter: the seccomp-bpf program installed in the traced command before it
 * execs. It returns SECCOMP_RET_TRACE for the system calls in syscalls.c (for
 * ioctl, only the block-device requests that change a device) and ALLOW for
 * everything else, so the tracee stops only where a point or a marker can be.
 * Calls of another ABI (a 32-bit program) are allowed untraced.
 */
#ifndef BROWNOUT_FI_FILTER_H
#define BROWNOUT_FI_FILTER_H

#include <linux/filter.h>
#include <stddef.h>

#define FILTER_MAX 64

/* Build the program into prog. Returns the instruction count, or -ENOSPC. */
int filter_build(struct sock_filter *prog, size_t max);

/*
 * Set PR_SET_NO_NEW_PRIVS and install the filter in the calling process; it
 * is inherited by every child and kept across execve. Returns 0 or a negative errno.
 */
int filter_install(void);

#endif
