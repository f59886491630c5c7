"""Snapshots of a device held where an update phase starts, so a campaign pays
the boot and the update up to that phase once, not once per cut point.

The agent, asked for `hold=<phase>` (faultinject/hold.h), stops the update at
the client's "phase <phase> start" marker and says `BROWNOUT hold`. The harness
then stops the machine and saves its state with QEMU's migration to a file; its
disk overlay is frozen from then on. Its memory is already in a file: the
machine that holds runs on one (held_memory), which the migration leaves out. A
trial from the snapshot starts a new QEMU on a fresh overlay of that frozen
disk and on a private mapping of that memory (restored_memory), loads the
state, and hands the agent its cut through the same fw_cfg file (same size: the
guest reads fw_cfg sizes once). Nothing the agent does before the hold depends
on the cut, so the trial is the trial a cold start would have run, up to where
the snapshot was taken: the device, its disk and the update's progress are bit
for bit the same. What is not in the machine is not in the snapshot: the
connections to the update server end with the QEMU that saved it, so a snapshot
in the pull phase holds where that phase starts, before the update's first
request, never at a point inside it (a restored transfer would break, or resume
where a cold trial does not).

An update that runs over several boots (asymmetric: the root hands it to
recovery) is held in the boot where its phases run; the boots before it are
behind the snapshot, and what a trial measures across boots (reboots,
downtime, bytes) takes them from the snapshot.
"""
from __future__ import annotations

import logging
import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from .. import HarnessError, QMPError, QMPTimeout
from ..methods.base import PULL
from .console import Marker
from .qemu import Machine, option_value

log = logging.getLogger(__name__)

SPEC_FILE_SIZE = 128                 # every cut spec file handed to the agent has this size
MIGRATION_TIMEOUT = 120.0


def write_spec_file(path: Path, spec: str) -> Path:
    """The agent's spec file: `spec` padded with spaces to one fixed size."""
    data = spec.encode()
    if len(data) >= SPEC_FILE_SIZE:
        raise HarnessError(f"cut spec '{spec}' is longer than {SPEC_FILE_SIZE - 1} bytes")
    path.write_bytes(data + b" " * (SPEC_FILE_SIZE - 1 - len(data)) + b"\n")
    return path


def hold_spec(phase: str, phases: tuple[str, ...], at: int = 0) -> str:
    """The agent's spec to hold the update where `phase`, one of the method's
    `phases`, starts, or with `at` at that phase's at-th point."""
    if phase not in phases:
        raise HarnessError(f"cannot hold at phase '{phase}'; phases: {', '.join(phases)}")
    if at < 0:
        raise HarnessError(f"cannot hold at point {at} of phase '{phase}': points count from 1")
    if at and phase == PULL:
        raise HarnessError(f"cannot hold at point {at} of phase '{phase}': its transfers would be "
                           f"restored without their connections; hold where it starts")
    return f"hold={phase},at={at}" if at else f"hold={phase}"


# What a boot says of what it runs: the slot U-Boot loaded, the version and
# slot (or deployment) init found. A boot that goes on from a held one, or
# from a snapshot, printed none of them itself.
BOOT_MARKERS = ("uboot-boot", "init")


def boot_markers_of(markers: Iterable[Marker]) -> tuple[Marker, ...]:
    """Of `markers`, those that say what the boot runs (BOOT_MARKERS)."""
    return tuple(m for m in markers if m.event in BOOT_MARKERS)


@dataclass(frozen=True)
class Snapshot:
    phase: str
    disk: Path                   # qcow2 overlay, never written after the snapshot
    state: Path                  # the held machine, as QEMU's migration stream
    points: int                  # cut points the update passed before the hold
    bytes_downloaded: int        # by the update server before the hold
    bytes_written: int           # to the device's disk before the hold
    elapsed_s: float             # from the update's first phase marker to the hold
    at: int = 0                  # held at this point of the phase (0: where it starts)
    boot: int = 1                # the update's boot that holds: 2 for asymmetric's recovery; 1 in the confirmation
    # What the held boot said of what it runs (BOOT_MARKERS), before the hold:
    # a restored boot's record starts with them.
    boot_markers: tuple[Marker, ...] = ()
    # How long no heartbeat had come when the update was held (its device down, in
    # recovery); None when the application still ran.
    down_s: float | None = None


def ram_file(state: Path) -> Path:
    """Where the memory of the machine saved in `state` is: the file it ran on."""
    return state.with_suffix(".ram")


def held_memory(state: Path, memory_mib: int) -> list[str]:
    """QEMU options for a machine that will be saved in `state`: its memory is
    the file beside it (ram_file), shared, so saving it writes nothing more."""
    return _memory(ram_file(state), memory_mib, shared=True)


def restored_memory(state: Path, memory_mib: int) -> list[str]:
    """QEMU options for a machine restored from `state`: its memory starts as
    the saved machine's file, mapped privately (pages read as touched, writes
    the machine's own), so the file serves every restore unchanged."""
    return ["-incoming", "defer"] + _memory(ram_file(state), memory_mib, shared=False)


def continued_memory(state: Path, memory_mib: int) -> list[str]:
    """QEMU options for a machine restored, let go on and saved again in
    `state`: its memory file, a copy of the restored machine's, mapped
    shared, so saving it writes nothing more."""
    return ["-incoming", "defer"] + held_memory(state, memory_mib)


def _memory(path: Path, memory_mib: int, shared: bool) -> list[str]:
    return ["-object", f"memory-backend-file,id=ram,size={memory_mib}M,mem-path={option_value(path)},"
                       f"share={'on' if shared else 'off'}", "-machine", "memory-backend=ram"]


def save(machine: Machine, state: Path, timeout: float = MIGRATION_TIMEOUT) -> None:
    """Stop the machine and write its devices' state to `state` (its memory is
    in ram_file(state) already: held_memory)."""
    qmp = machine.qmp()
    qmp.execute("stop")
    _ignore_shared(machine)
    qmp.execute("migrate", {"uri": f"exec:cat > {shlex.quote(str(state))}"})
    _wait_migration(machine, "saving", timeout)


def _ignore_shared(machine: Machine) -> None:
    """The migration leaves out memory shared with a file: the file holds it."""
    machine.qmp().execute("migrate-set-capabilities",
                          {"capabilities": [{"capability": "x-ignore-shared", "state": True}]})


def restore(machine: Machine, state: Path, timeout: float = MIGRATION_TIMEOUT) -> float:
    """Load `state` into a machine started with `-incoming defer`; it then runs.
    Returns when it went on (time.monotonic()): when it was told to, or, when
    it went on by itself, the last time it was seen not running, so that what
    it prints from then on comes after. Once resumed it may power itself off
    before the next status query (a cut armed at the very point the snapshot
    holds at), QEMU even gone: that machine ran."""
    if not state.is_file() or not ram_file(state).is_file():
        raise HarnessError(f"snapshot state {state} or its memory {ram_file(state)} is missing")
    qmp = machine.qmp()
    _ignore_shared(machine)
    quiet = time.monotonic()     # the machine was not running then: it cannot go on before its state loads
    qmp.execute("migrate-incoming", {"uri": f"exec:cat {shlex.quote(str(state))}"})
    deadline = time.monotonic() + timeout
    went_on: float | None = None
    while True:
        asked = time.monotonic()
        try:
            status = qmp.execute("query-status")["status"]
        except QMPTimeout:
            raise
        except QMPError as e:
            if went_on is not None and e.error_class is None:
                return went_on
            raise
        if status == "running" or (went_on is not None and status == "shutdown"):
            return quiet if went_on is None else went_on
        if status not in ("inmigrate", "paused", "prelaunch", "postmigrate"):
            raise HarnessError(f"restoring {state}: the machine is {status}")
        quiet = asked
        if status == "paused":
            went_on = time.monotonic()
            qmp.execute("cont")
        if time.monotonic() > deadline:
            raise HarnessError(f"restoring {state}: still {status} after {timeout:.0f} s")
        time.sleep(0.02)


def _wait_migration(machine: Machine, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    qmp = machine.qmp()
    while True:
        info = qmp.execute("query-migrate")
        status = info.get("status", "none")
        if status == "completed":
            return
        if status in ("failed", "cancelled"):
            raise HarnessError(f"{what} the machine's state failed: {info.get('error-desc', status)}")
        if time.monotonic() > deadline:
            raise HarnessError(f"{what} the machine's state: still {status} after {timeout:.0f} s")
        time.sleep(0.05)
