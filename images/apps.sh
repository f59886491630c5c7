#!/bin/bash
# Apps step: cross-build the guest programs, the fault-injection agent and
# the test fixtures against the sysroot. device/ holds what every root tree
# carries in /usr/bin (the health check and every method's client). Fixtures
# are never put in an image; a trial hands them to the guest through fw_cfg.
# host/ holds the host tools the harness runs on what the guests leave
# (brownout-treedigest: a root tree's digest read out of an ext4 image).
. "$(dirname "$0")/lib.sh"

step "apps: cross-compiling for aarch64"
make -s -C "$REPO" c-aarch64 SYSROOT="$SYSROOT_DIR/root"
cp -a "$REPO/build/aarch64/." "$OUT/"
make -s -C "$REPO" c-device SYSROOT="$SYSROOT_DIR/root" DEST="$OUT/device"
make -s -C "$REPO" c-host-tools DEST="$OUT/host"
find "$OUT" -name '*.o' -delete -o -name '*.d' -delete
