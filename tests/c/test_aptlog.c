/*
 * Tests for aptlog: apt-get 2.6.1's own output for a rogue-signed, an unsigned
 * and a tampered repository, each word alone, words cut short, mixed texts,
 * and streams longer than the window, cut into chunks anywhere.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inplace/aptlog.h"

/* apt-get -q update, repository signed by a key not in trusted.gpg.d: stdout, then stderr. */
#define ROGUE_OUT \
	"Get:1 http://10.0.2.100/inplace/v2-badsig ./ InRelease [442 B]\n" \
	"Err:1 http://10.0.2.100/inplace/v2-badsig ./ InRelease\n" \
	"  The following signatures couldn't be verified because the public key is not " \
	"available: NO_PUBKEY CE03EE4C2AC03CCC\n" \
	"Reading package lists...\n"
#define ROGUE_ERR \
	"W: GPG error: http://10.0.2.100/inplace/v2-badsig ./ InRelease: The following " \
	"signatures couldn't be verified because the public key is not available: " \
	"NO_PUBKEY CE03EE4C2AC03CCC\n" \
	"E: The repository 'http://10.0.2.100/inplace/v2-badsig ./ InRelease' is not signed.\n"
/* apt-get -q update, no InRelease and no Release.gpg. */
#define UNSIGNED_ERR "E: The repository 'http://10.0.2.100/inplace/x ./ Release' is not signed.\n"
/* apt-get -q --download-only, one byte of the .deb changed: stderr. */
#define TAMPERED_ERR \
	"E: Failed to fetch http://10.0.2.100/inplace/v2-tampered/./brownout-app_2_arm64.deb  " \
	"Hash Sum mismatch\n" \
	"   Hashes of expected file:\n" \
	"    - SHA256:84b3289a7040b5eaf4e10eafc3d5ef1cfedef6921f6988bdd8eab4ad50c52256\n" \
	"    - Filesize:20716 [weak]\n" \
	"   Hashes of received file:\n" \
	"    - SHA256:53b5df77cd7047abb80257695a984f0fba5881180773e12ef70eb812e82682b4\n" \
	"    - Filesize:20716 [weak]\n" \
	"   Last modification reported: Tue, 14 Nov 2023 22:13:20 +0000\n" \
	"E: Some files failed to download\n"
/* apt-get -q --download-only, a .deb longer than the signed index says. */
#define BIGGER_ERR \
	"E: Failed to fetch http://10.0.2.100/inplace/x/./foo_2_arm64.deb  File has unexpected " \
	"size (20760 != 20716). Mirror sync in progress? [IP: 10.0.2.100 80]\n" \
	"   Hashes of expected file:\n" \
	"    - SHA256:84b3289a7040b5eaf4e10eafc3d5ef1cfedef6921f6988bdd8eab4ad50c52256\n" \
	"E: Some files failed to download\n"
/* Broken transfers and a wrong URL: nothing refused on purpose. */
#define REFUSED_ERR \
	"E: Failed to fetch http://10.0.2.100/inplace/v2/./InRelease  Could not connect to " \
	"10.0.2.100:80 (10.0.2.100). - connect (111: Connection refused)\n" \
	"E: Some index files failed to download. They have been ignored, or old ones used instead.\n"
#define NOTFOUND_ERR \
	"E: Failed to fetch http://10.0.2.100/inplace/v2/./brownout-app_2_arm64.deb  " \
	"404  File not found [IP: 10.0.2.100 80]\n" \
	"E: The repository 'http://10.0.2.100/inplace/nothere ./ Release' does not have a Release file.\n"
#define GET_LINE "Get:17 http://10.0.2.100/inplace/v2 ./ brownout-app 2 [20.7 kB]\n"

static enum aptlog_kind stream(const char *text, size_t len, size_t chunk)
{
	struct aptlog log;

	aptlog_init(&log);
	for (size_t at = 0; at < len; at += chunk)
		aptlog_feed(&log, text + at, len - at < chunk ? len - at : chunk);
	return aptlog_finish(&log);
}

/* The same verdict whole, in one chunk, byte by byte, and in odd-sized chunks. */
static void assert_kind(const char *text, enum aptlog_kind kind)
{
	size_t len = strlen(text);

	assert_int_equal(aptlog_classify(text), kind);
	assert_int_equal(stream(text, len, len ? len : 1), kind);
	assert_int_equal(stream(text, len, 1), kind);
	assert_int_equal(stream(text, len, 7), kind);
}

static void test_apt_output_of_each_case(void **state)
{
	(void)state;
	assert_kind(ROGUE_OUT, APTLOG_SIGNATURE);
	assert_kind(ROGUE_ERR, APTLOG_SIGNATURE);
	assert_kind(UNSIGNED_ERR, APTLOG_SIGNATURE);
	assert_kind(TAMPERED_ERR, APTLOG_HASH);
	assert_kind(BIGGER_ERR, APTLOG_HASH);
	assert_kind(REFUSED_ERR, APTLOG_OTHER);
	assert_kind(NOTFOUND_ERR, APTLOG_OTHER);
	assert_kind(GET_LINE "Fetched 20.7 kB in 0s (1 MB/s)\nReading package lists...\n", APTLOG_OTHER);
}

static void test_each_word_alone(void **state)
{
	static const char *const signature[] = {
		"  The following signatures couldn't be verified because the public key is not available:",
		"  The following signatures were invalid:",
		"GPG error: x: At least one invalid signature was encountered.",
		"NO_PUBKEY 0123456789ABCDEF", "BADSIG 0123456789ABCDEF brownout",
		"EXPKEYSIG 0123456789ABCDEF brownout", "EXPSIG 0123456789ABCDEF brownout",
		"REVKEYSIG 0123456789ABCDEF brownout",
		"E: The repository 'http://h/r ./ InRelease' is not signed.",
		"E: Invalid 'Signed-By' entry in Release file /var/lib/apt/lists/x_InRelease",
	};
	static const char *const hash[] = {
		"E: Failed to fetch http://h/r/./a.deb  Hash Sum mismatch", "   Hashes of expected file:",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(signature) / sizeof(signature[0]); i++)
		assert_kind(signature[i], APTLOG_SIGNATURE);
	for (size_t i = 0; i < sizeof(hash) / sizeof(hash[0]); i++)
		assert_kind(hash[i], APTLOG_HASH);
}

static void test_a_signature_outranks_a_hash_and_both_outrank_the_rest(void **state)
{
	(void)state;
	assert_kind(TAMPERED_ERR ROGUE_ERR, APTLOG_SIGNATURE);
	assert_kind(ROGUE_ERR TAMPERED_ERR, APTLOG_SIGNATURE);
	assert_kind(REFUSED_ERR TAMPERED_ERR NOTFOUND_ERR, APTLOG_HASH);
	assert_kind("Hash Sum mismatch NO_PUBKEY", APTLOG_SIGNATURE);
}

static void test_empty_text_says_nothing(void **state)
{
	struct aptlog log;

	(void)state;
	assert_int_equal(aptlog_classify(NULL), APTLOG_OTHER);
	assert_kind("", APTLOG_OTHER);
	assert_kind("\n\n\n", APTLOG_OTHER);
	aptlog_init(&log);
	assert_int_equal(aptlog_finish(&log), APTLOG_OTHER);
}

static void test_a_word_cut_short_or_split_is_not_a_word(void **state)
{
	(void)state;
	assert_kind("E: Failed to fetch http://h/r/./a.deb  Hash Sum mism", APTLOG_OTHER);
	assert_kind("   Hashes of expected file", APTLOG_OTHER);
	assert_kind("W: GPG error: x: The following signatures couldn't be veri", APTLOG_OTHER);
	assert_kind("  NO_PUBK", APTLOG_OTHER);
	assert_kind("E: The repository 'http://h/r ./ InRelease' is not sig", APTLOG_OTHER);
	/* A word is never split over lines, nor across a NUL. */
	assert_kind("Hash Sum\nmismatch\n", APTLOG_OTHER);
	assert_int_equal(stream("NO_\0PUBKEY", 10, 3), APTLOG_OTHER);
	assert_int_equal(stream("\0NO_PUBKEY\0", 11, 4), APTLOG_SIGNATURE);
	/* Case matters: apt's words are exact. */
	assert_kind("hash sum mismatch", APTLOG_OTHER);
}

/* Lines of progress well past the window, then text; the verdict comes from the text. */
static void test_errors_after_more_output_than_the_window(void **state)
{
	size_t lines = 3 * APTLOG_WINDOW / (sizeof(GET_LINE) - 1) + 1;
	size_t size = lines * (sizeof(GET_LINE) - 1) + sizeof(TAMPERED_ERR);
	char *text = malloc(size);
	size_t len = 0;

	(void)state;
	assert_non_null(text);
	for (size_t i = 0; i < lines; i++, len += sizeof(GET_LINE) - 1)
		memcpy(text + len, GET_LINE, sizeof(GET_LINE) - 1);
	text[len] = '\0';
	assert_true(len > 3 * APTLOG_WINDOW);
	assert_kind(text, APTLOG_OTHER);
	memcpy(text + len, TAMPERED_ERR, sizeof(TAMPERED_ERR));
	assert_kind(text, APTLOG_HASH);
	free(text);
}

/* One line longer than the window, the word at every place, across the window's edge too. */
static void test_a_word_anywhere_in_a_line_longer_than_the_window(void **state)
{
	static const char word[] = "The following signatures couldn't be verified";
	size_t size = 3 * APTLOG_WINDOW;
	char *text = malloc(size + 1);

	(void)state;
	assert_non_null(text);
	/* Every place near the first two window edges, every 37th elsewhere. */
	for (size_t at = 0; at + sizeof(word) - 1 <= size;
	     at += at + 100 >= APTLOG_WINDOW && at < 2 * APTLOG_WINDOW + 100 ? 1 : 37) {
		memset(text, 'x', size);
		text[size] = '\0';
		memcpy(text + at, word, sizeof(word) - 1);
		assert_int_equal(stream(text, size, size), APTLOG_SIGNATURE);
		assert_int_equal(stream(text, size, 13), APTLOG_SIGNATURE);
		assert_int_equal(aptlog_classify(text), APTLOG_SIGNATURE);
	}
	memset(text, 'x', size);
	assert_int_equal(stream(text, size, 100), APTLOG_OTHER);
	free(text);
}

static void feed(struct aptlog *log, const char *text)
{
	aptlog_feed(log, text, strlen(text));
}

/* The last line needs no newline; the stream can be fed again after a verdict. */
static void test_the_unfinished_last_line_counts(void **state)
{
	struct aptlog log;

	(void)state;
	aptlog_init(&log);
	feed(&log, "Get:1 x\nE: Failed to fetch x  Hash Sum ");
	feed(&log, "mismatch");
	assert_int_equal(aptlog_finish(&log), APTLOG_HASH);
	feed(&log, "NO_PUBKEY 1");
	assert_int_equal(aptlog_finish(&log), APTLOG_SIGNATURE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_apt_output_of_each_case),
		cmocka_unit_test(test_each_word_alone),
		cmocka_unit_test(test_a_signature_outranks_a_hash_and_both_outrank_the_rest),
		cmocka_unit_test(test_empty_text_says_nothing),
		cmocka_unit_test(test_a_word_cut_short_or_split_is_not_a_word),
		cmocka_unit_test(test_errors_after_more_output_than_the_window),
		cmocka_unit_test(test_a_word_anywhere_in_a_line_longer_than_the_window),
		cmocka_unit_test(test_the_unfinished_last_line_counts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
