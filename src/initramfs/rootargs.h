/*
 * rootargs: what the kernel command line tells the initramfs: the root
 * device (root=), its file system type (rootfstype=, ext4 by default), how
 * to mount it (ro, the default, or rw), the program to start on it (init=,
 * /sbin/init by default) and, for an OSTree boot, the deployment's boot link
 * (ostree=). Nothing here reads or writes anything but the caller's memory.
 */
#ifndef BROWNOUT_ROOTARGS_H
#define BROWNOUT_ROOTARGS_H

#include <stdbool.h>

#define ROOTARGS_VALUE_MAX 256

struct rootargs {
	char root[ROOTARGS_VALUE_MAX];		/* "" when absent */
	char fstype[ROOTARGS_VALUE_MAX];
	char init[ROOTARGS_VALUE_MAX];
	char ostree[ROOTARGS_VALUE_MAX];	/* "" when absent */
	bool rw;
};

/*
 * Fill args from cmdline (blank-separated words, as /proc/cmdline gives
 * them; no quoting). The last occurrence of a key wins, as for the kernel.
 * 0, or -ENAMETOOLONG for a value that does not fit.
 */
int rootargs_parse(const char *cmdline, struct rootargs *args);

#endif
