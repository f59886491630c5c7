/*
 * rules: phase rules, for update clients that print no phase markers (RAUC,
 * SWUpdate, Mender pull, write the slot and switch the boot order in one
 * process). A rules file names the phase of the points by what they target,
 * one rule a line:
 *
 *   # what the slot and the env partition get
 *   deploy      path=/dev/vda4 syscall=fsync
 *   pull        path=/dev/vda4
 *   bootloader  path=/dev/vda2 target=block
 *
 *   <phase> path=<glob> [target=<kind>] [syscall=<name>]
 *
 * phase: a lowercase letter, then lowercase letters, digits or '-', at most
 * 31 bytes: pull, deploy, bootloader or a name of the host's own (a cut's
 * phase= may then use it). The filters are a cut spec's (cutpoint.h),
 * separated by blanks: path= is required, an fnmatch(3) glob ('*' crosses
 * '/') on the point's path as target.c resolves it (an fd's /proc link, a
 * path argument made absolute) or on a rename's or link's new path;
 * target= and syscall= narrow it. Blank lines and lines whose first
 * non-blank is '#' are skipped; a '#' elsewhere is part of the line.
 *
 * The first rule a point matches gives its phase; a point no rule matches
 * keeps the phase the markers give, so with no rules nothing changes.
 * Progress markers (bytes= cuts) and holds still follow the markers.
 */
#ifndef BROWNOUT_FI_RULES_H
#define BROWNOUT_FI_RULES_H

#include <stddef.h>

#include "cutpoint.h"

#define RULES_LINE_MAX 512		/* a line's bytes, its newline not counted, plus one */
#define RULES_FILE_MAX (64 * 1024)	/* a rules file's bytes */

struct rule {
	unsigned line;			/* in the rules file, from 1 */
	char phase[CUT_PHASE_MAX];
	struct cut_spec filter;		/* path=, target=, syscall= */
};

struct rules {
	struct rule *r;
	size_t n, cap;
};

/*
 * Parse len bytes of text into rules (emptied first). On error returns
 * -EINVAL (-ENOMEM) with rules empty and one line in err:
 * "line <n>: <what is wrong>".
 */
int rules_parse(struct rules *rules, const char *text, size_t len, char *err, size_t errsize);

/* Read path and parse it. A file that cannot be read: -errno, and err says why. */
int rules_load(struct rules *rules, const char *path, char *err, size_t errsize);

/* The first rule p matches, or NULL. */
const struct rule *rules_match(const struct rules *rules, const struct cut_point *p);

/* Give p the phase of the first rule it matches (p->phase, p->rule); else leave it. rules may be NULL. */
void rules_apply(const struct rules *rules, struct cut_point *p);

/* True if a rule gives phase. */
int rules_give_phase(const struct rules *rules, const char *phase);

void rules_free(struct rules *rules);

#endif
