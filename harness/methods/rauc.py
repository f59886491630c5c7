"""RAUC: Debian's rauc 1.8, an updater that is not ours. A signed bundle is
fetched into the data partition (or taken as kept there by an install a cut
stopped); `rauc install` writes its root image into the inactive slot and
switches U-Boot's boot order; the A/B boot script's counter falls back; the
next boot marks the slot good (or bad) through RAUC. RAUC prints no phases:
the phase rules name them by what each write targets."""
from __future__ import annotations

from ..images import LEAN_ROOTS, disk_step, method_step
from .ab import root_of
from .base import Method, TargetSlot

METHOD = Method("rauc",
                (method_step("rauc", "bundles-rauc", "bundles.sh", deps=("payloads-ab", "keys")),
                 disk_step("rauc", deps=("kernel", "initramfs", LEAN_ROOTS, "bundles-rauc"), boots_as="ab")),
                "disk-rauc", "rauc.img", root_of, payload_steps=("bundles-rauc",),
                request_path="{payload}/update.raucb",
                phase_rules=("pull path=/data/rauc/*",
                             "pull path=/data/rauc",   # the fsync of the directory after the bundle's rename
                             "deploy path=/dev/vda[34]",
                             "deploy path=/data/rauc.status*",
                             "deploy path=/data",      # the fsync of the directory after the status file's rename
                             "bootloader path=/dev/vda2"),
                # RAUC copies a slot in 8 KiB writes: over 13000 cut points, each listed on the console.
                record_timeout=1800.0, target_slot=TargetSlot("rootB", "B", "BOOT_ORDER=B"), roots=LEAN_ROOTS)
