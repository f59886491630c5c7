#!/bin/bash
# Asymmetric payloads step: the A/B method's signed images, hard-linked under
# /asymmetric/: recovery installs the same root image and manifest an A/B slot
# receives. v1 is what recovery reinstalls when a new root spends its tries
# (ASYM_GOOD_URL in the env).
. "$REPO/images/lib.sh"

step "payloads-asymmetric: hard links to payloads-ab"
cp -al "$PAYLOADS_AB_DIR/ab" "$OUT/asymmetric"
