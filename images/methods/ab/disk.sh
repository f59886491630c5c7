#!/bin/bash
# A/B disk: boot (FAT: kernel, initramfs, boot.scr), env (raw, two env
# copies), rootA (v1), rootB (empty, as a device leaves the factory: a copy of
# v1 there would quietly rescue an updater that switches slots too early),
# data.
. "$REPO/images/lib.sh"
. "$REPO/images/disk.sh"

root_mib=$(cat "$ROOTFS_LEAN_DIR/root-size-mib")
step "disk-ab: GPT boot/env/rootA/rootB/data, slots of $root_mib MiB"
boot_script ab
vfat_image "$OUT/boot.vfat" 64 "$KERNEL_DIR/Image" "$INITRAMFS_DIR/initrd.img" "$OUT/boot.scr"
printf 'BOOT_ORDER=A B\nBOOT_A_LEFT=3\nBOOT_B_LEFT=3\n' > "$OUT/env.txt"
env_region "$OUT/env.bin" "$OUT/env.txt"
truncate -s 64M "$OUT/data.ext4"
mke2fs -q -t ext4 -L data -F "$OUT/data.ext4"

disk_create "$OUT/ab.img" boot:64:bootable env:1 rootA:"$root_mib" rootB:"$root_mib" data:64
disk_put "$OUT/ab.img" 1 "$OUT/boot.vfat"
disk_put "$OUT/ab.img" 2 "$OUT/env.bin"
disk_put "$OUT/ab.img" 3 "$ROOTFS_LEAN_DIR/v1.ext4"
disk_put "$OUT/ab.img" 5 "$OUT/data.ext4"
rm -f "$OUT/boot.vfat" "$OUT/data.ext4"
