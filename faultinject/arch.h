/*
 * arch: the little the agent must know about a CPU: its seccomp audit
 * architecture, and where a system call's arguments live in the registers so
 * a torn write can be shortened. x86_64 (tests on the host) and aarch64 (the
 * guest) only.
 */
#ifndef BROWNOUT_FI_ARCH_H
#define BROWNOUT_FI_ARCH_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

/* AUDIT_ARCH_* of this build, which seccomp_data.arch holds for a native call. */
uint32_t arch_audit(void);

/* Set system call argument n (0..5) in a register set read with NT_PRSTATUS. */
int arch_regs_set_arg(struct user_regs_struct *regs, unsigned int n, uint64_t value);

/*
 * Set argument n of the call pid is stopped at the entry of (a seccomp stop),
 * so the kernel runs the call with the new value. Returns 0 or a negative errno.
 */
int arch_set_arg(pid_t pid, unsigned int n, uint64_t value);

#endif
