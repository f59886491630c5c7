/* abenv: the A/B variables in the U-Boot environment, read and written with libubootenv. */
#include "abenv.h"

#include <errno.h>
#include <stddef.h>	/* libuboot.h uses size_t without including it */
#include <libuboot.h>
#include <stdlib.h>
#include <string.h>

static const char *const abenv_left_vars[BOOTENV_SLOTS] = { "BOOT_A_LEFT", "BOOT_B_LEFT" };

void abenv_close(struct uboot_ctx *ctx)
{
	if (!ctx)
		return;
	libuboot_close(ctx);
	libuboot_exit(ctx);
}

int abenv_open(const char *config, struct uboot_ctx **out)
{
	struct uboot_ctx *ctx = NULL;
	int rc;

	*out = NULL;
	rc = libuboot_initialize(&ctx, NULL);
	if (rc < 0)
		return rc;
	rc = libuboot_read_config(ctx, config);
	if (rc < 0) {
		libuboot_exit(ctx);
		return rc;
	}
	/* libubootenv picks the copy as U-Boot does: valid CRC, newer flag, copy 1 on a tie. */
	rc = libuboot_open(ctx);
	if (rc < 0) {
		/* -ENODATA when neither copy has a valid CRC; nothing is written then. */
		abenv_close(ctx);
		return rc;
	}
	*out = ctx;
	return 0;
}

static int abenv_get(struct uboot_ctx *ctx, struct bootenv_state *st)
{
	char *order = libuboot_get_env(ctx, "BOOT_ORDER");
	int rc = -EINVAL;

	if (!order || bootenv_parse_order(order, st->order) < 0)
		goto out;
	for (int i = 0; i < BOOTENV_SLOTS; i++) {
		char *v = libuboot_get_env(ctx, abenv_left_vars[i]);

		rc = bootenv_parse_left(v, &st->left[i]);
		free(v);
		if (rc < 0)
			goto out;
	}
	rc = 0;
out:
	free(order);
	return rc;
}

int abenv_read(const char *config, struct bootenv_state *st)
{
	struct uboot_ctx *ctx;
	int rc;

	rc = abenv_open(config, &ctx);
	if (rc < 0)
		return rc;
	rc = abenv_get(ctx, st);
	abenv_close(ctx);
	return rc;
}

/* Set the three variables to want and store them in one write. */
static int abenv_store(struct uboot_ctx *ctx, const struct bootenv_state *want)
{
	char order[2 * BOOTENV_SLOTS], left[2];
	size_t n = strlen(want->order);
	int rc;

	/* BOOT_ORDER is the letters separated by single spaces, as the boot script's 'for' reads it. */
	for (size_t i = 0; i < n; i++) {
		order[2 * i] = want->order[i];
		order[2 * i + 1] = ' ';
	}
	order[2 * n - 1] = '\0';
	rc = libuboot_set_env(ctx, "BOOT_ORDER", order);
	for (int i = 0; rc == 0 && i < BOOTENV_SLOTS; i++) {
		left[0] = (char)('0' + want->left[i]);
		left[1] = '\0';
		rc = libuboot_set_env(ctx, abenv_left_vars[i], left);
	}
	if (rc < 0)
		return rc;
	/* One store: every variable changes in the same write of the older copy, then fsync. */
	return libuboot_env_store(ctx);
}

/* Read back through a fresh context, from storage, not from what was held in memory. */
static int abenv_check(const char *config, const struct bootenv_state *want)
{
	struct bootenv_state got;
	int rc;

	rc = abenv_read(config, &got);
	if (rc < 0)
		return rc;
	if (strcmp(got.order, want->order) != 0 ||
	    memcmp(got.left, want->left, sizeof(got.left)) != 0)
		return -EIO;
	return 0;
}

int abenv_switch(const char *config, char slot)
{
	struct bootenv_state st = { 0 };
	struct uboot_ctx *ctx;
	int idx = bootenv_slot_index(slot), rc;

	if (idx < 0)
		return -EINVAL;
	rc = abenv_open(config, &ctx);
	if (rc < 0)
		return rc;
	st.order[0] = slot;
	st.order[1] = slot == 'A' ? 'B' : 'A';
	st.order[2] = '\0';
	st.left[0] = st.left[1] = BOOTENV_TRIES;
	rc = abenv_store(ctx, &st);
	abenv_close(ctx);
	return rc < 0 ? rc : abenv_check(config, &st);
}

int abenv_mark_good(const char *config, char slot, int *stored)
{
	struct bootenv_state st;
	struct uboot_ctx *ctx;
	int idx = bootenv_slot_index(slot), rc;

	*stored = 0;
	if (idx < 0)
		return -EINVAL;
	rc = abenv_open(config, &ctx);
	if (rc < 0)
		return rc;
	rc = abenv_get(ctx, &st);
	/* Already good: no write, so a routine boot wears nothing and risks nothing. */
	if (rc == 0 && st.left[idx] != BOOTENV_TRIES) {
		st.left[idx] = BOOTENV_TRIES;
		rc = abenv_store(ctx, &st);
		*stored = rc == 0;
	}
	abenv_close(ctx);
	return rc < 0 || !*stored ? rc : abenv_check(config, &st);
}
