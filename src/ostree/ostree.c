/*
 * brownout-ostree: the OSTree update client, on libostree.
 *   install URL  pull the signed commit of ref brownout/update from the archive
 *                repo at URL, deploy it (not staged: no systemd finalizer), arm
 *                the boot counter, make it the default deployment, reboot
 *   confirm      run the health check; mark the booted deployment good (and
 *                only then clean up), make a fallback deployment the default
 *                again, or reboot so the boot counter runs out
 * Exit status: 0 success, 1 update error (or, for confirm, an unhealthy
 * deployment), 2 usage error, 3 confirm could not check or mark the deployment.
 */
#include "envstore.h"
#include "marker.h"
#include "env.h"
#include "update.h"

#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <ostree.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/wait.h>
#include <unistd.h>

#define OSTREE_HEALTH_DEFAULT "/usr/bin/brownout-health"
#define OSTREE_VERSION_DEFAULT "/etc/brownout/version"
#define OSTREE_REMOTE "brownout"
#define OSTREE_REF "brownout/update"
#define OSTREE_REPO_PATH "/ostree/repo"

enum {
	OSTREE_OK = UPDATE_OK,
	OSTREE_ERROR = UPDATE_ERROR,
	OSTREE_USAGE = 2,
	OSTREE_CONFIRM_ERROR = 3,
};

struct ostree {
	struct update up;	/* name, no_reboot: the markers and the reboot of src/lib/update.h */
	const char *fw_config;
	const char *health;
	const char *version_file;
	gboolean no_deltas;
	unsigned retries;
};

extern char **environ;

static void ostree_usage(FILE *f)
{
	fprintf(f,
		"usage: brownout-ostree [options] install URL | confirm\n"
		"  install URL            pull " OSTREE_REF " from the archive repo at URL (signature\n"
		"                         checked), deploy it, arm the boot counter, reboot\n"
		"  confirm                run the health check; mark the booted deployment good\n"
		"options:\n"
		"  --fw-config PATH       libubootenv config (default " ENVSTORE_CONFIG_DEFAULT ")\n"
		"  --no-deltas            never use static deltas, pull objects one by one\n"
		"  --no-reboot            do everything but reboot\n"
		"  --retries N            pulls run again after a broken transfer, 0..100 (default 5)\n"
		"  --health PATH          health check (default " OSTREE_HEALTH_DEFAULT ")\n"
		"  --version-file PATH    version of the booted root (default " OSTREE_VERSION_DEFAULT ")\n"
		"  --help                 show this help\n");
}

static uint64_t ostree_du_bytes;

static int ostree_du_add(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)path, (void)flag, (void)ftw;
	/* Hard links count once per name here; the repo has none among its objects. */
	ostree_du_bytes += (uint64_t)st->st_blocks * 512;
	return 0;
}

/* Disk usage of the repo in KiB, as du counts it; 0 if it cannot be walked. */
static uint64_t ostree_du_kib(void)
{
	ostree_du_bytes = 0;
	if (nftw(OSTREE_REPO_PATH, ostree_du_add, 32, FTW_PHYS) != 0)
		return 0;
	return ostree_du_bytes / 1024;
}

/* "<commit>.<serial>": the deployment's directory name, what brownout-init prints. */
static char *ostree_label(OstreeDeployment *d)
{
	return g_strdup_printf("%s.%d", ostree_deployment_get_csum(d),
			       ostree_deployment_get_deployserial(d));
}

/* The one report of a failed install, with the GError's message for people. */
static int ostree_fail(const struct ostree *os, const char *reason, const char *detail,
		       const char *what, const GError *error)
{
	return update_fail(&os->up, reason, detail, "%s: %s", what,
			   error ? error->message : "failed");
}

/* A pull error's marker detail: refusals (signature, checksum) apart from transfers. */
static const char *ostree_pull_error_kind(const GError *error)
{
	const char *m = error ? error->message : "";

	if (strstr(m, "GPG") || strstr(m, "signature") || strstr(m, "Signature"))
		return "signature";
	if (strstr(m, "Corrupted") || strstr(m, "checksum"))
		return "checksum";
	return "pull";
}

static int ostree_load(const struct ostree *os, OstreeSysroot **out, OstreeDeployment **booted,
		       gboolean lock, const char *what)
{
	g_autoptr(OstreeSysroot) sysroot = ostree_sysroot_new_default();
	g_autoptr(GError) error = NULL;

	if (!ostree_sysroot_load(sysroot, NULL, &error))
		return ostree_fail(os, "sysroot", "load", what, error);
	/* One writer at a time; a second client waits here. */
	if (lock && !ostree_sysroot_lock(sysroot, &error))
		return ostree_fail(os, "sysroot", "lock", what, error);
	*booted = ostree_sysroot_get_booted_deployment(sysroot);
	if (!*booted)
		return update_fail(&os->up, "sysroot", "not-booted",
				   "%s: not booted into a deployment", what);
	*out = g_steal_pointer(&sysroot);
	return OSTREE_OK;
}

static int ostree_pull(const struct ostree *os, OstreeRepo *repo, const char *url, char **rev)
{
	const char *refs[] = { OSTREE_REF, NULL };
	g_autoptr(OstreeAsyncProgress) progress = ostree_async_progress_new();
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) options = NULL;
	g_auto(GVariantBuilder) b;
	char bytes[24];

	g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
	g_variant_builder_add(&b, "{sv}", "refs", g_variant_new_strv(refs, -1));
	g_variant_builder_add(&b, "{sv}", "override-url", g_variant_new_string(url));
	g_variant_builder_add(&b, "{sv}", "disable-static-deltas",
			      g_variant_new_boolean(os->no_deltas));
	options = g_variant_ref_sink(g_variant_builder_end(&b));

	update_phase(&os->up, "pull", "start", MARKER({ "ref", OSTREE_REF }));
	/* Objects are checksummed as they land; the commit's GPG signature is
	 * checked against the remote's keyring (gpg-verify=true) before the ref
	 * moves. libostree 2022.7 does not retry a transfer the server breaks
	 * off, so a broken pull is run again: what it fetched stays staged in the
	 * repo and is not fetched twice. A refusal is never retried. */
	for (unsigned attempt = 0;; attempt++) {
		const char *kind;
		char n[12];

		if (ostree_repo_pull_with_options(repo, OSTREE_REMOTE, options, progress, NULL,
						  &error))
			break;
		kind = ostree_pull_error_kind(error);
		if (strcmp(kind, "pull") != 0)
			return ostree_fail(os, "verify", kind, "pull", error);
		if (attempt >= os->retries)
			return ostree_fail(os, "download", "pull", "pull", error);
		fprintf(stderr, "brownout-ostree: pull: %s; again\n", error->message);
		snprintf(n, sizeof(n), "%u", attempt + 1);
		update_marker(&os->up, "pull-retry", MARKER({ "what", "objects" },
							    { "attempt", n }));
		g_clear_error(&error);
	}
	ostree_async_progress_finish(progress);
	if (!ostree_repo_resolve_rev(repo, OSTREE_REMOTE ":" OSTREE_REF, FALSE, rev, &error))
		return ostree_fail(os, "pull", "ref", "resolving " OSTREE_REF, error);
	snprintf(bytes, sizeof(bytes), "%" PRIu64,
		 ostree_async_progress_get_uint64(progress, "bytes-transferred"));
	update_phase(&os->up, "pull", "end", MARKER({ "bytes", bytes }));
	return OSTREE_OK;
}

static int ostree_install(const struct ostree *os, const char *url)
{
	g_autoptr(OstreeSysroot) sysroot = NULL;
	g_autoptr(OstreeRepo) repo = NULL;
	g_autoptr(OstreeDeployment) merge = NULL, deployment = NULL;
	g_autoptr(GKeyFile) origin = NULL;
	g_autoptr(GPtrArray) list = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree char *rev = NULL, *name = NULL;
	OstreeDeployment *booted = NULL;
	OstreeSysrootWriteDeploymentsOpts opts = { .do_postclean = FALSE };
	char word[UPDATE_WORD_MAX], before[24], after[24];
	const char *osname;
	int rc;

	rc = ostree_load(os, &sysroot, &booted, TRUE, "install");
	if (rc != OSTREE_OK)
		return rc;
	osname = ostree_deployment_get_osname(booted);
	if (!ostree_sysroot_get_repo(sysroot, &repo, NULL, &error))
		return ostree_fail(os, "sysroot", "repo", "install", error);
	snprintf(before, sizeof(before), "%" PRIu64, ostree_du_kib());

	rc = ostree_pull(os, repo, url, &rev);
	if (rc != OSTREE_OK)
		return rc;
	if (strcmp(rev, ostree_deployment_get_csum(booted)) == 0)
		return update_fail(&os->up, "current", "same-commit", "%s is running already", rev);

	update_phase(&os->up, "deploy", "start", MARKER_NONE);
	merge = ostree_sysroot_get_merge_deployment(sysroot, osname);
	origin = ostree_sysroot_origin_new_from_refspec(sysroot, OSTREE_REMOTE ":" OSTREE_REF);
	/* Checkout by hard links, /etc merged from the running deployment, kernel
	 * arguments inherited; libostree fsyncs the new tree before it returns. */
	if (!ostree_sysroot_deploy_tree(sysroot, osname, rev, origin, merge, NULL, &deployment,
					NULL, &error))
		return ostree_fail(os, "deploy", "tree", "deploy", error);
	name = ostree_label(deployment);
	update_phase(&os->up, "deploy", "end", MARKER({ "deployment", name }));

	update_phase(&os->up, "bootloader", "start", MARKER({ "deployment", name }));
	/* The counter first: once the loader symlink names the new deployment it
	 * must already be on trial, or a bad one would boot with no way back. A
	 * cut between the two boots the old default, which confirms and disarms. */
	rc = ostree_env_arm(os->fw_config);
	if (rc < 0)
		return update_fail(&os->up, "bootenv", update_errno_word(rc, word, sizeof(word)),
				   "%s: arming the boot counter: %s", os->fw_config,
				   rc == -EIO ? "read-back shows other values" : strerror(-rc));
	/* New default first, the running one as the fallback (uEnv.txt's
	 * kernel_image2); older ones go. libostree writes loader.N whole, fsyncs it,
	 * renames the /boot/loader symlink over, then syncs /boot. */
	list = g_ptr_array_new_with_free_func(g_object_unref);
	g_ptr_array_add(list, g_object_ref(deployment));
	g_ptr_array_add(list, g_object_ref(booted));
	if (!ostree_sysroot_write_deployments_with_options(sysroot, list, &opts, NULL, &error))
		return ostree_fail(os, "bootloader", "write-deployments", "write deployments",
				   error);
	update_phase(&os->up, "bootloader", "end", MARKER({ "deployment", name }));
	snprintf(after, sizeof(after), "%" PRIu64, ostree_du_kib());
	update_marker(&os->up, "repo-usage", MARKER({ "before_kib", before },
						    { "after_kib", after }));
	return update_reboot(&os->up, name);
}

/* Run the health check; 1 if it passed, 0 if it failed or could not run. */
static int ostree_healthy(const char *health)
{
	char *argv[] = { (char *)health, NULL };
	int status, rc;
	pid_t pid;

	rc = posix_spawn(&pid, health, NULL, NULL, argv, environ);
	if (rc != 0) {
		fprintf(stderr, "brownout-ostree: %s: %s\n", health, strerror(rc));
		return 0;
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "brownout-ostree: %s: waitpid: %s\n", health,
				strerror(errno));
			return 0;
		}
	}
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void ostree_read_version(const char *path, char *out, size_t size)
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

static void ostree_confirm_error(const struct ostree *os, const char *slot, const char *detail)
{
	update_marker(&os->up, "confirm", MARKER({ "result", "error" },
						 { "slot", slot },
						 { "detail", detail }));
}

static int ostree_confirm(const struct ostree *os)
{
	g_autoptr(OstreeSysroot) sysroot = NULL;
	g_autoptr(GPtrArray) deployments = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree char *name = NULL;
	OstreeDeployment *booted = NULL;
	char version[64], word[UPDATE_WORD_MAX];
	const char *fallback = "no";
	int stored = 0, rc;

	if (ostree_load(os, &sysroot, &booted, TRUE, "confirm") != OSTREE_OK) {
		ostree_confirm_error(os, "none", "sysroot");
		return OSTREE_CONFIRM_ERROR;
	}
	name = ostree_label(booted);
	if (!ostree_healthy(os->health)) {
		update_marker(&os->up, "confirm", MARKER({ "result", "bad" }, { "slot", name }));
		/* Not marked good: this boot spent a try; U-Boot falls back once they are gone. */
		sync();
		update_marker(&os->up, "reboot", MARKER({ "reason", "unhealthy" },
							{ "slot", name }));
		if (!os->up.no_reboot && reboot(RB_AUTOBOOT) < 0)
			fprintf(stderr, "brownout-ostree: reboot: %s\n", strerror(errno));
		return OSTREE_ERROR;
	}
	deployments = ostree_sysroot_get_deployments(sysroot);
	if (deployments->len > 0 && deployments->pdata[0] != booted) {
		/* U-Boot booted the previous deployment: the default one spent its
		 * tries. Make the running one the only deployment before the counter
		 * is disarmed: a cut in between boots it as entry 1 (the script finds
		 * no entry 2), never the failed one with the counter off. */
		g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func(g_object_unref);
		OstreeSysrootWriteDeploymentsOpts opts = { .do_postclean = FALSE };

		g_ptr_array_add(list, g_object_ref(booted));
		if (!ostree_sysroot_write_deployments_with_options(sysroot, list, &opts, NULL,
								   &error)) {
			fprintf(stderr, "brownout-ostree: making %s the default: %s\n", name,
				error->message);
			ostree_confirm_error(os, name, "write-deployments");
			return OSTREE_CONFIRM_ERROR;
		}
		fallback = "yes";
	}
	rc = ostree_env_mark_good(os->fw_config, &stored);
	if (rc < 0) {
		fprintf(stderr, "brownout-ostree: %s: marking %s good: %s\n", os->fw_config, name,
			rc == -EIO ? "read-back shows other values" : strerror(-rc));
		ostree_confirm_error(os, name, update_errno_word(rc, word, sizeof(word)));
		return OSTREE_CONFIRM_ERROR;
	}
	/* Only now is it safe to delete: deployments no longer listed, their boot
	 * files, and repo objects nothing refers to. The fallback stays listed. */
	if ((stored || fallback[0] == 'y') && !ostree_sysroot_cleanup(sysroot, NULL, &error))
		fprintf(stderr, "brownout-ostree: cleanup: %s\n", error->message);
	ostree_read_version(os->version_file, version, sizeof(version));
	update_marker(&os->up, "confirm", MARKER({ "result", "good" },
						 { "slot", name },
						 { "version", version },
						 { "env", stored ? "written" : "unchanged" },
						 { "fallback", fallback }));
	return OSTREE_OK;
}

/* Returns 1 to run, 0 to exit 0 (--help), -EINVAL on a usage error (reported). */
static int ostree_parse_args(struct ostree *os, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "fw-config", required_argument, NULL, 'c' },
		{ "no-deltas", no_argument, NULL, 'd' },
		{ "no-reboot", no_argument, NULL, 'n' },
		{ "retries", required_argument, NULL, 'r' },
		{ "health", required_argument, NULL, 'H' },
		{ "version-file", required_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': os->fw_config = optarg; break;
		case 'd': os->no_deltas = TRUE; break;
		case 'n': os->up.no_reboot = true; break;
		case 'r': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);

			if (!*optarg || *end || v > 100) {
				fprintf(stderr, "brownout-ostree: --retries: '%s' is not 0..100\n",
					optarg);
				return -EINVAL;
			}
			os->retries = (unsigned)v;
			break;
		}
		case 'H': os->health = optarg; break;
		case 'v': os->version_file = optarg; break;
		case 'h':
			ostree_usage(stdout);
			return 0;
		default:
			return -EINVAL;
		}
	}
	return 1;
}

int main(int argc, char **argv)
{
	struct ostree os = {
		.up = { .name = "brownout-ostree" },
		.fw_config = ENVSTORE_CONFIG_DEFAULT,
		.health = OSTREE_HEALTH_DEFAULT,
		.version_file = OSTREE_VERSION_DEFAULT,
		.retries = 5,
	};
	const char *cmd;
	int rc;

	/* Markers go out line by line, in order with what libostree prints. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	rc = ostree_parse_args(&os, argc, argv);
	if (rc <= 0)
		return rc < 0 ? OSTREE_USAGE : OSTREE_OK;
	cmd = optind < argc ? argv[optind] : NULL;
	if (cmd && strcmp(cmd, "install") == 0 && argc - optind == 2)
		return ostree_install(&os, argv[optind + 1]);
	if (cmd && strcmp(cmd, "confirm") == 0 && argc - optind == 1)
		return ostree_confirm(&os);
	fprintf(stderr, "brownout-ostree: expected 'install URL' or 'confirm'; see --help\n");
	return OSTREE_USAGE;
}
