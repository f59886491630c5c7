#!/bin/bash
# Firmware step: the 64 MiB pflash bank 1 holding U-Boot's environment
# (qemu_arm64: CONFIG_ENV_ADDR 0x4000000 = start of bank 1, size 0x40000).
. "$(dirname "$0")/lib.sh"

step "firmware: U-Boot environment flash"
mkenvimage -s 0x40000 -o "$OUT/env.bin" "$REPO/images/boot/firmware.env"
truncate -s 64M "$OUT/flash1.img"
dd if="$OUT/env.bin" of="$OUT/flash1.img" conv=notrunc status=none
cp /usr/lib/u-boot/qemu_arm64/u-boot.bin "$OUT/u-boot.bin"
dpkg-query -W -f='${Package} ${Version}\n' u-boot-qemu > "$OUT/u-boot.version"
