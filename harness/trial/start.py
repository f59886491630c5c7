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
method's pristine disk, by path. A copy is kept in the cache, where another
clone whose images are the very same build takes it instead of building it."""
from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from .. import HarnessError, images, methods
from ..checks.device import pristine_disk, set_backing
from ..files import locked, replace_copy, replace_file
from ..images import BUILD, CACHE
from ..server import UpdateServer

if TYPE_CHECKING:
    from .run import TrialSpec

log = logging.getLogger(__name__)

STARTS = BUILD / "starts"
# Each start and installed disk last built on this machine, for other clones with the same images.
KEPT = CACHE / "starts"
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
    base = pristine_disk(method)
    final, verdicts = BUILT_BY[start]

    def build(work: Path) -> tuple[Path, dict]:
        log.info("building %s's %s start: a plain update to %s on a fresh device", method, start, start)
        from .run import TrialSpec, run_trial    # a start is built by a trial
        result = run_trial(TrialSpec(method=method, payload=start), work, server)
        if result.final != final or not verdicts <= set(result.verdicts):
            raise HarnessError(f"{method}'s {start} start failed to build: the update to {start} ended "
                               f"in {result.final} ({', '.join(result.verdicts) or 'no verdicts'}); "
                               f"see {result.reproduce}")
        return work / (base.stem + ".qcow2"), {}

    return _built_once(f"{method}-{start}", _disk_key(method, base), base, build, directory)[0]


@dataclass(frozen=True)
class Installed:
    """A device whose update has installed and rebooted into the new version,
    which has not booted yet: the start of that version's first confirmation."""
    disk: Path                   # qcow2 overlay, never written once built
    bytes_downloaded: int        # by the update, served
    bytes_written: int           # by the update, to the disk
    build: str                   # names this build of the disk: one built anew holds other bytes


def installed_disk(spec: TrialSpec, server: UpdateServer | None = None,
                   directory: Path = STARTS) -> Installed:
    """The disk `spec`'s update (its method, start, payload and client) leaves
    at the reboot into the version it installs, built once per set of images
    by a plain run of that update (under a lock: parallel workers build it once).
    Nothing of the run after that reboot depends on how the disk came to be, so
    a confirmation's cut from it is the cut a cold trial makes there."""
    name = _installed_name(spec)
    start = start_disk(spec.method, spec.start, server, directory)
    backing = start or pristine_disk(spec.method, spec.client)
    key = _disk_key(spec.method, pristine_disk(spec.method, spec.client), spec.client)
    if start:
        key["start"] = json.loads(start.with_suffix(".json").read_text())["build"]

    def build(work: Path) -> tuple[Path, dict]:
        log.info("building %s: %s's update to %s up to its reboot into it", name, spec.method, spec.payload)
        from .run import install    # the disk is built by a trial's update
        built, downloaded, written = install(spec, work, server)
        return built, {"bytes_downloaded": downloaded, "bytes_written": written}

    return _installed_once(name, key, backing, build, directory)


def adopt_installed(spec: TrialSpec, disk: Path, downloaded: int, written: int,
                    directory: Path = STARTS) -> Installed:
    """`disk`, which a run of `spec`'s update from v1 left at the end of its
    install (a record's, under the agent, which cuts nothing and lets the
    client sync before it says it is done), as that update's installed disk,
    unless one is built for these images already. A copy is kept: the record
    goes on to write `disk`. It saves a first campaign the plain run of the
    update that installed_disk would make."""
    if spec.start != "v1":
        raise HarnessError(f"only an update from v1 leaves a disk to adopt, not one from {spec.start}")
    backing = pristine_disk(spec.method, spec.client)

    def build(work: Path) -> tuple[Path, dict]:
        # The record's device overlays the pristine disk, as installed_disk's update does.
        copy = work / disk.name
        shutil.copyfile(disk, copy)
        return copy, {"bytes_downloaded": downloaded, "bytes_written": written}

    return _installed_once(_installed_name(spec), _disk_key(spec.method, backing, spec.client), backing,
                           build, directory)


def _installed_name(spec: TrialSpec) -> str:
    return f"{spec.method}-{spec.start}-{spec.payload}-{spec.client}-installed"


def _installed_once(name: str, key: dict, backing: Path, build: Callable[[Path], tuple[Path, dict]],
                    directory: Path) -> Installed:
    """The installed disk `name` (_built_once), with what its build reported."""
    disk, kept = _built_once(name, key, backing, build, directory)
    return Installed(disk, kept["bytes_downloaded"], kept["bytes_written"], kept["build"])


def _disk_key(method: str, base: Path, client: str = "safe") -> dict:
    """What a disk built by an update on `base` is valid for: the images that
    decide the update, and the very build of the base it overlays (the build is
    not byte-for-byte reproducible, so another build's base is another disk)."""
    return {"images": methods.images_key(method, client), "base": images.build_id(base.parent)}


def _built_once(name: str, key: dict, backing: Path, build: Callable[[Path], tuple[Path, dict]],
                directory: Path) -> tuple[Path, dict]:
    """The qcow2 overlay of `backing` named `name` in `directory`, with what its
    build reported and its build id: the one there if its key is `key`, else a
    copy of the one kept in the cache for that key (set onto this clone's
    backing file), else one `build(work)` makes, which is then kept for other
    clones too."""
    disk, meta = directory / f"{name}.qcow2", directory / f"{name}.json"
    with locked(directory, name):
        found = _meta(meta, key)
        if found is not None and disk.is_file():
            return disk, found
        meta.unlink(missing_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=directory))
        try:
            taken = _take_kept(name, key, backing, work)
            if taken:
                built, found = taken
            else:
                built, found = build(work)
                # Names this build: a disk built on it is valid on these bytes only.
                found["build"] = os.urandom(8).hex()
                _keep(name, built, dict(found, key=key))
            os.replace(built, disk)
            _write_json(meta, dict(found, key=key))
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return disk, found


def _meta(path: Path, key: dict) -> dict | None:
    """What the disk's build reported (its build id too), where its key is `key`."""
    try:
        kept = json.loads(path.read_text())
        return {k: v for k, v in kept.items() if k != "key"} if kept["key"] == key else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_json(path: Path, data: dict) -> None:
    replace_file(path, json.dumps(data, indent=1, sort_keys=True))


def _take_kept(name: str, key: dict, backing: Path, work: Path) -> tuple[Path, dict] | None:
    """The kept disk for `key`, copied into `work` and set onto `backing` (its
    bytes are the kept one's: the key names that build), and what its build
    reported; None if none fits."""
    copy = work / "kept.qcow2"
    # Between clones: a kept disk and its key are replaced and read together.
    with locked(KEPT, name):
        found = _meta(KEPT / f"{name}.json", key)
        if found is None:
            return None
        try:
            shutil.copyfile(KEPT / f"{name}.qcow2", copy)
        except OSError as e:
            log.warning("%s: the copy kept in %s did not serve (%s); building it", name, KEPT, e)
            return None
    try:
        set_backing(copy, backing)
    except (OSError, subprocess.SubprocessError) as e:
        log.warning("%s: the copy kept in %s did not serve (%s); building it", name, KEPT, e)
        return None
    log.info("%s: taken from %s, where an earlier build kept it", name, KEPT)
    return copy, found


def _keep(name: str, disk: Path, meta: dict) -> None:
    """Keep a copy of a disk just built for other clones (one per name); failing costs them a build only."""
    try:
        with locked(KEPT, name):
            (KEPT / f"{name}.json").unlink(missing_ok=True)
            replace_copy(disk, KEPT / f"{name}.qcow2")
            _write_json(KEPT / f"{name}.json", meta)
    except OSError as e:
        log.warning("%s: built, but not kept for other clones (%s)", name, e)
