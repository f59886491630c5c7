/*
 * update: the install steps brownout-ab (src/ab/ab.c) and the unsafe test fixture
 * (tests/fixtures/ab_unsafe.c) share, so both report the same way: markers,
 * the one report of a failure, the signed manifest, the pull into the
 * inactive slot, the first checks of deploy, the reboot. The order of the
 * steps, and the boot order switch, stay with each program.
 *
 * A step that fails reports it once (update_fail) and returns UPDATE_ERROR,
 * the programs' exit status for an update error.
 */
#ifndef BROWNOUT_UPDATE_H
#define BROWNOUT_UPDATE_H

#include <stdbool.h>
#include <stddef.h>

#include "bootenv.h"
#include "download.h"
#include "manifest.h"
#include "marker.h"
#include "slot.h"

enum { UPDATE_OK = 0, UPDATE_ERROR = 1 };

/* A buffer for update_errno_word that holds every errno name ("enotrecoverable"). */
#define UPDATE_WORD_MAX 32

/* The install's settings, from the command line; the steps only read them. */
struct update {
	const char *name;			/* the program: the first word of each message */
	const char *pubkey;			/* Ed25519 public key, PEM */
	const char *device[BOOTENV_SLOTS];	/* slot A's and slot B's device */
	struct download_opts dl;
	bool no_reboot;
	char running;				/* the booted slot, 'A' or 'B' */
};

/* The slot an install writes: the one not running. */
char update_target(const struct update *u);

/* Write "BROWNOUT <event> ..." to stdout; a marker that cannot be written is said on stderr. */
void update_marker(const struct update *u, const char *event, const struct marker_field *f,
		   size_t n);

/* "BROWNOUT phase name=<name> state=<state>" and up to four extra fields (more are dropped). */
void update_phase(const struct update *u, const char *name, const char *state,
		  const struct marker_field *extra, size_t n);

/* A negative errno as a marker word in buf: "ebusy", "enodata"; "error" if it has no name. */
const char *update_errno_word(int rc, char *buf, size_t size);

/*
 * The one report of a failed install: "<name>: <fmt...>" on stderr for people,
 * then "BROWNOUT update-error reason=<reason> detail=<detail>" for the harness
 * (detail "unknown" if NULL). Returns UPDATE_ERROR.
 */
int update_fail(const struct update *u, const char *reason, const char *detail,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * Fetch the manifest at url, parse it and verify its signature with u->pubkey
 * ("manifest" marker); nothing on the device changes. UPDATE_OK or UPDATE_ERROR.
 */
int update_manifest(const struct update *u, const char *url, struct manifest *m);

/*
 * Pull: "phase pull start", update_manifest, then update_pull_payload.
 * Returns UPDATE_OK or UPDATE_ERROR.
 */
int update_pull(const struct update *u, const char *url, struct manifest *m, struct slot *slot,
		struct download_result *res);

/*
 * The pull after a verified manifest m: open the target slot, stream the
 * payload next to the manifest into it, hashed on the way ("phase pull end").
 * Nothing is made durable or compared with the manifest yet. *slot is open on
 * return unless opening it failed; the caller closes it. UPDATE_OK or UPDATE_ERROR.
 */
int update_pull_payload(const struct update *u, const char *url, const struct manifest *m,
			struct slot *slot, struct download_result *res);

/*
 * Deploy's first checks: "phase deploy start", fsync the slot, compare the
 * bytes the pull took with the manifest's size. The hash is the caller's to
 * compare. Returns UPDATE_OK or UPDATE_ERROR.
 */
int update_deploy_start(const struct update *u, const struct manifest *m, struct slot *slot,
			const struct download_result *res);

/*
 * The end of an install: sync, "reboot reason=update slot=<slot>", reboot
 * (not with u->no_reboot). Returns UPDATE_OK, or UPDATE_ERROR if reboot(2) failed.
 */
int update_reboot(const struct update *u, const char *slot);

#endif
