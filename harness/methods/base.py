"""The host side of the method contract (docs/method-contract.md).

A method is one module in this package that defines `METHOD`, a `Method`:
which image step makes its disk, how the device is asked to update, where
its running root tree lives on disk, the phases its update goes through, how
the agent names a cut point's phase when the client prints no markers, and
what the trial judges beyond the common checks (a `Judge`). Everything else
is the guest side of the contract, spoken on the console by every method's
boot hook: `BROWNOUT init version= slot=`, `confirm result=`, `phase name=`,
`reboot`, `update-error reason= detail=`, `settled result=`, and, under the
fault agent, `cut`, `cut-missed`, `agent-done`, `record-done`. The rig's
requests arrive through fw_cfg: opt/brownout/update (what to install),
opt/brownout/client, opt/brownout/agent, opt/brownout/cut,
opt/brownout/record, opt/brownout/phase-rules.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Iterable, Protocol

from ..images import LEAN_ROOTS, ROOTS, Step
from ..machine.console import Marker

GUEST_ADDR = "10.0.2.100"        # the update server, as the guest sees it (guestfwd)
# The phases a cut point can be labelled with; a method declares the ones it has.
# confirm is the new version's first confirmation and the cleanup after it: its
# cuts come on the first boot of the installed version, the client's confirm
# run under the agent (rig.sh rig_confirm), never from a snapshot of the update.
CONFIRM = "confirm"
# The phase that talks to the update server. A machine saved inside it holds
# connections its restored copy no longer has (the server, QEMU's user network
# and the relay keep them, not the guest): a snapshot holds only where it starts.
PULL = "pull"
PHASE_NAME = re.compile(r"[a-z][a-z0-9-]*")
# The agent's phase rule (faultinject/rules.h): a phase, then key=value filters, path= among them.
RULE = re.compile(r"(?P<phase>[^\s#]+)(?P<filters>(\s+[a-z]+=\S+)+)")


@dataclass(frozen=True)
class RootLocation:
    """Where the running root tree is: a partition and a directory inside it."""
    partition: str
    path: str = "/"


class RootFacts(Protocol):
    """What the offline check of a root tells a method's judge (disk.RootCheck)."""
    @property
    def packages(self) -> tuple[str, ...]: ...

    @property
    def unsettled(self) -> tuple[str, ...]: ...

    def has_package(self, name: str) -> bool: ...


@dataclass(frozen=True)
class Judgement:
    """A method's own findings about a judged root: kept on the trial, with notes."""
    facts: dict | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Judge:
    """What a method checks beyond the common verdicts. Both hooks are optional."""
    # From the offline check of the root a trial landed on.
    root: Callable[[RootFacts], Judgement] | None = None
    # Extra measures from the console markers of the trial's boots.
    measures: Callable[[Iterable[Marker]], dict[str, int]] | None = None


@dataclass(frozen=True)
class TargetSlot:
    """The slot an update from v1 writes while the device boots another: no boot
    reads it until an env write names it (`named_by`, as the env's bytes spell
    it), and the update rewrites whole what a boot reads of it before any boot
    runs it. Crash states, and disks a cut left, that differ only there are
    judged once."""
    partition: str                   # its partition, e.g. "rootB"
    name: str                        # its name in the `booted` marker's slot field, e.g. "B"
    named_by: str                    # e.g. "BOOT_ORDER=B": the env that names it first
    # The marker whose slot field says which slot a boot ran: init's, or
    # U-Boot's where init names something else (OSTree: a deployment).
    booted: str = "init"


@dataclass(frozen=True)
class Method:
    name: str
    # The image steps of its own (images/methods/<name>/): its disk, its
    # payloads, anything they need. They build on the common steps (images.py).
    image_steps: tuple[Step, ...]
    disk_step: str                   # the one of them that makes the disk
    disk_image: str                  # file name in that step's output
    root_of: Callable[[dict[str, str]], RootLocation | None]   # from the `init` marker's fields
    # The phases of the update, in the order they happen; CONFIRM last where the
    # client's confirmation writes (marks the version good, cleans up).
    phases: tuple[str, ...] = ("pull", "deploy", "bootloader", CONFIRM)
    # Phase by what a syscall targets, for clients that print no phase markers:
    # "<phase> path=<glob>" lines, first match wins (the agent's --phase-rules).
    phase_rules: tuple[str, ...] = ()
    boot_limit: int = 3              # boots a new version gets before falling back
    extra_boots: int = 3             # the update's own boots, the fallback, one spare
    clients: dict[str, str | None] = field(default_factory=lambda: {"safe": None})
    # Test fixtures that run on a device of their own (another way of keeping
    # the boot state): client -> the image step that makes that disk, named
    # disk_image in its output, with the same layout.
    client_disks: dict[str, str] = field(default_factory=dict)
    target_slot: TargetSlot | None = None
    payload_steps: tuple[str, ...] = ()   # what the update server serves under /<name>/: the first one's <name>/
    # Boots that get the rig's request (update URL, agent, cut): the update's
    # boot, and for asymmetric also recovery's, where the install and its cuts happen.
    request_boots: int = 1
    # Reboots the update itself takes to switch over: 0 when it switches in place.
    switch_reboots: int = 1
    judge: Judge = field(default_factory=Judge)
    roots: str = ROOTS               # whose root trees the device runs: ROOTS or LEAN_ROOTS (images.py)
    digests_step: str = ""           # whose digests.jsonl names the versions' root trees ("": its roots')
    request_path: str = "{payload}/manifest"   # under /<method>/ on the update server
    record_timeout: float = 240.0    # a record run: the update under the agent, then its points listed

    @property
    def digests(self) -> str:
        """The step whose digests.jsonl names the versions' root trees."""
        return self.digests_step or self.roots

    @property
    def update_phases(self) -> tuple[str, ...]:
        """The phases of the update run itself: the ones a snapshot can hold at."""
        return tuple(p for p in self.phases if p != CONFIRM)

    @property
    def max_boots(self) -> int:
        return self.boot_limit + self.extra_boots

    def request(self, payload: str) -> str:
        """What opt/brownout/update holds: the URL the device's client starts from."""
        return f"http://{GUEST_ADDR}/{self.name}/" + self.request_path.format(payload=payload)

    @property
    def record_steps(self) -> tuple[str, ...]:
        """The steps whose output decides what the update does, syscall by syscall."""
        return ("apps", self.roots, *self.payload_steps, self.disk_step)

    def problems(self, steps: Iterable[str]) -> list[str]:
        """How this method breaks the contract, given the names of every image step
        (the common ones and every method's)."""
        known = set(steps)
        own = {s.name for s in self.image_steps}
        out = [] if self.disk_step in own else [f"its disk step '{self.disk_step}' is not among its image_steps"]
        if self.roots not in (ROOTS, LEAN_ROOTS):
            out.append(f"its roots '{self.roots}' are neither '{ROOTS}' nor '{LEAN_ROOTS}'")
        out += [f"{what} step '{step}' is not an image step"
                for what, step in (("digests", self.digests), *(("payload", s) for s in self.payload_steps))
                if step not in known]
        out += [f"image step '{s.name}' depends on '{dep}', which is not an image step"
                for s in self.image_steps for dep in s.deps if dep not in known]
        if not self.payload_steps:
            out.append("it names no payload step")
        if not self.phases:
            out.append("it declares no phases")
        out += [f"phase '{p}' is not a lowercase word" for p in self.phases if not PHASE_NAME.fullmatch(p)]
        for n, rule in enumerate(self.phase_rules, 1):
            found = RULE.fullmatch(rule.strip())
            if found is None or not any(f.startswith("path=") for f in found["filters"].split()):
                out.append(f"phase rule {n} '{rule}' is not '<phase> path=<glob> [key=value ...]'")
            elif found["phase"] not in self.phases:
                out.append(f"phase rule {n} names phase '{found['phase']}', not one of its phases "
                           f"({', '.join(self.phases)})")
        out += [f"client '{c}' has a disk of its own, but is not one of its clients"
                for c in self.client_disks if c not in self.clients]
        out += [f"client '{c}' has its disk from step '{s}', which is not among its image_steps"
                for c, s in self.client_disks.items() if s not in own]
        if "safe" not in self.clients:
            out.append("it has no 'safe' client")
        return out
