/*
 * brownout-initramfs: the initramfs's /init. It loads the drivers the kernel
 * has as modules, if any, mounts the root the kernel command line names (for
 * OSTree, the deployment its boot link leads to, as ostree-prepare-root
 * does), hands /dev, /proc, /sys, /run and /tmp over mounted, and starts the
 * root's init. A program rather than a shell script because under emulation
 * every process a script starts costs milliseconds of every boot; the rare
 * path, repairing a root a power cut left unmountable, stays a script
 * (repair-root) run only when a mount fails. Every failure is a marker on
 * the console and a power-off, so the harness sees it at once.
 */
#include "fileio.h"
#include "rootargs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define INITRAMFS_MODULES "/lib/modules"
#define INITRAMFS_REPAIR "/lib/brownout/repair-root"
#define INITRAMFS_ROOT "/newroot"
#define INITRAMFS_SYSROOT "/sysroot"
/* The virtio disk appears asynchronously, after the kernel has probed it. */
#define INITRAMFS_ROOT_TRIES 500
#define INITRAMFS_ROOT_TRY_NS 10000000L
#define INITRAMFS_TEXT_MAX 4096

extern char **environ;

static void initramfs_marker(const char *fmt, ...)
{
	va_list ap;

	fputs("BROWNOUT ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static _Noreturn void initramfs_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("BROWNOUT initramfs-error reason=", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	sync();
	reboot(RB_POWER_OFF);
	for (;;)
		pause();
}

/* Load every module modules.order names, in its order, and free its file. */
static void initramfs_load_modules(void)
{
	char order[INITRAMFS_TEXT_MAX];
	char *line, *next;
	int dir = open(INITRAMFS_MODULES, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = dir < 0 ? -errno : fileio_read_text(INITRAMFS_MODULES "/modules.order", order,
							sizeof(order));

	if (rc == -EFBIG)
		initramfs_fail("modules-order-too-long");
	if (rc < 0)
		initramfs_fail("no-modules-order");
	for (line = order; *line; line = next) {
		size_t n = strcspn(line, "\n");
		int fd;

		next = line + n + (line[n] == '\n');
		line[n] = '\0';
		if (n == 0)
			continue;
		fd = openat(dir, line, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || syscall(SYS_finit_module, fd, "", 0) != 0) {
			line[n - (n > 3 && strcmp(line + n - 3, ".ko") == 0 ? 3 : 0)] = '\0';
			initramfs_fail("insmod-%s", line);
		}
		close(fd);
		unlinkat(dir, line, 0);
	}
	close(dir);
}

static void initramfs_wait_root(const char *root)
{
	struct timespec pause_ns = { 0, INITRAMFS_ROOT_TRY_NS };
	struct stat st;

	for (int tries = 0; stat(root, &st) != 0 || !S_ISBLK(st.st_mode); tries++) {
		if (tries >= INITRAMFS_ROOT_TRIES)
			initramfs_fail("root-not-found root=%s", root);
		nanosleep(&pause_ns, NULL);
	}
}

/* The repair script's verdict: 0 when the root may be mounted again. */
static int initramfs_repair(const char *root)
{
	char *argv[] = { "sh", INITRAMFS_REPAIR, (char *)root, NULL };
	int status;
	pid_t pid;

	if (posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ) != 0)
		return -ECHILD;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -ECHILD;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

/* Mount the root at target; an ext4 root that refuses is repaired once. */
static int initramfs_mount_root(const struct rootargs *args, const char *target)
{
	unsigned long flags = args->rw ? 0 : MS_RDONLY;

	if (mount(args->root, target, args->fstype, flags, NULL) == 0)
		return 0;
	if (strcmp(args->fstype, "ext4") != 0 || initramfs_repair(args->root) < 0)
		return -EIO;
	return mount(args->root, target, args->fstype, flags, NULL) == 0 ? 0 : -errno;
}

static void initramfs_bind(const char *from, const char *to, const char *reason)
{
	if (mount(from, to, NULL, MS_BIND, NULL) != 0)
		initramfs_fail("%s", reason);
}

/*
 * OSTree: the partition at /sysroot, the deployment the boot link leads to
 * bind-mounted as the root, the stateroot's /var and the partition's /boot
 * over the deployment's, /usr read-only, /sysroot moved under the new root.
 * Writes the deployment's directory name into name.
 */
static void initramfs_ostree_root(const struct rootargs *args, char *name, size_t size)
{
	static const char deploy_dir[] = INITRAMFS_SYSROOT "/ostree/deploy/";
	char link[PATH_MAX], deployment[PATH_MAX], var[PATH_MAX];
	struct stat st;
	char *stateroot_end;

	if (initramfs_mount_root(args, INITRAMFS_SYSROOT) < 0)
		initramfs_fail("mount-failed root=%s", args->root);
	snprintf(link, sizeof(link), INITRAMFS_SYSROOT "%s", args->ostree);
	/* /sysroot/ostree/deploy/<stateroot>/deploy/<commit>.<serial>, a directory */
	if (!realpath(link, deployment) || strncmp(deployment, deploy_dir, strlen(deploy_dir)) != 0 ||
	    !(stateroot_end = strstr(deployment + strlen(deploy_dir), "/deploy/")) ||
	    !stateroot_end[strlen("/deploy/")] || stat(deployment, &st) != 0 || !S_ISDIR(st.st_mode))
		initramfs_fail("ostree-no-deployment karg=%s", args->ostree);
	snprintf(var, sizeof(var), "%.*s/var", (int)(stateroot_end - deployment), deployment);
	initramfs_bind(deployment, INITRAMFS_ROOT, "ostree-bind-root");
	initramfs_bind(var, INITRAMFS_ROOT "/var", "ostree-bind-var");
	initramfs_bind(INITRAMFS_SYSROOT "/boot", INITRAMFS_ROOT "/boot", "ostree-bind-boot");
	initramfs_bind(INITRAMFS_ROOT "/usr", INITRAMFS_ROOT "/usr", "ostree-usr-ro");
	if (mount(NULL, INITRAMFS_ROOT "/usr", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) != 0)
		initramfs_fail("ostree-usr-ro");
	if (mount(INITRAMFS_SYSROOT, INITRAMFS_ROOT "/sysroot", NULL, MS_MOVE, NULL) != 0)
		initramfs_fail("ostree-move-sysroot");
	snprintf(name, size, "%s", strrchr(deployment, '/') + 1);
	initramfs_marker("initramfs-ostree deployment=%s", name);
}

/* The kernel file systems and fresh tmpfs for /run and /tmp, ready for the root. */
static void initramfs_hand_over(void)
{
	if (mount("/dev", INITRAMFS_ROOT "/dev", NULL, MS_MOVE, NULL) != 0)
		initramfs_fail("move-dev");
	if (mount("/proc", INITRAMFS_ROOT "/proc", NULL, MS_MOVE, NULL) != 0)
		initramfs_fail("move-proc");
	if (mount("sysfs", INITRAMFS_ROOT "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
		initramfs_fail("mount-sys");
	if (mount("tmpfs", INITRAMFS_ROOT "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") != 0)
		initramfs_fail("mount-run");
	if (mount("tmpfs", INITRAMFS_ROOT "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") != 0)
		initramfs_fail("mount-tmp");
}

static int initramfs_write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int rc;

	if (fd < 0)
		return -errno;
	rc = fileio_write_all(fd, text, strlen(text));
	close(fd);
	return rc;
}

/*
 * The initramfs's large files, freed before the switch as switch_root does
 * (the modules went once loaded). The rest (busybox's links, empty
 * directories) is a few kilobytes, not worth a walk that costs tens of
 * milliseconds of every boot under emulation.
 */
static void initramfs_free(void)
{
	static const char *const files[] = { "/bin/busybox", "/bin/e2fsck", INITRAMFS_REPAIR, "/init" };

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		unlink(files[i]);
}

int main(void)
{
	char cmdline[INITRAMFS_TEXT_MAX], init[PATH_MAX], deployment[PATH_MAX] = "";
	struct rootargs args;

	mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, NULL);
	initramfs_marker("initramfs");
	initramfs_load_modules();
	initramfs_marker("initramfs-modules");

	if (fileio_read_text("/proc/cmdline", cmdline, sizeof(cmdline)) == -EFBIG)
		initramfs_fail("cmdline-too-long");
	if (rootargs_parse(cmdline, &args) < 0)
		initramfs_fail("argument-too-long");
	if (!args.root[0])
		initramfs_fail("no-root-argument");
	initramfs_wait_root(args.root);
	if (args.ostree[0])
		initramfs_ostree_root(&args, deployment, sizeof(deployment));
	else if (initramfs_mount_root(&args, INITRAMFS_ROOT) < 0)
		initramfs_fail("mount-failed root=%s", args.root);
	snprintf(init, sizeof(init), INITRAMFS_ROOT "%s", args.init);
	if (access(init, X_OK) != 0)
		initramfs_fail("no-init init=%s", args.init);
	initramfs_marker("initramfs-root root=%s mode=%s", args.root, args.rw ? "rw" : "ro");

	initramfs_hand_over();
	if (deployment[0]) {
		/* What libostree looks for to find the booted deployment, and
		 * which one it is for brownout-init's marker. */
		if (initramfs_write_text(INITRAMFS_ROOT "/run/ostree-booted", "") < 0 ||
		    initramfs_write_text(INITRAMFS_ROOT "/run/brownout-deployment", deployment) < 0)
			initramfs_fail("ostree-run-files");
	}
	/* switch_root: free the initramfs's memory, make the root "/", start its init. */
	initramfs_free();
	if (chdir(INITRAMFS_ROOT) != 0 || mount(".", "/", NULL, MS_MOVE, NULL) != 0 || chroot(".") != 0 ||
	    chdir("/") != 0)
		initramfs_fail("switch-root");
	execv(args.init, (char *[]){ args.init, NULL });
	initramfs_fail("exec-init init=%s", args.init);
}
