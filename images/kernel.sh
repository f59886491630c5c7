#!/bin/bash
# Kernel step: Debian's arm64 kernel Image, the modules the initramfs loads to
# mount the root (virtio-mmio, virtio-blk, ext4) and, for the root trees, the
# ones init loads later (virtio-net, vfat, fw_cfg) and the ones a method loads
# when it needs them (METHOD_MODULES: loop, squashfs for RAUC's bundles), with
# their dependencies.
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
# closure MOD... — the module files MOD... need, in load order.
closure() {
	local mod
	for mod in "$@"; do
		modprobe -d "$tmp" -S "$kver" --show-depends "$mod" || die "module $mod not in $pkg"
	done | awk '$1 == "insmod" {print $2}' | awk '!seen[$0]++'
}

# unsign KO — drop the signature scripts/sign-file appended to a module: the
# signature, a 12-byte struct module_signature ending in the signature's
# length (big-endian), then a 28-byte magic string. The kernel does not
# enforce signatures (CONFIG_MODULE_SIG_FORCE unset, no lockdown without
# UEFI Secure Boot); it marks itself tainted ('E') and skips the SHA-256 of
# the whole module, which under emulation costs about a third of the
# initramfs's module loading, and CPU the update shares with the late ones.
unsign() {
	local size siglen
	[ "$(tail -c 28 "$1" | head -c 27)" = "~Module signature appended~" ] || die "$1: not a signed module"
	siglen=$(tail -c 32 "$1" | head -c 4 | od -An -tu1 | awk '{print (($1 * 256 + $2) * 256 + $3) * 256 + $4}')
	size=$(stat -c %s "$1")
	truncate -s $((size - 28 - 12 - siglen)) "$1"
}

# What the initramfs needs to mount the root: nothing more, every module
# costs boot time under emulation.
mkdir -p "$OUT/modules"
closure $BOOT_MODULES | while read -r ko; do
	cp "$ko" "$OUT/modules/"
	unsign "$OUT/modules/$(basename "$ko")"
	basename "$ko" >> "$OUT/modules.order"
done

# The rest goes into the root trees (merged /usr: /lib is /usr/lib there),
# loaded by their init after the application has started.
late="$OUT/rootfs-modules/usr"
# shellcheck disable=SC2086 # word lists
closure $LATE_MODULES $METHOD_MODULES | while read -r ko; do
	rel=${ko#"$tmp"/}
	mkdir -p "$late/$(dirname "$rel")"
	cp "$ko" "$late/$rel"
	unsign "$late/$rel"
done
cp "$tmp/lib/modules/$kver/modules.order" "$tmp/lib/modules/$kver/modules.builtin"* "$late/lib/modules/$kver/"
depmod -b "$late" "$kver"
mkdir -p "$OUT/rootfs-modules/etc/brownout"
echo $LATE_MODULES > "$OUT/rootfs-modules/etc/brownout/modules"
echo "$kver" > "$OUT/release"
echo "$(basename "$deb")" > "$OUT/package"
rm -rf "$tmp"
