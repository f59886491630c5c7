/* Tests for phase: following phase and progress markers through pieces of console output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "phase.h"

#define OUT 0
#define ERR 1

static struct phase_progress feed(struct phase *ph, int stream, const char *s)
{
	struct phase_progress pr = { .seen = 99, .bytes = 99 };

	phase_feed(ph, stream, s, strlen(s), &pr);
	return pr;
}

static void test_starts_in_none(void **state)
{
	struct phase ph;

	(void)state;
	phase_init(&ph);
	assert_string_equal(ph.name, "none");
}

static void test_starts_in_the_phase_given(void **state)
{
	struct phase ph;

	(void)state;
	phase_init_as(&ph, "confirm");
	assert_string_equal(ph.name, "confirm");
	feed(&ph, OUT, "BROWNOUT phase name=pull state=start\n");
	assert_string_equal(ph.name, "pull");
}

static void test_start_and_end(void **state)
{
	struct phase ph;
	struct phase_progress pr;

	(void)state;
	phase_init(&ph);
	pr = feed(&ph, OUT, "BROWNOUT phase name=pull state=start\n");
	assert_string_equal(ph.name, "pull");
	assert_false(pr.seen);
	feed(&ph, OUT, "BROWNOUT phase name=pull state=end bytes=5 received=5 attempts=1\n");
	assert_string_equal(ph.name, "none");
	/* Keys in any order, extra keys ignored. */
	feed(&ph, OUT, "BROWNOUT phase state=start name=bootloader extra=1\n");
	assert_string_equal(ph.name, "bootloader");
}

static void test_partial_lines(void **state)
{
	struct phase ph;

	(void)state;
	phase_init(&ph);
	feed(&ph, OUT, "BROWNOUT pha");
	assert_string_equal(ph.name, "none");
	feed(&ph, OUT, "se name=deploy sta");
	assert_string_equal(ph.name, "none");
	feed(&ph, OUT, "te=start");
	assert_string_equal(ph.name, "none");	/* not a line until its newline */
	feed(&ph, OUT, "\nBROWNOUT phase name=deploy state=e");
	assert_string_equal(ph.name, "deploy");
	feed(&ph, OUT, "nd\n");
	assert_string_equal(ph.name, "none");
}

static void test_multiple_lines_in_one_write(void **state)
{
	struct phase ph;
	struct phase_progress pr;

	(void)state;
	phase_init(&ph);
	pr = feed(&ph, OUT,
		  "BROWNOUT phase name=pull state=start\n"
		  "BROWNOUT progress phase=pull bytes=16777216 total=50000000\n"
		  "BROWNOUT progress phase=pull bytes=33554432 total=50000000\n"
		  "BROWNOUT phase name=pull state=end\n"
		  "some log line\n"
		  "BROWNOUT phase name=deploy state=start\n");
	assert_string_equal(ph.name, "deploy");
	assert_true(pr.seen);
	assert_true(pr.bytes == 33554432);
}

static void test_streams_are_separate(void **state)
{
	struct phase ph;

	(void)state;
	phase_init(&ph);
	feed(&ph, OUT, "BROWNOUT phase name=pull ");
	feed(&ph, ERR, "brownout-ab: warning\n");
	feed(&ph, OUT, "state=start\n");
	assert_string_equal(ph.name, "pull");
	feed(&ph, ERR, "BROWNOUT phase name=deploy state=start\n");
	assert_string_equal(ph.name, "deploy");
}

static void test_not_markers(void **state)
{
	struct phase ph;
	struct phase_progress pr;

	(void)state;
	phase_init(&ph);
	feed(&ph, OUT, "xBROWNOUT phase name=pull state=start\n");
	feed(&ph, OUT, " BROWNOUT phase name=pull state=start\n");
	feed(&ph, OUT, "BROWNOUT phases name=pull state=start\n");
	feed(&ph, OUT, "BROWNOUT phase name=pull state=begin\n");
	feed(&ph, OUT, "BROWNOUT phase name= state=start\n");
	feed(&ph, OUT, "BROWNOUT phase state=start\n");
	feed(&ph, OUT, "BROWNOUT phase xname=pull state=start\n");
	feed(&ph, OUT, "BROWNOUT phase name=0123456789012345678901234567890123 state=start\n");
	feed(&ph, OUT, "BROWNOUT phase name=pu\tll state=start\n");
	feed(&ph, OUT, "BROWNOUT phase name=caf\xc3\xa9 state=start\n");
	assert_string_equal(ph.name, "none");
	pr = feed(&ph, OUT, "BROWNOUT progress phase=pull bytes=12x\n"
			    "BROWNOUT progress phase=pull\n"
			    "BROWNOUT progressive bytes=5\n");
	assert_false(pr.seen);
}

static void test_carriage_return(void **state)
{
	struct phase ph;

	(void)state;
	phase_init(&ph);
	feed(&ph, OUT, "BROWNOUT phase name=pull state=start\r\n");
	assert_string_equal(ph.name, "pull");
}

static void test_long_and_binary_lines_are_dropped(void **state)
{
	struct phase ph;
	char big[600];

	(void)state;
	phase_init(&ph);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "BROWNOUT phase name=pull state=start ", 37);
	feed(&ph, OUT, big);
	feed(&ph, OUT, "\n");
	assert_string_equal(ph.name, "none");
	phase_feed(&ph, OUT, "BROWNOUT phase\0 name=pull state=start\n", 38,
		   &(struct phase_progress){ 0 });
	assert_string_equal(ph.name, "none");
	/* The next line is read again. */
	feed(&ph, OUT, "BROWNOUT phase name=pull state=start\n");
	assert_string_equal(ph.name, "pull");
}

static void test_gap_drops_the_broken_line(void **state)
{
	struct phase ph;

	(void)state;
	phase_init(&ph);
	feed(&ph, OUT, "BROWNOUT phase name=pull");
	phase_gap(&ph, OUT);
	feed(&ph, OUT, " state=start\n");
	assert_string_equal(ph.name, "none");
	feed(&ph, OUT, "tail of a long write\nBROWNOUT phase name=pull state=start\n");
	assert_string_equal(ph.name, "pull");
	phase_gap(&ph, 5);	/* no such stream: ignored */
	phase_feed(&ph, -1, "x\n", 2, &(struct phase_progress){ 0 });
}

static void test_progress_largest_wins(void **state)
{
	struct phase ph;
	struct phase_progress pr;

	(void)state;
	phase_init(&ph);
	pr = feed(&ph, OUT, "BROWNOUT progress phase=pull bytes=0 total=9\n");
	assert_true(pr.seen);
	assert_true(pr.bytes == 0);
	pr = feed(&ph, OUT, "BROWNOUT progress phase=pull bytes=900 total=9\n"
			    "BROWNOUT progress phase=pull bytes=300 total=9\n");
	assert_true(pr.seen);
	assert_true(pr.bytes == 900);
	pr = feed(&ph, OUT, "BROWNOUT progress phase=pull bytes=100");
	assert_false(pr.seen);		/* the line is not finished */
	pr = feed(&ph, OUT, "0 total=9\n");
	assert_true(pr.seen);
	assert_true(pr.bytes == 1000);
}

static void test_phase_names(void **state)
{
	(void)state;
	assert_true(phase_name_ok("pull"));
	assert_true(phase_name_ok("none"));
	assert_true(phase_name_ok("slot-write"));
	assert_true(phase_name_ok("a"));
	assert_true(phase_name_ok("stage2"));
	assert_true(phase_name_ok("abcdefghijklmnopqrstuvwxyz01234"));	/* 31 bytes */
	assert_false(phase_name_ok("abcdefghijklmnopqrstuvwxyz012345"));	/* 32 */
	assert_false(phase_name_ok(""));
	assert_false(phase_name_ok("Pull"));
	assert_false(phase_name_ok("2nd"));
	assert_false(phase_name_ok("-x"));
	assert_false(phase_name_ok("slot_write"));
	assert_false(phase_name_ok("pu ll"));
	assert_false(phase_name_ok("path=/x"));
	assert_false(phase_name_ok("caf\xc3\xa9"));
}

static void test_builtin_phases(void **state)
{
	(void)state;
	assert_true(phase_builtin("pull"));
	assert_true(phase_builtin("deploy"));
	assert_true(phase_builtin("bootloader"));
	assert_true(phase_builtin("none"));
	assert_false(phase_builtin("verify"));
	assert_false(phase_builtin("Pull"));
	assert_false(phase_builtin(""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_starts_in_none),
		cmocka_unit_test(test_starts_in_the_phase_given),
		cmocka_unit_test(test_start_and_end),
		cmocka_unit_test(test_partial_lines),
		cmocka_unit_test(test_multiple_lines_in_one_write),
		cmocka_unit_test(test_streams_are_separate),
		cmocka_unit_test(test_not_markers),
		cmocka_unit_test(test_carriage_return),
		cmocka_unit_test(test_long_and_binary_lines_are_dropped),
		cmocka_unit_test(test_gap_drops_the_broken_line),
		cmocka_unit_test(test_progress_largest_wins),
		cmocka_unit_test(test_phase_names),
		cmocka_unit_test(test_builtin_phases),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
