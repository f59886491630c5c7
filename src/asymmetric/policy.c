/* asympolicy: the asymmetric method's decisions from its env (see asympolicy.h). */
#include "policy.h"

#include <string.h>

enum asympolicy_start asympolicy_start(const struct asymenv *st, struct asymenv *next)
{
	*next = *st;
	if (!st->recovery && st->root_left == 0) {
		next->root_left = ASYMENV_TRIES;
		if (!st->good_url[0])
			return ASYMPOLICY_NO_GOOD;
		next->recovery = true;
		memcpy(next->url, st->good_url, sizeof(next->url));
		return ASYMPOLICY_ROLLBACK;
	}
	if (!st->recovery || !st->url[0]) {
		next->recovery = false;
		return ASYMPOLICY_NOTHING;
	}
	return ASYMPOLICY_INSTALL;
}

enum asympolicy_after asympolicy_after_install(const struct asymenv *st,
						enum asympolicy_install result,
						struct asymenv *next)
{
	*next = *st;
	switch (result) {
	case ASYMPOLICY_INSTALLED:
		next->recovery = false;
		next->root_left = ASYMENV_TRIES;
		/* A reinstalled good image is not pending; a new one is, until it confirms itself. */
		if (strcmp(st->url, st->good_url) == 0)
			next->url[0] = '\0';
		return ASYMPOLICY_BOOT_ROOT;
	case ASYMPOLICY_UNTOUCHED:
		/* Refused before the root slot was opened: the root is intact. */
		next->recovery = false;
		next->url[0] = '\0';
		return ASYMPOLICY_DROP;
	case ASYMPOLICY_BAD_PAYLOAD:
		/* The root slot holds what failed verification: never retried, the good one goes back. */
		if (st->good_url[0] && strcmp(st->url, st->good_url) != 0) {
			memcpy(next->url, st->good_url, sizeof(next->url));
			return ASYMPOLICY_REINSTALL_GOOD;
		}
		return ASYMPOLICY_RETRY;
	case ASYMPOLICY_BROKEN:
		break;
	}
	return ASYMPOLICY_RETRY;
}

bool asympolicy_confirm(const struct asymenv *st, struct asymenv *next)
{
	*next = *st;
	if (st->root_left == ASYMENV_TRIES && !st->url[0])
		return false;
	next->root_left = ASYMENV_TRIES;
	if (st->url[0]) {
		memcpy(next->good_url, st->url, sizeof(next->good_url));
		next->url[0] = '\0';
	}
	return true;
}
