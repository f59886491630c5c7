/*
 * brownout-ostree: the OSTree update client, on libostree.
 *   install URL  pull the signed commit of ref brownout/update from the archive
 *                repo at URL (refused if older than the booted commit), deploy
 *                it (not staged: no systemd finalizer), make it the default
 *                deployment, write its kernel into the other boot slot, switch
 *                the env to that slot with the boot counter armed, reboot
 *   confirm      run the health check; mark the booted deployment and its boot
 *                slot good (and only then clean up), make a fallback deployment
 *                the default again, or reboot so the boot counter runs out
 * Exit status: 0 success, 1 update error (or, for confirm, an unhealthy
 * deployment), 2 usage error, 3 confirm could not check or mark the deployment.
 */
#include "bootslot.h"
#include "env.h"

#include "client.h"
#include "marker.h"

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <ostree.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Our names for the remote, the ref and the repo; OSTREE_ alone is libostree's. */
#define OSTREE_CLIENT_REMOTE "brownout"
#define OSTREE_CLIENT_REF "brownout/update"
#define OSTREE_CLIENT_REFSPEC OSTREE_CLIENT_REMOTE ":" OSTREE_CLIENT_REF
#define OSTREE_CLIENT_REPO "/ostree/repo"
#define OSTREE_CLIENT_RETRIES_MAX 100
#define OSTREE_CLIENT_BOOT_A "/dev/vda5"
#define OSTREE_CLIENT_BOOT_B "/dev/vda6"

enum { OSTREE_CLIENT_INSTALL, OSTREE_CLIENT_CONFIRM };

struct ostree {
	struct client cl;	/* the program, its voice and shared options (src/lib/client.h) */
	bool no_deltas;
	unsigned retries;
	const char *boot_slot[2];	/* the partitions of boot slots A and B */
};

/* The command line: commands, options, --help (src/lib/cli.h). */
static const struct cli_command ostree_commands[] = {
	[OSTREE_CLIENT_INSTALL] = { "install", "URL",
		"pull " OSTREE_CLIENT_REF " from the archive repo at URL (signature\n"
		"checked), deploy it, arm the boot counter, reboot" },
	[OSTREE_CLIENT_CONFIRM] = { "confirm", NULL,
		"run the health check; mark the booted deployment good" },
	{ NULL },
};

static const struct cli_opt ostree_options[] = {
	{ "no-deltas", NULL, "never use static deltas, pull objects one by one",
	  CLI_FLAG, offsetof(struct ostree, no_deltas), 0, 0 },
	{ "retries", "N", "pulls run again after a broken transfer, 0.."
	  CLI_STR(OSTREE_CLIENT_RETRIES_MAX) " (default 5)",
	  CLI_UINT, offsetof(struct ostree, retries), 0, OSTREE_CLIENT_RETRIES_MAX },
	{ "boot-a", "PATH", "boot slot A's partition (default " OSTREE_CLIENT_BOOT_A ")",
	  CLI_PATH, offsetof(struct ostree, boot_slot[0]), 0, 0 },
	{ "boot-b", "PATH", "boot slot B's partition (default " OSTREE_CLIENT_BOOT_B ")",
	  CLI_PATH, offsetof(struct ostree, boot_slot[1]), 0, 0 },
	CLIENT_OPTS_ENV(struct ostree, cl),
	{ NULL },
};

static const struct cli ostree_cli = {
	.name = "brownout-ostree", .cmds = ostree_commands, .opts = ostree_options,
	.tail = CLIENT_EXIT_STATUS("deployment"),
};

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
	if (nftw(OSTREE_CLIENT_REPO, ostree_du_add, 32, FTW_PHYS) != 0)
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
	return client_fail(&os->cl, reason, detail, "%s: %s", what,
			   error ? error->message : "failed");
}

/* A pull error's marker detail: refusals (signature, checksum) apart from transfers. */
static const char *ostree_pull_error_kind(const GError *error)
{
	const char *m = error ? error->message : "";

	if (strstr(m, "GPG") || strstr(m, "signature") || strstr(m, "Signature"))
		return "signature";
	if (strstr(m, "chronologically older"))
		return "downgrade";
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
		return client_fail(&os->cl, "sysroot", "not-booted",
				   "%s: not booted into a deployment", what);
	*out = g_steal_pointer(&sysroot);
	return CLIENT_OK;
}

/*
 * The boot slot whose header names deployment `label` ('A' or 'B'), or 0 when
 * neither does; a slot that cannot be read is said on stderr and skipped.
 */
static char ostree_slot_of(const struct ostree *os, const char *label)
{
	for (int i = 0; i < 2; i++) {
		struct bootslot bs;
		int rc = bootslot_read(os->boot_slot[i], &bs);

		if (rc == 0 && strcmp(bs.deployment, label) == 0)
			return (char)('A' + i);
		if (rc < 0 && rc != -ENOENT)
			fprintf(stderr, "%s: %s: reading boot slot %c: %s\n", os->cl.name,
				os->boot_slot[i], 'A' + i, strerror(-rc));
	}
	return 0;
}

/*
 * The kernel arguments U-Boot boots the deployment with: its bootconfig's
 * options with ostree= naming the deployment's own directory, which outlives
 * the /ostree/boot.N links libostree swaps on every deployment change.
 */
static char *ostree_slot_args(OstreeSysroot *sysroot, OstreeDeployment *d, const char *options)
{
	g_autofree char *dir = ostree_sysroot_get_deployment_dirpath(sysroot, d);
	g_auto(GStrv) words = g_strsplit(options ? options : "", " ", -1);
	GString *args = g_string_new(NULL);

	g_string_append_printf(args, "ostree=/%s", dir);
	for (char **w = words; *w; w++)
		if (**w && !g_str_has_prefix(*w, "ostree="))
			g_string_append_printf(args, " %s", *w);
	return g_string_free(args, FALSE);
}

/* Write deployment d (listed: its boot files are in /boot) into boot slot `slot`. */
static int ostree_fill_slot(const struct ostree *os, OstreeSysroot *sysroot, OstreeDeployment *d,
			    const char *label, char slot)
{
	OstreeBootconfigParser *bc = ostree_deployment_get_bootconfig(d);
	const char *linux_path = bc ? ostree_bootconfig_parser_get(bc, "linux") : NULL;
	const char *initrd = bc ? ostree_bootconfig_parser_get(bc, "initrd") : NULL;
	g_autofree char *args = NULL, *kernel = NULL, *ramdisk = NULL;
	g_autofree char *root = g_file_get_path(ostree_sysroot_get_path(sysroot));
	const char *dev = os->boot_slot[slot - 'A'];
	char word[CLIENT_WORD_MAX], s[2] = { slot, '\0' };
	int rc;

	if (!linux_path || !initrd)
		return client_fail(&os->cl, "bootloader", "bootconfig",
				   "%s: no kernel or initramfs in its boot entry", label);
	args = ostree_slot_args(sysroot, d, ostree_bootconfig_parser_get(bc, "options"));
	kernel = g_build_filename(root, "boot", linux_path, NULL);
	ramdisk = g_build_filename(root, "boot", initrd, NULL);
	rc = bootslot_write(dev, label, args, kernel, ramdisk);
	if (rc < 0)
		return client_fail(&os->cl, "bootslot", client_errno_word(rc, word, sizeof(word)),
				   "%s: writing boot slot %c: %s", dev, slot, strerror(-rc));
	client_marker(&os->cl, "bootslot-written", MARKER({ "slot", s }, { "deployment", label }));
	return CLIENT_OK;
}

static int ostree_pull(const struct ostree *os, OstreeRepo *repo, const char *url,
		       const char *booted, char **rev)
{
	const struct client *c = &os->cl;
	const char *refs[] = { OSTREE_CLIENT_REF, NULL };
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
	/* libostree's downgrade protection: a commit older than the booted one is
	 * refused once its commit object is fetched, before any of its files. */
	g_variant_builder_add(&b, "{sv}", "timestamp-check-from-rev", g_variant_new_string(booted));
	options = g_variant_ref_sink(g_variant_builder_end(&b));

	client_phase(c, "pull", "start", MARKER({ "ref", OSTREE_CLIENT_REF }));
	/* Objects are checksummed as they land; the commit's GPG signature is
	 * checked against the remote's keyring (gpg-verify=true) before the ref
	 * moves. libostree 2022.7 does not retry a transfer the server breaks
	 * off, so a broken pull is run again: what it fetched stays staged in the
	 * repo and is not fetched twice. A refusal is never retried. */
	for (unsigned attempt = 0;; attempt++) {
		const char *kind;
		char n[12];

		if (ostree_repo_pull_with_options(repo, OSTREE_CLIENT_REMOTE, options, progress,
						  NULL, &error))
			break;
		kind = ostree_pull_error_kind(error);
		if (strcmp(kind, "pull") != 0)
			return ostree_fail(os, "verify", kind, "pull", error);
		if (attempt >= os->retries)
			return ostree_fail(os, "download", "pull", "pull", error);
		fprintf(stderr, "%s: pull: %s; again\n", c->name, error->message);
		snprintf(n, sizeof(n), "%u", attempt + 1);
		client_marker(c, "pull-retry", MARKER({ "what", "objects" }, { "attempt", n }));
		g_clear_error(&error);
	}
	ostree_async_progress_finish(progress);
	if (!ostree_repo_resolve_rev(repo, OSTREE_CLIENT_REFSPEC, FALSE, rev, &error))
		return ostree_fail(os, "pull", "ref", "resolving " OSTREE_CLIENT_REF, error);
	snprintf(bytes, sizeof(bytes), "%" PRIu64,
		 ostree_async_progress_get_uint64(progress, "bytes-transferred"));
	client_phase(c, "pull", "end", MARKER({ "bytes", bytes }));
	return CLIENT_OK;
}

static int ostree_install(const struct ostree *os, const char *url)
{
	const struct client *c = &os->cl;
	g_autoptr(OstreeSysroot) sysroot = NULL;
	g_autoptr(OstreeRepo) repo = NULL;
	g_autoptr(OstreeDeployment) merge = NULL, deployment = NULL;
	g_autoptr(GKeyFile) origin = NULL;
	g_autoptr(GPtrArray) list = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree char *rev = NULL, *name = NULL;
	OstreeDeployment *booted = NULL;
	OstreeSysrootWriteDeploymentsOpts opts = { .do_postclean = FALSE };
	char word[CLIENT_WORD_MAX], before[24], after[24];
	const char *osname;
	char booted_slot, target;
	int rc;

	rc = ostree_load(os, &sysroot, &booted, TRUE, "install");
	if (rc != CLIENT_OK)
		return rc;
	osname = ostree_deployment_get_osname(booted);
	{
		g_autofree char *booted_name = ostree_label(booted);

		booted_slot = ostree_slot_of(os, booted_name);
		if (!booted_slot)
			return client_fail(c, "bootslot", "unknown",
					   "install: no boot slot holds the booted deployment %s",
					   booted_name);
	}
	target = ostree_env_other(booted_slot);
	if (!ostree_sysroot_get_repo(sysroot, &repo, NULL, &error))
		return ostree_fail(os, "sysroot", "repo", "install", error);
	snprintf(before, sizeof(before), "%" PRIu64, ostree_du_kib());

	rc = ostree_pull(os, repo, url, ostree_deployment_get_csum(booted), &rev);
	if (rc != CLIENT_OK)
		return rc;
	if (strcmp(rev, ostree_deployment_get_csum(booted)) == 0) {
		/* A retry that came true, or a replayed commit of the running release. */
		client_marker(c, "update-none", MARKER({ "reason", "current" }, { "commit", rev }));
		return CLIENT_OK;
	}

	client_phase(c, "deploy", "start", MARKER_NONE);
	merge = ostree_sysroot_get_merge_deployment(sysroot, osname);
	origin = ostree_sysroot_origin_new_from_refspec(sysroot, OSTREE_CLIENT_REFSPEC);
	/* Checkout by hard links, /etc merged from the running deployment, kernel
	 * arguments inherited; libostree fsyncs the new tree before it returns. */
	if (!ostree_sysroot_deploy_tree(sysroot, osname, rev, origin, merge, NULL, &deployment,
					NULL, &error))
		return ostree_fail(os, "deploy", "tree", "deploy", error);
	name = ostree_label(deployment);
	client_phase(c, "deploy", "end", MARKER({ "deployment", name }));

	client_phase(c, "bootloader", "start", MARKER({ "deployment", name }));
	/* New default first, the running one as the fallback; older ones go.
	 * libostree copies the kernel into the sysroot's /boot, writes loader.N
	 * whole, renames the /boot/loader symlink over, then syncs /boot. U-Boot
	 * never reads that file system: a cut from here to the env switch boots
	 * the running deployment from its slot, and its confirm makes it the
	 * default again. */
	list = g_ptr_array_new_with_free_func(g_object_unref);
	g_ptr_array_add(list, g_object_ref(deployment));
	g_ptr_array_add(list, g_object_ref(booted));
	if (!ostree_sysroot_write_deployments_with_options(sysroot, list, &opts, NULL, &error))
		return ostree_fail(os, "bootloader", "write-deployments", "write deployments",
				   error);
	/* The slot of the previous fallback, which no env state boots while
	 * nothing is pending; flushed before the env names it. */
	rc = ostree_fill_slot(os, sysroot, deployment, name, target);
	if (rc != CLIENT_OK)
		return rc;
	/* The switch: the new slot and its tries, in one store of the older copy. */
	rc = ostree_env_arm(c->fw_config, target);
	if (rc < 0)
		return client_fail(c, "bootenv", client_errno_word(rc, word, sizeof(word)),
				   "%s: arming the boot counter: %s", c->fw_config,
				   rc == -EIO ? "read-back shows other values" : strerror(-rc));
	client_phase(c, "bootloader", "end", MARKER({ "deployment", name }));
	snprintf(after, sizeof(after), "%" PRIu64, ostree_du_kib());
	client_marker(c, "repo-usage", MARKER({ "before_kib", before }, { "after_kib", after }));
	return client_reboot_installed(c, name);
}

/*
 * Whether a prune can find anything to delete: a commit object in the repo
 * that no ref names (libostree's deployment refs name every listed
 * deployment). A prune keeps what the refs reach and deletes the rest, and an
 * update's objects land in the transaction that moves its ref, so while every
 * commit is named there is nothing to delete but what a cut inside that
 * transaction left without its commit: the update's re-run takes that up, or
 * the next prune deletes it. True when the repo cannot be listed: the prune
 * then decides.
 */
static bool ostree_prune_wanted(OstreeRepo *repo)
{
	g_autoptr(GHashTable) refs = NULL, commits = NULL;
	g_autoptr(GHashTable) named = g_hash_table_new(g_str_hash, g_str_equal);
	g_autoptr(GError) error = NULL;
	GHashTableIter it;
	gpointer key, value;

	if (!ostree_repo_list_refs(repo, NULL, &refs, NULL, &error) ||
	    !ostree_repo_list_commit_objects_starting_with(repo, "", &commits, NULL, &error))
		return true;
	g_hash_table_iter_init(&it, refs);
	while (g_hash_table_iter_next(&it, &key, &value))
		g_hash_table_add(named, value);
	g_hash_table_iter_init(&it, commits);
	while (g_hash_table_iter_next(&it, &key, NULL)) {
		const char *checksum;
		OstreeObjectType type;

		ostree_object_name_deserialize(key, &checksum, &type);
		if (!g_hash_table_contains(named, checksum))
			return true;
	}
	return false;
}

/*
 * libostree's cleanup (old boot versions and deployments no longer listed go,
 * then unreachable objects), its prune only when a commit went unnamed. The
 * prune walks every object of every commit the refs reach, about a second
 * under emulation, and after an update that keeps the running deployment as
 * the fallback it has nothing to find. Said as a marker ("cleanup"); a
 * failure is said on stderr: the deployment is confirmed either way.
 */
static void ostree_cleanup(const struct ostree *os, OstreeSysroot *sysroot)
{
	g_autoptr(GHashTable) reachable = ostree_repo_traverse_new_reachable();
	OstreeRepoPruneOptions opts = { .flags = OSTREE_REPO_PRUNE_FLAGS_REFS_ONLY,
					.reachable = reachable };
	g_autoptr(GError) error = NULL;
	gint total = 0, pruned = 0;
	guint64 freed = 0;
	char n[16];

	if (!ostree_sysroot_prepare_cleanup(sysroot, NULL, &error)) {
		fprintf(stderr, "%s: cleanup: %s\n", os->cl.name, error->message);
		return;
	}
	if (!ostree_prune_wanted(ostree_sysroot_repo(sysroot))) {
		client_marker(&os->cl, "cleanup", MARKER({ "prune", "skipped" }));
		return;
	}
	if (!ostree_sysroot_cleanup_prune_repo(sysroot, &opts, &total, &pruned, &freed, NULL,
					       &error)) {
		fprintf(stderr, "%s: cleanup: %s\n", os->cl.name, error->message);
		return;
	}
	snprintf(n, sizeof(n), "%d", pruned);
	client_marker(&os->cl, "cleanup", MARKER({ "prune", "done" }, { "pruned", n }));
}

static int ostree_confirm(const struct ostree *os)
{
	const struct client *c = &os->cl;
	g_autoptr(OstreeSysroot) sysroot = NULL;
	g_autoptr(GPtrArray) deployments = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree char *name = NULL;
	OstreeDeployment *booted = NULL;
	char word[CLIENT_WORD_MAX], slot, s[2] = { 0 };
	bool fallback = false;
	int stored = 0, rc;

	if (ostree_load(os, &sysroot, &booted, TRUE, "confirm") != CLIENT_OK)
		return client_confirm_error(c, "none", "sysroot");
	name = ostree_label(booted);
	slot = ostree_slot_of(os, name);
	if (!slot) {
		fprintf(stderr, "%s: no boot slot holds the booted deployment %s\n", c->name, name);
		return client_confirm_error(c, name, "bootslot");
	}
	s[0] = slot;
	/* Not marked good: this boot spent a try; U-Boot falls back once they are gone. */
	if (!client_healthy(c))
		return client_unhealthy(c, name);
	deployments = ostree_sysroot_get_deployments(sysroot);
	if (deployments->len > 0 && deployments->pdata[0] != booted) {
		/* U-Boot booted the previous deployment: the default one spent its
		 * tries (or the env switch never came). Make the running one the only
		 * deployment before the env names its slot: a cut in between boots it
		 * again from the same slot, the failed one's tries still spent. */
		g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func(g_object_unref);
		OstreeSysrootWriteDeploymentsOpts opts = { .do_postclean = FALSE };

		g_ptr_array_add(list, g_object_ref(booted));
		if (!ostree_sysroot_write_deployments_with_options(sysroot, list, &opts, NULL,
								   &error)) {
			fprintf(stderr, "%s: making %s the default: %s\n", c->name, name,
				error->message);
			return client_confirm_error(c, name, "write-deployments");
		}
		fallback = true;
	}
	rc = ostree_env_mark_good(c->fw_config, slot, &stored);
	if (rc < 0) {
		fprintf(stderr, "%s: %s: marking %s good: %s\n", c->name, c->fw_config, name,
			rc == -EIO ? "read-back shows other values" : strerror(-rc));
		return client_confirm_error(c, name, client_errno_word(rc, word, sizeof(word)));
	}
	/* Only now is it safe to delete: deployments no longer listed, their boot
	 * files, and repo objects nothing refers to. The fallback stays listed. */
	if (stored || fallback)
		ostree_cleanup(os, sysroot);
	return client_confirmed(c, name, stored,
				MARKER({ "fallback", fallback ? "yes" : "no" }, { "boot", s }));
}

int main(int argc, char **argv)
{
	struct ostree os = { .cl = CLIENT_INIT(ostree_cli.name), .retries = 5,
			     .boot_slot = { OSTREE_CLIENT_BOOT_A, OSTREE_CLIENT_BOOT_B } };
	const char *url;
	int cmd, rc;

	/* Markers go out line by line, in order with what libostree prints. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	cmd = cli_parse(&ostree_cli, &os, argc, argv, &url, &rc);
	if (cmd < 0)
		return rc;
	if (cmd == OSTREE_CLIENT_INSTALL)
		return ostree_install(&os, url);
	return ostree_confirm(&os);
}
