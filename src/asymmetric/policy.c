/* asymmetric_policy: the asymmetric method's decisions from its env (see policy.h). */
#include "policy.h"

#include <string.h>

enum asymmetric_policy_start asymmetric_policy_start(const struct asymmetric_env *st,
						     struct asymmetric_env *next)
{
	*next = *st;
	if (!st->recovery && st->root_left == 0) {
		next->root_left = ASYMMETRIC_ENV_TRIES;
		if (!st->good_url[0])
			return ASYMMETRIC_POLICY_NO_GOOD;
		next->recovery = true;
		memcpy(next->url, st->good_url, sizeof(next->url));
		return ASYMMETRIC_POLICY_ROLLBACK;
	}
	if (!st->recovery || !st->url[0]) {
		next->recovery = false;
		return ASYMMETRIC_POLICY_NOTHING;
	}
	return ASYMMETRIC_POLICY_INSTALL;
}

enum asymmetric_policy_after asymmetric_policy_after_install(const struct asymmetric_env *st,
							     enum asymmetric_policy_install result,
							     struct asymmetric_env *next)
{
	*next = *st;
	switch (result) {
	case ASYMMETRIC_POLICY_INSTALLED:
		next->recovery = false;
		next->root_left = ASYMMETRIC_ENV_TRIES;
		/* A reinstalled good image is not pending; a new one is, until it confirms itself. */
		if (strcmp(st->url, st->good_url) == 0)
			next->url[0] = '\0';
		return ASYMMETRIC_POLICY_BOOT_ROOT;
	case ASYMMETRIC_POLICY_UNTOUCHED:
		/* Refused before the root slot was opened: the root is intact. */
		next->recovery = false;
		next->url[0] = '\0';
		return ASYMMETRIC_POLICY_DROP;
	case ASYMMETRIC_POLICY_BAD_PAYLOAD:
		/* The root slot holds what failed verification: never retried, the good one goes back. */
		if (st->good_url[0] && strcmp(st->url, st->good_url) != 0) {
			memcpy(next->url, st->good_url, sizeof(next->url));
			return ASYMMETRIC_POLICY_REINSTALL_GOOD;
		}
		return ASYMMETRIC_POLICY_RETRY;
	case ASYMMETRIC_POLICY_BROKEN:
		break;
	}
	return ASYMMETRIC_POLICY_RETRY;
}

bool asymmetric_policy_confirm(const struct asymmetric_env *st, struct asymmetric_env *next)
{
	*next = *st;
	if (st->root_left == ASYMMETRIC_ENV_TRIES && !st->url[0])
		return false;
	next->root_left = ASYMMETRIC_ENV_TRIES;
	if (st->url[0]) {
		memcpy(next->good_url, st->url, sizeof(next->good_url));
		next->url[0] = '\0';
	}
	return true;
}
