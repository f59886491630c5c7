#!/bin/bash
# RAUC bundles step: what the update server serves under /rauc/, made and
# signed with `rauc bundle` (a squashfs with the root image and its manifest,
# CMS-signed by the update signer the root trees' CA issued).
#   rauc/<version>/update.raucb   for v1, v2, v2-bad and v3
#   rauc/v2-tampered/             v2's bundle with bytes changed under its signature
#   rauc/v2-badsig/               v2 signed by the rogue CA's signer
# The root images are the A/B payloads, shrunk to their minimum.
. "$REPO/images/lib.sh"

# bundle VERSION DIR SIGNER — rauc/DIR/update.raucb from VERSION's root image, signed by SIGNER.
bundle() {
	local version=$1 dir="$OUT/rauc/$2" signer=$3 content="$OUT/.content-$2"
	mkdir -p "$dir" "$content"
	cp --sparse=always "$PAYLOADS_AB_DIR/ab/$version/rootfs.ext4" "$content/rootfs.ext4"
	cat > "$content/manifest.raucm" <<MANIFEST
[update]
compatible=brownout-rauc
version=${version#v}

[bundle]
format=plain

[image.rootfs]
filename=rootfs.ext4
MANIFEST
	# LZ4, not mksquashfs's default gzip: the device decompresses the whole root
	# image while it installs, and LZ4 does that several times faster than
	# zlib, for a bundle about a third larger; it also builds in a tenth of the time.
	rauc bundle --cert "$KEYS_DIR/$signer-signer.pem" --key "$KEYS_DIR/$signer-signer.key" \
		--keyring "$KEYS_DIR/$signer-ca.pem" --mksquashfs-args="-comp lz4" \
		"$content" "$dir/update.raucb" >/dev/null 2>&1 ||
		die "rauc bundle for rauc/$2 failed (is rauc installed? run 'make deps')"
	rm -rf "$content"
}

for version in $VERSIONS; do
	step "bundles-rauc: rauc/$version"
	bundle "$version" "$version" update
done
step "bundles-rauc: rauc/v2-badsig (rogue signer), rauc/v2-tampered"
bundle v2 v2-badsig rogue
mkdir -p "$OUT/rauc/v2-tampered"
cp "$OUT/rauc/v2/update.raucb" "$OUT/rauc/v2-tampered/update.raucb"
# Three bytes inside the squashfs change; the signature still claims the original.
size=$(stat -c %s "$OUT/rauc/v2-tampered/update.raucb")
printf '\xff\xfe\xfd' | dd of="$OUT/rauc/v2-tampered/update.raucb" bs=1 seek=$((size / 3)) conv=notrunc status=none
