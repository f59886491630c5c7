#include "rootargs.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

static const char *const rootargs_blanks = " \t\n";

int rootargs_parse(const char *cmdline, struct rootargs *args)
{
	static const struct {
		const char *key;
		size_t field;
	} keys[] = {
		{ "root=", offsetof(struct rootargs, root) },
		{ "rootfstype=", offsetof(struct rootargs, fstype) },
		{ "init=", offsetof(struct rootargs, init) },
		{ "ostree=", offsetof(struct rootargs, ostree) },
	};
	const char *word = cmdline;

	memset(args, 0, sizeof(*args));
	strcpy(args->fstype, "ext4");
	strcpy(args->init, "/sbin/init");
	while (*(word += strspn(word, rootargs_blanks))) {
		size_t len = strcspn(word, rootargs_blanks);

		if (len == 2 && strncmp(word, "ro", 2) == 0)
			args->rw = false;
		else if (len == 2 && strncmp(word, "rw", 2) == 0)
			args->rw = true;
		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			size_t klen = strlen(keys[k].key);

			if (len < klen || strncmp(word, keys[k].key, klen) != 0)
				continue;
			if (len - klen >= ROOTARGS_VALUE_MAX)
				return -ENAMETOOLONG;
			memcpy((char *)args + keys[k].field, word + klen, len - klen);
			((char *)args + keys[k].field)[len - klen] = '\0';
		}
		word += len;
	}
	return 0;
}
