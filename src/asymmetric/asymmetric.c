/*
 * brownout-asymmetric: the asymmetric update client, one program for both systems.
 *   request URL  (normal system) ask for an update: ASYM_URL=URL and
 *                ASYM_RECOVERY=1 in one env store, then reboot into recovery
 *   confirm      (normal system) run the health check; a healthy root is
 *                marked good (tries reset, a pending ASYM_URL becomes
 *                ASYM_GOOD_URL); an unhealthy one reboots and spends a try
 *   recover      (recovery system) install what the env asks for over the
 *                root slot, verify it, clear the flag, reboot into the root
 * The recovery policy (README, "The asymmetric update"; decided in policy.c):
 *   - ASYM_RECOVERY=1: install ASYM_URL. A failure before the root slot is
 *     opened (no manifest, bad signature) drops the request: the root is
 *     intact, so recovery clears the flag and boots it. A broken download
 *     after writing began keeps the request and reboots: recovery retries.
 *     A payload that fails verification after writing (size, hash,
 *     read-back) is never retried: recovery installs ASYM_GOOD_URL instead.
 *   - ASYM_RECOVERY=0 with ASYM_ROOT_LEFT=0: the root spent its tries
 *     without confirming itself (v2-bad): reinstall ASYM_GOOD_URL.
 * Exit status: 0 success, 1 update error (or an unhealthy root), 2 usage error,
 * 3 confirm could not check or mark the root.
 */
#include "env.h"
#include "policy.h"
#include "download.h"
#include "envstore.h"
#include "manifest.h"
#include "marker.h"
#include "num.h"
#include "slot.h"
#include "update.h"
#include "verify.h"

#include <errno.h>
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

#define ASYMMETRIC_PUBKEY_DEFAULT "/etc/brownout/update.pub"
#define ASYMMETRIC_HEALTH_DEFAULT "/usr/bin/brownout-health"
#define ASYMMETRIC_VERSION_DEFAULT "/etc/brownout/version"
#define ASYMMETRIC_ROOT_DEFAULT "/dev/vda3"
#define ASYMMETRIC_RECOVERY_DEFAULT "/dev/vda4"

enum {
	ASYMMETRIC_OK = UPDATE_OK,
	ASYMMETRIC_ERROR = UPDATE_ERROR,
	ASYMMETRIC_USAGE = 2,
	ASYMMETRIC_CONFIRM_ERROR = 3,
};

struct asymmetric {
	/*
	 * The shared install steps write "the slot that is not running": slot A
	 * is the root, slot B the recovery partition, named as the running one
	 * so that slot_open refuses to write it. Markers call the target slot A.
	 */
	struct update up;
	const char *fw_config;
	const char *health;
	const char *version_file;
};

extern char **environ;

static void asymmetric_usage(FILE *f)
{
	fprintf(f,
		"usage: brownout-asymmetric [options] request URL | confirm | recover\n"
		"  request URL            ask the recovery system to install the manifest at URL; reboot\n"
		"  confirm                run the health check; mark the root good or reboot\n"
		"  recover                (recovery system) install what the env asks for; reboot\n"
		"options:\n"
		"  --pubkey PATH          Ed25519 public key, PEM (default " ASYMMETRIC_PUBKEY_DEFAULT ")\n"
		"  --fw-config PATH       libubootenv config (default " ENVSTORE_CONFIG_DEFAULT ")\n"
		"  --root-device PATH     the root slot (default " ASYMMETRIC_ROOT_DEFAULT ")\n"
		"  --recovery-device PATH the recovery partition, never written (default "
		ASYMMETRIC_RECOVERY_DEFAULT ")\n"
		"  --no-reboot            do everything but reboot\n"
		"  --health PATH          health check (default " ASYMMETRIC_HEALTH_DEFAULT ")\n"
		"  --version-file PATH    version of the booted root (default " ASYMMETRIC_VERSION_DEFAULT ")\n"
		"  --help                 show this help\n"
		"exit status: 0 success, 1 update error or unhealthy root, 2 usage error,\n"
		"             3 confirm could not check or mark the root\n");
}

static void asymmetric_reboot(const struct asymmetric *a, const char *reason, const char *slot)
{
	/* Every store fsync'd already; sync() covers the rest. */
	sync();
	update_marker(&a->up, "reboot", MARKER({ "reason", reason }, { "slot", slot }));
	if (!a->up.no_reboot && reboot(RB_AUTOBOOT) < 0)
		fprintf(stderr, "brownout-asymmetric: reboot: %s\n", strerror(errno));
}

static int asymmetric_store(const struct asymmetric *a, const struct asymmetric_env *st,
			    const char *what)
{
	char word[UPDATE_WORD_MAX];
	int rc = asymmetric_env_store(a->fw_config, st);

	if (rc < 0)
		return update_fail(&a->up, "bootenv", update_errno_word(rc, word, sizeof(word)),
				   "%s: %s: %s", a->fw_config, what,
				   rc == -EIO ? "read-back shows other values" : strerror(-rc));
	return ASYMMETRIC_OK;
}

static int asymmetric_load(const struct asymmetric *a, struct asymmetric_env *st)
{
	char word[UPDATE_WORD_MAX];
	int rc = asymmetric_env_read(a->fw_config, st);

	if (rc < 0)
		return update_fail(&a->up, "bootenv", update_errno_word(rc, word, sizeof(word)),
				   "%s: cannot read the asymmetric variables: %s", a->fw_config,
				   strerror(-rc));
	return ASYMMETRIC_OK;
}

static int asymmetric_request(const struct asymmetric *a, const char *url)
{
	struct asymmetric_env st;

	if (strlen(url) >= ASYMMETRIC_ENV_URL_MAX || !marker_value_ok(url))
		return update_fail(&a->up, "request", "url", "'%s' is not a URL recovery can keep",
				   url);
	update_phase(&a->up, "bootloader", "start", MARKER({ "action", "request" }));
	if (asymmetric_load(a, &st) != ASYMMETRIC_OK)
		return ASYMMETRIC_ERROR;
	st.recovery = true;
	st.root_left = ASYMMETRIC_ENV_TRIES;
	snprintf(st.url, sizeof(st.url), "%s", url);
	if (asymmetric_store(a, &st, "requesting recovery") != ASYMMETRIC_OK)
		return ASYMMETRIC_ERROR;
	update_phase(&a->up, "bootloader", "end", MARKER({ "action", "request" }));
	asymmetric_reboot(a, "recovery", "recovery");
	return ASYMMETRIC_OK;
}

/* Pull into the root slot, make it durable, verify what storage holds. */
static enum asymmetric_policy_install asymmetric_install(const struct asymmetric *a,
							 const char *url)
{
	char want[VERIFY_SHA256_HEX], got[VERIFY_SHA256_HEX], word[UPDATE_WORD_MAX];
	const struct update *up = &a->up;
	struct download_result res;
	struct slot slot = { .fd = -1 };
	const char *method = "none";
	enum asymmetric_policy_install out;
	struct manifest m;
	int rc;

	rc = update_pull(up, url, &m, &slot, &res);
	if (rc != UPDATE_OK) {
		/* The slot is opened only after the manifest verified; writing starts right after. */
		out = slot.fd < 0 ? ASYMMETRIC_POLICY_UNTOUCHED : ASYMMETRIC_POLICY_BROKEN;
		goto out;
	}
	out = ASYMMETRIC_POLICY_BAD_PAYLOAD;
	if (update_deploy_start(up, &m, &slot, &res) != UPDATE_OK)
		goto out;
	if (memcmp(res.sha256, m.sha256, VERIFY_SHA256_LEN) != 0) {
		verify_hex(m.sha256, VERIFY_SHA256_LEN, want);
		verify_hex(res.sha256, VERIFY_SHA256_LEN, got);
		update_fail(up, "verify", "sha256", "payload sha256 %s, manifest says %s", got,
			    want);
		goto out;
	}
	rc = slot_verify(&slot, m.size, m.sha256, &method);
	if (rc < 0) {
		update_fail(up, "verify", rc == -EBADMSG ? "readback" :
			    update_errno_word(rc, word, sizeof(word)),
			    "%s: reading back %" PRIu64 " bytes (%s): %s", slot.path, m.size, method,
			    rc == -EBADMSG ? "sha256 differs" : strerror(-rc));
		goto out;
	}
	update_phase(up, "deploy", "end", MARKER({ "readback", method }));
	out = ASYMMETRIC_POLICY_INSTALLED;
out:
	slot_close(&slot);
	return out;
}

static int asymmetric_recover(const struct asymmetric *a)
{
	const struct update *up = &a->up;
	struct asymmetric_env st, next;
	enum asymmetric_policy_after after;

	if (asymmetric_load(a, &st) != ASYMMETRIC_OK) {
		/* Without a valid env U-Boot boots the root with fresh tries: nothing to do here. */
		asymmetric_reboot(a, "no-env", "root");
		return ASYMMETRIC_ERROR;
	}
	switch (asymmetric_policy_start(&st, &next)) {
	case ASYMMETRIC_POLICY_NO_GOOD:
		update_marker(up, "recovery", MARKER({ "action", "rollback" }));
		asymmetric_store(a, &next, "new tries for the root");
		update_fail(up, "rollback", "no-good-image", "no ASYM_GOOD_URL to reinstall");
		asymmetric_reboot(a, "no-good-image", "root");
		return ASYMMETRIC_ERROR;
	case ASYMMETRIC_POLICY_ROLLBACK:
		update_marker(up, "recovery", MARKER({ "action", "rollback" }));
		update_phase(up, "bootloader", "start", MARKER({ "action", "rollback" }));
		if (asymmetric_store(a, &next, "rolling back") != ASYMMETRIC_OK) {
			asymmetric_reboot(a, "retry", "recovery");
			return ASYMMETRIC_ERROR;
		}
		update_phase(up, "bootloader", "end", MARKER({ "action", "rollback" }));
		break;
	case ASYMMETRIC_POLICY_NOTHING:
		update_marker(up, "recovery", MARKER({ "action", "none" }));
		if (asymmetric_store(a, &next, "clearing the recovery flag") != ASYMMETRIC_OK) {
			asymmetric_reboot(a, "retry", "recovery");
			return ASYMMETRIC_ERROR;
		}
		asymmetric_reboot(a, "nothing-to-do", "root");
		return ASYMMETRIC_OK;
	case ASYMMETRIC_POLICY_INSTALL:
		break;
	}
	st = next;

	update_marker(up, "recovery", MARKER({ "action", "install" }));
	after = asymmetric_policy_after_install(&st, asymmetric_install(a, st.url), &next);
	if (after == ASYMMETRIC_POLICY_REINSTALL_GOOD) {
		update_marker(up, "recovery", MARKER({ "action", "reinstall-good" }));
		if (asymmetric_store(a, &next, "falling back to the good image") != ASYMMETRIC_OK) {
			asymmetric_reboot(a, "retry", "recovery");
			return ASYMMETRIC_ERROR;
		}
		st = next;
		after = asymmetric_policy_after_install(&st, asymmetric_install(a, st.url), &next);
	}
	switch (after) {
	case ASYMMETRIC_POLICY_BOOT_ROOT:
		break;
	case ASYMMETRIC_POLICY_DROP:
		if (asymmetric_store(a, &next, "dropping the request") == ASYMMETRIC_OK)
			asymmetric_reboot(a, "refused", "root");
		else
			asymmetric_reboot(a, "retry", "recovery");
		return ASYMMETRIC_ERROR;
	case ASYMMETRIC_POLICY_REINSTALL_GOOD:	/* not after a reinstall: its URL is the good one */
	case ASYMMETRIC_POLICY_RETRY:
		/* The request stays: the next boot is recovery again, which retries. */
		asymmetric_reboot(a, "retry", "recovery");
		return ASYMMETRIC_ERROR;
	}

	update_phase(up, "bootloader", "start", MARKER({ "slot", "root" }));
	if (asymmetric_store(a, &next, "booting the new root") != ASYMMETRIC_OK) {
		asymmetric_reboot(a, "retry", "recovery");
		return ASYMMETRIC_ERROR;
	}
	update_phase(up, "bootloader", "end", MARKER({ "slot", "root" }));
	return update_reboot(up, "root");
}

/* Run the health check; 1 if it passed, 0 if it failed or could not run. */
static int asymmetric_healthy(const char *health)
{
	char *argv[] = { (char *)health, NULL };
	int status, rc;
	pid_t pid;

	rc = posix_spawn(&pid, health, NULL, NULL, argv, environ);
	if (rc != 0) {
		fprintf(stderr, "brownout-asymmetric: %s: %s\n", health, strerror(rc));
		return 0;
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "brownout-asymmetric: %s: waitpid: %s\n", health,
				strerror(errno));
			return 0;
		}
	}
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void asymmetric_read_version(const char *path, char *out, size_t size)
{
	FILE *f = fopen(path, "re");

	snprintf(out, size, "unknown");
	if (!f)
		return;
	if (fgets(out, (int)size, f)) {
		out[strcspn(out, "\n")] = '\0';
		if (!marker_value_ok(out))
			snprintf(out, size, "unknown");
	}
	fclose(f);
}

static int asymmetric_confirm(const struct asymmetric *a)
{
	const struct update *up = &a->up;
	char version[MANIFEST_VERSION_MAX];
	struct asymmetric_env st, next;
	bool store;

	if (!asymmetric_healthy(a->health)) {
		update_marker(up, "confirm", MARKER({ "result", "bad" }, { "slot", "root" }));
		/* Not marked good: this boot spent a try; at none left U-Boot boots recovery. */
		asymmetric_reboot(a, "unhealthy", "root");
		return ASYMMETRIC_ERROR;
	}
	if (asymmetric_env_read(a->fw_config, &st) < 0) {
		update_marker(up, "confirm", MARKER({ "result", "error" },
						    { "slot", "root" },
						    { "detail", "bootenv" }));
		return ASYMMETRIC_CONFIRM_ERROR;
	}
	store = asymmetric_policy_confirm(&st, &next);
	if (store && asymmetric_env_store(a->fw_config, &next) < 0) {
		update_marker(up, "confirm", MARKER({ "result", "error" },
						    { "slot", "root" },
						    { "detail", "store" }));
		return ASYMMETRIC_CONFIRM_ERROR;
	}
	asymmetric_read_version(a->version_file, version, sizeof(version));
	update_marker(up, "confirm", MARKER({ "result", "good" },
					    { "slot", "root" },
					    { "version", version },
					    { "env", store ? "written" : "unchanged" }));
	return ASYMMETRIC_OK;
}

/* Returns 1 to run, 0 to exit 0 (--help), -EINVAL on a usage error (reported). */
static int asymmetric_parse_args(struct asymmetric *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pubkey", required_argument, NULL, 'k' },
		{ "fw-config", required_argument, NULL, 'c' },
		{ "root-device", required_argument, NULL, 'r' },
		{ "recovery-device", required_argument, NULL, 'R' },
		{ "no-reboot", no_argument, NULL, 'n' },
		{ "health", required_argument, NULL, 'H' },
		{ "version-file", required_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		const char **path = NULL;

		switch (c) {
		case 'k': path = &a->up.pubkey; break;
		case 'c': path = &a->fw_config; break;
		case 'r': path = &a->up.device[0]; break;
		case 'R': path = &a->up.device[1]; break;
		case 'H': path = &a->health; break;
		case 'v': path = &a->version_file; break;
		case 'n':
			a->up.no_reboot = true;
			break;
		case 'h':
			asymmetric_usage(stdout);
			return 0;
		default:
			return -EINVAL;
		}
		if (path) {
			if (!*optarg) {
				fprintf(stderr, "brownout-asymmetric: empty path\n");
				return -EINVAL;
			}
			*path = optarg;
		}
	}
	return 1;
}

int main(int argc, char **argv)
{
	struct asymmetric a = {
		.up = {
			.name = "brownout-asymmetric",
			.pubkey = ASYMMETRIC_PUBKEY_DEFAULT,
			.device = { ASYMMETRIC_ROOT_DEFAULT, ASYMMETRIC_RECOVERY_DEFAULT },
			.dl = DOWNLOAD_OPTS_DEFAULT,
			.running = 'B',
		},
		.fw_config = ENVSTORE_CONFIG_DEFAULT,
		.health = ASYMMETRIC_HEALTH_DEFAULT,
		.version_file = ASYMMETRIC_VERSION_DEFAULT,
	};
	const char *cmd;
	int nargs, rc;

	rc = asymmetric_parse_args(&a, argc, argv);
	if (rc <= 0)
		return rc < 0 ? ASYMMETRIC_USAGE : ASYMMETRIC_OK;
	cmd = optind < argc ? argv[optind] : NULL;
	nargs = argc - optind - 1;
	if (!cmd) {
		fprintf(stderr,
			"brownout-asymmetric: no command (request URL, confirm or recover); see --help\n");
		return ASYMMETRIC_USAGE;
	}
	if (strcmp(cmd, "request") == 0) {
		if (nargs != 1) {
			fprintf(stderr, "brownout-asymmetric: request takes one URL; see --help\n");
			return ASYMMETRIC_USAGE;
		}
		return asymmetric_request(&a, argv[optind + 1]);
	}
	if (nargs != 0 || (strcmp(cmd, "confirm") != 0 && strcmp(cmd, "recover") != 0)) {
		fprintf(stderr,
			"brownout-asymmetric: unknown command or extra arguments: '%s'; see --help\n", cmd);
		return ASYMMETRIC_USAGE;
	}
	if (strcmp(cmd, "confirm") == 0)
		return asymmetric_confirm(&a);
	if (download_global_init() < 0) {
		fprintf(stderr, "brownout-asymmetric: libcurl initialisation failed\n");
		return ASYMMETRIC_ERROR;
	}
	rc = asymmetric_recover(&a);
	download_global_cleanup();
	return rc;
}
