/*
 * cmdline: a kernel command line's words picked into a struct, as a table
 * of keys says. Nothing here reads or writes anything but the caller's
 * memory.
 */
#ifndef BROWNOUT_CMDLINE_H
#define BROWNOUT_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>

struct cmdline_key {
	/* "name=": the value after it is copied into a char[size] field;
	 * a bare word ("rw"): a bool field takes `flag` */
	const char *key;
	size_t offset;
	size_t size;
	bool flag;
};

/*
 * Walk cmdline's words (separated by blanks, newline included, as
 * /proc/cmdline gives them; no quoting) and fill out's fields for the keys
 * that match a whole word or a word's "name=" start. The last occurrence
 * wins, as for the kernel's own parameters. 0, or -ENAMETOOLONG for a value
 * that does not fit its field (out left as filled up to it).
 */
int cmdline_parse(const char *cmdline, const struct cmdline_key *keys, size_t count, void *out);

#endif
