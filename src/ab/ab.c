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
#include "client.h"
#include "download.h"
#include "manifest.h"
#include "slot.h"
#include "slotstate.h"
#include "update.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

enum { AB_INSTALL, AB_CONFIRM, AB_STATUS };

struct ab {
	struct client cl;	/* the program, its voice and shared options (src/lib/client.h) */
	struct update up;	/* what the shared install steps read (src/lib/update.h) */
	const char *state_dir;	/* slotstate records */
	const char *url;	/* install's manifest */
};

/* The command line: commands, options, --help (src/lib/cli.h). */
static const struct cli_command ab_commands[] = {
	[AB_INSTALL] = { "install", "URL",
		"fetch the signed manifest at URL, write its payload to the\n"
		"inactive slot, verify it, boot it next, reboot" },
	[AB_CONFIRM] = { "confirm", NULL,
		"run the health check; mark the booted slot good or reboot" },
	[AB_STATUS] = { "status", NULL, "print the booted slot, BOOT_ORDER and the counters" },
	{ NULL },
};

static const struct cli_opt ab_options[] = {
	UPDATE_OPT_PUBKEY(struct ab, up),
	UPDATE_OPTS_AB_SLOTS(struct ab, up),
	UPDATE_OPTS_TRANSFER(struct ab, up),
	{ "state-dir", "PATH", "where the verified payload each slot holds is recorded\n"
	  "(default " SLOTSTATE_DIR_DEFAULT ")", CLI_PATH, offsetof(struct ab, state_dir), 0, 0 },
	CLIENT_OPTS_ENV(struct ab, cl),
	{ NULL },
};

static const struct cli ab_cli = {
	.name = "brownout-ab", .cmds = ab_commands, .opts = ab_options,
	.tail = CLIENT_EXIT_STATUS("slot"),
};

/* The manifest's payload as a slot record or tag names it (slotstate.h). */
static struct slotstate ab_payload(const struct manifest *m)
{
	struct slotstate st = { .size = m->size };

	memcpy(st.sha256, m->sha256, sizeof(st.sha256));
	return st;
}

/* Whether a slot record or tag names the manifest's payload. */
static bool ab_names_payload(const struct slotstate *st, const struct manifest *m)
{
	return st->size == m->size && memcmp(st->sha256, m->sha256, sizeof(st->sha256)) == 0;
}

/*
 * Record that the target slot holds the manifest's payload, verified. Only a
 * hint for a later install of the same payload (slotstate.h): one that cannot
 * be written is said and the install goes on.
 */
static void ab_record_slot(const struct ab *ab, const struct manifest *m)
{
	struct slotstate st = ab_payload(m);
	int rc;

	rc = slotstate_write(ab->state_dir, update_target(&ab->up), &st);
	if (rc < 0)
		fprintf(stderr, "%s: %s: recording slot %c: %s (the next install pulls again)\n",
			ab->cl.name, ab->state_dir, update_target(&ab->up), strerror(-rc));
}

/* Deploy: make the slot durable, check what the transfer hashed, then what storage holds. */
static int ab_deploy(const struct ab *ab, const struct manifest *m, struct slot *slot,
		     const struct download_result *res)
{
	const char *method;
	int rc;

	rc = update_deploy(&ab->up, m, slot, res, &method);
	if (rc != CLIENT_OK)
		return rc;
	ab_record_slot(ab, m);
	client_phase(&ab->cl, "deploy", "end", MARKER({ "readback", method }));
	return CLIENT_OK;
}

/*
 * The tag a slot gets once the pull has written m's payload into it whole
 * (slot.h): a hint for an install of it that a power cut stops before the
 * slot is recorded (ab_tagged_whole). NULL if it cannot be made.
 */
static const char *ab_tag(const struct manifest *m, char *buf, size_t size)
{
	struct slotstate st = ab_payload(m);

	return slotstate_format(&st, buf, size) < 0 ? NULL : buf;
}

/*
 * The target slot is tagged with the manifest's payload (an install of it
 * wrote the payload whole, then lost power before it recorded the slot: in
 * its fsync or read-back, say): does the slot hold it whole? Made durable and
 * read back against the signed manifest, as a deploy does. Any other answer,
 * a failure included, means pull it: the slot is then written again from its
 * start. Returns whether it holds it, and how it was read back in *method.
 */
static bool ab_tagged_whole(const struct ab *ab, const struct manifest *m, const char **method)
{
	char target = update_target(&ab->up), tag[SLOT_TAG_SIZE + 1];
	struct slot slot = { .fd = -1 };
	struct slotstate st;
	size_t len;
	int rc;

	rc = slot_open(&slot, ab->up.device[target - 'A'], ab->up.device[ab->up.running - 'A']);
	if (rc == 0 && !slot_has_tag_room(&slot, m->size))
		rc = -ENOSPC;
	if (rc == 0)
		rc = slot_read_tag(&slot, tag, &len);
	/* An untagged slot, or one tagged with another payload: nothing to check. */
	if (rc == 0 && (slotstate_parse(tag, len, &st) < 0 || !ab_names_payload(&st, m))) {
		slot_close(&slot);
		return false;
	}
	if (rc == 0)
		rc = slot_sync(&slot);
	if (rc == 0)
		rc = slot_verify(&slot, m->size, m->sha256, method);
	slot_close(&slot);
	if (rc < 0)
		fprintf(stderr, "%s: slot %c is tagged with version %s, but %s: pulling it again\n",
			ab->cl.name, target, m->version,
			rc == -EBADMSG ? "it does not read back whole" : strerror(-rc));
	return rc == 0;
}

/*
 * Does the target slot hold the manifest's payload already? Its record says
 * so (an earlier install of it wrote and verified the slot, then lost power
 * before the boot order switched), or its tag names the payload and the slot
 * reads back whole (ab_tagged_whole). A record of another payload, or a
 * garbled one, is removed before the slot is written again.
 * 1: the slot holds it, deployed; 0: pull it; -1 after a failure (said).
 */
static int ab_reuse(const struct ab *ab, const struct manifest *m)
{
	const struct client *c = &ab->cl;
	char target = update_target(&ab->up), word[CLIENT_WORD_MAX];
	const char *method;
	struct slotstate st;
	int held, rc;

	held = slotstate_read(ab->state_dir, target, &st);
	if (held == 0 && ab_names_payload(&st, m)) {
		client_phase(c, "pull", "end", MARKER({ "bytes", "0" }, { "reused", "slot" }));
		client_phase(c, "deploy", "start", MARKER_NONE);
		client_phase(c, "deploy", "end", MARKER({ "reused", "slot" }));
		return 1;
	}
	if (held != -ENOENT) {
		rc = slotstate_clear(ab->state_dir, target);
		if (rc < 0) {
			client_fail(c, "slotstate", client_errno_word(rc, word, sizeof(word)),
				    "%s: removing the record of slot %c: %s", ab->state_dir, target,
				    strerror(-rc));
			return -1;
		}
	}
	if (!ab_tagged_whole(ab, m, &method))
		return 0;
	client_phase(c, "pull", "end", MARKER({ "bytes", "0" }, { "reused", "tagged" }));
	client_phase(c, "deploy", "start", MARKER_NONE);
	ab_record_slot(ab, m);
	client_phase(c, "deploy", "end", MARKER({ "readback", method }, { "reused", "tagged" }));
	return 1;
}

/*
 * Pull, deploy, and only then point the boot order at the new slot, the
 * running one behind it: install the command's URL (an update_run install).
 */
static int ab_install(void *arg)
{
	const struct ab *ab = arg;
	const struct client *c = &ab->cl;
	const char *url = ab->url;
	char target = update_target(&ab->up), tslot[2] = { target, '\0' }, word[CLIENT_WORD_MAX];
	char tag[SLOTSTATE_FILE_MAX];
	struct download_result res;
	struct slot slot = { .fd = -1 };
	struct manifest m = { 0 };
	bool install;
	int rc;

	client_phase(c, "pull", "start", MARKER({ "slot", tslot }));
	rc = update_manifest(&ab->up, url, &m);
	if (rc != CLIENT_OK)
		return rc;
	rc = update_check_release(&ab->up, &m, &install);
	if (rc != CLIENT_OK || !install)
		return rc;
	rc = ab_reuse(ab, &m);
	if (rc == 0) {
		rc = update_pull_payload(&ab->up, url, &m, &slot, &res, ab_tag(&m, tag, sizeof(tag)));
		if (rc == CLIENT_OK)
			rc = ab_deploy(ab, &m, &slot, &res);
	} else {
		rc = rc == 1 ? CLIENT_OK : CLIENT_ERROR;
	}
	slot_close(&slot);
	if (rc != CLIENT_OK)
		return rc;

	client_phase(c, "bootloader", "start", MARKER({ "slot", tslot }));
	rc = ab_env_switch(c->fw_config, target);
	if (rc < 0)
		return client_fail(c, "bootenv", client_errno_word(rc, word, sizeof(word)),
				   "%s: switching to slot %c: %s", c->fw_config, target,
				   rc == -EIO ? "read-back shows other values" : strerror(-rc));
	client_phase(c, "bootloader", "end", MARKER({ "slot", tslot }));
	return client_reboot_installed(c, tslot);
}

static int ab_confirm(const struct ab *ab)
{
	const struct client *c = &ab->cl;
	char slot[2] = { ab->up.running, '\0' }, word[CLIENT_WORD_MAX];
	int stored = 0, rc;

	/* Not marked good: this boot spent a try; U-Boot falls back once they are gone. */
	if (!client_healthy(c))
		return client_unhealthy(c, slot);
	rc = ab_env_mark_good(c->fw_config, ab->up.running, &stored);
	if (rc < 0) {
		fprintf(stderr, "%s: %s: marking slot %c good: %s\n", c->name, c->fw_config,
			ab->up.running, rc == -EIO ? "read-back shows other values" : strerror(-rc));
		return client_confirm_error(c, slot, client_errno_word(rc, word, sizeof(word)));
	}
	return client_confirmed(c, slot, stored, MARKER_NONE);
}

static int ab_status(const struct ab *ab)
{
	char slot[2] = { ab->up.running, '\0' }, order[2 * BOOTENV_SLOTS], a[4], b[4], next[5] = "none";
	struct bootenv_decision d;
	struct bootenv_state st;
	size_t n;
	int rc;

	rc = ab_env_read(ab->cl.fw_config, &st);
	if (rc < 0) {
		fprintf(stderr, "%s: %s: cannot read the A/B variables: %s\n", ab->cl.name,
			ab->cl.fw_config, strerror(-rc));
		return CLIENT_ERROR;
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
	client_marker(&ab->cl, "ab-status", MARKER({ "slot", slot }, { "order", order },
						    { "a_left", a }, { "b_left", b },
						    { "next", next }));
	return CLIENT_OK;
}

/* The running slot comes from what U-Boot told the kernel, never from the env. */
static int ab_running(struct ab *ab, int cmd)
{
	int rc = slot_read_cmdline(ab->up.cmdline, &ab->up.running);

	if (rc == 0)
		return CLIENT_OK;
	fprintf(stderr, "%s: %s: no brownout.slot=A|B: %s\n", ab->cl.name, ab->up.cmdline,
		strerror(-rc));
	if (cmd == AB_INSTALL)
		client_marker(&ab->cl, "update-error",
			      MARKER({ "reason", "slot" }, { "detail", "cmdline" }));
	if (cmd == AB_CONFIRM)
		return client_confirm_error(&ab->cl, "none", "cmdline");
	return CLIENT_ERROR;
}

int main(int argc, char **argv)
{
	struct ab ab = {
		.cl = CLIENT_INIT(ab_cli.name),
		.up = UPDATE_INIT(&ab.cl, SLOT_DEVICE_A, SLOT_DEVICE_B),
		.state_dir = SLOTSTATE_DIR_DEFAULT,
	};
	int cmd, rc;

	cmd = cli_parse(&ab_cli, &ab, argc, argv, &ab.url, &rc);
	if (cmd < 0)
		return rc;
	rc = ab_running(&ab, cmd);
	if (rc != CLIENT_OK)
		return rc;
	if (cmd == AB_CONFIRM)
		return ab_confirm(&ab);
	if (cmd == AB_STATUS)
		return ab_status(&ab);
	return update_run(&ab.up, ab_install, &ab);
}
