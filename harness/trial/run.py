"""One trial: a device on v1 (or a later start, start.py) is updated, boots
unattended, and is judged.

The device starts with an update request in QEMU's fw_cfg (outside the
disks under test). Its boot hook confirms the running version, installs the
update and reboots. With a cut point, the update runs under the in-guest
fault-injection agent (also handed over through fw_cfg), which cuts power at
that point; after the device has come back and settled, the update is run
once more without a fault, to see whether it still completes. Every guest reboot stops QEMU (`-no-reboot` with
`-action shutdown=pause`, so the block statistics can still be read); the
harness powers the device on again, without the request, up to the boot
limit. When a boot confirms itself good, or refuses the update, the trial
ends: power off, then the disk is checked offline and the verdicts drawn.
"""
from __future__ import annotations

import base64
import dataclasses
import gzip
import hashlib
import json
import logging
import re
import shlex
import shutil
import subprocess
import tempfile
import time
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO

from .. import BootFailure, ConsoleTimeout, HarnessError, MachineExited, methods
from . import cutspec
from ..machine.console import Line, Marker, parse_marker
from ..checks.device import Device, guest_clock, partitions
from ..checks.digest import classify, load_known
from ..checks.disk import check_fs, check_root
from ..files import copy_sparse, replace_file
from ..images import BUILD, require
from ..machine.power import PowerSwitch
from ..machine.qemu import Machine, UserNet
from .runlogs import console_tail
from .samedisk import CLAIM_POLL_S, Judged, SameDisk, disk_fingerprint
from .start import RUNNING, adopt_installed, check_start, installed_disk, start_disk
from ..server import Fault, UpdateServer
from ..machine.snapshot import (BOOT_MARKERS, Snapshot, boot_markers_of, continued_memory, held_memory, hold_spec,
                                ram_file, restored_memory, save, write_spec_file)
from ..machine.snapshot import restore as restore_snapshot
from ..methods.base import CONFIRM
from .verdict import (BootRecord, anomalies, boot_record, commit_undone, error_fields, refusal_evidence,
                      rollback_evidence, update_errors)

log = logging.getLogger(__name__)

# v3 is the second update, offered to a device on v2 (--from v2); v1 offered to
# it is a downgrade, refused.
PAYLOADS = ("v2", "v2-bad", "v2-tampered", "v2-badsig", "v3", "v1")
# What each installing payload installs, and the package that version adds.
INSTALLS = {"v2": "v2", "v2-delta": "v2", "v3": "v3"}
NEW_PACKAGE = {"v2": "bc", "v3": "dc"}
# A payload that installs v2 by another route: OSTree's static delta v1->v2.
V2_ROUTES = {"v2-delta": "ostree"}
STEP_TIMEOUT = 240.0                 # one boot's work: boot, confirm, a full download
# From a boot's settling to its hold before the update's re-run (rig.sh's rig_hold).
HOLD_TIMEOUT = 30.0
# The longest a trial waits while another judges the same disk: that trial's boots and re-run.
CLAIM_WAIT_S = 600.0
HOLD = re.compile(r"^BROWNOUT hold\b")
# What ends the boot a snapshot is taken in: the agent's hold, or what stopped the update first.
HELD = re.compile(r"^BROWNOUT (hold|cut-missed|agent-done|update-error)\b")
RECORD_PROGRESS_S = 30.0
LAZY_WRITEBACK_MEMORY_MIB = 1024
# settled: a boot that updated (or checked) in place and stays up.
OUTCOME = re.compile(r"^BROWNOUT (reboot|confirm|update-error|update-none|cut|cut-missed|agent-done|record-done"
                     r"|settled)\b")


# Where a trial's host time goes: its group's snapshot (the campaign's first
# trial of the group on a worker takes it), its start disk and overlay, a
# snapshot's restore, the boot the agent cuts (power-on or restore to the cut),
# the fingerprint of the disk the cut left, the other boots of its first
# cycle, the offline checks, the re-run, the commit check, and the rest (the
# campaign's own bookkeeping around the trial). A campaign's trial has them
# all; one run on its own has no snapshot or rest.
TIMINGS = ("snapshot", "prepare", "restore", "to the cut", "same disk", "boots", "checks", "re-run", "commit check",
           "other")
# What a trial on a disk already judged takes from the trial that judged it.
TAKEN_FROM_THE_DISK = ("final", "slot", "verdicts", "notes", "dpkg", "dpkg_rerun", "mixed_roots", "anomalies",
                       "rollback", "refusal", "update_error")

# The shape of a journal entry written by this code; entries without one are
# older and keep the verdicts they were given (no evidence to re-grade them).
SCHEMA = 2
ERROR_TAIL_LINES = 40


@dataclass(frozen=True)
class Measures:
    downtime_s: float | None     # longest heartbeat gap once the update began
    reboots: int                 # power-ons after the first
    bytes_downloaded: int        # served by the update server
    bytes_written: int | None    # QMP blockstats, all boots, the device's disk; None if a query failed
    duration_s: float | None     # first phase marker to the update's reboot or cut
    repo_kib_before: int | None = None   # OSTree: the device repo's disk usage before the pull
    repo_kib_after: int | None = None    # ... and once the new deployment is the default
    # No heartbeat came back once the update began: downtime runs to the end of the trial.
    downtime_open: bool = False


def fault_model(cut: dict[str, str] | None) -> str:
    """syscall: a cut at a syscall of the client; storage: a crash state of the disk."""
    return "storage" if (cut or {}).get("model") == "storage" else "syscall"


@dataclass
class TrialResult:
    method: str
    payload: str
    final: str                   # v1 | v2 | v2-bad | mixed | bricked | missed
    verdicts: list[str]
    measures: Measures
    reproduce: str
    slot: str = ""
    cut_spec: str = ""
    cut: dict[str, str] | None = None    # what the agent cut, from its marker
    client: str = "safe"
    notes: list[str] = field(default_factory=list)
    log_dir: str = ""
    started: str = "cold"        # or "snapshot:<phase>": held where that phase starts
    # The method's own findings about the root (methods/<name>.py's judge; in-place:
    # what dpkg left), after the first cycle and, for a cut, after the re-run.
    dpkg: dict | None = None
    dpkg_rerun: dict | None = None
    # Every judged root that was no known version: when it was judged, the
    # nearest version, how many paths differ from it, and the first of them.
    mixed_roots: list[dict] = field(default_factory=list)
    # What the verdicts rest on: every boot as its console told it, the broken
    # things the device booted on the way, the rollback and the refusal seen.
    boots: list[dict] = field(default_factory=list)
    anomalies: list[str] = field(default_factory=list)
    rollback: str | None = None
    refusal: str | None = None
    update_error: dict[str, str] | None = None    # the first update-error's reason, detail (and message)
    lazy_writeback: bool = False
    start: str = "v1"            # the version the device ran when the update was offered
    # Where the trial's host time went, in seconds (TIMINGS), for the benchmark.
    timings: dict[str, float] = field(default_factory=dict)
    # A trial that ended without a verdict (final "error" or "timeout"): why, and the console's last lines.
    error: str = ""
    console_tail: str = ""
    # Not booted after its cut: its disk then was byte-identical to that of the
    # campaign's trial named here, whose outcome it takes (samedisk.py).
    same_disk_as: dict[str, str] | None = None
    schema: int = SCHEMA

    @classmethod
    def unfinished(cls, spec: TrialSpec, final: str, reason: str, log_dir: Path | str = "",
                   started: str = "cold") -> TrialResult:
        """A trial the harness could not finish: `final` is "error" or "timeout"."""
        tail = console_tail(log_dir, ERROR_TAIL_LINES) if log_dir else None
        # A crash state keeps its model, so the report never counts it as a syscall cut.
        state = {"model": "storage", "state": spec.state} if spec.state else None
        return cls(spec.method, spec.payload, final, [], Measures(None, 0, 0, None, None), spec.reproduce(),
                   cut_spec=spec.cut or spec.state or "", cut=state, client=spec.client,
                   notes=[f"{final}: {reason}"], log_dir=str(log_dir), started=started, error=reason,
                   console_tail=tail or "", lazy_writeback=spec.lazy_writeback, start=spec.start)

    @property
    def phase(self) -> str:
        return (self.cut or {}).get("phase", "")

    @property
    def model(self) -> str:
        return fault_model(self.cut)

    def as_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        m = self.measures
        downtime = f"{m.downtime_s:.2f} s" if m.downtime_s is not None else "-"
        if m.downtime_open:
            downtime += " (no heartbeat came back)"
        duration = f"{m.duration_s:.1f} s" if m.duration_s is not None else "-"
        written = f"{m.bytes_written:,} B" if m.bytes_written is not None else "unknown"
        head = f"{self.method} {self.payload}"
        if self.cut_spec:
            head += f" cut {self.cut_spec} ({self.phase or 'not fired'})"
        lines = [f"{head}: final {self.final} (slot {self.slot or '-'}), "
                 f"verdicts: {', '.join(self.verdicts) or 'none'}",
                 f"  downtime {downtime}, reboots {m.reboots}, downloaded {m.bytes_downloaded:,} B, "
                 f"written {written}, update {duration}"]
        for label, text in (("rollback", self.rollback), ("refusal", self.refusal)):
            if text:
                lines.append(f"  {label}: {text}")
        lines += [f"  anomaly: {a}" for a in self.anomalies]
        if self.console_tail:
            lines.append("  console tail:\n" + "\n".join("    " + t for t in self.console_tail.splitlines()))
        for label, audit in (("dpkg", self.dpkg), ("dpkg after the re-run", self.dpkg_rerun)):
            if audit:
                lines.append(f"  {label}: brownout-app {audit['brownout-app']}, bc {audit['bc']}, "
                             f"unsettled: {', '.join(audit['unsettled']) or 'none'}")
        if m.repo_kib_before is not None:
            lines.append(f"  repo usage {m.repo_kib_before:,} KiB before, {m.repo_kib_after:,} KiB after")
        for mixed in self.mixed_roots:
            lines.append(f"  root {mixed['when']}: nearest {mixed['nearest']}, {mixed['count']} paths differ: "
                         + ", ".join(mixed["paths"][:8]) + (" ..." if mixed["count"] > 8 else ""))
        lines += [f"  note: {n}" for n in self.notes]
        lines.append(f"  reproduce: {self.reproduce}")
        return "\n".join(lines)


@dataclass(frozen=True)
class TrialSpec:
    method: str = "ab"
    payload: str = "v2"
    fault: Fault | None = None
    corrupt_env: bool = False
    cut: str | None = None           # brownout-fi cut spec, e.g. "n=17,edge=after"
    client: str = "safe"
    # A crash state of the disk's recorded life (storage/states.py token, e.g.
    # "torn:57:4096:zero"): the device powers on from that disk instead of updating.
    state: str | None = None
    # Keep written data in the guest's page cache until a program syncs (rig.sh).
    lazy_writeback: bool = False
    # The version the device runs when the update is offered (start.py).
    start: str = "v1"

    def __post_init__(self) -> None:
        method = methods.get(self.method)
        check_start(self.start, self.method)
        if self.start != "v1" and self.state:
            raise HarnessError("a crash state is of the recorded life from v1: it takes no --from")
        if V2_ROUTES.get(self.payload) not in (None, self.method):
            raise HarnessError(f"payload '{self.payload}' is for method {V2_ROUTES[self.payload]} only")
        if self.payload not in PAYLOADS and self.payload not in V2_ROUTES:
            raise HarnessError(f"unknown payload '{self.payload}'; known: {', '.join(PAYLOADS)}")
        if self.client not in method.clients:
            raise HarnessError(f"unknown client '{self.client}' for {self.method}; "
                               f"known: {', '.join(method.clients)}")
        if self.cut is not None:
            cutspec.parse(self.cut)
        if self.confirm_stage:
            if CONFIRM not in method.phases:
                raise HarnessError(f"{self.method} has no confirm phase: its confirmation writes nothing to cut")
            if self.lazy_writeback or self.state:
                raise HarnessError("a cut in the confirmation takes no lazy writeback or crash state: "
                                   "both are of the update")
            if not self.installs:
                raise HarnessError(f"a cut in the confirmation needs a payload that installs "
                                   f"({', '.join(INSTALLS)}), not {self.payload}")
        if self.state is not None and (self.cut or self.fault or self.corrupt_env):
            raise HarnessError("a crash state is the fault: it takes no cut, fault or corrupted env")

    @property
    def confirm_stage(self) -> bool:
        """The cut falls in the installed version's first confirmation (phase=confirm),
        or the agent holds where it starts (hold=confirm, a snapshot's), which runs
        under the agent on the boot after the update."""
        point = cutspec.try_parse(self.cut or "")
        return bool(point and CONFIRM in (point.get("phase"), point.get("hold")))

    @property
    def installs(self) -> str | None:
        """The version the device reports once this payload is installed (v2-bad
        never confirms good; a refused payload never installs)."""
        new = INSTALLS.get(self.payload)
        return new[1:] if new else None

    @property
    def running(self) -> str:
        """The version the device runs when the update is offered."""
        return RUNNING[self.start]

    @property
    def whole_versions(self) -> tuple[str, ...]:
        """The roots that are whole (atomic): the version the device started on,
        or the one the update installs (from v1, v2 whatever the payload: v2-bad
        is whole only once undone)."""
        return (self.running, INSTALLS.get(self.payload, "v2" if self.running == "v1" else self.running))

    def reproduce(self) -> str:
        argv = ["./brownout", "trial", "--method", self.method, "--payload", self.payload]
        if self.fault:
            f = self.fault
            argv += ["--fault", f"{f.kind}:{f.after_bytes}:{f.count}"]
        if self.corrupt_env:
            argv.append("--corrupt-env")
        if self.cut:
            argv += ["--cut", self.cut]
        if self.state:
            argv += ["--state", self.state]
        if self.client != "safe":
            argv += ["--client", self.client]
        if self.start != "v1":
            argv += ["--from", self.start]
        if self.lazy_writeback:
            argv.append("--lazy-writeback")
        return shlex.join(argv)


@dataclass
class _Boot:
    machine: Machine
    number: int
    outcome: Marker | None = None
    failure: str = ""
    wr_bytes: int | None = 0     # None: the block statistics could not be read
    since: int = 0               # console index after the last outcome seen
    ended: float = 0.0           # host time.monotonic() at power-off
    held: bool = False           # settled and held before the re-run, the machine stopped
    resumes: _Boot | None = None  # the held boot whose machine this one goes on in
    # Its BOOT_MARKERS printed before its first console line: by the held boot
    # it goes on from, or by the boot of the snapshot its machine restores.
    before: tuple[Marker, ...] = ()
    first_line: int = 0          # its first line on its machine's console
    end_line: int | None = None  # the first line that is no longer its own (a held boot gone on)
    restored: float | None = None  # host time.monotonic() when its machine went on from a snapshot

    def markers(self, event: str | None = None) -> list[Marker]:
        """What this boot printed, from U-Boot's choice and its init even when
        it goes on from an earlier one."""
        own = self.machine.console.markers(event, self.first_line, self.end_line)
        if event is not None and event not in BOOT_MARKERS:
            return own
        return [m for m in self.before if event in (None, m.event)] + own

    @property
    def record(self) -> BootRecord:
        return boot_record(self.number, self.markers(), self.outcome, self.failure,
                           self.resumes.number if self.resumes else 0)

    @property
    def rebooted(self) -> bool:
        """The device went down on its own: an update's reboot, a cut, a failed
        confirmation, or a boot that never reached its application."""
        if self.failure:
            return True
        if self.outcome is None:
            return False
        return self.outcome.event in ("reboot", "cut") or \
            (self.outcome.event == "confirm" and self.outcome.get("result") != "good")


def run_trial(spec: TrialSpec, run_dir: Path | None = None, server: UpdateServer | None = None,
              snapshot: Snapshot | None = None, same_disk: SameDisk | None = None,
              from_installed: bool = False, hold_rerun: bool = True) -> TrialResult:
    """Run one trial. `server` may be shared between trials (its counters are reset).
    With `snapshot`, the device starts held where the snapshot's phase begins
    (snapshot.py) instead of cold; the cut must come at or after that point.
    With `from_installed`, a cut in the confirmation starts from the disk the
    update leaves at its reboot (start.py) instead of running the update.
    With `same_disk`, a cut that leaves a disk already judged takes that outcome.
    With `hold_rerun`, the boot that settles after a cut holds, and the update's
    re-run goes on from it (restored after the disk is judged) instead of from a cold boot."""
    with _Workspace(run_dir, server) as (path, srv):
        return _Trial(spec, path, srv, snapshot, same_disk, from_installed, hold_rerun).run()


def update_began(markers: list[Marker]) -> float | None:
    """When the update began: its first phase marker, or where a client that
    names no phases says it starts (update-start); None before either."""
    return next((m.t for m in markers if m.event in ("phase", "update-start")), None)


def take_snapshot(spec: TrialSpec, phase: str, run_dir: Path,
                  server: UpdateServer | None = None, at: int = 0, parent: Snapshot | None = None) -> Snapshot:
    """Boot a fresh device, run `spec`'s update until `phase` starts (with `at`,
    up to that phase's at-th point), save the machine there. With `parent`, a
    snapshot of the same update held earlier in it, the update goes on from
    the parent's restore instead of from a cold boot."""
    if spec.cut or spec.fault or spec.corrupt_env:
        raise HarnessError("a snapshot is taken of a plain update: no cut, fault or corrupted env")
    method = methods.get(spec.method)
    # The confirmation's snapshot is held on the disk the update leaves at its reboot (start.py).
    confirm = phase == CONFIRM
    if parent is not None and (confirm or parent.phase == CONFIRM):
        raise HarnessError("the confirmation's snapshot runs on the installed disk: it is not taken "
                           "from another, nor another from it")
    held = dataclasses.replace(spec, cut=hold_spec(phase, method.phases if confirm else method.update_phases, at))
    with _Workspace(run_dir, server) as (path, srv):
        trial = _Trial(held, path, srv, from_installed=confirm)
        return trial.snapshot_from(parent, phase, at) if parent else trial.snapshot(phase, at)


def install(spec: TrialSpec, run_dir: Path, server: UpdateServer | None = None) -> tuple[Path, int, int]:
    """Run `spec`'s update plainly on a fresh device up to its reboot into the
    version it installs: that disk, and the bytes downloaded and written."""
    with _Workspace(run_dir, server) as (path, srv):
        trial = _Trial(dataclasses.replace(spec, cut=None), path, srv)
        downloaded, written = trial.install()
        return trial.device.disk, downloaded, written


def start_label(snapshot: Snapshot | None, installed: bool) -> str:
    """Where a trial's first power-on starts, as its result and journal entry say."""
    return f"snapshot:{snapshot.phase}" if snapshot else "installed" if installed else "cold"


def record_points(spec: TrialSpec, run_dir: Path | None = None, server: UpdateServer | None = None,
                  confirm: bool = False, expected_s: float | None = None) -> list[dict]:
    """Run the update once under the agent in record mode: every cut point it
    could take; with `confirm`, those of the installed version's first
    confirmation. `expected_s`: how long the last such record ran (progress)."""
    part = "confirm" if confirm else "update"
    return record_parts(spec, (part,), {part: expected_s} if expected_s else {}, run_dir, server)[part][0]


def record_parts(spec: TrialSpec, parts: tuple[str, ...], expected_s: dict[str, float],
                 run_dir: Path | None = None,
                 server: UpdateServer | None = None) -> dict[str, tuple[list[dict], float]]:
    """The cut points of each of `parts` ('update', 'confirm'), recorded one after
    the other on one device, and the seconds each took. `expected_s`: how long
    the last such records ran (progress)."""
    with _Workspace(run_dir, server) as (path, srv):
        return _Trial(spec, path, srv).record(parts, expected_s)


class _Workspace:
    def __init__(self, run_dir: Path | None, server: UpdateServer | None) -> None:
        self.own_dir = run_dir is None
        self.run_dir = Path(tempfile.mkdtemp(prefix="brownout-trial-")) if run_dir is None else Path(run_dir)
        self.own_server = server is None
        self.server = server or UpdateServer(methods.served_roots())

    def __enter__(self) -> tuple[Path, UpdateServer]:
        return self.run_dir, self.server

    def __exit__(self, *exc: object) -> None:
        if self.own_server:
            self.server.close()
        if self.own_dir:
            shutil.rmtree(self.run_dir, ignore_errors=True)


class _Trial:
    def __init__(self, spec: TrialSpec, run_dir: Path, server: UpdateServer,
                 snapshot: Snapshot | None = None, same_disk: SameDisk | None = None,
                 from_installed: bool = False, hold_rerun: bool = True) -> None:
        if snapshot and (spec.fault or spec.corrupt_env or not spec.cut or spec.lazy_writeback):
            raise HarnessError("a trial from a snapshot takes a cut, and no fault, corrupted env "
                               "or lazy writeback")
        if spec.state and snapshot:
            raise HarnessError("a crash state powers on cold: it has no snapshot")
        if spec.start != "v1" and snapshot:
            raise HarnessError(f"a trial from {spec.start} starts cold: its snapshots are of v1")
        if snapshot and spec.confirm_stage != (snapshot.phase == CONFIRM):
            raise HarnessError(f"a cut {'in' if spec.confirm_stage else 'before'} the confirmation cannot start "
                               f"from the {snapshot.phase} snapshot")
        point = cutspec.try_parse(spec.cut or "")
        if snapshot and point and point.plain_point and (point.index or 0) <= snapshot.points:
            raise HarnessError(f"cut {spec.cut} comes before the snapshot's hold at {snapshot.phase} "
                               f"(point {snapshot.points + 1}): start it cold")
        preparing = time.monotonic()
        self.timings: dict[str, float] = {}
        self.stage = "boots"                 # what a boot without the agent counts as (TIMINGS)
        self.spec = spec
        self.from_snapshot = snapshot
        self.method = methods.get(spec.method)
        self.run_dir = run_dir
        self.server = server
        self.boots: list[_Boot] = []
        self.notes: list[str] = []
        self.findings: dict | None = None    # the method's own judge, on the last root judged
        self.mixed_roots: list[dict] = []
        self.unsettled: list[str] = []       # cycles that ran out of boots
        self.rollback: str | None = None
        self.refusal: str | None = None
        self.same_disk = same_disk
        self.hold_rerun = hold_rerun
        self.cut_disk: str | None = None     # the key of the disk the cut left (samedisk.py)
        self.cut_fingerprint = ""
        # The key and fingerprint of the disk the cut left but for the target slot, and its partition.
        self.outside_target: tuple[str, str, str] | None = None
        self.judged_before: Judged | None = None
        self.claim: IO | None = None         # held while this trial judges the disk its cut left
        # Before this trial's server state is set: the start may be built by a trial of its own.
        base = snapshot.disk if snapshot else start_disk(spec.method, spec.start, server)
        self.installed = installed_disk(spec, server) if from_installed and spec.confirm_stage else None
        if self.installed and not snapshot:
            base = self.installed.disk
        self.server.reset_counters()
        self.server.disarm()
        if spec.fault:
            self.server.arm(spec.fault)
        self.state_point: dict[str, str] | None = None
        if spec.state:
            from ..storage.crash import prepare      # storage records its life with trials
            base, self.state_point = prepare(spec.method, spec.payload, spec.state, run_dir, spec.client)
        self.device = Device.create(spec.method, run_dir, net=UserNet(server.port), base=base,
                                    client=spec.client)
        self.device.config.extra_args += ["-action", "shutdown=pause"]
        if spec.lazy_writeback:
            # Room for the whole update in the page cache, next to the running system.
            self.device.config.memory_mib = LAZY_WRITEBACK_MEMORY_MIB
        if spec.corrupt_env:
            _corrupt_env(self.device)
        self.apps = require("apps")
        self._spent("prepare", preparing)

    def _spent(self, what: str, since: float) -> None:
        self.timings[what] = round(self.timings.get(what, 0.0) + time.monotonic() - since, 3)

    # -- fw_cfg requests: what the boot hook is asked to do on the next boot
    def _request(self, agent: str | None = None) -> list[str]:
        """The update, run under the agent (`agent`: cut or record) if given."""
        args = ["-fw_cfg", f"name=opt/brownout/update,string={self.method.request(self.spec.payload)}"]
        if self.spec.lazy_writeback:
            args += ["-fw_cfg", "name=opt/brownout/lazy-writeback,string=1"]
        client = self.method.clients[self.spec.client]
        if client:
            args += ["-fw_cfg", f"name=opt/brownout/client,file={rig_file(self.apps / client)}"]
        return args + (self._agent(agent) if agent else [])

    def _confirm_request(self, agent: str) -> list[str]:
        """The installed version's confirmation under the agent (cut or record), nothing installed."""
        return self._agent(agent) + ["-fw_cfg", f"name=opt/brownout/confirm,string={self.spec.installs}"]

    def _agent(self, agent: str) -> list[str]:
        args = ["-fw_cfg", f"name=opt/brownout/agent,file={rig_file(self.apps / 'brownout-fi')}"]
        if self.method.phase_rules:
            rules = self.run_dir / "phase-rules.txt"
            rules.write_text("".join(f"{rule}\n" for rule in self.method.phase_rules))
            args += ["-fw_cfg", f"name=opt/brownout/phase-rules,file={rules}"]
        spec_file = self.run_dir / f"{agent}.txt"
        if agent == "cut":
            write_spec_file(spec_file, self.spec.cut or "")
        else:
            spec_file.write_text("1")
        return args + ["-fw_cfg", f"name=opt/brownout/{agent},file={spec_file}"]

    def run(self) -> TrialResult:
        try:
            return self._run()
        finally:
            if self.claim is not None:
                self.claim.close()

    def _run(self) -> TrialResult:
        spec = self.spec
        restore = self.from_snapshot.state if self.from_snapshot else None
        with PowerSwitch(self.device.config, self.run_dir / "boots") as power:
            # After a cut the device boots unattended until it settles; then it is
            # judged offline (root and data as the cut left them, the machine
            # stopped or off), and only then is the update run again.
            # A crash state is the disk as the power cut left it: it only powers on.
            confirm = self._confirm_request("cut") if spec.confirm_stage else None
            request = [] if spec.state or self.installed else \
                self._request("cut" if spec.cut and not confirm else None)
            # The boot that settles after a plain cut holds, so a re-run needs no cold boot.
            held = self._request() + ["-fw_cfg", "name=opt/brownout/rerun,string=hold"] \
                if self.hold_rerun and request and spec.cut and not confirm else None
            first = self._cycle(power, request, agent=bool(spec.cut), restore=restore, confirm=confirm,
                                held=held, snapshot=self.from_snapshot)
            if self.from_snapshot and first[0].markers("pull-retry"):
                # No fault is armed on a trial from a snapshot: the restored machine lost a connection.
                raise HarnessError(f"a transfer broke in the boot restored from the {self.from_snapshot.phase} "
                                   f"snapshot (pull-retry): this trial is not the cold one; run it cold; "
                                   f"console log: {first[0].machine.run_dir / 'console.log'}")
            if self.judged_before is not None:
                return self._taken_from(self.judged_before, first)
            measures = self._measures(first)
            faulted = bool(spec.cut or spec.state)
            final, slot, verdicts = self._judge(first, "after the cut" if faulted else "after the update")
            findings, findings_rerun = self.findings, None
            if self._missed(first):
                final, verdicts = "missed", []
            elif faulted and final == "bricked":
                self.notes.append("not re-run: a bricked device cannot take an update")
            elif faulted and final == INSTALLS.get(spec.payload) and "atomic" in verdicts:
                # Nothing is left to complete: the update is in place and runs.
                verdicts.append("completes")
                if spec.confirm_stage:
                    final, slot = self._commit_holds(power, first, verdicts, final, slot)
            elif faulted:
                # Does the update still complete after the cut? Run it once more, no fault.
                self.server.disarm()
                self.stage = "re-run"
                again = self._rerun(power, first)
                self._completes(again, verdicts)
                findings_rerun = self.findings
        return self._remember(self._result(final, slot, verdicts, measures, first, findings, findings_rerun))

    def _judged_before(self, boot: _Boot) -> bool:
        """After the cut: name the disk it left, and find whether a trial of this
        campaign judged the same disk after the same update's cut; or, for a
        method with a target slot, the same disk but for that slot (samedisk.py)."""
        if self.same_disk is None or not (boot.outcome and boot.outcome.event == "cut"):
            return False
        began = time.monotonic()
        try:
            fingerprint = disk_fingerprint(self.device.disk)
            if fingerprint is None:
                return False
            self.cut_disk = self._disk_key(fingerprint)
            self.cut_fingerprint = fingerprint
            self.judged_before = self.same_disk.store.get(self.cut_disk)
            target = self._target_range()
            # Wanted to look up, or to keep a judged outcome under: not when the whole disk matched.
            outside = disk_fingerprint(self.device.disk, without=target[1]) \
                if target and self.judged_before is None else None
            if target and outside is not None:
                self.outside_target = (self._disk_key(outside, target[0]), outside, target[0])
                self.judged_before = self.same_disk.store.get(self.outside_target[0])
            if self.judged_before is None:
                self.judged_before = self._claimed()
            return self.judged_before is not None
        finally:
            self._spent("same disk", began)

    def _claimed(self) -> Judged | None:
        """Claim the judging of the disk the cut left, by its widest name (but
        for the target slot, where the method has one), waiting while another
        trial holds that claim; then that trial's outcome if it kept one this
        disk takes (the claim let go), else None (the claim kept until this
        trial is done)."""
        assert self.same_disk is not None and self.cut_disk is not None
        store = self.same_disk.store
        key = self.outside_target[0] if self.outside_target else self.cut_disk
        self.claim, waited = store.claim_when_free(key, CLAIM_WAIT_S)
        # Looked up again even without a wait: a trial may have kept its outcome and let go meanwhile.
        found = store.get(self.cut_disk) or (store.get(key) if self.outside_target else None)
        if found is not None and self.claim is not None:
            self.claim.close()
            self.claim = None
        if waited >= CLAIM_POLL_S:
            which = f"the same disk but for partition {self.outside_target[2]}" if self.outside_target \
                else "the same disk"
            self.notes.append(
                f"waited {waited:.1f} s while trial {found.trial} judged {which}" if found is not None
                else f"waited {waited:.1f} s while another trial judged {which}; its outcome did not carry "
                     f"over to this disk, judged here" + ("" if self.claim else " (the wait timed out)"))
        return found

    def _disk_key(self, fingerprint: str, without: str = "") -> str:
        spec = self.spec
        return hashlib.sha256(json.dumps(
            [spec.method, spec.payload, spec.client, spec.start, spec.lazy_writeback, spec.confirm_stage,
             guest_clock(), fingerprint] + ([f"without {without}"] if without else [])).encode()).hexdigest()

    def _target_range(self) -> tuple[str, tuple[int, int]] | None:
        """The method's target slot: its partition's name, offset and size."""
        if self.method.target_slot is None:
            return None
        name = self.method.target_slot.partition
        part = next(p for p in partitions(self.spec.method) if p.name == name)
        return name, (part.offset, part.size)

    def _target_unread(self) -> bool:
        """From the cut until the update's own reboot after the re-run (which comes
        after the target slot is written whole, or found whole against the signed
        payload), every boot ran another slot: the slot's bytes at the cut decided
        nothing this trial saw but whether the re-run pulled the payload again."""
        target = self.method.target_slot
        assert target is not None
        cut = next((i for i, b in enumerate(self.boots) if b.outcome and b.outcome.event == "cut"), None)
        if cut is None:
            return False
        for n, boot in enumerate(self.boots[cut:]):
            ran = boot.markers(target.booted)
            if not ran or ran[-1].get("slot", target.name) == target.name:
                return False
            if n > 0 and any(m.get("reason") == "update" for m in boot.markers("reboot")):
                return True
        return True

    def _remember(self, result: TrialResult) -> TrialResult:
        """Leave a judged cut's outcome for later trials whose cut leaves the same
        disk, or the same disk but for a target slot no boot ran before the update
        wrote it again."""
        if self.same_disk is None or self.cut_disk is None or result.final == "missed":
            return result
        taken = {k: getattr(result, k) for k in TAKEN_FROM_THE_DISK}
        self.same_disk.store.put(self.cut_disk, Judged(self.same_disk.trial, self.cut_fingerprint, taken))
        if self.outside_target is not None and self._target_unread():
            key, fingerprint, partition = self.outside_target
            self.same_disk.store.put(key, Judged(self.same_disk.trial, fingerprint, taken, without=partition))
        return result

    def _taken_from(self, judged: Judged, first: list[_Boot]) -> TrialResult:
        """This trial's result, its outcome that of the trial that judged the same disk."""
        taken = judged.result
        if judged.without:
            self.notes.append(f"not booted after the cut: the disk it left held the same bytes as the disk "
                              f"trial {judged.trial}'s cut left, but for partition {judged.without}, which "
                              f"no boot of that trial ran before the update wrote it again; its outcome is this one")
        else:
            self.notes.append(f"not booted after the cut: the disk it left held the same bytes as the disk "
                              f"trial {judged.trial}'s cut left, whose outcome this is")
        self.notes += [f"{judged.trial}: {note}" for note in taken["notes"]]
        own = self._result(taken["final"], taken["slot"], list(taken["verdicts"]),
                           self._measures(first, settled=False), first)
        same = {"trial": judged.trial, "fingerprint": judged.fingerprint}
        return dataclasses.replace(own, **{k: taken[k] for k in TAKEN_FROM_THE_DISK if k != "notes"},
                                   notes=self.notes,
                                   same_disk_as=same | ({"without": judged.without} if judged.without else {}))

    def _commit_holds(self, power: PowerSwitch, first: list[_Boot], verdicts: list[str],
                      final: str, slot: str) -> tuple[str, str]:
        """One more power-on, nothing asked: a committed update must come up again
        (mender#823's failure is a reboot after the commit taking the rollback
        path). Returns the final version and slot, judged again when it did not hold."""
        self.stage = "commit check"
        check = self._cycle(power, [], agent=False)
        undone = commit_undone([b.record for b in first + check], self.spec.installs or "")
        if undone is None:
            return final, slot
        self.notes.append(undone)
        final, slot, _ = self._judge(check, "after one more power-on")
        verdicts.append("committed-rolled-back")
        return final, slot

    def _missed(self, boots: list[_Boot]) -> bool:
        """A cut trial whose cut never fired has no cut to judge: the agent said
        so, or the boots ended another way (an update error ends a boot before
        the agent speaks)."""
        if any(b.outcome and b.outcome.event == "cut-missed" for b in boots):
            self.notes.append("the cut point never fired: the update ended first")
            return True
        if self.spec.cut and not any(b.outcome and b.outcome.event == "cut" for b in boots):
            errors = update_errors([b.record for b in boots])
            failed = next((b for b in boots if b.failure), None)
            self.notes.append("the cut point never fired: " + (
                f"the update failed first ({errors[0][0]}: {errors[0][1]})" if errors
                else f"boot {failed.number} failed first ({failed.failure})" if failed
                else "no boot ended on it"))
            return True
        return False

    def _completes(self, boots: list[_Boot], verdicts: list[str]) -> None:
        final, _, _ = self._judge(boots, "after the re-run")
        if final == INSTALLS.get(self.spec.payload):
            verdicts.append("completes")
        else:
            self.notes.append(f"re-running the update after the cut ended in {final}")

    def _result(self, final: str, slot: str, verdicts: list[str], measures: Measures,
                first: list[_Boot], findings: dict | None = None,
                findings_rerun: dict | None = None) -> TrialResult:
        spec = self.spec
        cut = next((b.outcome for b in first if b.outcome and b.outcome.event == "cut"), None)
        records = [b.record for b in self.boots]
        errors = update_errors(records)
        point = self.state_point or (dict(cut.fields) if cut else None)
        return TrialResult(spec.method, spec.payload, final, verdicts, measures, spec.reproduce(),
                           slot, spec.cut or spec.state or "", point, spec.client,
                           self.notes, str(self.run_dir),
                           started=start_label(self.from_snapshot, self.installed is not None),
                           dpkg=findings, dpkg_rerun=findings_rerun, mixed_roots=self.mixed_roots,
                           boots=[r.as_dict() for r in records],
                           anomalies=anomalies(records, spec.payload) + self.unsettled,
                           rollback=self.rollback, refusal=self.refusal,
                           update_error=error_fields(errors[0]) if errors else None,
                           lazy_writeback=spec.lazy_writeback, start=spec.start, timings=dict(self.timings))

    def install(self) -> tuple[int, int]:
        """Run the update plainly up to its reboot into the version it installs
        (asymmetric: by way of recovery), then power off: bytes downloaded and written."""
        config = self.device.config
        base = list(config.extra_args)
        written = 0
        with PowerSwitch(config, self.run_dir / "boots") as power:
            for _ in range(self.method.request_boots):
                config.extra_args = base + self._request()
                machine = power.on()
                try:
                    # Connected now: QMP tells only the clients it has of the
                    # guest's reboot, which can follow its marker at once.
                    qmp = machine.qmp()
                    line = machine.console.wait_for_line(
                        re.compile(r"^BROWNOUT (reboot|update-error|update-none)\b"), timeout=STEP_TIMEOUT)
                    if not line.text.startswith("BROWNOUT reboot"):
                        raise HarnessError(f"the update did not install ({line.text.strip()}); "
                                           f"console log: {machine.run_dir / 'console.log'}")
                    qmp.wait_event("SHUTDOWN", timeout=30.0)
                    written += written_bytes(machine)
                finally:
                    power.cut()
        config.extra_args = base
        return self.server.bytes_served, written

    def snapshot(self, phase: str, at: int = 0) -> Snapshot:
        """Run the update under a hold at `phase`, save the machine there, power off.
        The boots before the one where the update runs (asymmetric: the root's
        hand-over to recovery) run plainly first. At phase confirm, the installed
        disk's first boot is held in its confirmation instead."""
        config = self.device.config
        base = list(config.extra_args)
        written = 0
        markers: list[Marker] = []
        confirm = phase == CONFIRM
        boot = 1 if confirm else self.method.request_boots
        with PowerSwitch(config, self.run_dir / "boots") as power:
            for _ in range(1, boot):
                config.extra_args = base + self._request()
                machine = power.on()
                try:
                    qmp = machine.qmp()
                    machine.console.wait_for_marker("reboot", timeout=STEP_TIMEOUT)
                    qmp.wait_event("SHUTDOWN", timeout=30.0)
                    written += written_bytes(machine)
                    markers += machine.console.markers()
                finally:
                    power.cut()
            state = self.run_dir / f"{phase}.state"
            held_run = self._confirm_request("cut") if confirm else self._request("cut")
            config.extra_args = base + held_run + held_memory(state, config.memory_mib)
            machine = power.on()
            try:
                held, marker = self._held(machine, phase, at)
                own = machine.console.markers()
                markers += own
                began = update_began(markers)
                elapsed = held.t - began if began is not None else 0.0
                save(machine, state)
                written += written_bytes(machine)
            finally:
                power.cut()
                config.extra_args = base
        beats = [m.t for m in markers if m.event == "heartbeat"]
        up = any(m.event == "heartbeat" for m in own)
        log.info("snapshot at %s %s (boot %d): %s points before it, %s", phase,
                 f"point {at}" if at else "start", boot, marker.get("points"), state)
        return Snapshot(phase, self.device.disk, state, int(marker.get("points", "0")),
                        self.server.bytes_served, written, round(elapsed, 3), at=at, boot=boot,
                        boot_markers=boot_markers_of(own),
                        down_s=None if up or not beats else round(held.t - max(beats), 3))

    def snapshot_from(self, parent: Snapshot, phase: str, at: int = 0) -> Snapshot:
        """The update restored where `parent` holds it, let go on to a hold at
        `phase` (point `at`) and saved there: the boots and the work before the
        parent's hold are the parent's, not run again. The disk starts as a
        copy of the parent's (an overlay on the same disk below) and the memory
        as a copy of its memory file, mapped shared, so saving writes nothing more.
        The agent, told to hold again, keeps the points it saw (faultinject/hold.h)."""
        config = self.device.config
        base = list(config.extra_args)
        state = self.run_dir / f"{phase}.state"
        shutil.copyfile(parent.disk, self.device.disk)
        copy_sparse(ram_file(parent.state), ram_file(state))
        with PowerSwitch(config, self.run_dir / "boots") as power:
            config.extra_args = base + self._request("cut") + continued_memory(state, config.memory_mib)
            machine = power.on()
            try:
                restored = restore_snapshot(machine, parent.state)
                held, marker = self._held(machine, phase, at)
                own = machine.console.markers()
                save(machine, state)
                written = written_bytes(machine)
            finally:
                power.cut()
                config.extra_args = base
        beats = [m.t for m in own if m.event == "heartbeat"]
        down_s = None if parent.down_s is None else \
            round(held.t - max(beats), 3) if beats else round(parent.down_s + held.t - restored, 3)
        log.info("snapshot at %s %s (boot %d), from the %s snapshot: %s points before it, %s", phase,
                 f"point {at}" if at else "start", parent.boot, parent.phase, marker.get("points"), state)
        return Snapshot(phase, self.device.disk, state, int(marker.get("points", "0")),
                        parent.bytes_downloaded + self.server.bytes_served, parent.bytes_written + written,
                        round(parent.elapsed_s + held.t - restored, 3), at=at, boot=parent.boot,
                        boot_markers=parent.boot_markers, down_s=down_s)

    def _held(self, machine: Machine, phase: str, at: int) -> tuple[Line, Marker]:
        """The agent's hold at `phase` (point `at`): its console line and marker."""
        held = machine.console.wait_for_line(HELD, timeout=STEP_TIMEOUT)
        marker = parse_marker(held.text, held.t)
        if marker is None or marker.event != "hold":
            where = f"point {at} of phase {phase}" if at else f"phase {phase}"
            raise HarnessError(f"the update never reached {where} to hold there ({held.text.strip()}); "
                               f"console log: {machine.run_dir / 'console.log'}")
        return held, marker

    def _wait_record(self, machine: Machine, what: str, expected_s: float | None) -> Marker:
        """The record's end, with a progress line every RECORD_PROGRESS_S: the
        agent lists the points only once the run is over."""
        began = time.monotonic()
        deadline = began + self.method.record_timeout
        while True:
            try:
                return machine.console.wait_for_marker(
                    "record-done", timeout=min(RECORD_PROGRESS_S, max(0.1, deadline - time.monotonic())))
            except ConsoleTimeout:
                if time.monotonic() >= deadline:
                    raise
            elapsed = time.monotonic() - began
            left = f", about {max(0, int(expected_s - elapsed))} s left by the last record" \
                if expected_s else ", no earlier record to estimate the time left from"
            log.info("record: %s %s under the agent, %d s of it%s", self.spec.method, what, int(elapsed), left)

    def record(self, parts: tuple[str, ...], expected_s: dict[str, float]) -> dict[str, tuple[list[dict], float]]:
        """The cut points of `parts` in turn, and the seconds each took: 'update'
        (the update under the agent) and 'confirm' (the installed version's
        first confirmation). A confirmation recorded alone comes after the
        update run plainly; after a recorded update, it runs on the disk that
        update left, which it synced before it said it was done."""
        config = self.device.config
        base = list(config.extra_args)
        updates = self.method.request_boots
        recorded: dict[str, tuple[list[dict], float]] = {}
        with PowerSwitch(config, self.run_dir / "boots") as power:
            for part in parts:
                began = time.monotonic()
                confirm = part == "confirm"
                # The boots before the recorded one only hand the update on (asymmetric:
                # to recovery), or install it before its confirmation is recorded.
                if not confirm:
                    requests = [self._request("record")] * updates
                else:
                    requests = ([] if "update" in recorded else [self._request()] * updates) + \
                        [self._confirm_request("record")]
                # What the recorded update wrote, while its disk may become the installed one.
                adopt = part == "update" and "confirm" in parts and self.spec.start == "v1"
                written: int | None = 0 if adopt else None
                for n, request in enumerate(requests, 1):
                    config.extra_args = base + request
                    machine = power.on()
                    qmp = machine.qmp()
                    try:
                        if n < len(requests):
                            machine.console.wait_for_marker("reboot", timeout=STEP_TIMEOUT)
                            qmp.wait_event("SHUTDOWN", timeout=30.0)
                            written = _plus_written(machine, written)
                            continue
                        done = self._wait_record(machine, "confirmation" if confirm else "update",
                                                 expected_s.get(part))
                        written = _plus_written(machine, written)
                    finally:
                        power.cut()
                if done.get("status") != "0":
                    raise HarnessError(f"the {'confirmation' if confirm else 'update'} failed while recording "
                                       f"(status {done.get('status')}); console log: "
                                       f"{machine.run_dir / 'console.log'}")
                points = recorded_points([line.text for line in machine.console.lines], done,
                                         machine.run_dir / "console.log")
                recorded[part] = (points, round(time.monotonic() - began, 1))
                if written is not None:
                    self._adopt_installed(written)
        config.extra_args = base
        return recorded

    def _adopt_installed(self, written: int) -> None:
        """The disk the recorded update left, before its confirmation is recorded
        on it, as the update's installed disk (start.py): failing costs the
        first trial from it that disk's build only."""
        try:
            adopt_installed(self.spec, self.device.disk, self.server.bytes_served, written)
        except (OSError, HarnessError, subprocess.SubprocessError) as e:
            log.warning("record: the disk %s's update left was not kept as its installed disk (%s)",
                        self.spec.method, e)

    def _cycle(self, power: PowerSwitch, request: list[str], agent: bool,
               restore: Path | None = None, confirm: list[str] | None = None,
               held: list[str] | None = None, resumes: _Boot | None = None,
               snapshot: Snapshot | None = None) -> list[_Boot]:
        """Power on with `request` (the first boot restored from `restore`, if
        given), then without, until the device settles or its boots run out.
        With `confirm`, the boot after the update's gets it: the agent is on
        that boot, in the installed version's confirmation. With `held`, the
        boots after the request's get it instead of nothing: a boot that
        settles then holds before the update's re-run, and is left stopped.
        `resumes`: a held boot, whose machine the first boot goes on in.
        `snapshot`: the one `restore` holds, whose boots before its own are
        behind the device."""
        config = self.device.config
        base = list(config.extra_args)
        boots: list[_Boot] = []
        # From the installed disk, the update's boots are behind the device.
        behind = self.method.request_boots if self.installed and not request else \
            snapshot.boot - 1 if snapshot else 0
        limit = self.method.max_boots - behind
        last_request = self.method.request_boots - behind
        agent_boot = last_request + 1 if confirm is not None else last_request
        for boot_no in range(1, limit + 1):
            holds = False
            if boot_no <= last_request:
                config.extra_args = base + request
            elif confirm is not None and boot_no == agent_boot:
                config.extra_args = base + confirm
            else:
                config.extra_args = base + (held or [])
                holds = held is not None
            if restore and boot_no == 1:
                config.extra_args += restored_memory(restore, config.memory_mib)
            boot = self._boot(power, updating=boot_no == 1 and bool(request),
                              agent=agent and boot_no == agent_boot,
                              restore=restore if boot_no == 1 else None, holds=holds,
                              resumes=resumes if boot_no == 1 else None,
                              before=snapshot.boot_markers if snapshot and boot_no == 1 else ())
            boots.append(boot)
            if agent and boot_no == agent_boot and self._judged_before(boot):
                break
            if not boot.rebooted:
                break
        else:
            self.unsettled.append(f"no boot settled within {limit} boots")
            self.notes.append(self.unsettled[-1])
        config.extra_args = base
        return boots

    def _boot(self, power: PowerSwitch, updating: bool, agent: bool,
              restore: Path | None = None, holds: bool = False, resumes: _Boot | None = None,
              before: tuple[Marker, ...] = ()) -> _Boot:
        """One power-on until its outcome, or with `resumes` the held boot's
        machine let go on for the re-run. With `holds`, a boot that settles is
        left stopped at its hold before the re-run (see `_rerun`). `before`:
        what a restored snapshot's boot said of what it runs before its hold."""
        began = time.monotonic()
        machine = resumes.machine if resumes else power.on()
        boot = _Boot(machine, len(self.boots) + 1, resumes=resumes,
                     before=boot_markers_of(resumes.markers()) if resumes else before,
                     first_line=len(machine.console.lines), since=len(machine.console.lines))
        self.boots.append(boot)
        qmp = machine.qmp()
        if resumes:
            resumes.end_line = boot.first_line
            qmp.execute("cont")
            machine.console.send("go\n")
        if restore:
            # When the machine went on, not when its status said so: what it printed
            # in between (a cut at the first point after the hold) counts from then.
            boot.restored = restore_snapshot(machine, restore)
            self._spent("restore", began)
            began = time.monotonic()
        try:
            while True:
                line = machine.console.wait_for_line(OUTCOME, timeout=STEP_TIMEOUT,
                                                     since_index=boot.since)
                marker = parse_marker(line.text, line.t)
                boot.outcome = marker
                boot.since = machine.console.lines.index(line) + 1
                if marker is None:
                    continue
                # On the update boot, confirming v1 comes before the install
                # (confirming the version it installs ends it: nothing is left to do);
                # under the agent, the client's reboot is the agent's to make.
                if updating and marker.event == "confirm" and marker.get("result") == "good" \
                        and marker.get("version") != self.spec.installs:
                    continue
                if agent and marker.event in ("reboot", "settled"):
                    continue
                # In a confirmation under the agent, the cut or the agent's end ends the boot.
                if agent and self.spec.confirm_stage and marker.event == "confirm":
                    continue
                # A boot that is no finished device (recovery) goes on after an
                # error: it falls back or retries, then reboots.
                if marker.event == "update-error" and not self._finished_device(boot):
                    continue
                if marker.event == "agent-done" and marker.get("status") != "3":
                    # The agent itself failed (a bad spec, say): its stderr is on the console.
                    boot.failure = f"the fault agent failed (status {marker.get('status')})"
                    self.notes.append(f"boot {len(self.boots)}: {boot.failure}")
                    power.cut()
                    raise HarnessError(f"{boot.failure}; console log: {machine.run_dir / 'console.log'}")
                break
        except BootFailure as e:
            boot.failure = e.reason
            self.notes.append(f"boot {len(self.boots)}: {e.reason}")
        except (ConsoleTimeout, MachineExited) as e:
            boot.failure = type(e).__name__
            self.notes.append(f"boot {len(self.boots)}: {str(e).splitlines()[0]}")
            # What each task was doing when the guest stopped answering, before its power goes.
            if isinstance(e, ConsoleTimeout) and machine.list_tasks():
                self.notes.append(f"boot {len(self.boots)}: the guest's tasks when it stopped answering "
                                  f"(SysRq w and t) are in {machine.run_dir / 'console.log'}")
        # A boot that stopped answering is cut at once: it had its time.
        if boot.rebooted and boot.failure != ConsoleTimeout.__name__:
            try:
                qmp.wait_event("SHUTDOWN", timeout=30.0)
            except HarnessError:
                self.notes.append(f"boot {len(self.boots)}: no guest reboot seen, power cut")
        elif holds and boot.outcome is not None:
            boot.held = self._hold(machine, boot)
        boot.wr_bytes = self._written(machine, boot.number)
        if resumes and boot.wr_bytes is not None:
            # One machine, one counter: the held boot's writes are its own.
            boot.wr_bytes = None if resumes.wr_bytes is None else boot.wr_bytes - resumes.wr_bytes
        if not boot.held:
            power.cut()
        self.notes += [f"boot {boot.number}: repaired {what} before mounting it" for what in boot.record.repairs]
        boot.ended = time.monotonic()
        self._spent("to the cut" if agent else self.stage, began)
        return boot

    def _hold(self, machine: Machine, boot: _Boot) -> bool:
        """Wait for the settled boot's hold and stop the machine there: stopping
        flushes QEMU's block layer, so the disk can be judged while it is stopped.
        False (the boot is then cut as any other) when it does not hold."""
        try:
            machine.console.wait_for_line(HOLD, timeout=HOLD_TIMEOUT, since_index=boot.since)
            machine.qmp().execute("stop")
        except (ConsoleTimeout, MachineExited, HarnessError) as e:
            self.notes.append(f"boot {boot.number}: settled but did not hold for the re-run: "
                              f"{str(e).splitlines()[0]}")
            return False
        return True

    def _rerun(self, power: PowerSwitch, first: list[_Boot]) -> list[_Boot]:
        """The update once more, no fault: in the held boot, let go on the
        console (no cold boot of the version the cut left), or with a cold
        boot when that boot did not hold."""
        held = first[-1] if first[-1].held else None
        return self._cycle(power, self._request(), agent=False, resumes=held)

    def _finished_device(self, boot: _Boot) -> bool:
        inits = boot.markers("init")
        return not inits or self.method.root_of(dict(inits[-1].fields)) is not None

    def _judge(self, boots: list[_Boot], when: str) -> tuple[str, str, list[str]]:
        """What the device runs after `boots`, checked offline: final, slot, verdicts."""
        began = time.monotonic()
        try:
            return self._check(boots, when)
        finally:
            self._spent("checks", began)

    def _check(self, boots: list[_Boot], when: str) -> tuple[str, str, list[str]]:
        spec = self.spec
        parts = {p.name: p for p in partitions(spec.method)}
        inits = boots[-1].markers("init")
        slot = inits[-1].get("slot", "") if inits else ""
        location = self.method.root_of(dict(inits[-1].fields)) if inits else None
        verdicts: list[str] = []
        if not boots[-1].markers("heartbeat") or location is None:
            return "bricked", slot, verdicts
        versions = require(self.method.digests)
        root = check_root(self.device.disk, parts[location.partition], location.path, versions)
        final = classify(root.digest, load_known(versions / "digests.jsonl")) if root.digest else "mixed"
        if root.nearest:
            self.mixed_roots.append({"when": when, "nearest": root.nearest, "count": root.differ_count,
                                     "paths": list(root.differs)})
        data = check_fs(self.device.disk, parts["data"])
        if final in spec.whole_versions and root.fs.clean and data.clean:
            verdicts.append("atomic")
        for fs in (root.fs, data):
            if not fs.clean:
                self.notes.append(f"fsck -n of {fs.partition} is not clean")
        if self.method.judge.root:
            judgement = self.method.judge.root(root)
            self.findings = judgement.facts
            self.notes += judgement.notes
        new = INSTALLS.get(spec.payload)
        if new and final == new and root.has_package(NEW_PACKAGE[new]) \
                and not (spec.cut or spec.state):
            verdicts.append("completes")
        records = [b.record for b in boots]
        if spec.payload == "v2-bad" and final == "v1" and not root.has_package("bc"):
            # Final v1 alone is no rollback: v2-bad must have booted and been undone.
            self.rollback = rollback_evidence(records)
            if self.rollback:
                verdicts.append("rolled-back")
            else:
                self.notes.append("final v1 without bc, but the boots show no v2-bad undone: not a rollback")
        errors = update_errors(records)
        if errors and final == spec.running:
            # Only the verification the payload was made to fail is its refusal.
            self.refusal = refusal_evidence(spec.payload, records)
            if self.refusal:
                verdicts.append("refused")
            reason, detail, *_ = errors[0]
            self.notes.append(f"update {'refused' if self.refusal else 'failed'}: {reason} ({detail})")
        return final, slot, verdicts

    def _measures(self, boots: list[_Boot], settled: bool = True) -> Measures:
        """What `boots` measured; without `settled` (no boot after the cut), no downtime."""
        beats = [m.t for b in boots for m in b.markers("heartbeat")]
        # The update ends with its own reboot (not a hand-over to recovery), a cut, or in place.
        ends = [m.t for b in boots for m in b.markers()
                if m.event == "cut" or (m.event == "reboot" and m.get("reason") == "update")
                or m.event == "settled"]
        snap = self.from_snapshot
        # From a snapshot, the update was already under way when the machine was
        # restored: its time before the hold is the snapshot's, the rest runs from the restore.
        start = boots[0].restored if snap else update_began([m for b in boots for m in b.markers()])
        if snap and snap.down_s is not None and start is not None:
            # Restored where the update was held with the device already down
            # (recovery): its last heartbeat came that long before.
            beats.insert(0, start - snap.down_s)
        gaps = [b - a for a, b in zip(beats, beats[1:]) if start is not None and b > start]
        switched = len(boots) > 1 or self.method.switch_reboots == 0
        # An outage that never ends: the update began, the device went down, and
        # its application never beat again. It lasts to the end of the trial.
        last_up = boots[-1].markers("heartbeat")
        still_down = settled and start is not None and switched and not (last_up and last_up[-1].t > start)
        if start is not None and still_down:
            down_since = max(beats) if beats else start
            gaps.append(boots[-1].ended - down_since)
            self.notes.append("no heartbeat came back after the update began: downtime runs to the end of the trial")
        written = [b.wr_bytes for b in boots]
        # What the update did before this trial's first power-on: the installed disk's, the snapshot's, or both.
        before = [b for b in (self.installed, snap) if b is not None]
        total_written = None if None in written else \
            sum(written) + sum(b.bytes_written for b in before)  # type: ignore
        return Measures(
            downtime_s=round(max(gaps), 3) if gaps and switched and settled else None,
            reboots=len(boots) - 1 + (snap.boot - 1 if snap else 0),
            bytes_downloaded=self.server.bytes_served + sum(b.bytes_downloaded for b in before),
            bytes_written=total_written,
            duration_s=round(ends[0] - start + (snap.elapsed_s if snap else 0), 3)
            if start is not None and ends else None,
            **(self.method.judge.measures([m for b in boots for m in b.markers()])
               if self.method.judge.measures else {}),
            downtime_open=still_down,
        )

    def _written(self, machine: Machine, boot_number: int) -> int | None:
        """The disk's written bytes this boot, or None (noted) when QMP cannot say."""
        try:
            return written_bytes(machine)
        except HarnessError as e:
            self.notes.append(f"boot {boot_number}: block statistics unavailable, bytes written unknown: "
                              f"{str(e).splitlines()[0]}")
            return None


def rig_file(program: Path) -> Path:
    """`program` gzip'd, as the rig hands programs to the guest over fw_cfg
    (images/rootfs/rig.sh says why), kept under build/ by its content."""
    data = program.read_bytes()
    kept = BUILD / "rig" / f"{program.name}-{hashlib.sha256(data).hexdigest()[:16]}.gz"
    if not kept.exists():
        # A record's methods, each a thread, may write it at once.
        replace_file(kept, gzip.compress(data, mtime=0))
    return kept


POINTS_LINE = "BROWNOUT-POINTS-GZ "


def recorded_points(lines: list[str], done: Marker, log_path: Path) -> list[dict]:
    """The points a record printed (rig.sh: JSON lines, gzip'd, in base64 lines),
    checked against the count its record-done marker gives."""
    encoded = "".join(text[len(POINTS_LINE):].strip() for text in lines if text.startswith(POINTS_LINE))
    try:
        text = gzip.decompress(base64.b64decode(encoded, validate=True)).decode() if encoded else ""
        points = [json.loads(line) for line in text.splitlines() if line.strip()]
    except (ValueError, OSError, EOFError, zlib.error) as e:
        raise HarnessError(f"the record's point list does not decode ({e}); console log: {log_path}") from None
    if str(len(points)) != done.get("points"):
        raise HarnessError(f"the record lists {len(points)} points, its end says {done.get('points')}; "
                           f"console log: {log_path}")
    return points


def written_bytes(machine: Machine) -> int:
    """Bytes the guest wrote to its disk, from QMP; raises HarnessError when QMP cannot say."""
    stats = machine.qmp().execute("query-blockstats", timeout=5.0)
    if not any(s.get("device") == "disk" for s in stats):
        raise HarnessError("query-blockstats lists no device 'disk'")
    return sum(s["stats"]["wr_bytes"] for s in stats if s.get("device") == "disk")


def _plus_written(machine: Machine, so_far: int | None) -> int | None:
    """`so_far` and the bytes `machine` wrote to its disk; None once QMP cannot say."""
    if so_far is None:
        return None
    try:
        return so_far + written_bytes(machine)
    except HarnessError as e:
        log.warning("the bytes the update wrote are unknown (%s)", e)
        return None


def _corrupt_env(device: Device) -> None:
    """Overwrite both env copies in the device's overlay (qemu-io, no mount)."""
    env = next(p for p in partitions(device.method) if p.name == "env")
    result = subprocess.run(["qemu-io", "-f", "qcow2", "-c", f"write -P 0x5a {env.offset} 32k",
                             str(device.disk)], capture_output=True, text=True)
    if result.returncode != 0:
        raise HarnessError(f"qemu-io could not corrupt the env: {result.stderr.strip()}")
