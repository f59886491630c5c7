/*
 * brownout-app: the device application whose updates the framework tests.
 * Prints a heartbeat marker every interval, keeps a status file for the health
 * check, and runs a self-test at start whose result goes into that file.
 */
#include "deadline.h"
#include "marker.h"
#include "num.h"
#include "selftest.h"
#include "status.h"

#include <errno.h>
#include <getopt.h>
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
	uint32_t interval_ms;
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

static void app_usage(FILE *f)
{
	fprintf(f,
		"usage: brownout-app [--status PATH] [--interval-ms N] [--count N]\n"
		"  --status PATH     status file (default " STATUS_DEFAULT_PATH ")\n"
		"  --interval-ms N   heartbeat interval, 1..%d (default 100)\n"
		"  --count N         stop after N heartbeats; 0 runs until SIGTERM (default 0)\n"
		"  --help            show this help\n"
		"version " APP_VERSION "\n",
		APP_INTERVAL_MAX_MS);
}

/* Returns 1 to run, 0 to exit 0 (--help), -EINVAL on a usage error (reported). */
static int app_parse_args(struct app *app, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "status", required_argument, NULL, 's' },
		{ "interval-ms", required_argument, NULL, 'i' },
		{ "count", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (!*optarg) {
				fprintf(stderr, "brownout-app: --status: empty path\n");
				return -EINVAL;
			}
			app->status_path = optarg;
			break;
		case 'i':
			if (num_parse_u64(optarg, strlen(optarg), APP_INTERVAL_MAX_MS, &v) < 0 || v == 0) {
				fprintf(stderr, "brownout-app: --interval-ms: '%s' is not 1..%d\n",
					optarg, APP_INTERVAL_MAX_MS);
				return -EINVAL;
			}
			app->interval_ms = (uint32_t)v;
			break;
		case 'c':
			if (num_parse_u64(optarg, strlen(optarg), UINT64_MAX, &app->count) < 0) {
				fprintf(stderr, "brownout-app: --count: '%s' is not a number\n", optarg);
				return -EINVAL;
			}
			break;
		case 'h':
			app_usage(stdout);
			return 0;
		default:
			return -EINVAL;	/* getopt_long has said what is wrong */
		}
	}
	if (optind < argc) {
		fprintf(stderr, "brownout-app: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return 1;
}

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
	const char *why;
	int rc;

	rc = app_parse_args(&app, argc, argv);
	if (rc <= 0)
		return rc < 0 ? 2 : 0;	/* the error is already said in one line */
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
