#!/bin/bash
# Kernel step: the arm64 kernel Image built from Debian's kernel source
# (linux-source-6.1: the Debian-patched tree the linux-image-arm64 packages
# are built from) with images/kernel.config, which builds in QEMU virt's
# devices and what the root trees and the methods use, and nothing else.
# Under emulation every driver the kernel probes and every initcall costs boot
# time, and Debian's generic configuration has thousands.
#
# The modules the boot and the methods name (BOOT_MODULES: the initramfs's,
# to mount the root; LATE_MODULES: the ones init loads later; METHOD_MODULES:
# the ones a method loads when it needs them) must each be built in or
# built as a module: a module goes into the initramfs or the root trees with
# its dependencies, and the root trees get the module index that lets
# modprobe of a built-in succeed.
. "$(dirname "$0")/lib.sh"

src=linux-source-6.1
config="$REPO/images/kernel.config"
ver=$(apt-cache policy "$src:all" | awk '/Candidate:/ {print $2}')
[ -n "$ver" ] && [ "$ver" != "(none)" ] || die "no candidate for $src: run 'make deps' (it runs apt-get update)"
mkdir -p "$CACHE/debs"
deb="$CACHE/debs/${src}_${ver#*:}_all.deb"
if [ ! -f "$deb" ]; then
	step "kernel: downloading $src $ver"
	# The lock apt_download takes: one download at a time into the shared cache.
	(cd "$CACHE/debs" && flock .lock apt-get download -q -o APT::Sandbox::User=root "$src:all=$ver" >&2) ||
		die "apt-get download $src failed"
fi

step "kernel: building $src $ver with images/kernel.config"
tree="$OUT/.src"
mkdir -p "$tree"
# The documentation and the kernel's self-tests are not needed to build it.
dpkg-deb --fsys-tarfile "$deb" | tar -x -O "./usr/src/$src.tar.xz" | xz -dc |
	tar -x -C "$tree" --strip-components=1 --exclude="$src/Documentation/*/*" --exclude="$src/tools/testing"
# The build's date stamp is the package's, so the same inputs give the same Image.
dpkg-deb --fsys-tarfile "$deb" | tar -x -O "./usr/share/doc/$src/changelog.Debian.gz" | zcat > "$OUT/.changelog"
stamp=$(date -u -R -d "@$(dpkg-parsechangelog -l "$OUT/.changelog" -STimestamp)")
kmake=(make -s -C "$tree" ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-
	KBUILD_BUILD_USER=brownout KBUILD_BUILD_HOST=brownout KBUILD_BUILD_TIMESTAMP="$stamp")
"${kmake[@]}" KCONFIG_ALLCONFIG="$config" allnoconfig
# allnoconfig drops a setting whose dependencies are not met without a word.
while IFS= read -r line; do
	case "$line" in
	CONFIG_*) grep -qxF "$line" "$tree/.config" ||
		die "images/kernel.config: '$line' does not hold in $src $ver (a dependency is not set)" ;;
	esac
done < "$config"
with_huge_pages "${kmake[@]}" -j"$(nproc)" Image modules >&2
kver=$("${kmake[@]}" kernelrelease)
cp "$tree/arch/arm64/boot/Image" "$OUT/Image"
cp "$tree/.config" "$OUT/config"
tmp="$OUT/.x"
"${kmake[@]}" INSTALL_MOD_PATH="$tmp" modules_install >&2

# closure MOD... — the module files MOD... need, in load order (none for a
# module built in: modprobe shows it as "builtin").
closure() {
	local mod
	for mod in "$@"; do
		modprobe -d "$tmp" -S "$kver" --show-depends "$mod" || die "module $mod is neither built in nor built"
	done | awk '$1 == "insmod" {print $2}' | awk '!seen[$0]++'
}

# What the initramfs needs to mount the root.
mkdir -p "$OUT/modules"
: > "$OUT/modules.order"
closure $BOOT_MODULES | while read -r ko; do
	cp "$ko" "$OUT/modules/"
	basename "$ko" >> "$OUT/modules.order"
done

# The rest goes into the root trees (merged /usr: /lib is /usr/lib there),
# loaded by their init after the application has started.
late="$OUT/rootfs-modules/usr"
mkdir -p "$late/lib/modules/$kver"
# shellcheck disable=SC2086 # word lists
closure $LATE_MODULES $METHOD_MODULES | while read -r ko; do
	rel=${ko#"$tmp"/}
	mkdir -p "$late/$(dirname "$rel")"
	cp "$ko" "$late/$rel"
done
cp "$tmp/lib/modules/$kver/modules.order" "$tmp/lib/modules/$kver/modules.builtin"* "$late/lib/modules/$kver/"
depmod -b "$late" "$kver"
mkdir -p "$OUT/rootfs-modules/etc/brownout"
echo $LATE_MODULES > "$OUT/rootfs-modules/etc/brownout/modules"
echo "$kver" > "$OUT/release"
echo "$src $ver" > "$OUT/package"
rm -rf "$tmp" "$tree" "$OUT/.changelog" "$OUT/.hugepages"
