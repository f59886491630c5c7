/*
 * asymmetric_env: the asymmetric method's variables in the U-Boot environment,
 * read and written through envstore (libubootenv) in the same redundant env
 * region as A/B. Each store writes one whole copy, the older one, and fsyncs
 * it, so a power cut during a store leaves the previous state in the other
 * copy. The variables' names are the boot script's (images/boot/asymmetric.cmd)
 * and the factory env's, hence their short ASYM_ prefix:
 *
 *   ASYM_RECOVERY   1: U-Boot boots the recovery system, which installs ASYM_URL
 *   ASYM_ROOT_LEFT  boots the root still gets without confirming itself (0..3);
 *                   at 0 U-Boot boots recovery, which reinstalls ASYM_GOOD_URL
 *   ASYM_URL        the manifest recovery installs; kept after the install
 *                   until the new root confirms itself good
 *   ASYM_GOOD_URL   the manifest of the last root that confirmed itself good
 */
#ifndef BROWNOUT_ASYMMETRIC_ENV_H
#define BROWNOUT_ASYMMETRIC_ENV_H

#include <stdbool.h>

#define ASYMMETRIC_ENV_TRIES 3
#define ASYMMETRIC_ENV_URL_MAX 512

struct asymmetric_env {
	bool recovery;
	unsigned root_left;
	char url[ASYMMETRIC_ENV_URL_MAX];	/* "" when no update is pending */
	char good_url[ASYMMETRIC_ENV_URL_MAX];
};

/* Parse the four values as strings (NULL = unset); 0 or -EINVAL. Unset URLs are "". */
int asymmetric_env_parse(const char *recovery, const char *left, const char *url,
			 const char *good, struct asymmetric_env *st);

/* Read the variables. Returns 0, -ENODATA (no valid copy), -EINVAL, or a libubootenv error. */
int asymmetric_env_read(const char *config, struct asymmetric_env *st);

/*
 * Store all four variables in one write, then read them back from storage
 * and compare. Returns 0, errors as asymmetric_env_read, or -EIO on a
 * read-back mismatch.
 */
int asymmetric_env_store(const char *config, const struct asymmetric_env *st);

#endif
