/* arch: seccomp audit architecture and system call argument registers, x86_64 and aarch64. */
#include "arch.h"

#include <elf.h>
#include <errno.h>
#include <linux/audit.h>
#include <sys/ptrace.h>
#include <sys/uio.h>

#if !defined(__x86_64__) && !defined(__aarch64__)
#error "brownout-fi knows the registers of x86_64 and aarch64 only"
#endif

uint32_t arch_audit(void)
{
#if defined(__x86_64__)
	return AUDIT_ARCH_X86_64;
#else
	return AUDIT_ARCH_AARCH64;
#endif
}

int arch_regs_set_arg(struct user_regs_struct *regs, unsigned int n, uint64_t value)
{
#if defined(__x86_64__)
	/* The syscall ABI: rdi, rsi, rdx, r10, r8, r9 (r10, not rcx, which syscall clobbers). */
	unsigned long long *const args[] = { &regs->rdi, &regs->rsi, &regs->rdx,
					     &regs->r10, &regs->r8, &regs->r9 };

	if (n >= sizeof(args) / sizeof(args[0]))
		return -EINVAL;
	*args[n] = value;
#else
	/* x0..x5 (the agent changes only a count, argument 2). */
	if (n > 5)
		return -EINVAL;
	regs->regs[n] = value;
#endif
	return 0;
}

int arch_set_arg(pid_t pid, unsigned int n, uint64_t value)
{
	struct user_regs_struct regs;
	struct iovec iov = { .iov_base = &regs, .iov_len = sizeof(regs) };
	int rc;

	if (ptrace(PTRACE_GETREGSET, pid, (void *)NT_PRSTATUS, &iov) < 0)
		return -errno;
	rc = arch_regs_set_arg(&regs, n, value);
	if (rc < 0)
		return rc;
	iov.iov_len = sizeof(regs);
	if (ptrace(PTRACE_SETREGSET, pid, (void *)NT_PRSTATUS, &iov) < 0)
		return -errno;
	return 0;
}
