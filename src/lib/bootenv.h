/*
 * bootenv: the A/B boot environment as U-Boot's boot script (images/boot/ab.cmd)
 * sees it, without libubootenv: the redundant copy layout, which copy is
 * current, and which slot the script boots next. Pure functions, so the rules
 * the device depends on are unit-tested here and the update client can check
 * its own expectations against them.
 */
#ifndef BROWNOUT_BOOTENV_H
#define BROWNOUT_BOOTENV_H

#include <stddef.h>
#include <stdint.h>

/* One copy: CRC32 (4 bytes, little endian) over the data, a flag byte, the data. */
#define BOOTENV_COPY_SIZE 0x4000
#define BOOTENV_HDR_SIZE 5
#define BOOTENV_DATA_SIZE (BOOTENV_COPY_SIZE - BOOTENV_HDR_SIZE)

/* The tries a slot gets when it is switched to or confirmed. */
#define BOOTENV_TRIES 3

/* Slots are named by their letter, 'A' or 'B'; index 0 and 1. */
#define BOOTENV_SLOTS 2

struct bootenv_state {
	char order[BOOTENV_SLOTS + 1];	/* slot letters in boot order, e.g. "BA"; NUL-terminated */
	unsigned left[BOOTENV_SLOTS];	/* tries left, [0] for A, [1] for B */
};

struct bootenv_decision {
	char slot;			/* 'A' or 'B': what the script boots */
	int reset;			/* no slot had tries: counters were reset first */
	struct bootenv_state next;	/* the state the script saves before booting */
};

/* CRC-32 (IEEE 802.3, as U-Boot, zlib and libubootenv compute it). */
uint32_t bootenv_crc32(const void *buf, size_t len);

/* 1 if copy (BOOTENV_COPY_SIZE bytes) has a CRC matching its data, else 0. */
int bootenv_copy_valid(const uint8_t *copy);

/*
 * Which copy the boot script uses: 1 or 2, or -ENODATA if neither has a valid
 * CRC. A single valid copy wins whatever its flag. Of two valid copies the one
 * with the newer flag wins: the larger one, except that 0 is newer than 255
 * (the flag wraps). Equal flags choose copy 1, as U-Boot does.
 */
int bootenv_current(const uint8_t *copy1, const uint8_t *copy2);

/*
 * Fill copy with the NUL-separated "key=value" pairs of kv (2n strings: key,
 * value, key, value...), the flag and a matching CRC. Returns 0, -EINVAL for
 * a key with '=' or an empty key, -ENOSPC if they do not fit.
 */
int bootenv_format(uint8_t *copy, uint8_t flag, const char *const *kv, size_t n);

/*
 * Look up key in the data of copy and copy its value into val (size bytes).
 * Returns 0, -ENOENT, -EINVAL if the data is not terminated by an empty
 * string, -ENOSPC if the value does not fit.
 */
int bootenv_get(const uint8_t *copy, const char *key, char *val, size_t size);

/* Index of slot letter c (0 for 'A', 1 for 'B') or -EINVAL. */
int bootenv_slot_index(char c);

/*
 * Parse BOOT_ORDER ("A B", "B A", "A" or "B": letters separated by one
 * space, each at most once) into order (BOOTENV_SLOTS + 1 bytes).
 * Returns 0 or -EINVAL.
 */
int bootenv_parse_order(const char *s, char *order);

/*
 * Parse a tries-left counter: a decimal 0..9. The script compares counters
 * with itest, which reads them as hex, so anything above 9 would be misread.
 * Returns 0 or -EINVAL.
 */
int bootenv_parse_left(const char *s, unsigned *left);

/*
 * What the boot script does with st: boot the first slot in order with tries
 * left, spending one try. When none has any, reset both counters to
 * BOOTENV_TRIES and boot the first slot in order, spending one of its tries.
 * Returns 0 or -EINVAL for an empty order or an unknown letter.
 */
int bootenv_decide(const struct bootenv_state *st, struct bootenv_decision *d);

#endif
