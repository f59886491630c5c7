/*
 * asympolicy: the asymmetric method's decisions, as functions of its env
 * (asymenv.h) alone: what recovery does when it starts, what it stores after
 * an install, and what a healthy root stores when it confirms itself. Nothing
 * here reads or writes storage; brownout-asym (asymmetric.c) stores `next` and
 * reboots where the answer says so.
 */
#ifndef BROWNOUT_ASYMPOLICY_H
#define BROWNOUT_ASYMPOLICY_H

#include "env.h"

#include <stdbool.h>

/* What recovery does first. */
enum asympolicy_start {
	ASYMPOLICY_NOTHING,	/* no request: store next (flag cleared), boot the root */
	ASYMPOLICY_INSTALL,	/* install next->url */
	ASYMPOLICY_ROLLBACK,	/* the root spent its tries: store next (the good URL is the
				 * request, so a cut during it comes back here), install it */
	ASYMPOLICY_NO_GOOD,	/* the root spent its tries and nothing good is known: store
				 * next (new tries), boot the root rather than loop here */
};

/* How an install into the root slot ended. */
enum asympolicy_install {
	ASYMPOLICY_INSTALLED,	/* written, durable, read back */
	ASYMPOLICY_UNTOUCHED,	/* refused before the root slot was opened */
	ASYMPOLICY_BROKEN,	/* stopped after writing began (a broken download) */
	ASYMPOLICY_BAD_PAYLOAD,	/* written, but it failed verification */
};

/* What recovery does after an install. */
enum asympolicy_after {
	ASYMPOLICY_BOOT_ROOT,		/* store next, boot the new root */
	ASYMPOLICY_REINSTALL_GOOD,	/* store next (the good URL), install that */
	ASYMPOLICY_DROP,		/* store next (request dropped), boot the intact root */
	ASYMPOLICY_RETRY,		/* store nothing, reboot: recovery runs again and retries */
};

enum asympolicy_start asympolicy_start(const struct asymenv *st, struct asymenv *next);

enum asympolicy_after asympolicy_after_install(const struct asymenv *st,
						enum asympolicy_install result,
						struct asymenv *next);

/*
 * A root that passed its health check: new tries, and a pending request
 * becomes the good image a rollback reinstalls. Returns whether next
 * differs from st (must be stored).
 */
bool asympolicy_confirm(const struct asymenv *st, struct asymenv *next);

#endif
