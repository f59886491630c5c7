/*
 * update: the install steps of a slot-writing update, which brownout-ab
 * (src/ab/ab.c), brownout-asymmetric (src/asymmetric/asymmetric.c) and the
 * unsafe test fixture (tests/fixtures/ab_unsafe.c) share: the signed
 * manifest, the pull into the inactive slot, the first checks of deploy. The
 * order of the steps, and the boot order switch, stay with each program.
 *
 * A step that fails reports it once (client_fail) and returns CLIENT_ERROR,
 * the programs' exit status for an update error; on success CLIENT_OK.
 */
#ifndef BROWNOUT_UPDATE_H
#define BROWNOUT_UPDATE_H

#include <stdbool.h>
#include <stddef.h>

#include "bootenv.h"
#include "client.h"
#include "download.h"
#include "manifest.h"
#include "slot.h"

/* The install's settings, from the command line; the steps only read them. */
struct update {
	const struct client *client;		/* the program's voice: markers, failures */
	const char *pubkey;			/* Ed25519 public key, PEM */
	const char *device[BOOTENV_SLOTS];	/* slot A's and slot B's device */
	const char *cmdline;			/* A/B: the kernel command line naming the
						 * running slot */
	struct download_opts dl;
	char running;				/* the booted slot, 'A' or 'B' */
};

#define UPDATE_PUBKEY_DEFAULT "/etc/brownout/update.pub"
#define UPDATE_RETRIES_MAX 1000
#define UPDATE_STALL_MAX 3600

/* The settings of an install by client c into dev_a or dev_b; the others their defaults. */
#define UPDATE_INIT(c, dev_a, dev_b) { .client = (c), .pubkey = UPDATE_PUBKEY_DEFAULT, \
	.device = { (dev_a), (dev_b) }, .cmdline = SLOT_CMDLINE_DEFAULT, \
	.dl = DOWNLOAD_OPTS_DEFAULT }

/*
 * Rows of a client's option table (cli.h) for the settings the struct
 * update member up of the client's struct type holds: --pubkey; --retries
 * and --stall-timeout (the transfers'); --slot-device-a, --slot-device-b and
 * --cmdline (the A/B slots').
 */
#define UPDATE_OPT_PUBKEY(type, up) \
	{ "pubkey", "PATH", "Ed25519 public key, PEM (default " UPDATE_PUBKEY_DEFAULT ")", \
	  CLI_PATH, offsetof(type, up.pubkey), 0, 0 }
#define UPDATE_OPTS_TRANSFER(type, up) \
	{ "retries", "N", "resumed attempts after a broken transfer, 0.." \
	  CLI_STR(UPDATE_RETRIES_MAX) " (default 5)", \
	  CLI_UINT, offsetof(type, up.dl.retries), 0, UPDATE_RETRIES_MAX }, \
	{ "stall-timeout", "S", "end an attempt that got no byte for S seconds, 1.." \
	  CLI_STR(UPDATE_STALL_MAX) "\n(default 30)", \
	  CLI_LONG, offsetof(type, up.dl.stall_timeout_s), 1, UPDATE_STALL_MAX }
#define UPDATE_OPTS_AB_SLOTS(type, up) \
	{ "slot-device-a", "PATH", "slot A (default " SLOT_DEVICE_A ")", CLI_PATH, \
	  offsetof(type, up.device[0]), 0, 0 }, \
	{ "slot-device-b", "PATH", "slot B (default " SLOT_DEVICE_B ")", CLI_PATH, \
	  offsetof(type, up.device[1]), 0, 0 }, \
	{ "cmdline", "PATH", "kernel command line with brownout.slot= (default " \
	  SLOT_CMDLINE_DEFAULT ")", CLI_PATH, offsetof(type, up.cmdline), 0, 0 }

/* The slot an install writes: the one not running. */
char update_target(const struct update *u);

/*
 * Run install(arg) with libcurl loaded and set up around it for the
 * transfers (download_global_init, then download_global_cleanup). Returns
 * what install returns, or CLIENT_ERROR if libcurl cannot start (said).
 */
int update_run(const struct update *u, int (*install)(void *arg), void *arg);

/*
 * Fetch the manifest at url, parse it and verify its signature with u->pubkey
 * ("manifest" marker); nothing on the device changes. CLIENT_OK or CLIENT_ERROR.
 */
int update_manifest(const struct update *u, const char *url, struct manifest *m);

/*
 * Compare m's release with the running root's (the client's version file),
 * before anything is written; *install says whether to go on. The running
 * release, a retry that came true or a replayed manifest of it, is
 * "update-none reason=current": CLIENT_OK, *install false. An older release,
 * correctly signed or replayed, is refused: "update-error reason=verify
 * detail=downgrade" (detail=version for a version either side cannot order),
 * CLIENT_ERROR. A newer one: CLIENT_OK, *install true.
 */
int update_check_release(const struct update *u, const struct manifest *m, bool *install);

/*
 * Pull: "phase pull start", update_manifest, then update_pull_payload.
 * Returns CLIENT_OK or CLIENT_ERROR.
 */
int update_pull(const struct update *u, const char *url, struct manifest *m, struct slot *slot,
		struct download_result *res);

/*
 * The pull after a verified manifest m: open the target slot, stream the
 * payload next to the manifest into it, hashed on the way, then write the
 * slot's tag (tag: its text, or NULL for none; slot.h; written only for a
 * payload that hashed to the manifest's sha256 and leaves the tag room, and
 * one that cannot be written is said and the pull goes on) ("phase pull end"). Nothing is made durable or compared with the
 * manifest yet. *slot is open on return unless opening it failed; the caller
 * closes it. CLIENT_OK or CLIENT_ERROR.
 */
int update_pull_payload(const struct update *u, const char *url, const struct manifest *m,
			struct slot *slot, struct download_result *res, const char *tag);

/*
 * Deploy's first checks: "phase deploy start", fsync the slot, compare the
 * bytes the pull took with the manifest's size. The hash is the caller's to
 * compare. Returns CLIENT_OK or CLIENT_ERROR.
 */
int update_deploy_start(const struct update *u, const struct manifest *m, struct slot *slot,
			const struct download_result *res);

/*
 * Deploy's checks, all of them: update_deploy_start, then the hash the pull
 * took against the manifest's, then what storage holds read back
 * (slot_verify; *method says how it was read). "phase deploy end" is the
 * caller's, after what it records of a verified slot. CLIENT_OK or CLIENT_ERROR.
 */
int update_deploy(const struct update *u, const struct manifest *m, struct slot *slot,
		  const struct download_result *res, const char **method);

#endif
