/* update: the install steps brownout-ab and its unsafe test fixture share. */
#include "update.h"

#include "verify.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/reboot.h>
#include <unistd.h>

char update_target(const struct update *u)
{
	return u->running == 'A' ? 'B' : 'A';
}

void update_marker(const struct update *u, const char *event, const struct marker_field *f,
		   size_t n)
{
	int rc = marker_emit(STDOUT_FILENO, event, f, n);

	if (rc < 0)
		fprintf(stderr, "%s: marker %s: %s\n", u->name, event, strerror(-rc));
}

void update_phase(const struct update *u, const char *name, const char *state,
		  const struct marker_field *extra, size_t n)
{
	struct marker_field f[6] = { { "name", name }, { "state", state } };
	size_t max = sizeof(f) / sizeof(f[0]), i;

	for (i = 0; i < n && i + 2 < max; i++)
		f[i + 2] = extra[i];
	update_marker(u, "phase", f, i + 2);
}

const char *update_errno_word(int rc, char *buf, size_t size)
{
	const char *name = strerrorname_np(-rc);
	size_t i;

	if (!name)
		name = "error";
	for (i = 0; name[i] && i + 1 < size; i++)
		buf[i] = (char)tolower((unsigned char)name[i]);
	buf[i] = '\0';
	return buf;
}

int update_fail(const struct update *u, const char *reason, const char *detail,
		const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", u->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	update_marker(u, "update-error", MARKER({ "reason", reason },
						{ "detail", detail ? detail : "unknown" }));
	return UPDATE_ERROR;
}

int update_manifest(const struct update *u, const char *url, struct manifest *m)
{
	char buf[MANIFEST_FILE_MAX], word[UPDATE_WORD_MAX], size[24];
	struct download_result res;
	const char *detail = NULL;
	EVP_PKEY *key = NULL;
	size_t len = 0;
	int rc;

	rc = download_small(url, buf, sizeof(buf), &len, &u->dl, &res);
	if (rc < 0)
		return update_fail(u, rc == -EFBIG ? "manifest" : "download", res.detail,
				   "%s: %s (%s)", url, strerror(-rc), res.detail);
	rc = manifest_parse(buf, len, m, &detail);
	if (rc < 0)
		return update_fail(u, "manifest", detail, "%s: malformed manifest: %s", url,
				   detail);
	rc = verify_pubkey_load(u->pubkey, &key);
	if (rc < 0)
		return update_fail(u, "pubkey", update_errno_word(rc, word, sizeof(word)),
				   "%s: cannot load an Ed25519 public key: %s", u->pubkey,
				   strerror(-rc));
	rc = manifest_verify(m, buf, key);
	verify_pubkey_free(key);
	if (rc < 0)
		return update_fail(u, "manifest", rc == -EBADMSG ? "bad-signature" : "verify",
				   "%s: signature does not verify with %s", url, u->pubkey);
	snprintf(size, sizeof(size), "%" PRIu64, m->size);
	update_marker(u, "manifest", MARKER({ "version", m->version }, { "size", size }));
	return UPDATE_OK;
}

static int update_sink_write(void *ctx, uint64_t offset, const void *buf, size_t len)
{
	return slot_write(ctx, offset, buf, len);
}

/* The payload named by the manifest into the open slot, hashed on the way. */
static int update_payload(const struct update *u, const char *url, const struct manifest *m,
			  struct slot *slot, struct download_result *res)
{
	struct download_sink sink = { .write = update_sink_write, .ctx = slot };
	char payload_url[1024], bytes[24], received[24], attempts[16];
	int rc;

	rc = manifest_payload_url(url, m, payload_url, sizeof(payload_url));
	if (rc < 0)
		return update_fail(u, "manifest", "url", "%s: no payload URL next to it", url);
	rc = download_payload(payload_url, m->size, &u->dl, &sink, res);
	if (rc < 0)
		return update_fail(u, "download", res->detail, "%s: %s after %u attempts (%s)",
				   payload_url, strerror(-rc), res->attempts, res->detail);
	snprintf(bytes, sizeof(bytes), "%" PRIu64, res->bytes);
	snprintf(received, sizeof(received), "%" PRIu64, res->received);
	snprintf(attempts, sizeof(attempts), "%u", res->attempts);
	update_phase(u, "pull", "end", MARKER({ "bytes", bytes },
					      { "received", received },
					      { "attempts", attempts }));
	return UPDATE_OK;
}

int update_pull(const struct update *u, const char *url, struct manifest *m, struct slot *slot,
		struct download_result *res)
{
	char tslot[2] = { update_target(u), '\0' };
	int rc;

	update_phase(u, "pull", "start", MARKER({ "slot", tslot }));
	rc = update_manifest(u, url, m);
	if (rc != UPDATE_OK)
		return rc;
	return update_pull_payload(u, url, m, slot, res);
}

int update_pull_payload(const struct update *u, const char *url, const struct manifest *m,
			struct slot *slot, struct download_result *res)
{
	char target = update_target(u), word[UPDATE_WORD_MAX];
	const char *dev = u->device[target - 'A'];
	int rc;

	rc = slot_open(slot, dev, u->device[u->running - 'A']);
	if (rc < 0)
		return update_fail(u, "slot", update_errno_word(rc, word, sizeof(word)),
				   "%s: cannot open slot %c for writing: %s", dev, target,
				   strerror(-rc));
	if (m->size > slot->size)
		return update_fail(u, "manifest", "too-big-for-slot", "payload of %" PRIu64
				   " bytes does not fit slot %c (%" PRIu64 " bytes)", m->size,
				   target, slot->size);
	return update_payload(u, url, m, slot, res);
}

int update_deploy_start(const struct update *u, const struct manifest *m, struct slot *slot,
			const struct download_result *res)
{
	char word[UPDATE_WORD_MAX];
	int rc;

	update_phase(u, "deploy", "start", MARKER_NONE);
	/* Durable first: every check after this one is about what storage keeps. */
	rc = slot_sync(slot);
	if (rc < 0)
		return update_fail(u, "deploy", update_errno_word(rc, word, sizeof(word)),
				   "%s: fsync: %s", slot->path, strerror(-rc));
	if (res->bytes != m->size)
		return update_fail(u, "verify", "size", "%s: got %" PRIu64 " bytes, manifest says %"
				   PRIu64, slot->path, res->bytes, m->size);
	return UPDATE_OK;
}

int update_reboot(const struct update *u, const char *slot)
{
	char word[UPDATE_WORD_MAX];
	int err;

	/* Everything that matters is fsync'd already; sync() covers the rest (logs on /data). */
	sync();
	update_marker(u, "reboot", MARKER({ "reason", "update" }, { "slot", slot }));
	if (!u->no_reboot && reboot(RB_AUTOBOOT) < 0) {
		err = errno;
		return update_fail(u, "reboot", update_errno_word(-err, word, sizeof(word)),
				   "reboot: %s", strerror(err));
	}
	return UPDATE_OK;
}
