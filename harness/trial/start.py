"""Where a trial starts: the factory disk (v1), a device already updated to
v2, or one that was offered v2-bad and rolled back to v1 (v2-bad's leftovers
still on it: the other slot, a deployment, a download). A cut in the
installed version's first confirmation may start from the disk its update
left at the reboot into that version (`installed_disk`).

A later start is built once per method and set of images: the update to it
on a fresh device, judged like any trial (v2 must end on v2, atomic and
complete; v2-bad must end rolled back to v1), whose disk overlay is kept in
build/starts/ with the keys of the images it was built on. Trials from it
overlay that disk; it is never run again per trial. Its backing file is the
method's pristine disk, by path."""
from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .. import HarnessError, methods
from ..checks.device import pristine_disk
from ..images import BUILD
from ..server import UpdateServer

if TYPE_CHECKING:
    from .run import TrialSpec

log = logging.getLogger(__name__)

STARTS = BUILD / "starts"
START_VERSIONS = ("v1", "v2", "v2-bad")
# The version a device from each start runs; and how the update that builds it
# must end: final version and verdicts.
RUNNING = {"v1": "v1", "v2": "v2", "v2-bad": "v1"}
BUILT_BY = {"v2": ("v2", {"atomic", "completes"}), "v2-bad": ("v1", {"rolled-back"})}


def check_start(start: str, method: str | None = None) -> None:
    if start not in START_VERSIONS:
        raise HarnessError(f"unknown start version '{start}'; known: {', '.join(START_VERSIONS)} "
                           f"(v1 is the factory disk, v2 a device updated to it, v2-bad one that "
                           f"rolled back from it)")
    if start == "v2-bad" and method and methods.get(method).boot_limit == 0:
        raise HarnessError(f"{method} cannot start from v2-bad: it has no boot counter and no rollback, "
                           f"so none of its devices comes back from v2-bad")


def start_disk(method: str, start: str, server: UpdateServer | None = None,
               directory: Path = STARTS) -> Path | None:
    """The disk a trial from `start` overlays, built first where none fits the
    images built now; None for v1 (the pristine disk). Under a lock: parallel
    workers build it once."""
    check_start(start, method)
    if start == "v1":
        return None
    directory.mkdir(parents=True, exist_ok=True)
    disk = directory / f"{method}-{start}.qcow2"
    key_file = directory / f"{method}-{start}.json"
    base = pristine_disk(method)
    key = {"images": methods.images_key(method), "base": str(base)}
    with open(directory / f".{method}-{start}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if disk.is_file() and json.loads(key_file.read_text()) == key:
                return disk
        except (OSError, ValueError):
            pass
        key_file.unlink(missing_ok=True)
        log.info("building %s's %s start: a plain update to %s on a fresh device", method, start, start)
        from .run import TrialSpec, run_trial    # a start is built by a trial
        work = Path(tempfile.mkdtemp(prefix=f".{method}-{start}-", dir=directory))
        final, verdicts = BUILT_BY[start]
        try:
            result = run_trial(TrialSpec(method=method, payload=start), work, server)
            if result.final != final or not verdicts <= set(result.verdicts):
                raise HarnessError(f"{method}'s {start} start failed to build: the update to {start} ended "
                                   f"in {result.final} ({', '.join(result.verdicts) or 'no verdicts'}); "
                                   f"see {result.reproduce}")
            os.replace(work / (base.stem + ".qcow2"), disk)
            tmp = key_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(key, indent=1, sort_keys=True))
            os.replace(tmp, key_file)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return disk


@dataclass(frozen=True)
class Installed:
    """A device whose update has installed and rebooted into the new version,
    which has not booted yet: the start of that version's first confirmation."""
    disk: Path                   # qcow2 overlay, never written once built
    bytes_downloaded: int        # by the update, served
    bytes_written: int           # by the update, to the disk


def installed_disk(spec: TrialSpec, server: UpdateServer | None = None,
                   directory: Path = STARTS) -> Installed:
    """The disk `spec`'s update (its method, start, payload and client) leaves
    at the reboot into the version it installs, built once per set of images
    by a plain run of that update (under a lock: parallel workers build it once).
    Nothing of the run after that reboot depends on how the disk came to be, so
    a confirmation's cut from it is the cut a cold trial makes there."""
    name = f"{spec.method}-{spec.start}-{spec.payload}-{spec.client}-installed"
    directory.mkdir(parents=True, exist_ok=True)
    disk, key_file = directory / f"{name}.qcow2", directory / f"{name}.json"
    key = {"images": methods.images_key(spec.method), "base": str(pristine_disk(spec.method, spec.client))}
    with open(directory / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            kept = json.loads(key_file.read_text())
            if disk.is_file() and kept["key"] == key:
                return Installed(disk, kept["bytes_downloaded"], kept["bytes_written"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
        key_file.unlink(missing_ok=True)
        log.info("building %s: %s's update to %s up to its reboot into it", name, spec.method, spec.payload)
        from .run import install    # the disk is built by a trial's update
        work = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=directory))
        try:
            built, downloaded, written = install(spec, work, server)
            os.replace(built, disk)
            tmp = key_file.with_suffix(".tmp")
            tmp.write_text(json.dumps({"key": key, "bytes_downloaded": downloaded, "bytes_written": written},
                                      indent=1, sort_keys=True))
            os.replace(tmp, key_file)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return Installed(disk, downloaded, written)
