/*
 * ostree_env: the OSTree boot counter in the U-Boot environment, as the boot script
 * (images/methods/ostree/boot.cmd) reads it: OSTREE_BOOT (the boot slot, A or
 * B, holding the default deployment's kernel), OSTREE_PENDING (1 while that
 * deployment is unconfirmed) and OSTREE_LEFT (its tries left). Read and
 * written through envstore in the same redundant two-copy layout as the A/B
 * variables: each store writes the older copy whole and fsyncs it, so a cut
 * during a store leaves the previous state.
 */
#ifndef BROWNOUT_OSTREE_ENV_H
#define BROWNOUT_OSTREE_ENV_H

#include "bootenv.h"

struct ostree_env_state {
	char boot;		/* 'A' or 'B' */
	unsigned pending;	/* 0 or 1 */
	unsigned left;		/* 0..9 */
};

/* What the boot script does with a state: which boot slot it boots. */
struct ostree_env_decision {
	char slot;			/* the default's slot, or the other one (the previous deployment) */
	int save;			/* the script stores next before booting */
	struct ostree_env_state next;
};

/* The other boot slot of 'A' or 'B'. */
char ostree_env_other(char slot);

/*
 * Parse the three variables as the script reads them; an unset OSTREE_BOOT is
 * A, as the factory leaves it. Returns 0 or -EINVAL.
 */
int ostree_env_parse(const char *boot, const char *pending, const char *left,
		     struct ostree_env_state *st);

/*
 * The script's rule: not pending, the default's slot, no save; pending with
 * tries left, spend one (saved) and boot the default's slot; pending with
 * none left, the other slot.
 */
void ostree_env_decide(const struct ostree_env_state *st, struct ostree_env_decision *d);

/* Read the variables. Errors as libubootenv, -EINVAL for values the script cannot read. */
int ostree_env_read(const char *config, struct ostree_env_state *st);

/*
 * The deployment in boot slot `slot` is about to become the default: that
 * slot, pending 1 with BOOTENV_TRIES tries, one store, read back. Returns 0,
 * or -EIO if the read-back differs.
 */
int ostree_env_arm(const char *config, char slot);

/*
 * The deployment booted from `slot` is good: that slot, pending 0,
 * BOOTENV_TRIES tries; stored only if that changes.
 */
int ostree_env_mark_good(const char *config, char slot, int *stored);

#endif
