/*
 * envstore: the U-Boot environment on the device, read and written with
 * libubootenv as fw_printenv/fw_setenv do. Every method keeps its variables
 * in the same redundant env region; this module opens it, reads and stores
 * named variables, and reads back what it stored. Each store writes one whole
 * copy, the older one, and fsyncs it (libubootenv): a power cut during it
 * leaves the other copy, so the boot script sees the old state or the new.
 * What the variables mean is each method's own module's business.
 */
#ifndef BROWNOUT_ENVSTORE_H
#define BROWNOUT_ENVSTORE_H

#include <stddef.h>

#define ENVSTORE_CONFIG_DEFAULT "/etc/fw_env.config"

/* The most variables one call reads or stores. */
#define ENVSTORE_VARS_MAX 8

struct uboot_ctx;

/*
 * A libubootenv context with the environment loaded from the devices config
 * names, the copy chosen as U-Boot chooses it (valid CRC, newer flag, copy 1
 * on a tie). 0, or a negative errno: -ENODATA when neither copy is valid.
 */
int envstore_open(const char *config, struct uboot_ctx **out);

/* Close and free a context from envstore_open; NULL is a no-op. */
void envstore_close(struct uboot_ctx *ctx);

/*
 * Set names[i] to values[i] (NULL or "" unsets it: the boot script sees it
 * absent) for i < n, and store them all in one write of the older copy,
 * which libubootenv fsyncs. Nothing is read back. 0 or a negative errno.
 */
int envstore_store(struct uboot_ctx *ctx, const char *const names[], const char *const values[],
		   size_t n);

/*
 * Read the n variables and hand them to parse, the method's reading of them:
 * got[i] is names[i]'s value, NULL when unset; parse returns 0 or a negative
 * errno (-EINVAL: not what the boot script understands). Returns 0, an error
 * of envstore_open, or parse's.
 */
int envstore_read(const char *config, const char *const names[], size_t n,
		  int (*parse)(const char *const got[], void *out), void *out);

/*
 * envstore_store through a context of its own, then read the variables back
 * through a fresh one, from storage, not from what was held in memory, and
 * compare them with values. 0, errors as envstore_open and envstore_store,
 * or -EIO if the read-back shows other values.
 */
int envstore_write(const char *config, const char *const names[], const char *const values[],
		   size_t n);

/*
 * Read, change and store in one context: one read-modify-write of the copy
 * libubootenv chose. change is the method's decision: given the variables as
 * read (got, as for envstore_read's parse) it fills want (n values, in memory
 * of arg's) and returns 1 to store them, 0 to leave the environment as it is,
 * or a negative errno. After a store, the values are read back as
 * envstore_write does. *stored says whether anything was written. Returns 0
 * or a negative errno.
 */
int envstore_update(const char *config, const char *const names[], size_t n,
		    int (*change)(const char *const got[], const char *want[], void *arg),
		    void *arg, int *stored);

#endif
