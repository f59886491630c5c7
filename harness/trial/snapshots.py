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
that needs it tries again, from nothing."""
from __future__ import annotations

import fcntl
import json
import shutil
from pathlib import Path

from ..files import replace_file
from ..machine.console import Marker
from ..machine.snapshot import Snapshot
from ..server import UpdateServer
from .run import TrialSpec, take_snapshot

DESCRIPTION = "snapshot.json"


class SnapshotStore:
    """Snapshots of plain updates held at a phase (and point), one directory each under `directory`."""

    def __init__(self, directory: Path, server: UpdateServer | None = None) -> None:
        self.directory = Path(directory)
        self.server = server
        self.known: dict[str, Snapshot] = {}

    def get(self, spec: TrialSpec, phase: str, at: int = 0) -> Snapshot:
        """The snapshot of `spec`'s update held where `phase` starts (or at its
        at-th point), taken now unless a worker has taken it."""
        key = f"{spec.method}-{spec.payload}-{spec.client}-{phase}-{at}"
        if key in self.known:
            return self.known[key]
        self.directory.mkdir(parents=True, exist_ok=True)
        where = self.directory / key
        with open(self.directory / f".{key}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                snapshot = from_json(json.loads((where / DESCRIPTION).read_text()))
            except FileNotFoundError:
                shutil.rmtree(where, ignore_errors=True)       # what a failed attempt left
                plain = TrialSpec(spec.method, spec.payload, client=spec.client)
                snapshot = take_snapshot(plain, phase, where, self.server, at)
                replace_file(where / DESCRIPTION, json.dumps(to_json(snapshot)))
        self.known[key] = snapshot
        return snapshot


def to_json(snapshot: Snapshot) -> dict:
    return {"phase": snapshot.phase, "disk": str(snapshot.disk), "state": str(snapshot.state),
            "points": snapshot.points, "bytes_downloaded": snapshot.bytes_downloaded,
            "bytes_written": snapshot.bytes_written, "elapsed_s": snapshot.elapsed_s, "at": snapshot.at,
            "boot": snapshot.boot, "down_s": snapshot.down_s,
            "init": [{"event": m.event, "fields": dict(m.fields), "t": m.t, "raw": m.raw} for m in snapshot.init]}


def from_json(data: dict) -> Snapshot:
    return Snapshot(data["phase"], Path(data["disk"]), Path(data["state"]), data["points"], data["bytes_downloaded"],
                    data["bytes_written"], data["elapsed_s"], at=data["at"], boot=data["boot"],
                    init=tuple(Marker(m["event"], m["fields"], m["t"], m["raw"]) for m in data["init"]),
                    down_s=data["down_s"])
