#!/bin/bash
# RAUC disk: the A/B layout (boot with the A/B boot script under the name
# rauc, env with two copies, rootA with v1, rootB empty) and a data partition
# with room for a bundle, which is fetched there before `rauc install`.
. "$REPO/images/lib.sh"
. "$REPO/images/disk.sh"

root_mib=$(cat "$ROOTFS_LEAN_DIR/root-size-mib")
bundle_mib=$(( $(stat -c %s "$BUNDLES_RAUC_DIR/rauc/v2/update.raucb") / MIB ))
data_mib=$(( (bundle_mib * 3 / 2 / 64 + 1) * 64 ))
step "disk-rauc: GPT boot/env/rootA/rootB/data, slots of $root_mib MiB, data of $data_mib MiB"
boot_script rauc ab
vfat_image "$OUT/boot.vfat" 64 "$KERNEL_DIR/Image" "$INITRAMFS_DIR/initrd.img" "$OUT/boot.scr"
printf 'BOOT_ORDER=A B\nBOOT_A_LEFT=3\nBOOT_B_LEFT=3\n' > "$OUT/env.txt"
env_region "$OUT/env.bin" "$OUT/env.txt"
truncate -s "${data_mib}M" "$OUT/data.ext4"
mke2fs -q -t ext4 -L data -F "$OUT/data.ext4"

disk_create "$OUT/rauc.img" boot:64:bootable env:1 rootA:"$root_mib" rootB:"$root_mib" data:"$data_mib"
disk_put "$OUT/rauc.img" 1 "$OUT/boot.vfat"
disk_put "$OUT/rauc.img" 2 "$OUT/env.bin"
disk_put "$OUT/rauc.img" 3 "$ROOTFS_LEAN_DIR/v1.ext4"
disk_put "$OUT/rauc.img" 5 "$OUT/data.ext4"
rm -f "$OUT/boot.vfat" "$OUT/data.ext4"
