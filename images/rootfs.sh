#!/bin/bash
# Rootfs steps (rootfs and rootfs-lean, harness/images.py): from a Debian
# arm64 base (images/rootfs-base.sh), the root trees the methods ship
# ($VERSIONS in lib.sh):
#   v1      base + application v1
#   v2      v1 + the Debian package bc + application v2
#   v2-bad  v2 whose application fails its health check
#   v3      v2 + the Debian package dc + application v3: the second update
# The application is a Debian package in every tree (brownout-app 1, 2,
# 2-bad, 3; 2 and 2-bad depend on bc, 3 on bc and dc), installed with dpkg, so a tree here is
# what apt makes of v1 on the device with the in-place method's repository.
# The packages are kept in debs/ for that repository (images/methods/inplace/repo.sh).
# Each tree becomes an ext4 image and gets a digest (file tree + package list)
# and a manifest (the same, path by path: manifests/<version>.json), which names
# the paths where a device's root that is neither version differs.
. "$(dirname "$0")/lib.sh"

# BASE: base.tar (every method's packages: the in-place and OSTree methods')
# or lean.tar (what A/B, asymmetric and RAUC run).
base="$ROOTFS_BASE_DIR/$BASE"

bc_deb=$(apt_download bc)
dc_deb=$(apt_download dc)

# app_deb VERSION — brownout-app as a Debian package: the program and
# /etc/brownout/version, so an in-place upgrade changes both together.
app_deb() {
	local version=$1 pkg="$OUT/debs/.brownout-app-$1" deps=
	case "$version" in
	v1) ;;
	v3) deps="Depends: bc, dc" ;;
	*) deps="Depends: bc" ;;
	esac
	mkdir -p "$pkg/DEBIAN" "$pkg/usr/bin" "$pkg/etc/brownout"
	install -m 0755 "$APPS_DIR/$version/brownout-app" "$pkg/usr/bin/brownout-app"
	echo "${version#v}" > "$pkg/etc/brownout/version"
	cat > "$pkg/DEBIAN/control" <<CONTROL
Package: brownout-app
Version: ${version#v}
Architecture: arm64
Maintainer: brownout <brownout@brownout.invalid>
${deps:+$deps
}Section: misc
Priority: optional
Description: brownout device application
 Sends a heartbeat every 100 ms and writes its status for the health check.
CONTROL
	find "$pkg" -exec touch -h -d @1700000000 {} +
	SOURCE_DATE_EPOCH=1700000000 dpkg-deb --root-owner-group -Zxz --build "$pkg" \
		"$OUT/debs/brownout-app_${version#v}_arm64.deb" >/dev/null
	rm -rf "$pkg"
}
mkdir -p "$OUT/debs"
cp "$bc_deb" "$dc_deb" "$OUT/debs/"
for version in $VERSIONS; do
	app_deb "$version"
done

make_tree() { # version
	local version=$1 tree="$OUT/$1"
	step "rootfs: tree $version"
	mkdir -p "$tree"
	tar -x -C "$tree" -f "$base"
	install -m 0755 "$APPS_DIR/brownout-init" "$tree/sbin/brownout-init"
	install -D -m 0755 "$REPO/images/rootfs/init-late" "$tree/usr/lib/brownout/init-late"
	cp -a "$KERNEL_DIR/rootfs-modules/." "$tree/"
	install -m 0755 "$APPS_DIR"/device/* "$tree/usr/bin/"
	# Every method's boot hook: the kernel command line's brownout.method= picks the one that acts.
	install -d "$tree/etc/brownout/boot.d" "$tree/data"
	install -m 0755 "$REPO"/images/methods/*/boot.d/* "$tree/etc/brownout/boot.d/"
	# What a method puts into every root tree besides (its configuration, a wrapper).
	for files in "$REPO"/images/methods/*/rootfs; do
		[ -d "$files" ] && cp -r --preserve=mode "$files/." "$tree/"
	done
	install -D -m 0644 "$REPO/images/rootfs/rig.sh" "$tree/usr/lib/brownout/rig.sh"
	install -m 0644 "$KEYS_DIR/update.pub" "$tree/etc/brownout/update.pub"
	install -m 0644 "$KEYS_DIR/update-ca.pem" "$tree/etc/brownout/update-ca.pem"
	echo brownout > "$tree/etc/hostname"
	install -m 0644 "$REPO/images/rootfs/fw_env.config" "$tree/etc/fw_env.config"
	# The in-place method's repository is signed with this key (images/apt-key.sh).
	install -D -m 0644 "$APT_KEY_DIR/archive.gpg" "$tree/etc/apt/trusted.gpg.d/brownout-archive.gpg"
	debs=("/tmp/brownout-app_${version#v}_arm64.deb")
	[ "$version" = v1 ] || debs=("/tmp/$(basename "$bc_deb")" "${debs[@]}")
	[ "$version" != v3 ] || debs=("/tmp/$(basename "$dc_deb")" "${debs[@]}")
	cp "$OUT/debs/$(basename "$bc_deb")" "$OUT/debs/$(basename "$dc_deb")" \
		"$OUT/debs/brownout-app_${version#v}_arm64.deb" "$tree/tmp/"
	chroot "$tree" dpkg -i "${debs[@]}" >/dev/null || die "installing ${debs[*]} into $version failed (binfmt for arm64?)"
	rm -f "$tree"/tmp/*.deb
	rm -rf "$tree"/var/log/* "$tree"/var/cache/debconf/*-old "$tree"/var/lib/dpkg/*-old
}

for version in $VERSIONS; do
	make_tree "$version"
done

size_kib=$(du -sk "$OUT/v3" | cut -f1)
# A slot holds any version with room to spare for the in-place method's growth.
ROOT_SIZE_MIB=$(( (size_kib * 13 / 10 / 1024 / 16 + 1) * 16 + 64 ))
echo "$ROOT_SIZE_MIB" > "$OUT/root-size-mib"

for version in $VERSIONS; do
	step "rootfs: ext4 image $version (${ROOT_SIZE_MIB} MiB)"
	uuid=$(printf 'brownout-%s' "$version" | sha256sum | sed -E 's/^(.{8})(.{4})(.{4})(.{4})(.{12}).*/\1-\2-\3-\4-\5/')
	truncate -s "${ROOT_SIZE_MIB}M" "$OUT/$version.ext4"
	# -T default: 4 KiB blocks and an inode per 16 KiB. mke2fs would treat a
	# root this size as "small" (1 KiB blocks, an inode per 4 KiB): 20 MB of
	# inode tables for 6,000 files, in every slot payload and slot write.
	E2FSPROGS_FAKE_TIME=1700000000 mke2fs -q -t ext4 -T default -d "$OUT/$version" -L "root-$version" \
		-U "$uuid" -E "hash_seed=$uuid,root_owner=0:0" -F "$OUT/$version.ext4"
done

step "rootfs: digests"
for version in $VERSIONS; do
	(cd "$REPO" && /usr/bin/python3 -m harness.checks.digest tree "$OUT/$version" --label "$version" \
		--manifest "$OUT/manifests/$version.json")
done > "$OUT/digests.jsonl"
