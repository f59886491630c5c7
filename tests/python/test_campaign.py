"""Campaign planning, journal and outcome logic (no QEMU)."""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from harness import HarnessError
from harness.campaign import runner as campaign
from harness.campaign.runner import plan
from harness.campaign.journal import Entry, Journal
from harness.machine.snapshot import Snapshot, hold_spec
from harness.trial.run import Measures, TrialResult, TrialSpec, start_label

POINTS = ([{"index": i, "phase": "pull"} for i in range(1, 301)]
          + [{"index": 301, "phase": "deploy"}, {"index": 302, "phase": "bootloader"},
             {"index": 303, "phase": "bootloader"}, {"index": 304, "phase": "none"}])


def result(final: str, verdicts: list[str], phase: str = "pull") -> TrialResult:
    return TrialResult("ab", "v2", final, verdicts, Measures(None, 1, 0, 0, None),
                       "./brownout trial", "A", "n=1,edge=after", {"phase": phase})


def test_plan_takes_every_bootloader_point_and_samples_the_rest() -> None:
    cuts = plan("ab", "v2", POINTS, "10", seed=7)
    phases = [c.phase for c in cuts]
    assert phases.count("bootloader") == 4          # 2 points x 2 edges, always all
    assert phases.count("pull") == 10 and phases.count("deploy") == 2   # deploy has only 2 pairs
    assert "none" not in phases
    assert len({c.id for c in cuts}) == len(cuts)
    assert "ab-bootloader-cut302-after" in {c.id for c in cuts}


def test_each_cut_is_aimed_by_its_place_in_its_phase() -> None:
    cuts = {c.id: c for c in plan("ab", "v2", POINTS, "all", 1)}
    assert cuts["ab-bootloader-cut303-after"].spec == "phase=bootloader,n=2,edge=after"
    assert cuts["ab-deploy-cut301-before"].spec == "phase=deploy,n=1,edge=before"
    assert cuts["ab-pull-cut017-after"].spec == "phase=pull,n=17,edge=after"


def test_the_sample_depends_on_the_seed_only() -> None:
    assert plan("ab", "v2", POINTS, "10", 7) == plan("ab", "v2", POINTS, "10", 7)
    assert plan("ab", "v2", POINTS, "10", 7) != plan("ab", "v2", POINTS, "10", 8)


def test_all_means_all() -> None:
    assert len(plan("ab", "v2", POINTS, "all", 1)) == 2 * (len(POINTS) - 1)


def test_a_planned_cut_is_a_valid_trial() -> None:
    cut = plan("ab", "v2", POINTS, "1", 1, client="unsafe")[0]
    assert cut.trial() == TrialSpec("ab", "v2", cut=cut.spec, client="unsafe")
    assert cut.id.endswith("-unsafe")


def test_a_cut_of_the_second_update_starts_cold_from_v2() -> None:
    cuts = campaign.group_cuts(plan("ab", "v3", POINTS, "all", 1, start="v2"), jobs=2)
    assert all(c.id.endswith("-from-v2") and not c.snapshot for c in cuts)
    assert cuts[0].trial() == TrialSpec("ab", "v3", cut=cuts[0].spec, start="v2")
    assert campaign.record_path("ab", "v2").name == "ab-from-v2.jsonl"


def test_a_record_of_another_start_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(campaign, "images_key", lambda method: {"rootfs": "k"})
    path = tmp_path / "ab.jsonl"
    path.write_text(json.dumps({"record": {"method": "ab", "payload": "v2", "images": {"rootfs": "k"},
                                           "phases": ["pull", "deploy", "bootloader", "confirm"]}})
                    + "\n" + json.dumps(POINTS[0]) + "\n")
    assert campaign.load_record("ab", path)[1] == [POINTS[0]]
    with pytest.raises(HarnessError, match="records the update from v1, not from v2"):
        campaign.load_record("ab", path, "v2")


def test_missing_records_are_made_side_by_side_and_only_those(monkeypatch: pytest.MonkeyPatch) -> None:
    recorded: set[str] = {"ab"}
    # Both missing records must be under way at once, or the barrier breaks.
    both_running = threading.Barrier(2, timeout=10)

    def load(method: str, path: Path | None = None, start: str = "v1") -> tuple[dict, list[dict]]:
        if method not in recorded:
            raise HarnessError(f"no record of {method}")
        return {}, [{"index": 1, "phase": method}]

    def record(method: str, start: str = "v1") -> Path:
        both_running.wait()
        recorded.add(method)
        return Path(method)
    monkeypatch.setattr(campaign, "load_record", load)
    monkeypatch.setattr(campaign, "record", record)
    points = campaign.records(["ab", "ostree", "rauc"], jobs=2)
    assert points == {m: [{"index": 1, "phase": m}] for m in ("ab", "ostree", "rauc")}
    assert both_running.n_waiting == 0 and not both_running.broken


def test_the_longest_missing_records_start_first(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[str] = []
    recorded: set[str] = set()

    def load(method: str, path: Path | None = None, start: str = "v1") -> tuple[dict, list[dict]]:
        if method not in recorded:
            raise HarnessError(f"no record of {method}")
        return {}, []

    def record(method: str, start: str = "v1") -> Path:
        started.append(method)
        recorded.add(method)
        return Path(method)
    monkeypatch.setattr(campaign, "load_record", load)
    monkeypatch.setattr(campaign, "record", record)
    monkeypatch.setattr(campaign, "_take_kept_record", lambda name, start: False)
    campaign.records(["ab", "inplace", "ostree", "rauc"], jobs=1)
    # RAUC's record lists tens of thousands of points, OSTree's thousands.
    assert started == ["rauc", "ostree", "ab", "inplace"]


def test_a_record_without_the_confirmation_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(campaign, "images_key", lambda method: {"rootfs": "k"})
    path = tmp_path / "ab.jsonl"
    path.write_text(json.dumps({"record": {"method": "ab", "payload": "v2", "images": {"rootfs": "k"}}})
                    + "\n" + json.dumps(POINTS[0]) + "\n")
    with pytest.raises(HarnessError, match=r"records the phases the update alone, not pull, deploy, bootloader, "
                                           r"confirm: run './brownout record --method ab' again"):
        campaign.load_record("ab", path)


def test_confirm_cuts_start_from_one_snapshot_where_it_starts_and_a_campaign_can_take_that_phase_alone() -> None:
    points = POINTS + [{"index": 90 + k, "phase": "confirm"} for k in range(1, 4)]
    cuts = campaign.group_cuts(plan("ab", "v2", points, "all", 1, phases=("confirm",)), jobs=2)
    assert [c.id for c in cuts][:2] == ["ab-confirm-cut091-before", "ab-confirm-cut091-after"]
    assert len(cuts) == 6 and all(c.snapshot and (c.hold_phase, c.hold_at) == ("confirm", 0) for c in cuts)
    assert cuts[1].trial() == TrialSpec("ab", "v2", cut="phase=confirm,n=1,edge=after")
    assert cuts[1].trial().confirm_stage
    assert TrialSpec("ab", "v2", cut="hold=confirm").confirm_stage
    # Too few to pay for a snapshot: cold, from the installed disk.
    few = campaign.group_cuts(plan("ab", "v2", POINTS + points[-1:], "all", 1, phases=("confirm",)), jobs=2)
    assert len(few) == 2 and not any(c.snapshot for c in few)
    with pytest.raises(HarnessError, match="inplace has no phase confirm; its phases: pull, deploy"):
        plan("inplace", "v2", points, "all", 1, phases=("confirm",))


def test_a_confirm_cut_needs_a_method_that_confirms_and_a_payload_that_installs() -> None:
    with pytest.raises(HarnessError, match="inplace has no confirm phase"):
        TrialSpec("inplace", "v2", cut="phase=confirm,n=1")
    with pytest.raises(HarnessError, match="needs a payload that installs"):
        TrialSpec("ab", "v2-bad", cut="phase=confirm,n=1")
    with pytest.raises(HarnessError, match="no lazy writeback"):
        TrialSpec("ab", "v2", cut="phase=confirm,n=1", lazy_writeback=True)
    assert not TrialSpec("ab", "v2", cut="phase=pull,n=1").confirm_stage


def test_journal_appends_and_survives_a_torn_last_line(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.jsonl")
    cut = plan("ab", "v2", POINTS, "1", 1)[0]
    journal.record(cut.id, cut.kind, cut.phase, result("v1", ["atomic", "completes"]), seed=1)
    with open(journal.path, "a") as f:
        f.write('{"id": "ab-pull-cut')            # an interrupted write
    assert journal.done() == {cut.id}
    assert journal.entries()[0].final == "v1"


@pytest.mark.parametrize("final, verdicts, expected", [
    ("v1", ["atomic", "completes"], "atomic+completes"),
    ("v2", ["atomic"], "atomic, not completed"),
    ("bricked", [], "bricked"),
    ("mixed", [], "mixed, not completed"),
    ("mixed", ["completes"], "mixed, re-run completes"),
    ("missed", [], "missed"),
    ("v1", [], "not atomic (v1)"),
    ("v1", ["atomic", "completes", "committed-rolled-back"], "committed, then rolled back"),
])
def test_outcome(final: str, verdicts: list[str], expected: str) -> None:
    written = Entry.of_trial("ab-pull-cut001-after", "cut", "pull", result(final, verdicts)).to_dict()
    assert Entry.from_dict(json.loads(json.dumps(written))).outcome == expected


def test_a_record_from_other_images_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ab.jsonl"
    path.write_text(json.dumps({"record": {"method": "ab", "images": {"apps": "old"}}}) + "\n"
                    + json.dumps(POINTS[0]) + "\n")
    with pytest.raises(HarnessError, match="recorded on other images"):
        campaign.load_record("ab", path)


def test_a_missing_or_foreign_record_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="./brownout record --method ab"):
        campaign.load_record("ab", tmp_path / "none.jsonl")
    (tmp_path / "junk.jsonl").write_text("hello\n")
    with pytest.raises(HarnessError, match="not a brownout record"):
        campaign.load_record("ab", tmp_path / "junk.jsonl")


def test_a_malformed_cut_spec_is_refused() -> None:
    with pytest.raises(HarnessError, match="malformed cut spec"):
        TrialSpec(cut="n=1;reboot")
    with pytest.raises(HarnessError, match="unknown client"):
        TrialSpec(client="reckless")


def test_scenarios_of_a_comparative_campaign() -> None:
    planned = campaign.plan_scenarios("ab", downtime_runs=5)
    kinds = [c.kind for c in planned]
    assert kinds.count("happy") == 1 and kinds.count("rollback") == 1 and kinds.count("refusal") == 2
    assert kinds.count("downtime") == 4              # the happy path is the fifth plain update
    assert {c.payload for c in planned if c.kind == "refusal"} == {"v2-tampered", "v2-badsig"}
    assert all(c.trial().cut is None for c in planned)
    assert len({c.id for c in planned}) == len(planned)


def test_cut_groups_share_snapshots() -> None:
    planned = campaign.group_cuts(plan("ab", "v2", POINTS, "10", 7) + campaign.plan_scenarios("ab", 1), jobs=2)
    groups = {c.phase: set() for c in planned if c.kind == "cut"}
    for c in planned:
        if c.kind == "cut":
            groups[c.phase].add(c.group)
    assert len(groups["pull"]) == 1                  # every worker starts its pull trials from one snapshot
    # 2 deploy and 4 bootloader trials: one snapshot, held at the first deploy point, serves all six.
    assert len(groups["bootloader"]) == 1 and groups["deploy"] == groups["bootloader"]
    assert all(c.snapshot for c in planned if c.kind == "cut")
    assert all(c.group == "" and not c.snapshot for c in planned if c.kind != "cut")
    # A pull group's snapshot holds where the pull starts, before the update's first request.
    assert {(c.hold_phase, c.hold_at) for c in planned if c.phase == "pull"} == {("pull", 0)}
    assert {(c.hold_phase, c.hold_at) for c in planned if c.phase in ("deploy", "bootloader")} == {("deploy", 1)}
    pull = sorted((c for c in planned if c.phase == "pull"), key=lambda c: c.index)
    assert all(c.trial().cut == f"phase=pull,n={c.rank},edge={c.edge}" for c in pull)


def test_workers_take_the_scenarios_first_then_the_snapshots_in_turn_then_the_cold_cuts() -> None:
    points = ([{"index": i, "phase": "pull"} for i in range(1, 11)]
              + [{"index": i, "phase": "bootloader"} for i in (11, 12)]
              + [{"index": i, "phase": "deploy"} for i in range(13, 30013)]
              + [{"index": i, "phase": "bootloader"} for i in (30013, 30014)]
              + [{"index": 30015, "phase": "confirm"}])
    grouped = campaign.group_cuts(plan("rauc", "v2", points, "6", 3) + campaign.plan_scenarios("rauc", 1), jobs=2)
    order = campaign.dispatch_order(grouped)
    assert sorted(c.id for c in order) == sorted(c.id for c in grouped)
    kinds = [c.kind for c in order]
    assert kinds[:4] == ["happy", "rollback", "refusal", "refusal"] and set(kinds[4:]) == {"cut"}
    held = [c for c in order if c.kind == "cut" and c.snapshot]
    snapshot_of = [(c.hold_phase, c.hold_at) for c in held]
    # Three snapshots (the pull's, and two runs of the later points), taken in turn: the first
    # three trials need one each, and the next three the same ones again.
    assert len(set(snapshot_of)) == 3 and len(set(snapshot_of[:3])) == 3 and snapshot_of[3:6] == snapshot_of[:3]
    # In the order they hold in the update: a later one can be taken from an earlier one.
    assert snapshot_of[0] == ("pull", 0) and snapshot_of[1][0] == "bootloader" and snapshot_of[2][0] == "deploy"
    for snapshot in set(snapshot_of):
        ids = [c.id for c in held if (c.hold_phase, c.hold_at) == snapshot]
        assert ids == [c.id for c in grouped if c.snapshot and (c.hold_phase, c.hold_at) == snapshot]
    cold = order[4 + len(held):]
    assert cold and all(c.phase == "confirm" and not c.snapshot for c in cold)


def test_groups_after_the_pull_are_runs_of_neighbouring_points_held_at_their_first() -> None:
    """An updater whose env writes come before and after its slot copy: each
    group holds at its first point, whatever that point's phase, so no trial
    traces the copy to reach an env write after it."""
    points = ([{"index": i, "phase": "pull"} for i in range(1, 11)]
              + [{"index": i, "phase": "bootloader"} for i in (11, 12)]
              + [{"index": i, "phase": "deploy"} for i in range(13, 30013)]
              + [{"index": i, "phase": "bootloader"} for i in (30013, 30014)])
    planned = campaign.group_cuts(plan("rauc", "v2", points, "6", 3), jobs=2)
    held = sorted((c for c in planned if c.phase != "pull"), key=lambda c: c.index)
    assert len(held) == 14                           # every bootloader point, both edges; 6 deploy cuts
    groups = [[c for c in held if c.group == g] for g in dict.fromkeys(c.group for c in held)]
    assert len(groups) == 2 and sum(map(len, groups)) == 14
    first, second = groups
    assert first[-1].index < second[0].index         # runs of neighbouring points
    for group in (first, second):
        start = group[0]
        assert {(c.hold_phase, c.hold_at) for c in group} == {(start.phase, start.rank)}
        assert all(c.index >= start.index for c in group)
    assert first[0].phase == "bootloader" and second[-1].phase == "bootloader"


def test_a_set_of_cuts_is_split_only_where_a_later_snapshot_saves_more_tracing_than_it_costs() -> None:
    near = [190, 190, 191, 191, 193, 193, 194, 194]          # A/B: a few env writes after a small deploy
    assert campaign.held_splits(near, 2) == []
    copy = [11160, 11161, 11500, 12300, 29000, 34000, 34960, 34961]   # env writes on both sides of a slot copy
    assert campaign.held_splits(copy, 2) == [4]
    # Thousands of cuts over a few hundred points: splitting pays, and every worker gets a group.
    assert len(campaign.held_splits([63 + k // 2 for k in range(1524)], 2)) == 1
    assert campaign.held_splits(copy, 1) == []
    # Never between the two edges of one point.
    assert all(copy[s] != copy[s - 1] for s in campaign.held_splits(copy, 8))


def test_a_set_of_cuts_is_split_where_the_record_says_the_time_goes() -> None:
    """A/B's deploy: the slot's fsync (point 104), a read-back of 1.5 s that
    holds no point, then the record's writes and the env's (105-110). By
    index the points are neighbours and one snapshot serves them all; by the
    recorded times the trials after the read-back each save 1.5 s from a
    snapshot of their own, which costs less."""
    indices = [104, 104, 105, 105, 106, 107, 107, 108, 109, 109, 110, 110]
    assert campaign.held_splits(indices, 2) == []
    ms = [3300.0 if i == 104 else 4800.0 + (i - 105) for i in indices]
    assert campaign.held_splits(indices, 2, ms) == [2]
    # Where the record gives no time for some point, the indices decide.
    assert campaign.held_splits(indices, 2, ms[:-1] + [None]) == []


def test_the_plan_carries_each_points_recorded_time_into_its_groups() -> None:
    points = ([{"index": i, "phase": "pull", "ms": 30.0 * i} for i in range(1, 104)]
              + [{"index": 104, "phase": "deploy", "ms": 3300.0}]
              + [{"index": i, "phase": "deploy", "ms": 4800.0 + i} for i in range(105, 109)]
              + [{"index": i, "phase": "bootloader", "ms": 4900.0 + i} for i in (109, 110)])
    planned = plan("ab", "v2", points, "all", 1, phases=("deploy", "bootloader"))
    assert {c.index: c.ms for c in planned}[104] == 3300.0
    grouped = campaign.group_cuts(planned, jobs=2)
    holds = {c.index: (c.hold_phase, c.hold_at) for c in grouped}
    assert holds[104] == ("deploy", 1)
    assert {holds[i] for i in range(105, 111)} == {("deploy", 2)}


def test_a_group_with_a_cut_aimed_by_index_holds_where_its_phase_starts() -> None:
    cuts = [campaign.PlannedCut(f"ab-deploy-{n}", "ab", "v2", "deploy", n, "after") for n in range(12, 16)]
    assert [(c.snapshot, c.hold_phase, c.hold_at) for c in campaign.group_cuts(cuts, jobs=2)] \
        == [(True, "deploy", 0)] * 4
    aimed = campaign.group_cuts([dataclasses.replace(c, rank=c.index - 10) for c in cuts], jobs=2)
    assert {(c.hold_phase, c.hold_at) for c in aimed} == {("deploy", 2)}


def test_a_pull_group_holds_where_the_pull_starts_whatever_its_points() -> None:
    """A machine saved mid-transfer comes back without its connections: the
    pull phase is held before its first request, so each trial replays it."""
    cuts = [campaign.PlannedCut(f"ab-pull-{n}", "ab", "v2", "pull", n, "after", rank=n) for n in range(20, 24)]
    assert [(c.snapshot, c.hold_at) for c in campaign.group_cuts(cuts, jobs=2)] == [(True, 0)] * 4
    with pytest.raises(HarnessError, match="without their connections"):
        hold_spec("pull", ("pull", "deploy"), at=20)


def test_journal_entries_carry_their_kind(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.jsonl")
    happy = campaign.plan_scenarios("ab", 1)[0]
    journal.record(happy.id, happy.kind, happy.phase, result("v2", ["atomic", "completes"]))
    assert journal.entries()[0].kind == "happy"


def test_the_bootloader_phase_can_be_sampled_too() -> None:
    cuts = plan("ab", "v2", POINTS, "1", seed=7, every_bootloader_point=False)
    assert [c.phase for c in cuts] == ["pull", "deploy", "bootloader"]


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_an_interrupt_takes_down_pytest_and_its_workers(tmp_path: Path) -> None:
    # A leader that exits on SIGINT, and a "worker" that ignores it, as a
    # worker busy reaping its machine might: neither is left running. The
    # leader waits with `wait`, which a trapped signal ends at once.
    script = "trap 'exit 130' INT; (trap '' INT; exec sleep 300) & echo ready; sleep 300 & wait $!"
    proc = campaign.start_group(["sh", "-c", script], stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
    assert _group_alive(proc.pid)
    campaign.stop_group(proc, grace=30)
    proc.stdout.close()
    assert proc.returncode == 130
    deadline = time.monotonic() + 5
    while _group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _group_alive(proc.pid)


def test_a_crash_state_or_lazy_writeback_is_in_the_reproduction_and_never_from_a_snapshot() -> None:
    state = campaign.PlannedCut("ab-storage-deploy-prefix-200", "ab", "v2", "deploy", 200, "", state="prefix:200")
    lazy = campaign.PlannedCut("ab-bootloader-cut302-after-lazy", "ab", "v2", "bootloader", 302, "after",
                               rank=1, lazy_writeback=True)
    assert state.spec is None and state.trial().state == "prefix:200"
    assert state.trial().reproduce().endswith("--state prefix:200")
    assert lazy.trial().reproduce().endswith("--cut phase=bootloader,n=1,edge=after --lazy-writeback")
    assert not any(c.snapshot for c in campaign.group_cuts([state] * 5 + [lazy] * 5, 2))
    with pytest.raises(HarnessError):
        TrialSpec("ab", "v2", cut="n=1", state="prefix:1")


def test_an_unfinished_crash_state_stays_in_the_storage_model() -> None:
    spec = TrialSpec("ab", "v2", state="torn:7:512:ff")
    result = TrialResult.unfinished(spec, "timeout", "the trial outlived its 1200 s")
    assert result.model == "storage" and result.cut_spec == "torn:7:512:ff"
    assert Entry.of_trial("ab-storage-boot-torn-7-512-ff", "cut", "boot", result).model == "storage"


def test_a_trial_that_stands_for_equivalent_states_counts_them_in_the_summary(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.jsonl")
    journal.record("ab-storage-pull-prefix-9", "cut", "pull", result("v1", ["atomic", "completes"]), 7, 4000,
                   {"prefix": 10, "torn": 3990})
    journal.record("ab-storage-pull-prefix-12", "cut", "pull", result("v1", ["atomic", "completes"]), 7)
    entries = journal.entries()
    assert [e.equivalents for e in entries] == [4000, 0]
    assert [e.equivalent_kinds for e in entries] == [{"prefix": 10, "torn": 3990}, None]
    (row,) = [line for line in campaign.summarize(entries).splitlines() if "pull" in line]
    assert row.split()[-3:] == ["2", "(4002", "states)"]


def test_a_records_durations_estimate_the_next_one(tmp_path: Path) -> None:
    path = tmp_path / "ab.jsonl"
    assert campaign.last_durations(path) == {}
    path.write_text(json.dumps({"record": {"method": "ab", "seconds": {"update": 61.5, "confirm": 20}}}) + "\n")
    assert campaign.last_durations(path) == {"update": 61.5, "confirm": 20.0}
    path.write_text(json.dumps({"record": {"method": "ab"}}) + "\n")
    assert campaign.last_durations(path) == {}


def test_a_trial_on_a_disk_already_judged_is_journaled_and_counted_as_such(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.jsonl")
    judged = result("v1", ["atomic", "completes"])
    taken = dataclasses.replace(judged, same_disk_as={"trial": "ab-pull-cut017-before", "fingerprint": "ab" * 32})
    journal.record("ab-pull-cut017-before", "cut", "pull", judged, 7)
    journal.record("ab-pull-cut017-after", "cut", "pull", taken, 7)
    entries = journal.entries()
    assert [e.same_disk_as for e in entries] == [None, {"trial": "ab-pull-cut017-before", "fingerprint": "ab" * 32}]
    (row,) = [line for line in campaign.summarize(entries).splitlines() if "pull" in line]
    assert row.split()[-7:] == ["2", "(1", "of", "a", "disk", "already", "judged)"]


def test_a_trial_says_where_it_started() -> None:
    held = Snapshot("deploy", Path("d.qcow2"), Path("s"), 3, 0, 0, 0.0)
    assert start_label(held, installed=True) == "snapshot:deploy"
    assert start_label(None, installed=True) == "installed"
    assert start_label(None, installed=False) == "cold"


def kept_record(folder: Path, images: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ab.jsonl").write_text(json.dumps({"record": {
        "method": "ab", "payload": "v2", "images": images,
        "phases": ["pull", "deploy", "bootloader", "confirm"]}}) + "\n" + json.dumps(POINTS[0]) + "\n")


@pytest.mark.parametrize("kept_images, taken", [({"rootfs": "k"}, True), ({"rootfs": "older"}, False)])
def test_a_record_kept_by_another_clone_serves_images_of_its_keys_only(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kept_images: dict, taken: bool) -> None:
    monkeypatch.setattr(campaign, "images_key", lambda method: {"rootfs": "k"})
    monkeypatch.setattr(campaign, "RECORDS", tmp_path / "clone" / "records")
    monkeypatch.setattr(campaign, "KEPT_RECORDS", tmp_path / "cache" / "records")
    kept_record(tmp_path / "cache" / "records", kept_images)
    made: list[str] = []

    def record(method: str, start: str = "v1") -> Path:
        made.append(method)
        kept_record(tmp_path / "clone" / "records", {"rootfs": "k"})
        return tmp_path / "clone" / "records" / "ab.jsonl"
    monkeypatch.setattr(campaign, "record", record)
    assert campaign.records(["ab"], jobs=1) == {"ab": [POINTS[0]]}
    assert made == ([] if taken else ["ab"])
    assert (tmp_path / "clone" / "records" / "ab.jsonl").is_file()


def test_a_hold_names_its_phase_and_point() -> None:
    assert hold_spec("pull", ("pull", "deploy")) == "hold=pull"
    assert hold_spec("deploy", ("pull", "deploy"), at=40) == "hold=deploy,at=40"
    with pytest.raises(HarnessError, match="cannot hold at phase 'bootloader'; phases: pull, deploy"):
        hold_spec("bootloader", ("pull", "deploy"))
