#include "bootargs.h"

#include "cmdline.h"

#include <errno.h>
#include <string.h>

int bootargs_parse(const char *cmdline, struct bootargs *args)
{
	static const struct cmdline_key keys[] = {
		{ "brownout.method=", offsetof(struct bootargs, method), BOOTARGS_VALUE_MAX, false },
		{ "brownout.slot=", offsetof(struct bootargs, slot), BOOTARGS_VALUE_MAX, false },
		{ "brownout.data=", offsetof(struct bootargs, data), BOOTARGS_VALUE_MAX, false },
	};

	memset(args, 0, sizeof(*args));
	strcpy(args->slot, "none");
	return cmdline_parse(cmdline, keys, sizeof(keys) / sizeof(keys[0]), args);
}

int bootargs_first_line(const char *text, char *out, size_t size)
{
	size_t len = strcspn(text, "\n");

	if (size == 0 || len >= size)
		return -ENAMETOOLONG;
	memcpy(out, text, len);
	out[len] = '\0';
	return 0;
}
