/* Tests for cutpoint: spec parsing, matching, torn-write length, marker words. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>

#include "cutpoint.h"

static int parse(const char *text, struct cut_spec *s, char *err)
{
	err[0] = '\0';
	return cut_parse(text, s, err, 256);
}

/* Parsing fails with a message containing want. */
static void assert_bad(const char *text, const char *want)
{
	struct cut_spec s;
	char err[256];

	if (parse(text, &s, err) != -EINVAL || !strstr(err, want)) {
		print_error("spec '%s': error '%s', want '%s'\n", text, err, want);
		fail();
	}
}

static struct cut_point point(const char *syscall, enum target_kind kind, const char *phase,
			      const char *path)
{
	struct cut_point p = { .index = 1, .syscall = syscall, .kind = kind, .phase = phase,
			       .offset = 0, .len = 4096, .pid = 1 };

	snprintf(p.path, sizeof(p.path), "%s", path);
	return p;
}

static void test_minimal_spec_has_defaults(void **state)
{
	struct cut_spec s;
	char err[256];

	(void)state;
	assert_int_equal(parse("n=1", &s, err), 0);
	assert_true(s.n == 1);
	assert_int_equal(s.edge, CUT_BEFORE);
	assert_null(s.syscall);
	assert_string_equal(s.phase, "");
	assert_string_equal(s.path, "");
	assert_false(s.has_target);
	assert_false(s.has_torn);
	assert_false(s.has_bytes);
	assert_string_equal(s.text, "n=1");
}

static void test_every_key(void **state)
{
	struct cut_spec s;
	char err[256];

	(void)state;
	assert_int_equal(parse("n=17,edge=after,syscall=pwrite64,phase=deploy,"
			       "path=/dev/vda*,target=block", &s, err), 0);
	assert_true(s.n == 17);
	assert_int_equal(s.edge, CUT_AFTER);
	assert_string_equal(s.syscall->name, "pwrite64");
	assert_string_equal(s.phase, "deploy");
	assert_string_equal(s.path, "/dev/vda*");
	assert_true(s.has_target);
	assert_int_equal(s.target, TARGET_BLOCK);

	assert_int_equal(parse("torn=4096,n=2", &s, err), 0);
	assert_true(s.has_torn && s.torn == 4096);
	assert_int_equal(s.edge, CUT_AFTER);	/* torn cuts after the shortened write */
	assert_int_equal(parse("n=2,torn=0,edge=after,syscall=writev", &s, err), 0);
	assert_true(s.has_torn && s.torn == 0);

	assert_int_equal(parse("n=1,bytes=16777216,phase=pull,edge=after", &s, err), 0);
	assert_true(s.has_bytes && s.bytes == 16777216);
	assert_int_equal(parse("n=1,path=/a=b", &s, err), 0);
	assert_string_equal(s.path, "/a=b");
	assert_int_equal(parse("n=1,target=dir", &s, err), 0);
	assert_int_equal(s.target, TARGET_DIR);
	assert_int_equal(parse("n=1,phase=none", &s, err), 0);
	/* A phase of the host's own (a rule gives it); the agent checks one does. */
	assert_int_equal(parse("n=1,phase=slot-write", &s, err), 0);
	assert_string_equal(s.phase, "slot-write");
}

static void test_malformed(void **state)
{
	(void)state;
	assert_bad("", "empty spec");
	assert_bad(",", "empty field");
	assert_bad("n=1,", "empty field");
	assert_bad(",n=1", "empty field");
	assert_bad("n=1,,edge=after", "empty field");
	assert_bad("n", "'n' is not key=value");
	assert_bad("=1", "'=1' is not key=value");
	assert_bad("n=", "n=: not a decimal number");
	assert_bad("n=-1", "not a decimal number");
	assert_bad("n=+1", "not a decimal number");
	assert_bad("n= 1", "not a decimal number");
	assert_bad("n=1 ", "not a decimal number");
	assert_bad("n=0x10", "not a decimal number");
	assert_bad("n=1000000000001", "larger than");
	assert_bad("n=1;edge=after", "not a decimal number");
}

static void test_unknown_key(void **state)
{
	(void)state;
	assert_bad("n=1,foo=bar", "unknown key 'foo'");
	assert_bad("N=1", "unknown key 'N'");
	assert_bad("n=1,Edge=after", "unknown key 'Edge'");
}

static void test_n_zero_and_missing(void **state)
{
	(void)state;
	assert_bad("n=0", "n=0: must be at least 1");
	assert_bad("n=00", "must be at least 1");
	assert_bad("edge=after", "n= is required");
	assert_bad("syscall=write,phase=pull", "n= is required");
}

static void test_duplicate_key(void **state)
{
	(void)state;
	assert_bad("n=1,n=2", "key 'n' given twice");
	assert_bad("n=1,edge=after,edge=after", "key 'edge' given twice");
	assert_bad("n=1,path=/a,path=/b", "key 'path' given twice");
}

static void test_bad_values(void **state)
{
	(void)state;
	assert_bad("n=1,edge=middle", "edge=middle: must be before or after");
	assert_bad("n=1,edge=", "edge=: must be before or after");
	assert_bad("n=1,edge=Before", "must be before or after");
	assert_bad("n=1,syscall=read", "syscall=read: not one the agent stops on");
	assert_bad("n=1,syscall=", "not one the agent stops on");
	assert_bad("n=1,phase=Pull", "phase=Pull: not a phase name");
	assert_bad("n=1,phase=", "phase=: not a phase name");
	assert_bad("n=1,phase=2nd", "not a phase name");
	assert_bad("n=1,phase=slot_write", "not a phase name");
	assert_bad("n=1,target=socket", "target=socket: must be");
	assert_bad("n=1,target=other", "target=other: must be");
	assert_bad("n=1,path=", "path=: empty glob");
	assert_bad("n=1,torn=abc", "torn=abc: not a decimal number");
	assert_bad("n=1,bytes=-5", "bytes=-5: not a decimal number");
}

static void test_rename_exists_only_where_the_kernel_has_it(void **state)
{
	struct cut_spec s;
	char err[256];

	(void)state;
#ifdef SYS_rename
	assert_int_equal(parse("n=1,syscall=rename", &s, err), 0);
#else
	assert_bad("n=1,syscall=rename", "no such system call on this architecture");
#endif
	assert_int_equal(parse("n=1,syscall=renameat2", &s, err), 0);
}

static void test_contradictions(void **state)
{
	(void)state;
	assert_bad("n=1,torn=512,edge=before", "edge=before contradicts it");
	assert_bad("n=1,torn=512,syscall=fsync", "not fsync");
	assert_bad("n=1,torn=512,target=dir", "file or block targets, not dir");
	assert_bad("n=1,bytes=1,path=/x", "cannot be combined with path=");
	assert_bad("n=1,bytes=1,torn=512", "cannot be combined with torn=");
	assert_bad("n=1,bytes=1,syscall=write", "cannot be combined with syscall=");
	assert_bad("n=1,bytes=1,target=file", "cannot be combined with target=");
}

static void test_too_long(void **state)
{
	char text[400];

	(void)state;
	memset(text, 'a', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	memcpy(text, "n=1,path=", 9);
	assert_bad(text, "spec longer than");
}

static int filter(const char *text, struct cut_spec *s, char *err)
{
	err[0] = '\0';
	return cut_parse_filter(text, s, err, 256);
}

static void test_filter_keys(void **state)
{
	struct cut_spec s;
	char err[256];

	(void)state;
	assert_int_equal(filter("path=/dev/vda4", &s, err), 0);
	assert_string_equal(s.path, "/dev/vda4");
	assert_true(s.n == 0);
	assert_false(s.has_target);
	assert_null(s.syscall);
	/* Blanks separate the fields, any number of them. */
	assert_int_equal(filter("  syscall=fsync\ttarget=block   path=/dev/vda[24] ", &s, err), 0);
	assert_string_equal(s.syscall->name, "fsync");
	assert_int_equal(s.target, TARGET_BLOCK);
	assert_string_equal(s.path, "/dev/vda[24]");
	assert_int_equal(filter("", &s, err), 0);
	assert_string_equal(s.path, "");
}

static void test_filter_refuses_what_is_no_filter(void **state)
{
	struct cut_spec s;
	char err[256], text[300];

	(void)state;
	assert_int_equal(filter("path=/a n=1", &s, err), -EINVAL);
	assert_string_equal(err, "unknown key 'n' (known: syscall, path, target)");
	assert_int_equal(filter("path=/a phase=pull", &s, err), -EINVAL);
	assert_string_equal(err, "unknown key 'phase' (known: syscall, path, target)");
	assert_int_equal(filter("edge=after", &s, err), -EINVAL);
	assert_int_equal(filter("torn=512", &s, err), -EINVAL);
	assert_int_equal(filter("bytes=1", &s, err), -EINVAL);
	assert_int_equal(filter("path=/a path=/b", &s, err), -EINVAL);
	assert_string_equal(err, "key 'path' given twice");
	assert_int_equal(filter("path=", &s, err), -EINVAL);
	assert_string_equal(err, "path=: empty glob");
	assert_int_equal(filter("/dev/vda4", &s, err), -EINVAL);
	assert_string_equal(err, "'/dev/vda4' is not key=value");
	assert_int_equal(filter("path=/a,target=block", &s, err), -EINVAL);
	assert_string_equal(err, "',' in 'path=/a,target=block': filters are separated by blanks");
	assert_int_equal(filter("target=socket", &s, err), -EINVAL);
	assert_int_equal(filter("syscall=read", &s, err), -EINVAL);
	memset(text, 'a', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	memcpy(text, "path=", 5);
	assert_int_equal(filter(text, &s, err), -EINVAL);
	assert_string_equal(err, "filters longer than 255 bytes");
}

static void test_match_filters_combined(void **state)
{
	struct cut_point blk = point("pwrite64", TARGET_BLOCK, "deploy", "/dev/vda4");
	struct cut_point file = point("pwrite64", TARGET_FILE, "deploy", "/var/lib/x");
	struct cut_point sync = point("fsync", TARGET_BLOCK, "deploy", "/dev/vda4");
	struct cut_point pull = point("pwrite64", TARGET_BLOCK, "pull", "/dev/vda4");
	struct cut_spec s;
	char err[256];

	(void)state;
	assert_int_equal(parse("n=1", &s, err), 0);
	assert_true(cut_match(&s, &blk) && cut_match(&s, &file) && cut_match(&s, &sync));

	assert_int_equal(parse("n=1,syscall=pwrite64,phase=deploy,path=/dev/vda*,target=block",
			       &s, err), 0);
	assert_true(cut_match(&s, &blk));
	assert_false(cut_match(&s, &file));	/* path and target */
	assert_false(cut_match(&s, &sync));	/* syscall */
	assert_false(cut_match(&s, &pull));	/* phase */

	assert_int_equal(parse("n=1,target=file", &s, err), 0);
	assert_false(cut_match(&s, &blk));
	assert_true(cut_match(&s, &file));
}

static void test_match_phase(void **state)
{
	struct cut_point none = point("fsync", TARGET_FILE, "none", "/a");
	struct cut_point boot = point("fsync", TARGET_FILE, "bootloader", "/a");
	struct cut_spec s;
	char err[256];

	(void)state;
	assert_int_equal(parse("n=1,phase=none", &s, err), 0);
	assert_true(cut_match(&s, &none));
	assert_false(cut_match(&s, &boot));
	assert_int_equal(parse("n=1,phase=bootloader", &s, err), 0);
	assert_false(cut_match(&s, &none));
	assert_true(cut_match(&s, &boot));
}

static void test_match_glob(void **state)
{
	struct cut_point env = point("renameat", TARGET_PATH, "bootloader", "/boot/uboot.env.tmp");
	struct cut_point deep = point("write", TARGET_FILE, "deploy", "/ostree/repo/objects/ab/cd");
	struct cut_spec s;
	char err[256];

	(void)state;
	strcpy(env.path2, "/boot/uboot.env");
	/* The glob may match the rename's new path. */
	assert_int_equal(parse("n=1,path=/boot/uboot.env", &s, err), 0);
	assert_true(cut_match(&s, &env));
	assert_int_equal(parse("n=1,path=*.tmp", &s, err), 0);
	assert_true(cut_match(&s, &env));
	assert_int_equal(parse("n=1,path=/boot/[a-t]*", &s, err), 0);
	assert_false(cut_match(&s, &env));
	/* '*' crosses '/'. */
	assert_int_equal(parse("n=1,path=/ostree/*", &s, err), 0);
	assert_true(cut_match(&s, &deep));
	assert_int_equal(parse("n=1,path=/ostree/repo/objects/?" "?/cd", &s, err), 0);
	assert_true(cut_match(&s, &deep));
	assert_int_equal(parse("n=1,path=/ostree", &s, err), 0);
	assert_false(cut_match(&s, &deep));
}

static void test_bytes_spec(void **state)
{
	struct cut_point p = point("write", TARGET_FILE, "pull", "/a");
	struct cut_spec s;
	char err[256];

	(void)state;
	assert_int_equal(parse("n=1,bytes=1000", &s, err), 0);
	assert_false(cut_match(&s, &p));	/* counts markers, not points */
	assert_false(cut_bytes_match(&s, "pull", 999));
	assert_true(cut_bytes_match(&s, "pull", 1000));
	assert_true(cut_bytes_match(&s, "none", 5000));
	assert_int_equal(parse("n=1,bytes=1000,phase=pull", &s, err), 0);
	assert_true(cut_bytes_match(&s, "pull", 1000));
	assert_false(cut_bytes_match(&s, "deploy", 1000));
	assert_int_equal(parse("n=1", &s, err), 0);
	assert_false(cut_bytes_match(&s, "pull", 1000000));
}

static void test_torn_shorter_than_a_sector(void **state)
{
	(void)state;
	assert_true(cut_torn_len(0, 0, 4096) == 0);
	assert_true(cut_torn_len(1, 0, 4096) == 0);
	assert_true(cut_torn_len(511, 0, 4096) == 0);
	assert_true(cut_torn_len(100, -1, 4096) == 0);
}

static void test_torn_rounds_down_to_sectors(void **state)
{
	(void)state;
	assert_true(cut_torn_len(512, 0, 4096) == 512);
	assert_true(cut_torn_len(1000, 0, 4096) == 512);
	assert_true(cut_torn_len(1024, 0, 4096) == 1024);
	assert_true(cut_torn_len(4095, 0, 4096) == 3584);
	assert_true(cut_torn_len(1000, 1048576, 1048576) == 512);
	assert_true(cut_torn_len(999, 0, 1000) == 512);
}

static void test_torn_at_least_the_write(void **state)
{
	(void)state;
	assert_true(cut_torn_len(4096, 0, 4096) == 4096);
	assert_true(cut_torn_len(8192, 0, 4096) == 4096);
	assert_true(cut_torn_len(5000, 0, 1000) == 1000);	/* left whole, unaligned or not */
	assert_true(cut_torn_len(0, 0, 0) == 0);
}

static void test_torn_unaligned_offset_ends_on_a_sector(void **state)
{
	(void)state;
	/* From 412 the next boundary is 512: 100 bytes; then every 512 more. */
	assert_true(cut_torn_len(99, 412, 4096) == 0);
	assert_true(cut_torn_len(100, 412, 4096) == 100);
	assert_true(cut_torn_len(611, 412, 4096) == 100);
	assert_true(cut_torn_len(612, 412, 4096) == 612);
	assert_true(cut_torn_len(612, 412 + 8 * 512, 4096) == 612);
}

static void test_tearable(void **state)
{
	struct cut_point w = point("writev", TARGET_BLOCK, "deploy", "/dev/vda4");
	struct cut_point f = point("fsync", TARGET_FILE, "deploy", "/a");
	struct cut_point d = point("write", TARGET_DIR, "deploy", "/a");

	(void)state;
	assert_true(cut_tearable(&w));
	assert_false(cut_tearable(&f));
	assert_false(cut_tearable(&d));
}

static void test_word(void **state)
{
	char w[16];

	(void)state;
	cut_word(w, sizeof(w), "");
	assert_string_equal(w, "-");
	cut_word(w, sizeof(w), "/a b\tc");
	assert_string_equal(w, "/a_b_c");
	cut_word(w, sizeof(w), "caf\xc3\xa9");
	assert_string_equal(w, "caf__");
	cut_word(w, sizeof(w), "/exactly15chars");
	assert_string_equal(w, "/exactly15chars");
	cut_word(w, sizeof(w), "/var/lib/brownout/file");
	assert_string_equal(w, "...rownout/file");
	assert_int_equal(strlen(w), 15);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal_spec_has_defaults),
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_unknown_key),
		cmocka_unit_test(test_n_zero_and_missing),
		cmocka_unit_test(test_duplicate_key),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_rename_exists_only_where_the_kernel_has_it),
		cmocka_unit_test(test_contradictions),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_filter_keys),
		cmocka_unit_test(test_filter_refuses_what_is_no_filter),
		cmocka_unit_test(test_match_filters_combined),
		cmocka_unit_test(test_match_phase),
		cmocka_unit_test(test_match_glob),
		cmocka_unit_test(test_bytes_spec),
		cmocka_unit_test(test_torn_shorter_than_a_sector),
		cmocka_unit_test(test_torn_rounds_down_to_sectors),
		cmocka_unit_test(test_torn_at_least_the_write),
		cmocka_unit_test(test_torn_unaligned_offset_ends_on_a_sector),
		cmocka_unit_test(test_tearable),
		cmocka_unit_test(test_word),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
