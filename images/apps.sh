#!/bin/bash
# Apps step: cross-build the guest programs against the sysroot.
. "$(dirname "$0")/lib.sh"

step "apps: cross-compiling for aarch64"
make -s -C "$REPO" c-aarch64 SYSROOT="$SYSROOT_DIR/root"
cp -a "$REPO/build/aarch64/." "$OUT/"
find "$OUT" -name '*.o' -delete -o -name '*.d' -delete
