"""A campaign's snapshots, shared by its workers: taken once, whoever asks first."""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Callable

import pytest

from harness import HarnessError, QMPError
from harness.campaign import runner as campaign
from harness.campaign.journal import Journal
from harness.campaign.runner import PlannedCut
from harness.machine.console import Marker
from harness.machine.snapshot import Snapshot, restore
from harness.trial import snapshots
from harness.trial.run import TrialSpec
from harness.trial.snapshots import SnapshotStore, from_json, to_json


Taken = list[tuple[str, str, int]]


def fake_take(taken: Taken, seconds: float = 0.0, fail: bool = False) -> Callable[..., Snapshot]:
    def take(spec: TrialSpec, phase: str, run_dir: Path, server: object, at: int) -> Snapshot:
        taken.append((spec.method, phase, at))
        run_dir.mkdir(parents=True, exist_ok=True)
        time.sleep(seconds)
        if fail:
            raise HarnessError("the update never reached phase deploy to hold there")
        (run_dir / "disk.qcow2").write_bytes(b"disk")
        (run_dir / f"{phase}.state").write_bytes(b"state")
        return Snapshot(phase, run_dir / "disk.qcow2", run_dir / f"{phase}.state", 41, 1000, 2000, 3.5, at=at,
                        boot=2, init=(Marker("init", {"version": "1", "slot": "A"}, 0.7, "BROWNOUT init"),),
                        down_s=1.25)
    return take


def test_a_snapshot_reads_back_as_it_was_taken(tmp_path: Path) -> None:
    snapshot = fake_take([])(TrialSpec("asymmetric", "v2"), "deploy", tmp_path, None, 3)
    assert from_json(to_json(snapshot)) == snapshot


def test_the_second_worker_takes_the_first_ones_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    taken: Taken = []
    monkeypatch.setattr(snapshots, "take_snapshot", fake_take(taken, seconds=0.3))
    workers = [SnapshotStore(tmp_path / "store") for _ in range(2)]
    got: list[Snapshot] = []
    threads = [threading.Thread(target=lambda w=w: got.append(w.get(TrialSpec("ab", "v2", cut="n=5"), "deploy", 4)))
               for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert taken == [("ab", "deploy", 4)]
    assert len(got) == 2 and got[0] == got[1] and got[0].disk.read_bytes() == b"disk"
    # Another point of the phase, or another update, is another snapshot.
    workers[0].get(TrialSpec("ab", "v2"), "deploy", 5)
    workers[1].get(TrialSpec("ab", "v2-bad"), "deploy", 4)
    assert taken[1:] == [("ab", "deploy", 5), ("ab", "deploy", 4)]


def test_a_snapshot_that_failed_is_taken_again_from_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    taken: Taken = []
    monkeypatch.setattr(snapshots, "take_snapshot", fake_take(taken, fail=True))
    with pytest.raises(HarnessError, match="never reached"):
        SnapshotStore(tmp_path).get(TrialSpec("rauc", "v2"), "pull")
    monkeypatch.setattr(snapshots, "take_snapshot", fake_take(taken))
    snapshot = SnapshotStore(tmp_path).get(TrialSpec("rauc", "v2"), "pull")
    assert len(taken) == 2 and snapshot.state.read_bytes() == b"state"


@pytest.mark.qemu
@pytest.mark.e2e
@pytest.mark.timeout(900)
def test_two_workers_run_their_trials_from_one_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Four cuts held at one point: the first worker takes the snapshot, the
    other waits for it and restores it in its own QEMU, on its own update server."""
    cuts = [PlannedCut(f"ab-deploy-cut{rank}-{edge}", "ab", "v2", "deploy", 0, edge, rank=rank)
            for rank in (1, 2) for edge in ("before", "after")]
    journal = Journal(tmp_path / "j.jsonl")
    store = campaign.snapshot_store(journal.path)
    removed: list[Path] = []
    # The store is kept past the run, to be counted; that the run removes it is recorded.
    monkeypatch.setattr(campaign.shutil, "rmtree", lambda path, **kw: removed.append(Path(path)))
    status = campaign.run(cuts, journal, seed=1, jobs=2, resume=False, stream=open(os.devnull, "w"))
    entries = journal.entries()
    assert status == 0, [(e.id, e.final, e.failure) for e in entries]
    assert sorted(e.id for e in entries) == sorted(c.id for c in cuts)
    assert {e.started for e in entries} == {"snapshot:deploy"}
    assert [d.name for d in store.iterdir() if (d / "snapshot.json").exists()] == ["ab-v2-safe-deploy-1"]
    # Before and after the run: a snapshot is a few hundred MB, and of this run's images only.
    assert removed.count(store) == 2


class ScriptedMachine:
    """A machine whose QMP answers query-status from a script, its last status repeated."""

    def __init__(self, statuses: list[str]) -> None:
        self.statuses = statuses
        self.commands: list[str] = []

    def qmp(self) -> "ScriptedMachine":
        return self

    def execute(self, command: str, arguments: dict | None = None) -> dict:
        self.commands.append(command)
        if command != "query-status":
            return {}
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        if status == "gone":
            raise QMPError("QMP socket: connection closed by QEMU while waiting for a reply")
        return {"status": status}


def test_a_restored_machine_that_powers_off_at_once_has_run(tmp_path: Path) -> None:
    state = tmp_path / "deploy.state"
    state.write_bytes(b"state")
    machine = ScriptedMachine(["inmigrate", "paused", "shutdown"])
    restore(machine, state)  # type: ignore[arg-type]
    assert machine.commands.count("cont") == 1


def test_a_restored_machine_whose_qemu_is_gone_at_once_has_run(tmp_path: Path) -> None:
    state = tmp_path / "deploy.state"
    state.write_bytes(b"state")
    restore(ScriptedMachine(["paused", "gone"]), state)  # type: ignore[arg-type]


def test_a_machine_down_before_it_was_resumed_is_not_restored(tmp_path: Path) -> None:
    state = tmp_path / "deploy.state"
    state.write_bytes(b"state")
    with pytest.raises(HarnessError, match="the machine is shutdown"):
        restore(ScriptedMachine(["inmigrate", "shutdown"]), state)  # type: ignore[arg-type]
    with pytest.raises(QMPError, match="connection closed"):
        restore(ScriptedMachine(["inmigrate", "gone"]), state)  # type: ignore[arg-type]
