/*
 * Tests for ext4tree: a tree laid out here, made into an ext4 image by
 * mke2fs -d, digested; the digest must be the one its entries, spelled and
 * ordered as digest.py spells and orders them, hash to. The harness's tests
 * compare the same tool with debugfs's copy of real root trees
 * (tests/python/test_ext4tree.py).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "treedigest/ext4tree.h"

struct tree {
	char dir[64], root[96], image[96], manifest[96];
};

static void put(const char *dir, const char *name, const char *text, mode_t mode)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static void at(const char *dir, const char *name, char *path, size_t size)
{
	snprintf(path, size, "%s/%s", dir, name);
}

/*
 * root/: a and its hard link h, a subdirectory b (with a file and a symlink
 * up to itself), symlinks to a directory in the tree (c), to one on this
 * machine (abs), to a file (d) and to nothing (e), a fifo (f), proc with a
 * file, and the paths the skip lists below name.
 */
static int lay_out(struct tree *t)
{
	char path[160], target[256], cmd[512];

	strcpy(t->dir, "/tmp/ext4tree.XXXXXX");
	if (!mkdtemp(t->dir))
		return -1;
	snprintf(t->root, sizeof(t->root), "%s/root", t->dir);
	snprintf(t->image, sizeof(t->image), "%s/fs.ext4", t->dir);
	snprintf(t->manifest, sizeof(t->manifest), "%s/manifest", t->dir);
	if (mkdir(t->root, 0755) != 0)
		return -1;
	put(t->root, "a", "x", 0644);
	at(t->root, "a", target, sizeof(target));
	at(t->root, "h", path, sizeof(path));
	if (link(target, path) != 0)
		return -1;
	at(t->root, "b", path, sizeof(path));
	if (mkdir(path, 0750) != 0 || chmod(path, 0750) != 0)
		return -1;
	put(path, "file", "hello", 0640);
	at(path, "up", target, sizeof(target));
	if (symlink("../b", target) != 0)
		return -1;
	at(t->root, "proc", path, sizeof(path));
	if (mkdir(path, 0755) != 0 || chmod(path, 0755) != 0)
		return -1;
	put(path, "x", "volatile", 0644);
	put(t->root, "skipme", "skipped", 0644);
	put(t->root, "tmp.abc", "scratch", 0644);
	at(t->root, "c", path, sizeof(path));
	at(t->root, "abs", target, sizeof(target));
	if (symlink("b", path) != 0 || symlink("/", target) != 0)
		return -1;
	at(t->root, "d", path, sizeof(path));
	at(t->root, "e", target, sizeof(target));
	if (symlink("a", path) != 0 || symlink("missing", target) != 0)
		return -1;
	at(t->root, "f", path, sizeof(path));
	if (mkfifo(path, 0644) != 0)
		return -1;
	snprintf(cmd, sizeof(cmd), "mke2fs -q -F -t ext4 -d %s %s 4M >/dev/null 2>&1", t->root, t->image);
	return system(cmd) == 0 ? 0 : -1;
}

static int setup(void **state)
{
	struct tree *t = calloc(1, sizeof(*t));

	if (!t || lay_out(t) != 0) {
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tree *t = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", t->dir);
	(void)!system(cmd);
	free(t);
	return 0;
}

static const char *const skip_exact[] = { "lost+found", "skipme" };
static const char *const skip_prefix[] = { "tmp." };
static const char *const skip_under[] = { "proc" };
static const struct ext4tree_skip skip = {
	.exact = skip_exact, .n_exact = 2, .prefix = skip_prefix, .n_prefix = 1,
	.under = skip_under, .n_under = 1,
};

static void sha256_hex(const void *data, size_t len, char *hex)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;

	assert_int_equal(EVP_Digest(data, len, md, &n, EVP_sha256(), NULL), 1);
	for (unsigned i = 0; i < n; i++)
		sprintf(hex + 2 * i, "%02x", md[i]);
}

/* An entry as digest.py's _entry spells it, appended to buf at *len: its head, then tail. */
static void entry_bytes(char *buf, size_t *len, const char *rel, const char *type, const char *mode,
			const char *tail, size_t tail_len)
{
	*len += (size_t)sprintf(buf + *len, "%s%c%s%c%s%c%lu%c%lu%c", rel, 0, type, 0, mode, 0,
				(unsigned long)geteuid(), 0, (unsigned long)getegid(), 0);
	memcpy(buf + *len, tail, tail_len);
	*len += tail_len;
	buf[(*len)++] = '\n';
}

/* A directory's (tail "") or a symlink's (tail: its target). */
static void entry(char *buf, size_t *len, const char *rel, const char *type, const char *mode,
		  const char *tail)
{
	entry_bytes(buf, len, rel, type, mode, tail, strlen(tail));
}

/* A regular file's: its size, a NUL, the SHA-256 of its content. */
static void file_entry(char *buf, size_t *len, const char *rel, const char *mode, const char *content)
{
	char tail[128];
	int n = snprintf(tail, sizeof(tail), "%zu", strlen(content));

	sha256_hex(content, strlen(content), tail + n + 1);
	entry_bytes(buf, len, rel, "100000", mode, tail, (size_t)n + 1 + 64);
}

/* The tree at root digests to the SHA-256 of buf's entries, `entries` of them. */
static void assert_digest(const struct tree *t, const char *root, const char *buf, size_t len,
			  unsigned long long entries)
{
	struct ext4tree_result r;
	char hex[EXT4TREE_HEX];

	sha256_hex(buf, len, hex);
	assert_int_equal(ext4tree_digest(t->image, root, &skip, NULL, &r), 0);
	assert_string_equal(r.tree, hex);
	assert_int_equal(r.entries, entries);
}

static void test_digest_is_the_entries_in_walk_order(void **state)
{
	struct tree *t = *state;
	char buf[4096];
	size_t len = 0;

	/* Top: directories and symlinks to them, sorted; then the rest, sorted. */
	entry(buf, &len, "abs", "120000", "777", "/");
	entry(buf, &len, "b", "40000", "750", "");
	entry(buf, &len, "c", "120000", "777", "b");
	entry(buf, &len, "proc", "40000", "755", "");
	file_entry(buf, &len, "a", "644", "x");
	entry(buf, &len, "d", "120000", "777", "a");
	entry(buf, &len, "e", "120000", "777", "missing");
	file_entry(buf, &len, "h", "644", "x");
	/* Then b (lost+found is empty, proc's contents are skipped). */
	entry(buf, &len, "b/up", "120000", "777", "../b");
	file_entry(buf, &len, "b/file", "640", "hello");
	assert_digest(t, "/", buf, len, 10);
}

static void test_a_subtree_is_digested_from_its_own_root(void **state)
{
	struct tree *t = *state;
	char buf[1024];
	size_t len = 0;

	entry(buf, &len, "up", "120000", "777", "../b");
	file_entry(buf, &len, "file", "640", "hello");
	assert_digest(t, "/b", buf, len, 2);
}

static void test_without_skips_every_entry_counts(void **state)
{
	struct tree *t = *state;
	struct ext4tree_skip none = { 0 };
	struct ext4tree_result r;

	/* The ten above, lost+found, proc/x, skipme and tmp.abc; never the fifo. */
	assert_int_equal(ext4tree_digest(t->image, "/", &none, NULL, &r), 0);
	assert_int_equal(r.entries, 14);
}

static void test_the_manifest_names_each_entry_with_its_digest(void **state)
{
	struct tree *t = *state;
	struct ext4tree_result r;
	char buf[512], hex[EXT4TREE_HEX], got[4096];
	size_t len = 0, n;
	FILE *m = fopen(t->manifest, "w+");

	assert_non_null(m);
	assert_int_equal(ext4tree_digest(t->image, "/b", &skip, m, &r), 0);
	rewind(m);
	n = fread(got, 1, sizeof(got), m);
	fclose(m);
	entry(buf, &len, "up", "120000", "777", "../b");
	sha256_hex(buf, len, hex);
	/* "up\0<16 hex>\0file\0<16 hex>\0" */
	assert_int_equal(n, 3 + 17 + 5 + 17);
	assert_memory_equal(got, "up\0", 3);
	assert_memory_equal(got + 3, hex, 16);
	assert_int_equal(got[19], '\0');
	assert_memory_equal(got + 20, "file\0", 5);
}

static void test_an_image_that_is_no_ext4_is_an_error(void **state)
{
	struct tree *t = *state;
	struct ext4tree_result r;
	char path[160];
	FILE *f;

	snprintf(path, sizeof(path), "%s/zeros", t->dir);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(ftruncate(fileno(f), 1 << 20), 0);
	fclose(f);
	assert_int_equal(ext4tree_digest(path, "/", &skip, NULL, &r), -EIO);
	snprintf(path, sizeof(path), "%s/absent", t->dir);
	assert_int_equal(ext4tree_digest(path, "/", &skip, NULL, &r), -EIO);
}

static void test_a_root_that_is_missing_or_no_directory_is_an_error(void **state)
{
	struct tree *t = *state;
	struct ext4tree_result r;

	assert_int_equal(ext4tree_digest(t->image, "/nope", &skip, NULL, &r), -EIO);
	assert_int_equal(ext4tree_digest(t->image, "/a", &skip, NULL, &r), -ENOTDIR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_digest_is_the_entries_in_walk_order),
		cmocka_unit_test(test_a_subtree_is_digested_from_its_own_root),
		cmocka_unit_test(test_without_skips_every_entry_counts),
		cmocka_unit_test(test_the_manifest_names_each_entry_with_its_digest),
		cmocka_unit_test(test_an_image_that_is_no_ext4_is_an_error),
		cmocka_unit_test(test_a_root_that_is_missing_or_no_directory_is_an_error),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
