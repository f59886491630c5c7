#!/bin/bash
# A/B payloads step: what the update server serves under /ab/, signed.
#   ab/<version>/rootfs.ext4 + manifest   for v1, v2, v2-bad and v3
#   ab/v2-tampered/                       v2's manifest over a changed payload
#   ab/v2-badsig/                         v2 signed with the rogue key
# A payload is the root file system shrunk to its minimum, so the transfer
# carries no free space; the slot it lands in is larger. It has no journal:
# a slot is only ever mounted read-only (the initramfs's mode=ro), and the
# journal's 16 MiB would go over the network and into the slot in every
# update, RAUC's too, for nothing.
. "$REPO/images/lib.sh"

# sign_manifest KEY IN OUT — append the signature line: base64 of the Ed25519
# signature over every byte before it.
sign_manifest() {
	local sig
	sig=$(openssl pkeyutl -sign -rawin -inkey "$1" -in "$2" | base64 -w0)
	{ cat "$2"; printf 'signature=%s\n' "$sig"; } > "$3"
}

# payload VERSION DIR KEY [tamper] — the payload and its signed manifest.
payload() {
	local version=$1 dir="$OUT/ab/$2" key=$3 tamper=${4:-}
	mkdir -p "$dir"
	cp --sparse=always "$ROOTFS_LEAN_DIR/$version.ext4" "$dir/rootfs.ext4"
	e2fsck -fy "$dir/rootfs.ext4" >/dev/null 2>&1 || true
	tune2fs -O ^has_journal "$dir/rootfs.ext4" >/dev/null || die "tune2fs -O ^has_journal on $version failed"
	resize2fs -M "$dir/rootfs.ext4" >/dev/null 2>&1 || die "resize2fs -M on $version failed"
	printf 'version=%s\npayload=rootfs.ext4\nsize=%s\nsha256=%s\n' "${version#v}" \
		"$(stat -c %s "$dir/rootfs.ext4")" "$(sha256sum "$dir/rootfs.ext4" | cut -c1-64)" > "$dir/manifest.unsigned"
	sign_manifest "$key" "$dir/manifest.unsigned" "$dir/manifest"
	rm "$dir/manifest.unsigned"
	if [ -n "$tamper" ]; then
		# One byte of file data changes; the manifest still claims the original.
		printf '\xff' | dd of="$dir/rootfs.ext4" bs=1 seek=$((16 * 1048576)) conv=notrunc status=none
	fi
}

for version in $VERSIONS; do
	step "payloads-ab: ab/$version"
	payload "$version" "$version" "$KEYS_DIR/update.key"
done
step "payloads-ab: ab/v2-tampered, ab/v2-badsig"
payload v2 v2-tampered "$KEYS_DIR/update.key" tamper
payload v2 v2-badsig "$KEYS_DIR/rogue.key"
