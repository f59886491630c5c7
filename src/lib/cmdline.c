#include "cmdline.h"

#include <errno.h>
#include <string.h>

static const char *const cmdline_blanks = " \t\n";

static int cmdline_apply(const struct cmdline_key *key, const char *word, size_t len, char *out)
{
	size_t klen = strlen(key->key);

	if (key->key[klen - 1] != '=') {
		if (len == klen && strncmp(word, key->key, len) == 0)
			*(bool *)(out + key->offset) = key->flag;
		return 0;
	}
	if (len < klen || strncmp(word, key->key, klen) != 0)
		return 0;
	if (len - klen >= key->size)
		return -ENAMETOOLONG;
	memcpy(out + key->offset, word + klen, len - klen);
	out[key->offset + len - klen] = '\0';
	return 0;
}

int cmdline_parse(const char *cmdline, const struct cmdline_key *keys, size_t count, void *out)
{
	const char *word = cmdline;

	while (*(word += strspn(word, cmdline_blanks))) {
		size_t len = strcspn(word, cmdline_blanks);

		for (size_t k = 0; k < count; k++) {
			int rc = cmdline_apply(&keys[k], word, len, out);

			if (rc < 0)
				return rc;
		}
		word += len;
	}
	return 0;
}
