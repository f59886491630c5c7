/* otenv: the OSTree boot counter in the U-Boot environment, with libubootenv. */
#include "otenv.h"

#include "abenv.h"

#include <errno.h>
#include <stddef.h>	/* libuboot.h uses size_t without including it */
#include <libuboot.h>
#include <stdlib.h>
#include <string.h>

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

static int otenv_get(struct uboot_ctx *ctx, struct otenv_state *st)
{
	char *pending = libuboot_get_env(ctx, "OSTREE_PENDING");
	char *left = libuboot_get_env(ctx, "OSTREE_LEFT");
	int rc = otenv_parse(pending, left, st);

	free(pending);
	free(left);
	return rc;
}

int otenv_read(const char *config, struct otenv_state *st)
{
	struct uboot_ctx *ctx;
	int rc;

	rc = abenv_open(config, &ctx);
	if (rc < 0)
		return rc;
	rc = otenv_get(ctx, st);
	abenv_close(ctx);
	return rc;
}

/* Both variables in one store of the older copy (libubootenv fsyncs it). */
static int otenv_store(struct uboot_ctx *ctx, const struct otenv_state *st)
{
	char pending[2] = { (char)('0' + st->pending), '\0' }, left[2] = { (char)('0' + st->left), '\0' };
	int rc;

	rc = libuboot_set_env(ctx, "OSTREE_PENDING", pending);
	if (rc == 0)
		rc = libuboot_set_env(ctx, "OSTREE_LEFT", left);
	return rc < 0 ? rc : libuboot_env_store(ctx);
}

/* Read back through a fresh context: what storage holds, not what memory held. */
static int otenv_check(const char *config, const struct otenv_state *want)
{
	struct otenv_state got;
	int rc = otenv_read(config, &got);

	if (rc < 0)
		return rc;
	return got.pending == want->pending && got.left == want->left ? 0 : -EIO;
}

int otenv_arm(const char *config)
{
	const struct otenv_state want = { .pending = 1, .left = BOOTENV_TRIES };
	struct uboot_ctx *ctx;
	int rc;

	rc = abenv_open(config, &ctx);
	if (rc < 0)
		return rc;
	rc = otenv_store(ctx, &want);
	abenv_close(ctx);
	return rc < 0 ? rc : otenv_check(config, &want);
}

int otenv_mark_good(const char *config, int *stored)
{
	const struct otenv_state want = { .pending = 0, .left = BOOTENV_TRIES };
	struct otenv_state st;
	struct uboot_ctx *ctx;
	int rc;

	*stored = 0;
	rc = abenv_open(config, &ctx);
	if (rc < 0)
		return rc;
	rc = otenv_get(ctx, &st);
	/* Already good, or unreadable values: write the good state only if it differs. */
	if (rc < 0 || st.pending != want.pending || st.left != want.left) {
		rc = otenv_store(ctx, &want);
		*stored = rc == 0;
	}
	abenv_close(ctx);
	return rc < 0 || !*stored ? rc : otenv_check(config, &want);
}
