/*
 * asymmetric_policy: the asymmetric method's decisions, as functions of its env
 * (env.h) alone: what recovery does when it starts, what it stores after
 * an install, and what a healthy root stores when it confirms itself. Nothing
 * here reads or writes storage; brownout-asymmetric (asymmetric.c) stores
 * `next` and reboots where the answer says so.
 */
#ifndef BROWNOUT_ASYMMETRIC_POLICY_H
#define BROWNOUT_ASYMMETRIC_POLICY_H

#include "env.h"

#include <stdbool.h>

/* What recovery does first. */
enum asymmetric_policy_start {
	/* no request: store next (flag cleared), boot the root */
	ASYMMETRIC_POLICY_NOTHING,
	/* install next->url */
	ASYMMETRIC_POLICY_INSTALL,
	/* the root spent its tries: store next (the good URL is the request, so a
	 * cut during it comes back here), install it */
	ASYMMETRIC_POLICY_ROLLBACK,
	/* the root spent its tries and nothing good is known: store next (new
	 * tries), boot the root rather than loop here */
	ASYMMETRIC_POLICY_NO_GOOD,
};

/* How an install into the root slot ended. */
enum asymmetric_policy_install {
	ASYMMETRIC_POLICY_INSTALLED,	/* written, durable, read back */
	ASYMMETRIC_POLICY_UNTOUCHED,	/* refused before the root slot was opened */
	ASYMMETRIC_POLICY_BROKEN,	/* stopped after writing began (a broken download) */
	ASYMMETRIC_POLICY_BAD_PAYLOAD,	/* written, but it failed verification */
};

/* What recovery does after an install. */
enum asymmetric_policy_after {
	ASYMMETRIC_POLICY_BOOT_ROOT,		/* store next, boot the new root */
	ASYMMETRIC_POLICY_REINSTALL_GOOD,	/* store next (the good URL), install that */
	ASYMMETRIC_POLICY_DROP,			/* store next (request dropped), boot the
						 * intact root */
	ASYMMETRIC_POLICY_RETRY,		/* store nothing, reboot: recovery runs
						 * again and retries */
};

enum asymmetric_policy_start asymmetric_policy_start(const struct asymmetric_env *st,
						     struct asymmetric_env *next);

enum asymmetric_policy_after asymmetric_policy_after_install(const struct asymmetric_env *st,
							     enum asymmetric_policy_install result,
							     struct asymmetric_env *next);

/*
 * A root that passed its health check: new tries, and a pending request
 * becomes the good image a rollback reinstalls. Returns whether next
 * differs from st (must be stored).
 */
bool asymmetric_policy_confirm(const struct asymmetric_env *st, struct asymmetric_env *next);

#endif
