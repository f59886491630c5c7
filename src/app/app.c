/*
 * brownout-app: the device application whose updates the framework tests.
 * Prints a heartbeat marker every interval, keeps a status file for the health
 * check, and runs a self-test at start whose result goes into that file.
 */
#include "selftest.h"

#include "cli.h"
#include "deadline.h"
#include "marker.h"
#include "status.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef APP_VERSION
#error "build with -DAPP_VERSION='\"1\"' (or \"2\", \"2-bad\")"
#endif

_Static_assert(sizeof(APP_VERSION) <= STATUS_VERSION_MAX, "APP_VERSION too long");

#define APP_INTERVAL_MAX_MS 60000

struct app {
	const char *status_path;
	unsigned interval_ms;
	uint64_t count;		/* 0: run until SIGTERM */
	struct status st;
	bool status_failing;	/* report status-file trouble once, not every beat */
	bool console_failing;
};

/* The one global: a signal handler can reach nothing else. */
static volatile sig_atomic_t app_stop_signal;

static void app_on_signal(int sig)
{
	app_stop_signal = sig;
}

/* The command line: options, --help (src/lib/cli.h). */
static const struct cli_opt app_options[] = {
	{ "status", "PATH", "status file (default " STATUS_DEFAULT_PATH ")",
	  CLI_PATH, offsetof(struct app, status_path), 0, 0 },
	{ "interval-ms", "N",
	  "heartbeat interval, 1.." CLI_STR(APP_INTERVAL_MAX_MS) " (default 100)",
	  CLI_UINT, offsetof(struct app, interval_ms), 1, APP_INTERVAL_MAX_MS },
	{ "count", "N", "stop after N heartbeats; 0 runs until SIGTERM (default 0)",
	  CLI_U64, offsetof(struct app, count), 0, UINT64_MAX },
	{ NULL },
};

static const struct cli app_cli = {
	.name = "brownout-app", .opts = app_options, .tail = "version " APP_VERSION "\n",
};

static void app_emit(struct app *app, const char *event, const struct marker_field *f, size_t n)
{
	int rc = marker_emit(STDOUT_FILENO, event, f, n);

	/* A console that went away must not stop the app; say so once on stderr. */
	if (rc < 0 && !app->console_failing)
		fprintf(stderr, "brownout-app: console: %s\n", strerror(-rc));
	app->console_failing = rc < 0;
}

static void app_write_status(struct app *app)
{
	int rc = status_write(app->status_path, &app->st);

	if (rc < 0 && !app->status_failing)
		fprintf(stderr, "brownout-app: %s: %s\n", app->status_path, strerror(-rc));
	else if (rc == 0 && app->status_failing)
		fprintf(stderr, "brownout-app: %s: writing again\n", app->status_path);
	app->status_failing = rc < 0;
}

static void app_beat(struct app *app)
{
	char seq[24];

	snprintf(seq, sizeof(seq), "%" PRIu64, app->st.seq);
	app_emit(app, "heartbeat", MARKER({ "version", APP_VERSION }, { "seq", seq }));
	app_write_status(app);
}

static void app_setup_signals(void)
{
	struct sigaction sa;

	/* No SA_RESTART: SIGTERM must cut the sleep short and end the loop. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = app_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

/* Returns the number of heartbeats printed. */
static uint64_t app_run(struct app *app)
{
	struct timespec next, now;
	uint64_t beats = 0;

	deadline_now(&next);
	/*
	 * A signal landing between the check and the sleep is noticed at the next
	 * wake-up, so SIGTERM takes at most one interval to act on.
	 */
	while (!app_stop_signal) {
		app_beat(app);
		beats++;
		if (app->count && beats >= app->count)
			break;
		app->st.seq++;
		deadline_now(&now);
		deadline_advance(&next, &now, app->interval_ms);
		deadline_sleep_until(&next);
	}
	return beats;
}

int main(int argc, char **argv)
{
	struct app app = {
		.status_path = STATUS_DEFAULT_PATH,
		.interval_ms = 100,
		.st = { .version = APP_VERSION, .pid = getpid() },
	};
	char pid[24], beats[24];
	const char *why, *arg;
	int rc;

	if (cli_parse(&app_cli, &app, argc, argv, &arg, &rc) < 0)
		return rc;	/* --help, or the error already said in one line */
	app_setup_signals();

	snprintf(pid, sizeof(pid), "%ld", (long)app.st.pid);
	app_emit(&app, "app-start", MARKER({ "version", APP_VERSION }, { "pid", pid }));

	/* A failed self-test does not stop the app: it runs on and reports healthy=0. */
	rc = selftest_run(&why);
	app.st.healthy = rc == 0;
	app_emit(&app, "selftest",
		 MARKER({ "result", rc == 0 ? "pass" : "fail" },
			{ "version", APP_VERSION }, { "reason", why }));

	rc = status_make_parent(app.status_path);
	if (rc < 0) {
		fprintf(stderr, "brownout-app: %s: cannot create its directory: %s\n",
			app.status_path, strerror(-rc));
		app.status_failing = true;	/* said once; the writes will fail too */
	}

	snprintf(beats, sizeof(beats), "%" PRIu64, app_run(&app));
	app_emit(&app, "app-stop",
		 MARKER({ "version", APP_VERSION }, { "beats", beats },
			{ "reason", app_stop_signal ? "signal" : "count" }));
	return 0;
}
