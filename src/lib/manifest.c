/* manifest: the signed description of an A/B update. */
#include "manifest.h"

#include "marker.h"
#include "num.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define MANIFEST_SIG_KEY "signature="

enum manifest_key { MF_VERSION, MF_PAYLOAD, MF_SIZE, MF_SHA256, MF_NKEYS };

static const char *const manifest_keys[MF_NKEYS] = {
	[MF_VERSION] = "version",
	[MF_PAYLOAD] = "payload",
	[MF_SIZE] = "size",
	[MF_SHA256] = "sha256",
};

static int manifest_fail(const char **detail, const char *word, int rc)
{
	if (detail)
		*detail = word;
	return rc;
}

static int manifest_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int manifest_b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Strict base64 (RFC 4648, padded, no line breaks) of exactly outlen bytes.
 * Returns 0 or -EINVAL.
 */
static int manifest_base64(const char *s, size_t len, uint8_t *out, size_t outlen)
{
	size_t pad = 0, n = 0;
	uint32_t acc = 0;

	if (len == 0 || len % 4 != 0)
		return -EINVAL;
	while (pad < 2 && s[len - 1 - pad] == '=')
		pad++;
	if ((len / 4) * 3 - pad != outlen)
		return -EINVAL;
	for (size_t i = 0; i < len - pad; i++) {
		int v = manifest_b64val(s[i]);

		if (v < 0)
			return -EINVAL;
		acc = acc << 6 | (uint32_t)v;
		if (i % 4 == 3) {
			out[n++] = (uint8_t)(acc >> 16);
			out[n++] = (uint8_t)(acc >> 8);
			out[n++] = (uint8_t)acc;
			acc = 0;
		}
	}
	/* The last group: 2 chars give 1 byte, 3 give 2; unused low bits must be 0. */
	if (pad == 2) {
		if (acc & 0xf)
			return -EINVAL;
		out[n++] = (uint8_t)(acc >> 4);
	} else if (pad == 1) {
		if (acc & 0x3)
			return -EINVAL;
		out[n++] = (uint8_t)(acc >> 10);
		out[n++] = (uint8_t)(acc >> 2);
	}
	return n == outlen ? 0 : -EINVAL;
}

static int manifest_payload_ok(const char *v, size_t len)
{
	if (len == 0 || len >= MANIFEST_PAYLOAD_MAX || v[0] == '.')
		return 0;
	/* One plain file name: no '/', so the URL cannot leave the manifest's directory. */
	for (size_t i = 0; i < len; i++) {
		char c = v[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* One body field; returns 0 or the detail word of what is wrong with its value. */
static const char *manifest_field(struct manifest *m, enum manifest_key key, const char *v,
				  size_t len)
{
	switch (key) {
	case MF_VERSION:
		if (len == 0 || len >= MANIFEST_VERSION_MAX)
			return "version";
		memcpy(m->version, v, len);
		m->version[len] = '\0';
		/* The version goes into markers, so it must be a marker value. */
		return marker_value_ok(m->version) ? NULL : "version";
	case MF_PAYLOAD:
		if (!manifest_payload_ok(v, len))
			return "payload";
		memcpy(m->payload, v, len);
		m->payload[len] = '\0';
		return NULL;
	case MF_SIZE:
		if (num_parse_u64(v, len, UINT64_MAX, &m->size) < 0 || m->size == 0)
			return "size";
		return NULL;
	case MF_SHA256:
		if (len != 2 * VERIFY_SHA256_LEN)
			return "sha256";
		for (size_t i = 0; i < VERIFY_SHA256_LEN; i++) {
			int hi = manifest_hexval(v[2 * i]), lo = manifest_hexval(v[2 * i + 1]);

			if (hi < 0 || lo < 0)
				return "sha256";
			m->sha256[i] = (uint8_t)(hi << 4 | lo);
		}
		return NULL;
	default:
		return "unknown-key";
	}
}

static int manifest_lookup(const char *key, size_t len)
{
	for (int k = 0; k < MF_NKEYS; k++) {
		if (strlen(manifest_keys[k]) == len && memcmp(manifest_keys[k], key, len) == 0)
			return k;
	}
	return -1;
}

/* The body: every line before the signature line. */
static int manifest_parse_body(const char *buf, size_t len, struct manifest *m,
			       const char **detail)
{
	const char *p = buf, *end = buf + len;
	unsigned seen = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eq = memchr(p, '=', (size_t)(nl - p));
		const char *why;
		int key;

		if (!eq || eq == p)
			return manifest_fail(detail, "syntax", -EINVAL);
		key = manifest_lookup(p, (size_t)(eq - p));
		if (key < 0) {
			if ((size_t)(eq - p) == strlen(MANIFEST_SIG_KEY) - 1 &&
			    memcmp(p, MANIFEST_SIG_KEY, (size_t)(eq - p)) == 0)
				return manifest_fail(detail, "signature-not-last", -EINVAL);
			return manifest_fail(detail, "unknown-key", -EINVAL);
		}
		if (seen & (1u << key))
			return manifest_fail(detail, "duplicate-key", -EINVAL);
		seen |= 1u << key;
		why = manifest_field(m, (enum manifest_key)key, eq + 1, (size_t)(nl - eq - 1));
		if (why)
			return manifest_fail(detail, why, -EINVAL);
		p = nl + 1;
	}
	if (seen != (1u << MF_NKEYS) - 1)
		return manifest_fail(detail, "missing-key", -EINVAL);
	return 0;
}

int manifest_parse(const char *buf, size_t len, struct manifest *m, const char **detail)
{
	struct manifest tmp = { 0 };
	const char *last, *p;
	size_t siglen;
	int rc;

	if (!buf || !m)
		return manifest_fail(detail, "syntax", -EINVAL);
	if (len > MANIFEST_FILE_MAX)
		return manifest_fail(detail, "too-big", -EFBIG);
	if (len == 0)
		return manifest_fail(detail, "no-signature", -EINVAL);
	if (memchr(buf, '\0', len))
		return manifest_fail(detail, "nul", -EINVAL);
	/* Every line ends in '\n': a missing last newline means a truncated file. */
	if (buf[len - 1] != '\n')
		return manifest_fail(detail, "no-newline", -EINVAL);

	last = buf;
	for (p = buf; p < buf + len;) {
		const char *nl = memchr(p, '\n', (size_t)(buf + len - p));

		if ((size_t)(nl - p) + 1 > MANIFEST_LINE_MAX)
			return manifest_fail(detail, "long-line", -EINVAL);
		last = p;
		p = nl + 1;
	}

	/* The last line is the signature over all bytes before it. */
	siglen = (size_t)(buf + len - last) - 1;
	if (siglen < strlen(MANIFEST_SIG_KEY) ||
	    memcmp(last, MANIFEST_SIG_KEY, strlen(MANIFEST_SIG_KEY)) != 0)
		return manifest_fail(detail, "no-signature", -EINVAL);
	rc = manifest_parse_body(buf, (size_t)(last - buf), &tmp, detail);
	if (rc < 0)
		return rc;
	if (manifest_base64(last + strlen(MANIFEST_SIG_KEY), siglen - strlen(MANIFEST_SIG_KEY),
			    tmp.signature, sizeof(tmp.signature)) < 0)
		return manifest_fail(detail, "signature-encoding", -EINVAL);
	tmp.signed_len = (size_t)(last - buf);
	*m = tmp;
	return 0;
}

int manifest_verify(const struct manifest *m, const char *buf, EVP_PKEY *key)
{
	if (!m || !buf || !key)
		return -EINVAL;
	return verify_ed25519(key, buf, m->signed_len, m->signature, sizeof(m->signature));
}

int manifest_payload_url(const char *manifest_url, const struct manifest *m, char *out,
			 size_t size)
{
	const char *slash = strrchr(manifest_url, '/');
	const char *scheme = strstr(manifest_url, "://");
	int n;

	/* The '/' must end a path, not be part of "scheme://". */
	if (!slash || (scheme && slash < scheme + 3) ||
	    !manifest_payload_ok(m->payload, strlen(m->payload)))
		return -EINVAL;
	n = snprintf(out, size, "%.*s%s", (int)(slash - manifest_url + 1), manifest_url,
		     m->payload);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}

/* The leading release number of a version, or -1 when it has none. */
static long manifest_release(const char *version)
{
	long n = 0;
	size_t i;

	for (i = 0; version[i] >= '0' && version[i] <= '9'; i++) {
		if (i == 9)
			return -1;
		n = n * 10 + (version[i] - '0');
	}
	if (i == 0 || (version[i] != '\0' && version[i] != '-'))
		return -1;
	return n;
}

int manifest_release_cmp(const char *a, const char *b, int *order)
{
	long ra = manifest_release(a), rb = manifest_release(b);

	if (ra < 0 || rb < 0)
		return -EINVAL;
	*order = (ra > rb) - (ra < rb);
	return 0;
}
