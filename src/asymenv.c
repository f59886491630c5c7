/* asymenv: the asymmetric method's variables in the U-Boot environment (libubootenv). */
#include "asymenv.h"

#include "abenv.h"

#include "num.h"

#include <errno.h>
#include <stddef.h>	/* libuboot.h uses size_t without including it */
#include <libuboot.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int asymenv_copy_url(const char *s, char *out)
{
	size_t len = s ? strlen(s) : 0;

	if (len >= ASYMENV_URL_MAX)
		return -EINVAL;
	memcpy(out, s ? s : "", len);
	out[len] = '\0';
	return 0;
}

int asymenv_parse(const char *recovery, const char *left, const char *url, const char *good,
		  struct asymenv *st)
{
	uint64_t v;

	memset(st, 0, sizeof(*st));
	if (!recovery || (strcmp(recovery, "0") != 0 && strcmp(recovery, "1") != 0))
		return -EINVAL;
	st->recovery = recovery[0] == '1';
	if (!left || num_parse_u64(left, strlen(left), ASYMENV_TRIES, &v) < 0)
		return -EINVAL;
	st->root_left = (unsigned)v;
	if (asymenv_copy_url(url, st->url) < 0 || asymenv_copy_url(good, st->good_url) < 0)
		return -EINVAL;
	return 0;
}

static int asymenv_get(struct uboot_ctx *ctx, struct asymenv *st)
{
	char *rec = libuboot_get_env(ctx, "ASYM_RECOVERY");
	char *left = libuboot_get_env(ctx, "ASYM_ROOT_LEFT");
	char *url = libuboot_get_env(ctx, "ASYM_URL");
	char *good = libuboot_get_env(ctx, "ASYM_GOOD_URL");
	int rc = asymenv_parse(rec, left, url, good, st);

	free(rec);
	free(left);
	free(url);
	free(good);
	return rc;
}

int asymenv_read(const char *config, struct asymenv *st)
{
	struct uboot_ctx *ctx;
	int rc;

	rc = abenv_open(config, &ctx);
	if (rc < 0)
		return rc;
	rc = asymenv_get(ctx, st);
	abenv_close(ctx);
	return rc;
}

int asymenv_store(const char *config, const struct asymenv *st)
{
	struct uboot_ctx *ctx;
	struct asymenv got;
	char left[4];
	int rc;

	if (st->root_left > ASYMENV_TRIES)
		return -EINVAL;
	rc = abenv_open(config, &ctx);
	if (rc < 0)
		return rc;
	snprintf(left, sizeof(left), "%u", st->root_left);
	rc = libuboot_set_env(ctx, "ASYM_RECOVERY", st->recovery ? "1" : "0");
	if (rc == 0)
		rc = libuboot_set_env(ctx, "ASYM_ROOT_LEFT", left);
	/* An empty value unsets a variable in libubootenv; the boot script exports it as absent. */
	if (rc == 0)
		rc = libuboot_set_env(ctx, "ASYM_URL", st->url[0] ? st->url : NULL);
	if (rc == 0)
		rc = libuboot_set_env(ctx, "ASYM_GOOD_URL", st->good_url[0] ? st->good_url : NULL);
	/* One store: all four change in the same write of the older copy, then fsync. */
	if (rc == 0)
		rc = libuboot_env_store(ctx);
	abenv_close(ctx);
	if (rc < 0)
		return rc;
	/* Read back through a fresh context, from storage. */
	rc = asymenv_read(config, &got);
	if (rc < 0)
		return rc;
	if (got.recovery != st->recovery || got.root_left != st->root_left ||
	    strcmp(got.url, st->url) != 0 || strcmp(got.good_url, st->good_url) != 0)
		return -EIO;
	return 0;
}
