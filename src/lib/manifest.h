/*
 * manifest: the signed description of an A/B update.
 *
 * Text, at most MANIFEST_FILE_MAX bytes, lines of at most MANIFEST_LINE_MAX
 * bytes each counting the '\n' that ends every line, no NUL bytes:
 *   version=<1..31 printable ASCII, no spaces>
 *   payload=<file name next to the manifest: [A-Za-z0-9._-], not starting with '.'>
 *   size=<decimal bytes, > 0>
 *   sha256=<64 hex digits>
 *   signature=<base64 of the Ed25519 signature over every byte before this line>
 * The first four keys in any order, each exactly once, nothing else; the
 * signature line is the last line.
 */
#ifndef BROWNOUT_MANIFEST_H
#define BROWNOUT_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "verify.h"

#define MANIFEST_FILE_MAX 4096
#define MANIFEST_LINE_MAX 256
#define MANIFEST_VERSION_MAX 32
#define MANIFEST_PAYLOAD_MAX 128

struct manifest {
	char version[MANIFEST_VERSION_MAX];
	char payload[MANIFEST_PAYLOAD_MAX];
	uint64_t size;
	uint8_t sha256[VERIFY_SHA256_LEN];
	size_t signed_len;	/* bytes the signature covers: all before the signature line */
	uint8_t signature[VERIFY_ED25519_SIG_LEN];
};

/*
 * Parse len bytes of buf (no NUL needed); no cryptography, the signature is
 * only decoded. On failure *detail (if detail is not NULL) names the broken
 * rule in one marker-safe word: too-big, nul, no-newline, long-line, syntax,
 * unknown-key, duplicate-key, missing-key, signature-not-last, no-signature,
 * version, payload, size, sha256, signature-encoding.
 * Returns 0, -EFBIG (too-big) or -EINVAL.
 */
int manifest_parse(const char *buf, size_t len, struct manifest *m, const char **detail);

/*
 * Check the parsed signature of m over the first m->signed_len bytes of buf,
 * the buffer m was parsed from. Returns 0, -EBADMSG for a signature that does
 * not match (wrong key or changed content) or -EINVAL.
 */
int manifest_verify(const struct manifest *m, const char *buf, EVP_PKEY *key);

/*
 * The payload's URL: manifest_url with everything after its last '/'
 * replaced by m->payload. Returns 0, -EINVAL (no '/'), -ENAMETOOLONG.
 */
int manifest_payload_url(const char *manifest_url, const struct manifest *m, char *out,
			 size_t size);

/*
 * The release order of two versions "<release number>[-<build>]" (1, 2,
 * 2-bad): *order < 0, 0 or > 0 as a's release is older than b's, the same
 * release, or newer. Builds of one release are the same release, so neither
 * replaces the other. Returns 0, or -EINVAL when either has no release
 * number (digits, at most 9, then the end or '-').
 */
int manifest_release_cmp(const char *a, const char *b, int *order);

#endif
