/*
 * brownout-inplace: the in-place update client. It runs the real apt-get and
 * dpkg (fork/exec, never a shell) against the signed repository the harness
 * serves, then restarts the application and checks its health.
 *   install URL  repair what an earlier run left (dpkg --audit and dpkg's
 *                unfolded journal, then dpkg --configure -a), apt-get
 *                update, the release check (a repository that offers only
 *                an older release is refused), download (pull),
 *                apt-get install --reinstall of what dpkg could not
 *                configure, apt-get dist-upgrade (deploy), dpkg --audit,
 *                restart the application, health check; ends with
 *                "BROWNOUT settled"
 *   check        the health check alone, at boot: "BROWNOUT settled"
 * There is no rollback: a new version that fails its health check stays
 * installed and the settled marker says it is unhealthy.
 * A failed step ends with "BROWNOUT update-error reason=R detail=D". apt's
 * messages (copied to the console as they come) tell a refusal from a broken
 * transfer: a repository whose signature does not verify is
 * reason=verify detail=repository-signature, a package or index that differs
 * from the signed hashes reason=verify detail=hash (aptlog.h); any other
 * failure of apt-get update is reason=repository detail=apt-update, of a
 * download reason=download detail=apt-download.
 * Exit status: 0 healthy, 1 update error or unhealthy, 2 usage error.
 */
#include "aptlog.h"
#include "dpkgdb.h"

#include "client.h"
#include "marker.h"
#include "status.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define INPLACE_DIR "/run/brownout-inplace"
#define INPLACE_SOURCES INPLACE_DIR "/sources.list"
/* The one key the source is signed with (its Signed-By), as the root trees carry it. */
#define INPLACE_KEYRING "/etc/apt/trusted.gpg.d/brownout-archive.gpg"
/* How long the restarted application may take to write its first status. */
#define INPLACE_RESTART_MS 10000
#define INPLACE_AUDIT_MAX 4096
/* dpkg-query's line per package: about 30 bytes, a few hundred packages. */
#define INPLACE_QUERY_MAX 32768
#define INPLACE_REINSTALL_MAX 8
/* The package that carries the release (/etc/brownout/version). */
#define INPLACE_RELEASE_PACKAGE "brownout-app"

enum { INPLACE_INSTALL, INPLACE_CHECK };

struct inplace {
	struct client cl;	/* the program and its voice (src/lib/client.h) */
	const char *status_path;	/* --status: the application's status file */
};

extern char **environ;

/* The command line: commands, options, --help (src/lib/cli.h). */
static const struct cli_command inplace_commands[] = {
	[INPLACE_INSTALL] = { "install", "URL",
		"upgrade the running root from the signed repository at URL\n"
		"(apt-get/dpkg), restart the application, check its health" },
	[INPLACE_CHECK] = { "check", NULL, "check the application's health" },
	{ NULL },
};

static const struct cli_opt inplace_options[] = {
	{ "status", "PATH", "the application's status file (default " STATUS_DEFAULT_PATH ")",
	  CLI_PATH, offsetof(struct inplace, status_path), 0, 0 },
	{ NULL },
};

static const struct cli inplace_cli = {
	.name = "brownout-inplace", .cmds = inplace_commands, .opts = inplace_options,
	.tail = "exit status: 0 healthy, 1 update error or unhealthy, 2 usage error\n",
};

/* One of a child's output streams on its way through us. */
struct inplace_pipe {
	int fd;			/* our read end; -1 once the stream has ended */
	int echo;		/* our fd it is copied to, or -1 */
	struct aptlog *log;	/* fed with it, or NULL */
	char *out;		/* collected here (cut at size - 1), or NULL */
	size_t size, got;
};

static void inplace_echo(struct inplace_pipe *p, const char *data, size_t n)
{
	while (n > 0) {
		ssize_t w = write(p->echo, data, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			/* Copy no more, but read on, so the child never blocks on the pipe. */
			p->echo = -1;
			return;
		}
		data += w;
		n -= (size_t)w;
	}
}

static void inplace_pipe_read(struct inplace_pipe *p)
{
	char chunk[4096];
	ssize_t r = read(p->fd, chunk, sizeof(chunk));

	if (r < 0 && errno == EINTR)
		return;
	if (r <= 0) {
		close(p->fd);
		p->fd = -1;
		return;
	}
	/* What does not fit in out is read all the same, so the child never blocks on the pipe. */
	if (p->out && p->got + 1 < p->size) {
		size_t take = (size_t)r < p->size - 1 - p->got ? (size_t)r : p->size - 1 - p->got;

		memcpy(p->out + p->got, chunk, take);
		p->got += take;
	}
	if (p->log)
		aptlog_feed(p->log, chunk, (size_t)r);
	if (p->echo >= 0)
		inplace_echo(p, chunk, (size_t)r);
}

/* Read both streams as they come until both end (the child and its helpers are gone). */
static void inplace_drain(struct inplace_pipe p[2])
{
	while (p[0].fd >= 0 || p[1].fd >= 0) {
		/* poll() skips a negative fd: an ended stream. */
		struct pollfd pfd[2] = { { p[0].fd, POLLIN, 0 }, { p[1].fd, POLLIN, 0 } };

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "brownout-inplace: poll: %s\n", strerror(errno));
			for (int i = 0; i < 2; i++)
				if (p[i].fd >= 0) {
					close(p[i].fd);
					p[i].fd = -1;
				}
			return;
		}
		for (int i = 0; i < 2; i++)
			if (p[i].fd >= 0 && pfd[i].revents)
				inplace_pipe_read(&p[i]);
	}
}

/*
 * Run argv (PATH lookup), wait for it. With out, its stdout is collected there
 * (NUL-terminated, cut at size - 1) instead of going to ours. With logs, its
 * stdout and stderr still go to ours and are fed to logs[0] and logs[1] on
 * the way (two logs: a line of one stream must not be read into the other's).
 * Returns its exit status, or -1 if it could not run or was killed (reported).
 */
static int inplace_run(char *const argv[], char *out, size_t size, struct aptlog logs[2])
{
	static const int child_fd[2] = { STDOUT_FILENO, STDERR_FILENO };
	struct inplace_pipe p[2] = { { .fd = -1, .echo = -1 }, { .fd = -1, .echo = -1 } };
	int wr[2] = { -1, -1 }, status, rc = 0;
	posix_spawn_file_actions_t fa;
	pid_t pid;

	posix_spawn_file_actions_init(&fa);
	for (int i = 0; i < 2 && rc == 0; i++) {
		int fds[2];

		if (!logs && !(i == 0 && out))
			continue;
		if (pipe2(fds, O_CLOEXEC) < 0) {
			rc = errno;
			fprintf(stderr, "brownout-inplace: pipe: %s\n", strerror(rc));
			break;
		}
		p[i].fd = fds[0];
		wr[i] = fds[1];
		p[i].echo = logs ? child_fd[i] : -1;
		p[i].log = logs ? &logs[i] : NULL;
		if (i == 0) {
			p[i].out = out;
			p[i].size = size;
		}
		/* dup2 leaves the child's copy without O_CLOEXEC; exec closes the originals. */
		posix_spawn_file_actions_adddup2(&fa, fds[1], child_fd[i]);
	}
	if (rc == 0) {
		rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
		if (rc != 0)
			fprintf(stderr, "brownout-inplace: %s: %s\n", argv[0], strerror(rc));
	}
	posix_spawn_file_actions_destroy(&fa);
	for (int i = 0; i < 2; i++)
		if (wr[i] >= 0)
			close(wr[i]);
	if (rc == 0)
		inplace_drain(p);
	for (int i = 0; i < 2; i++)
		if (p[i].fd >= 0)
			close(p[i].fd);
	if (out)
		out[p[0].got] = '\0';
	if (rc != 0)
		return -1;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "brownout-inplace: %s: waitpid: %s\n", argv[0], strerror(errno));
			return -1;
		}
	}
	if (!WIFEXITED(status)) {
		fprintf(stderr, "brownout-inplace: %s: killed by signal %d\n", argv[0], WTERMSIG(status));
		return -1;
	}
	return WEXITSTATUS(status);
}

/*
 * apt-get with the repository at url as its only source, quiet and
 * non-interactive. With kind, what its messages (stdout and stderr: -q puts
 * the reason a file failed in stdout's "Err:" lines, the summary in stderr's
 * "E:" lines) say went wrong, see aptlog.h.
 */
static int inplace_apt(const char *const *args, size_t n, enum aptlog_kind *kind)
{
	char *argv[24] = { "apt-get", "-q", "-y",
		"-o", "Dir::Etc::SourceList=" INPLACE_SOURCES,
		"-o", "Dir::Etc::SourceParts=/nonexistent",
		"-o", "APT::Update::Error-Mode=any",
		"-o", "Dpkg::Use-Pty=0" };
	struct aptlog logs[2];
	enum aptlog_kind err;
	size_t i = 11;
	int rc;

	for (size_t k = 0; k < n && i + 1 < sizeof(argv) / sizeof(argv[0]); k++)
		argv[i++] = (char *)args[k];
	argv[i] = NULL;
	if (!kind)
		return inplace_run(argv, NULL, 0, NULL);
	/* Classified line by line as it passes, not kept: apt's errors come last, after a line per file. */
	aptlog_init(&logs[0]);
	aptlog_init(&logs[1]);
	rc = inplace_run(argv, NULL, 0, logs);
	*kind = aptlog_finish(&logs[0]);
	err = aptlog_finish(&logs[1]);
	if (err > *kind)
		*kind = err;
	return rc;
}

/* An apt-get run that fetches from the repository failed: a refusal, or reason/detail. */
static int inplace_fetch_fail(const struct client *c, enum aptlog_kind kind, const char *reason,
			      const char *detail, const char *what)
{
	switch (kind) {
	case APTLOG_SIGNATURE:
		return client_fail(c, "verify", "repository-signature", "%s failed", what);
	case APTLOG_HASH:
		return client_fail(c, "verify", "hash", "%s failed", what);
	case APTLOG_OTHER:
		break;
	}
	return client_fail(c, reason, detail, "%s failed", what);
}

/*
 * Forget the package lists of earlier runs. apt does not fsync them: after a
 * power cut following `apt-get update` their names survive with lost
 * contents, the next update sees an unchanged InRelease and keeps them, and
 * the upgrade finds nothing to do. Fetched again they cost about 1.4 kB.
 */
static void inplace_forget_lists(void)
{
	static const char *const dirs[] = { "/var/lib/apt/lists", "/var/lib/apt/lists/partial" };

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		DIR *d = opendir(dirs[i]);
		struct dirent *e;

		if (!d)
			continue;
		while ((e = readdir(d)) != NULL) {
			if (e->d_type != DT_REG || strcmp(e->d_name, "lock") == 0)
				continue;
			if (unlinkat(dirfd(d), e->d_name, 0) < 0)
				fprintf(stderr, "brownout-inplace: %s/%s: %s\n", dirs[i], e->d_name,
					strerror(errno));
		}
		closedir(d);
	}
}

static int inplace_sources(const char *url)
{
	FILE *f;
	int rc = 0;

	if (mkdir(INPLACE_DIR, 0755) < 0 && errno != EEXIST)
		return -errno;
	f = fopen(INPLACE_SOURCES, "we");
	if (!f)
		return -errno;
	/*
	 * A flat repository: InRelease and Packages at the URL itself. Signed-By
	 * trusts its one key, not every key apt trusts: apt-key then checks
	 * against that keyring alone, where it would first merge each of the
	 * root's keyrings (Debian's archive keys too) into one.
	 */
	if (fprintf(f, "deb [signed-by=" INPLACE_KEYRING "] %s ./\n", url) < 0)
		rc = -EIO;
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	return rc;
}

/* dpkg --audit: 1 if it lists nothing, 0 if it does (printed), -1 if it could not run. */
static int inplace_audit(void)
{
	char *audit[] = { "dpkg", "--audit", NULL };
	char out[INPLACE_AUDIT_MAX];
	int rc = inplace_run(audit, out, sizeof(out), NULL);

	if (rc < 0)
		return -1;
	if (rc == 0 && out[strspn(out, " \n")] == '\0')
		return 1;
	fprintf(stderr, "brownout-inplace: dpkg --audit:\n%s", out);
	return 0;
}

/*
 * dpkg's database is settled when dpkg --audit lists nothing and no journal
 * entry waits to be folded into the status file (dpkgdb.h). An unreadable
 * journal directory counts as unsettled: the repair is harmless when needless.
 */
static bool inplace_settled(int audit)
{
	int journal = dpkgdb_journal_entries(DPKGDB_UPDATES_DIR);

	if (journal < 0)
		fprintf(stderr, "brownout-inplace: %s: %s\n", DPKGDB_UPDATES_DIR, strerror(-journal));
	else if (journal > 0)
		fprintf(stderr, "brownout-inplace: %s: %d entries not folded in\n", DPKGDB_UPDATES_DIR,
			journal);
	return audit == 1 && journal == 0;
}

/*
 * What an interrupted earlier run left, on every start: dpkg --audit and
 * dpkg's journal, then dpkg --configure -a if either is unsettled. It opens
 * the database for writing, so dpkg folds its journal in even when nothing is
 * left to configure. dpkg refuses to configure a package flagged
 * reinst-required (cut while dpkg unpacked it: its files may be of two
 * versions) and fails; that is not the end of the update: the deploy
 * reinstalls such packages from the repository (inplace_reinstreq), and the
 * audit after it decides.
 */
static int inplace_repair(const struct client *c)
{
	char *configure[] = { "dpkg", "--configure", "-a", NULL };
	int audit = inplace_audit();

	if (audit < 0)
		return client_fail(c, "dpkg", "audit", "dpkg --audit failed");
	if (inplace_settled(audit)) {
		client_marker(c, "inplace-audit", MARKER({ "result", "clean" }));
		return CLIENT_OK;
	}
	client_marker(c, "inplace-audit", MARKER({ "result", audit == 1 ? "journal" : "broken" }));
	if (inplace_run(configure, NULL, 0, NULL) != 0)
		fprintf(stderr, "brownout-inplace: dpkg --configure -a failed; the deploy reinstalls what it left\n");
	client_marker(c, "inplace-audit",
		      MARKER({ "result", inplace_settled(inplace_audit()) ? "repaired" : "unrepaired" }));
	return CLIENT_OK;
}

/*
 * The packages dpkg flags reinst-required ("R", the third letter of
 * db:Status-Abbrev), into names (pointing into buf). apt-get keeps such a
 * package when its version is the one installed and only tries to configure
 * it again, which dpkg refuses: it has to be asked to reinstall it.
 */
static size_t inplace_reinstreq(const struct client *c, char *buf, size_t size, const char *names[],
				size_t max)
{
	char *query[] = { "dpkg-query", "-W", "-f", "${db:Status-Abbrev} ${binary:Package}\n", NULL };
	char *line, *save = NULL;
	size_t n = 0;

	if (inplace_run(query, buf, size, NULL) != 0)
		return 0;
	for (line = strtok_r(buf, "\n", &save); line && n < max; line = strtok_r(NULL, "\n", &save)) {
		if (strlen(line) > 4 && line[2] == 'R' && marker_value_ok(line + 4)) {
			names[n] = line + 4;
			client_marker(c, "inplace-reinstall", MARKER({ "package", names[n] }));
			n++;
		}
	}
	return n;
}

/*
 * apt never downgrades on its own: it would keep the installed package and
 * call the update done. Refused instead, before anything is downloaded: a
 * repository that offers only releases older than the installed one (an old
 * release, correctly signed, or a replayed one). 0 to go on, else CLIENT_ERROR.
 */
static int inplace_check_release(const struct client *c)
{
	char *installed_q[] = { "dpkg-query", "-W", "-f", "${Version}", INPLACE_RELEASE_PACKAGE, NULL };
	/* The lists apt-get update fetched from the source list it was given, as it was given. */
	char *madison[] = { "apt-cache", "-o", "Dir::Etc::SourceList=" INPLACE_SOURCES,
			    "-o", "Dir::Etc::SourceParts=/nonexistent", "madison",
			    INPLACE_RELEASE_PACKAGE, NULL };
	char installed[64], offers[INPLACE_AUDIT_MAX], older_offer[64] = "";
	char *line, *save = NULL;

	if (inplace_run(installed_q, installed, sizeof(installed), NULL) != 0 || !installed[0])
		return CLIENT_OK;	/* nothing installed to protect */
	if (inplace_run(madison, offers, sizeof(offers), NULL) != 0)
		return client_fail(c, "repository", "apt-cache", "apt-cache madison failed");
	/* "brownout-app |          2 | http://.../ ./ Packages", a line per version offered */
	for (line = strtok_r(offers, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char version[64];
		char *cmp[] = { "dpkg", "--compare-versions", version, "lt", installed, NULL };

		if (sscanf(line, "%*s | %63s |", version) != 1)
			continue;
		if (inplace_run(cmp, NULL, 0, NULL) != 0)
			return CLIENT_OK;	/* not older than the installed release */
		snprintf(older_offer, sizeof(older_offer), "%s", version);
	}
	if (!older_offer[0])
		return CLIENT_OK;	/* the repository offers none: apt decides */
	return client_fail(c, "verify", "downgrade", "the repository offers %s %s, older than the installed %s",
			   INPLACE_RELEASE_PACKAGE, older_offer, installed);
}

static void inplace_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * End the running application; brownout-init starts it again from the new
 * files. Waits until a new process writes the status file.
 */
static int inplace_restart(const struct client *c, const char *status_path)
{
	struct status st;
	pid_t old;

	if (status_read(status_path, &st) < 0) {
		fprintf(stderr, "brownout-inplace: %s: no status to find the application\n", status_path);
		return -ENOENT;
	}
	old = st.pid;
	if (kill(old, SIGTERM) < 0 && errno != ESRCH)
		return -errno;
	for (long waited = 0; waited < INPLACE_RESTART_MS; waited += 50) {
		if (status_read(status_path, &st) == 0 && st.pid != old) {
			char pid[16];

			snprintf(pid, sizeof(pid), "%ld", (long)st.pid);
			client_marker(c, "app-restart", MARKER({ "pid", pid },
							     { "version", st.version }));
			return 0;
		}
		inplace_sleep_ms(50);
	}
	return -ETIMEDOUT;
}

/* The health check, then "settled result=healthy|unhealthy version=...". */
static int inplace_settle(const struct client *c)
{
	char version[64];
	bool healthy;

	client_read_version(c->version_file, version, sizeof(version));
	healthy = client_healthy(c);
	client_marker(c, "settled", MARKER({ "result", healthy ? "healthy" : "unhealthy" },
					   { "slot", "root" }, { "version", version }));
	return healthy ? CLIENT_OK : CLIENT_ERROR;
}

static int inplace_install(const struct client *c, const char *url, const char *status_path)
{
	static const char *const update[] = { "update" };
	static const char *const download[] = { "--download-only", "dist-upgrade" };
	static const char *const upgrade[] = { "dist-upgrade" };
	const char *reinstall[3 + INPLACE_REINSTALL_MAX] = { "--download-only", "install", "--reinstall" };
	char query[INPLACE_QUERY_MAX];
	enum aptlog_kind kind;
	size_t broken;
	int rc;

	if (!marker_value_ok(url))
		return client_fail(c, "request", "url", "the repository URL failed");
	rc = inplace_sources(url);
	if (rc < 0) {
		fprintf(stderr, "brownout-inplace: %s: %s\n", INPLACE_SOURCES, strerror(-rc));
		return client_fail(c, "sources", "write", "writing the source list failed");
	}
	if (inplace_repair(c) != CLIENT_OK)
		return CLIENT_ERROR;

	client_phase(c, "pull", "start", MARKER_NONE);
	inplace_forget_lists();
	/* apt checks InRelease against INPLACE_KEYRING and every index against it. */
	if (inplace_apt(update, 1, &kind) != 0)
		return inplace_fetch_fail(c, kind, "repository", "apt-update", "apt-get update");
	if (inplace_check_release(c) != CLIENT_OK)
		return CLIENT_ERROR;
	/* Every .deb is fetched and its hash checked before dpkg touches the root. */
	if (inplace_apt(download, 2, &kind) != 0)
		return inplace_fetch_fail(c, kind, "download", "apt-download",
					  "apt-get --download-only dist-upgrade");
	broken = inplace_reinstreq(c, query, sizeof(query), reinstall + 3, INPLACE_REINSTALL_MAX);
	if (broken && inplace_apt(reinstall, 3 + broken, &kind) != 0)
		return inplace_fetch_fail(c, kind, "download", "apt-download",
					  "apt-get --download-only install --reinstall");
	client_phase(c, "pull", "end", MARKER_NONE);

	client_phase(c, "deploy", "start", MARKER_NONE);
	if (broken && inplace_apt(reinstall + 1, 2 + broken, NULL) != 0)
		return client_fail(c, "dpkg", "apt-reinstall", "apt-get install --reinstall failed");
	/* dpkg unpacks (file.dpkg-new, fsync, rename) and configures, package by package. */
	if (inplace_apt(upgrade, 1, NULL) != 0)
		return client_fail(c, "dpkg", "apt-upgrade", "apt-get dist-upgrade failed");
	/* dpkg fsyncs what it writes; sync() covers what the maintainer scripts wrote. */
	sync();
	/* The deploy is over only when dpkg has nothing left half-way. */
	if (inplace_audit() != 1)
		return client_fail(c, "dpkg", "audit", "dpkg --audit after the upgrade failed");
	client_phase(c, "deploy", "end", MARKER_NONE);

	rc = inplace_restart(c, status_path);
	if (rc < 0)
		fprintf(stderr, "brownout-inplace: restarting the application: %s\n", strerror(-rc));
	return inplace_settle(c);
}

int main(int argc, char **argv)
{
	struct inplace ip = {
		.cl = CLIENT_INIT(inplace_cli.name),
		.status_path = STATUS_DEFAULT_PATH,
	};
	const char *url;
	int cmd, rc;

	cmd = cli_parse(&inplace_cli, &ip, argc, argv, &url, &rc);
	if (cmd < 0)
		return rc;
	if (cmd == INPLACE_CHECK)
		return inplace_settle(&ip.cl);
	/* apt and dpkg ask nothing; maintainer scripts see no terminal. */
	setenv("DEBIAN_FRONTEND", "noninteractive", 1);
	setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin", 1);
	return inplace_install(&ip.cl, url, ip.status_path);
}
