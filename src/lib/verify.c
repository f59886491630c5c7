/* verify: SHA-256 streams and Ed25519 signature checks, thin wrappers over OpenSSL. */
#include "verify.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>

int verify_sha256_init(struct verify_sha256 *h)
{
	verify_sha256_free(h);
	h->md = EVP_MD_CTX_new();
	if (!h->md)
		return -ENOMEM;
	if (EVP_DigestInit_ex(h->md, EVP_sha256(), NULL) != 1) {
		verify_sha256_free(h);
		return -EIO;
	}
	return 0;
}

int verify_sha256_update(struct verify_sha256 *h, const void *buf, size_t len)
{
	if (!h->md)
		return -EINVAL;
	return EVP_DigestUpdate(h->md, buf, len) == 1 ? 0 : -EIO;
}

int verify_sha256_final(struct verify_sha256 *h, uint8_t out[VERIFY_SHA256_LEN])
{
	unsigned int len = 0;
	int rc;

	if (!h->md)
		return -EINVAL;
	rc = EVP_DigestFinal_ex(h->md, out, &len) == 1 && len == VERIFY_SHA256_LEN ? 0 : -EIO;
	verify_sha256_free(h);
	return rc;
}

void verify_sha256_free(struct verify_sha256 *h)
{
	EVP_MD_CTX_free(h->md);
	h->md = NULL;
}

void verify_hex(const uint8_t *buf, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[buf[i] >> 4];
		out[2 * i + 1] = digits[buf[i] & 0xf];
	}
	out[2 * n] = '\0';
}

int verify_pubkey_load(const char *path, EVP_PKEY **key)
{
	EVP_PKEY *k;
	FILE *f;

	f = fopen(path, "re");
	if (!f)
		return -errno;
	k = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	/* OpenSSL queues why it failed; the caller reports one message of its own. */
	ERR_clear_error();
	if (!k)
		return -EINVAL;
	if (EVP_PKEY_get_id(k) != EVP_PKEY_ED25519) {
		EVP_PKEY_free(k);
		return -EINVAL;
	}
	*key = k;
	return 0;
}

void verify_pubkey_free(EVP_PKEY *key)
{
	EVP_PKEY_free(key);
}

int verify_ed25519(EVP_PKEY *key, const void *msg, size_t len, const uint8_t *sig, size_t siglen)
{
	EVP_MD_CTX *md;
	int rc;

	if (!key || EVP_PKEY_get_id(key) != EVP_PKEY_ED25519 || siglen != VERIFY_ED25519_SIG_LEN)
		return -EINVAL;
	md = EVP_MD_CTX_new();
	if (!md)
		return -ENOMEM;
	/* Ed25519 is one-shot: no digest here, the whole message goes to EVP_DigestVerify. */
	if (EVP_DigestVerifyInit(md, NULL, NULL, NULL, key) != 1)
		rc = -EIO;
	else
		rc = EVP_DigestVerify(md, sig, siglen, msg, len) == 1 ? 0 : -EBADMSG;
	EVP_MD_CTX_free(md);
	ERR_clear_error();
	return rc;
}
