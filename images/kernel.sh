#!/bin/bash
# Kernel step: Debian's arm64 kernel Image and the few modules the initramfs
# loads (virtio over MMIO, block, net, ext4, vfat, fw_cfg), with their
# dependencies resolved by modprobe in load order.
. "$(dirname "$0")/lib.sh"

meta=linux-image-arm64
pkg=$(apt-cache depends "$meta:arm64" | awk '/Depends: linux-image-/ {sub(/:arm64$/, "", $2); print $2; exit}')
[ -n "$pkg" ] || die "cannot resolve $meta:arm64: run 'make deps'"
step "kernel: $pkg"
deb=$(apt_download "$pkg")
tmp="$OUT/.x"
dpkg-deb -x "$deb" "$tmp"
kver=$(ls "$tmp/lib/modules")
cp "$tmp/boot/vmlinuz-$kver" "$OUT/Image"
cp "$tmp/boot/config-$kver" "$OUT/config"
depmod -b "$tmp" "$kver"
mkdir -p "$OUT/modules"
for mod in $KERNEL_MODULES; do
	modprobe -d "$tmp" -S "$kver" --show-depends "$mod" || die "module $mod not in $pkg"
done | awk '$1 == "insmod" {print $2}' | awk '!seen[$0]++' | while read -r ko; do
	cp "$ko" "$OUT/modules/"
	basename "$ko" >> "$OUT/modules.order"
done
echo "$kver" > "$OUT/release"
echo "$(basename "$deb")" > "$OUT/package"
rm -rf "$tmp"
