/* ab_env: the A/B variables in the U-Boot environment, through envstore. */
#include "env.h"

#include "envstore.h"

#include <errno.h>
#include <string.h>

enum { AB_ENV_ORDER, AB_ENV_LEFT, AB_ENV_VARS = AB_ENV_LEFT + BOOTENV_SLOTS };

static const char *const ab_env_names[AB_ENV_VARS] = { "BOOT_ORDER", "BOOT_A_LEFT", "BOOT_B_LEFT" };

/* A state as the text the boot script reads; values point into the rest. */
struct ab_env_text {
	char order[2 * BOOTENV_SLOTS];
	char left[BOOTENV_SLOTS][2];
	const char *values[AB_ENV_VARS];
};

static int ab_env_parse(const char *const got[], void *out)
{
	struct bootenv_state *st = out;

	if (!got[AB_ENV_ORDER] || bootenv_parse_order(got[AB_ENV_ORDER], st->order) < 0)
		return -EINVAL;
	for (int i = 0; i < BOOTENV_SLOTS; i++)
		if (bootenv_parse_left(got[AB_ENV_LEFT + i], &st->left[i]) < 0)
			return -EINVAL;
	return 0;
}

static const char **ab_env_format(const struct bootenv_state *st, struct ab_env_text *t)
{
	size_t n = strlen(st->order);

	/* BOOT_ORDER is the letters separated by single spaces, as the boot script's 'for' reads it. */
	for (size_t i = 0; i < n; i++) {
		t->order[2 * i] = st->order[i];
		t->order[2 * i + 1] = ' ';
	}
	t->order[2 * n - 1] = '\0';
	t->values[AB_ENV_ORDER] = t->order;
	for (int i = 0; i < BOOTENV_SLOTS; i++) {
		t->left[i][0] = (char)('0' + st->left[i]);
		t->left[i][1] = '\0';
		t->values[AB_ENV_LEFT + i] = t->left[i];
	}
	return t->values;
}

int ab_env_read(const char *config, struct bootenv_state *st)
{
	return envstore_read(config, ab_env_names, AB_ENV_VARS, ab_env_parse, st);
}

int ab_env_switch(const char *config, char slot)
{
	struct bootenv_state st = { 0 };
	struct ab_env_text t;

	if (bootenv_slot_index(slot) < 0)
		return -EINVAL;
	st.order[0] = slot;
	st.order[1] = slot == 'A' ? 'B' : 'A';
	st.order[2] = '\0';
	st.left[0] = st.left[1] = BOOTENV_TRIES;
	/* Every variable in one store, then read back from storage. */
	return envstore_write(config, ab_env_names, ab_env_format(&st, &t), AB_ENV_VARS);
}

struct ab_env_mark {
	int idx;
	struct bootenv_state st;
	struct ab_env_text t;
};

static int ab_env_mark_change(const char *const got[], const char *want[], void *arg)
{
	struct ab_env_mark *m = arg;
	int rc = ab_env_parse(got, &m->st);

	/* Already good: no write, so a routine boot wears nothing and risks nothing. */
	if (rc < 0 || m->st.left[m->idx] == BOOTENV_TRIES)
		return rc;
	m->st.left[m->idx] = BOOTENV_TRIES;
	memcpy(want, ab_env_format(&m->st, &m->t), sizeof(m->t.values));
	return 1;
}

int ab_env_mark_good(const char *config, char slot, int *stored)
{
	struct ab_env_mark m = { .idx = bootenv_slot_index(slot) };

	*stored = 0;
	if (m.idx < 0)
		return -EINVAL;
	return envstore_update(config, ab_env_names, AB_ENV_VARS, ab_env_mark_change, &m, stored);
}
