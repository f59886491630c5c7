/*
 * Tests for cli: options of every kind set where their offsets say, options
 * after the command (as the rig writes "install --no-reboot URL"), --help made
 * from the tables, and one line for each usage error. What a parse writes is
 * captured (capture.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <getopt.h>
#include <stdbool.h>
#include <string.h>

#include "capture.h"
#include "cli.h"

enum { CMD_INSTALL, CMD_CONFIRM };

/* What the test program's options set. */
struct settings {
	const char *state;
	bool fast;
	unsigned tries;
	long wait;
	uint64_t count;
};

static const struct cli_command cmds[] = {
	[CMD_INSTALL] = { "install", "URL", "install what URL names\nand reboot" },
	[CMD_CONFIRM] = { "confirm", NULL, "check the health" },
	{ NULL },
};

static const struct cli_opt opts[] = {
	{ "state-dir", "PATH", "where it keeps state", CLI_PATH,
	  offsetof(struct settings, state), 0, 0 },
	{ "fast", NULL, "hurry", CLI_FLAG, offsetof(struct settings, fast), 0, 0 },
	{ "tries", "N", "how often, 0..9", CLI_UINT, offsetof(struct settings, tries), 0, 9 },
	{ "wait", "S", "how long, 1..60\nin seconds", CLI_LONG, offsetof(struct settings, wait),
	  1, 60 },
	{ "count", "N", "how many, any", CLI_U64, offsetof(struct settings, count), 0, UINT64_MAX },
	{ NULL },
};

static const struct cli with_commands = {
	.name = "test-cli", .cmds = cmds, .opts = opts,
	.about = "A program for tests.\n", .tail = "exit status: 0 or not\n",
};

/* The same options, and no command or argument at all (as brownout-app). */
static const struct cli without_commands = { .name = "test-cli", .opts = opts };

/* cli_parse of argv into *s, with what it wrote in cap. */
static int parse(const struct cli *cli, struct settings *s, struct capture *cap, const char **arg,
		 int *status, int argc, char **argv)
{
	int cmd;

	*s = (struct settings){ .state = "/default", .tries = 5, .wait = 30 };
	optind = 0;	/* a fresh scan of argv, as at a program's start (glibc) */
	capture_start(cap);
	cmd = cli_parse(cli, s, argc, argv, arg, status);
	capture_end(cap);
	return cmd;
}

/* argc, argv of the strings given (a compound literal getopt_long may permute). */
#define ARGV(...) \
	(int)(sizeof((char *[]){ __VA_ARGS__ }) / sizeof(char *)), (char *[]){ __VA_ARGS__, NULL }

static void test_command_and_options(void **state)
{
	struct settings s;
	struct capture cap;
	const char *arg = NULL;
	int status = -1;

	(void)state;
	assert_int_equal(parse(&with_commands, &s, &cap, &arg, &status,
			       ARGV("p", "--tries", "7", "install", "--fast", "--wait=60",
				    "--state-dir", "/s", "--count", "18446744073709551615",
				    "http://x/m")), CMD_INSTALL);
	assert_int_equal(status, 0);
	assert_string_equal(arg, "http://x/m");
	assert_true(s.fast);
	assert_int_equal(s.tries, 7);
	assert_int_equal(s.wait, 60);
	assert_true(s.count == UINT64_MAX);
	assert_string_equal(s.state, "/s");
	assert_string_equal(cap.err, "");

	/* What is not given keeps its default. */
	assert_int_equal(parse(&with_commands, &s, &cap, &arg, &status, ARGV("p", "confirm")),
			 CMD_CONFIRM);
	assert_null(arg);
	assert_false(s.fast);
	assert_int_equal(s.tries, 5);
	assert_string_equal(s.state, "/default");

	assert_int_equal(parse(&without_commands, &s, &cap, &arg, &status, ARGV("p", "--fast")), 0);
	assert_int_equal(status, 0);
	assert_true(s.fast);
	assert_null(arg);
}

static void test_help(void **state)
{
	struct settings s;
	struct capture cap;
	const char *arg;
	int status = -1;

	(void)state;
	assert_int_equal(parse(&with_commands, &s, &cap, &arg, &status,
			       ARGV("p", "--tries", "1", "--help")), -1);
	assert_int_equal(status, 0);
	assert_string_equal(cap.out,
		"usage: test-cli [options] install URL | confirm\n"
		"A program for tests.\n"
		"  install URL            install what URL names\n"
		"                         and reboot\n"
		"  confirm                check the health\n"
		"options:\n"
		"  --state-dir PATH       where it keeps state\n"
		"  --fast                 hurry\n"
		"  --tries N              how often, 0..9\n"
		"  --wait S               how long, 1..60\n"
		"                         in seconds\n"
		"  --count N              how many, any\n"
		"  --help                 show this help\n"
		"exit status: 0 or not\n");
	assert_int_equal(parse(&without_commands, &s, &cap, &arg, &status, ARGV("p", "-h")), -1);
	assert_int_equal(status, 0);
	assert_true(strncmp(cap.out, "usage: test-cli [options]\noptions:\n", 35) == 0);
}

/* Every usage error is one line on stderr and status 2. */
static void expect_usage_error(const struct cli *cli, int argc, char **argv, const char *err)
{
	struct settings s;
	struct capture cap;
	const char *arg;
	int status = -1;

	assert_int_equal(parse(cli, &s, &cap, &arg, &status, argc, argv), -1);
	assert_int_equal(status, 2);
	assert_string_equal(cap.out, "");
	assert_string_equal(cap.err, err);
}

static void test_usage_errors(void **state)
{
	const struct cli *w = &with_commands;

	(void)state;
	expect_usage_error(w, ARGV("p"),
			   "test-cli: no command (install URL or confirm); see --help\n");
	expect_usage_error(w, ARGV("p", "status"),
			   "test-cli: unknown command 'status'; see --help\n");
	expect_usage_error(w, ARGV("p", "install"),
			   "test-cli: install takes one URL; see --help\n");
	expect_usage_error(w, ARGV("p", "install", "a", "b"),
			   "test-cli: install takes one URL; see --help\n");
	expect_usage_error(w, ARGV("p", "confirm", "x"),
			   "test-cli: confirm takes no arguments; see --help\n");
	expect_usage_error(w, ARGV("p", "--state-dir", "", "confirm"),
			   "test-cli: --state-dir: empty path\n");
	expect_usage_error(w, ARGV("p", "--tries", "10", "confirm"),
			   "test-cli: --tries: '10' is not 0..9\n");
	expect_usage_error(w, ARGV("p", "--tries", "-1", "confirm"),
			   "test-cli: --tries: '-1' is not 0..9\n");
	expect_usage_error(w, ARGV("p", "--tries", " 1", "confirm"),
			   "test-cli: --tries: ' 1' is not 0..9\n");
	expect_usage_error(w, ARGV("p", "--wait", "0", "confirm"),
			   "test-cli: --wait: '0' is not 1..60\n");
	expect_usage_error(w, ARGV("p", "--count", "18446744073709551616", "confirm"),
			   "test-cli: --count: '18446744073709551616' is not 0..18446744073709551615\n");
	expect_usage_error(w, ARGV("p", "--fast=yes", "confirm"),
			   "p: option '--fast' doesn't allow an argument\n");
	expect_usage_error(w, ARGV("p", "--slow", "confirm"), "p: unrecognized option '--slow'\n");
	expect_usage_error(&without_commands, ARGV("p", "extra"),
			   "test-cli: unexpected argument 'extra'\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_command_and_options),
		cmocka_unit_test(test_help),
		cmocka_unit_test(test_usage_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
