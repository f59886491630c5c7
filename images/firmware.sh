#!/bin/bash
# Firmware step: U-Boot for QEMU's virt board (qemu_arm64), built from
# Debian's source package of the u-boot-qemu installed on the host, with the
# changes in images/boot/u-boot.config and images/boot/firmware.env as its
# built-in environment.
. "$(dirname "$0")/lib.sh"

version=$(dpkg-query -W -f='${Version}' u-boot-qemu) || die "u-boot-qemu is not installed: run 'make deps'"
src="$CACHE/u-boot-src/$version"
if [ ! -f "$src/u-boot.dsc" ]; then
	step "firmware: downloading Debian's u-boot $version source"
	# A private source list: the host's apt configuration is left as it is.
	lists=$(mktemp -d)
	trap 'rm -rf "$lists"' EXIT
	mkdir -p "$lists/lists/partial" "$src.part"
	echo "deb-src $MIRROR $SUITE main" > "$lists/sources.list"
	apt=(-q -o Dir::Etc::SourceList="$lists/sources.list" -o Dir::Etc::SourceParts=/dev/null
		-o Dir::State::Lists="$lists/lists" -o APT::Sandbox::User=root)
	apt-get "${apt[@]}" update >&2 || die "apt-get update of $MIRROR's sources failed"
	(cd "$src.part" && apt-get "${apt[@]}" source --download-only "u-boot=$version" >&2) ||
		die "no source package u-boot $version at $MIRROR"
	mv "$src.part"/u-boot_*.dsc "$src.part/u-boot.dsc"
	rm -rf "$src" && mv "$src.part" "$src"
fi

step "firmware: building U-Boot $version (qemu_arm64), about a minute"
tree="$OUT/.src"
obj="$OUT/.obj"
dpkg-source -x --no-check --no-copy "$src/u-boot.dsc" "$tree" >/dev/null
grep -v '^#' "$REPO/images/boot/firmware.env" > "$OUT/env.txt"
# The build's date stamp is the package's, so the same inputs give the same binary.
SOURCE_DATE_EPOCH=$(dpkg-parsechangelog -l "$tree/debian/changelog" -STimestamp)
export SOURCE_DATE_EPOCH
cross=(CROSS_COMPILE=aarch64-linux-gnu- O="$obj")
make -s -C "$tree" "${cross[@]}" qemu_arm64_defconfig
# shellcheck disable=SC2046 # one scripts/config option per word
"$tree/scripts/config" --file "$obj/.config" $(grep -v '^#' "$REPO/images/boot/u-boot.config") \
	--set-str DEFAULT_ENV_FILE "$OUT/env.txt"
make -s -C "$tree" "${cross[@]}" olddefconfig
with_huge_pages make -s -C "$tree" "${cross[@]}" -j"$(nproc)" u-boot.bin >&2
cp "$obj/u-boot.bin" "$OUT/u-boot.bin"
echo "u-boot $version (Debian source, images/boot/u-boot.config)" > "$OUT/u-boot.version"
rm -rf "$tree" "$obj" "$OUT/.hugepages"
