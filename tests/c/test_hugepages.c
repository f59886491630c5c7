/* Tests for hugepages: which mappings are advised, and that the advice reaches the kernel. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hugepages/hugepages.h"

#define MIB ((size_t)1 << 20)

static void test_a_large_private_anonymous_mapping_is_wanted(void **state)
{
	(void)state;
	assert_true(hugepages_wanted(MAP_PRIVATE | MAP_ANONYMOUS, 8 * MIB, HUGEPAGES_MIN_LEN));
	assert_true(hugepages_wanted(MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, HUGEPAGES_MIN_LEN,
				     HUGEPAGES_MIN_LEN));
}

static void test_short_file_shared_and_stack_mappings_are_not(void **state)
{
	(void)state;
	assert_false(hugepages_wanted(MAP_PRIVATE | MAP_ANONYMOUS, HUGEPAGES_MIN_LEN - 4096, HUGEPAGES_MIN_LEN));
	assert_false(hugepages_wanted(MAP_PRIVATE, 8 * MIB, HUGEPAGES_MIN_LEN));
	assert_false(hugepages_wanted(MAP_SHARED | MAP_ANONYMOUS, 8 * MIB, HUGEPAGES_MIN_LEN));
	assert_false(hugepages_wanted(MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, 8 * MIB, HUGEPAGES_MIN_LEN));
}

/*
 * Whether the kernel holds the mapping that contains P with the huge page
 * advice (VmFlags "hg"): 1 or 0, or -1 when /proc/self/smaps does not show
 * it (then the test skips: the check needs the mapping where the kernel lists it).
 */
static int advised(const void *p)
{
	char line[512];
	unsigned long start, end, at = (unsigned long)(uintptr_t)p;
	FILE *f = fopen("/proc/self/smaps", "r");
	int in = 0, found = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		/* A mapping's first line is "start-end perms ...", its fields "Name: value". */
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2)
			in = start <= at && at < end;
		else if (in && strncmp(line, "VmFlags:", 8) == 0) {
			found = strstr(line, " hg") != NULL;
			break;
		}
	}
	fclose(f);
	return found;
}

static int thp_setup(void **state)
{
	(void)state;
	/* A kernel built without transparent huge pages has no such directory and ignores the advice. */
	return access("/sys/kernel/mm/transparent_hugepage", F_OK) == 0 ? 0 : -1;
}

static void test_mmap_advises_a_large_anonymous_mapping(void **state)
{
	void *p = mmap(NULL, 8 * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int large;

	(void)state;
	assert_true(p != MAP_FAILED);
	large = advised(p);
	if (large < 0) {
		munmap(p, 8 * MIB);
		skip();
	}
	assert_int_equal(large, 1);
	memset(p, 1, 8 * MIB);	/* still an ordinary mapping to its user */
	assert_int_equal(((unsigned char *)p)[8 * MIB - 1], 1);
	assert_int_equal(munmap(p, 8 * MIB), 0);
}

static void test_mmap_leaves_a_short_or_file_mapping_alone(void **state)
{
	void *small = mmap(NULL, 64 * 1024, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	FILE *file = tmpfile();
	void *p;
	int short_one;

	(void)state;
	assert_true(small != MAP_FAILED);
	assert_non_null(file);
	short_one = advised(small);
	if (short_one < 0) {
		munmap(small, 64 * 1024);
		fclose(file);
		skip();
	}
	assert_int_equal(short_one, 0);
	assert_int_equal(ftruncate(fileno(file), 4 * MIB), 0);
	p = mmap(NULL, 4 * MIB, PROT_READ, MAP_PRIVATE, fileno(file), 0);
	assert_true(p != MAP_FAILED);
	assert_int_equal(advised(p), 0);
	munmap(p, 4 * MIB);
	munmap(small, 64 * 1024);
	fclose(file);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_large_private_anonymous_mapping_is_wanted),
		cmocka_unit_test(test_short_file_shared_and_stack_mappings_are_not),
		cmocka_unit_test_setup(test_mmap_advises_a_large_anonymous_mapping, thp_setup),
		cmocka_unit_test_setup(test_mmap_leaves_a_short_or_file_mapping_alone, thp_setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
