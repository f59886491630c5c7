/* Tests for arch: the audit architecture and where system call arguments live. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <linux/audit.h>
#include <string.h>
#include <unistd.h>

#include "arch.h"

static void test_audit_arch(void **state)
{
	(void)state;
#if defined(__x86_64__)
	assert_int_equal(arch_audit(), AUDIT_ARCH_X86_64);
#else
	assert_int_equal(arch_audit(), AUDIT_ARCH_AARCH64);
#endif
}

static void test_argument_registers(void **state)
{
	struct user_regs_struct regs, before;

	(void)state;
	memset(&regs, 0, sizeof(regs));
	for (unsigned int n = 0; n < 6; n++)
		assert_int_equal(arch_regs_set_arg(&regs, n, 100 + n), 0);
#if defined(__x86_64__)
	assert_int_equal(regs.rdi, 100);
	assert_int_equal(regs.rsi, 101);
	assert_int_equal(regs.rdx, 102);
	assert_int_equal(regs.r10, 103);	/* not rcx: the syscall instruction clobbers it */
	assert_int_equal(regs.r8, 104);
	assert_int_equal(regs.r9, 105);
	assert_int_equal(regs.rcx, 0);
#else
	for (unsigned int n = 0; n < 6; n++)
		assert_int_equal(regs.regs[n], 100 + n);
#endif
	before = regs;
	assert_int_equal(arch_regs_set_arg(&regs, 6, 1), -EINVAL);
	assert_memory_equal(&regs, &before, sizeof(regs));
}

static void test_set_arg_needs_a_tracee(void **state)
{
	(void)state;
	/* Not our tracee: ptrace refuses, and the error comes back as an errno. */
	assert_int_equal(arch_set_arg(getpid(), 2, 0), -ESRCH);
	assert_int_equal(arch_set_arg(getpid(), 9, 0), -ESRCH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_audit_arch),
		cmocka_unit_test(test_argument_registers),
		cmocka_unit_test(test_set_arg_needs_a_tracee),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
