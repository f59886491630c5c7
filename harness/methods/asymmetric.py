"""Asymmetric: the root asks, a recovery system writes the new image over the
only root slot and boots it; recovery reinstalls the last good image when the
new one never confirms."""
from __future__ import annotations

from ..images import LEAN_ROOTS, disk_step, method_step
from .base import Method, RootLocation


def root_of(init: dict[str, str]) -> RootLocation | None:
    """The one root partition. A recovery boot (`slot=recovery`) is never a finished device."""
    return RootLocation("root") if init.get("slot") == "root" else None


# Boots are the update's, recovery's, the new root's; for v2-bad, its tries,
# recovery's reinstall of v1, and v1's.
METHOD = Method("asymmetric",
                # Recovery installs the A/B method's signed images.
                (method_step("asymmetric", "payloads-asymmetric", "payloads.sh", deps=("payloads-ab",)),
                 method_step("asymmetric", "recovery", "recovery.sh", inputs=("recovery",),
                             deps=("kernel", "apps", "keys", LEAN_ROOTS), repo_inputs=("images/rootfs/fw_env.config",)),
                 disk_step("asymmetric", deps=("kernel", "initramfs", LEAN_ROOTS, "recovery"))),
                "disk-asymmetric", "asymmetric.img", root_of, payload_steps=("payloads-asymmetric",),
                extra_boots=5, request_boots=2, switch_reboots=2, roots=LEAN_ROOTS)
