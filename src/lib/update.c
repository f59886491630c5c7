/* update: the install steps of the slot-writing clients (see update.h). */
#include "update.h"

#include "verify.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

char update_target(const struct update *u)
{
	return u->running == 'A' ? 'B' : 'A';
}

int update_run(const struct update *u, int (*install)(void *arg), void *arg)
{
	const char *why;
	int rc;

	if (download_global_init(&why) < 0) {
		fprintf(stderr, "%s: libcurl: %s\n", u->client->name, why);
		return CLIENT_ERROR;
	}
	rc = install(arg);
	download_global_cleanup();
	return rc;
}

int update_manifest(const struct update *u, const char *url, struct manifest *m)
{
	const struct client *c = u->client;
	char buf[MANIFEST_FILE_MAX], word[CLIENT_WORD_MAX], size[24];
	struct download_result res;
	const char *detail = NULL;
	EVP_PKEY *key = NULL;
	size_t len = 0;
	int rc;

	rc = download_small(url, buf, sizeof(buf), &len, &u->dl, &res);
	if (rc < 0)
		return client_fail(c, rc == -EFBIG ? "manifest" : "download", res.detail,
				   "%s: %s (%s)", url, strerror(-rc), res.detail);
	rc = manifest_parse(buf, len, m, &detail);
	if (rc < 0)
		return client_fail(c, "manifest", detail, "%s: malformed manifest: %s", url, detail);
	rc = verify_pubkey_load(u->pubkey, &key);
	if (rc < 0)
		return client_fail(c, "pubkey", client_errno_word(rc, word, sizeof(word)),
				   "%s: cannot load an Ed25519 public key: %s", u->pubkey,
				   strerror(-rc));
	rc = manifest_verify(m, buf, key);
	verify_pubkey_free(key);
	if (rc < 0)
		return client_fail(c, "manifest", rc == -EBADMSG ? "bad-signature" : "verify",
				   "%s: signature does not verify with %s", url, u->pubkey);
	snprintf(size, sizeof(size), "%" PRIu64, m->size);
	client_marker(c, "manifest", MARKER({ "version", m->version }, { "size", size }));
	return CLIENT_OK;
}

int update_check_release(const struct update *u, const struct manifest *m, bool *install)
{
	const struct client *c = u->client;
	char running[MANIFEST_VERSION_MAX];
	int order;

	*install = false;
	client_read_version(c->version_file, running, sizeof(running));
	if (manifest_release_cmp(m->version, running, &order) < 0)
		return client_fail(c, "verify", "version", "cannot order version %s against the running %s",
				   m->version, running);
	if (order < 0)
		return client_fail(c, "verify", "downgrade", "version %s is older than the running %s",
				   m->version, running);
	if (order == 0) {
		client_marker(c, "update-none", MARKER({ "reason", "current" }, { "version", running }));
		return CLIENT_OK;
	}
	*install = true;
	return CLIENT_OK;
}

static int update_sink_write(void *ctx, uint64_t offset, const void *buf, size_t len)
{
	return slot_write(ctx, offset, buf, len);
}

/* The payload named by the manifest into the open slot, hashed on the way, then the slot's tag. */
static int update_payload(const struct update *u, const char *url, const struct manifest *m,
			  struct slot *slot, struct download_result *res, const char *tag)
{
	struct download_sink sink = { .write = update_sink_write, .ctx = slot };
	char payload_url[1024], bytes[24], received[24], attempts[16];
	int rc;

	rc = manifest_payload_url(url, m, payload_url, sizeof(payload_url));
	if (rc < 0)
		return client_fail(u->client, "manifest", "url", "%s: no payload URL next to it",
				   url);
	rc = download_payload(payload_url, m->size, &u->dl, &sink, res);
	if (rc < 0)
		return client_fail(u->client, "download", res->detail,
				   "%s: %s after %u attempts (%s)", payload_url, strerror(-rc),
				   res->attempts, res->detail);
	/* Only a payload whose bytes hashed to the manifest's on the way: one a deploy will not refuse. */
	if (tag && slot_has_tag_room(slot, m->size) &&
	    memcmp(res->sha256, m->sha256, VERIFY_SHA256_LEN) == 0) {
		rc = slot_write_tag(slot, tag);
		if (rc < 0)
			fprintf(stderr, "%s: %s: tagging the slot: %s\n", u->client->name, slot->path,
				strerror(-rc));
	}
	snprintf(bytes, sizeof(bytes), "%" PRIu64, res->bytes);
	snprintf(received, sizeof(received), "%" PRIu64, res->received);
	snprintf(attempts, sizeof(attempts), "%u", res->attempts);
	client_phase(u->client, "pull", "end", MARKER({ "bytes", bytes }, { "received", received },
						       { "attempts", attempts }));
	return CLIENT_OK;
}

int update_pull(const struct update *u, const char *url, struct manifest *m, struct slot *slot,
		struct download_result *res)
{
	char tslot[2] = { update_target(u), '\0' };
	int rc;

	client_phase(u->client, "pull", "start", MARKER({ "slot", tslot }));
	rc = update_manifest(u, url, m);
	if (rc != CLIENT_OK)
		return rc;
	return update_pull_payload(u, url, m, slot, res, NULL);
}

int update_pull_payload(const struct update *u, const char *url, const struct manifest *m,
			struct slot *slot, struct download_result *res, const char *tag)
{
	char target = update_target(u), word[CLIENT_WORD_MAX];
	const char *dev = u->device[target - 'A'];
	int rc;

	rc = slot_open(slot, dev, u->device[u->running - 'A']);
	if (rc < 0)
		return client_fail(u->client, "slot", client_errno_word(rc, word, sizeof(word)),
				   "%s: cannot open slot %c for writing: %s", dev, target,
				   strerror(-rc));
	if (m->size > slot->size)
		return client_fail(u->client, "manifest", "too-big-for-slot", "payload of %" PRIu64
				   " bytes does not fit slot %c (%" PRIu64 " bytes)", m->size,
				   target, slot->size);
	return update_payload(u, url, m, slot, res, tag);
}

int update_deploy_start(const struct update *u, const struct manifest *m, struct slot *slot,
			const struct download_result *res)
{
	char word[CLIENT_WORD_MAX];
	int rc;

	client_phase(u->client, "deploy", "start", MARKER_NONE);
	/* Durable first: every check after this one is about what storage keeps. */
	rc = slot_sync(slot);
	if (rc < 0)
		return client_fail(u->client, "deploy", client_errno_word(rc, word, sizeof(word)),
				   "%s: fsync: %s", slot->path, strerror(-rc));
	if (res->bytes != m->size)
		return client_fail(u->client, "verify", "size", "%s: got %" PRIu64
				   " bytes, manifest says %" PRIu64, slot->path, res->bytes,
				   m->size);
	return CLIENT_OK;
}

int update_deploy(const struct update *u, const struct manifest *m, struct slot *slot,
		  const struct download_result *res, const char **method)
{
	char want[VERIFY_SHA256_HEX], got[VERIFY_SHA256_HEX], word[CLIENT_WORD_MAX];
	int rc;

	*method = "none";
	/* Durable before it is checked and long before the boot order points at it. */
	rc = update_deploy_start(u, m, slot, res);
	if (rc != CLIENT_OK)
		return rc;
	if (memcmp(res->sha256, m->sha256, VERIFY_SHA256_LEN) != 0) {
		verify_hex(m->sha256, VERIFY_SHA256_LEN, want);
		verify_hex(res->sha256, VERIFY_SHA256_LEN, got);
		return client_fail(u->client, "verify", "sha256",
				   "payload sha256 %s, manifest says %s", got, want);
	}
	rc = slot_verify(slot, m->size, m->sha256, method);
	if (rc < 0)
		return client_fail(u->client, "verify", rc == -EBADMSG ? "readback" :
				   client_errno_word(rc, word, sizeof(word)),
				   "%s: reading back %" PRIu64 " bytes (%s): %s", slot->path, m->size,
				   *method, rc == -EBADMSG ? "sha256 differs" : strerror(-rc));
	return CLIENT_OK;
}
