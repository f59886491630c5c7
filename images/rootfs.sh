#!/bin/bash
# Rootfs step: one Debian arm64 base (mmdebstrap, cached by its package list),
# then the three root trees every method ships:
#   v1      base + application v1
#   v2      v1 + the Debian package bc + application v2
#   v2-bad  v2 whose application fails its health check
# Each tree becomes an ext4 image and gets a digest (file tree + package list).
. "$(dirname "$0")/lib.sh"

# The base is keyed by what makes it, not by this whole script, so editing the
# tree steps below does not cost a new mmdebstrap run. Bump BASE_RECIPE when
# the mmdebstrap options change.
BASE_RECIPE=1
base_key=$(printf '%s\n' "$BASE_RECIPE" "$SUITE" "$MIRROR" "$ROOTFS_PACKAGES" | sha256sum | cut -c1-16)
base="$CACHE/rootfs-base-$base_key.tar"
if [ ! -s "$base" ]; then
	step "rootfs: mmdebstrap arm64 base ($ROOTFS_PACKAGES), about 2-4 minutes"
	# Man pages, docs and translations are never read on a device; leaving
	# them out makes every image, payload and transfer smaller.
	mmdebstrap --quiet --mode=root --arch=arm64 --variant=essential \
		--include="$ROOTFS_PACKAGES" \
		--dpkgopt='path-exclude=/usr/share/man/*' \
		--dpkgopt='path-exclude=/usr/share/doc/*' \
		--dpkgopt='path-include=/usr/share/doc/*/copyright' \
		--dpkgopt='path-exclude=/usr/share/locale/*' \
		--dpkgopt='path-exclude=/usr/share/info/*' \
		--customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/* "$1"/var/log/*' \
		"$SUITE" "${base%.tar}.partial.tar" "$MIRROR" \
		|| die "mmdebstrap failed: run 'make deps' (binfmt for arm64, packages) and check the Debian mirror"
	mv "${base%.tar}.partial.tar" "$base"
fi

bc_deb=$(apt_download bc)

make_tree() { # version
	local version=$1 tree="$OUT/$1"
	step "rootfs: tree $version"
	mkdir -p "$tree"
	tar -x -C "$tree" -f "$base"
	install -m 0755 "$REPO/images/rootfs/brownout-init" "$tree/sbin/brownout-init"
	cp -a "$KERNEL_DIR/rootfs-modules/." "$tree/"
	install -m 0755 "$APPS_DIR/$version/brownout-app" "$tree/usr/bin/brownout-app"
	install -m 0755 "$APPS_DIR/brownout-health" "$APPS_DIR/brownout-ab" "$tree/usr/bin/"
	install -d "$tree/etc/brownout/boot.d" "$tree/data"
	install -m 0755 "$REPO"/images/rootfs/boot.d/* "$tree/etc/brownout/boot.d/"
	install -D -m 0644 "$REPO/images/rootfs/rig.sh" "$tree/usr/lib/brownout/rig.sh"
	install -m 0755 "$APPS_DIR/brownout-ostree" "$tree/usr/bin/"
	install -m 0644 "$KEYS_DIR/update.pub" "$tree/etc/brownout/update.pub"
	echo "${version#v}" > "$tree/etc/brownout/version"
	echo brownout > "$tree/etc/hostname"
	install -m 0644 "$REPO/images/rootfs/fw_env.config" "$tree/etc/fw_env.config"
	if [ "$version" != v1 ]; then
		cp "$bc_deb" "$tree/tmp/bc.deb"
		chroot "$tree" dpkg -i /tmp/bc.deb >/dev/null || die "installing bc into $version failed (binfmt for arm64?)"
		rm -f "$tree/tmp/bc.deb"
	fi
	rm -rf "$tree"/var/log/* "$tree"/var/cache/debconf/*-old "$tree"/var/lib/dpkg/*-old
}

for version in v1 v2 v2-bad; do
	make_tree "$version"
done

size_kib=$(du -sk "$OUT/v2" | cut -f1)
# A slot holds any version with room to spare for the in-place method's growth.
ROOT_SIZE_MIB=$(( (size_kib * 13 / 10 / 1024 / 16 + 1) * 16 + 64 ))
echo "$ROOT_SIZE_MIB" > "$OUT/root-size-mib"

for version in v1 v2 v2-bad; do
	step "rootfs: ext4 image $version (${ROOT_SIZE_MIB} MiB)"
	uuid=$(printf 'brownout-%s' "$version" | sha256sum | sed -E 's/^(.{8})(.{4})(.{4})(.{4})(.{12}).*/\1-\2-\3-\4-\5/')
	truncate -s "${ROOT_SIZE_MIB}M" "$OUT/$version.ext4"
	E2FSPROGS_FAKE_TIME=1700000000 mke2fs -q -t ext4 -d "$OUT/$version" -L "root-$version" \
		-U "$uuid" -E "hash_seed=$uuid,root_owner=0:0" -F "$OUT/$version.ext4"
done

step "rootfs: digests"
for version in v1 v2 v2-bad; do
	(cd "$REPO" && /usr/bin/python3 -m harness.digest tree "$OUT/$version" --label "$version") 
done > "$OUT/digests.jsonl"
