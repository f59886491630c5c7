/* Tests for manifest: parsing (no keys needed) and signature checks (keys made here). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "manifest.h"

#define SHA "0123456789abcdef0123456789abcdefFEDCBA9876543210fedcba9876543210"
/* SHA as bytes. */
static const uint8_t sha_bytes[VERIFY_SHA256_LEN] = {
	0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
	0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10,
};
static const char body[] = "version=2\npayload=rootfs.ext4\nsize=104857600\nsha256=" SHA "\n";
/* 64 bytes 0x00..0x3f in base64: a well-formed signature for parse-only tests. */
static const char sig_line[] =
	"signature=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw==\n";

static EVP_PKEY *key, *other;

static EVP_PKEY *keygen(void)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
	EVP_PKEY *k = NULL;

	assert_non_null(ctx);
	assert_int_equal(EVP_PKEY_keygen_init(ctx), 1);
	assert_int_equal(EVP_PKEY_keygen(ctx, &k), 1);
	EVP_PKEY_CTX_free(ctx);
	return k;
}

static int setup(void **state)
{
	(void)state;
	key = keygen();
	other = keygen();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
	return 0;
}

/* body + "signature=<base64 of k's signature over body>\n" into out; returns its length. */
static size_t sign(EVP_PKEY *k, const char *b, char *out, size_t size)
{
	uint8_t sig[VERIFY_ED25519_SIG_LEN];
	size_t siglen = sizeof(sig);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char b64[4 * ((VERIFY_ED25519_SIG_LEN + 2) / 3) + 1];
	int n;

	assert_int_equal(EVP_DigestSignInit(md, NULL, NULL, NULL, k), 1);
	assert_int_equal(EVP_DigestSign(md, sig, &siglen, (const uint8_t *)b, strlen(b)), 1);
	EVP_MD_CTX_free(md);
	assert_int_equal(EVP_EncodeBlock(b64, sig, (int)siglen), 88);
	n = snprintf(out, size, "%ssignature=%s\n", b, b64);
	assert_true(n > 0 && (size_t)n < size);
	return (size_t)n;
}

/* Parse body + a well-formed signature line into *m; returns the rc, *detail the word. */
static int parse_body(const char *b, struct manifest *m, const char **detail)
{
	char buf[2 * MANIFEST_FILE_MAX];

	*detail = NULL;
	snprintf(buf, sizeof(buf), "%s%s", b, sig_line);
	return manifest_parse(buf, strlen(buf), m, detail);
}

static void expect_body(const char *b, const char *word)
{
	struct manifest m;
	const char *detail;

	assert_int_equal(parse_body(b, &m, &detail), -EINVAL);
	assert_non_null(detail);
	assert_string_equal(detail, word);
}

/* ---- parsing ---- */

static void test_parses_fields(void **state)
{
	char buf[MANIFEST_FILE_MAX];
	struct manifest m;
	const char *detail = "untouched";

	(void)state;
	snprintf(buf, sizeof(buf), "%s%s", body, sig_line);
	assert_int_equal(manifest_parse(buf, strlen(buf), &m, &detail), 0);
	assert_string_equal(detail, "untouched");
	assert_string_equal(m.version, "2");
	assert_string_equal(m.payload, "rootfs.ext4");
	assert_true(m.size == 104857600);
	assert_memory_equal(m.sha256, sha_bytes, sizeof(sha_bytes));	/* upper-case hex too */
	assert_int_equal(m.signed_len, strlen(body));
	for (int i = 0; i < VERIFY_ED25519_SIG_LEN; i++)
		assert_int_equal(m.signature[i], i);
}

static void test_keys_in_any_order(void **state)
{
	static const char b[] = "sha256=" SHA "\nsize=1\npayload=p\nversion=2-bad\n";
	struct manifest m;
	const char *detail;

	(void)state;
	assert_int_equal(parse_body(b, &m, &detail), 0);
	assert_string_equal(m.version, "2-bad");
	assert_string_equal(m.payload, "p");
	assert_true(m.size == 1);
	assert_memory_equal(m.sha256, sha_bytes, sizeof(sha_bytes));
	assert_int_equal(m.signed_len, strlen(b));
}

/*
 * The longest value of each field is kept whole; a payload name one longer is
 * refused (a version one longer: test_bad_values).
 */
static void test_longest_values(void **state)
{
	char b[1024], version[MANIFEST_VERSION_MAX], payload[MANIFEST_PAYLOAD_MAX];
	struct manifest m;
	const char *detail;

	(void)state;
	memset(version, 'v', sizeof(version) - 1);
	version[sizeof(version) - 1] = '\0';
	memset(payload, 'p', sizeof(payload) - 1);
	payload[sizeof(payload) - 1] = '\0';
	snprintf(b, sizeof(b), "version=%s\npayload=%s\nsize=18446744073709551615\nsha256=" SHA "\n",
		 version, payload);
	assert_int_equal(parse_body(b, &m, &detail), 0);
	assert_string_equal(m.version, version);
	assert_string_equal(m.payload, payload);
	assert_true(m.size == UINT64_MAX);
	assert_memory_equal(m.sha256, sha_bytes, sizeof(sha_bytes));
	snprintf(b, sizeof(b), "version=2\npayload=%sp\nsize=1\nsha256=" SHA "\n", payload);
	expect_body(b, "payload");
}

static void test_malformed_lines(void **state)
{
	(void)state;
	expect_body("version=2\npayload=rootfs.ext4\nsize=1\nsha256=" SHA "\n\n", "syntax");
	expect_body("version 2\npayload=rootfs.ext4\nsize=1\nsha256=" SHA "\n", "syntax");
	expect_body("=2\npayload=rootfs.ext4\nsize=1\nsha256=" SHA "\n", "syntax");
	expect_body("version=2\npayload=rootfs.ext4\nsize=1\nsha256=" SHA "\nflavour=x\n", "unknown-key");
	expect_body("Version=2\npayload=rootfs.ext4\nsize=1\nsha256=" SHA "\n", "unknown-key");
	expect_body(" version=2\npayload=rootfs.ext4\nsize=1\nsha256=" SHA "\n", "unknown-key");
}

static void test_duplicate_and_missing_keys(void **state)
{
	(void)state;
	expect_body("version=2\nversion=2\npayload=p\nsize=1\nsha256=" SHA "\n", "duplicate-key");
	expect_body("version=2\npayload=p\nsize=1\nsha256=" SHA "\nsize=1\n", "duplicate-key");
	expect_body("version=2\npayload=p\nsize=1\n", "missing-key");
	expect_body("", "missing-key");
}

static void test_bad_values(void **state)
{
	(void)state;
	expect_body("version=\npayload=p\nsize=1\nsha256=" SHA "\n", "version");
	expect_body("version=2 beta\npayload=p\nsize=1\nsha256=" SHA "\n", "version");
	expect_body("version=2\r\npayload=p\nsize=1\nsha256=" SHA "\n", "version");
	expect_body("version=12345678901234567890123456789012\npayload=p\nsize=1\nsha256=" SHA "\n",
		    "version");
	expect_body("version=2\npayload=../etc/passwd\nsize=1\nsha256=" SHA "\n", "payload");
	expect_body("version=2\npayload=a/b\nsize=1\nsha256=" SHA "\n", "payload");
	expect_body("version=2\npayload=.hidden\nsize=1\nsha256=" SHA "\n", "payload");
	expect_body("version=2\npayload=\nsize=1\nsha256=" SHA "\n", "payload");
	expect_body("version=2\npayload=p\nsize=0\nsha256=" SHA "\n", "size");
	expect_body("version=2\npayload=p\nsize=-1\nsha256=" SHA "\n", "size");
	expect_body("version=2\npayload=p\nsize=0x10\nsha256=" SHA "\n", "size");
	expect_body("version=2\npayload=p\nsize=18446744073709551616\nsha256=" SHA "\n", "size");
	expect_body("version=2\npayload=p\nsize=\nsha256=" SHA "\n", "size");
}

static void test_bad_hex(void **state)
{
	(void)state;
	/* One digit short, one too many, a non-hex digit, a space. */
	expect_body("version=2\npayload=p\nsize=1\nsha256="
		    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n", "sha256");
	expect_body("version=2\npayload=p\nsize=1\nsha256=" SHA "0\n", "sha256");
	expect_body("version=2\npayload=p\nsize=1\nsha256="
		    "g123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n", "sha256");
	expect_body("version=2\npayload=p\nsize=1\nsha256="
		    "0123456789abcdef0123456789abcdef 123456789abcdef0123456789abcdef\n", "sha256");
}

static void test_line_length_limit(void **state)
{
	char b[1024];
	char name[300];

	(void)state;
	/* "payload=" + 247 characters + '\n' is exactly 256 bytes: long, but not too long. */
	memset(name, 'p', 247);
	name[247] = '\0';
	snprintf(b, sizeof(b), "version=2\npayload=%s\nsize=1\nsha256=" SHA "\n", name);
	expect_body(b, "payload");	/* the line is fine; the name is over MANIFEST_PAYLOAD_MAX */
	/* One byte more and the line itself is refused. */
	name[247] = 'p';
	name[248] = '\0';
	snprintf(b, sizeof(b), "version=2\npayload=%s\nsize=1\nsha256=" SHA "\n", name);
	expect_body(b, "long-line");
}

static void test_file_size_limit(void **state)
{
	char buf[MANIFEST_FILE_MAX + 2];
	struct manifest m;
	const char *detail = NULL;
	size_t pos, pad;

	(void)state;
	/* Exactly MANIFEST_FILE_MAX bytes: a padding line makes it so, and is refused for its key. */
	pos = (size_t)snprintf(buf, sizeof(buf), "%s", body);
	pad = MANIFEST_FILE_MAX - pos - strlen(sig_line);
	while (pad > 0) {
		size_t line = pad > 200 ? 100 : pad;	/* never leave a remainder under 3 bytes */

		memset(buf + pos, 'x', line - 1);
		buf[pos + 1] = '=';
		buf[pos + line - 1] = '\n';
		pos += line;
		pad -= line;
	}
	memcpy(buf + pos, sig_line, strlen(sig_line));
	pos += strlen(sig_line);
	assert_int_equal(pos, MANIFEST_FILE_MAX);
	assert_int_equal(manifest_parse(buf, pos, &m, &detail), -EINVAL);
	assert_string_equal(detail, "unknown-key");
	/* One byte more is refused before anything is parsed. */
	buf[pos] = '\n';
	assert_int_equal(manifest_parse(buf, pos + 1, &m, &detail), -EFBIG);
	assert_string_equal(detail, "too-big");
}

static void test_truncated_and_binary(void **state)
{
	char buf[MANIFEST_FILE_MAX];
	struct manifest m;
	const char *detail = NULL;
	size_t len;

	(void)state;
	len = (size_t)snprintf(buf, sizeof(buf), "%s%s", body, sig_line);
	/* Cut anywhere inside the signature line: no newline at the end. */
	assert_int_equal(manifest_parse(buf, len - 1, &m, &detail), -EINVAL);
	assert_string_equal(detail, "no-newline");
	assert_int_equal(manifest_parse(buf, len - 20, &m, &detail), -EINVAL);
	assert_string_equal(detail, "no-newline");
	/* Cut at a line end: the body is there, the signature is not. */
	assert_int_equal(manifest_parse(buf, strlen(body), &m, &detail), -EINVAL);
	assert_string_equal(detail, "no-signature");
	buf[3] = '\0';
	assert_int_equal(manifest_parse(buf, len, &m, &detail), -EINVAL);
	assert_string_equal(detail, "nul");
	assert_int_equal(manifest_parse(buf, 0, &m, &detail), -EINVAL);
	assert_int_equal(manifest_parse(NULL, 1, &m, NULL), -EINVAL);
}

static void test_signature_line_rules(void **state)
{
	char buf[MANIFEST_FILE_MAX];
	struct manifest m;
	const char *detail = NULL;

	(void)state;
	/* The signature must be last. */
	snprintf(buf, sizeof(buf), "%s%s%s", sig_line, body, sig_line);
	assert_int_equal(manifest_parse(buf, strlen(buf), &m, &detail), -EINVAL);
	assert_string_equal(detail, "signature-not-last");
	/* Not base64; base64 of 63 bytes; no padding; junk after the padding; empty. */
	static const char *const bad[] = {
		"signature=!!!!\n",
		"signature=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+\n",
		"signature=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw\n",
		"signature=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw==A\n",
		"signature=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Px==\n",
		"signature=\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(buf, sizeof(buf), "%s%s", body, bad[i]);
		detail = NULL;
		assert_int_equal(manifest_parse(buf, strlen(buf), &m, &detail), -EINVAL);
		assert_string_equal(detail, "signature-encoding");
	}
	snprintf(buf, sizeof(buf), "%ssig=%s", body, sig_line + strlen("signature="));
	assert_int_equal(manifest_parse(buf, strlen(buf), &m, &detail), -EINVAL);
	assert_string_equal(detail, "no-signature");
}

static void test_failure_leaves_output_alone(void **state)
{
	struct manifest m = { .version = "old", .payload = "old.ext4", .size = 7, .signed_len = 3 };
	const struct manifest before = m;
	char buf[MANIFEST_FILE_MAX];
	const char *detail;

	(void)state;
	assert_int_equal(manifest_parse("version=2\nsize=1\n", 17, &m, &detail), -EINVAL);
	assert_memory_equal(&m, &before, sizeof(m));
	/* Refused only at the signature, after every body field was read. */
	snprintf(buf, sizeof(buf), "%ssignature=!!!!\n", body);
	assert_int_equal(manifest_parse(buf, strlen(buf), &m, &detail), -EINVAL);
	assert_string_equal(detail, "signature-encoding");
	assert_memory_equal(&m, &before, sizeof(m));
}

/* ---- signatures ---- */

static void test_signed_manifest_verifies(void **state)
{
	char buf[MANIFEST_FILE_MAX];
	struct manifest m;
	size_t len;

	(void)state;
	len = sign(key, body, buf, sizeof(buf));
	assert_int_equal(manifest_parse(buf, len, &m, NULL), 0);
	assert_int_equal(manifest_verify(&m, buf, key), 0);
}

static void test_wrong_key(void **state)
{
	char buf[MANIFEST_FILE_MAX];
	struct manifest m;
	size_t len;

	(void)state;
	len = sign(other, body, buf, sizeof(buf));
	assert_int_equal(manifest_parse(buf, len, &m, NULL), 0);
	assert_int_equal(manifest_verify(&m, buf, key), -EBADMSG);
}

static void test_tampered_content(void **state)
{
	char buf[MANIFEST_FILE_MAX];
	struct manifest m;
	size_t len;
	char *p;

	(void)state;
	len = sign(key, body, buf, sizeof(buf));
	/* A different size that still parses: only the signature can tell. */
	p = strstr(buf, "size=104857600");
	p[5] = '2';
	assert_int_equal(manifest_parse(buf, len, &m, NULL), 0);
	assert_true(m.size == 204857600);
	assert_int_equal(manifest_verify(&m, buf, key), -EBADMSG);
	/* A flipped bit in the signature itself. */
	len = sign(key, body, buf, sizeof(buf));
	p = strstr(buf, "signature=") + 20;
	*p = *p == 'A' ? 'B' : 'A';
	assert_int_equal(manifest_parse(buf, len, &m, NULL), 0);
	assert_int_equal(manifest_verify(&m, buf, key), -EBADMSG);
}

static void test_signature_covers_exactly_the_body(void **state)
{
	char buf[MANIFEST_FILE_MAX], shorter[sizeof(body)];
	struct manifest m;
	size_t len;

	(void)state;
	/* Signed without the body's last newline, then given one: not the signed bytes. */
	memcpy(shorter, body, sizeof(body));
	shorter[strlen(shorter) - 1] = '\0';
	len = sign(key, shorter, buf, sizeof(buf));
	memmove(buf + strlen(shorter) + 1, buf + strlen(shorter), len - strlen(shorter) + 1);
	buf[strlen(shorter)] = '\n';
	assert_int_equal(manifest_parse(buf, len + 1, &m, NULL), 0);
	assert_int_equal(manifest_verify(&m, buf, key), -EBADMSG);
	assert_int_equal(manifest_verify(&m, buf, NULL), -EINVAL);
}

/* ---- payload URL ---- */

static void test_payload_url(void **state)
{
	struct manifest m = { .payload = "rootfs.ext4" };
	char url[64];

	(void)state;
	assert_int_equal(manifest_payload_url("http://10.0.2.100/ab/v2/manifest", &m, url, sizeof(url)), 0);
	assert_string_equal(url, "http://10.0.2.100/ab/v2/rootfs.ext4");
	assert_int_equal(manifest_payload_url("http://h/ab/", &m, url, sizeof(url)), 0);
	assert_string_equal(url, "http://h/ab/rootfs.ext4");
	assert_int_equal(manifest_payload_url("http://h", &m, url, sizeof(url)), -EINVAL);
	assert_int_equal(manifest_payload_url("manifest", &m, url, sizeof(url)), -EINVAL);
	assert_int_equal(manifest_payload_url("http://10.0.2.100/ab/v2/manifest", &m, url, 20),
			 -ENAMETOOLONG);
}

static int release_order(const char *a, const char *b)
{
	int order = 99;

	assert_int_equal(manifest_release_cmp(a, b, &order), 0);
	return order;
}

static void test_release_order(void **state)
{
	int order;

	(void)state;
	assert_int_equal(release_order("1", "2"), -1);
	assert_int_equal(release_order("10", "9"), 1);
	assert_int_equal(release_order("2", "2-bad"), 0);
	assert_int_equal(release_order("3-rc1", "2"), 1);
	assert_int_equal(manifest_release_cmp("unknown", "2", &order), -EINVAL);
	assert_int_equal(manifest_release_cmp("2", "v2", &order), -EINVAL);
	assert_int_equal(manifest_release_cmp("2x", "2", &order), -EINVAL);
	assert_int_equal(manifest_release_cmp("1234567890", "2", &order), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parses_fields),
		cmocka_unit_test(test_keys_in_any_order),
		cmocka_unit_test(test_longest_values),
		cmocka_unit_test(test_malformed_lines),
		cmocka_unit_test(test_duplicate_and_missing_keys),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_bad_hex),
		cmocka_unit_test(test_line_length_limit),
		cmocka_unit_test(test_file_size_limit),
		cmocka_unit_test(test_truncated_and_binary),
		cmocka_unit_test(test_signature_line_rules),
		cmocka_unit_test(test_failure_leaves_output_alone),
		cmocka_unit_test(test_signed_manifest_verifies),
		cmocka_unit_test(test_wrong_key),
		cmocka_unit_test(test_tampered_content),
		cmocka_unit_test(test_signature_covers_exactly_the_body),
		cmocka_unit_test(test_payload_url),
		cmocka_unit_test(test_release_order),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
