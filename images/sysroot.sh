#!/bin/bash
# Sysroot step: the arm64 headers and libraries the C clients link against,
# unpacked (not installed) from Debian packages, for cross-compiling.
. "$(dirname "$0")/lib.sh"

step "sysroot: $SYSROOT_PACKAGES"
mmdebstrap --quiet --mode=root --arch=arm64 --variant=extract \
	--include="$SYSROOT_PACKAGES" "$SUITE" "$OUT/root" "$MIRROR" \
	|| die "mmdebstrap for the sysroot failed: run 'make deps', check the Debian mirror is reachable"
