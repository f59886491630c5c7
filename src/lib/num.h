/* num: strict decimal parsing for command lines and the status file. */
#ifndef BROWNOUT_NUM_H
#define BROWNOUT_NUM_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parse exactly len bytes of s as an unsigned decimal number no larger than max.
 * Only the digits 0-9 are accepted: no sign, no white space, no base prefix,
 * because strtoull() would silently take " -1" as a huge number.
 * Returns 0, -EINVAL if s is not a number, -ERANGE if it is larger than max.
 */
int num_parse_u64(const char *s, size_t len, uint64_t max, uint64_t *out);

#endif
