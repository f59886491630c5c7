"""The brownout command line: help everywhere, one clear line on bad input."""
from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest

from harness import cli
from harness.campaign import runner as campaign
from harness.campaign.journal import Entry
from harness.campaign.pytest_plugin import spent
from harness.methods import METHODS
from harness.trial.run import Measures

BROWNOUT = str(Path(__file__).resolve().parents[2] / "brownout")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BROWNOUT, *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("command", [[], ["build"], ["boot"], ["demo"], ["trial"], ["record"], ["campaign"],
                                     ["report"], ["merge"], ["results"], ["bench"], ["bench", "boot"],
                                     ["bench", "trials"]])
def test_every_command_has_help(command: list[str]) -> None:
    result = run(*command, "--help")
    assert result.returncode == 0 and "usage: brownout" in result.stdout


@pytest.mark.parametrize("args, complaint", [
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["boot", "--method", "zz"], "invalid choice: 'zz'"),
    (["bench", "boot", "--runs", "0"], "must be at least 1"),
    (["build", "--colour"], "unrecognized arguments: --colour"),
    (["trial", "--payload", "v4"], "invalid choice: 'v4'"),
    (["trial", "--from", "v3"], "invalid choice: 'v3'"),
    (["trial", "--fault", "explode:1"], "unknown fault kind 'explode'"),
    (["campaign", "--cuts", "some"], "must be 'all' or a number of points"),
    (["campaign", "--cuts", "-3"], "must be 'all' or a number of points"),
    (["campaign", "--method", "nosuchmethod"], "invalid choice: 'nosuchmethod'"),
    (["campaign", "--shard", "3/2"], "shard '3/2': I must be from 1 to N"),
    (["campaign", "--shard", "x"], "shard 'x' is not I/N"),
    (["campaign", "--entries", "9-3"], "must be a log entry number N or a range A-B with A <= B"),
    (["campaign", "--entries", "a-b"], "must be a log entry number N or a range A-B with A <= B"),
    (["report"], "the following arguments are required: JOURNAL"),
    (["merge", "out.jsonl"], "the following arguments are required: JOURNAL"),
])
def test_bad_input_is_one_clear_line(args: list[str], complaint: str) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert complaint in result.stderr.splitlines()[-1]


def test_missing_images_say_how_to_build(tmp_path: Path) -> None:
    env = {"BROWNOUT_BUILD": str(tmp_path / "nothing"), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([BROWNOUT, "boot"], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("brownout: error:")
    assert "./brownout build" in result.stderr


def test_an_unknown_method_in_a_comparative_campaign_is_one_clear_error() -> None:
    result = subprocess.run([str(BROWNOUT), "campaign", "--methods", "ab,nosuch"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == "brownout: error: unknown method 'nosuch'; known: " \
        + ", ".join(sorted(METHODS)) + " or all"


def test_entries_without_the_storage_model_is_one_clear_error() -> None:
    result = subprocess.run([str(BROWNOUT), "campaign", "--method", "ab", "--entries", "3-9"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == "brownout: error: --entries picks crash states of " \
        "one method's disk life: it needs --model storage and --method"


@pytest.mark.parametrize("args, complaint", [
    (["campaign", "--methods", "all", "--from", "v2"], "--from v2 is for one method's cut campaign"),
    (["campaign", "--method", "ab", "--model", "storage", "--from", "v2"], "--from v2 is for one method's cut"),
    (["record", "--method", "ab", "--model", "storage", "--from", "v2"], "record --from v2 is for the syscall"),
    (["campaign", "--methods", "all", "--phase", "confirm"], "--phase picks phases of one method's cut campaign"),
    (["trial", "--method", "inplace", "--from", "v2-bad"],
     "inplace cannot start from v2-bad: it has no boot counter and no rollback"),
    (["trial", "--method", "inplace", "--cut", "phase=confirm,n=1"], "inplace has no confirm phase"),
])
def test_a_later_start_outside_a_cut_campaign_is_one_clear_error(args: list[str], complaint: str) -> None:
    result = subprocess.run([str(BROWNOUT), *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert complaint in result.stderr.strip().splitlines()[-1]


def test_bench_figures_alone_and_journals_are_one_clear_error(tmp_path: Path) -> None:
    journal = tmp_path / "run.jsonl"
    journal.write_text("")
    result = subprocess.run([str(BROWNOUT), "results", "--bench-only", str(journal), "-o", str(tmp_path / "r.md")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "name either journals or --bench-only, not both" in result.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "r.md").exists()


def test_a_bench_builds_the_confirmations_disks_before_its_timing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Built once per set of images and kept, as a record is: no trial's time."""
    built: list[tuple[str, str, str, str]] = []

    class Server:
        def __init__(self, roots: object) -> None:
            pass

        def __enter__(self) -> Server:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

    monkeypatch.setattr(cli, "served_roots", lambda: {})
    monkeypatch.setattr(cli, "UpdateServer", Server)
    monkeypatch.setattr(cli, "installed_disk",
                        lambda spec, server: built.append((spec.method, spec.payload, spec.client, spec.start)))
    cut = campaign.PlannedCut("ab-confirm-cut040-after", "ab", "v2", "confirm", 40, "after", rank=2)
    planned = [cut, dataclasses.replace(cut, id="ab-confirm-cut041-before", index=41),
               dataclasses.replace(cut, id="ab-pull-cut003-after", phase="pull", index=3),
               dataclasses.replace(cut, id="ab-confirm-cut040-after-unsafe", client="unsafe")]
    cli.installed_disks(planned)
    assert built == [("ab", "v2", "safe", "v1"), ("ab", "v2", "unsafe", "v1")]
    built.clear()
    cli.installed_disks([c for c in planned if c.phase != "confirm"])
    assert built == []


def test_a_bench_compares_where_cuts_fired_by_phase_and_call_not_by_moving_indices() -> None:
    fired = Entry("rauc-pull-cut1538-after", "rauc", "v2", "v1", ("atomic",), Measures(None, 0, 0, 0, 0.0), "",
                  cut={"index": "1541", "phase": "pull", "syscall": "write", "offset": "12566528"})
    assert cli.fired_at(fired) == "cut in pull at write"
    assert cli.fired_at(dataclasses.replace(fired, cut={**fired.cut, "index": "1538", "offset": "12541952"})) \
        == cli.fired_at(fired)
    assert cli.fired_at(dataclasses.replace(fired, cut=None)) == "no cut"


def test_a_long_run_rate_counts_each_trial_whole_but_for_the_snapshot_it_took() -> None:
    entry = Entry("ab-pull-cut012-after", "ab", "v2", "v1", ("atomic",), Measures(None, 0, 0, 0, 0.0), "")
    took = dataclasses.replace(entry, timings=spent({"to the cut": 2.0, "boots": 3.0}, 20.0, 26.0))
    assert took.timings == {"snapshot": 20.0, "to the cut": 2.0, "boots": 3.0, "other": 1.0}
    after = dataclasses.replace(entry, timings=spent({"to the cut": 2.0, "boots": 2.0}, 0.0, 5.0))
    assert "snapshot" not in after.timings and after.timings["other"] == 1.0
    # Trials of 6 s and 5 s once the snapshot is aside, on two workers: two trials every 5.5 s.
    assert cli.long_run_rate([took, after], jobs=2) == pytest.approx(3600 * 2 * 2 / 11.0)
    # A trial that ended without timings (an error) is left out, not counted as free.
    assert cli.long_run_rate([took, after, entry], jobs=2) == cli.long_run_rate([took, after], jobs=2)
    assert cli.long_run_rate([entry], jobs=2) is None


@pytest.mark.parametrize("final, kept", [("v1", False), ("error", True)])
def test_a_bench_keeps_its_journal_only_when_a_trial_ended_in_error(
        final: str, kept: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(cli.tempfile, "tempdir", str(tmp_path))
    ok = Entry("ab-pull-cut001-after", "ab", "v2", "v1", ("atomic", "completes"), Measures(None, 0, 0, 0, 0.0), "",
               time=1.0)
    last = dataclasses.replace(ok, id="ab-pull-cut002-after", final=final, verdicts=(), time=2.0,
                               error="a transfer broke", log_dir="/logs/ab-pull-cut002-after")
    monkeypatch.setattr(campaign, "run", lambda planned, journal, *a, **k: [journal.append(e) for e in (ok, last)])
    rate = cli.time_campaign([], "ab", jobs=1, cold=True)
    assert rate.trials == 2
    left = list(tmp_path.glob("brownout-bench-*/bench.jsonl"))
    assert bool(left) == kept
    if kept:
        assert "ab-pull-cut002-after: error: a transfer broke (logs: /logs/ab-pull-cut002-after)" in caplog.text
        assert f"kept in {left[0]}" in caplog.text
