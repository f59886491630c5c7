/*
 * brownout-asymmetric: the asymmetric update client, one program for both systems.
 *   request URL  (normal system) ask for an update: the manifest at URL
 *                verified and newer than the running release, then
 *                ASYM_URL=URL and ASYM_RECOVERY=1 in one env store, then
 *                reboot into recovery
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

#include "client.h"
#include "download.h"
#include "manifest.h"
#include "marker.h"
#include "slot.h"
#include "update.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define ASYMMETRIC_ROOT_DEFAULT "/dev/vda3"
#define ASYMMETRIC_RECOVERY_DEFAULT "/dev/vda4"

enum { ASYMMETRIC_REQUEST, ASYMMETRIC_CONFIRM, ASYMMETRIC_RECOVER };

struct asymmetric {
	struct client cl;	/* the program, its voice and shared options (src/lib/client.h) */
	/*
	 * The shared install steps write "the slot that is not running": slot A
	 * is the root, slot B the recovery partition, named as the running one
	 * so that slot_open refuses to write it. Markers call the target slot A.
	 */
	struct update up;
};

/* The command line: commands, options, --help (src/lib/cli.h). */
static const struct cli_command asymmetric_commands[] = {
	[ASYMMETRIC_REQUEST] = { "request", "URL",
		"ask the recovery system to install the manifest at URL; reboot" },
	[ASYMMETRIC_CONFIRM] = { "confirm", NULL,
		"run the health check; mark the root good or reboot" },
	[ASYMMETRIC_RECOVER] = { "recover", NULL,
		"(recovery system) install what the env asks for; reboot" },
	{ NULL },
};

static const struct cli_opt asymmetric_options[] = {
	UPDATE_OPT_PUBKEY(struct asymmetric, up),
	{ "root-device", "PATH", "the root slot (default " ASYMMETRIC_ROOT_DEFAULT ")",
	  CLI_PATH, offsetof(struct asymmetric, up.device[0]), 0, 0 },
	{ "recovery-device", "PATH", "the recovery partition, never written (default "
	  ASYMMETRIC_RECOVERY_DEFAULT ")", CLI_PATH, offsetof(struct asymmetric, up.device[1]),
	  0, 0 },
	CLIENT_OPTS_ENV(struct asymmetric, cl),
	{ NULL },
};

static const struct cli asymmetric_cli = {
	.name = "brownout-asymmetric", .cmds = asymmetric_commands, .opts = asymmetric_options,
	.tail = CLIENT_EXIT_STATUS("root"),
};

static int asymmetric_store(const struct asymmetric *a, const struct asymmetric_env *st,
			    const char *what)
{
	char word[CLIENT_WORD_MAX];
	int rc = asymmetric_env_store(a->cl.fw_config, st);

	if (rc < 0)
		return client_fail(&a->cl, "bootenv", client_errno_word(rc, word, sizeof(word)),
				   "%s: %s: %s", a->cl.fw_config, what,
				   rc == -EIO ? "read-back shows other values" : strerror(-rc));
	return CLIENT_OK;
}

/* Store next in recovery; if that fails, reboot into recovery, which tries again. */
static int asymmetric_commit(const struct asymmetric *a, const struct asymmetric_env *next,
			     const char *what)
{
	if (asymmetric_store(a, next, what) == CLIENT_OK)
		return CLIENT_OK;
	client_reboot(&a->cl, "retry", "recovery");
	return CLIENT_ERROR;
}

static int asymmetric_load(const struct asymmetric *a, struct asymmetric_env *st)
{
	char word[CLIENT_WORD_MAX];
	int rc = asymmetric_env_read(a->cl.fw_config, st);

	if (rc < 0)
		return client_fail(&a->cl, "bootenv", client_errno_word(rc, word, sizeof(word)),
				   "%s: cannot read the asymmetric variables: %s", a->cl.fw_config,
				   strerror(-rc));
	return CLIENT_OK;
}

struct asymmetric_request {
	const struct asymmetric *a;
	const char *url;
};

/*
 * The root checks what it asks for before it asks: a manifest whose signature
 * does not verify, or an older release, is refused here, before the env is
 * written or recovery booted (an update_run install). Recovery verifies again.
 */
static int asymmetric_request(void *arg)
{
	const struct asymmetric_request *r = arg;
	const struct asymmetric *a = r->a;
	const struct client *c = &a->cl;
	struct asymmetric_env st;
	struct manifest m;
	bool install;
	int rc;

	if (strlen(r->url) >= ASYMMETRIC_ENV_URL_MAX || !marker_value_ok(r->url))
		return client_fail(c, "request", "url", "'%s' is not a URL recovery can keep", r->url);
	if (update_manifest(&a->up, r->url, &m) != CLIENT_OK)
		return CLIENT_ERROR;
	rc = update_check_release(&a->up, &m, &install);
	if (rc != CLIENT_OK || !install)
		return rc;
	client_phase(c, "bootloader", "start", MARKER({ "action", "request" }));
	if (asymmetric_load(a, &st) != CLIENT_OK)
		return CLIENT_ERROR;
	st.recovery = true;
	st.root_left = ASYMMETRIC_ENV_TRIES;
	snprintf(st.url, sizeof(st.url), "%s", r->url);
	if (asymmetric_store(a, &st, "requesting recovery") != CLIENT_OK)
		return CLIENT_ERROR;
	client_phase(c, "bootloader", "end", MARKER({ "action", "request" }));
	client_reboot(c, "recovery", "recovery");
	return CLIENT_OK;
}

/* Pull into the root slot, make it durable, verify what storage holds. */
static enum asymmetric_policy_install asymmetric_install(const struct asymmetric *a,
							 const char *url)
{
	struct download_result res;
	struct slot slot = { .fd = -1 };
	enum asymmetric_policy_install out;
	const char *method;
	struct manifest m;

	if (update_pull(&a->up, url, &m, &slot, &res) != CLIENT_OK) {
		/* The slot is opened only after the manifest verified; writing starts right after. */
		out = slot.fd < 0 ? ASYMMETRIC_POLICY_UNTOUCHED : ASYMMETRIC_POLICY_BROKEN;
		goto out;
	}
	out = ASYMMETRIC_POLICY_BAD_PAYLOAD;
	if (update_deploy(&a->up, &m, &slot, &res, &method) != CLIENT_OK)
		goto out;
	client_phase(&a->cl, "deploy", "end", MARKER({ "readback", method }));
	out = ASYMMETRIC_POLICY_INSTALLED;
out:
	slot_close(&slot);
	return out;
}

/*
 * What recovery does first, as the policy says. True: install st->url (st
 * is what the env holds now). False: recovery is done, with *status its exit
 * status.
 */
static bool asymmetric_start(const struct asymmetric *a, struct asymmetric_env *st, int *status)
{
	const struct client *c = &a->cl;
	struct asymmetric_env next;

	*status = CLIENT_ERROR;
	switch (asymmetric_policy_start(st, &next)) {
	case ASYMMETRIC_POLICY_NO_GOOD:
		client_marker(c, "recovery", MARKER({ "action", "rollback" }));
		asymmetric_store(a, &next, "new tries for the root");
		client_fail(c, "rollback", "no-good-image", "no ASYM_GOOD_URL to reinstall");
		client_reboot(c, "no-good-image", "root");
		return false;
	case ASYMMETRIC_POLICY_ROLLBACK:
		client_marker(c, "recovery", MARKER({ "action", "rollback" }));
		client_phase(c, "bootloader", "start", MARKER({ "action", "rollback" }));
		if (asymmetric_commit(a, &next, "rolling back") != CLIENT_OK)
			return false;
		client_phase(c, "bootloader", "end", MARKER({ "action", "rollback" }));
		break;
	case ASYMMETRIC_POLICY_NOTHING:
		client_marker(c, "recovery", MARKER({ "action", "none" }));
		if (asymmetric_commit(a, &next, "clearing the recovery flag") != CLIENT_OK)
			return false;
		client_reboot(c, "nothing-to-do", "root");
		*status = CLIENT_OK;
		return false;
	case ASYMMETRIC_POLICY_INSTALL:
		break;
	}
	*st = next;
	return true;
}

/* Recovery: what the env asks for, as the policy says (an update_run install). */
static int asymmetric_recover(void *arg)
{
	const struct asymmetric *a = arg;
	const struct client *c = &a->cl;
	struct asymmetric_env st, next;
	enum asymmetric_policy_after after;
	int status;

	if (asymmetric_load(a, &st) != CLIENT_OK) {
		/* Without a valid env U-Boot boots the root with fresh tries: nothing to do here. */
		client_reboot(c, "no-env", "root");
		return CLIENT_ERROR;
	}
	if (!asymmetric_start(a, &st, &status))
		return status;

	client_marker(c, "recovery", MARKER({ "action", "install" }));
	after = asymmetric_policy_after_install(&st, asymmetric_install(a, st.url), &next);
	if (after == ASYMMETRIC_POLICY_REINSTALL_GOOD) {
		client_marker(c, "recovery", MARKER({ "action", "reinstall-good" }));
		if (asymmetric_commit(a, &next, "falling back to the good image") != CLIENT_OK)
			return CLIENT_ERROR;
		st = next;
		after = asymmetric_policy_after_install(&st, asymmetric_install(a, st.url), &next);
	}
	switch (after) {
	case ASYMMETRIC_POLICY_BOOT_ROOT:
		break;
	case ASYMMETRIC_POLICY_DROP:
		if (asymmetric_commit(a, &next, "dropping the request") == CLIENT_OK)
			client_reboot(c, "refused", "root");
		return CLIENT_ERROR;
	case ASYMMETRIC_POLICY_REINSTALL_GOOD:	/* not after a reinstall: its URL is the good one */
	case ASYMMETRIC_POLICY_RETRY:
		/* The request stays: the next boot is recovery again, which retries. */
		client_reboot(c, "retry", "recovery");
		return CLIENT_ERROR;
	}

	client_phase(c, "bootloader", "start", MARKER({ "slot", "root" }));
	if (asymmetric_commit(a, &next, "booting the new root") != CLIENT_OK)
		return CLIENT_ERROR;
	client_phase(c, "bootloader", "end", MARKER({ "slot", "root" }));
	return client_reboot_installed(c, "root");
}

static int asymmetric_confirm(const struct asymmetric *a)
{
	const struct client *c = &a->cl;
	struct asymmetric_env st, next;
	bool store;

	/* Not marked good: this boot spent a try; at none left U-Boot boots recovery. */
	if (!client_healthy(c))
		return client_unhealthy(c, "root");
	if (asymmetric_env_read(c->fw_config, &st) < 0)
		return client_confirm_error(c, "root", "bootenv");
	store = asymmetric_policy_confirm(&st, &next);
	if (store && asymmetric_env_store(c->fw_config, &next) < 0)
		return client_confirm_error(c, "root", "store");
	return client_confirmed(c, "root", store, MARKER_NONE);
}

int main(int argc, char **argv)
{
	struct asymmetric a = {
		.cl = CLIENT_INIT(asymmetric_cli.name),
		.up = UPDATE_INIT(&a.cl, ASYMMETRIC_ROOT_DEFAULT, ASYMMETRIC_RECOVERY_DEFAULT),
	};
	const char *url;
	int cmd, rc;

	/* The recovery partition stands for the running slot: the one never written. */
	a.up.running = 'B';
	cmd = cli_parse(&asymmetric_cli, &a, argc, argv, &url, &rc);
	if (cmd < 0)
		return rc;
	if (cmd == ASYMMETRIC_REQUEST) {
		struct asymmetric_request r = { &a, url };

		return update_run(&a.up, asymmetric_request, &r);
	}
	if (cmd == ASYMMETRIC_CONFIRM)
		return asymmetric_confirm(&a);
	return update_run(&a.up, asymmetric_recover, &a);
}
