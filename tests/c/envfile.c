/* envfile: a temporary env partition for the tests that run the real libubootenv. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "envfile.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int envfile_setup(void **state)
{
	struct envfile *f = calloc(1, sizeof(*f));
	FILE *cfg;

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/var/tmp/test_envfile.XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->env, sizeof(f->env), "%s/env", f->dir);
	snprintf(f->config, sizeof(f->config), "%s/fw_env.config", f->dir);
	cfg = fopen(f->config, "w");
	if (!cfg) {
		rmdir(f->dir);
		free(f);
		return -1;
	}
	/* The device's /etc/fw_env.config, with the partition replaced by a file. */
	fprintf(cfg, "%s 0x0000 0x4000\n%s 0x4000 0x4000\n", f->env, f->env);
	fclose(cfg);
	*state = f;
	return 0;
}

int envfile_teardown(void **state)
{
	struct envfile *f = *state;

	unlink(f->env);
	unlink(f->config);
	rmdir(f->dir);
	free(f);
	return 0;
}

void envfile_put(struct envfile *f)
{
	int fd = open(f->env, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, f->c1, sizeof(f->c1)), sizeof(f->c1));
	assert_int_equal(write(fd, f->c2, sizeof(f->c2)), sizeof(f->c2));
	close(fd);
}

void envfile_get(struct envfile *f)
{
	int fd = open(f->env, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(read(fd, f->c1, sizeof(f->c1)), sizeof(f->c1));
	assert_int_equal(read(fd, f->c2, sizeof(f->c2)), sizeof(f->c2));
	close(fd);
}

void envfile_make(struct envfile *f, uint8_t flag1, const char *const *kv1, size_t n1,
		  uint8_t flag2, const char *const *kv2, size_t n2)
{
	assert_int_equal(bootenv_format(f->c1, flag1, kv1, n1), 0);
	assert_int_equal(bootenv_format(f->c2, flag2, kv2, n2), 0);
	envfile_put(f);
}

void envfile_expect(const uint8_t *copy, const char *key, const char *want)
{
	char v[BOOTENV_DATA_SIZE];

	assert_int_equal(bootenv_get(copy, key, v, sizeof(v)), 0);
	assert_string_equal(v, want);
}

void envfile_current_get(struct envfile *f, const char *key, char *val, size_t size)
{
	int cur;

	envfile_get(f);
	cur = bootenv_current(f->c1, f->c2);
	assert_true(cur == 1 || cur == 2);
	assert_int_equal(bootenv_get(cur == 1 ? f->c1 : f->c2, key, val, size), 0);
}
