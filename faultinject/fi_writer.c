/*
 * fi-writer: a tiny "update client" for the agent's end-to-end tests.
 *   BROWNOUT phase name=pull state=start
 *   write A (4096 x 'A' at 0), fsync                      points 1, 2
 *   BROWNOUT progress phase=pull bytes=4096 total=8192
 *   BROWNOUT phase name=pull state=end
 *   BROWNOUT phase name=deploy state=start
 *   write B (4096 x 'B' at 4096), fsync                   points 3, 4
 *   [--rename: rename FILE to FILE.done]                  point 5
 *   BROWNOUT phase name=deploy state=end
 * --vec writes A with pwrite64 and B with writev (2 x 2048); --fork does all
 * of it in a child and waits; --exit N exits N; --quiet prints no markers (a
 * command that names no phases). Exit 1 on an I/O error.
 */
#include "marker.h"
#include "num.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define WRITER_BLOCK 4096

struct writer {
	const char *path;
	int vec, fork, rename;
	int quiet;
	int exit_code;
};

static void writer_phase(const struct writer *w, const char *name, const char *state)
{
	if (!w->quiet)
		marker_emit(STDOUT_FILENO, "phase", MARKER({ "name", name }, { "state", state }));
}

static int writer_fail(const char *what)
{
	fprintf(stderr, "fi-writer: %s: %s\n", what, strerror(errno));
	return 1;
}

static int writer_run(const struct writer *w)
{
	char a[WRITER_BLOCK], b[WRITER_BLOCK], done[4200];
	struct iovec iov[2] = { { b, WRITER_BLOCK / 2 }, { b + WRITER_BLOCK / 2, WRITER_BLOCK / 2 } };
	ssize_t n;
	int fd;

	memset(a, 'A', sizeof(a));
	memset(b, 'B', sizeof(b));
	writer_phase(w, "pull", "start");
	fd = open(w->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return writer_fail(w->path);
	n = w->vec ? pwrite(fd, a, sizeof(a), 0) : write(fd, a, sizeof(a));
	if (n != (ssize_t)sizeof(a))
		return writer_fail("write A");
	if (fsync(fd) < 0)
		return writer_fail("fsync A");
	if (!w->quiet)
		marker_emit(STDOUT_FILENO, "progress",
			    MARKER({ "phase", "pull" }, { "bytes", "4096" }, { "total", "8192" }));
	writer_phase(w, "pull", "end");
	writer_phase(w, "deploy", "start");
	if (w->vec) {
		/* pwrite above left the position at 0. */
		if (lseek(fd, WRITER_BLOCK, SEEK_SET) < 0)
			return writer_fail("lseek");
		n = writev(fd, iov, 2);
	} else {
		n = write(fd, b, sizeof(b));
	}
	if (n != (ssize_t)sizeof(b))
		return writer_fail("write B");
	if (fsync(fd) < 0)
		return writer_fail("fsync B");
	close(fd);
	snprintf(done, sizeof(done), "%s.done", w->path);
	if (w->rename && rename(w->path, done) < 0)
		return writer_fail("rename");
	writer_phase(w, "deploy", "end");
	return w->exit_code;
}

static int writer_parse(struct writer *w, int argc, char **argv)
{
	uint64_t v;
	int i;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--vec") == 0) {
			w->vec = 1;
		} else if (strcmp(argv[i], "--fork") == 0) {
			w->fork = 1;
		} else if (strcmp(argv[i], "--rename") == 0) {
			w->rename = 1;
		} else if (strcmp(argv[i], "--quiet") == 0) {
			w->quiet = 1;
		} else if (strcmp(argv[i], "--exit") == 0 && i + 1 < argc &&
			   num_parse_u64(argv[i + 1], strlen(argv[i + 1]), 255, &v) == 0) {
			w->exit_code = (int)v;
			i++;
		} else {
			return -EINVAL;
		}
	}
	if (i != argc - 1)
		return -EINVAL;
	w->path = argv[i];
	return 0;
}

int main(int argc, char **argv)
{
	struct writer w = { 0 };
	int status;
	pid_t pid;

	if (writer_parse(&w, argc, argv) < 0) {
		fprintf(stderr, "usage: fi-writer [--vec] [--fork] [--rename] [--quiet] [--exit N] FILE\n");
		return 2;
	}
	if (!w.fork)
		return writer_run(&w);
	pid = fork();
	if (pid < 0)
		return writer_fail("fork");
	if (pid == 0)
		_exit(writer_run(&w));
	if (waitpid(pid, &status, 0) < 0)
		return writer_fail("waitpid");
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
