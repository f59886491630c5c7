#!/bin/bash
# Rootfs base step: one Debian arm64 root (mmdebstrap) with the common packages
# and each method's images/methods/<name>/packages, as a tar ($OUT/base.tar)
# that images/rootfs.sh makes every version's tree from. It depends on no
# other step, so the build starts it first: under qemu-user it is the
# longest step, and the rest of the build runs beside it.
. "$(dirname "$0")/lib.sh"

# merged-usr: /usr merged by symlinks, as debootstrap does, and usr-is-merged
# installed. Otherwise apt satisfies init-system-helpers' "usrmerge |
# usr-is-merged" with usrmerge, a converter a merged root never needs, which
# brings perl (about 55 MB and 1,500 files) into every root tree, slot
# payload and OSTree commit. eatmydata: dpkg, emulated, syncs every file it
# unpacks to the host's disk; a build that fails is thrown away whole anyway.
# Its library is gone once the hook is done, and ldconfig then forgets it.
hooks=/usr/share/mmdebstrap/hooks
step "rootfs-base: mmdebstrap arm64 ($ROOTFS_PACKAGES), about 3-4 minutes"
# Man pages, docs, translations, shell completions, lintian overrides and
# gpg's help texts are never read on a device, nor are iconv's converters for
# charsets other than the ones glibc builds in (UTF-8, UTF-16, UTF-32, UCS, ASCII):
# 19 MB and 250 files. Leaving them out makes every image, payload, transfer
# and OSTree checkout smaller.
mmdebstrap --quiet --mode=root --arch=arm64 --variant=essential \
	--hook-dir="$hooks/merged-usr" --hook-dir="$hooks/eatmydata" \
	--include="$ROOTFS_PACKAGES" \
	--dpkgopt='path-exclude=/usr/share/man/*' \
	--dpkgopt='path-exclude=/usr/share/doc/*' \
	--dpkgopt='path-include=/usr/share/doc/*/copyright' \
	--dpkgopt='path-exclude=/usr/share/locale/*' \
	--dpkgopt='path-exclude=/usr/share/info/*' \
	--dpkgopt='path-exclude=/usr/share/bash-completion/*' \
	--dpkgopt='path-exclude=/usr/share/lintian/*' \
	--dpkgopt='path-exclude=/usr/share/gnupg/help.*' \
	--dpkgopt='path-exclude=/usr/lib/*/gconv/*.so' \
	--customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/* "$1"/var/log/*' \
	--customize-hook='chroot "$1" ldconfig' \
	"$SUITE" "$OUT/base.tar" "$MIRROR" \
	|| die "mmdebstrap failed: run 'make deps' (binfmt for arm64, packages) and check the Debian mirror"

# The lean base ($OUT/lean.tar): the same root with the packages purged that
# neither the essential set nor LEAN_PACKAGES (the common packages and those
# of the methods that run the lean trees) needs. apt, libostree and what they
# bring (ICU, GnuPG: a third of the root) are only the in-place and OSTree
# methods' and need not be in every slot image the other methods download
# and write. dpkg refuses the purge if anything kept depends on what goes.
step "rootfs-base: the lean base, without what only the other methods use"
lean="$OUT/.lean"
mkdir -p "$lean"
tar -x -C "$lean" -f "$OUT/base.tar"
purge=$(cd "$REPO" && /usr/bin/python3 -m harness.packages removable "$lean/var/lib/dpkg/status" $LEAN_PACKAGES) ||
	die "cannot tell which packages the lean base goes without"
[ -n "$purge" ] || die "the lean base would be the whole base: LEAN_PACKAGES names every method's packages"
# shellcheck disable=SC2086 # a word list
chroot "$lean" dpkg --purge $purge >/dev/null || die "dpkg --purge in the lean base failed: $(echo $purge)"
chroot "$lean" ldconfig
rm -rf "$lean"/var/log/* "$lean"/var/lib/dpkg/*-old "$lean"/var/cache/debconf/*-old
tar -c -C "$lean" --sort=name --numeric-owner -f "$OUT/lean.tar" .
rm -rf "$lean"
