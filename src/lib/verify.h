/* verify: SHA-256 streams and Ed25519 signature checks, thin wrappers over OpenSSL. */
#ifndef BROWNOUT_VERIFY_H
#define BROWNOUT_VERIFY_H

#include <openssl/types.h>
#include <stddef.h>
#include <stdint.h>

#define VERIFY_SHA256_LEN 32
#define VERIFY_SHA256_HEX (2 * VERIFY_SHA256_LEN + 1)
#define VERIFY_ED25519_SIG_LEN 64

struct verify_sha256 {
	EVP_MD_CTX *md;
};

/* Start a new hash; a hash already running in h is discarded. Returns 0 or -ENOMEM. */
int verify_sha256_init(struct verify_sha256 *h);

/* Returns 0 or -EIO (OpenSSL failed). */
int verify_sha256_update(struct verify_sha256 *h, const void *buf, size_t len);

/* Finish into out and free the state. Returns 0 or -EIO. */
int verify_sha256_final(struct verify_sha256 *h, uint8_t out[VERIFY_SHA256_LEN]);

/* Free the state; safe on a zeroed, finished or freed struct. */
void verify_sha256_free(struct verify_sha256 *h);

/* Lower-case hex of n bytes into out (2n + 1 bytes). */
void verify_hex(const uint8_t *buf, size_t n, char *out);

/*
 * Load a PEM public key; it must be Ed25519. Returns 0, -ENOENT or another
 * errno from fopen, -EINVAL if the file holds no Ed25519 public key.
 */
int verify_pubkey_load(const char *path, EVP_PKEY **key);

/* Free a key from verify_pubkey_load; NULL is fine. */
void verify_pubkey_free(EVP_PKEY *key);

/*
 * Check an Ed25519 signature over msg (EVP_DigestVerify with no digest, as
 * Ed25519 hashes the message itself). Returns 0 if it is good, -EBADMSG if
 * not, -EINVAL for a key that is not Ed25519 or a signature of the wrong length.
 */
int verify_ed25519(EVP_PKEY *key, const void *msg, size_t len, const uint8_t *sig, size_t siglen);

#endif
