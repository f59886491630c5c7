/* Tests for rules: parsing a phase rules file, and which phase a point gets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rules.h"

static int parse(struct rules *r, const char *text, char *err)
{
	err[0] = '\0';
	return rules_parse(r, text, strlen(text), err, 256);
}

/* Parsing fails with exactly the message want, and leaves no rules. */
static void assert_bad(const char *text, const char *want)
{
	struct rules r;
	char err[256];

	if (parse(&r, text, err) != -EINVAL || strcmp(err, want) != 0) {
		print_error("rules '%s': error '%s', want '%s'\n", text, err, want);
		fail();
	}
	assert_int_equal(r.n, 0);
	assert_null(r.r);
}

static struct cut_point point(const char *syscall, enum target_kind kind, const char *path)
{
	struct cut_point p = { .index = 1, .syscall = syscall, .kind = kind, .phase = "none",
			       .offset = 0, .len = 4096, .pid = 1 };

	snprintf(p.path, sizeof(p.path), "%s", path);
	return p;
}

/* The phase p ends with under text's rules, starting from the markers' phase. */
static const char *phase_of(const char *text, struct cut_point *p, const char *marker)
{
	static char got[CUT_PHASE_MAX];
	struct rules r;
	char err[256];

	assert_int_equal(parse(&r, text, err), 0);
	p->phase = marker;
	p->rule = 0;
	rules_apply(&r, p);
	snprintf(got, sizeof(got), "%s", p->phase);	/* p->phase points into r */
	rules_free(&r);
	return got;
}

static void test_no_rules(void **state)
{
	struct cut_point p = point("pwrite64", TARGET_BLOCK, "/dev/vda4");
	struct rules r;
	char err[256];

	(void)state;
	assert_int_equal(parse(&r, "", err), 0);
	assert_int_equal(r.n, 0);
	assert_null(rules_match(&r, &p));
	rules_free(&r);
	assert_int_equal(parse(&r, "\n\n  \t\n", err), 0);
	assert_int_equal(r.n, 0);
	rules_free(&r);
	/* No rules at all (no file): the markers' phase stays. */
	p.phase = "pull";
	rules_apply(NULL, &p);
	assert_string_equal(p.phase, "pull");
	assert_int_equal(p.rule, 0);
	assert_null(rules_match(NULL, &p));
	assert_false(rules_give_phase(NULL, "pull"));
}

static void test_comments_and_blank_lines(void **state)
{
	struct rules r;
	char err[256];

	(void)state;
	assert_int_equal(parse(&r, "# slot writes\n"
				   "\n"
				   "   # indented comment\n"
				   "\t\n"
				   "deploy path=/dev/vda4\n"
				   "#bootloader path=/dev/vda2\n", err), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.r[0].line, 5);	/* comment and blank lines are counted */
	assert_string_equal(r.r[0].phase, "deploy");
	assert_string_equal(r.r[0].filter.path, "/dev/vda4");
	rules_free(&r);
	/* A '#' after a rule is not a comment: refused, never read as part of a glob. */
	assert_bad("deploy path=/dev/vda4 # the slot\n", "line 1: '#' is not key=value");
}

static void test_blanks_crlf_and_last_line(void **state)
{
	struct rules r;
	char err[256];

	(void)state;
	assert_int_equal(parse(&r, "  pull\t path=/data/rauc/*  \t\r\n"
				   "bootloader path=/boot/loader*", err), 0);	/* no final newline */
	assert_int_equal(r.n, 2);
	assert_string_equal(r.r[0].phase, "pull");
	assert_string_equal(r.r[0].filter.path, "/data/rauc/*");
	assert_int_equal(r.r[1].line, 2);
	assert_string_equal(r.r[1].filter.path, "/boot/loader*");
	rules_free(&r);
}

static void test_every_filter(void **state)
{
	struct rules r;
	char err[256];

	(void)state;
	assert_int_equal(parse(&r, "slot-sync syscall=fsync target=block path=/dev/vda4\n", err), 0);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.r[0].phase, "slot-sync");
	assert_string_equal(r.r[0].filter.syscall->name, "fsync");
	assert_true(r.r[0].filter.has_target);
	assert_int_equal(r.r[0].filter.target, TARGET_BLOCK);
	assert_true(rules_give_phase(&r, "slot-sync"));
	assert_false(rules_give_phase(&r, "pull"));
	rules_free(&r);
}

static void test_bad_phase_name(void **state)
{
	(void)state;
	assert_bad("Deploy path=/dev/vda4\n",
		   "line 1: 'Deploy' is not a phase name (a lowercase letter, then lowercase letters,"
		   " digits or '-', at most 31 bytes; a rule is <phase> path=<glob>"
		   " [target=<kind>] [syscall=<name>])");
	assert_bad("# ok\nslot_write path=/dev/vda4\n", "line 2: 'slot_write' is not a phase name"
		   " (a lowercase letter, then lowercase letters, digits or '-', at most 31 bytes;"
		   " a rule is <phase> path=<glob> [target=<kind>] [syscall=<name>])");
	/* The phase forgotten: the first word is taken for it, and is none. */
	assert_bad("path=/dev/vda4\n", "line 1: 'path=/dev/vda4' is not a phase name (a lowercase"
		   " letter, then lowercase letters, digits or '-', at most 31 bytes; a rule is"
		   " <phase> path=<glob> [target=<kind>] [syscall=<name>])");
	assert_bad("abcdefghijklmnopqrstuvwxyz012345 path=/x\n", "line 1: 'abcdefghijklmnopqrstuvwxyz012345'"
		   " is not a phase name (a lowercase letter, then lowercase letters, digits or '-',"
		   " at most 31 bytes; a rule is <phase> path=<glob> [target=<kind>] [syscall=<name>])");
}

static void test_missing_path(void **state)
{
	(void)state;
	assert_bad("deploy\n", "line 1: deploy: no path=<glob>");
	assert_bad("pull path=/a\ndeploy target=block\n", "line 2: deploy: no path=<glob>");
	assert_bad("deploy path=\n", "line 1: path=: empty glob");
	assert_bad("deploy path = /dev/vda4\n", "line 1: 'path' is not key=value");
}

static void test_bad_filters(void **state)
{
	(void)state;
	assert_bad("deploy path=/a n=3\n", "line 1: unknown key 'n' (known: syscall, path, target)");
	assert_bad("deploy path=/a phase=pull\n",
		   "line 1: unknown key 'phase' (known: syscall, path, target)");
	assert_bad("deploy path=/a path=/b\n", "line 1: key 'path' given twice");
	assert_bad("deploy path=/a,syscall=fsync\n",
		   "line 1: ',' in 'path=/a,syscall=fsync': filters are separated by blanks");
	assert_bad("deploy path=/a target=socket\n",
		   "line 1: target=socket: must be file, dir, block, path or none");
	assert_bad("deploy path=/a syscall=read\n", "line 1: syscall=read: not one the agent stops on");
}

static void test_overlong_line(void **state)
{
	char text[RULES_LINE_MAX + 16];
	struct rules r;
	char err[256];

	(void)state;
	/* 511 bytes is a line (its glob too long for a filter), 512 is too long. */
	memset(text, 'x', sizeof(text));
	memcpy(text, "deploy path=/", 13);
	text[RULES_LINE_MAX - 1] = '\0';
	assert_bad(text, "line 1: filters longer than 255 bytes");
	text[RULES_LINE_MAX - 1] = '\r';	/* a CR before the newline is not counted */
	text[RULES_LINE_MAX] = '\n';
	text[RULES_LINE_MAX + 1] = '\0';
	assert_bad(text, "line 1: filters longer than 255 bytes");
	text[RULES_LINE_MAX - 1] = 'x';
	text[RULES_LINE_MAX] = '\0';
	assert_bad(text, "line 1: longer than 511 bytes");
	/* Only the line itself: the one after a long comment is fine. */
	memset(text, ' ', sizeof(text));
	text[0] = '#';
	memcpy(text + 200, "\npull path=/a\n", 15);
	assert_int_equal(parse(&r, text, err), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.r[0].line, 2);
	rules_free(&r);
}

static void test_nul_byte(void **state)
{
	static const char text[] = "pull path=/a\ndeploy path=/b\0\n";
	struct rules r;
	char err[256];

	(void)state;
	assert_int_equal(rules_parse(&r, text, sizeof(text) - 1, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "line 2: a NUL byte: not a text file");
	assert_int_equal(r.n, 0);
}

static void test_glob_with_brackets(void **state)
{
	const char *rules = "bootloader path=/dev/vda[2]\n"
			    "deploy path=/dev/vda[3-4]\n"
			    "other path=/dev/vd[!a]*\n";
	struct cut_point p = point("pwrite64", TARGET_BLOCK, "/dev/vda4");

	(void)state;
	assert_string_equal(phase_of(rules, &p, "pull"), "deploy");
	assert_int_equal(p.rule, 2);
	strcpy(p.path, "/dev/vda2");
	assert_string_equal(phase_of(rules, &p, "pull"), "bootloader");
	strcpy(p.path, "/dev/vdb1");
	assert_string_equal(phase_of(rules, &p, "pull"), "other");
	strcpy(p.path, "/dev/vda5");
	assert_string_equal(phase_of(rules, &p, "pull"), "pull");
	assert_int_equal(p.rule, 0);
	/* An unclosed '[' is a plain character. */
	strcpy(p.path, "/dev/vda[");
	assert_string_equal(phase_of("deploy path=/dev/vda[\n", &p, "none"), "deploy");
}

static void test_first_match_wins(void **state)
{
	const char *rules = "deploy path=/dev/vda4 syscall=fsync\n"
			    "pull path=/dev/vda4\n"
			    "bootloader path=/dev/*\n"
			    "deploy path=/dev/vda4\n";
	struct cut_point write = point("pwrite64", TARGET_BLOCK, "/dev/vda4");
	struct cut_point sync = point("fsync", TARGET_BLOCK, "/dev/vda4");
	struct cut_point env = point("pwrite64", TARGET_BLOCK, "/dev/vda2");

	(void)state;
	assert_string_equal(phase_of(rules, &sync, "none"), "deploy");
	assert_int_equal(sync.rule, 1);
	assert_string_equal(phase_of(rules, &write, "none"), "pull");
	assert_int_equal(write.rule, 2);		/* never rule 4 */
	assert_string_equal(phase_of(rules, &env, "none"), "bootloader");
	assert_int_equal(env.rule, 3);
}

static void test_target_narrows(void **state)
{
	const char *rules = "bootloader path=/boot/* target=path\n"
			    "deploy path=/boot/*\n";
	struct cut_point ren = point("renameat", TARGET_PATH, "/boot/loader.tmp");
	struct cut_point wr = point("write", TARGET_FILE, "/boot/loader.0/x");

	(void)state;
	assert_string_equal(phase_of(rules, &ren, "none"), "bootloader");
	assert_string_equal(phase_of(rules, &wr, "none"), "deploy");
}

static void test_rename_matches_by_its_new_path(void **state)
{
	struct cut_point ren = point("renameat", TARGET_PATH, "/boot/.tmp-loader");

	(void)state;
	strcpy(ren.path2, "/boot/loader");
	assert_string_equal(phase_of("bootloader path=/boot/loader*\n", &ren, "deploy"), "bootloader");
	assert_int_equal(ren.rule, 1);
}

static void test_marker_phase_where_no_rule_matches(void **state)
{
	const char *rules = "deploy path=/dev/vda4\n";
	struct cut_point slot = point("pwrite64", TARGET_BLOCK, "/dev/vda4");
	struct cut_point data = point("write", TARGET_FILE, "/data/ab/slot-state");
	struct cut_point sync = point("sync", TARGET_NONE, "");

	(void)state;
	/* The rule overrides the markers where it matches... */
	assert_string_equal(phase_of(rules, &slot, "pull"), "deploy");
	assert_int_equal(slot.rule, 1);
	/* ...and nowhere else: those keep what the markers said, and say so. */
	assert_string_equal(phase_of(rules, &data, "deploy"), "deploy");
	assert_int_equal(data.rule, 0);
	assert_string_equal(phase_of(rules, &data, "bootloader"), "bootloader");
	assert_string_equal(phase_of(rules, &sync, "none"), "none");
	assert_int_equal(sync.rule, 0);
	/* A glob '*' matches a point with no path, as a cut spec's does. */
	assert_string_equal(phase_of("other path=*\n", &sync, "none"), "other");
}

static void write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void test_load(void **state)
{
	char path[] = "/tmp/test_rules.XXXXXX", err[256];
	struct rules r;
	char *big;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	write_file(path, "pull path=/data/rauc/*\ndeploy path=/dev/vda4\n", 45);
	assert_int_equal(rules_load(&r, path, err, sizeof(err)), 0);
	assert_int_equal(r.n, 2);
	rules_free(&r);

	write_file(path, "pull path=/a\nbogus\n", 19);
	assert_int_equal(rules_load(&r, path, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "line 2: bogus: no path=<glob>");

	/* The largest file is read whole; one byte more is refused. */
	big = malloc(RULES_FILE_MAX + 1);
	assert_non_null(big);
	memset(big, '\n', RULES_FILE_MAX + 1);
	write_file(path, big, RULES_FILE_MAX);
	assert_int_equal(rules_load(&r, path, err, sizeof(err)), 0);
	assert_int_equal(r.n, 0);
	write_file(path, big, RULES_FILE_MAX + 1);
	assert_int_equal(rules_load(&r, path, err, sizeof(err)), -EFBIG);
	assert_string_equal(err, "larger than 65536 bytes");
	free(big);

	unlink(path);
	assert_int_equal(rules_load(&r, path, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "No such file or directory");
	assert_int_equal(r.n, 0);
}

static void test_many_rules(void **state)
{
	char text[200 * 32];
	size_t len = 0;
	struct cut_point p = point("write", TARGET_FILE, "/d/199");
	struct rules r;
	char err[256];

	(void)state;
	for (int i = 0; i < 200; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len, "p%d path=/d/%d\n", i, i);
	assert_int_equal(rules_parse(&r, text, len, err, sizeof(err)), 0);
	assert_int_equal(r.n, 200);
	rules_apply(&r, &p);
	assert_string_equal(p.phase, "p199");
	assert_int_equal(p.rule, 200);
	rules_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_rules),
		cmocka_unit_test(test_comments_and_blank_lines),
		cmocka_unit_test(test_blanks_crlf_and_last_line),
		cmocka_unit_test(test_every_filter),
		cmocka_unit_test(test_bad_phase_name),
		cmocka_unit_test(test_missing_path),
		cmocka_unit_test(test_bad_filters),
		cmocka_unit_test(test_overlong_line),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_glob_with_brackets),
		cmocka_unit_test(test_first_match_wins),
		cmocka_unit_test(test_target_narrows),
		cmocka_unit_test(test_rename_matches_by_its_new_path),
		cmocka_unit_test(test_marker_phase_where_no_rule_matches),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_many_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
