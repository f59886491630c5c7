"""A campaign's snapshots, shared by all its workers.

A snapshot (harness/machine/snapshot.py) is a frozen disk overlay and a
machine state file: any QEMU of the same configuration can start from it, so
one taken by one worker serves every worker's trials of the same update,
phase and hold point. The first worker to need a snapshot takes it under the
snapshot's lock, into the store's directory, and writes its description
(`snapshot.json`) whole; a worker that needs it meanwhile waits on the lock,
then reads the description. Trials are then not tied to the worker that took
their snapshot, so the campaign hands each trial to whichever worker is free.

A snapshot that could not be taken leaves no description: the next trial
that needs it tries again, from nothing.

A store given a kept directory (a campaign's: KEPT, in the cache) keeps each
snapshot it takes under a fixed guest clock (every campaign's) there, one per
update, phase and point, for later campaigns and other clones: a store that
lacks one takes the kept one instead, when it was taken on the very builds of
the method's images and firmware, by the same QEMU and harness code, under
the same clock. In one clone its files are linked; another clone copies its
disk and sets it onto its own pristine disk, which holds the same bytes (same
build); a snapshot held in the installed version's confirmation, onto its own
installed disk of the same build (start.py). The least recently used kept
snapshots go once they hold more than KEPT_BYTES."""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import os
import shutil
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

from .. import HarnessError, images, methods
from ..checks.device import guest_clock, pristine_disk, set_backing
from ..files import locked, replace_file, try_lock
from ..images import CACHE, REPO
from ..machine.console import Marker
from ..machine.qemu import qemu_version
from ..machine.snapshot import Snapshot, ram_file
from ..server import UpdateServer
from ..methods.base import CONFIRM, PULL
from .run import TrialSpec, take_snapshot
from .start import installed_disk

log = logging.getLogger(__name__)

DESCRIPTION = "snapshot.json"
KEPT = CACHE / "snapshots"
KEPT_BYTES = 4 << 30
KEPT_FILE = "kept.json"
# Where a store's snapshot came from, in its description: taken by this store, or the kept copy.
TAKEN, FROM_KEPT = "taken", "kept"


class SnapshotStore:
    """Snapshots of plain updates held at a phase (and point), one directory each
    under `directory`; `kept`: where snapshots are kept for later stores (KEPT:
    the machine's; None: none kept, none taken from there), `fresh`: kept there,
    never taken from there."""

    def __init__(self, directory: Path, server: UpdateServer | None = None, kept: Path | None = None,
                 fresh: bool = False) -> None:
        self.directory = Path(directory)
        self.server = server
        self.kept = kept
        self.fresh = fresh
        self.known: dict[str, Snapshot] = {}

    def get(self, spec: TrialSpec, phase: str, at: int = 0, before: int = -1) -> Snapshot:
        """The snapshot of `spec`'s update held where `phase` starts (or at its
        at-th point), taken now unless a worker has taken it or one is kept.
        `before`: how many of the update's points come before that hold, when
        the caller knows (the campaign, from the record); -1 when not."""
        key = f"{spec.method}-{spec.payload}-{spec.client}-{phase}-{at}"
        if key in self.known:
            return self.known[key]
        where = self.directory / key
        with locked(self.directory, key):
            try:
                snapshot = from_json(json.loads((where / DESCRIPTION).read_text()))
            except FileNotFoundError:
                shutil.rmtree(where, ignore_errors=True)       # what a failed attempt left
                snapshot = self._take(TrialSpec(spec.method, spec.payload, client=spec.client), phase, at, before,
                                      key, where)
        self.known[key] = snapshot
        return snapshot

    def _take(self, plain: TrialSpec, phase: str, at: int, before: int, key: str, where: Path) -> Snapshot:
        """The kept copy if one fits, else a snapshot taken now (and kept); described in `where`."""
        validity = kept_key(plain) if self.kept else None
        backing = pristine_disk(plain.method, plain.client)
        if validity is not None and phase == CONFIRM:
            # Held on the disk the update left at its reboot: valid on that very build of it.
            installed = installed_disk(plain, self.server)
            backing, validity["installed"] = installed.disk, installed.build
        found, origin = None, FROM_KEPT
        if self.kept is not None and validity is not None and not self.fresh:
            found = take_kept(self.kept, key, validity, backing, where)
        if found is None:
            found, origin = self._taken(plain, phase, at, before, where), TAKEN
            if self.kept is not None and validity is not None:
                keep(self.kept, key, validity, plain, backing, found)
        replace_file(where / DESCRIPTION, json.dumps(to_json(found) | {"origin": origin}))
        return found

    def _taken(self, plain: TrialSpec, phase: str, at: int, before: int, where: Path) -> Snapshot:
        """Taken now: from the latest snapshot of the same update this store
        holds already, held earlier in it, when there is one (the boots and the
        work up to there are not run again); from a cold boot when there is
        none, or when going on from it failed. While another worker takes the
        update's pull snapshot (held where the update starts, so before any
        other), it is waited for: going on from it costs less than a boot."""
        if phase not in (PULL, CONFIRM):
            self._await(f"{plain.method}-{plain.payload}-{plain.client}-{PULL}-0")
        parent = self._parent(plain, phase, at, before)
        if parent is not None:
            try:
                return take_snapshot(plain, phase, where, self.server, at, parent=parent)
            except HarnessError as e:
                log.warning("snapshot %s %s: going on from the %s snapshot failed (%s); taking it from a "
                            "cold boot", plain.method, phase, parent.phase, str(e).splitlines()[0])
                shutil.rmtree(where, ignore_errors=True)
        return take_snapshot(plain, phase, where, self.server, at)

    def _await(self, key: str) -> None:
        """Wait while another worker takes snapshot `key` (holds its lock, in get)."""
        if (self.directory / key / DESCRIPTION).exists():
            return
        free = try_lock(self.directory, key)
        if free is not None:
            free.close()
            return
        log.info("snapshot %s: being taken by another worker; waiting to go on from it", key)
        with locked(self.directory, key):
            pass

    def _parent(self, plain: TrialSpec, phase: str, at: int, before: int) -> Snapshot | None:
        """The snapshot of `plain`'s update held latest before `phase` (point
        `at`; `before` points into the update, when known) that this store has
        whole (its description written), if any; none for the confirmation's,
        which runs on the installed disk. Without `before`, the method's phase
        order says which hold comes first (a phase whose points come both
        before and after another's is not told apart: the agent then refuses
        the hold and the snapshot is taken cold)."""
        order = methods.get(plain.method).update_phases
        if phase not in order:
            return None
        best: Snapshot | None = None
        prefix = f"{plain.method}-{plain.payload}-{plain.client}-"
        for description in self.directory.glob(f"{prefix}*/{DESCRIPTION}"):
            try:
                found = from_json(json.loads(description.read_text()))
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if description.parent.name != f"{prefix}{found.phase}-{found.at}" or found.phase not in order:
                continue
            earlier = found.points < before if before >= 0 else \
                (order.index(found.phase), found.at) < (order.index(phase), at)
            if earlier and (best is None or found.points > best.points):
                best = found
        return best


def origins(directory: Path) -> Counter[str]:
    """How many of a store's snapshots were taken by it and how many were kept copies."""
    found: Counter[str] = Counter()
    for description in Path(directory).glob(f"*/{DESCRIPTION}"):
        try:
            found[json.loads(description.read_text()).get("origin", TAKEN)] += 1
        except (OSError, ValueError, AttributeError):
            continue
    return found


def kept_key(spec: TrialSpec, clock: str | None = None) -> dict | None:
    """What a snapshot of `spec`'s update is valid for: the builds of the
    method's images and of the firmware, QEMU, the harness and the guest clock
    (`clock`, or the fixed one); None without a fixed clock (its time would be
    the hour it was taken)."""
    clock = clock or guest_clock()
    if clock is None:
        return None
    firmware = images.build_id(images.require("firmware"))
    return {"builds": methods.images_builds(spec.method, spec.client) | {"firmware": firmware},
            "base": images.build_id(pristine_disk(spec.method, spec.client).parent),
            "qemu": qemu_version() or "unknown", "harness": harness_digest(), "clock": clock}


@functools.lru_cache(maxsize=1)
def harness_digest() -> str:
    """The harness code that boots the machine, asks for the update and holds it:
    all of it, since what a snapshot depends on is spread over several modules."""
    digest = hashlib.sha256()
    for path in sorted((REPO / "harness").rglob("*.py")):
        digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _kept(entry: Path) -> dict | None:
    try:
        found = json.loads((entry / KEPT_FILE).read_text())
        return found if isinstance(found, dict) else None
    except (OSError, ValueError):
        return None


def take_kept(kept: Path, name: str, key: dict, backing: Path, where: Path) -> Snapshot | None:
    """The kept snapshot `name` for `key`, linked into `where` (its disk copied and
    set onto this clone's `backing` disk, the pristine or the installed one, where
    it was kept by another clone); None if none fits or it does not serve."""
    # Between stores and clones: a kept snapshot is replaced, removed and read whole.
    with locked(kept, name):
        found = _kept(kept / name)
        if found is None or found.get("key") != key:
            return None
        try:
            snapshot = from_json(found["snapshot"])
            where.mkdir(parents=True, exist_ok=True)
            disk, state = where / snapshot.disk.name, where / snapshot.state.name
            if found.get("backing") == str(backing):
                _link_or_copy(kept / name / snapshot.disk.name, disk)
            else:
                shutil.copyfile(kept / name / snapshot.disk.name, disk)
                set_backing(disk, backing)
            for saved in (state, ram_file(state)):
                _link_or_copy(kept / name / saved.name, saved)
            os.utime(kept / name / KEPT_FILE)          # recently used: evicted last
        except (OSError, KeyError, TypeError, ValueError, subprocess.SubprocessError) as e:
            log.warning("snapshot %s: the copy kept in %s did not serve (%s); taking it", name, kept, e)
            shutil.rmtree(where, ignore_errors=True)
            return None
    log.info("snapshot %s: taken from %s, where an earlier campaign kept it", name, kept)
    return dataclasses.replace(snapshot, disk=disk, state=state)


def keep(kept: Path, name: str, key: dict, spec: TrialSpec, backing: Path, snapshot: Snapshot) -> None:
    """Keep a snapshot just taken for later stores (one per name), then make room;
    failing costs them a snapshot only."""
    try:
        kept.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=kept))
        try:
            for saved in (snapshot.disk, snapshot.state, ram_file(snapshot.state)):
                _link_or_copy(saved, work / saved.name)
            replace_file(work / KEPT_FILE, json.dumps({
                "key": key, "method": spec.method, "client": spec.client, "snapshot": to_json(snapshot),
                "backing": str(backing)}, sort_keys=True))
            with locked(kept, name):
                shutil.rmtree(kept / name, ignore_errors=True)
                os.replace(work, kept / name)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        _make_room(kept, KEPT_BYTES, name)
    except (OSError, subprocess.SubprocessError) as e:
        log.warning("snapshot %s: taken, but not kept for later campaigns (%s)", name, e)


def _link_or_copy(source: Path, target: Path) -> None:
    """A snapshot's files are never written once it is taken (trials overlay its
    disk and map its memory privately): one inode serves every holder on one
    file system. A copy keeps the memory file's holes."""
    try:
        os.link(source, target)
    except OSError:
        subprocess.run(["cp", "--sparse=always", str(source), str(target)], check=True, capture_output=True,
                       timeout=600)


def _make_room(kept: Path, most: int, spared: str) -> None:
    """Remove the least recently used kept snapshots (never `spared`) while they hold more than `most` bytes."""
    entries = []
    for entry in kept.iterdir():
        if not entry.is_dir() or entry.name.startswith("."):
            continue
        try:
            used = (entry / KEPT_FILE).stat().st_mtime if (entry / KEPT_FILE).exists() else 0.0
            # Bytes held on disk: a memory file is mostly holes.
            entries.append((used, entry, sum(f.stat().st_blocks * 512 for f in entry.iterdir() if f.is_file())))
        except OSError:
            continue                 # removed meanwhile, by another store making room
    total = sum(size for _, _, size in entries)
    for _, entry, size in sorted(entries, key=lambda e: e[0]):
        if total <= most:
            break
        if entry.name == spared:
            continue
        with locked(kept, entry.name):
            shutil.rmtree(entry, ignore_errors=True)
        total -= size


def kept_clock(wanted: set[tuple[str, str]], kept: Path = KEPT) -> str | None:
    """The guest clock of the most recently used kept snapshot of one of the
    `wanted` updates (method, client) that holds for their images, QEMU and
    harness now: a campaign under that clock takes the kept snapshots."""
    if not kept.is_dir():
        return None
    current: dict[tuple[str, str, str], dict | None] = {}
    best: tuple[float, str] | None = None
    for entry in kept.glob(f"*/{KEPT_FILE}"):
        found = _kept(entry.parent) or {}
        key, method, client = found.get("key"), found.get("method"), found.get("client")
        if not (isinstance(method, str) and isinstance(client, str) and (method, client) in wanted
                and isinstance(key, dict) and isinstance(key.get("clock"), str)):
            continue
        clock = key["clock"]
        if (method, client, clock) not in current:
            try:
                current[(method, client, clock)] = kept_key(TrialSpec(method, "v2", client=client), clock)
            except HarnessError:
                current[(method, client, clock)] = None     # its images are not built here
        used = entry.stat().st_mtime
        # A confirmation's snapshot names the installed disk's build too.
        fits = current[(method, client, clock)] == {k: v for k, v in key.items() if k != "installed"}
        if fits and (best is None or used > best[0]):
            best = (used, clock)
    return best[1] if best else None


def to_json(snapshot: Snapshot) -> dict:
    return {"phase": snapshot.phase, "disk": str(snapshot.disk), "state": str(snapshot.state),
            "points": snapshot.points, "bytes_downloaded": snapshot.bytes_downloaded,
            "bytes_written": snapshot.bytes_written, "elapsed_s": snapshot.elapsed_s, "at": snapshot.at,
            "boot": snapshot.boot, "down_s": snapshot.down_s,
            "boot_markers": [{"event": m.event, "fields": dict(m.fields), "t": m.t, "raw": m.raw}
                             for m in snapshot.boot_markers]}


def from_json(data: dict) -> Snapshot:
    return Snapshot(data["phase"], Path(data["disk"]), Path(data["state"]), data["points"], data["bytes_downloaded"],
                    data["bytes_written"], data["elapsed_s"], at=data["at"], boot=data["boot"],
                    boot_markers=tuple(Marker(m["event"], m["fields"], m["t"], m["raw"]) for m in data["boot_markers"]),
                    down_s=data["down_s"])
