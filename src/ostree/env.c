/* ostree_env: the OSTree boot counter in the U-Boot environment, through envstore. */
#include "env.h"

#include "envstore.h"

#include <errno.h>
#include <string.h>

#define OSTREE_ENV_VARS 3

/* In the order ostree_env_parse takes them. */
static const char *const ostree_env_names[OSTREE_ENV_VARS] = { "OSTREE_BOOT", "OSTREE_PENDING",
							       "OSTREE_LEFT" };

char ostree_env_other(char slot)
{
	return slot == 'A' ? 'B' : 'A';
}

int ostree_env_parse(const char *boot, const char *pending, const char *left,
		     struct ostree_env_state *st)
{
	if (boot && (strlen(boot) != 1 || (boot[0] != 'A' && boot[0] != 'B')))
		return -EINVAL;
	if (!pending || !left || strlen(pending) != 1 || (pending[0] != '0' && pending[0] != '1'))
		return -EINVAL;
	/* Read by itest as hex: a single decimal digit means the same either way. */
	if (bootenv_parse_left(left, &st->left) < 0)
		return -EINVAL;
	st->boot = boot ? boot[0] : 'A';
	st->pending = (unsigned)(pending[0] - '0');
	return 0;
}

void ostree_env_decide(const struct ostree_env_state *st, struct ostree_env_decision *d)
{
	d->next = *st;
	d->slot = st->boot;
	d->save = 0;
	if (!st->pending)
		return;
	if (st->left > 0) {
		d->next.left = st->left - 1;
		d->save = 1;
		return;
	}
	d->slot = ostree_env_other(st->boot);
}

static int ostree_env_parse_vars(const char *const got[], void *out)
{
	return ostree_env_parse(got[0], got[1], got[2], out);
}

int ostree_env_read(const char *config, struct ostree_env_state *st)
{
	return envstore_read(config, ostree_env_names, OSTREE_ENV_VARS, ostree_env_parse_vars, st);
}

/* A state as the text the boot script reads; values point into the rest. */
struct ostree_env_text {
	char boot[2], pending[2], left[2];
	const char *values[OSTREE_ENV_VARS];
};

static const char **ostree_env_format(const struct ostree_env_state *st, struct ostree_env_text *t)
{
	t->boot[0] = st->boot;
	t->pending[0] = (char)('0' + st->pending);
	t->left[0] = (char)('0' + st->left);
	t->boot[1] = t->pending[1] = t->left[1] = '\0';
	t->values[0] = t->boot;
	t->values[1] = t->pending;
	t->values[2] = t->left;
	return t->values;
}

int ostree_env_arm(const char *config, char slot)
{
	const struct ostree_env_state want = { .boot = slot, .pending = 1, .left = BOOTENV_TRIES };
	struct ostree_env_text t;

	if (slot != 'A' && slot != 'B')
		return -EINVAL;
	/* The three variables in one store of the older copy, then read back from storage. */
	return envstore_write(config, ostree_env_names, ostree_env_format(&want, &t),
			      OSTREE_ENV_VARS);
}

struct ostree_env_mark {
	struct ostree_env_state good;
	struct ostree_env_text text;
};

static int ostree_env_mark_change(const char *const got[], const char *want[], void *arg)
{
	struct ostree_env_mark *m = arg;
	struct ostree_env_state st;
	int rc = ostree_env_parse(got[0], got[1], got[2], &st);

	/* Already good, or unreadable values: write the good state only if it differs. */
	if (rc == 0 && got[0] && st.boot == m->good.boot && st.pending == m->good.pending &&
	    st.left == m->good.left)
		return 0;
	memcpy(want, ostree_env_format(&m->good, &m->text), sizeof(m->text.values));
	return 1;
}

int ostree_env_mark_good(const char *config, char slot, int *stored)
{
	struct ostree_env_mark m = { .good = { .boot = slot, .pending = 0, .left = BOOTENV_TRIES } };

	if (slot != 'A' && slot != 'B')
		return -EINVAL;
	return envstore_update(config, ostree_env_names, OSTREE_ENV_VARS, ostree_env_mark_change,
			       &m, stored);
}
