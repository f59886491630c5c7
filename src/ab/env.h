/*
 * ab_env: the A/B variables in the U-Boot environment, read and written
 * through envstore (libubootenv, as fw_printenv/fw_setenv do). Each store
 * writes one whole copy of the redundant pair, the older one, and fsyncs it:
 * a power cut during it leaves the other copy, so the boot script sees the
 * old state or the new.
 */
#ifndef BROWNOUT_AB_ENV_H
#define BROWNOUT_AB_ENV_H

#include "bootenv.h"

/*
 * Read BOOT_ORDER, BOOT_A_LEFT and BOOT_B_LEFT. Returns 0, -ENODATA if the
 * environment cannot be read (no copy with a valid CRC), -EINVAL if a
 * variable is missing or not what the boot script understands, or another
 * negative errno from libubootenv.
 */
int ab_env_read(const char *config, struct bootenv_state *st);

/*
 * Make slot the one to boot next: BOOT_ORDER "<slot> <other>" and both
 * counters BOOT_TRIES, stored in one write, then read back from storage and
 * checked. The other slot, the one running, gets fresh tries too, so the
 * fallback to it cannot be spent already. Returns 0, errors as ab_env_read, or
 * -EIO if the read-back shows other values.
 */
int ab_env_switch(const char *config, char slot);

/*
 * Mark slot good: BOOT_<slot>_LEFT = BOOTENV_TRIES, stored only if it is not
 * that already (*stored says which). Returns 0 or errors as ab_env_switch.
 */
int ab_env_mark_good(const char *config, char slot, int *stored);

#endif
