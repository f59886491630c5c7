#include "bootargs.h"

#include <errno.h>
#include <string.h>

static const char *const bootargs_blanks = " \t\n";

static int bootargs_copy(char *out, const char *value, size_t len)
{
	if (len >= BOOTARGS_VALUE_MAX)
		return -ENAMETOOLONG;
	memcpy(out, value, len);
	out[len] = '\0';
	return 0;
}

int bootargs_parse(const char *cmdline, struct bootargs *args)
{
	static const struct {
		const char *key;
		size_t field;
	} keys[] = {
		{ "brownout.method=", offsetof(struct bootargs, method) },
		{ "brownout.slot=", offsetof(struct bootargs, slot) },
		{ "brownout.data=", offsetof(struct bootargs, data) },
	};
	const char *word = cmdline;

	memset(args, 0, sizeof(*args));
	strcpy(args->slot, "none");
	while (*(word += strspn(word, bootargs_blanks))) {
		size_t len = strcspn(word, bootargs_blanks);

		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			size_t klen = strlen(keys[k].key);

			if (len >= klen && strncmp(word, keys[k].key, klen) == 0) {
				int rc = bootargs_copy((char *)args + keys[k].field, word + klen, len - klen);

				if (rc < 0)
					return rc;
			}
		}
		word += len;
	}
	return 0;
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
