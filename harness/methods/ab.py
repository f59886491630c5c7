"""A/B: the new root image is streamed into the inactive slot; the boot env
flips the slot; U-Boot's boot counter falls back to the old one."""
from __future__ import annotations

from ..images import LEAN_ROOTS, Step, disk_step, method_step
from .base import Method, RootLocation, TargetSlot

# Test fixtures whose device keeps its boot state another way (tests/fixtures/<name>/).
FIXTURE_DISKS = ("single-env", "boot-text")


def fixture_disk(fixture: str) -> Step:
    """The A/B disk with a fixture's own boot state (images/methods/ab/fixture-disk.sh)."""
    return Step(f"disk-ab-{fixture}", "methods/ab/fixture-disk.sh", deps=("disk-ab", "kernel", "initramfs"),
                inputs=(f"tests/fixtures/{fixture}", "images/methods/ab/boot.cmd", "images/disk.sh"),
                params={"FIXTURE": fixture})


def root_of(init: dict[str, str]) -> RootLocation | None:
    partition = {"A": "rootA", "B": "rootB"}.get(init.get("slot", ""))
    return RootLocation(partition) if partition else None


METHOD = Method("ab",
                (method_step("ab", "payloads-ab", "payloads.sh", deps=(LEAN_ROOTS, "keys")),
                 disk_step("ab", deps=("kernel", "initramfs", LEAN_ROOTS)),
                 *(fixture_disk(f) for f in FIXTURE_DISKS)),
                "disk-ab", "ab.img", root_of, payload_steps=("payloads-ab",),
                clients={"safe": None, "unsafe": "fixtures/brownout-ab-unsafe",
                         "unsynced": "fixtures/brownout-ab-unsynced",
                         "single-env": "fixtures/brownout-ab-single-env",
                         "boot-text": "fixtures/brownout-ab-boottext"},
                client_disks={f: f"disk-ab-{f}" for f in FIXTURE_DISKS},
                target_slot=TargetSlot("rootB", "B", "BOOT_ORDER=B"), roots=LEAN_ROOTS)
