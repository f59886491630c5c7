/*
 * bootargs: what the kernel command line tells a brownout root at boot:
 * brownout.method= (whose boot hook runs), brownout.slot= (which root came
 * up) and brownout.data= (the data partition). Nothing here reads or writes
 * anything but the caller's memory.
 */
#ifndef BROWNOUT_BOOTARGS_H
#define BROWNOUT_BOOTARGS_H

#include <stddef.h>

#define BOOTARGS_VALUE_MAX 128

struct bootargs {
	char method[BOOTARGS_VALUE_MAX];	/* "" when absent */
	char slot[BOOTARGS_VALUE_MAX];		/* "none" when absent */
	char data[BOOTARGS_VALUE_MAX];		/* "" when absent */
};

/*
 * Fill args from cmdline (words separated by blanks, as /proc/cmdline gives
 * them, newline included; no quoting: brownout's values have no blanks).
 * The last occurrence of a key wins, as for the kernel's own parameters.
 * 0, or -ENAMETOOLONG for a value that does not fit (args left as parsed
 * up to it).
 */
int bootargs_parse(const char *cmdline, struct bootargs *args);

/*
 * The first line of text (up to the first newline or NUL), copied into out
 * with its newline dropped. 0, or -ENAMETOOLONG when it does not fit.
 */
int bootargs_first_line(const char *text, char *out, size_t size);

#endif
