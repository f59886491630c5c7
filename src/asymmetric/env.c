/* asymenv: the asymmetric method's variables in the U-Boot environment, through envstore. */
#include "env.h"

#include "envstore.h"
#include "num.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define ASYMENV_VARS 4

/* In the order asymenv_parse takes them. */
static const char *const asymenv_names[ASYMENV_VARS] = {
	"ASYM_RECOVERY", "ASYM_ROOT_LEFT", "ASYM_URL", "ASYM_GOOD_URL",
};

static int asymenv_copy_url(const char *s, char *out)
{
	size_t len = s ? strlen(s) : 0;

	if (len >= ASYMENV_URL_MAX)
		return -EINVAL;
	memcpy(out, s ? s : "", len);
	out[len] = '\0';
	return 0;
}

int asymenv_parse(const char *recovery, const char *left, const char *url, const char *good,
		  struct asymenv *st)
{
	uint64_t v;

	memset(st, 0, sizeof(*st));
	if (!recovery || (strcmp(recovery, "0") != 0 && strcmp(recovery, "1") != 0))
		return -EINVAL;
	st->recovery = recovery[0] == '1';
	if (!left || num_parse_u64(left, strlen(left), ASYMENV_TRIES, &v) < 0)
		return -EINVAL;
	st->root_left = (unsigned)v;
	if (asymenv_copy_url(url, st->url) < 0 || asymenv_copy_url(good, st->good_url) < 0)
		return -EINVAL;
	return 0;
}

static int asymenv_parse_vars(const char *const got[], void *out)
{
	return asymenv_parse(got[0], got[1], got[2], got[3], out);
}

int asymenv_read(const char *config, struct asymenv *st)
{
	return envstore_read(config, asymenv_names, ASYMENV_VARS, asymenv_parse_vars, st);
}

int asymenv_store(const char *config, const struct asymenv *st)
{
	char left[4];
	const char *values[ASYMENV_VARS] = { st->recovery ? "1" : "0", left, st->url, st->good_url };

	if (st->root_left > ASYMENV_TRIES)
		return -EINVAL;
	snprintf(left, sizeof(left), "%u", st->root_left);
	/* All four in one store (an empty URL unsets its variable), then read back from storage. */
	return envstore_write(config, asymenv_names, values, ASYMENV_VARS);
}
