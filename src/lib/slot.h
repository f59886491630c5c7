/*
 * slot: the root slot an A/B update writes: which one runs, opening the other
 * one for writing, writing at offsets, making it durable and reading it back.
 */
#ifndef BROWNOUT_SLOT_H
#define BROWNOUT_SLOT_H

#include <stddef.h>
#include <stdint.h>

#include "verify.h"

#define SLOT_CMDLINE_DEFAULT "/proc/cmdline"
#define SLOT_DEVICE_A "/dev/vda3"
#define SLOT_DEVICE_B "/dev/vda4"

struct slot {
	int fd;
	const char *path;
	uint64_t size;		/* what the slot can hold, in bytes */
	int blockdev;		/* 1 for a block device, 0 for a regular file (tests) */
};

/*
 * The running slot from a kernel command line of len bytes: the letter of
 * its brownout.slot= parameter. Returns 0, -ENOENT if there is none, -EINVAL
 * if it is not exactly A or B or appears twice.
 */
int slot_from_cmdline(const char *buf, size_t len, char *slot);

/* The same, read from a file such as /proc/cmdline. Also returns open/read errors. */
int slot_read_cmdline(const char *path, char *slot);

/*
 * Open target for writing. Refuses with -EBUSY if it is the same file or
 * device as running, or the device the root file system is mounted from; a
 * block device is opened O_EXCL, so the kernel refuses one that is mounted.
 * Returns 0 or a negative errno; s->fd is -1 on failure.
 */
int slot_open(struct slot *s, const char *target, const char *running);

/* Write len bytes at offset; -ENOSPC if they would not fit in the slot. */
int slot_write(struct slot *s, uint64_t offset, const void *buf, size_t len);

/* Make everything written so far durable (fsync). Returns 0 or a negative errno. */
int slot_sync(struct slot *s);

/*
 * The slot's tag: its last SLOT_TAG_SIZE bytes, past any payload that leaves
 * them free (a payload image is only as large as its file system), where a
 * client notes what it wrote into the slot. Text, padded with NULs.
 */
#define SLOT_TAG_SIZE 4096u

/* Whether a payload of len bytes leaves the slot's tag free. */
int slot_has_tag_room(const struct slot *s, uint64_t len);

/* Write text (shorter than SLOT_TAG_SIZE) as the tag. 0, -ENOSPC (no room or too long) or a negative errno. */
int slot_write_tag(struct slot *s, const char *text);

/*
 * Read the tag into buf (SLOT_TAG_SIZE + 1 bytes), NUL-terminated at its first
 * NUL; *len is the text's length. 0, -ENOSPC (a slot too small for one) or a
 * negative errno.
 */
int slot_read_tag(struct slot *s, char *buf, size_t *len);

/*
 * Read the first len bytes back from storage, not from the page cache, and
 * compare their SHA-256 with expected: O_DIRECT where the file supports it,
 * else dropping the cached pages first (BLKFLSBUF for a block device,
 * POSIX_FADV_DONTNEED). *method is set to "direct" or "dropped-cache".
 * Returns 0, -EBADMSG on a mismatch, or a negative errno.
 */
int slot_verify(struct slot *s, uint64_t len, const uint8_t expected[VERIFY_SHA256_LEN],
		const char **method);

void slot_close(struct slot *s);

#endif
