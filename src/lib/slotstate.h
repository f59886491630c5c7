/*
 * slotstate: which verified payload a slot holds, kept on the data partition,
 * so an install interrupted after its slot was written and verified (a power
 * cut while the boot order was being switched, say) need not pull the same
 * payload again, as RAUC's slot status lets it skip a slot that holds the
 * same image. A record is written only after the slot was made durable and
 * read back equal to the signed manifest, and removed, durably, before the
 * slot is written again: while it exists, the slot holds what it says.
 *
 * <dir>/slot-<A|B> holds "sha256=<64 hex>\nsize=<decimal>\n", written durably:
 * a temporary file, fsync, rename over the old one, fsync of the directory.
 */
#ifndef BROWNOUT_SLOTSTATE_H
#define BROWNOUT_SLOTSTATE_H

#include <stddef.h>
#include <stdint.h>

#include "verify.h"

#define SLOTSTATE_DIR_DEFAULT "/data/brownout"
#define SLOTSTATE_FILE_MAX 128

struct slotstate {
	uint8_t sha256[VERIFY_SHA256_LEN];
	uint64_t size;
};

/* The text of st into buf. Returns its length or -ENOSPC. */
int slotstate_format(const struct slotstate *st, char *buf, size_t size);

/* Parse len bytes. Returns 0 or -EINVAL (garbled, truncated, unknown or missing keys). */
int slotstate_parse(const char *buf, size_t len, struct slotstate *st);

/* Record that slot ('A' or 'B') holds st, durably. 0 or a negative errno. */
int slotstate_write(const char *dir, char slot, const struct slotstate *st);

/* What slot holds by the record: 0, -ENOENT if none, -EINVAL if garbled, or a negative errno. */
int slotstate_read(const char *dir, char slot, struct slotstate *st);

/* Remove slot's record, durably (unlink, fsync of the directory). 0 (also if there was none). */
int slotstate_clear(const char *dir, char slot);

#endif
