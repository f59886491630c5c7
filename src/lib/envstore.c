/* envstore: the U-Boot environment, read and written with libubootenv. */
#include "envstore.h"

#include <errno.h>
#include <stddef.h>	/* libuboot.h uses size_t without including it */
#include <libuboot.h>
#include <stdlib.h>
#include <string.h>

void envstore_close(struct uboot_ctx *ctx)
{
	if (!ctx)
		return;
	libuboot_close(ctx);
	libuboot_exit(ctx);
}

int envstore_open(const char *config, struct uboot_ctx **out)
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
		envstore_close(ctx);
		return rc;
	}
	*out = ctx;
	return 0;
}

/* Each variable's value (malloc'd), NULL when unset; envstore_free frees them. */
static void envstore_get(struct uboot_ctx *ctx, const char *const names[], size_t n, char *got[])
{
	for (size_t i = 0; i < n; i++)
		got[i] = libuboot_get_env(ctx, names[i]);
}

static void envstore_free(char *got[], size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(got[i]);
}

int envstore_store(struct uboot_ctx *ctx, const char *const names[], const char *const values[],
		   size_t n)
{
	int rc = 0;

	/* An empty value unsets a variable in libubootenv; the boot script exports it as absent. */
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = libuboot_set_env(ctx, names[i], values[i] && values[i][0] ? values[i] : NULL);
	if (rc < 0)
		return rc;
	/* One store: every variable changes in the same write of the older copy, then fsync. */
	return libuboot_env_store(ctx);
}

/*
 * Open, read the n variables, let change decide (into want), store what it
 * asks for in that same context: one write of the older copy. Nothing is
 * read back. 0, or a negative errno from opening, change or the store.
 */
static int envstore_session(const char *config, const char *const names[], size_t n,
			    int (*change)(const char *const got[], const char *want[], void *arg),
			    void *arg, const char *want[], int *stored)
{
	struct uboot_ctx *ctx;
	char *got[ENVSTORE_VARS_MAX];
	int rc;

	*stored = 0;
	if (n > ENVSTORE_VARS_MAX)
		return -E2BIG;
	rc = envstore_open(config, &ctx);
	if (rc < 0)
		return rc;
	envstore_get(ctx, names, n, got);
	rc = change((const char *const *)got, want, arg);
	if (rc > 0) {
		rc = envstore_store(ctx, names, want, n);
		*stored = rc == 0;
	}
	envstore_free(got, n);
	envstore_close(ctx);
	return rc;
}

/* envstore_read's parse, as a change that never stores. */
struct envstore_reader {
	int (*parse)(const char *const got[], void *out);
	void *out;
};

static int envstore_read_only(const char *const got[], const char *want[], void *arg)
{
	const struct envstore_reader *r = arg;
	int rc = r->parse(got, r->out);

	(void)want;
	return rc > 0 ? 0 : rc;
}

int envstore_read(const char *config, const char *const names[], size_t n,
		  int (*parse)(const char *const got[], void *out), void *out)
{
	/* out is filled by parse, not read: cppcheck's cross-file check cannot see that. */
	// cppcheck-suppress ctuuninitvar
	struct envstore_reader r = { parse, out };
	const char *want[ENVSTORE_VARS_MAX];
	int stored;

	return envstore_session(config, names, n, envstore_read_only, &r, want, &stored);
}

/* Equal as the boot script sees them: an unset variable and an empty value are both absent. */
static int envstore_same(const char *got, const char *want)
{
	if (!got || !got[0] || !want || !want[0])
		return (!got || !got[0]) && (!want || !want[0]);
	return strcmp(got, want) == 0;
}

/* The values a read-back must find, n of them. */
struct envstore_expect {
	const char *const *values;
	size_t n;
};

static int envstore_compare(const char *const got[], void *arg)
{
	const struct envstore_expect *e = arg;

	for (size_t i = 0; i < e->n; i++)
		if (!envstore_same(got[i], e->values[i]))
			return -EIO;
	return 0;
}

/* Read back through a fresh context, from storage, not from what was held in memory. */
static int envstore_check(const char *config, const char *const names[],
			  const char *const values[], size_t n)
{
	struct envstore_expect e = { values, n };

	return envstore_read(config, names, n, envstore_compare, &e);
}

/* envstore_write's values, as a change that always stores them. */
static int envstore_put(const char *const got[], const char *want[], void *arg)
{
	const struct envstore_expect *e = arg;

	(void)got;
	memcpy(want, e->values, e->n * sizeof(want[0]));
	return 1;
}

int envstore_write(const char *config, const char *const names[], const char *const values[],
		   size_t n)
{
	struct envstore_expect e = { values, n };
	const char *want[ENVSTORE_VARS_MAX];
	int stored, rc;

	/* Every variable in one store, then read back from storage. */
	rc = envstore_session(config, names, n, envstore_put, &e, want, &stored);
	return rc < 0 ? rc : envstore_check(config, names, values, n);
}

int envstore_update(const char *config, const char *const names[], size_t n,
		    int (*change)(const char *const got[], const char *want[], void *arg),
		    void *arg, int *stored)
{
	const char *want[ENVSTORE_VARS_MAX];
	int rc;

	rc = envstore_session(config, names, n, change, arg, want, stored);
	return rc < 0 || !*stored ? rc : envstore_check(config, names, want, n);
}
