/*
 * brownout-ab: the A/B update client.
 *   install URL  fetch and verify a signed manifest, stream its payload into
 *                the inactive root slot, verify it there, switch the boot order
 *   confirm      run the health check; mark the booted slot good, or reboot
 *   status       print the booted slot and the boot variables as one marker
 * Exit status: 0 success, 1 update error (or, for confirm, an unhealthy slot),
 * 2 usage error, 3 confirm could not check or mark the slot.
 */
#include "env.h"
#include "bootenv.h"
#include "download.h"
#include "envstore.h"
#include "manifest.h"
#include "marker.h"
#include "num.h"
#include "slot.h"
#include "slotstate.h"
#include "update.h"
#include "verify.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <spawn.h>
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

enum { AB_OK = UPDATE_OK, AB_ERROR = UPDATE_ERROR, AB_USAGE = 2, AB_CONFIRM_ERROR = 3 };

struct ab {
	struct update up;	/* what the shared install steps read (src/lib/update.h) */
	const char *fw_config;
	const char *state_dir;	/* slotstate records */
	const char *cmdline;
	const char *health;
	const char *version_file;
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
		"  --fw-config PATH       libubootenv config (default " ENVSTORE_CONFIG_DEFAULT ")\n"
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
		"  --state-dir PATH       where the verified payload each slot holds is recorded\n"
		"                         (default " SLOTSTATE_DIR_DEFAULT ")\n"
		"  --help                 show this help\n"
		"exit status: 0 success, 1 update error or unhealthy slot, 2 usage error,\n"
		"             3 confirm could not check or mark the slot\n",
		AB_RETRIES_MAX, AB_STALL_MAX);
}

static void ab_read_version(const char *path, char *out, size_t size);

/*
 * Record that the target slot holds the manifest's payload, verified. Only a
 * hint for a later install of the same payload (slotstate.h): one that cannot
 * be written is said and the install goes on.
 */
static void ab_record_slot(const struct ab *ab, const struct manifest *m)
{
	struct slotstate st = { .size = m->size };
	int rc;

	memcpy(st.sha256, m->sha256, sizeof(st.sha256));
	rc = slotstate_write(ab->state_dir, update_target(&ab->up), &st);
	if (rc < 0)
		fprintf(stderr, "brownout-ab: %s: recording slot %c: %s (the next install pulls again)\n",
			ab->state_dir, update_target(&ab->up), strerror(-rc));
}

/* Deploy: make the slot durable, check what the transfer hashed, then what storage holds. */
static int ab_deploy(const struct ab *ab, const struct manifest *m, struct slot *slot,
		     const struct download_result *res)
{
	const struct update *up = &ab->up;
	char want[VERIFY_SHA256_HEX], got[VERIFY_SHA256_HEX], word[UPDATE_WORD_MAX];
	const char *method = "none";
	int rc;

	/* Durable before it is checked and long before the boot order points at it. */
	rc = update_deploy_start(up, m, slot, res);
	if (rc != AB_OK)
		return rc;
	if (memcmp(res->sha256, m->sha256, VERIFY_SHA256_LEN) != 0) {
		verify_hex(m->sha256, VERIFY_SHA256_LEN, want);
		verify_hex(res->sha256, VERIFY_SHA256_LEN, got);
		return update_fail(up, "verify", "sha256", "payload sha256 %s, manifest says %s",
				   got, want);
	}
	rc = slot_verify(slot, m->size, m->sha256, &method);
	if (rc < 0)
		return update_fail(up, "verify", rc == -EBADMSG ? "readback" :
				   update_errno_word(rc, word, sizeof(word)),
				   "%s: reading back %" PRIu64 " bytes (%s): %s", slot->path, m->size,
				   method, rc == -EBADMSG ? "sha256 differs" : strerror(-rc));
	ab_record_slot(ab, m);
	update_phase(up, "deploy", "end", MARKER({ "readback", method }));
	return AB_OK;
}

/*
 * Does the target slot hold the manifest's payload already (an earlier
 * install of it wrote and verified the slot, then lost power before the boot
 * order switched)? Its record says so (slotstate.h). A record of another
 * payload, or a garbled one, is removed before the slot is written again.
 * 1: the slot holds it, deployed; 0: pull it; -1 after a failure (said).
 */
static int ab_reuse(const struct ab *ab, const struct manifest *m)
{
	const struct update *up = &ab->up;
	char target = update_target(up), word[UPDATE_WORD_MAX];
	struct slotstate st;
	int held, rc;

	held = slotstate_read(ab->state_dir, target, &st);
	if (held == -ENOENT)
		return 0;
	if (held == 0 && st.size == m->size && memcmp(st.sha256, m->sha256, sizeof(st.sha256)) == 0) {
		update_phase(up, "pull", "end", MARKER({ "bytes", "0" }, { "reused", "slot" }));
		update_phase(up, "deploy", "start", MARKER_NONE);
		update_phase(up, "deploy", "end", MARKER({ "reused", "slot" }));
		return 1;
	}
	rc = slotstate_clear(ab->state_dir, target);
	if (rc < 0) {
		update_fail(up, "slotstate", update_errno_word(rc, word, sizeof(word)),
			    "%s: removing the record of slot %c: %s", ab->state_dir, target,
			    strerror(-rc));
		return -1;
	}
	return 0;
}

/* Pull, deploy, and only then point the boot order at the new slot, the running one behind it. */
static int ab_install(const struct ab *ab, const char *url)
{
	char target = update_target(&ab->up), tslot[2] = { target, '\0' }, word[UPDATE_WORD_MAX];
	struct download_result res;
	struct slot slot = { .fd = -1 };
	struct manifest m = { 0 };
	char running[MANIFEST_VERSION_MAX];
	int rc;

	update_phase(&ab->up, "pull", "start", MARKER({ "slot", tslot }));
	rc = update_manifest(&ab->up, url, &m);
	if (rc != AB_OK)
		return rc;
	/* A device that runs this version already has nothing to install (a retry that came true). */
	ab_read_version(ab->version_file, running, sizeof(running));
	if (strcmp(running, m.version) == 0) {
		update_marker(&ab->up, "update-none",
			      MARKER({ "reason", "current" }, { "version", running }));
		return AB_OK;
	}
	rc = ab_reuse(ab, &m);
	if (rc == 0) {
		rc = update_pull_payload(&ab->up, url, &m, &slot, &res);
		if (rc == AB_OK)
			rc = ab_deploy(ab, &m, &slot, &res);
	} else {
		rc = rc == 1 ? AB_OK : AB_ERROR;
	}
	slot_close(&slot);
	if (rc != AB_OK)
		return rc;

	update_phase(&ab->up, "bootloader", "start", MARKER({ "slot", tslot }));
	rc = ab_env_switch(ab->fw_config, target);
	if (rc < 0)
		return update_fail(&ab->up, "bootenv", update_errno_word(rc, word, sizeof(word)),
				   "%s: switching to slot %c: %s", ab->fw_config, target,
				   rc == -EIO ? "read-back shows other values" : strerror(-rc));
	update_phase(&ab->up, "bootloader", "end", MARKER({ "slot", tslot }));
	return update_reboot(&ab->up, tslot);
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
	const struct update *up = &ab->up;
	char slot[2] = { up->running, '\0' }, version[MANIFEST_VERSION_MAX], word[UPDATE_WORD_MAX];
	int stored = 0, rc;

	if (!ab_healthy(ab->health)) {
		update_marker(up, "confirm", MARKER({ "result", "bad" }, { "slot", slot }));
		/* Not marked good: this boot spent a try; U-Boot falls back once they are gone. */
		sync();
		update_marker(up, "reboot", MARKER({ "reason", "unhealthy" }, { "slot", slot }));
		if (!up->no_reboot && reboot(RB_AUTOBOOT) < 0)
			fprintf(stderr, "brownout-ab: reboot: %s\n", strerror(errno));
		return AB_ERROR;
	}
	rc = ab_env_mark_good(ab->fw_config, up->running, &stored);
	if (rc < 0) {
		fprintf(stderr, "brownout-ab: %s: marking slot %c good: %s\n", ab->fw_config,
			up->running, rc == -EIO ? "read-back shows other values" : strerror(-rc));
		update_marker(up, "confirm", MARKER({ "result", "error" },
						    { "slot", slot },
						    { "detail", update_errno_word(rc, word, sizeof(word)) }));
		return AB_CONFIRM_ERROR;
	}
	ab_read_version(ab->version_file, version, sizeof(version));
	update_marker(up, "confirm", MARKER({ "result", "good" },
					    { "slot", slot },
					    { "version", version },
					    { "env", stored ? "written" : "unchanged" }));
	return AB_OK;
}

static int ab_status(const struct ab *ab)
{
	char slot[2] = { ab->up.running, '\0' }, order[2 * BOOTENV_SLOTS], a[4], b[4], next[5] = "none";
	struct bootenv_decision d;
	struct bootenv_state st;
	size_t n;
	int rc;

	rc = ab_env_read(ab->fw_config, &st);
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
	update_marker(&ab->up, "ab-status", MARKER({ "slot", slot },
						   { "order", order },
						   { "a_left", a },
						   { "b_left", b },
						   { "next", next }));
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
		{ "state-dir", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		const char **path = NULL;

		switch (c) {
		case 'k': path = &ab->up.pubkey; break;
		case 'c': path = &ab->fw_config; break;
		case 'a': path = &ab->up.device[0]; break;
		case 'b': path = &ab->up.device[1]; break;
		case 'l': path = &ab->cmdline; break;
		case 'H': path = &ab->health; break;
		case 'v': path = &ab->version_file; break;
		case 'S': path = &ab->state_dir; break;
		case 'n':
			ab->up.no_reboot = true;
			break;
		case 'r':
			if (num_parse_u64(optarg, strlen(optarg), AB_RETRIES_MAX, &v) < 0) {
				fprintf(stderr, "brownout-ab: --retries: '%s' is not 0..%d\n", optarg,
					AB_RETRIES_MAX);
				return -EINVAL;
			}
			ab->up.dl.retries = (unsigned)v;
			break;
		case 's':
			if (num_parse_u64(optarg, strlen(optarg), AB_STALL_MAX, &v) < 0 || v == 0) {
				fprintf(stderr, "brownout-ab: --stall-timeout: '%s' is not 1..%d\n",
					optarg, AB_STALL_MAX);
				return -EINVAL;
			}
			ab->up.dl.stall_timeout_s = (long)v;
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
		.up = {
			.name = "brownout-ab",
			.pubkey = AB_PUBKEY_DEFAULT,
			.device = { SLOT_DEVICE_A, SLOT_DEVICE_B },
			.dl = DOWNLOAD_OPTS_DEFAULT,
		},
		.fw_config = ENVSTORE_CONFIG_DEFAULT,
		.cmdline = SLOT_CMDLINE_DEFAULT,
		.health = AB_HEALTH_DEFAULT,
		.version_file = AB_VERSION_DEFAULT,
		.state_dir = SLOTSTATE_DIR_DEFAULT,
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
	rc = slot_read_cmdline(ab.cmdline, &ab.up.running);
	if (rc < 0) {
		fprintf(stderr, "brownout-ab: %s: no brownout.slot=A|B: %s\n", ab.cmdline,
			strerror(-rc));
		if (strcmp(cmd, "install") == 0)
			update_marker(&ab.up, "update-error",
				      MARKER({ "reason", "slot" }, { "detail", "cmdline" }));
		if (strcmp(cmd, "confirm") == 0) {
			update_marker(&ab.up, "confirm",
				      MARKER({ "result", "error" },
					     { "slot", "none" },
					     { "detail", "cmdline" }));
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
