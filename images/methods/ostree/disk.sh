#!/bin/bash
# OSTree disk: boot (FAT: boot.scr only), env (raw, two env copies, as A/B),
# ostree (ext4: the sysroot, v1 deployed), data, and two raw boot slots that
# U-Boot reads the kernel from (bootA with v1's, bootB empty).
. "$REPO/images/lib.sh"
. "$REPO/images/disk.sh"

sysroot_mib=$(( $(stat -c %s "$OSTREE_DIR/sysroot.ext4") / MIB ))
# Room for a kernel and initramfs half as large again as v1's.
bootslot_mib=$(( $(stat -c %s "$OSTREE_DIR/bootslot.img") * 3 / 2 / MIB + 1 ))
step "disk-ostree: GPT boot/env/ostree/data/bootA/bootB, sysroot of $sysroot_mib MiB, boot slots of $bootslot_mib MiB"
boot_script ostree
vfat_image "$OUT/boot.vfat" 16 "$OUT/boot.scr"
printf 'OSTREE_BOOT=A\nOSTREE_PENDING=0\nOSTREE_LEFT=3\n' > "$OUT/env.txt"
env_region "$OUT/env.bin" "$OUT/env.txt"
truncate -s 64M "$OUT/data.ext4"
mke2fs -q -t ext4 -L data -F "$OUT/data.ext4"

disk_create "$OUT/ostree.img" boot:16:bootable env:1 ostree:"$sysroot_mib" data:64 \
	bootA:"$bootslot_mib" bootB:"$bootslot_mib"
disk_put "$OUT/ostree.img" 1 "$OUT/boot.vfat"
disk_put "$OUT/ostree.img" 2 "$OUT/env.bin"
disk_put "$OUT/ostree.img" 3 "$OSTREE_DIR/sysroot.ext4"
disk_put "$OUT/ostree.img" 4 "$OUT/data.ext4"
disk_put "$OUT/ostree.img" 5 "$OSTREE_DIR/bootslot.img"
cp "$OSTREE_DIR/digests.jsonl" "$OUT/digests.jsonl"
cp -r "$OSTREE_DIR/manifests" "$OUT/manifests"
rm -f "$OUT/boot.vfat" "$OUT/data.ext4"
