/* selftest: the app's power-on self-test. */
#ifndef BROWNOUT_SELFTEST_H
#define BROWNOUT_SELFTEST_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32 (IEEE 802.3, as zlib and U-Boot's environment use it). */
uint32_t selftest_crc32(const void *data, size_t len);

/*
 * Run the self-test. Returns 0 and sets *reason to "ok", or a negative errno
 * and sets *reason to one word naming the failed check ("crc-kat", "clock").
 */
int selftest_run(const char **reason);

#endif
