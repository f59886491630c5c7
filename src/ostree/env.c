/* otenv: the OSTree boot counter in the U-Boot environment, through envstore. */
#include "env.h"

#include "envstore.h"

#include <errno.h>
#include <string.h>

#define OTENV_VARS 2

/* In the order otenv_parse takes them. */
static const char *const otenv_names[OTENV_VARS] = { "OSTREE_PENDING", "OSTREE_LEFT" };

int otenv_parse(const char *pending, const char *left, struct otenv_state *st)
{
	if (!pending || !left || strlen(pending) != 1 || (pending[0] != '0' && pending[0] != '1'))
		return -EINVAL;
	/* Read by itest as hex: a single decimal digit means the same either way. */
	if (bootenv_parse_left(left, &st->left) < 0)
		return -EINVAL;
	st->pending = (unsigned)(pending[0] - '0');
	return 0;
}

void otenv_decide(const struct otenv_state *st, struct otenv_decision *d)
{
	d->next = *st;
	d->entry = 1;
	d->save = 0;
	if (!st->pending)
		return;
	if (st->left > 0) {
		d->next.left = st->left - 1;
		d->save = 1;
		return;
	}
	d->entry = 2;
}

static int otenv_parse_vars(const char *const got[], void *out)
{
	return otenv_parse(got[0], got[1], out);
}

int otenv_read(const char *config, struct otenv_state *st)
{
	return envstore_read(config, otenv_names, OTENV_VARS, otenv_parse_vars, st);
}

/* A state as the text the boot script reads; values point into the rest. */
struct otenv_text {
	char pending[2], left[2];
	const char *values[OTENV_VARS];
};

static const char **otenv_format(const struct otenv_state *st, struct otenv_text *t)
{
	t->pending[0] = (char)('0' + st->pending);
	t->left[0] = (char)('0' + st->left);
	t->pending[1] = t->left[1] = '\0';
	t->values[0] = t->pending;
	t->values[1] = t->left;
	return t->values;
}

int otenv_arm(const char *config)
{
	const struct otenv_state want = { .pending = 1, .left = BOOTENV_TRIES };
	struct otenv_text t;

	/* Both variables in one store of the older copy, then read back from storage. */
	return envstore_write(config, otenv_names, otenv_format(&want, &t), OTENV_VARS);
}

static int otenv_mark_change(const char *const got[], const char *want[], void *arg)
{
	static const struct otenv_state good = { .pending = 0, .left = BOOTENV_TRIES };
	struct otenv_text *t = arg;
	struct otenv_state st;
	int rc = otenv_parse(got[0], got[1], &st);

	/* Already good, or unreadable values: write the good state only if it differs. */
	if (rc == 0 && st.pending == good.pending && st.left == good.left)
		return 0;
	memcpy(want, otenv_format(&good, t), sizeof(t->values));
	return 1;
}

int otenv_mark_good(const char *config, int *stored)
{
	struct otenv_text t;

	return envstore_update(config, otenv_names, OTENV_VARS, otenv_mark_change, &t, stored);
}
