"""The disk's whole life under one update, as the disk saw it.

One plain update (no agent, no cut) runs on a device whose disk is logged by
QEMU's blklogwrites: every write and flush from the first power-on through
U-Boot, the update, the reboot, the new version's first boot and its confirm,
to the settled device. The console stamps each line with the log's entry count
read as the line arrives, so every entry the disk had before the guest printed
a line is placed before it: each entry is placed in the boot, stage (firmware
or linux) and phase it happened in, and named by the partition it hits. Writes
land on the disk some time after the syscall that made them (the page cache),
so a phase is where the disk saw the write; one that lands between a line's
print and its arrival on the host counts before the line.
"""
from __future__ import annotations

import bisect
import dataclasses
import fnmatch
import functools
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .. import HarnessError, methods
from ..checks.device import Partition, partitions
from ..machine.console import Line, parse_marker
from ..methods import images_builds, images_key
from ..server import UpdateServer
from ..trial.run import TrialSpec, _Trial, _Workspace
from .writelog import LogEntry, entry_count, read_log

log = logging.getLogger(__name__)

# How the entries were placed: a life placed another way is recorded again.
PLACEMENT = "console-stamp"
KERNEL_START = re.compile(r"^Starting kernel")
# Phases of the life besides the method's own: the firmware's and the kernel's
# start, the update boot before the update, the way down to its reboot, the new
# version's first boot up to its confirm, and the settled device after it.
BOOT, SHUTDOWN, CONFIRM, SETTLED, FIRMWARE = "boot", "shutdown", "confirm", "settled", "firmware"


@dataclass(frozen=True)
class PlacedEntry:
    """A log entry and where it happened."""
    number: int
    boot: int
    stage: str          # firmware (U-Boot: the disk runs writethrough) | linux
    phase: str
    partition: str      # the partition's name, or "" (partition table, gaps) or "-" for a flush

    @property
    def volatile(self) -> bool:
        """Whether the write could still sit in the disk's volatile cache when
        power goes: only once Linux has enabled the cache."""
        return self.stage == "linux"


@dataclass(frozen=True)
class _Span:
    """A stretch of the log with one phase name, from the entry count its line was stamped with."""
    start: int
    phase: str
    boot: int
    stage: str


def spans(boots: list[tuple[int, list[Line]]], phases: tuple[str, ...],
          update_boots: int = 1) -> list[_Span]:
    """The life's phases along the log, from each boot's stamped console lines
    (U-Boot's first line comes before its first write); a client that names no
    phases leaves its update as one span ("update") that place() splits by the
    method's phase rules. The first
    `update_boots` boots lead to the update (asymmetric: its recovery boot too);
    a later boot's Linux writes before a phase marker are its confirm's."""
    out: list[_Span] = []
    for number, lines in boots:
        if not lines:
            continue
        out.append(_Span(_stamp(lines[0]), FIRMWARE, number, FIRMWARE))
        for line in lines:
            if KERNEL_START.match(line.text):
                out.append(_Span(_stamp(line), BOOT if number <= update_boots else CONFIRM, number, "linux"))
                continue
            marker = parse_marker(line.text, line.t)
            if marker is None:
                continue
            if marker.event == "phase" and marker.get("name") in phases:
                out.append(_Span(_stamp(line), marker.get("name", ""), number, "linux"))
            elif marker.event == "update-start":
                out.append(_Span(_stamp(line), "update", number, "linux"))
            elif marker.event == "reboot":
                out.append(_Span(_stamp(line), SHUTDOWN, number, "linux"))
            elif marker.event == "confirm" and number > 1:
                out.append(_Span(_stamp(line), SETTLED, number, "linux"))
    return out


def _stamp(line: Line) -> int:
    if line.stamp is None:
        raise HarnessError(f"console line {line.text!r} carries no write-log stamp")
    return line.stamp


def place(entries: list[LogEntry], life: list[_Span], parts: list[Partition],
          rules: list[tuple[str, str]]) -> list[PlacedEntry]:
    starts = [s.start for s in life]
    placed: list[PlacedEntry] = []
    for entry in entries:
        i = max(0, bisect.bisect_right(starts, entry.number) - 1)
        span = life[i] if life else _Span(0, BOOT, 1, "linux")
        part = partition_of(entry, parts)
        phase = span.phase
        if phase == "update":
            # A client that names no phases: the method's rules name a partition's phase.
            phase = next((p for p, glob in rules if part and fnmatch.fnmatch(f"/dev/vda{part.index}", glob)),
                         "update")
        if entry.is_flush and phase == "update" and placed and placed[-1].boot == span.boot:
            phase = placed[-1].phase     # a flush ends the writes before it: it takes their phase
        placed.append(PlacedEntry(entry.number, span.boot, span.stage, phase,
                                  "-" if entry.is_flush else (part.name if part else "")))
    return placed


def phase_rules(lines: tuple[str, ...]) -> list[tuple[str, str]]:
    """(phase, path glob) of each rule that names a path: `<phase> path=<glob> [...]`."""
    rules = []
    for line in lines:
        phase, *fields = line.split()
        rules += [(phase, f[len("path="):]) for f in fields if f.startswith("path=")]
    return rules


def partition_of(entry: LogEntry, parts: list[Partition]) -> Partition | None:
    return next((p for p in parts if p.offset <= entry.offset < p.offset + p.size), None)


def life_paths(method: str, payload: str, directory: Path, client: str = "safe") -> tuple[Path, Path]:
    stem = directory / (f"{method}-{payload}" + ("" if client == "safe" else f"-{client}"))
    return Path(f"{stem}.log"), Path(f"{stem}.json")


def record_life(method: str, payload: str, directory: Path, server: UpdateServer | None = None,
                client: str = "safe") -> Path:
    """Run one plain update with the disk logged; write the log and its placed
    entries (`<method>-<payload>.json`) to `directory`. Returns the .json path."""
    m = methods.get(method)
    directory.mkdir(parents=True, exist_ok=True)
    log_path, index_path = life_paths(method, payload, directory, client)
    tmp_log = Path(f"{log_path}.tmp")
    tmp_log.unlink(missing_ok=True)
    tmp_log.touch()
    spec = TrialSpec(method, payload, client=client)
    with _Workspace(index_path.with_suffix(".run"), server) as (run_dir, srv):
        trial = _Trial(spec, run_dir, srv)
        config = trial.device.config
        config.disks = [dataclasses.replace(config.disks[0], write_log=tmp_log)] + config.disks[1:]
        config.console_stamp = functools.partial(_logged_entries, tmp_log)
        result = trial.run()
        if result.final != spec.installs and result.final != "v2":
            raise HarnessError(f"the update ended in {result.final}, not v2: no life to record "
                               f"(logs: {run_dir})")
        boots = [(b.number, b.machine.console.lines) for b in trial.boots]
        for disk in run_dir.glob("*.qcow2"):
            disk.unlink()            # keep the consoles, not the disk
    entries = read_log(tmp_log)
    rules = phase_rules(m.phase_rules)
    placed = place(entries, spans(boots, m.phases, m.request_boots), partitions(method), rules)
    flushes, size = sum(e.is_flush for e in entries), sum(e.length for e in entries)
    header = {"method": method, "payload": payload, "client": client, "images": images_key(method, client),
              "builds": images_builds(method, client), "placement": PLACEMENT, "entries": len(entries),
              "flushes": flushes, "bytes": size, "boots": len(boots)}
    tmp_index = Path(f"{index_path}.tmp")
    with open(tmp_index, "w") as f:
        json.dump({"life": header, "entries": [dataclasses.asdict(p) for p in placed]}, f)
        f.flush()
        os.fsync(f.fileno())
    with open(tmp_log, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp_log, log_path)
    os.replace(tmp_index, index_path)
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    log.info("disk life of %s %s: %d entries (%d flushes, %.0f MB) over %d boots: %s",
             method, payload, len(entries), flushes, size / 1e6, len(boots), log_path)
    return index_path


def _logged_entries(path: Path) -> int:
    try:
        return entry_count(path)
    except (HarnessError, OSError):
        return 0            # QEMU writes the superblock with its first entry
