#include "rootargs.h"

#include "cmdline.h"

#include <stddef.h>
#include <string.h>

int rootargs_parse(const char *cmdline, struct rootargs *args)
{
	static const struct cmdline_key keys[] = {
		{ "root=", offsetof(struct rootargs, root), ROOTARGS_VALUE_MAX, false },
		{ "rootfstype=", offsetof(struct rootargs, fstype), ROOTARGS_VALUE_MAX, false },
		{ "init=", offsetof(struct rootargs, init), ROOTARGS_VALUE_MAX, false },
		{ "ostree=", offsetof(struct rootargs, ostree), ROOTARGS_VALUE_MAX, false },
		{ "ro", offsetof(struct rootargs, rw), 0, false },
		{ "rw", offsetof(struct rootargs, rw), 0, true },
	};

	memset(args, 0, sizeof(*args));
	strcpy(args->fstype, "ext4");
	strcpy(args->init, "/sbin/init");
	return cmdline_parse(cmdline, keys, sizeof(keys) / sizeof(keys[0]), args);
}
