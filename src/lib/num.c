/* num: strict decimal parsing for command lines and the status file. */
#include "num.h"

#include <errno.h>

int num_parse_u64(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	int rc = 0;

	if (!s || !out || len == 0)
		return -EINVAL;

	for (size_t i = 0; i < len; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		d = (unsigned)(s[i] - '0');
		/* Keep scanning after an overflow so "99999999999999999999x" is -EINVAL. */
		if (d > max || v > (max - d) / 10)
			rc = -ERANGE;
		else
			v = v * 10 + d;
	}
	if (rc == 0)
		*out = v;
	return rc;
}
