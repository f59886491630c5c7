/*
 * client: what every update client does the same way, whatever its method.
 *   - its voice: markers on stdout, and the one report of a failure, a line
 *     on stderr for people and an update-error marker for the harness;
 *   - confirm's common part: the health check, the version it reports, the
 *     confirm markers, the reboot of an unhealthy system;
 *   - the reboot, and the one at the end of an install;
 *   - the options the clients on the U-Boot env share, as rows of a
 *     command line table (cli.h);
 *   - its exit status.
 * Each method's client keeps only what its method does differently.
 */
#ifndef BROWNOUT_CLIENT_H
#define BROWNOUT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "cli.h"
#include "envstore.h"
#include "marker.h"

#define CLIENT_HEALTH_DEFAULT "/usr/bin/brownout-health"
#define CLIENT_VERSION_DEFAULT "/etc/brownout/version"

/* A buffer for client_errno_word that holds every errno name ("enotrecoverable"). */
#define CLIENT_WORD_MAX 32

/* What --help says of a client's exit status; system: what confirm checks ("slot"). */
#define CLIENT_EXIT_STATUS(system) \
	"exit status: 0 success, 1 update error or unhealthy " system ", 2 usage error,\n" \
	"             3 confirm could not check or mark the " system "\n"

/* Every client's exit status. */
enum {
	CLIENT_OK = 0,
	CLIENT_ERROR = 1,		/* an update error; for confirm, an unhealthy system */
	CLIENT_USAGE = 2,
	CLIENT_CONFIRM_ERROR = 3,	/* confirm could not check or mark the system */
};

/* What every client is told; the options fill it (CLIENT_OPTS_ENV). */
struct client {
	const char *name;		/* the program: the first word of each message */
	const char *fw_config;		/* --fw-config: libubootenv's config */
	const char *health;		/* --health: the health check confirm runs */
	const char *version_file;	/* --version-file: the booted root's version */
	bool no_reboot;			/* --no-reboot: do everything but reboot */
};

#define CLIENT_INIT(program) { .name = (program), .fw_config = ENVSTORE_CONFIG_DEFAULT, \
	.health = CLIENT_HEALTH_DEFAULT, .version_file = CLIENT_VERSION_DEFAULT }

/*
 * Rows of a client's option table (cli.h) for what the struct client member
 * cl of the client's struct type holds: --fw-config, --no-reboot, --health,
 * --version-file.
 */
#define CLIENT_OPTS_ENV(type, cl) \
	{ "fw-config", "PATH", "libubootenv config (default " ENVSTORE_CONFIG_DEFAULT ")", \
	  CLI_PATH, offsetof(type, cl.fw_config), 0, 0 }, \
	{ "no-reboot", NULL, "do everything but reboot", \
	  CLI_FLAG, offsetof(type, cl.no_reboot), 0, 0 }, \
	{ "health", "PATH", "health check (default " CLIENT_HEALTH_DEFAULT ")", \
	  CLI_PATH, offsetof(type, cl.health), 0, 0 }, \
	{ "version-file", "PATH", "version of the booted root (default " \
	  CLIENT_VERSION_DEFAULT ")", CLI_PATH, offsetof(type, cl.version_file), 0, 0 }

/* Write "BROWNOUT <event> ..." to stdout; a marker that cannot be written is said on stderr. */
void client_marker(const struct client *c, const char *event, const struct marker_field *f,
		   size_t n);

/* "BROWNOUT phase name=<name> state=<state>" and up to four extra fields (more are dropped). */
void client_phase(const struct client *c, const char *name, const char *state,
		  const struct marker_field *extra, size_t n);

/* A negative errno as a marker word in buf: "ebusy", "enodata"; "error" if it has no name. */
const char *client_errno_word(int rc, char *buf, size_t size);

/*
 * The one report of a failed update: "<name>: <fmt...>" on stderr for people,
 * then "BROWNOUT update-error reason=<reason> detail=<detail>" for the harness
 * (detail "unknown" if NULL). Returns CLIENT_ERROR.
 */
int client_fail(const struct client *c, const char *reason, const char *detail,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Run c->health; true if it ran and passed. What kept it from running is said on stderr. */
bool client_healthy(const struct client *c);

/* The first line of path, if it is a marker value, into out; else "unknown". */
void client_read_version(const char *path, char *out, size_t size);

/*
 * sync, "BROWNOUT reboot reason=<reason> slot=<slot>", then reboot(2) unless
 * c->no_reboot. Returns 0, or the negative errno of a failed reboot(2), said
 * on stderr.
 */
int client_reboot(const struct client *c, const char *reason, const char *slot);

/*
 * The end of an install: client_reboot(c, "update", slot). Returns CLIENT_OK,
 * or CLIENT_ERROR after a failed reboot(2), which is an update-error too.
 */
int client_reboot_installed(const struct client *c, const char *slot);

/*
 * Confirm found the system unhealthy: "confirm result=bad slot=<slot>", then
 * client_reboot(c, "unhealthy", slot). Not marked good, this boot spent one
 * of its tries. Returns CLIENT_ERROR.
 */
int client_unhealthy(const struct client *c, const char *slot);

/* "confirm result=error slot=<slot> detail=<detail>". Returns CLIENT_CONFIRM_ERROR. */
int client_confirm_error(const struct client *c, const char *slot, const char *detail);

/*
 * "confirm result=good slot=<slot> version=<c->version_file's> env=written|unchanged"
 * (as stored says) and up to two extra fields. Returns CLIENT_OK.
 */
int client_confirmed(const struct client *c, const char *slot, bool stored,
		     const struct marker_field *extra, size_t n);

#endif
