#!/bin/bash
# OSTree disk: boot (FAT: boot.scr only), env (raw, two env copies, as A/B),
# ostree (ext4: the sysroot, v1 deployed; kernels and uEnv.txt in its /boot),
# data.
. "$REPO/images/lib.sh"
. "$REPO/images/disk.sh"

sysroot_mib=$(( $(stat -c %s "$OSTREE_DIR/sysroot.ext4") / MIB ))
step "disk-ostree: GPT boot/env/ostree/data, sysroot of $sysroot_mib MiB"
boot_script ostree
vfat_image "$OUT/boot.vfat" 16 "$OUT/boot.scr"
printf 'OSTREE_PENDING=0\nOSTREE_LEFT=3\n' > "$OUT/env.txt"
env_region "$OUT/env.bin" "$OUT/env.txt"
truncate -s 64M "$OUT/data.ext4"
mke2fs -q -t ext4 -L data -F "$OUT/data.ext4"

disk_create "$OUT/ostree.img" boot:16:bootable env:1 ostree:"$sysroot_mib" data:64
disk_put "$OUT/ostree.img" 1 "$OUT/boot.vfat"
disk_put "$OUT/ostree.img" 2 "$OUT/env.bin"
disk_put "$OUT/ostree.img" 3 "$OSTREE_DIR/sysroot.ext4"
disk_put "$OUT/ostree.img" 4 "$OUT/data.ext4"
cp "$OSTREE_DIR/digests.jsonl" "$OUT/digests.jsonl"
cp -r "$OSTREE_DIR/manifests" "$OUT/manifests"
rm -f "$OUT/boot.vfat" "$OUT/data.ext4"
