/* Tests for filter: the seccomp program, run by a small BPF interpreter and by the kernel. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <linux/audit.h>
#include <linux/fs.h>
#include <linux/seccomp.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>
#include <valgrind/valgrind.h>

#include "arch.h"
#include "filter.h"
#include "syscalls.h"

/* Just the instructions filter_build emits: load word absolute, jump if equal, return. */
static uint32_t run(const struct sock_filter *prog, int n, const struct seccomp_data *d)
{
	uint32_t a = 0;

	for (int pc = 0; pc < n; pc++) {
		const struct sock_filter *f = &prog[pc];

		switch (f->code) {
		case BPF_LD | BPF_W | BPF_ABS:
			assert_true(f->k + 4 <= sizeof(*d));
			memcpy(&a, (const char *)d + f->k, 4);
			break;
		case BPF_JMP | BPF_JEQ | BPF_K:
			pc += a == f->k ? f->jt : f->jf;
			break;
		case BPF_RET | BPF_K:
			return f->k;
		default:
			fail_msg("unexpected BPF instruction 0x%x at %d", f->code, pc);
		}
	}
	fail_msg("fell off the end of the program");
	return 0;
}

static uint32_t verdict(long nr, uint64_t arg1, uint32_t arch)
{
	struct sock_filter prog[FILTER_MAX];
	struct seccomp_data d = { .nr = (int)nr, .arch = arch };
	int n = filter_build(prog, FILTER_MAX);

	assert_true(n > 0);
	d.args[1] = arg1;
	return run(prog, n, &d);
}

static void test_traces_the_listed_calls(void **state)
{
	size_t n;
	const struct syscalls_entry *t = syscalls_table(&n);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		if (t[i].nr >= 0 && t[i].kind != SYSCALLS_IOCTL)
			assert_int_equal(verdict(t[i].nr, 0, arch_audit()), SECCOMP_RET_TRACE);
	}
}

static void test_allows_everything_else(void **state)
{
	(void)state;
	assert_int_equal(verdict(SYS_read, 0, arch_audit()), SECCOMP_RET_ALLOW);
	assert_int_equal(verdict(SYS_openat, 0, arch_audit()), SECCOMP_RET_ALLOW);
	assert_int_equal(verdict(SYS_execve, 0, arch_audit()), SECCOMP_RET_ALLOW);
	assert_int_equal(verdict(SYS_recvfrom, 0, arch_audit()), SECCOMP_RET_ALLOW);
	/* Another ABI's numbers mean other calls: not ours to judge. */
	assert_int_equal(verdict(SYS_write, 0, AUDIT_ARCH_I386), SECCOMP_RET_ALLOW);
}

static void test_ioctl_only_block_requests(void **state)
{
	(void)state;
	assert_int_equal(verdict(SYS_ioctl, BLKDISCARD, arch_audit()), SECCOMP_RET_TRACE);
	assert_int_equal(verdict(SYS_ioctl, BLKFLSBUF, arch_audit()), SECCOMP_RET_TRACE);
	assert_int_equal(verdict(SYS_ioctl, BLKZEROOUT | (1ull << 40), arch_audit()),
			 SECCOMP_RET_TRACE);
	assert_int_equal(verdict(SYS_ioctl, TCGETS, arch_audit()), SECCOMP_RET_ALLOW);
	assert_int_equal(verdict(SYS_ioctl, BLKGETSIZE64, arch_audit()), SECCOMP_RET_ALLOW);
}

static void test_too_small(void **state)
{
	struct sock_filter prog[8];

	(void)state;
	assert_int_equal(filter_build(prog, 8), -ENOSPC);
}

/*
 * The kernel accepts the program, and with no tracer attached a traced call
 * fails with ENOSYS while others run. In a child: the filter cannot be removed.
 * seccomp(2) itself failing with ENOSYS is skipped under valgrind only, which
 * does not know the call; anywhere else it is a failure.
 */
static void test_kernel_runs_it(void **state)
{
	int pipefd[2], status;
	pid_t pid;

	(void)state;
	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int ok, rc = filter_install();

		if (rc < 0)
			_exit(rc == -ENOSYS ? 12 : 10);
		ok = syscall(SYS_write, pipefd[1], "x", 1) == -1 && errno == ENOSYS;
		ok = ok && syscall(SYS_fsync, pipefd[1]) == -1 && errno == ENOSYS;
		ok = ok && syscall(SYS_getpid) > 0;
		_exit(ok ? 0 : 11);
	}
	close(pipefd[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(pipefd[0]);
	assert_true(WIFEXITED(status));
	/* The child runs under valgrind too when the parent does (fork, no exec). */
	if (WEXITSTATUS(status) == 12 && RUNNING_ON_VALGRIND)
		skip();
	if (WEXITSTATUS(status) == 12)
		fail_msg("filter_install: seccomp(2) is ENOSYS, and this is not valgrind");
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_traces_the_listed_calls),
		cmocka_unit_test(test_allows_everything_else),
		cmocka_unit_test(test_ioctl_only_block_requests),
		cmocka_unit_test(test_too_small),
		cmocka_unit_test(test_kernel_runs_it),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
