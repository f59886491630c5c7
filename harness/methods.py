"""The update methods a device can be built for, and what the harness must know
about each: which image step makes its disk, how the device is asked to update,
where its running root tree lives on disk, and how many boots a recovery takes.

Everything else is a protocol every method's boot hook speaks on the console
(see images/rootfs/boot.d): `BROWNOUT init version= slot=`, `confirm result=`,
`phase name=`, `reboot`, `update-error reason=`, and, under the fault agent,
`cut`, `cut-missed`, `agent-done`, `record-done`. The rig's requests arrive
through fw_cfg: opt/brownout/update (what to install), opt/brownout/client,
opt/brownout/agent, opt/brownout/cut, opt/brownout/record,
opt/brownout/phase-rules.

Adding a method is one entry in METHODS plus its disk build step and boot hook.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import HarnessError
from .images import STEP_BY_NAME, built_key

GUEST_ADDR = "10.0.2.100"        # the update server, as the guest sees it (guestfwd)


@dataclass(frozen=True)
class RootLocation:
    """Where the running root tree is: a partition and a directory inside it."""
    partition: str
    path: str = "/"


def _ab_root(init: dict[str, str]) -> RootLocation | None:
    partition = {"A": "rootA", "B": "rootB"}.get(init.get("slot", ""))
    return RootLocation(partition) if partition else None


def _single_root(init: dict[str, str]) -> RootLocation | None:
    """In-place and asymmetric: the one root partition. A recovery boot
    (`slot=recovery`) is never a finished device."""
    return RootLocation("root") if init.get("slot") == "root" else None


OSTREE_OS = "brownout"
_DEPLOYMENT = re.compile(r"[0-9a-f]{64}\.[0-9]+")


def _ostree_root(init: dict[str, str]) -> RootLocation | None:
    """The deployment the initramfs bind-mounted as the root (`<commit>.<serial>`)."""
    slot = init.get("slot", "")
    if not _DEPLOYMENT.fullmatch(slot):
        return None
    return RootLocation("ostree", f"/ostree/deploy/{OSTREE_OS}/deploy/{slot}")


@dataclass(frozen=True)
class Method:
    name: str
    disk_step: str                   # image build step that makes the disk
    disk_image: str                  # file name in that step's output
    root_of: Callable[[dict[str, str]], RootLocation | None]   # from the `init` marker's fields
    boot_limit: int = 3              # boots a new version gets before falling back
    extra_boots: int = 3             # the update's own boots, the fallback, one spare
    clients: dict[str, str | None] = field(default_factory=lambda: {"safe": None})
    payload_steps: tuple[str, ...] = ("payloads",)
    # Boots that get the rig's request (update URL, agent, cut): the update's
    # boot, and for asymmetric also recovery's, where the install and its cuts happen.
    request_boots: int = 1
    # Reboots the update itself takes to switch over: 0 when it switches in place.
    switch_reboots: int = 1
    # The root is upgraded package by package: judge what dpkg left behind too.
    dpkg_audit: bool = False
    digests_step: str = "rootfs"     # whose digests.jsonl names the versions' root trees
    request_path: str = "{payload}/manifest"   # under /<method>/ on the update server
    record_timeout: float = 240.0    # a record run: the update under the agent, then its points listed
    # The agent's phase rules (faultinject/rules.h), one per line, e.g. "deploy path=/dev/vda4":
    # the phases of a client that prints no phase markers. Empty: the markers' phases.
    phase_rules: tuple[str, ...] = ()

    @property
    def max_boots(self) -> int:
        return self.boot_limit + self.extra_boots

    def request(self, payload: str) -> str:
        """What opt/brownout/update holds: the URL the device's client starts from."""
        return f"http://{GUEST_ADDR}/{self.name}/" + self.request_path.format(payload=payload)

    @property
    def record_steps(self) -> tuple[str, ...]:
        """The steps whose output decides what the update does, syscall by syscall."""
        return ("apps", "rootfs", *self.payload_steps, self.disk_step)


METHODS: dict[str, Method] = {
    "ab": Method("ab", "disk-ab", "ab.img", _ab_root,
                 clients={"safe": None, "unsafe": "fixtures/brownout-ab-unsafe"}),
    # Root asks, recovery installs: boots are the update's, recovery's, the
    # new root's; for v2-bad, its tries, recovery's reinstall of v1, and v1's.
    "asymmetric": Method("asymmetric", "disk-asymmetric", "asymmetric.img", _single_root,
                         extra_boots=5, request_boots=2, switch_reboots=2),
    # apt/dpkg on the running root, then an application restart: no reboot, no
    # boot counter; after a cut, one boot to see what dpkg left.
    "inplace": Method("inplace", "disk-inplace", "inplace.img", _single_root,
                      boot_limit=0, extra_boots=2, switch_reboots=0, request_path="{payload}",
                      payload_steps=("repo-inplace",), dpkg_audit=True),
    # The request is the URL of an archive repo whose ref brownout/update is the payload.
    "ostree": Method("ostree", "disk-ostree", "ostree.img", _ostree_root,
                     payload_steps=("ostree",), digests_step="disk-ostree",
                     request_path="{payload}",
                     # A deployment is ~6000 hard links, each a cut point listed on the console.
                     record_timeout=1200.0),
}


def served_roots() -> dict[str, Path]:
    """What the update server serves: /<method>/ from that method's payload step,
    for every method whose payloads are built."""
    roots = {}
    for m in METHODS.values():
        step = STEP_BY_NAME[m.payload_steps[0]]
        if built_key(step) is not None:
            roots[m.name] = step.out / m.name
    if not roots:
        raise HarnessError("no payloads are built: run './brownout build'")
    return roots


def get(name: str) -> Method:
    try:
        return METHODS[name]
    except KeyError:
        raise HarnessError(f"unknown method '{name}'; known: {', '.join(METHODS)}") from None
