/*
 * brownout-ab: the A/B update client.
 *   install URL  fetch and verify a signed manifest, stream its payload into
 *                the inactive root slot, verify it there, switch the boot order
 *   confirm      run the health check; mark the booted slot good, or reboot
 *   status       print the booted slot and the boot variables as one marker
 * Exit status: 0 success, 1 update error (or, for confirm, an unhealthy slot),
 * 2 usage error, 3 confirm could not check or mark the slot.
 */
#include "abenv.h"
#include "bootenv.h"
#include "download.h"
#include "manifest.h"
#include "marker.h"
#include "num.h"
#include "slot.h"
#include "verify.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/wait.h>
#include <unistd.h>

#define AB_PUBKEY_DEFAULT "/etc/brownout/update.pub"
#define AB_HEALTH_DEFAULT "/usr/bin/brownout-health"
#define AB_VERSION_DEFAULT "/etc/brownout/version"
#define AB_RETRIES_MAX 1000
#define AB_STALL_MAX 3600

enum { AB_OK = 0, AB_ERROR = 1, AB_USAGE = 2, AB_CONFIRM_ERROR = 3 };

struct ab {
	const char *pubkey;
	const char *fw_config;
	const char *device[BOOTENV_SLOTS];
	const char *cmdline;
	const char *health;
	const char *version_file;
	struct download_opts dl;
	bool no_reboot;
	char running;
};

extern char **environ;

static void ab_usage(FILE *f)
{
	fprintf(f,
		"usage: brownout-ab [options] install URL | confirm | status\n"
		"  install URL            fetch the signed manifest at URL, write its payload to the\n"
		"                         inactive slot, verify it, boot it next, reboot\n"
		"  confirm                run the health check; mark the booted slot good or reboot\n"
		"  status                 print the booted slot, BOOT_ORDER and the counters\n"
		"options:\n"
		"  --pubkey PATH          Ed25519 public key, PEM (default " AB_PUBKEY_DEFAULT ")\n"
		"  --fw-config PATH       libubootenv config (default " ABENV_CONFIG_DEFAULT ")\n"
		"  --slot-device-a PATH   slot A (default " SLOT_DEVICE_A ")\n"
		"  --slot-device-b PATH   slot B (default " SLOT_DEVICE_B ")\n"
		"  --cmdline PATH         kernel command line with brownout.slot= (default "
		SLOT_CMDLINE_DEFAULT ")\n"
		"  --retries N            resumed attempts after a broken transfer, 0..%d (default 5)\n"
		"  --stall-timeout S      end an attempt that got no byte for S seconds, 1..%d\n"
		"                         (default 30)\n"
		"  --no-reboot            do everything but reboot\n"
		"  --health PATH          health check (default " AB_HEALTH_DEFAULT ")\n"
		"  --version-file PATH    version of the booted root (default " AB_VERSION_DEFAULT ")\n"
		"  --help                 show this help\n"
		"exit status: 0 success, 1 update error or unhealthy slot, 2 usage error,\n"
		"             3 confirm could not check or mark the slot\n",
		AB_RETRIES_MAX, AB_STALL_MAX);
}

static void ab_marker(const char *event, const struct marker_field *f, size_t n)
{
	int rc = marker_emit(STDOUT_FILENO, event, f, n);

	if (rc < 0)
		fprintf(stderr, "brownout-ab: marker %s: %s\n", event, strerror(-rc));
}

/* A negative errno as a marker word: "ebusy", "enodata". */
static const char *ab_errno_word(int rc, char *buf, size_t size)
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

/* The one report of a failed install: a marker for the harness, a line for people. */
static int ab_fail(const char *reason, const char *detail, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int ab_fail(const char *reason, const char *detail, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "brownout-ab: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	ab_marker("update-error", (struct marker_field[]){ { "reason", reason },
							   { "detail", detail ? detail : "unknown" } }, 2);
	return AB_ERROR;
}

static void ab_phase(const char *name, const char *state, const struct marker_field *extra,
		     size_t n)
{
	struct marker_field f[6] = { { "name", name }, { "state", state } };

	for (size_t i = 0; i < n && i + 2 < sizeof(f) / sizeof(f[0]); i++)
		f[i + 2] = extra[i];
	ab_marker("phase", f, n + 2 < 6 ? n + 2 : 6);
}

static int ab_sink_write(void *ctx, uint64_t offset, const void *buf, size_t len)
{
	return slot_write(ctx, offset, buf, len);
}

/* Fetch, parse and verify the manifest; nothing on the device changes here. */
static int ab_manifest(const struct ab *ab, const char *url, struct manifest *m)
{
	char buf[MANIFEST_FILE_MAX], word[32];
	struct download_result res;
	const char *detail = NULL;
	EVP_PKEY *key = NULL;
	size_t len = 0;
	int rc;

	rc = download_small(url, buf, sizeof(buf), &len, &ab->dl, &res);
	if (rc < 0)
		return ab_fail(rc == -EFBIG ? "manifest" : "download", res.detail,
			       "%s: %s (%s)", url, strerror(-rc), res.detail);
	rc = manifest_parse(buf, len, m, &detail);
	if (rc < 0)
		return ab_fail("manifest", detail, "%s: malformed manifest: %s", url, detail);
	rc = verify_pubkey_load(ab->pubkey, &key);
	if (rc < 0)
		return ab_fail("pubkey", ab_errno_word(rc, word, sizeof(word)),
			       "%s: cannot load an Ed25519 public key: %s", ab->pubkey,
			       strerror(-rc));
	rc = manifest_verify(m, buf, key);
	verify_pubkey_free(key);
	if (rc < 0)
		return ab_fail("manifest", rc == -EBADMSG ? "bad-signature" : "verify",
			       "%s: signature does not verify with %s", url, ab->pubkey);
	return AB_OK;
}

/* Pull: the payload into the slot, hashed on the way. */
static int ab_pull(const struct ab *ab, const char *url, const struct manifest *m,
		   struct slot *slot, struct download_result *res)
{
	struct download_sink sink = { .write = ab_sink_write, .ctx = slot };
	char payload_url[1024], bytes[24], received[24], attempts[16];
	int rc;

	rc = manifest_payload_url(url, m, payload_url, sizeof(payload_url));
	if (rc < 0)
		return ab_fail("manifest", "url", "%s: no payload URL next to it", url);
	rc = download_payload(payload_url, m->size, &ab->dl, &sink, res);
	if (rc < 0)
		return ab_fail("download", res->detail, "%s: %s after %u attempts (%s)",
			       payload_url, strerror(-rc), res->attempts, res->detail);
	snprintf(bytes, sizeof(bytes), "%" PRIu64, res->bytes);
	snprintf(received, sizeof(received), "%" PRIu64, res->received);
	snprintf(attempts, sizeof(attempts), "%u", res->attempts);
	ab_phase("pull", "end", (struct marker_field[]){ { "bytes", bytes },
							 { "received", received },
							 { "attempts", attempts } }, 3);
	return AB_OK;
}

/* Deploy: make the slot durable, check what the transfer hashed, then what storage holds. */
static int ab_deploy(const struct manifest *m, struct slot *slot,
		     const struct download_result *res)
{
	char want[VERIFY_SHA256_HEX], got[VERIFY_SHA256_HEX], word[32];
	const char *method = "none";
	int rc;

	ab_phase("deploy", "start", NULL, 0);
	/* Durable before it is checked and long before the boot order points at it. */
	rc = slot_sync(slot);
	if (rc < 0)
		return ab_fail("deploy", ab_errno_word(rc, word, sizeof(word)), "%s: fsync: %s",
			       slot->path, strerror(-rc));
	if (res->bytes != m->size)
		return ab_fail("verify", "size", "%s: got %" PRIu64 " bytes, manifest says %" PRIu64,
			       slot->path, res->bytes, m->size);
	if (memcmp(res->sha256, m->sha256, VERIFY_SHA256_LEN) != 0) {
		verify_hex(m->sha256, VERIFY_SHA256_LEN, want);
		verify_hex(res->sha256, VERIFY_SHA256_LEN, got);
		return ab_fail("verify", "sha256", "payload sha256 %s, manifest says %s", got, want);
	}
	rc = slot_verify(slot, m->size, m->sha256, &method);
	if (rc < 0)
		return ab_fail("verify", rc == -EBADMSG ? "readback" : ab_errno_word(rc, word, sizeof(word)),
			       "%s: reading back %" PRIu64 " bytes (%s): %s", slot->path, m->size,
			       method, rc == -EBADMSG ? "sha256 differs" : strerror(-rc));
	ab_phase("deploy", "end", (struct marker_field[]){ { "readback", method } }, 1);
	return AB_OK;
}

static int ab_install(const struct ab *ab, const char *url)
{
	char target = ab->running == 'A' ? 'B' : 'A', tslot[2] = { target, '\0' };
	char word[32], size[24];
	struct download_result res;
	struct slot slot = { .fd = -1 };
	struct manifest m;
	int rc;

	ab_phase("pull", "start", (struct marker_field[]){ { "slot", tslot } }, 1);
	rc = ab_manifest(ab, url, &m);
	if (rc != AB_OK)
		return rc;
	snprintf(size, sizeof(size), "%" PRIu64, m.size);
	ab_marker("manifest", (struct marker_field[]){ { "version", m.version },
						       { "size", size } }, 2);

	rc = slot_open(&slot, ab->device[target - 'A'], ab->device[ab->running - 'A']);
	if (rc < 0)
		return ab_fail("slot", ab_errno_word(rc, word, sizeof(word)),
			       "%s: cannot open slot %c for writing: %s",
			       ab->device[target - 'A'], target, strerror(-rc));
	if (m.size > slot.size) {
		rc = ab_fail("manifest", "too-big-for-slot", "payload of %" PRIu64
			     " bytes does not fit slot %c (%" PRIu64 " bytes)", m.size, target,
			     slot.size);
		goto out;
	}
	rc = ab_pull(ab, url, &m, &slot, &res);
	if (rc == AB_OK)
		rc = ab_deploy(&m, &slot, &res);
	if (rc != AB_OK)
		goto out;
	slot_close(&slot);

	ab_phase("bootloader", "start", (struct marker_field[]){ { "slot", tslot } }, 1);
	rc = abenv_switch(ab->fw_config, target);
	if (rc < 0) {
		rc = ab_fail("bootenv", ab_errno_word(rc, word, sizeof(word)),
			     "%s: switching to slot %c: %s", ab->fw_config, target,
			     rc == -EIO ? "read-back shows other values" : strerror(-rc));
		goto out;
	}
	ab_phase("bootloader", "end", (struct marker_field[]){ { "slot", tslot } }, 1);

	/* Everything that matters is fsync'd already; sync() covers the rest (logs on /data). */
	sync();
	ab_marker("reboot", (struct marker_field[]){ { "reason", "update" }, { "slot", tslot } }, 2);
	if (!ab->no_reboot && reboot(RB_AUTOBOOT) < 0) {
		rc = ab_fail("reboot", ab_errno_word(-errno, word, sizeof(word)), "reboot: %s",
			     strerror(errno));
		goto out;
	}
	rc = AB_OK;
out:
	slot_close(&slot);
	return rc;
}

/* Run the health check; 1 if it passed, 0 if it failed or could not run. */
static int ab_healthy(const char *health)
{
	char *argv[] = { (char *)health, NULL };
	int status, rc;
	pid_t pid;

	rc = posix_spawn(&pid, health, NULL, NULL, argv, environ);
	if (rc != 0) {
		fprintf(stderr, "brownout-ab: %s: %s\n", health, strerror(rc));
		return 0;
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "brownout-ab: %s: waitpid: %s\n", health, strerror(errno));
			return 0;
		}
	}
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* The booted root's version for the confirm marker, or "unknown". */
static void ab_read_version(const char *path, char *out, size_t size)
{
	FILE *f = fopen(path, "re");
	size_t len;

	snprintf(out, size, "unknown");
	if (!f)
		return;
	if (fgets(out, (int)size, f)) {
		len = strcspn(out, "\n");
		out[len] = '\0';
		if (!marker_value_ok(out))
			snprintf(out, size, "unknown");
	}
	fclose(f);
}

static int ab_confirm(const struct ab *ab)
{
	char slot[2] = { ab->running, '\0' }, version[MANIFEST_VERSION_MAX], word[32];
	int stored = 0, rc;

	if (!ab_healthy(ab->health)) {
		ab_marker("confirm", (struct marker_field[]){ { "result", "bad" },
							      { "slot", slot } }, 2);
		/* Not marked good: this boot spent a try; U-Boot falls back once they are gone. */
		sync();
		ab_marker("reboot", (struct marker_field[]){ { "reason", "unhealthy" },
							     { "slot", slot } }, 2);
		if (!ab->no_reboot && reboot(RB_AUTOBOOT) < 0)
			fprintf(stderr, "brownout-ab: reboot: %s\n", strerror(errno));
		return AB_ERROR;
	}
	rc = abenv_mark_good(ab->fw_config, ab->running, &stored);
	if (rc < 0) {
		fprintf(stderr, "brownout-ab: %s: marking slot %c good: %s\n", ab->fw_config,
			ab->running, rc == -EIO ? "read-back shows other values" : strerror(-rc));
		ab_marker("confirm", (struct marker_field[]){ { "result", "error" },
							      { "slot", slot },
							      { "detail", ab_errno_word(rc, word, sizeof(word)) } }, 3);
		return AB_CONFIRM_ERROR;
	}
	ab_read_version(ab->version_file, version, sizeof(version));
	ab_marker("confirm", (struct marker_field[]){ { "result", "good" },
						      { "slot", slot },
						      { "version", version },
						      { "env", stored ? "written" : "unchanged" } }, 4);
	return AB_OK;
}

static int ab_status(const struct ab *ab)
{
	char slot[2] = { ab->running, '\0' }, order[2 * BOOTENV_SLOTS], a[4], b[4], next[5] = "none";
	struct bootenv_decision d;
	struct bootenv_state st;
	size_t n;
	int rc;

	rc = abenv_read(ab->fw_config, &st);
	if (rc < 0) {
		fprintf(stderr, "brownout-ab: %s: cannot read the A/B variables: %s\n",
			ab->fw_config, strerror(-rc));
		return AB_ERROR;
	}
	/* Marker values have no spaces: "A B" becomes "A,B". */
	n = strlen(st.order);
	for (size_t i = 0; i < n; i++) {
		order[2 * i] = st.order[i];
		order[2 * i + 1] = ',';
	}
	order[2 * n - 1] = '\0';
	snprintf(a, sizeof(a), "%u", st.left[0]);
	snprintf(b, sizeof(b), "%u", st.left[1]);
	if (bootenv_decide(&st, &d) == 0)
		next[0] = d.slot, next[1] = '\0';
	ab_marker("ab-status", (struct marker_field[]){ { "slot", slot },
							{ "order", order },
							{ "a_left", a },
							{ "b_left", b },
							{ "next", next } }, 5);
	return AB_OK;
}

/* Returns 1 to run, 0 to exit 0 (--help), -EINVAL on a usage error (reported). */
static int ab_parse_args(struct ab *ab, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pubkey", required_argument, NULL, 'k' },
		{ "fw-config", required_argument, NULL, 'c' },
		{ "slot-device-a", required_argument, NULL, 'a' },
		{ "slot-device-b", required_argument, NULL, 'b' },
		{ "cmdline", required_argument, NULL, 'l' },
		{ "retries", required_argument, NULL, 'r' },
		{ "stall-timeout", required_argument, NULL, 's' },
		{ "no-reboot", no_argument, NULL, 'n' },
		{ "health", required_argument, NULL, 'H' },
		{ "version-file", required_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		const char **path = NULL;

		switch (c) {
		case 'k': path = &ab->pubkey; break;
		case 'c': path = &ab->fw_config; break;
		case 'a': path = &ab->device[0]; break;
		case 'b': path = &ab->device[1]; break;
		case 'l': path = &ab->cmdline; break;
		case 'H': path = &ab->health; break;
		case 'v': path = &ab->version_file; break;
		case 'n':
			ab->no_reboot = true;
			break;
		case 'r':
			if (num_parse_u64(optarg, strlen(optarg), AB_RETRIES_MAX, &v) < 0) {
				fprintf(stderr, "brownout-ab: --retries: '%s' is not 0..%d\n", optarg,
					AB_RETRIES_MAX);
				return -EINVAL;
			}
			ab->dl.retries = (unsigned)v;
			break;
		case 's':
			if (num_parse_u64(optarg, strlen(optarg), AB_STALL_MAX, &v) < 0 || v == 0) {
				fprintf(stderr, "brownout-ab: --stall-timeout: '%s' is not 1..%d\n",
					optarg, AB_STALL_MAX);
				return -EINVAL;
			}
			ab->dl.stall_timeout_s = (long)v;
			break;
		case 'h':
			ab_usage(stdout);
			return 0;
		default:
			return -EINVAL;	/* getopt_long has said what is wrong */
		}
		if (path) {
			if (!*optarg) {
				fprintf(stderr, "brownout-ab: empty path\n");
				return -EINVAL;
			}
			*path = optarg;
		}
	}
	return 1;
}

int main(int argc, char **argv)
{
	struct ab ab = {
		.pubkey = AB_PUBKEY_DEFAULT,
		.fw_config = ABENV_CONFIG_DEFAULT,
		.device = { SLOT_DEVICE_A, SLOT_DEVICE_B },
		.cmdline = SLOT_CMDLINE_DEFAULT,
		.health = AB_HEALTH_DEFAULT,
		.version_file = AB_VERSION_DEFAULT,
		.dl = DOWNLOAD_OPTS_DEFAULT,
	};
	const char *cmd;
	int nargs, rc;

	rc = ab_parse_args(&ab, argc, argv);
	if (rc <= 0)
		return rc < 0 ? AB_USAGE : AB_OK;
	cmd = optind < argc ? argv[optind] : NULL;
	nargs = argc - optind - 1;
	if (!cmd) {
		fprintf(stderr, "brownout-ab: no command (install URL, confirm or status); see --help\n");
		return AB_USAGE;
	}
	if (strcmp(cmd, "install") != 0 && strcmp(cmd, "confirm") != 0 && strcmp(cmd, "status") != 0) {
		fprintf(stderr, "brownout-ab: unknown command '%s'; see --help\n", cmd);
		return AB_USAGE;
	}
	if (nargs != (strcmp(cmd, "install") == 0 ? 1 : 0)) {
		fprintf(stderr, "brownout-ab: %s takes %s; see --help\n", cmd,
			strcmp(cmd, "install") == 0 ? "one URL" : "no arguments");
		return AB_USAGE;
	}

	/* The running slot comes from what U-Boot told the kernel, never from the env. */
	rc = slot_read_cmdline(ab.cmdline, &ab.running);
	if (rc < 0) {
		fprintf(stderr, "brownout-ab: %s: no brownout.slot=A|B: %s\n", ab.cmdline,
			strerror(-rc));
		if (strcmp(cmd, "install") == 0)
			ab_marker("update-error", (struct marker_field[]){ { "reason", "slot" },
									  { "detail", "cmdline" } }, 2);
		if (strcmp(cmd, "confirm") == 0) {
			ab_marker("confirm", (struct marker_field[]){ { "result", "error" },
								      { "slot", "none" },
								      { "detail", "cmdline" } }, 3);
			return AB_CONFIRM_ERROR;
		}
		return AB_ERROR;
	}

	if (strcmp(cmd, "install") == 0) {
		if (download_global_init() < 0) {
			fprintf(stderr, "brownout-ab: libcurl initialisation failed\n");
			return AB_ERROR;
		}
		rc = ab_install(&ab, argv[optind + 1]);
		download_global_cleanup();
		return rc;
	}
	if (strcmp(cmd, "confirm") == 0)
		return ab_confirm(&ab);
	return ab_status(&ab);
}
