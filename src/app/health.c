/*
 * brownout-health: the device's health check, run after an update.
 * Passes when the app's status file shows seq advancing (the app is alive)
 * and healthy=1 (its self-test passed). Exit 0 pass, 1 fail, 2 usage error.
 */
#include "cli.h"
#include "deadline.h"
#include "marker.h"
#include "probe.h"
#include "status.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define HEALTH_TIMEOUT_MAX_MS 600000
/* Several reads per app heartbeat (100 ms), so a pass is seen soon after it is true. */
#define HEALTH_POLL_MS 20

struct health {
	const char *status_path;
	unsigned timeout_ms;
};

/* The command line: options, --help (src/lib/cli.h). */
static const struct cli_opt health_options[] = {
	{ "status", "PATH", "status file (default " STATUS_DEFAULT_PATH ")",
	  CLI_PATH, offsetof(struct health, status_path), 0, 0 },
	{ "timeout-ms", "N", "how long to wait for seq to advance, 1.."
	  CLI_STR(HEALTH_TIMEOUT_MAX_MS) " (default 2000)",
	  CLI_UINT, offsetof(struct health, timeout_ms), 1, HEALTH_TIMEOUT_MAX_MS },
	{ NULL },
};

static const struct cli health_cli = {
	.name = "brownout-health", .opts = health_options,
	.tail = "exit status: 0 pass, 1 fail, 2 usage error\n",
};

/* The one diagnostic for a failure; the marker on stdout carries only the reason word. */
static void health_explain(const struct health *h, const struct probe *p, int rc,
			   const struct status *st)
{
	const char *path = h->status_path;

	if (strcmp(p->reason, "no-status") == 0)
		fprintf(stderr, "brownout-health: %s: no status file after %u ms\n",
			path, h->timeout_ms);
	else if (strcmp(p->reason, "stale") == 0)
		fprintf(stderr, "brownout-health: %s: seq stayed at %" PRIu64 " for %u"
			" ms (pid %ld)\n", path, p->base_seq, h->timeout_ms, (long)p->base_pid);
	else if (strcmp(p->reason, "unhealthy") == 0)
		fprintf(stderr, "brownout-health: %s: app version %s pid %ld reports healthy=0\n",
			path, st->version, (long)st->pid);
	else
		fprintf(stderr, "brownout-health: %s: %s status file: %s\n", path, p->reason,
			strerror(-rc));
}

/* Poll the status file until the probe decides or the time is up. */
static enum probe_verdict health_check(const struct health *h, struct probe *p)
{
	struct timespec end, now, next;
	enum probe_verdict v;
	struct status st = { 0 };
	int rc;

	deadline_now(&end);
	deadline_add_ms(&end, h->timeout_ms);
	for (;;) {
		rc = status_read(h->status_path, &st);
		v = probe_feed(p, rc, &st);
		if (v != PROBE_WAIT)
			break;
		deadline_now(&now);
		if (deadline_cmp(&now, &end) >= 0) {
			v = probe_timeout(p);
			break;
		}
		next = now;
		deadline_add_ms(&next, HEALTH_POLL_MS);
		deadline_sleep_until(deadline_cmp(&next, &end) < 0 ? &next : &end);
	}

	if (v == PROBE_FAIL)
		health_explain(h, p, rc, &st);
	return v;
}

int main(int argc, char **argv)
{
	struct health h = { .status_path = STATUS_DEFAULT_PATH, .timeout_ms = 2000 };
	enum probe_verdict v;
	struct probe p;
	const char *arg;
	int rc;

	if (cli_parse(&health_cli, &h, argc, argv, &arg, &rc) < 0)
		return rc;	/* --help, or the error already said in one line */

	probe_init(&p);
	v = health_check(&h, &p);
	rc = marker_emit(STDOUT_FILENO, "health",
			 MARKER({ "result", v == PROBE_PASS ? "pass" : "fail" },
				{ "version", p.version },
				{ "reason", p.reason }));
	if (rc < 0)
		fprintf(stderr, "brownout-health: stdout: %s\n", strerror(-rc));
	return v == PROBE_PASS ? 0 : 1;
}
