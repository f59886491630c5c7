/* Tests for fdcopy: a copy of another process's fd shares its position and flags. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdcopy.h"

#define CHILD_FD 50

struct child {
	char path[64];
	pid_t pid;
	int go;			/* write end: a byte makes the child write once more */
	int ready;		/* read end: a byte each time the child has written */
};

/* A child with CHILD_FD open on a file, O_APPEND, 5 bytes written. */
static int setup(void **state)
{
	struct child *c = calloc(1, sizeof(*c));
	int go[2], ready[2];
	char byte;

	if (!c || pipe(go) < 0 || pipe(ready) < 0)
		return -1;
	strcpy(c->path, "/tmp/test_fdcopy.XXXXXX");
	int fd = mkstemp(c->path);
	if (fd < 0)
		return -1;
	close(fd);
	c->pid = fork();
	if (c->pid < 0)
		return -1;
	if (c->pid == 0) {
		close(go[1]);
		close(ready[0]);
		fd = open(c->path, O_WRONLY | O_APPEND);
		if (fd < 0 || dup2(fd, CHILD_FD) < 0 || write(CHILD_FD, "hello", 5) != 5)
			_exit(1);
		while (write(ready[1], "r", 1) == 1 && read(go[0], &byte, 1) == 1) {
			if (write(CHILD_FD, "!", 1) != 1)
				_exit(1);
		}
		_exit(0);
	}
	close(go[0]);
	close(ready[1]);
	c->go = go[1];
	c->ready = ready[0];
	*state = c;
	return read(c->ready, &byte, 1) == 1 ? 0 : -1;
}

static int teardown(void **state)
{
	struct child *c = *state;

	close(c->go);
	close(c->ready);
	kill(c->pid, SIGKILL);
	waitpid(c->pid, NULL, 0);
	fdcopy_forget(c->pid);
	unlink(c->path);
	free(c);
	return 0;
}

/* Under valgrind, which does not know pidfd_open, the agent reads /proc instead (test_target). */
static void needs_pidfds(void)
{
	int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);

	if (pidfd < 0)
		skip();
	close(pidfd);
}

static void test_a_copy_shares_the_position_and_flags(void **state)
{
	struct child *c = *state;
	char byte;
	int copy;

	needs_pidfds();
	copy = fdcopy_get(c->pid, CHILD_FD);

	assert_true(copy >= 0);
	assert_int_equal(lseek(copy, 0, SEEK_CUR), 5);
	assert_true(fcntl(copy, F_GETFL) & O_APPEND);
	assert_true(fcntl(copy, F_GETFD) & FD_CLOEXEC);
	close(copy);
	/* The pidfd kept for the child serves the next copy, which sees its later write. */
	assert_int_equal(write(c->go, "g", 1), 1);
	assert_int_equal(read(c->ready, &byte, 1), 1);
	copy = fdcopy_get(c->pid, CHILD_FD);
	assert_true(copy >= 0);
	assert_int_equal(lseek(copy, 0, SEEK_CUR), 6);
	close(copy);
}

static void test_a_missing_fd_or_process_is_enoent(void **state)
{
	struct child *c = *state;
	int status;

	needs_pidfds();
	assert_int_equal(fdcopy_get(c->pid, CHILD_FD + 1), -ENOENT);
	assert_int_equal(fdcopy_get(999999999, 0), -ENOENT);
	/* The child ends while its pidfd is kept: the copy fails, no stale answer. */
	close(c->go);
	c->go = -1;
	assert_int_equal(waitpid(c->pid, &status, 0), c->pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(fdcopy_get(c->pid, CHILD_FD), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_a_copy_shares_the_position_and_flags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_missing_fd_or_process_is_enoent, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
