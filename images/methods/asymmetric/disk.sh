#!/bin/bash
# Asymmetric disk: boot (FAT: kernel, initramfs, boot.scr), env (raw, two env
# copies, as A/B), root (v1, the only root slot), recovery (FAT: kernel and
# the recovery initramfs; no update writes it), data.
. "$REPO/images/lib.sh"
. "$REPO/images/disk.sh"

root_mib=$(cat "$ROOTFS_LEAN_DIR/root-size-mib")
step "disk-asymmetric: GPT boot/env/root/recovery/data, root of $root_mib MiB"
boot_script asymmetric
vfat_image "$OUT/boot.vfat" 64 "$KERNEL_DIR/Image" "$INITRAMFS_DIR/initrd.img" "$OUT/boot.scr"
vfat_image "$OUT/recovery.vfat" 64 "$KERNEL_DIR/Image" "$RECOVERY_DIR/recovery.img"
# The factory's last good image is v1, at the update server's address as the
# guest sees it (harness/methods.py GUEST_ADDR): a rollback reinstalls it.
printf 'ASYM_RECOVERY=0\nASYM_ROOT_LEFT=3\nASYM_GOOD_URL=http://10.0.2.100/asymmetric/v1/manifest\n' > "$OUT/env.txt"
env_region "$OUT/env.bin" "$OUT/env.txt"
truncate -s 64M "$OUT/data.ext4"
mke2fs -q -t ext4 -L data -F "$OUT/data.ext4"

disk_create "$OUT/asymmetric.img" boot:64:bootable env:1 root:"$root_mib" recovery:64 data:64
disk_put "$OUT/asymmetric.img" 1 "$OUT/boot.vfat"
disk_put "$OUT/asymmetric.img" 2 "$OUT/env.bin"
disk_put "$OUT/asymmetric.img" 3 "$ROOTFS_LEAN_DIR/v1.ext4"
disk_put "$OUT/asymmetric.img" 4 "$OUT/recovery.vfat"
disk_put "$OUT/asymmetric.img" 5 "$OUT/data.ext4"
rm -f "$OUT/boot.vfat" "$OUT/recovery.vfat" "$OUT/data.ext4"
