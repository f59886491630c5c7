"""One trial: a device on v1 is updated, boots unattended, and is judged.

The device starts on v1 with an update request in QEMU's fw_cfg (outside the
disks under test). Its boot hook confirms the running version, installs the
update and reboots. Every guest reboot stops QEMU (`-no-reboot` with
`-action shutdown=pause`, so the block statistics can still be read); the
harness powers the device on again, without the request, up to the boot
limit. When a boot confirms itself good, or refuses the update, the trial
ends: power off, then the disk is checked offline and the verdicts drawn.
"""
from __future__ import annotations

import logging
import re
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import BootFailure, ConsoleTimeout, HarnessError, MachineExited
from .console import Marker, parse_marker
from .device import Device, partitions
from .digest import classify, load_known
from .disk import check_fs, check_root
from .images import require
from .power import PowerSwitch
from .qemu import Machine, UserNet
from .server import Fault, UpdateServer

log = logging.getLogger(__name__)

PAYLOADS = ("v2", "v2-bad", "v2-tampered", "v2-badsig")
BOOT_LIMIT = 3                       # tries a new slot gets (BOOT_<slot>_LEFT)
MAX_BOOTS = BOOT_LIMIT + 3           # the update boot, the tries, the fallback, one spare
GUEST_ADDR = "10.0.2.100"
STEP_TIMEOUT = 240.0                 # one boot's work: boot, confirm, a full download
OUTCOME = re.compile(r"^BROWNOUT (reboot|confirm|update-error)\b")
SLOT_PARTITION = {"A": "rootA", "B": "rootB"}


@dataclass(frozen=True)
class Measures:
    downtime_s: float | None     # longest heartbeat gap once the update began
    reboots: int                 # power-ons after the first
    bytes_downloaded: int        # served by the update server
    bytes_written: int           # QMP blockstats, all boots, the device's disk
    duration_s: float | None     # first phase marker to the update's reboot


@dataclass
class TrialResult:
    method: str
    payload: str
    final: str                   # v1 | v2 | v2-bad | mixed | bricked
    verdicts: list[str]
    measures: Measures
    reproduce: str
    slot: str = ""
    notes: list[str] = field(default_factory=list)
    log_dir: str = ""

    def as_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        m = self.measures
        downtime = f"{m.downtime_s:.2f} s" if m.downtime_s is not None else "-"
        duration = f"{m.duration_s:.1f} s" if m.duration_s is not None else "-"
        lines = [f"{self.method} {self.payload}: final {self.final} (slot {self.slot or '-'}), "
                 f"verdicts: {', '.join(self.verdicts) or 'none'}",
                 f"  downtime {downtime}, reboots {m.reboots}, downloaded {m.bytes_downloaded:,} B, "
                 f"written {m.bytes_written:,} B, update {duration}"]
        lines += [f"  note: {n}" for n in self.notes]
        lines.append(f"  reproduce: {self.reproduce}")
        return "\n".join(lines)


@dataclass(frozen=True)
class TrialSpec:
    method: str = "ab"
    payload: str = "v2"
    fault: Fault | None = None
    corrupt_env: bool = False

    def __post_init__(self) -> None:
        if self.method != "ab":
            raise HarnessError(f"unknown method '{self.method}' for a trial; known: ab")
        if self.payload not in PAYLOADS:
            raise HarnessError(f"unknown payload '{self.payload}'; known: {', '.join(PAYLOADS)}")

    def reproduce(self) -> str:
        argv = ["./brownout", "trial", "--method", self.method, "--payload", self.payload]
        if self.fault:
            f = self.fault
            argv += ["--fault", f"{f.kind}:{f.after_bytes}:{f.count}"]
        if self.corrupt_env:
            argv.append("--corrupt-env")
        return shlex.join(argv)


@dataclass
class _Boot:
    machine: Machine
    outcome: Marker | None = None
    failure: str = ""
    wr_bytes: int = 0
    since: int = 0               # console index after the last outcome seen

    @property
    def rebooted(self) -> bool:
        """The device went down on its own: an update's reboot, a failed
        confirmation, or a boot that never reached its application."""
        if self.failure:
            return True
        if self.outcome is None:
            return False
        return self.outcome.event == "reboot" or \
            (self.outcome.event == "confirm" and self.outcome.get("result") != "good")


def run_trial(spec: TrialSpec, run_dir: Path | None = None, server: UpdateServer | None = None) -> TrialResult:
    """Run one trial. `server` may be shared between trials (its counters are reset)."""
    own_dir = run_dir is None
    run_dir = Path(tempfile.mkdtemp(prefix="brownout-trial-")) if own_dir else Path(run_dir)
    own_server = server is None
    server = server or UpdateServer(require("payloads"))
    try:
        return _Trial(spec, run_dir, server).run()
    finally:
        if own_server:
            server.close()
        if own_dir:
            shutil.rmtree(run_dir, ignore_errors=True)


class _Trial:
    def __init__(self, spec: TrialSpec, run_dir: Path, server: UpdateServer) -> None:
        self.spec = spec
        self.run_dir = run_dir
        self.server = server
        self.boots: list[_Boot] = []
        self.notes: list[str] = []

    def run(self) -> TrialResult:
        spec = self.spec
        self.server.reset_counters()
        self.server.disarm()
        if spec.fault:
            self.server.arm(spec.fault)
        device = Device.create(spec.method, self.run_dir, net=UserNet(self.server.port))
        device.config.extra_args += ["-action", "shutdown=pause"]
        if spec.corrupt_env:
            _corrupt_env(device)
        url = f"http://{GUEST_ADDR}/{spec.method}/{spec.payload}/manifest"
        request = ["-fw_cfg", f"name=opt/brownout/update,string={url}"]
        with PowerSwitch(device.config, self.run_dir / "boots") as power:
            for boot_no in range(1, MAX_BOOTS + 1):
                device.config.extra_args = [a for a in device.config.extra_args if a not in request]
                if boot_no == 1:
                    device.config.extra_args += request
                if not self._boot(power, first=boot_no == 1).rebooted:
                    break
            else:
                self.notes.append(f"no boot confirmed itself within {MAX_BOOTS} boots")
        return self._judge(device)

    def _boot(self, power: PowerSwitch, first: bool) -> _Boot:
        machine = power.on()
        boot = _Boot(machine)
        self.boots.append(boot)
        qmp = machine.qmp()
        try:
            while True:
                line = machine.console.wait_for_line(OUTCOME, timeout=STEP_TIMEOUT,
                                                     since_index=boot.since)
                marker = parse_marker(line.text, line.t)
                boot.outcome = marker
                boot.since = machine.console.lines.index(line) + 1
                # On the update boot, confirming v1 comes before the install.
                if first and marker is not None and marker.event == "confirm" \
                        and marker.get("result") == "good":
                    continue
                break
        except BootFailure as e:
            boot.failure = e.reason
            self.notes.append(f"boot {len(self.boots)}: {e.reason}")
        except (ConsoleTimeout, MachineExited) as e:
            boot.failure = type(e).__name__
            self.notes.append(f"boot {len(self.boots)}: {str(e).splitlines()[0]}")
        if boot.rebooted:
            try:
                qmp.wait_event("SHUTDOWN", timeout=30.0)
            except HarnessError:
                self.notes.append(f"boot {len(self.boots)}: no guest reboot seen, power cut")
        boot.wr_bytes = _written(machine)
        power.cut()
        return boot

    def _judge(self, device: Device) -> TrialResult:
        spec = self.spec
        parts = {p.name: p for p in partitions(spec.method)}
        last = self.boots[-1].machine.console
        inits = last.markers("init")
        beats = last.markers("heartbeat")
        slot = inits[-1].get("slot", "") if inits else ""
        verdicts: list[str] = []
        if not beats or slot not in SLOT_PARTITION:
            final = "bricked"
        else:
            root = check_root(device.disk, parts[SLOT_PARTITION[slot]])
            known = load_known(require("rootfs") / "digests.jsonl")
            final = classify(root.digest, known) if root.digest else "mixed"
            data = check_fs(device.disk, parts["data"])
            if final in ("v1", "v2") and root.fs.clean and data.clean:
                verdicts.append("atomic")
            for fs in (root.fs, data):
                if not fs.clean:
                    self.notes.append(f"fsck -n of {fs.partition} is not clean")
            if spec.payload == "v2" and final == "v2" and root.has_package("bc"):
                verdicts.append("completes")
            if spec.payload == "v2-bad" and final == "v1" and not root.has_package("bc"):
                verdicts.append("rolled-back")
        refusals = [b.outcome for b in self.boots if b.outcome and b.outcome.event == "update-error"]
        if refusals and final == "v1":
            verdicts.append("refused")
            self.notes.append(f"update refused: {refusals[0].get('reason')} ({refusals[0].get('detail', '')})")
        return TrialResult(spec.method, spec.payload, final, verdicts, self._measures(),
                           spec.reproduce(), slot, self.notes, str(self.run_dir))

    def _measures(self) -> Measures:
        beats = [(m.t, m.get("version")) for b in self.boots for m in b.machine.console.markers("heartbeat")]
        phases = [m for b in self.boots for m in b.machine.console.markers("phase")]
        reboot = [b.outcome.t for b in self.boots if b.outcome and b.outcome.event == "reboot"]
        start = phases[0].t if phases else None
        gaps = [b[0] - a[0] for a, b in zip(beats, beats[1:]) if start is not None and b[0] > start]
        return Measures(
            downtime_s=round(max(gaps), 3) if gaps and len(self.boots) > 1 else None,
            reboots=len(self.boots) - 1,
            bytes_downloaded=self.server.bytes_served,
            bytes_written=sum(b.wr_bytes for b in self.boots),
            duration_s=round(reboot[0] - start, 3) if start is not None and reboot else None,
        )


def _written(machine: Machine) -> int:
    try:
        stats = machine.qmp().execute("query-blockstats", timeout=5.0)
    except HarnessError:
        return 0
    return sum(s["stats"]["wr_bytes"] for s in stats if s.get("device") == "disk")


def _corrupt_env(device: Device) -> None:
    """Overwrite both env copies in the device's overlay (qemu-io, no mount)."""
    env = next(p for p in partitions(device.method) if p.name == "env")
    result = subprocess.run(["qemu-io", "-f", "qcow2", "-c", f"write -P 0x5a {env.offset} 32k",
                             str(device.disk)], capture_output=True, text=True)
    if result.returncode != 0:
        raise HarnessError(f"qemu-io could not corrupt the env: {result.stderr.strip()}")
