"""A/B: the new root image is streamed into the inactive slot; the boot env
flips the slot; U-Boot's boot counter falls back to the old one."""
from __future__ import annotations

from ..images import disk_step, method_step
from .base import Method, RootLocation


def root_of(init: dict[str, str]) -> RootLocation | None:
    partition = {"A": "rootA", "B": "rootB"}.get(init.get("slot", ""))
    return RootLocation(partition) if partition else None


METHOD = Method("ab",
                (method_step("ab", "payloads-ab", "payloads.sh", deps=("rootfs", "keys")),
                 disk_step("ab", deps=("kernel", "initramfs", "rootfs"))),
                "disk-ab", "ab.img", root_of, payload_steps=("payloads-ab",),
                clients={"safe": None, "unsafe": "fixtures/brownout-ab-unsafe",
                         "unsynced": "fixtures/brownout-ab-unsynced"})
