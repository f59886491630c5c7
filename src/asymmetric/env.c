/* asymmetric_env: the asymmetric method's variables in the U-Boot env, through envstore. */
#include "env.h"

#include "envstore.h"
#include "num.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define ASYMMETRIC_ENV_VARS 4

/* In the order asymmetric_env_parse takes them. */
static const char *const asymmetric_env_names[ASYMMETRIC_ENV_VARS] = {
	"ASYM_RECOVERY", "ASYM_ROOT_LEFT", "ASYM_URL", "ASYM_GOOD_URL",
};

static int asymmetric_env_copy_url(const char *s, char *out)
{
	size_t len = s ? strlen(s) : 0;

	if (len >= ASYMMETRIC_ENV_URL_MAX)
		return -EINVAL;
	memcpy(out, s ? s : "", len);
	out[len] = '\0';
	return 0;
}

int asymmetric_env_parse(const char *recovery, const char *left, const char *url,
			 const char *good, struct asymmetric_env *st)
{
	uint64_t v;

	memset(st, 0, sizeof(*st));
	if (!recovery || (strcmp(recovery, "0") != 0 && strcmp(recovery, "1") != 0))
		return -EINVAL;
	st->recovery = recovery[0] == '1';
	if (!left || num_parse_u64(left, strlen(left), ASYMMETRIC_ENV_TRIES, &v) < 0)
		return -EINVAL;
	st->root_left = (unsigned)v;
	if (asymmetric_env_copy_url(url, st->url) < 0 ||
	    asymmetric_env_copy_url(good, st->good_url) < 0)
		return -EINVAL;
	return 0;
}

static int asymmetric_env_parse_vars(const char *const got[], void *out)
{
	return asymmetric_env_parse(got[0], got[1], got[2], got[3], out);
}

int asymmetric_env_read(const char *config, struct asymmetric_env *st)
{
	return envstore_read(config, asymmetric_env_names, ASYMMETRIC_ENV_VARS,
			     asymmetric_env_parse_vars, st);
}

int asymmetric_env_store(const char *config, const struct asymmetric_env *st)
{
	char left[4];
	const char *values[ASYMMETRIC_ENV_VARS] = {
		st->recovery ? "1" : "0", left, st->url, st->good_url,
	};

	if (st->root_left > ASYMMETRIC_ENV_TRIES)
		return -EINVAL;
	snprintf(left, sizeof(left), "%u", st->root_left);
	/* All four in one store (an empty URL unsets its variable), then read back from storage. */
	return envstore_write(config, asymmetric_env_names, values, ASYMMETRIC_ENV_VARS);
}
