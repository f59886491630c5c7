/* Tests for verify: SHA-256 streams and Ed25519 checks, with keys made here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "verify.h"

static const char msg[] = "version=2\npayload=rootfs.ext4\n";

static EVP_PKEY *keygen(int type)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(type, NULL);
	EVP_PKEY *key = NULL;

	assert_non_null(ctx);
	assert_int_equal(EVP_PKEY_keygen_init(ctx), 1);
	assert_int_equal(EVP_PKEY_keygen(ctx, &key), 1);
	EVP_PKEY_CTX_free(ctx);
	return key;
}

static void sign(EVP_PKEY *key, const void *m, size_t len, uint8_t sig[VERIFY_ED25519_SIG_LEN])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	size_t siglen = VERIFY_ED25519_SIG_LEN;

	assert_int_equal(EVP_DigestSignInit(md, NULL, NULL, NULL, key), 1);
	assert_int_equal(EVP_DigestSign(md, sig, &siglen, m, len), 1);
	assert_int_equal(siglen, VERIFY_ED25519_SIG_LEN);
	EVP_MD_CTX_free(md);
}

/* Write key's public half as PEM to a new temporary file; returns its path (free it). */
static char *write_pub(EVP_PKEY *key)
{
	char *path = strdup("/tmp/test_verify.XXXXXX");
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");

	assert_non_null(f);
	assert_int_equal(PEM_write_PUBKEY(f, key), 1);
	fclose(f);
	return path;
}

static void sha256_hex(const void *buf, size_t len, size_t piece, char *hex)
{
	struct verify_sha256 h = { 0 };
	uint8_t out[VERIFY_SHA256_LEN];
	const uint8_t *p = buf;

	assert_int_equal(verify_sha256_init(&h), 0);
	for (size_t off = 0; off < len; off += piece)
		assert_int_equal(verify_sha256_update(&h, p + off, len - off < piece ? len - off : piece), 0);
	assert_int_equal(verify_sha256_final(&h, out), 0);
	assert_null(h.md);
	verify_hex(out, sizeof(out), hex);
}

static void test_sha256_known_values(void **state)
{
	char hex[VERIFY_SHA256_HEX];

	(void)state;
	/* FIPS 180-2 examples. */
	sha256_hex("abc", 3, 3, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	sha256_hex("", 0, 1, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_sha256_pieces_equal_whole(void **state)
{
	static uint8_t buf[100000];
	char whole[VERIFY_SHA256_HEX], pieces[VERIFY_SHA256_HEX];

	(void)state;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + (i >> 8));
	sha256_hex(buf, sizeof(buf), sizeof(buf), whole);
	sha256_hex(buf, sizeof(buf), 1, pieces);
	assert_string_equal(whole, pieces);
	sha256_hex(buf, sizeof(buf), 4093, pieces);
	assert_string_equal(whole, pieces);
}

static void test_sha256_restart_and_free(void **state)
{
	struct verify_sha256 h = { 0 };
	uint8_t out[VERIFY_SHA256_LEN];
	char hex[VERIFY_SHA256_HEX];

	(void)state;
	/* A second init forgets what was hashed (the download's restart from 0). */
	assert_int_equal(verify_sha256_init(&h), 0);
	assert_int_equal(verify_sha256_update(&h, "junk", 4), 0);
	assert_int_equal(verify_sha256_init(&h), 0);
	assert_int_equal(verify_sha256_update(&h, "abc", 3), 0);
	assert_int_equal(verify_sha256_final(&h, out), 0);
	verify_hex(out, sizeof(out), hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	/* After final, and twice: harmless. Without init: refused. */
	verify_sha256_free(&h);
	verify_sha256_free(&h);
	assert_int_equal(verify_sha256_update(&h, "x", 1), -EINVAL);
	assert_int_equal(verify_sha256_final(&h, out), -EINVAL);
}

static void test_hex(void **state)
{
	static const uint8_t b[] = { 0x00, 0x0f, 0xa5, 0xff };
	char hex[9];

	(void)state;
	verify_hex(b, sizeof(b), hex);
	assert_string_equal(hex, "000fa5ff");
	verify_hex(b, 0, hex);
	assert_string_equal(hex, "");
}

static void test_ed25519_good_and_bad(void **state)
{
	EVP_PKEY *key = keygen(EVP_PKEY_ED25519), *other = keygen(EVP_PKEY_ED25519);
	uint8_t sig[VERIFY_ED25519_SIG_LEN];
	char changed[sizeof(msg)];

	(void)state;
	sign(key, msg, strlen(msg), sig);
	assert_int_equal(verify_ed25519(key, msg, strlen(msg), sig, sizeof(sig)), 0);
	/* Another key, another message, one byte less, a flipped signature bit. */
	assert_int_equal(verify_ed25519(other, msg, strlen(msg), sig, sizeof(sig)), -EBADMSG);
	memcpy(changed, msg, sizeof(msg));
	changed[8] = '3';
	assert_int_equal(verify_ed25519(key, changed, strlen(changed), sig, sizeof(sig)), -EBADMSG);
	assert_int_equal(verify_ed25519(key, msg, strlen(msg) - 1, sig, sizeof(sig)), -EBADMSG);
	sig[10] ^= 0x01;
	assert_int_equal(verify_ed25519(key, msg, strlen(msg), sig, sizeof(sig)), -EBADMSG);
	/* Wrong length, no key. */
	assert_int_equal(verify_ed25519(key, msg, strlen(msg), sig, sizeof(sig) - 1), -EINVAL);
	assert_int_equal(verify_ed25519(NULL, msg, strlen(msg), sig, sizeof(sig)), -EINVAL);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
}

static void test_pubkey_load_roundtrip(void **state)
{
	EVP_PKEY *key = keygen(EVP_PKEY_ED25519), *loaded = NULL;
	uint8_t sig[VERIFY_ED25519_SIG_LEN];
	char *path = write_pub(key);

	(void)state;
	sign(key, msg, strlen(msg), sig);
	assert_int_equal(verify_pubkey_load(path, &loaded), 0);
	assert_int_equal(verify_ed25519(loaded, msg, strlen(msg), sig, sizeof(sig)), 0);
	verify_pubkey_free(loaded);
	verify_pubkey_free(NULL);
	unlink(path);
	free(path);
	EVP_PKEY_free(key);
}

static void test_pubkey_load_rejects(void **state)
{
	EVP_PKEY *x25519 = keygen(EVP_PKEY_X25519), *loaded = NULL;
	char *path = write_pub(x25519);
	FILE *f;

	(void)state;
	/* A valid PEM public key, but not one that signs with Ed25519. */
	assert_int_equal(verify_pubkey_load(path, &loaded), -EINVAL);
	f = fopen(path, "w");
	fputs("-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n", f);
	fclose(f);
	assert_int_equal(verify_pubkey_load(path, &loaded), -EINVAL);
	unlink(path);
	assert_int_equal(verify_pubkey_load(path, &loaded), -ENOENT);
	assert_null(loaded);
	free(path);
	EVP_PKEY_free(x25519);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_known_values),
		cmocka_unit_test(test_sha256_pieces_equal_whole),
		cmocka_unit_test(test_sha256_restart_and_free),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_ed25519_good_and_bad),
		cmocka_unit_test(test_pubkey_load_roundtrip),
		cmocka_unit_test(test_pubkey_load_rejects),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
