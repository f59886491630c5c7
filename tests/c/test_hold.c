/* Tests for hold: spec files as fw_cfg gives them, hold= parsing, waiting, the point log. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hold.h"

static char path[64];

static int setup(void **state)
{
	int fd;

	(void)state;
	strcpy(path, "/tmp/test_hold.XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	return 0;
}

static void put(const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_TRUNC);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void test_read_trims_padding(void **state)
{
	char buf[64];

	(void)state;
	put("n=3,edge=after   \n\0\0", 21);
	assert_int_equal(hold_spec_read(path, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "n=3,edge=after");
	put("", 0);
	assert_int_equal(hold_spec_read(path, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
}

static void test_read_too_long_and_missing(void **state)
{
	char buf[8];

	(void)state;
	put("n=12345678", 10);
	assert_int_equal(hold_spec_read(path, buf, sizeof(buf)), -EFBIG);
	/* Exactly one byte short of the buffer fits, with padding that does not. */
	put("n=12345          ", 17);
	assert_int_equal(hold_spec_read(path, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "n=12345");
	assert_int_equal(hold_spec_read("/nonexistent/spec", buf, sizeof(buf)), -ENOENT);
}

static void test_parse(void **state)
{
	char phase[CUT_PHASE_MAX], err[128];
	uint64_t at = 1;

	(void)state;
	assert_int_equal(hold_parse("hold=bootloader", phase, sizeof(phase), &at, err, sizeof(err)), 1);
	assert_string_equal(phase, "bootloader");
	assert_int_equal(at, 0);
	assert_int_equal(hold_parse("hold=pull", phase, sizeof(phase), &at, err, sizeof(err)), 1);
	assert_string_equal(phase, "pull");
	assert_int_equal(hold_parse("hold=confirm", phase, sizeof(phase), &at, err, sizeof(err)), 1);
	assert_string_equal(phase, "confirm");
	assert_int_equal(hold_parse("n=3,edge=after", phase, sizeof(phase), &at, err, sizeof(err)), 0);
	assert_int_equal(hold_parse("hold=none", phase, sizeof(phase), &at, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "hold=none: must be"));
	assert_int_equal(hold_parse("hold=deploy,n=3", phase, sizeof(phase), &at, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "at most at=<point from 1>"));
	assert_int_equal(hold_parse("hold=", phase, sizeof(phase), &at, err, sizeof(err)), -EINVAL);
}

static void test_a_hold_can_name_its_point(void **state)
{
	char phase[CUT_PHASE_MAX], err[128];
	uint64_t at = 0;

	(void)state;
	assert_int_equal(hold_parse("hold=pull,at=42", phase, sizeof(phase), &at, err, sizeof(err)), 1);
	assert_string_equal(phase, "pull");
	assert_int_equal(at, 42);
	assert_int_equal(hold_parse("hold=pull,at=0", phase, sizeof(phase), &at, err, sizeof(err)), -EINVAL);
	assert_int_equal(hold_parse("hold=pull,at=-1", phase, sizeof(phase), &at, err, sizeof(err)), -EINVAL);
	assert_int_equal(hold_parse("hold=pull,at=", phase, sizeof(phase), &at, err, sizeof(err)), -EINVAL);
	assert_int_equal(hold_parse("hold=pull,at=4,x=1", phase, sizeof(phase), &at, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(hold_parse("hold=pul,at=4", phase, sizeof(phase), &at, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "hold=pul: must be"));
}

static void test_wait_returns_a_changed_spec(void **state)
{
	char out[64];

	(void)state;
	put("n=9  \n", 6);
	assert_int_equal(hold_wait(path, "hold=deploy", out, sizeof(out), 1000, 5), 0);
	assert_string_equal(out, "n=9");
}

/*
 * What a fifo gives its reader, one open at a time: texts in turn, the last
 * one again for as long as the reader keeps reading, until no reader has come
 * for half a second. given: how many reads were served.
 */
struct reads {
	char fifo[80];
	const char *const *texts;
	int n, given;
};

static void pause_ms(long ms)
{
	nanosleep(&(struct timespec){ .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 }, NULL);
}

static void *give_reads(void *arg)
{
	struct reads *r = arg;

	for (r->given = 0;; r->given++) {
		const char *text = r->texts[r->given < r->n ? r->given : r->n - 1];
		int fd = -1;

		/* ENXIO while no reader has the fifo open. */
		for (int tries = 0; fd < 0 && tries < 500; tries++) {
			fd = open(r->fifo, O_WRONLY | O_NONBLOCK);
			if (fd < 0)
				pause_ms(1);
		}
		if (fd < 0)
			return NULL;
		(void)!write(fd, text, strlen(text));
		close(fd);
		/* Time for the reader to read to the end and close: one text per open. */
		pause_ms(100);
	}
}

static void test_wait_takes_a_spec_two_reads_agree_on(void **state)
{
	/* The first read after a restore: the held spec's first byte, then the cut's. */
	static const char *const texts[] = { "hhase=deploy,n=1\n", "phase=deploy,n=1\n", "phase=deploy,n=1\n" };
	struct reads r = { .texts = texts, .n = 3 };
	pthread_t writer;
	char out[64];

	(void)state;
	snprintf(r.fifo, sizeof(r.fifo), "%s.fifo", path);
	assert_int_equal(mkfifo(r.fifo, 0600), 0);
	assert_int_equal(pthread_create(&writer, NULL, give_reads, &r), 0);
	assert_int_equal(hold_wait(r.fifo, "hold=deploy", out, sizeof(out), 5000, 5), 0);
	pthread_join(writer, NULL);
	unlink(r.fifo);
	assert_string_equal(out, "phase=deploy,n=1");
	assert_int_equal(r.given, 3);
}

static void test_wait_times_out_on_the_same_spec(void **state)
{
	char out[64];

	(void)state;
	put("hold=deploy      \n", 18);
	assert_int_equal(hold_wait(path, "hold=deploy", out, sizeof(out), 30, 10), -ETIMEDOUT);
	unlink(path);
	assert_int_equal(hold_wait(path, "hold=deploy", out, sizeof(out), 30, 10), -ENOENT);
}

static struct cut_point point(uint64_t index, const char *syscall, char *phase)
{
	struct cut_point p = { .index = index, .syscall = syscall, .kind = TARGET_BLOCK,
			       .phase = phase, .offset = -1, .len = -1 };

	strcpy(p.path, "/dev/vda4");
	return p;
}

/* How many of log's points the cut spec text matches (the spec must parse). */
static unsigned long long logged_matching(const struct hold_log *log, const char *text)
{
	struct cut_spec spec;
	char err[128];

	assert_int_equal(cut_parse(text, &spec, err, sizeof(err)), 0);
	return hold_log_count(log, &spec);
}

static void test_log_keeps_each_points_phase(void **state)
{
	struct hold_log log = { 0 };
	char phase[CUT_PHASE_MAX] = "pull";
	struct cut_point a = point(1, "pwrite64", phase), b = point(2, "fsync", phase);

	(void)state;
	assert_int_equal(hold_log_add(&log, &a), 0);
	strcpy(phase, "deploy");	/* the tracer's phase moves on; the log must not */
	assert_int_equal(hold_log_add(&log, &b), 0);
	for (int i = 0; i < 100; i++)
		assert_int_equal(hold_log_add(&log, &b), 0);
	assert_int_equal(logged_matching(&log, "n=1,phase=pull"), 1);
	assert_int_equal(logged_matching(&log, "n=1,syscall=fsync,phase=deploy"), 101);
	assert_int_equal(logged_matching(&log, "n=1"), 102);
	hold_log_free(&log);
	assert_int_equal(logged_matching(&log, "n=1"), 0);
}

static void test_log_keeps_each_points_paths(void **state)
{
	struct hold_log log = { 0 };
	char phase[CUT_PHASE_MAX] = "deploy";
	struct cut_point write = point(1, "pwrite64", phase), rename = point(2, "renameat2", phase);

	(void)state;
	rename.kind = TARGET_PATH;
	strcpy(rename.path, "/data/slot.tmp");
	strcpy(rename.path2, "/data/slot");
	assert_int_equal(hold_log_add(&log, &write), 0);
	assert_int_equal(hold_log_add(&log, &rename), 0);
	/* The tracer's point is reused for the next stop; the log keeps its own copy. */
	strcpy(rename.path, "/elsewhere");
	rename.path2[0] = '\0';
	assert_int_equal(logged_matching(&log, "n=1,path=/dev/vda*"), 1);
	assert_int_equal(logged_matching(&log, "n=1,path=/data/slot.tmp"), 1);
	/* A rename matches by its new path too. */
	assert_int_equal(logged_matching(&log, "n=1,path=/data/slot,target=path"), 1);
	assert_int_equal(logged_matching(&log, "n=1,path=/elsewhere"), 0);
	hold_log_free(&log);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_read_trims_padding),
		T(test_read_too_long_and_missing),
		T(test_parse),
		T(test_a_hold_can_name_its_point),
		T(test_wait_returns_a_changed_spec),
		T(test_wait_takes_a_spec_two_reads_agree_on),
		T(test_wait_times_out_on_the_same_spec),
		T(test_log_keeps_each_points_phase),
		T(test_log_keeps_each_points_paths),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
