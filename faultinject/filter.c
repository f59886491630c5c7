/* filter: the seccomp-bpf program that makes the traced command stop only where it matters. */
#include "filter.h"

#include "arch.h"
#include "syscalls.h"

#include <errno.h>
#include <linux/seccomp.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the filter reads the low word of ioctl's request at a little-endian offset"
#endif

#define FILTER_ARG_LO(n) (offsetof(struct seccomp_data, args) + (n) * sizeof(uint64_t))

static struct sock_filter filter_stmt(uint16_t code, uint32_t k)
{
	return (struct sock_filter)BPF_STMT(code, k);
}

/* A jump to absolute instruction `to` if A == k, from instruction `at`; else fall through. */
static struct sock_filter filter_jeq(uint32_t k, size_t at, size_t to)
{
	return (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, k,
					    (uint8_t)(to - at - 1), 0);
}

int filter_build(struct sock_filter *prog, size_t max)
{
	size_t nsys, nreq, ncalls = 0, total, allow, trace, i = 0;
	const struct syscalls_entry *sys = syscalls_table(&nsys);
	const struct syscalls_ioctl *req = syscalls_blk_ioctls(&nreq);
	const struct syscalls_entry *ioctl_entry = syscalls_by_name("ioctl");

	for (size_t s = 0; s < nsys; s++)
		ncalls += sys[s].nr >= 0 && &sys[s] != ioctl_entry;
	/* arch check (3), load nr, one test per call, the ioctl block, allow, trace. */
	total = 3 + 1 + ncalls + (ioctl_entry ? 2 + nreq : 0) + 2;
	if (total > max || total > 255)
		return -ENOSPC;
	allow = total - 2;
	trace = total - 1;

	prog[i++] = filter_stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	prog[i] = filter_jeq(arch_audit(), i, i + 2);
	i++;
	prog[i++] = filter_stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	prog[i++] = filter_stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	for (size_t s = 0; s < nsys; s++) {
		if (sys[s].nr < 0 || &sys[s] == ioctl_entry)
			continue;
		prog[i] = filter_jeq((uint32_t)sys[s].nr, i, trace);
		i++;
	}
	if (ioctl_entry) {
		/* ioctl: not ioctl -> allow; else trace only the listed requests (low word of arg 1). */
		prog[i] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
						       (uint32_t)ioctl_entry->nr, 0,
						       (uint8_t)(allow - i - 1));
		i++;
		prog[i++] = filter_stmt(BPF_LD | BPF_W | BPF_ABS, FILTER_ARG_LO(1));
		for (size_t r = 0; r < nreq; r++) {
			prog[i] = filter_jeq(req[r].request, i, trace);
			i++;
		}
	}
	prog[i++] = filter_stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	prog[i++] = filter_stmt(BPF_RET | BPF_K, SECCOMP_RET_TRACE);
	return (int)i;
}

int filter_install(void)
{
	struct sock_filter prog[FILTER_MAX];
	struct sock_fprog fprog = { .filter = prog };
	int n = filter_build(prog, FILTER_MAX);

	if (n < 0)
		return n;
	fprog.len = (unsigned short)n;
	/* Required to install a filter without CAP_SYS_ADMIN; harmless for root. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) < 0)
		return -errno;
	return 0;
}
