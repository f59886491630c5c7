"""Every planned trial ends in the journal: a trial the harness cannot finish is
an `error`, one that outlives its time a `timeout`, one whose worker left no
line is written as an error after the run, and a campaign with any of them
exits non-zero."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.campaign import runner as campaign
from harness.campaign.runner import PlannedCut, unaccounted
from harness.campaign.journal import Journal, latest, load_journal
from harness.methods import METHODS, images_key
from harness.trial.run import TrialResult, TrialSpec

REPO = Path(__file__).resolve().parents[2]


def planned(n: int, edge: str = "after") -> list[PlannedCut]:
    return [PlannedCut(f"ab-bootloader-cut{i:03d}-{edge}", "ab", "v2", "bootloader", i, edge) for i in range(1, n + 1)]


def test_a_trial_whose_worker_left_no_line_is_journaled_as_an_error(tmp_path: Path, monkeypatch) -> None:
    # pytest that dies before any trial writes its line (a crashed worker, a
    # fixture that failed): the plan must still be accounted for.
    def dying(argv: list[str], **popen: object) -> subprocess.Popen:
        dies = [sys.executable, "-c", "import sys; sys.exit(3)"]
        return subprocess.Popen(dies, **popen)  # type: ignore[call-overload]
    monkeypatch.setattr(campaign, "start_group", dying)
    journal = Journal(tmp_path / "j.jsonl")
    plan = planned(3)
    status = campaign.run(plan, journal, seed=1, jobs=1, resume=False, stream=open(os.devnull, "w"))
    assert status == 3
    entries = journal.entries()
    assert [e.id for e in entries] == [c.id for c in plan]
    assert all(e.final == "error" and "no result was written" in e.error for e in entries)
    assert unaccounted(plan, entries) == []
    assert all(e.failure is not None for e in entries)
    # A resumed campaign runs them again: an error is no verdict.
    assert journal.done() == set()


def test_the_last_line_of_a_trial_run_again_is_the_one_that_counts(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.jsonl")
    cut = planned(1)[0]
    journal.record(cut.id, cut.kind, cut.phase, TrialResult.unfinished(cut.trial(), "timeout", "outlived its 5 s"))
    assert journal.done() == set()
    ok = TrialResult.unfinished(cut.trial(), "error", "x")
    ok.final, ok.verdicts = "v1", ["atomic", "completes"]
    journal.record(cut.id, cut.kind, cut.phase, ok)
    (last,) = latest(journal.entries())
    assert last.final == "v1" and journal.done() == {cut.id}


def test_an_unfinished_result_carries_its_reason_and_console_tail(tmp_path: Path) -> None:
    boot = tmp_path / "boots" / "1"
    boot.mkdir(parents=True)
    (boot / "console.log").write_text("".join(f"line {i}\n" for i in range(100)))
    r = TrialResult.unfinished(TrialSpec("ab", "v2", cut="n=1,edge=after"), "error", "QMPError: gone", tmp_path)
    assert r.final == "error" and r.error == "QMPError: gone" and r.verdicts == []
    assert r.console_tail.splitlines()[-1] == "line 99" and "line 59" not in r.console_tail
    assert r.measures.bytes_written is None
    assert "error: QMPError: gone" in r.summary()


@pytest.mark.qemu
@pytest.mark.e2e
@pytest.mark.timeout(600)
def test_a_campaign_whose_trials_time_out_reports_them_and_exits_non_zero(tmp_path: Path) -> None:
    # A record with one bootloader point: the plan is that point at both edges,
    # each a cold trial (two boots and the whole slot image), far beyond 3 s.
    record = tmp_path / "ab.jsonl"
    record.write_text(json.dumps({"record": {"method": "ab", "payload": "v2", "images": images_key("ab"),
                                             "phases": list(METHODS["ab"].phases)}}) + "\n"
                      + json.dumps({"index": 1, "phase": "bootloader"}) + "\n")
    journal = tmp_path / "j.jsonl"
    proc = subprocess.run([str(REPO / "brownout"), "campaign", "--method", "ab", "--cuts", "0", "--record",
                           str(record), "--journal", str(journal), "--trial-timeout", "3", "-j", "1"],
                          cwd=REPO, capture_output=True, text=True, timeout=540, stdin=subprocess.DEVNULL)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    entries = load_journal(journal)
    assert sorted(e.id for e in entries) == ["ab-bootloader-cut001-after", "ab-bootloader-cut001-before"]
    for e in entries:
        assert e.final == "timeout" and "outlived its 3 s" in e.error, e
        assert "BROWNOUT" in e.console_tail or "U-Boot" in e.console_tail, e.console_tail
    assert "timeout" in proc.stdout and "2 of 2 trials" in proc.stdout


@pytest.mark.qemu
@pytest.mark.e2e
@pytest.mark.timeout(600)
def test_a_trial_the_harness_cannot_finish_is_journaled_as_an_error(tmp_path: Path) -> None:
    # The agent refuses a cut spec it cannot parse: a harness error at power-on.
    journal = Journal(tmp_path / "j.jsonl")
    plan = planned(1, edge="sideways")
    status = campaign.run(plan, journal, seed=1, jobs=1, resume=False, stream=open(os.devnull, "w"))
    assert status == 1
    (e,) = journal.entries()
    assert e.final == "error" and "fault agent failed" in e.error, e
    assert "edge=sideways" in e.console_tail, e.console_tail


def test_a_resumed_campaigns_progress_counts_only_the_trials_it_runs(tmp_path: Path) -> None:
    # The journal already holds an error for each trial the resumed campaign runs again.
    journal = Journal(tmp_path / "j.jsonl")
    plan = planned(2)
    for cut in plan:
        journal.record(cut.id, cut.kind, cut.phase, TrialResult.unfinished(cut.trial(), "error", "no space"))
    # The campaign's pytest, as a stand-in: it writes one trial's line, then ends.
    writer = [sys.executable, "-c",
              "import sys; from harness.campaign.journal import Journal; from harness.trial.run import TrialResult;"
              "from harness.campaign.runner import PlannedCut;"
              f"c = PlannedCut({plan[0].id!r}, 'ab', 'v2', 'bootloader', 1, 'after');"
              "r = TrialResult.unfinished(c.trial(), 'error', 'x');"
              "r.final, r.verdicts = 'v1', ['atomic', 'completes'];"
              f"Journal(sys.argv[1]).record(c.id, c.kind, c.phase, r)", str(journal.path)]
    out = tmp_path / "progress.txt"
    with open(out, "w") as stream:
        progress = campaign.Progress(len(plan), stream)
        status = campaign.watch(subprocess.Popen(writer, cwd=REPO), journal, {c.id for c in plan}, progress)
    assert status == 0
    assert out.read_text().splitlines()[-1].startswith("brownout: 1/2 trials, 0 failing")
