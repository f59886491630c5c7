/* client: what every update client does the same way (see client.h). */
#include "client.h"

#include <ctype.h>
#include <errno.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

void client_marker(const struct client *c, const char *event, const struct marker_field *f,
		   size_t n)
{
	int rc = marker_emit(STDOUT_FILENO, event, f, n);

	if (rc < 0)
		fprintf(stderr, "%s: marker %s: %s\n", c->name, event, strerror(-rc));
}

/* fields, then up to max - n0 of extra's n, as one marker. */
static void client_marker_extra(const struct client *c, const char *event,
				struct marker_field *fields, size_t n0, size_t max,
				const struct marker_field *extra, size_t n)
{
	size_t i;

	for (i = 0; i < n && n0 + i < max; i++)
		fields[n0 + i] = extra[i];
	client_marker(c, event, fields, n0 + i);
}

void client_phase(const struct client *c, const char *name, const char *state,
		  const struct marker_field *extra, size_t n)
{
	struct marker_field f[6] = { { "name", name }, { "state", state } };

	client_marker_extra(c, "phase", f, 2, sizeof(f) / sizeof(f[0]), extra, n);
}

const char *client_errno_word(int rc, char *buf, size_t size)
{
	const char *name = strerrorname_np(-rc);
	size_t i;

	if (!name)
		name = "error";
	for (i = 0; name[i] && i + 1 < size; i++)
		buf[i] = (char)tolower((unsigned char)name[i]);
	buf[i] = '\0';
	return buf;
}

/* "BROWNOUT update-error reason=<reason> detail=<detail>"; CLIENT_ERROR. */
static int client_error(const struct client *c, const char *reason, const char *detail)
{
	client_marker(c, "update-error", MARKER({ "reason", reason },
						 { "detail", detail ? detail : "unknown" }));
	return CLIENT_ERROR;
}

int client_fail(const struct client *c, const char *reason, const char *detail,
		const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", c->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return client_error(c, reason, detail);
}

bool client_healthy(const struct client *c)
{
	char *argv[] = { (char *)c->health, NULL };
	int status, rc;
	pid_t pid;

	rc = posix_spawn(&pid, c->health, NULL, NULL, argv, environ);
	if (rc != 0) {
		fprintf(stderr, "%s: %s: %s\n", c->name, c->health, strerror(rc));
		return false;
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "%s: %s: waitpid: %s\n", c->name, c->health,
				strerror(errno));
			return false;
		}
	}
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

void client_read_version(const char *path, char *out, size_t size)
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

int client_reboot(const struct client *c, const char *reason, const char *slot)
{
	int err;

	/* Everything that matters is fsync'd already; sync() covers the rest (logs on /data). */
	sync();
	client_marker(c, "reboot", MARKER({ "reason", reason }, { "slot", slot }));
	if (c->no_reboot || reboot(RB_AUTOBOOT) == 0)
		return 0;
	err = errno;
	fprintf(stderr, "%s: reboot: %s\n", c->name, strerror(err));
	return -err;
}

int client_reboot_installed(const struct client *c, const char *slot)
{
	char word[CLIENT_WORD_MAX];
	int rc = client_reboot(c, "update", slot);

	return rc < 0 ? client_error(c, "reboot", client_errno_word(rc, word, sizeof(word)))
		      : CLIENT_OK;
}

int client_unhealthy(const struct client *c, const char *slot)
{
	client_marker(c, "confirm", MARKER({ "result", "bad" }, { "slot", slot }));
	client_reboot(c, "unhealthy", slot);
	return CLIENT_ERROR;
}

int client_confirm_error(const struct client *c, const char *slot, const char *detail)
{
	client_marker(c, "confirm", MARKER({ "result", "error" }, { "slot", slot },
					   { "detail", detail }));
	return CLIENT_CONFIRM_ERROR;
}

int client_confirmed(const struct client *c, const char *slot, bool stored,
		     const struct marker_field *extra, size_t n)
{
	char version[64];
	struct marker_field f[6] = {
		{ "result", "good" }, { "slot", slot }, { "version", version },
		{ "env", stored ? "written" : "unchanged" },
	};

	client_read_version(c->version_file, version, sizeof(version));
	client_marker_extra(c, "confirm", f, 4, sizeof(f) / sizeof(f[0]), extra, n);
	return CLIENT_OK;
}
