"""A/B: the new root image is streamed into the inactive slot; the boot env
flips the slot; U-Boot's boot counter falls back to the old one."""
from __future__ import annotations

from .base import Method, RootLocation


def root_of(init: dict[str, str]) -> RootLocation | None:
    partition = {"A": "rootA", "B": "rootB"}.get(init.get("slot", ""))
    return RootLocation(partition) if partition else None


METHOD = Method("ab", "disk-ab", "ab.img", root_of,
                clients={"safe": None, "unsafe": "fixtures/brownout-ab-unsafe"})
