#!/bin/bash
# In-place disk: boot (FAT: kernel, initramfs, boot.scr), root (v1, mounted
# read-write and upgraded by apt/dpkg where it is), data. No env region: this
# method has no boot state to keep.
. "$REPO/images/lib.sh"
. "$REPO/images/disk.sh"

root_mib=$(cat "$ROOTFS_DIR/root-size-mib")
step "disk-inplace: GPT boot/root/data, root of $root_mib MiB"
boot_script inplace
vfat_image "$OUT/boot.vfat" 64 "$KERNEL_DIR/Image" "$INITRAMFS_DIR/initrd.img" "$OUT/boot.scr"
truncate -s 64M "$OUT/data.ext4"
mke2fs -q -t ext4 -L data -F "$OUT/data.ext4"

disk_create "$OUT/inplace.img" boot:64:bootable root:"$root_mib" data:64
disk_put "$OUT/inplace.img" 1 "$OUT/boot.vfat"
disk_put "$OUT/inplace.img" 2 "$ROOTFS_DIR/v1.ext4"
disk_put "$OUT/inplace.img" 3 "$OUT/data.ext4"
rm -f "$OUT/boot.vfat" "$OUT/data.ext4"
