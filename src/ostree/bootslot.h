/*
 * bootslot: the kernel, initramfs and kernel arguments of one OSTree
 * deployment, on a raw partition of their own that U-Boot reads with
 * `virtio read`, so that no file system the running system mounts read-write
 * stands between U-Boot and the kernel. There are two slots (A and B); the
 * env's OSTREE_BOOT names the default deployment's, the other holds the
 * previous deployment, the fallback.
 *
 * Layout: a text header in the first BOOTSLOT_HEADER_SIZE bytes, lines of
 * key=value as `env import -t` reads them, NUL-padded; the kernel at
 * BOOTSLOT_HEADER_SIZE; the initramfs after it, 4 KiB aligned. Offsets and
 * counts are in 512-byte blocks, sizes in bytes, all in hex with 0x, relative
 * to the start of the partition. A slot with no bs_deployment line holds
 * nothing.
 *
 * A slot is written only while no env state boots it (the client's rule):
 * header cleared and flushed, kernel and initramfs written, header written
 * and flushed. The env names the slot only after that.
 */
#ifndef BROWNOUT_BOOTSLOT_H
#define BROWNOUT_BOOTSLOT_H

#include <stddef.h>
#include <stdint.h>

#define BOOTSLOT_HEADER_SIZE 4096
#define BOOTSLOT_BLOCK 512
#define BOOTSLOT_DEPLOYMENT_MAX 128
#define BOOTSLOT_ARGS_MAX 1024

struct bootslot {
	char deployment[BOOTSLOT_DEPLOYMENT_MAX];	/* "<commit>.<serial>" */
	uint64_t kernel_block, kernel_blocks;
	uint64_t ramdisk_block, ramdisk_blocks, ramdisk_size;
	char args[BOOTSLOT_ARGS_MAX];			/* ostree=... and the deployment's kargs */
};

/* The header text of bs into buf (size >= BOOTSLOT_HEADER_SIZE, NUL-padded). 0 or -EINVAL. */
int bootslot_format(const struct bootslot *bs, char *buf, size_t size);

/*
 * Parse a header. 0; -ENOENT for a slot that holds nothing (no bs_deployment
 * line: a cleared or never written header); -EINVAL for one that is malformed.
 */
int bootslot_parse(const char *buf, size_t size, struct bootslot *bs);

/* Read and parse the header of the slot at dev. 0 or a negative errno (as bootslot_parse). */
int bootslot_read(const char *dev, struct bootslot *bs);

/*
 * Write deployment's kernel and initramfs (files) and args into the slot at
 * dev, as the layout above says, flushing as it goes. 0 or a negative errno:
 * -ENOSPC when they do not fit, -ENAMETOOLONG for a deployment or args too
 * long for the header.
 */
int bootslot_write(const char *dev, const char *deployment, const char *args, const char *kernel,
		   const char *ramdisk);

#endif
