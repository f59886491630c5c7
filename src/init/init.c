/*
 * brownout-init: PID 1 of every brownout root. It announces the boot
 * ("BROWNOUT init version=V slot=S"), starts the application, hands the rest
 * of the boot to /usr/lib/brownout/init-late (a shell script: the data
 * partition, the rig's fw_cfg driver, the method's boot hooks), then reaps
 * children forever and starts the application again whenever it ends: the
 * in-place method restarts it after an upgrade by ending it, as a service
 * manager would. The initramfs hands over /dev, /proc, /sys, /run and /tmp
 * mounted. A program of its own rather than a shell script because under
 * emulation the shell's start-up alone delayed the application by tens of
 * milliseconds on every boot. PID 1 must never exit: every failure is a line
 * on the console and the loop goes on.
 */
#include "bootargs.h"
#include "fileio.h"

#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define INIT_PATH "/usr/sbin:/usr/bin:/sbin:/bin"
#define INIT_LATE "/usr/lib/brownout/init-late"
#define INIT_APP "brownout-app"
/* An OSTree boot: the initramfs names the deployment it made the root. */
#define INIT_DEPLOYMENT "/run/brownout-deployment"
#define INIT_RESPAWN_MS 200
#define INIT_TEXT_MAX 4096

extern char **environ;

static void init_sleep_ms(long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&t, &t) < 0 && errno == EINTR)
		;
}

/* The first line of path into out; "" when it cannot be read. */
static void init_first_line(const char *path, char *out, size_t size)
{
	char text[INIT_TEXT_MAX];

	out[0] = '\0';
	if (fileio_read_text(path, text, sizeof(text)) < 0)
		return;
	if (bootargs_first_line(text, out, size) < 0)
		fprintf(stderr, "brownout-init: %s: first line too long\n", path);
}

static pid_t init_spawn(char *const argv[])
{
	pid_t pid;
	int rc = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ);

	if (rc != 0) {
		fprintf(stderr, "brownout-init: cannot start %s: %s\n", argv[0], strerror(rc));
		return -1;
	}
	return pid;
}

int main(void)
{
	char cmdline[INIT_TEXT_MAX], version[BOOTARGS_VALUE_MAX], deployment[BOOTARGS_VALUE_MAX];
	char *app_argv[] = { INIT_APP, NULL };
	char *late_argv[5];
	struct bootargs args;
	pid_t app;
	int rc;

	setenv("PATH", INIT_PATH, 1);
	rc = fileio_read_text("/proc/cmdline", cmdline, sizeof(cmdline));
	if (rc < 0)
		fprintf(stderr, "brownout-init: /proc/cmdline: %s\n", strerror(-rc));
	if (bootargs_parse(cmdline, &args) < 0)
		fprintf(stderr, "brownout-init: a brownout.* value on the command line is too long\n");
	init_first_line("/etc/brownout/version", version, sizeof(version));
	init_first_line(INIT_DEPLOYMENT, deployment, sizeof(deployment));
	if (deployment[0])
		memcpy(args.slot, deployment, sizeof(args.slot));
	printf("BROWNOUT init version=%s slot=%s\n", version, args.slot);
	fflush(stdout);

	/* The application first: its first heartbeat ends the boot. */
	app = init_spawn(app_argv);
	late_argv[0] = "/bin/sh";
	late_argv[1] = INIT_LATE;
	late_argv[2] = args.method;
	late_argv[3] = args.data;
	late_argv[4] = NULL;
	init_spawn(late_argv);
	for (;;) {
		int status;
		pid_t pid;

		if (app < 0) {
			init_sleep_ms(INIT_RESPAWN_MS);
			app = init_spawn(app_argv);
		}
		pid = wait(&status);
		if (pid == app) {
			app = -1;
		} else if (pid < 0 && errno == ECHILD) {
			init_sleep_ms(INIT_RESPAWN_MS);
		}
	}
}
