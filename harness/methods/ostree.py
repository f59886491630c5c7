"""OSTree: libostree pulls the new commit into the device's repository and
deploys it as a hard-linked tree; the client copies its kernel into the spare
boot slot, and the env's slot and U-Boot's boot counter choose the deployment."""
from __future__ import annotations

import re
from typing import Iterable

from ..images import disk_step, method_step
from ..machine.console import Marker
from .base import Judge, Method, RootLocation, TargetSlot

OS_NAME = "brownout"
_DEPLOYMENT = re.compile(r"[0-9a-f]{64}\.[0-9]+")


def root_of(init: dict[str, str]) -> RootLocation | None:
    """The deployment the initramfs bind-mounted as the root (`<commit>.<serial>`)."""
    slot = init.get("slot", "")
    if not _DEPLOYMENT.fullmatch(slot):
        return None
    return RootLocation("ostree", f"/ostree/deploy/{OS_NAME}/deploy/{slot}")


def repo_usage(markers: Iterable[Marker]) -> dict[str, int]:
    """The client's `repo-usage` marker: the repository's size before the pull and after."""
    for m in markers:
        if m.event != "repo-usage":
            continue
        try:
            return {"repo_kib_before": int(m.get("before_kib") or ""), "repo_kib_after": int(m.get("after_kib") or "")}
        except ValueError:
            pass
    return {}


# The request is the URL of an archive repo whose ref brownout/update is the payload.
METHOD = Method("ostree",
                (method_step("ostree", "ostree", "ostree.sh", inputs=("userns.py",),
                             deps=("kernel", "initramfs", "rootfs"), repo_inputs=("harness/checks/digest.py",)),
                 disk_step("ostree", deps=("ostree",))),
                "disk-ostree", "ostree.img", root_of,
                payload_steps=("ostree",), digests_step="disk-ostree", request_path="{payload}",
                judge=Judge(measures=repo_usage),
                # A deployment is ~6000 hard links, each a cut point listed on the console.
                record_timeout=1200.0,
                # The spare boot slot: U-Boot reads only the slot OSTREE_BOOT names (or,
                # with the default's tries spent, the other one, which an update from v1
                # leaves untouched), the client finds the booted deployment in slot A
                # before it looks at B, and writes B whole (header cleared first,
                # rewritten last) before the env names it. init names a deployment:
                # U-Boot's marker names the slot.
                target_slot=TargetSlot("bootB", "B", "OSTREE_BOOT=B", booted="uboot-boot"))
