/*
 * End-to-end tests for brownout-fi: the host build runs fi-writer (both found
 * next to this test's directory) with --record, and with --cut in test mode
 * (--trigger FILE), and the test looks at the records, the markers and what
 * reached the data file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define BLOCK 4096
#define OUT_MAX 8192

struct env {
	char dir[64];
	char data[96], rec[96], trig[96], done[112];
	char fi[PATH_MAX + 16], writer[PATH_MAX + 16];
	char out[OUT_MAX];
	char err[OUT_MAX];
	int code;
};

/* build/host/tests/test_fi -> build/host/brownout-fi, build/host/fi-writer */
static int find_bins(struct env *e)
{
	char self[PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n < 0)
		return -1;
	self[n] = '\0';
	for (int i = 0; i < 2; i++) {
		slash = strrchr(self, '/');
		if (!slash)
			return -1;
		*slash = '\0';
	}
	snprintf(e->fi, sizeof(e->fi), "%s/brownout-fi", self);
	snprintf(e->writer, sizeof(e->writer), "%s/fi-writer", self);
	return access(e->fi, X_OK) == 0 && access(e->writer, X_OK) == 0 ? 0 : -1;
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	if (!e || find_bins(e) < 0)
		return -1;
	strcpy(e->dir, "/tmp/test_fi.XXXXXX");
	if (!mkdtemp(e->dir))
		return -1;
	snprintf(e->data, sizeof(e->data), "%s/data", e->dir);
	snprintf(e->rec, sizeof(e->rec), "%s/points.jsonl", e->dir);
	snprintf(e->trig, sizeof(e->trig), "%s/sysrq", e->dir);
	snprintf(e->done, sizeof(e->done), "%s.done", e->data);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	unlink(e->data);
	unlink(e->done);
	unlink(e->rec);
	unlink(e->trig);
	rmdir(e->dir);
	free(e);
	return 0;
}

static void slurp_fd(int fd, char *buf, size_t size)
{
	size_t got = 0;
	ssize_t n;

	while (got < size - 1 && (n = read(fd, buf + got, size - 1 - got)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
}

/* A running agent: stdout on a pipe (as the console would be), stderr to a file. */
struct child {
	pid_t pid;
	int out;
	int err;
	char errpath[112];
};

static void spawn(struct env *e, const char *const *argv, struct child *c)
{
	int out[2];

	snprintf(c->errpath, sizeof(c->errpath), "%s/stderr", e->dir);
	c->err = open(c->errpath, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(c->err >= 0);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	c->pid = fork();
	assert_true(c->pid >= 0);
	if (c->pid == 0) {
		dup2(out[1], STDOUT_FILENO);
		dup2(c->err, STDERR_FILENO);
		execv(argv[0], (char *const *)argv);
		_exit(99);
	}
	close(out[1]);
	c->out = out[0];
}

/* Read the rest of stdout after the `got` bytes already in e->out, reap, keep stderr. */
static void finish(struct env *e, struct child *c, size_t got)
{
	int status;

	slurp_fd(c->out, e->out + got, sizeof(e->out) - got);
	close(c->out);
	assert_int_equal(waitpid(c->pid, &status, 0), c->pid);
	assert_true(WIFEXITED(status));
	e->code = WEXITSTATUS(status);
	lseek(c->err, 0, SEEK_SET);
	slurp_fd(c->err, e->err, sizeof(e->err));
	close(c->err);
	unlink(c->errpath);
}

static void run(struct env *e, const char *const *argv)
{
	struct child c;

	spawn(e, argv, &c);
	finish(e, &c, 0);
}

static void record(struct env *e, const char *opt)
{
	const char *argv[] = { e->fi, "--record", e->rec, "--", e->writer, opt, e->data, NULL };

	if (!opt) {
		argv[5] = e->data;
		argv[6] = NULL;
	}
	run(e, argv);
}

static void cut(struct env *e, const char *spec, const char *opt)
{
	const char *argv[] = { e->fi, "--cut", spec, "--trigger", e->trig, "--",
			       e->writer, opt, e->data, NULL };

	if (!opt) {
		argv[7] = e->data;
		argv[8] = NULL;
	}
	run(e, argv);
}

static size_t read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return (size_t)-1;
	n = read(fd, buf, size);
	close(fd);
	return n < 0 ? (size_t)-1 : (size_t)n;
}

/* The data file holds exactly a x 'A' then b x 'B'. */
static void assert_data(const struct env *e, size_t a, size_t b)
{
	static char buf[3 * BLOCK];
	size_t n = read_file(e->data, buf, sizeof(buf));

	if (n != a + b) {
		print_error("data file: %zu bytes, want %zu A + %zu B\n", n, a, b);
		fail();
	}
	for (size_t i = 0; i < n; i++)
		assert_int_equal(buf[i], i < a ? 'A' : 'B');
}

static void assert_contains(const char *haystack, const char *needle)
{
	if (!strstr(haystack, needle)) {
		print_error("'%s' not in:\n%s\n", needle, haystack);
		fail();
	}
}

static void assert_tripped(const struct env *e)
{
	char buf[8];

	assert_int_equal(read_file(e->trig, buf, sizeof(buf)), 2);
	assert_memory_equal(buf, "b\n", 2);
}

/* Line i (1-based) of the record file. */
static void record_line(const struct env *e, int i, char *line, size_t size)
{
	static char text[OUT_MAX];
	size_t n = read_file(e->rec, text, sizeof(text) - 1);
	char *p = text;

	assert_true(n != (size_t)-1);
	text[n] = '\0';
	for (int k = 1; k < i && p; k++) {
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	assert_non_null(p);
	snprintf(line, size, "%.*s", (int)strcspn(p, "\n"), p);
}

static int record_lines(const struct env *e)
{
	char text[OUT_MAX];
	size_t n = read_file(e->rec, text, sizeof(text) - 1);
	int lines = 0;

	assert_true(n != (size_t)-1);
	for (size_t i = 0; i < n; i++)
		lines += text[i] == '\n';
	return lines;
}

static void assert_point(const struct env *e, int i, const char *syscall, const char *phase,
			 const char *offset, const char *len)
{
	char line[1024], want[512];

	record_line(e, i, line, sizeof(line));
	snprintf(want, sizeof(want),
		 "{\"index\":%d,\"syscall\":\"%s\",\"edge\":\"-\",\"phase\":\"%s\","
		 "\"target\":\"file\",\"path\":\"%s\",\"path2\":\"\",\"offset\":%s,\"len\":%s,"
		 "\"pid\":", i, syscall, phase, e->data, offset, len);
	if (strncmp(line, want, strlen(want)) != 0) {
		print_error("record line %d:\n%s\nwant a start of:\n%s\n", i, line, want);
		fail();
	}
}

static void test_record_lists_four_points(void **state)
{
	struct env *e = *state;

	record(e, NULL);
	assert_int_equal(e->code, 0);
	assert_int_equal(record_lines(e), 4);
	assert_point(e, 1, "write", "pull", "0", "4096");
	assert_point(e, 2, "fsync", "pull", "null", "null");
	assert_point(e, 3, "write", "deploy", "4096", "4096");
	assert_point(e, 4, "fsync", "deploy", "null", "null");
	/* The command's own output passes through. */
	assert_contains(e->out, "BROWNOUT phase name=deploy state=end\n");
	assert_data(e, BLOCK, BLOCK);
}

static void test_record_vectored_writes(void **state)
{
	struct env *e = *state;

	record(e, "--vec");
	assert_int_equal(e->code, 0);
	assert_int_equal(record_lines(e), 4);
	assert_point(e, 1, "pwrite64", "pull", "0", "4096");
	assert_point(e, 3, "writev", "deploy", "4096", "4096");
	assert_data(e, BLOCK, BLOCK);
}

static void test_record_follows_children(void **state)
{
	struct env *e = *state;

	record(e, "--fork");
	assert_int_equal(e->code, 0);
	assert_int_equal(record_lines(e), 4);
	assert_point(e, 2, "fsync", "pull", "null", "null");
	assert_point(e, 3, "write", "deploy", "4096", "4096");
}

static void test_record_rename_has_both_paths(void **state)
{
	struct env *e = *state;
	char line[1024], want[512];

	record(e, "--rename");
	assert_int_equal(e->code, 0);
	assert_int_equal(record_lines(e), 5);
	record_line(e, 5, line, sizeof(line));
#ifdef SYS_rename
	snprintf(want, sizeof(want), "{\"index\":5,\"syscall\":\"rename\",\"edge\":\"-\","
		 "\"phase\":\"deploy\",\"target\":\"path\",\"path\":\"%s\",\"path2\":\"%s\","
		 "\"offset\":null,\"len\":null,", e->data, e->done);
#else
	snprintf(want, sizeof(want), "\"path\":\"%s\",\"path2\":\"%s\"", e->data, e->done);
#endif
	assert_contains(line, want);
}

static void test_exit_status_passes_through(void **state)
{
	struct env *e = *state;
	const char *argv[] = { e->fi, "--record", e->rec, "--", e->writer, "--exit", "7",
			       e->data, NULL };

	run(e, argv);
	assert_int_equal(e->code, 7);
	assert_int_equal(record_lines(e), 4);
}

static void test_cut_after_first_fsync(void **state)
{
	struct env *e = *state;

	cut(e, "n=2,edge=after", NULL);
	assert_int_equal(e->code, 0);
	assert_tripped(e);
	assert_contains(e->out, "BROWNOUT cut index=2 syscall=fsync edge=after phase=pull path=");
	assert_contains(e->out, " offset=- len=- ret=0\n");
	assert_data(e, BLOCK, 0);
}

static void test_cut_before_second_write(void **state)
{
	struct env *e = *state;
	char want[256];

	cut(e, "n=3,edge=before", NULL);
	assert_int_equal(e->code, 0);
	assert_tripped(e);
	snprintf(want, sizeof(want), "BROWNOUT cut index=3 syscall=write edge=before phase=deploy"
		 " path=%s offset=4096 len=4096\n", e->data);
	assert_contains(e->out, want);
	/* Nothing after the cut: the end marker never came. */
	assert_null(strstr(e->out, "state=end\nBROWNOUT phase name=deploy state=end"));
	assert_data(e, BLOCK, 0);
}

static void test_cut_before_the_first_point(void **state)
{
	struct env *e = *state;

	cut(e, "n=1", NULL);
	assert_int_equal(e->code, 0);
	assert_tripped(e);
	assert_data(e, 0, 0);
}

static void test_cut_in_a_child(void **state)
{
	struct env *e = *state;

	cut(e, "n=3", "--fork");
	assert_int_equal(e->code, 0);
	assert_tripped(e);
	assert_contains(e->out, "BROWNOUT cut index=3 syscall=write edge=before phase=deploy");
	assert_data(e, BLOCK, 0);
}

static void test_torn_write(void **state)
{
	struct env *e = *state;

	cut(e, "n=3,torn=1000", NULL);
	assert_int_equal(e->code, 0);
	assert_tripped(e);
	assert_contains(e->out, "edge=after phase=deploy");
	assert_contains(e->out, " offset=4096 len=4096 torn=512 ret=512\n");
	assert_data(e, BLOCK, 512);
}

static void test_torn_writev(void **state)
{
	struct env *e = *state;

	/* Across the two 2048-byte iovecs: 3000 rounds down to 2560. */
	cut(e, "n=3,torn=3000", "--vec");
	assert_int_equal(e->code, 0);
	assert_contains(e->out, "syscall=writev edge=after");
	assert_contains(e->out, " torn=2560 ret=2560\n");
	assert_data(e, BLOCK, 2560);
}

static void test_torn_to_nothing_and_untorn(void **state)
{
	struct env *e = *state;

	cut(e, "n=1,torn=511", NULL);
	assert_int_equal(e->code, 0);
	assert_contains(e->out, " torn=0 ret=0\n");
	assert_data(e, 0, 0);

	cut(e, "n=1,torn=99999", NULL);
	assert_int_equal(e->code, 0);
	assert_contains(e->out, " torn=4096 ret=4096\n");
	assert_data(e, BLOCK, 0);
}

static void test_torn_on_a_sync_fails(void **state)
{
	struct env *e = *state;

	cut(e, "n=2,torn=512", NULL);
	assert_int_equal(e->code, 125);
	assert_contains(e->err, "point 2 is fsync on file, which torn= cannot shorten");
	assert_null(strstr(e->out, "BROWNOUT cut "));
}

static void test_filters_pick_the_point(void **state)
{
	struct env *e = *state;
	char spec[256];

	cut(e, "n=1,phase=deploy,syscall=fsync", NULL);
	assert_int_equal(e->code, 0);
	assert_contains(e->out, "BROWNOUT cut index=4 syscall=fsync edge=before phase=deploy");
	assert_data(e, BLOCK, BLOCK);

	snprintf(spec, sizeof(spec), "n=2,path=%s/d*,target=file", e->dir);
	cut(e, spec, NULL);
	assert_int_equal(e->code, 0);
	assert_contains(e->out, "BROWNOUT cut index=2 syscall=fsync");
}

static void test_progress_bytes_trigger(void **state)
{
	struct env *e = *state;

	cut(e, "n=1,bytes=4096", NULL);
	assert_int_equal(e->code, 0);
	assert_tripped(e);
	assert_contains(e->out, "BROWNOUT cut index=2 syscall=write edge=before phase=pull"
			" path=pipe:[");
	assert_contains(e->out, " bytes=4096\n");
	/* before: the progress marker itself never got out. */
	assert_null(strstr(e->out, "BROWNOUT progress"));
	assert_data(e, BLOCK, 0);

	cut(e, "n=1,bytes=1,edge=after,phase=pull", NULL);
	assert_int_equal(e->code, 0);
	assert_contains(e->out, "BROWNOUT progress phase=pull bytes=4096 total=8192\n"
			"BROWNOUT cut index=2 syscall=write edge=after");
}

/* A path too long for a console line is cut from the front, so the file name stays. */
static void test_cut_marker_long_path(void **state)
{
	struct env *e = *state;
	char deep[PATH_MAX], file[PATH_MAX + 8], line[512];
	const char *argv[] = { e->fi, "--cut", "n=1", "--trigger", e->trig, "--", e->writer,
			       file, NULL };
	const char *m;
	int len = snprintf(deep, sizeof(deep), "%s/", e->dir);

	memset(deep + len, 'x', 240);
	deep[len + 240] = '\0';
	assert_int_equal(mkdir(deep, 0755), 0);
	snprintf(file, sizeof(file), "%s/data", deep);
	run(e, argv);
	unlink(file);
	rmdir(deep);
	assert_int_equal(e->code, 0);
	m = strstr(e->out, "BROWNOUT cut ");
	assert_non_null(m);
	snprintf(line, sizeof(line), "%.*s", (int)strcspn(m, "\n"), m);
	assert_true(strlen(line) < 256);
	assert_contains(line, " path=...xxxx");
	assert_contains(line, "xxx/data offset=0 len=4096");
}

static void test_missed(void **state)
{
	struct env *e = *state;

	cut(e, "n=5", NULL);
	assert_int_equal(e->code, 3);
	assert_contains(e->out, "BROWNOUT cut-missed spec=n=5 points=4 status=0\n");
	assert_int_equal(read_file(e->trig, e->err, 8), 0);
	assert_data(e, BLOCK, BLOCK);

	cut(e, "n=1,bytes=8192", NULL);
	assert_int_equal(e->code, 3);
	assert_contains(e->out, "BROWNOUT cut-missed spec=n=1,bytes=8192 points=4");

	/*
	 * A usage error of fi-writer: status 2. Its message goes to stderr, which
	 * run() sends to a file, so that write is a point too.
	 */
	cut(e, "n=1,path=/no/such/*", "--exit");
	assert_int_equal(e->code, 3);
	assert_contains(e->out, "BROWNOUT cut-missed spec=n=1,path=/no/such/* points=1 status=2\n");
}

static void test_usage_errors(void **state)
{
	struct env *e = *state;
	const char *none[] = { e->fi, NULL };
	const char *nocmd[] = { e->fi, "--cut", "n=1", "--", NULL };
	const char *both[] = { e->fi, "--cut", "n=1", "--record", e->rec, "--", "true", NULL };
	const char *trig[] = { e->fi, "--record", e->rec, "--trigger", e->trig, "--", "true", NULL };
	const char *twice[] = { e->fi, "--cut", "n=1", "--cut", "n=2", "--", "true", NULL };
	const char *spec[] = { e->fi, "--cut", "n=0", "--", "true", NULL };
	const char *key[] = { e->fi, "--cut", "n=1,colour=red", "--", "true", NULL };
	const char *phase[] = { e->fi, "--cut", "n=1,phase=verify", "--", "true", NULL };
	const char *help[] = { e->fi, "--help", NULL };

	run(e, none);
	assert_int_equal(e->code, 2);
	run(e, nocmd);
	assert_int_equal(e->code, 2);
	assert_contains(e->err, "no command");
	run(e, both);
	assert_int_equal(e->code, 2);
	assert_contains(e->err, "exactly one of --record, --cut and --cut-file");
	run(e, trig);
	assert_int_equal(e->code, 2);
	run(e, twice);
	assert_int_equal(e->code, 2);
	assert_contains(e->err, "--cut given twice");
	run(e, spec);
	assert_int_equal(e->code, 2);
	assert_contains(e->err, "brownout-fi: --cut n=0: n=0: must be at least 1\n");
	run(e, key);
	assert_int_equal(e->code, 2);
	assert_contains(e->err, "unknown key 'colour'");
	run(e, phase);
	assert_int_equal(e->code, 2);
	assert_contains(e->err, "brownout-fi: --cut n=1,phase=verify: phase=verify: must be pull, deploy,"
			" bootloader, none, the --phase or a phase the --phase-rules give\n");
	run(e, help);
	assert_int_equal(e->code, 0);
	assert_contains(e->out, "usage: brownout-fi");
}

static void test_command_not_found(void **state)
{
	struct env *e = *state;
	const char *argv[] = { e->fi, "--record", e->rec, "--", "/no/such/command", NULL };

	run(e, argv);
	assert_int_equal(e->code, 127);
	assert_contains(e->err, "brownout-fi: /no/such/command: No such file or directory");
}

static void write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* Rules that give the fsyncs of the data file a phase of their own, the writes none. */
static void write_rules(const struct env *e, char *path, size_t size)
{
	char text[512];

	snprintf(path, size, "%s/rules", e->dir);
	snprintf(text, sizeof(text), "# fi-writer's fsyncs\n\nsync-data path=%s syscall=fsync\n"
		 "deploy path=/no/such/*\n", e->data);
	write_text(path, text);
}

static void test_phase_rules_relabel_what_they_match(void **state)
{
	struct env *e = *state;
	char rules[112], line[1024];
	const char *argv[] = { e->fi, "--phase-rules", rules, "--record", e->rec, "--",
			       e->writer, e->data, NULL };

	write_rules(e, rules, sizeof(rules));
	run(e, argv);
	unlink(rules);
	assert_int_equal(e->code, 0);
	assert_int_equal(record_lines(e), 4);
	/* The writes match no rule: the markers' phase, and no rule named. */
	assert_point(e, 1, "write", "pull", "0", "4096");
	assert_point(e, 3, "write", "deploy", "4096", "4096");
	record_line(e, 3, line, sizeof(line));
	assert_contains(line, ",\"rule\":null,\"ms\":");
	/* The fsyncs: the rule's phase whatever the markers say, and its line. */
	assert_point(e, 2, "fsync", "sync-data", "null", "null");
	assert_point(e, 4, "fsync", "sync-data", "null", "null");
	record_line(e, 4, line, sizeof(line));
	assert_contains(line, ",\"rule\":3,\"ms\":");
	assert_data(e, BLOCK, BLOCK);
}

static void test_phase_rules_name_the_cut(void **state)
{
	struct env *e = *state;
	char rules[112];
	const char *argv[] = { e->fi, "--cut", "n=2,phase=sync-data,edge=after", "--trigger", e->trig,
			       "--phase-rules", rules, "--", e->writer, e->data, NULL };

	write_rules(e, rules, sizeof(rules));
	run(e, argv);
	unlink(rules);
	assert_int_equal(e->code, 0);
	assert_tripped(e);
	assert_contains(e->out, "BROWNOUT cut index=4 syscall=fsync edge=after phase=sync-data path=");
	assert_data(e, BLOCK, BLOCK);
}

static void test_phase_rules_refused_before_the_command_runs(void **state)
{
	struct env *e = *state;
	char rules[112];
	const char *argv[] = { e->fi, "--phase-rules", rules, "--record", e->rec, "--",
			       e->writer, e->data, NULL };
	const char *twice[] = { e->fi, "--phase-rules", rules, "--phase-rules", rules, "--record",
				e->rec, "--", e->writer, e->data, NULL };
	char want[256];

	snprintf(rules, sizeof(rules), "%s/rules", e->dir);
	write_text(rules, "# slot\npull path=/dev/vda4\n\nDeploy path=/dev/vda4\n");
	run(e, argv);
	assert_int_equal(e->code, 2);
	snprintf(want, sizeof(want), "brownout-fi: --phase-rules %s: line 4: 'Deploy' is not a phase"
		 " name", rules);
	assert_contains(e->err, want);
	assert_null(strchr(strchr(e->err, '\n') + 1, '\n'));	/* one line */
	assert_int_equal(access(e->data, F_OK), -1);		/* the command never ran */

	write_text(rules, "deploy syscall=fsync\n");
	run(e, argv);
	assert_int_equal(e->code, 2);
	assert_contains(e->err, ": line 1: deploy: no path=<glob>\n");

	run(e, twice);
	assert_int_equal(e->code, 2);
	assert_contains(e->err, "--phase-rules given twice");

	unlink(rules);
	run(e, argv);
	assert_int_equal(e->code, 2);
	snprintf(want, sizeof(want), "brownout-fi: --phase-rules %s: No such file or directory\n", rules);
	assert_contains(e->err, want);
	assert_int_equal(access(e->data, F_OK), -1);
}

/*
 * A spec file of one fixed size, as fw_cfg gives it: text padded with spaces.
 * Replaced by a rename, since a restored machine sees the whole new file at once.
 */
static void write_spec_file(const char *path, const char *text)
{
	char buf[64], tmp[128];
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	memset(buf, ' ', sizeof(buf));
	memcpy(buf, text, strlen(text));
	buf[sizeof(buf) - 1] = '\n';
	assert_int_equal(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	close(fd);
	assert_int_equal(rename(tmp, path), 0);
}

/*
 * Run the agent on a spec file holding hold=PHASE; once it says it holds,
 * put `then` into the file (as a restored snapshot's QEMU would) and let it go on.
 */
static void hold_then_with(struct env *e, const char *phase, const char *then, const char *option,
			   const char *value, bool quiet);

static void hold_then(struct env *e, const char *phase, const char *then)
{
	hold_then_with(e, phase, then, NULL, NULL, false);
}

/*
 * hold_then, with the agent's OPTION VALUE (--phase-rules FILE, --phase NAME)
 * when OPTION is not NULL; with `quiet`, the writer prints no phase markers.
 */
/* Read the agent's stdout on from `got` bytes until its n-th hold marker's line is complete. */
static size_t read_to_hold(struct env *e, struct child *c, size_t got, int n)
{
	while (got < sizeof(e->out) - 1) {
		ssize_t r = read(c->out, e->out + got, sizeof(e->out) - 1 - got);
		const char *held = e->out;
		int seen = 0;

		if (r <= 0)
			break;
		got += (size_t)r;
		e->out[got] = '\0';
		while ((held = strstr(held, "BROWNOUT hold")) && strchr(held, '\n')) {
			held = strchr(held, '\n');
			seen++;
		}
		if (seen >= n)
			break;
	}
	e->out[got] = '\0';
	return got;
}

static void hold_then_with(struct env *e, const char *phase, const char *then, const char *option,
			   const char *value, bool quiet)
{
	char spec[112], hold[32];
	const char *plain[] = { e->fi, "--cut-file", spec, "--trigger", e->trig, "--",
				e->writer, e->data, NULL };
	const char *opted[] = { e->fi, "--cut-file", spec, "--trigger", e->trig, option, value, "--",
				e->writer, quiet ? "--quiet" : e->data, quiet ? e->data : NULL, NULL };
	const char **argv = option ? opted : plain;
	struct child c;
	size_t got;

	snprintf(spec, sizeof(spec), "%s/spec", e->dir);
	snprintf(hold, sizeof(hold), "hold=%s", phase);
	write_spec_file(spec, hold);
	spawn(e, argv, &c);
	/* Until the hold marker's line is complete; the writer is stopped meanwhile. */
	got = read_to_hold(e, &c, 0, 1);
	assert_non_null(strstr(e->out, "BROWNOUT hold"));
	write_spec_file(spec, then);
	finish(e, &c, got);
	unlink(spec);
}

/*
 * Hold at FIRST, then (as a snapshot taken from that one's restore) at
 * SECOND, then `then`: each written once the agent says it holds.
 */
static void hold_twice_then(struct env *e, const char *first, const char *second, const char *then)
{
	char spec[112];
	const char *argv[] = { e->fi, "--cut-file", spec, "--trigger", e->trig, "--",
			       e->writer, e->data, NULL };
	struct child c;
	size_t got;

	snprintf(spec, sizeof(spec), "%s/spec", e->dir);
	write_spec_file(spec, first);
	spawn(e, argv, &c);
	got = read_to_hold(e, &c, 0, 1);
	write_spec_file(spec, second);
	got = read_to_hold(e, &c, got, 2);
	write_spec_file(spec, then);
	finish(e, &c, got);
	unlink(spec);
}

static void test_hold_then_cut_counts_from_the_start(void **state)
{
	struct env *e = *state;
	char want[256];

	hold_then(e, "deploy", "n=3,edge=before");
	assert_int_equal(e->code, 0);
	assert_tripped(e);
	/* Held before the deploy marker was written: pull's two points seen, deploy's not yet. */
	assert_contains(e->out, "BROWNOUT phase name=pull state=end\nBROWNOUT hold phase=deploy points=2\n"
			"BROWNOUT phase name=deploy state=start\n");
	snprintf(want, sizeof(want), "BROWNOUT cut index=3 syscall=write edge=before phase=deploy"
		 " path=%s offset=4096 len=4096\n", e->data);
	assert_contains(e->out, want);
	assert_data(e, BLOCK, 0);
}

static void test_hold_then_filtered_cut_counts_held_points(void **state)
{
	struct env *e = *state;

	/* The second fsync of the run: the first came before the hold and still counts. */
	hold_then(e, "deploy", "n=2,syscall=fsync,edge=after");
	assert_int_equal(e->code, 0);
	assert_contains(e->out, "BROWNOUT cut index=4 syscall=fsync edge=after phase=deploy");
	assert_data(e, BLOCK, BLOCK);
}

static void test_hold_then_a_point_before_it_fails(void **state)
{
	struct env *e = *state;

	hold_then(e, "deploy", "n=1,edge=after");
	assert_int_equal(e->code, 125);
	assert_contains(e->err, "came before the hold at phase deploy");
	assert_null(strstr(e->out, "BROWNOUT cut "));
}

static void test_hold_at_the_first_point_a_rule_puts_in_the_phase(void **state)
{
	struct env *e = *state;
	char rules[112], text[256];

	/* fi-writer prints no bootloader marker: the rule names its fsyncs bootloader. */
	snprintf(rules, sizeof(rules), "%s/rules", e->dir);
	snprintf(text, sizeof(text), "bootloader path=%s syscall=fsync\n", e->data);
	write_text(rules, text);
	hold_then_with(e, "bootloader", "n=2,phase=bootloader,edge=after", "--phase-rules", rules, false);
	unlink(rules);
	assert_int_equal(e->code, 0);
	assert_tripped(e);
	/* Held at the first fsync, point 2, before it counted: one point before it. */
	assert_contains(e->out, "BROWNOUT hold phase=bootloader points=1\n");
	assert_contains(e->out, "BROWNOUT cut index=4 syscall=fsync edge=after phase=bootloader");
	assert_data(e, BLOCK, BLOCK);
}

static void test_hold_in_a_command_that_is_one_phase_stops_at_its_first_point(void **state)
{
	struct env *e = *state;

	/* As the installed version's confirmation runs: the whole command is phase confirm. */
	hold_then_with(e, "confirm", "n=2,phase=confirm,edge=after", "--phase", "confirm", true);
	assert_int_equal(e->code, 0);
	assert_tripped(e);
	assert_contains(e->out, "BROWNOUT hold phase=confirm points=0\n");
	assert_contains(e->out, "BROWNOUT cut index=2 syscall=fsync edge=after phase=confirm path=");
	assert_data(e, BLOCK, 0);
}

static void test_hold_at_a_point_stops_before_it_counts(void **state)
{
	struct env *e = *state;

	/* Deploy's second point, 4 of the run, is its fsync: the hold comes after
	 * deploy's marker and its write. */
	hold_then(e, "deploy,at=2", "n=4,edge=after");
	assert_int_equal(e->code, 0);
	assert_tripped(e);
	assert_contains(e->out, "BROWNOUT phase name=deploy state=start\nBROWNOUT hold phase=deploy points=3\n");
	assert_contains(e->out, "BROWNOUT cut index=4 syscall=fsync edge=after phase=deploy");
	assert_data(e, BLOCK, BLOCK);
}

static void test_hold_at_a_point_refuses_a_cut_before_it(void **state)
{
	struct env *e = *state;

	hold_then(e, "deploy,at=2", "n=1,phase=deploy,edge=after");
	assert_int_equal(e->code, 125);
	assert_contains(e->err, "came before the hold at phase deploy");
}

static void test_a_second_hold_goes_on_and_the_cut_counts_from_the_start(void **state)
{
	struct env *e = *state;

	/* Held where pull starts, then at deploy's second point (its fsync, 4 of the run). */
	hold_twice_then(e, "hold=pull", "hold=deploy,at=2", "n=4,edge=after");
	assert_int_equal(e->code, 0);
	assert_tripped(e);
	assert_contains(e->out, "BROWNOUT hold phase=pull points=0\n");
	assert_contains(e->out, "BROWNOUT phase name=deploy state=start\nBROWNOUT hold phase=deploy points=3\n");
	assert_contains(e->out, "BROWNOUT cut index=4 syscall=fsync edge=after phase=deploy");
	assert_data(e, BLOCK, BLOCK);
}

static void test_a_second_hold_filtered_cut_counts_points_before_both(void **state)
{
	struct env *e = *state;

	/* The second fsync of the run: the first came before either hold. */
	hold_twice_then(e, "hold=pull", "hold=deploy", "n=2,syscall=fsync,edge=after");
	assert_int_equal(e->code, 0);
	assert_contains(e->out, "BROWNOUT hold phase=deploy points=2\n");
	assert_contains(e->out, "BROWNOUT cut index=4 syscall=fsync edge=after phase=deploy");
}

static void test_a_second_hold_before_the_first_fails(void **state)
{
	struct env *e = *state;

	/* Held at deploy's second point: its first, and the pull's start, are behind. */
	hold_twice_then(e, "hold=deploy,at=2", "hold=deploy,at=1", "n=9,edge=after");
	assert_int_equal(e->code, 125);
	assert_contains(e->err, "hold at point 1 of phase deploy: the update held at phase deploy had reached point 2 of phase deploy\n");
	assert_null(strstr(e->out, "BROWNOUT cut "));

	hold_twice_then(e, "hold=deploy,at=2", "hold=pull", "n=9,edge=after");
	assert_int_equal(e->code, 125);
	assert_contains(e->err, "hold at phase pull: it started before the hold at phase deploy");
}

static void test_hold_on_a_phase_never_reached_is_missed(void **state)
{
	struct env *e = *state;
	char spec[112];
	const char *argv[] = { e->fi, "--cut-file", spec, "--trigger", e->trig, "--",
			       e->writer, e->data, NULL };

	snprintf(spec, sizeof(spec), "%s/spec", e->dir);
	write_spec_file(spec, "hold=bootloader");
	run(e, argv);
	unlink(spec);
	assert_int_equal(e->code, 3);
	assert_contains(e->out, "BROWNOUT cut-missed spec=hold=bootloader points=4 status=0\n");
}

static void test_phase_names_a_command_without_markers(void **state)
{
	struct env *e = *state;
	const char *argv[] = { e->fi, "--phase", "confirm", "--record", e->rec, "--",
			       e->writer, "--quiet", e->data, NULL };

	run(e, argv);
	assert_int_equal(e->code, 0);
	assert_int_equal(record_lines(e), 4);
	assert_point(e, 1, "write", "confirm", "0", "4096");
	assert_point(e, 4, "fsync", "confirm", "null", "null");
}

static void test_phase_gives_way_to_markers(void **state)
{
	struct env *e = *state;
	const char *argv[] = { e->fi, "--phase", "confirm", "--record", e->rec, "--",
			       e->writer, e->data, NULL };

	run(e, argv);
	assert_int_equal(e->code, 0);
	assert_point(e, 1, "write", "pull", "0", "4096");
	assert_point(e, 3, "write", "deploy", "4096", "4096");
}

static void test_phase_names_the_cut(void **state)
{
	struct env *e = *state;
	const char *argv[] = { e->fi, "--phase", "confirm", "--cut", "phase=confirm,n=2,edge=after",
			       "--trigger", e->trig, "--", e->writer, "--quiet", e->data, NULL };
	const char *bad[] = { e->fi, "--phase", "Confirm", "--cut", "n=1", "--trigger", e->trig,
			      "--", e->writer, e->data, NULL };

	run(e, argv);
	assert_int_equal(e->code, 0);
	assert_tripped(e);
	assert_contains(e->out, "BROWNOUT cut index=2 syscall=fsync edge=after phase=confirm path=");
	assert_data(e, BLOCK, 0);
	run(e, bad);
	assert_int_equal(e->code, 2);
	assert_contains(e->err, "--phase Confirm: not a phase name");
}

static void test_cut_file_errors(void **state)
{
	struct env *e = *state;
	char spec[112];
	const char *argv[] = { e->fi, "--cut-file", spec, "--", e->writer, e->data, NULL };

	snprintf(spec, sizeof(spec), "%s/spec", e->dir);
	write_spec_file(spec, "hold=reboot");
	run(e, argv);
	assert_int_equal(e->code, 2);
	assert_contains(e->err, "hold=reboot: must be hold=pull, hold=deploy, hold=bootloader or hold=confirm");
	unlink(spec);
	run(e, argv);
	assert_int_equal(e->code, 2);
	assert_contains(e->err, "No such file or directory");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_record_lists_four_points),
		T(test_record_vectored_writes),
		T(test_record_follows_children),
		T(test_record_rename_has_both_paths),
		T(test_exit_status_passes_through),
		T(test_cut_after_first_fsync),
		T(test_cut_before_second_write),
		T(test_cut_before_the_first_point),
		T(test_cut_in_a_child),
		T(test_torn_write),
		T(test_torn_writev),
		T(test_torn_to_nothing_and_untorn),
		T(test_torn_on_a_sync_fails),
		T(test_filters_pick_the_point),
		T(test_progress_bytes_trigger),
		T(test_cut_marker_long_path),
		T(test_missed),
		T(test_usage_errors),
		T(test_command_not_found),
		T(test_phase_rules_relabel_what_they_match),
		T(test_phase_rules_name_the_cut),
		T(test_phase_rules_refused_before_the_command_runs),
		T(test_hold_then_cut_counts_from_the_start),
		T(test_hold_then_filtered_cut_counts_held_points),
		T(test_hold_then_a_point_before_it_fails),
		T(test_hold_in_a_command_that_is_one_phase_stops_at_its_first_point),
		T(test_hold_at_the_first_point_a_rule_puts_in_the_phase),
		T(test_hold_at_a_point_stops_before_it_counts),
		T(test_hold_at_a_point_refuses_a_cut_before_it),
		T(test_a_second_hold_goes_on_and_the_cut_counts_from_the_start),
		T(test_a_second_hold_filtered_cut_counts_points_before_both),
		T(test_a_second_hold_before_the_first_fails),
		T(test_hold_on_a_phase_never_reached_is_missed),
		T(test_cut_file_errors),
		T(test_phase_names_a_command_without_markers),
		T(test_phase_gives_way_to_markers),
		T(test_phase_names_the_cut),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
