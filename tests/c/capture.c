/* capture: what fd 1 and fd 2 got between capture_start and capture_end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "capture.h"

#include <stdio.h>
#include <unistd.h>

void capture_start(struct capture *c)
{
	fflush(stdout);
	fflush(stderr);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pipe(c->pipe[i]), 0);
		c->saved[i] = dup(STDOUT_FILENO + i);
		assert_true(c->saved[i] >= 0);
		assert_true(dup2(c->pipe[i][1], STDOUT_FILENO + i) >= 0);
		close(c->pipe[i][1]);
	}
}

void capture_end(struct capture *c)
{
	char *buf[2] = { c->out, c->err };
	ssize_t len;

	fflush(stdout);
	fflush(stderr);
	/* Restore both before any assert, so a failure is seen. */
	for (int i = 0; i < 2; i++) {
		dup2(c->saved[i], STDOUT_FILENO + i);
		close(c->saved[i]);
	}
	for (int i = 0; i < 2; i++) {
		len = read(c->pipe[i][0], buf[i], sizeof(c->out) - 1);
		close(c->pipe[i][0]);
		assert_true(len >= 0);
		buf[i][len] = '\0';
	}
}
