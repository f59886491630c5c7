/*
 * ostree_env: the OSTree boot counter in the U-Boot environment, as the boot script
 * (images/boot/ostree.cmd) reads it: OSTREE_PENDING (1 while a new deployment
 * is unconfirmed) and OSTREE_LEFT (its tries left). Read and written through
 * envstore in the same redundant two-copy layout as the A/B variables: each
 * store writes the older copy whole and fsyncs it, so a cut during a store
 * leaves the previous state.
 */
#ifndef BROWNOUT_OSTREE_ENV_H
#define BROWNOUT_OSTREE_ENV_H

#include "bootenv.h"

struct ostree_env_state {
	unsigned pending;	/* 0 or 1 */
	unsigned left;		/* 0..9 */
};

/* What the boot script does with a state: which entry of uEnv.txt it boots. */
struct ostree_env_decision {
	int entry;			/* 1: the default deployment, 2: the previous one */
	int save;			/* the script stores next before booting */
	struct ostree_env_state next;
};

/* Parse the two variables as the script reads them. Returns 0 or -EINVAL. */
int ostree_env_parse(const char *pending, const char *left, struct ostree_env_state *st);

/*
 * The script's rule: not pending, entry 1, no save; pending with tries left,
 * spend one (saved) and boot entry 1; pending with none left, entry 2.
 */
void ostree_env_decide(const struct ostree_env_state *st, struct ostree_env_decision *d);

/* Read both variables. Errors as libubootenv, -EINVAL for values the script cannot read. */
int ostree_env_read(const char *config, struct ostree_env_state *st);

/*
 * A new deployment is about to become the default: pending 1 with
 * BOOTENV_TRIES tries, one store, read back. Returns 0, or -EIO if the
 * read-back differs.
 */
int ostree_env_arm(const char *config);

/* The booted deployment is good: pending 0, BOOTENV_TRIES tries; stored only if that changes. */
int ostree_env_mark_good(const char *config, int *stored);

#endif
