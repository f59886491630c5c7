/*
 * envfile: a test helper, not a module. A file laid out like the env
 * partition (two 16 KiB copies at 0 and 0x4000) in a temporary directory,
 * named by a two-line fw_env.config as on the device, for the tests that run
 * the real libubootenv. What it holds is set and checked with bootenv, i.e.
 * as the boot script reads it.
 */
#ifndef BROWNOUT_TEST_ENVFILE_H
#define BROWNOUT_TEST_ENVFILE_H

#include <stddef.h>
#include <stdint.h>

#include "bootenv.h"

struct envfile {
	char dir[64], env[96], config[96];
	uint8_t c1[BOOTENV_COPY_SIZE], c2[BOOTENV_COPY_SIZE];
};

/* A cmocka setup: an envfile in *state, its copies still empty (nothing written). */
int envfile_setup(void **state);

/* The matching teardown: removes the files and frees it. */
int envfile_teardown(void **state);

/* Write c1 and c2 to the file, or read them from it. */
void envfile_put(struct envfile *f);
void envfile_get(struct envfile *f);

/* Copy 1 with flag1 and the n1 pairs of kv1, copy 2 with flag2 and kv2's, written. */
void envfile_make(struct envfile *f, uint8_t flag1, const char *const *kv1, size_t n1,
		  uint8_t flag2, const char *const *kv2, size_t n2);

/* key's value in copy (which must hold it) is want. */
void envfile_expect(const uint8_t *copy, const char *key, const char *want);

/* key's value in the copy the boot script would use, read from the file, into val. */
void envfile_current_get(struct envfile *f, const char *key, char *val, size_t size);

#endif
