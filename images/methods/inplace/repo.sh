#!/bin/bash
# In-place repository step: what the update server serves the in-place
# method, one flat, signed Debian repository per payload, made with Debian's
# tools (dpkg-scanpackages for Packages, gpg for InRelease and Release.gpg):
#   inplace/v1/           brownout-app 1 (an older release, which the client refuses)
#   inplace/v2/           bc + brownout-app 2 (which depends on bc)
#   inplace/v2-bad/       bc + brownout-app 2-bad (fails its health check)
#   inplace/v3/           bc, dc + brownout-app 3 (the second update)
#   inplace/v2-tampered/  v2's signed indices over a changed brownout-app .deb
#   inplace/v2-badsig/    v2 signed with the rogue key
# The packages are the very ones the root trees were built with (rootfs/debs),
# so apt on the device ends in the tree recorded for v2 (or v2-bad).
. "$REPO/images/lib.sh"

# The Release date must not lie in the guest's future; fixed, so the step is reproducible.
DATE="Tue, 14 Nov 2023 22:13:20 UTC"

# repo DIR APP_VERSION KEY [tamper]
repo() {
	local dir="$OUT/inplace/$1" app=$2 home=$3 tamper=${4:-} f
	step "repo-inplace: inplace/$1"
	mkdir -p "$dir"
	cp "$ROOTFS_DIR/debs/"bc_*_arm64.deb "$ROOTFS_DIR/debs/brownout-app_${app}_arm64.deb" "$dir/"
	[ "$app" != 3 ] || cp "$ROOTFS_DIR/debs/"dc_*_arm64.deb "$dir/"
	(cd "$dir" && dpkg-scanpackages --multiversion . /dev/null 2>/dev/null > Packages)
	gzip -9n < "$dir/Packages" > "$dir/Packages.gz"
	{
		printf 'Origin: brownout\nLabel: brownout\nArchitectures: arm64\nDate: %s\n' "$DATE"
		printf 'Description: brownout in-place updates (%s)\nSHA256:\n' "$1"
		for f in Packages Packages.gz; do
			printf ' %s %s %s\n' "$(sha256sum "$dir/$f" | cut -c1-64)" "$(stat -c %s "$dir/$f")" "$f"
		done
	} > "$dir/Release"
	gpg --batch --quiet --homedir "$home" --yes --clearsign -o "$dir/InRelease" "$dir/Release"
	gpg --batch --quiet --homedir "$home" --yes --armor --detach-sign -o "$dir/Release.gpg" "$dir/Release"
	if [ -n "$tamper" ]; then
		# One byte of the package changes; the signed Packages still names the original.
		f="$dir/brownout-app_${app}_arm64.deb"
		printf '\xff' | dd of="$f" bs=1 seek=$(( $(stat -c %s "$f") - 100 )) conv=notrunc status=none
	fi
}

# gpg wants its home writable: sign from a private copy of the key step's homes.
keys="$OUT/.gnupg"
cp -a "$APT_KEY_DIR/archive" "$keys-archive"
cp -a "$APT_KEY_DIR/rogue" "$keys-rogue"
repo v1 1 "$keys-archive"
repo v2 2 "$keys-archive"
repo v2-bad 2-bad "$keys-archive"
repo v3 3 "$keys-archive"
repo v2-tampered 2 "$keys-archive" tamper
repo v2-badsig 2 "$keys-rogue"
gpgconf --homedir "$keys-archive" --kill all 2>/dev/null || true
gpgconf --homedir "$keys-rogue" --kill all 2>/dev/null || true
rm -rf "$keys-archive" "$keys-rogue"
