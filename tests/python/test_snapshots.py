"""A campaign's snapshots, shared by its workers: taken once, whoever asks first."""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import pytest

from harness import HarnessError, QMPError, methods
from harness.campaign import runner as campaign
from harness.campaign.journal import Journal
from harness.campaign.runner import PlannedCut
from harness.checks.device import GUEST_CLOCK_ENV
from harness.machine.console import Marker
from harness.machine.snapshot import Snapshot, continued_memory, held_memory, ram_file, restore, restored_memory
from harness.trial import snapshots
from harness.server import UpdateServer
from harness.trial.run import TrialSpec, run_trial
from harness.trial.start import Installed
from harness.trial.snapshots import FROM_KEPT, TAKEN, SnapshotStore, from_json, kept_clock, origins, to_json


Taken = list[tuple[str, str, int]]


def fake_take(taken: Taken, seconds: float = 0.0, fail: bool = False,
              parents: list[str | None] | None = None, refuse_parent: bool = False) -> Callable[..., Snapshot]:
    def take(spec: TrialSpec, phase: str, run_dir: Path, server: object, at: int,
             parent: Snapshot | None = None) -> Snapshot:
        if parent is not None and refuse_parent:
            raise HarnessError("the update never reached phase bootloader to hold there")
        taken.append((spec.method, phase, at))
        if parents is not None:
            parents.append(f"{parent.phase}-{parent.at}" if parent else None)
        run_dir.mkdir(parents=True, exist_ok=True)
        time.sleep(seconds)
        if fail:
            raise HarnessError("the update never reached phase deploy to hold there")
        (run_dir / "disk.qcow2").write_bytes(b"disk")
        (run_dir / f"{phase}.state").write_bytes(b"state")
        (run_dir / f"{phase}.ram").write_bytes(b"memory")
        points = {"pull": 0, "deploy": 40 + at, "bootloader": 10 + at}.get(phase, 41)
        return Snapshot(phase, run_dir / "disk.qcow2", run_dir / f"{phase}.state", points, 1000, 2000, 3.5, at=at,
                        boot=2, boot_markers=(Marker("init", {"version": "1", "slot": "A"}, 0.7, "BROWNOUT init"),),
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


def test_a_later_snapshot_goes_on_from_the_latest_one_held_before_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    taken: Taken = []
    parents: list[str | None] = []
    monkeypatch.setattr(snapshots, "take_snapshot", fake_take(taken, parents=parents))
    store = SnapshotStore(tmp_path)
    store.get(TrialSpec("ostree", "v2"), "deploy", 4)
    store.get(TrialSpec("ostree", "v2"), "pull")
    store.get(TrialSpec("ostree", "v2"), "deploy", 9)
    store.get(TrialSpec("ostree", "v2"), "bootloader", 2)
    # Another worker's store in the same directory goes on from what this one holds.
    SnapshotStore(tmp_path).get(TrialSpec("ostree", "v2"), "deploy", 6)
    # Another update, and the confirmation (on the installed disk), start cold.
    store.get(TrialSpec("ostree", "v2-bad"), "deploy", 5)
    store.get(TrialSpec("ostree", "v2"), "confirm")
    assert [t[1:] for t in taken] == [("deploy", 4), ("pull", 0), ("deploy", 9), ("bootloader", 2), ("deploy", 6),
                                      ("deploy", 5), ("confirm", 0)]
    assert parents == [None, None, "deploy-4", "deploy-9", "deploy-4", None, None]


def test_a_later_snapshot_asked_for_while_the_pulls_is_taken_waits_to_go_on_from_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    taken: Taken = []
    parents: list[str | None] = []
    monkeypatch.setattr(snapshots, "take_snapshot", fake_take(taken, seconds=0.5, parents=parents))
    pull = threading.Thread(target=lambda: SnapshotStore(tmp_path).get(TrialSpec("ab", "v2"), "pull"))
    pull.start()
    while not taken:                 # the pull's is under way
        time.sleep(0.01)
    SnapshotStore(tmp_path).get(TrialSpec("ab", "v2"), "deploy", 4)
    pull.join(timeout=30)
    assert [t[1:] for t in taken] == [("pull", 0), ("deploy", 4)] and parents == [None, "pull-0"]
    # No pull snapshot under way: nothing to wait for.
    SnapshotStore(tmp_path).get(TrialSpec("ab", "v2-bad"), "deploy", 4)
    assert parents[-1] is None


def test_the_points_before_a_hold_say_which_snapshots_come_before_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """RAUC's env writes come before its slot copy: a bootloader point the
    campaign knows to be the update's 11th comes before a deploy point held
    after 43, whatever the method's phase order says."""
    parents: list[str | None] = []
    monkeypatch.setattr(snapshots, "take_snapshot", fake_take([], parents=parents))
    store = SnapshotStore(tmp_path)
    store.get(TrialSpec("rauc", "v2"), "pull")
    store.get(TrialSpec("rauc", "v2"), "deploy", 3, before=43)
    store.get(TrialSpec("rauc", "v2"), "bootloader", 1, before=10)
    store.get(TrialSpec("rauc", "v2"), "deploy", 7, before=47)
    assert parents == [None, "pull-0", "pull-0", "deploy-3"]


def test_a_snapshot_that_cannot_go_on_from_another_is_taken_cold(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    taken: Taken = []
    parents: list[str | None] = []
    monkeypatch.setattr(snapshots, "take_snapshot", fake_take(taken, parents=parents, refuse_parent=True))
    store = SnapshotStore(tmp_path)
    store.get(TrialSpec("rauc", "v2"), "deploy", 3)
    later = store.get(TrialSpec("rauc", "v2"), "bootloader")
    assert parents == [None, None] and later.phase == "bootloader"
    assert origins(tmp_path) == {TAKEN: 2}


CLOCK = "2026-12-01T11:30:00"


@pytest.fixture
def kept_world(monkeypatch: pytest.MonkeyPatch) -> dict:
    """A pinned guest clock and a stand-in for what a kept snapshot must match
    (images, QEMU, harness), changed by setting its 'builds'; disks are not rebased."""
    world: dict = {"builds": "one", "backed": [], "clone": "/clone"}
    monkeypatch.setenv(GUEST_CLOCK_ENV, CLOCK)
    monkeypatch.setattr(snapshots, "kept_key", lambda spec, clock=None: {
        "builds": world["builds"], "method": spec.method, "clock": clock or os.environ.get(GUEST_CLOCK_ENV)})
    monkeypatch.setattr(snapshots, "set_backing", lambda disk, backing: world["backed"].append((disk, backing)))
    monkeypatch.setattr(snapshots, "pristine_disk",
                        lambda method, client="safe": Path(world["clone"]) / f"{method}.img")
    return world


def test_a_kept_snapshot_serves_a_later_campaign(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 kept_world: dict) -> None:
    taken: Taken = []
    monkeypatch.setattr(snapshots, "take_snapshot", fake_take(taken))
    kept = tmp_path / "kept"
    first = SnapshotStore(tmp_path / "first", kept=kept).get(TrialSpec("ab", "v2", cut="n=5"), "deploy", 4)
    later = SnapshotStore(tmp_path / "later", kept=kept).get(TrialSpec("ab", "v2", cut="n=9"), "deploy", 4)
    assert taken == [("ab", "deploy", 4)]
    assert origins(tmp_path / "first") == {TAKEN: 1} and origins(tmp_path / "later") == {FROM_KEPT: 1}
    # The later store's own files, described as the one taken; in the same clone its disk is the one kept.
    assert later.disk.parent == tmp_path / "later" / "ab-v2-safe-deploy-4" and later.disk.read_bytes() == b"disk"
    assert later.state.read_bytes() == b"state" and later.disk.samefile(first.disk)
    assert ram_file(later.state).samefile(ram_file(first.state))
    assert dataclasses.replace(later, disk=first.disk, state=first.state) == first and kept_world["backed"] == []
    # Another clone's store copies the disk and sets the copy onto its own pristine disk.
    kept_world["clone"] = "/other-clone"
    other = SnapshotStore(tmp_path / "other", kept=kept).get(TrialSpec("ab", "v2"), "deploy", 4)
    assert not other.disk.samefile(first.disk) and other.disk.read_bytes() == b"disk"
    assert kept_world["backed"] == [(other.disk, Path("/other-clone/ab.img"))] and len(taken) == 1


def test_a_kept_confirmation_snapshot_serves_only_on_the_installed_disk_of_its_build(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kept_world: dict) -> None:
    taken: Taken = []
    monkeypatch.setattr(snapshots, "take_snapshot", fake_take(taken))
    kept_world["installed"] = "build-1"
    monkeypatch.setattr(snapshots, "installed_disk", lambda spec, server=None: Installed(
        Path(kept_world["clone"]) / f"{spec.method}-installed.qcow2", 100, 200, kept_world["installed"]))
    kept = tmp_path / "kept"
    spec = TrialSpec("ab", "v2", cut="phase=confirm,n=3")
    SnapshotStore(tmp_path / "1", kept=kept).get(spec, "confirm")
    kept_world["clone"] = "/other-clone"
    other = SnapshotStore(tmp_path / "2", kept=kept).get(spec, "confirm")
    # Set onto the other clone's installed disk, not its pristine one.
    assert taken == [("ab", "confirm", 0)]
    assert kept_world["backed"] == [(other.disk, Path("/other-clone/ab-installed.qcow2"))]
    # The kept clock holds for it, as for any other kept snapshot of the method.
    assert kept_clock({("ab", "safe")}, kept) == CLOCK
    # An installed disk built anew holds other bytes: the snapshot is taken again.
    kept_world["installed"] = "build-2"
    SnapshotStore(tmp_path / "3", kept=kept).get(spec, "confirm")
    assert taken == [("ab", "confirm", 0)] * 2


def test_a_kept_snapshot_of_other_builds_or_clock_or_asked_fresh_is_taken_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kept_world: dict) -> None:
    taken: Taken = []
    monkeypatch.setattr(snapshots, "take_snapshot", fake_take(taken))
    kept = tmp_path / "kept"
    spec = TrialSpec("rauc", "v2")
    SnapshotStore(tmp_path / "1", kept=kept).get(spec, "pull")
    kept_world["builds"] = "two"
    SnapshotStore(tmp_path / "2", kept=kept).get(spec, "pull")
    monkeypatch.setenv(GUEST_CLOCK_ENV, "2026-12-02T08:00:00")
    SnapshotStore(tmp_path / "3", kept=kept).get(spec, "pull")
    SnapshotStore(tmp_path / "4", kept=kept, fresh=True).get(spec, "pull")
    assert len(taken) == 4
    # Each one taken replaced the kept one: the last serves.
    SnapshotStore(tmp_path / "5", kept=kept).get(spec, "pull")
    assert len(taken) == 4 and origins(tmp_path / "5") == {FROM_KEPT: 1}
    assert [p.name for p in kept.iterdir() if not p.name.startswith(".")] == ["rauc-v2-safe-pull-0"]


def test_without_a_fixed_clock_nothing_is_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(GUEST_CLOCK_ENV, raising=False)
    taken: Taken = []
    monkeypatch.setattr(snapshots, "take_snapshot", fake_take(taken))
    for n in range(2):
        SnapshotStore(tmp_path / str(n), kept=tmp_path / "kept").get(TrialSpec("ab", "v2"), "pull")
    assert len(taken) == 2 and not (tmp_path / "kept").exists()


def test_a_store_given_no_kept_directory_takes_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       kept_world: dict) -> None:
    taken: Taken = []
    monkeypatch.setattr(snapshots, "take_snapshot", fake_take(taken))
    for n in range(2):
        SnapshotStore(tmp_path / str(n)).get(TrialSpec("ab", "v2"), "pull")
    assert len(taken) == 2 and origins(tmp_path / "1") == {TAKEN: 1}


def test_the_least_recently_used_kept_snapshots_make_room(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          kept_world: dict) -> None:
    monkeypatch.setattr(snapshots, "take_snapshot", fake_take([]))
    kept = tmp_path / "kept"
    for n, phase in enumerate(("pull", "deploy", "bootloader")):
        SnapshotStore(tmp_path / str(n), kept=kept).get(TrialSpec("ab", "v2"), phase)
        stamp = 1_000_000 + n
        os.utime(kept / f"ab-v2-safe-{phase}-0" / "kept.json", (stamp, stamp))
    # Room for these three and no more, counted as held on disk (a memory file is mostly holes).
    monkeypatch.setattr(snapshots, "KEPT_BYTES", sum(f.stat().st_blocks * 512 for f in kept.glob("*/*")))
    # The oldest is used again: the next oldest goes when a fourth is kept.
    SnapshotStore(tmp_path / "again", kept=kept).get(TrialSpec("ab", "v2"), "pull")
    SnapshotStore(tmp_path / "4", kept=kept).get(TrialSpec("ab", "v2-bad"), "pull")
    left = sorted(p.name for p in kept.iterdir() if not p.name.startswith("."))
    assert left == ["ab-v2-bad-safe-pull-0", "ab-v2-safe-bootloader-0", "ab-v2-safe-pull-0"]


def test_a_campaign_takes_the_clock_of_the_kept_snapshots_that_fit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kept_world: dict) -> None:
    monkeypatch.setattr(snapshots, "take_snapshot", fake_take([]))
    kept = tmp_path / "kept"
    assert kept_clock({("ab", "safe")}, kept) is None
    SnapshotStore(tmp_path / "1", kept=kept).get(TrialSpec("ab", "v2"), "pull")
    monkeypatch.setenv(GUEST_CLOCK_ENV, "2026-12-02T08:00:00")
    SnapshotStore(tmp_path / "2", kept=kept).get(TrialSpec("rauc", "v2"), "pull")
    monkeypatch.delenv(GUEST_CLOCK_ENV)
    assert kept_clock({("ab", "safe")}, kept) == CLOCK
    assert kept_clock({("ab", "safe"), ("rauc", "safe")}, kept) == "2026-12-02T08:00:00"
    assert kept_clock({("ostree", "safe"), ("ab", "unsafe")}, kept) is None
    kept_world["builds"] = "two"        # the images were rebuilt: no kept snapshot fits
    assert kept_clock({("ab", "safe"), ("rauc", "safe")}, kept) is None

    def unbuilt(spec: TrialSpec, clock: str | None = None) -> dict:
        raise HarnessError(f"disk image of {spec.method} is missing: run './brownout build'")
    monkeypatch.setattr(snapshots, "kept_key", unbuilt)
    assert kept_clock({("ab", "safe"), ("rauc", "safe")}, kept) is None


@pytest.mark.parametrize("pinned", [None, "2026-11-30T00:00:00"])
def test_a_campaign_runs_under_the_kept_clock_unless_its_clock_is_pinned(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pinned: str | None) -> None:
    asked: list[set] = []
    started: list[tuple[list[str], dict]] = []

    def kept(wanted: set) -> str:
        asked.append(wanted)
        return CLOCK

    def fake_pytest(argv: list[str], **popen: object) -> subprocess.Popen:
        started.append((argv, dict(popen["env"])))  # type: ignore[call-overload]
        return subprocess.Popen([sys.executable, "-c", "pass"], stdout=popen["stdout"])
    if pinned:
        monkeypatch.setenv(GUEST_CLOCK_ENV, pinned)
    else:
        monkeypatch.delenv(GUEST_CLOCK_ENV, raising=False)
    monkeypatch.setattr(campaign, "kept_clock", kept)
    monkeypatch.setattr(campaign, "start_group", fake_pytest)
    cuts = [PlannedCut("rauc-pull-cut001-after", "rauc", "v2", "pull", 1, "after")]
    campaign.run(cuts, Journal(tmp_path / "j.jsonl"), seed=1, jobs=1, resume=False, fresh_snapshots=True,
                 stream=open(os.devnull, "w"))
    (argv, env), = started
    assert env[GUEST_CLOCK_ENV] == (pinned or CLOCK) and "--brownout-fresh-snapshots" in argv
    assert asked == ([] if pinned else [{("rauc", "safe")}])


@pytest.mark.qemu
@pytest.mark.e2e
@pytest.mark.timeout(600)
def test_a_trial_from_a_kept_copy_is_the_trial_from_the_snapshot_taken(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real snapshot kept by one store and copied by another, as another
    clone's campaign would (its disk copied and set onto that clone's pristine
    disk): the same cut from either copy ends the same way."""
    monkeypatch.setenv(GUEST_CLOCK_ENV, CLOCK)
    kept = tmp_path / "kept"
    with UpdateServer(methods.served_roots()) as server:
        taken = SnapshotStore(tmp_path / "first", server, kept=kept).get(TrialSpec("ab", "v2"), "pull")
        described = kept / "ab-v2-safe-pull-0" / "kept.json"
        described.write_text(json.dumps(json.loads(described.read_text()) | {"backing": "/another/clone/ab.img"}))
        copied = SnapshotStore(tmp_path / "later", server, kept=kept).get(TrialSpec("ab", "v2"), "pull")
        assert origins(tmp_path / "later") == {FROM_KEPT: 1} and not copied.disk.samefile(taken.disk)
        spec = TrialSpec("ab", "v2", cut="phase=pull,n=3,edge=after")
        results = [run_trial(spec, tmp_path / name, server, snapshot=snapshot)
                   for name, snapshot in (("from-taken", taken), ("from-copy", copied))]
    # A cut in the pull leaves v1, whole; the re-run completes the update.
    assert [(r.final, r.verdicts, r.started) for r in results] == [("v1", ["atomic", "completes"],
                                                                    "snapshot:pull")] * 2
    # Where the cut fired, as far as two runs agree (an offset moves with how the bytes arrived).
    fired = [((r.cut or {}).get("phase"), (r.cut or {}).get("syscall")) for r in results]
    assert fired[0] == fired[1] and fired[0][0] == "pull"


@pytest.mark.qemu
@pytest.mark.e2e
@pytest.mark.timeout(900)
def test_a_snapshot_taken_from_another_is_the_snapshot_taken_cold(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A snapshot held at a deploy point, taken by going on from the pull's
    restore, and the same one taken from a cold boot: they hold at the same
    point with the same update behind them, and the same cut from each ends
    the same way at the same point."""
    monkeypatch.setenv(GUEST_CLOCK_ENV, CLOCK)
    with UpdateServer(methods.served_roots()) as server:
        chained = SnapshotStore(tmp_path / "chained", server)
        pull = chained.get(TrialSpec("ab", "v2"), "pull")
        with caplog.at_level(logging.INFO, logger="harness.trial.run"):
            went_on = chained.get(TrialSpec("ab", "v2"), "deploy", 2)
        assert "from the pull snapshot" in caplog.text
        cold = SnapshotStore(tmp_path / "cold", server).get(TrialSpec("ab", "v2"), "deploy", 2)
        assert went_on.disk.parent != pull.disk.parent and not ram_file(went_on.state).samefile(ram_file(pull.state))
        assert (went_on.phase, went_on.at, went_on.points, went_on.boot, went_on.bytes_downloaded, went_on.down_s) == \
            (cold.phase, cold.at, cold.points, cold.boot, cold.bytes_downloaded, cold.down_s)
        assert went_on.points > pull.points and went_on.boot_markers == pull.boot_markers
        spec = TrialSpec("ab", "v2", cut="phase=deploy,n=3,edge=after")
        results = [run_trial(spec, tmp_path / name, server, snapshot=snapshot)
                   for name, snapshot in (("from-chained", went_on), ("from-cold", cold))]
        # The pull's snapshot still serves, unchanged by the one taken from it.
        from_pull = run_trial(TrialSpec("ab", "v2", cut="phase=pull,n=2,edge=after"), tmp_path / "from-pull",
                              server, snapshot=pull)
    assert [(r.final, r.verdicts, r.cut, r.started) for r in results] == \
        [(results[1].final, results[1].verdicts, results[1].cut, "snapshot:deploy")] * 2
    assert results[0].cut and results[0].cut.get("phase") == "deploy"
    assert results[0].measures.bytes_downloaded == results[1].measures.bytes_downloaded
    assert (from_pull.final, from_pull.verdicts) == ("v1", ["atomic", "completes"])


@pytest.mark.qemu
@pytest.mark.e2e
@pytest.mark.timeout(600)
def test_a_cut_in_the_confirmation_ends_alike_from_its_snapshot_and_from_the_installed_disk(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The snapshot held where the installed version's confirmation starts, on
    the disk the update left at its reboot: the same cut from it and from a
    cold boot of that disk ends the same way, at the same point."""
    monkeypatch.setenv(GUEST_CLOCK_ENV, CLOCK)
    with UpdateServer(methods.served_roots()) as server:
        held = SnapshotStore(tmp_path / "store", server).get(TrialSpec("ab", "v2"), "confirm")
        assert (held.phase, held.points, held.boot, held.bytes_downloaded) == ("confirm", 0, 1, 0)
        spec = TrialSpec("ab", "v2", cut="phase=confirm,n=1,edge=after")
        from_snapshot = run_trial(spec, tmp_path / "snapshot", server, snapshot=held, from_installed=True)
        cold = run_trial(spec, tmp_path / "cold", server, from_installed=True)
    assert (from_snapshot.started, cold.started) == ("snapshot:confirm", "installed")
    assert (from_snapshot.final, from_snapshot.verdicts) == (cold.final, cold.verdicts)
    assert from_snapshot.final == "v2" and "atomic" in from_snapshot.verdicts
    assert from_snapshot.cut == cold.cut and (cold.cut or {}).get("phase") == "confirm"
    # The update's bytes are the installed disk's in both.
    assert from_snapshot.measures.bytes_downloaded == cold.measures.bytes_downloaded > 0
    assert from_snapshot.measures.reboots == cold.measures.reboots


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
        self.at: list[float] = []            # when each command came
        self.answered: list[str] = []        # each status answered, in turn

    def qmp(self) -> "ScriptedMachine":
        return self

    def execute(self, command: str, arguments: dict | None = None) -> dict:
        self.commands.append(command)
        self.at.append(time.monotonic())
        if command != "query-status":
            return {}
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        self.answered.append(status)
        if status == "gone":
            raise QMPError("QMP socket: connection closed by QEMU while waiting for a reply")
        return {"status": status}


def test_a_restored_machine_that_powers_off_at_once_has_run(tmp_path: Path) -> None:
    state = tmp_path / "deploy.state"
    state.write_bytes(b"state")
    ram_file(state).write_bytes(b"memory")
    machine = ScriptedMachine(["inmigrate", "paused", "shutdown"])
    restore(machine, state)  # type: ignore[arg-type]
    assert machine.commands.count("cont") == 1


def test_a_restored_machine_went_on_before_anything_it_printed(tmp_path: Path) -> None:
    """The time a restore returns is when the machine went on, never after:
    a cut at the first point after the hold is printed before the status
    query that sees the machine running, and its time counts from the restore."""
    state = tmp_path / "deploy.state"
    state.write_bytes(b"state")
    ram_file(state).write_bytes(b"memory")
    told = ScriptedMachine(["inmigrate", "paused", "running"])
    went_on = restore(told, state)  # type: ignore[arg-type]
    assert went_on <= told.at[told.commands.index("cont")]
    assert went_on > told.at[told.commands.index("query-status")]
    # Running at the second query by itself: it went on after the first one saw it loading.
    by_itself = ScriptedMachine(["inmigrate", "running"])
    went_on = restore(by_itself, state)  # type: ignore[arg-type]
    queries = [t for c, t in zip(by_itself.commands, by_itself.at) if c == "query-status"]
    assert "cont" not in by_itself.commands and by_itself.answered == ["inmigrate", "running"]
    assert went_on <= queries[0] < queries[1]


def test_a_restored_machine_whose_qemu_is_gone_at_once_has_run(tmp_path: Path) -> None:
    state = tmp_path / "deploy.state"
    state.write_bytes(b"state")
    ram_file(state).write_bytes(b"memory")
    restore(ScriptedMachine(["paused", "gone"]), state)  # type: ignore[arg-type]


def test_a_machine_down_before_it_was_resumed_is_not_restored(tmp_path: Path) -> None:
    state = tmp_path / "deploy.state"
    state.write_bytes(b"state")
    ram_file(state).write_bytes(b"memory")
    with pytest.raises(HarnessError, match="the machine is shutdown"):
        restore(ScriptedMachine(["inmigrate", "shutdown"]), state)  # type: ignore[arg-type]
    with pytest.raises(QMPError, match="connection closed"):
        restore(ScriptedMachine(["inmigrate", "gone"]), state)  # type: ignore[arg-type]


def test_a_snapshot_is_memory_in_a_file_and_the_devices_in_the_migration(tmp_path: Path) -> None:
    state = tmp_path / "deploy.state"
    state.write_bytes(b"state")
    ram_file(state).write_bytes(b"memory")
    machine = ScriptedMachine(["running"])
    restore(machine, state)  # type: ignore[arg-type]
    # The migration carries no memory: the restored machine maps the saved one's file.
    assert machine.commands[:2] == ["migrate-set-capabilities", "migrate-incoming"]
    held, restored = held_memory(state, 512), restored_memory(state, 512)
    assert held[1] == f"memory-backend-file,id=ram,size=512M,mem-path={tmp_path}/deploy.ram,share=on"
    # Privately: a restored machine's writes are its own, the file serves the next trial unchanged.
    assert restored[:2] == ["-incoming", "defer"] and restored[3].endswith("share=off")
    # A snapshot taken from another restores a copy of its memory file and saves it in place: shared.
    continued = continued_memory(state, 512)
    assert continued[:2] == ["-incoming", "defer"] and continued[2:] == held


def test_a_snapshot_without_its_memory_is_not_restored(tmp_path: Path) -> None:
    state = tmp_path / "deploy.state"
    state.write_bytes(b"state")
    machine = ScriptedMachine(["running"])
    with pytest.raises(HarnessError, match="deploy.ram is missing"):
        restore(machine, state)  # type: ignore[arg-type]
    assert machine.commands == []
