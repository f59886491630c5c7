"""The results page (`brownout results`) and bench figures as JSON (no QEMU)."""
from __future__ import annotations

import dataclasses
import datetime
import json
import os
import subprocess
from pathlib import Path

import pytest

from harness.report import results
from harness.cli import parser
from harness.report.results import Stamp
from harness.trial.run import SCHEMA, Measures, TrialResult

REPO = Path(__file__).resolve().parents[2]
BROWNOUT = str(REPO / "brownout")
STAMP = Stamp("2031-01-02 03:04 UTC", 8, "15.6 GiB", "Example CPU", "6.1.0-test", "QEMU emulator version 7.2.0",
              "abc1234", False, {"kernel": "ab" * 32, "rootfs": None})
GOOD = {"number": 2, "version": "1", "slot": "A", "confirm": "good", "heartbeat": True}


def entry(id: str, method: str = "ab", payload: str = "v2", final: str = "v1",
          verdicts: tuple[str, ...] = ("atomic", "completes"), phase: str = "", kind: str = "cut",
          downtime: float | None = 2.0, written: int | None = 3 << 20, time: float = 1_900_000_000.0,
          **extra: object) -> dict:
    """A journal line of the current shape, as Journal.append writes it."""
    cut = kind == "cut"
    spec = "n=5,edge=after" if cut else ""
    result = TrialResult(method, payload, final, list(verdicts),
                         Measures(downtime, 1, 1 << 20, written, 4.0),
                         f"./brownout trial --method {method} --payload {payload}" + (f" --cut {spec}" if cut else ""),
                         "A", spec, {"index": "5", "edge": "after", "phase": phase} if cut else None,
                         boots=[{"number": 1, "version": "1", "slot": "A", "ended_by": "cut"}, GOOD])
    fields = {**result.as_dict(), **extra}
    return {"id": id, "seed": 7, "planned_phase": phase, "kind": kind, "time": time, **fields}


def journal_lines(entries: list[dict]) -> str:
    return "".join(json.dumps(e) + "\n" for e in entries)


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    entries = [
        entry("ab-pull-cut001-after", phase="pull"),
        entry("ab-pull-cut002-after", phase="pull"),
        entry("ab-pull-cut003-after", phase="pull",
              anomalies=["boot 2: version 1 (slot A): confirm result=bad, the device fell back or rebooted"]),
        entry("ab-deploy-cut004-after", phase="deploy", final="mixed", verdicts=("completes",)),
        # An error, then the same trial run again on --resume: only the last counts.
        entry("ab-bootloader-cut005-after", phase="bootloader", final="error", verdicts=(),
              error="QEMU exited before its QMP greeting"),
        entry("ab-bootloader-cut005-after", phase="bootloader", final="v2", time=1_900_000_100.0),
        entry("ab-bootloader-cut006-after", phase="bootloader", final="timeout", verdicts=(),
              error="the trial ran longer than 1200 s"),
        entry("ab-happy", kind="happy", final="v2", verdicts=("atomic", "completes"), downtime=2.0),
        entry("ab-downtime2", kind="downtime", final="v2", verdicts=("atomic", "completes"), downtime=4.0),
        entry("ab-rollback", kind="rollback", payload="v2-bad", verdicts=("atomic", "rolled-back")),
        entry("ab-refusal-v2-tampered", kind="refusal", payload="v2-tampered", verdicts=("atomic", "refused")),
        entry("ab-refusal-v2-badsig", kind="refusal", payload="v2-badsig", verdicts=("atomic",)),
        entry("inplace-deploy-cut009-before", method="inplace", phase="deploy", final="mixed", verdicts=()),
        entry("inplace-rollback", method="inplace", kind="rollback", payload="v2-bad", final="v2-bad",
              verdicts=()),
    ]
    path = tmp_path / "journals" / "compare-seed7.jsonl"
    path.parent.mkdir()
    path.write_text(journal_lines(entries))
    return path


def tables(page: str) -> list[list[list[str]]]:
    """Every Markdown table of the page, as rows of cells (the head row first)."""
    found, current = [], None
    for line in page.splitlines():
        if line.startswith("|"):
            row = [c.strip() for c in line.strip("|").split(" | ")]
            if set(line) <= set("|- "):
                continue
            if current is None:
                current = []
                found.append(current)
            current.append([c.strip(" |") for c in row])
        else:
            current = None
    return found


def table_after(page: str, heading: str) -> list[list[str]]:
    return tables(page[page.index(heading):])[0]


def test_the_page_counts_outcomes_per_method_and_phase(journal: Path) -> None:
    page = results.render([journal], [], STAMP)
    head, *rows = table_after(page, "#### Cut trials")
    assert head == ["method", "phase", "atomic+completes", "atomic+completes after a broken boot",
                    "mixed, re-run completes", "mixed, not completed", "timeout", "trials"]
    counts = {(r[0], r[1]): dict(zip(head[2:], map(int, r[2:]))) for r in rows}
    assert counts == {
        ("ab", "pull"): {"atomic+completes": 2, "atomic+completes after a broken boot": 1,
                         "mixed, re-run completes": 0, "mixed, not completed": 0, "timeout": 0, "trials": 3},
        ("ab", "deploy"): {"atomic+completes": 0, "atomic+completes after a broken boot": 0,
                           "mixed, re-run completes": 1, "mixed, not completed": 0, "timeout": 0, "trials": 1},
        ("ab", "bootloader"): {"atomic+completes": 1, "atomic+completes after a broken boot": 0,
                               "mixed, re-run completes": 0, "mixed, not completed": 0, "timeout": 1, "trials": 2},
        ("inplace", "deploy"): {"atomic+completes": 0, "atomic+completes after a broken boot": 0,
                                "mixed, re-run completes": 0, "mixed, not completed": 1, "timeout": 0, "trials": 1},
    }
    # The journal's facts: the error that was run again is not counted, its re-run is.
    assert "- trials: 13 (7 cut trials, 6 without a cut)" in page
    assert "- without a verdict: 0 error, 1 timeout" in page
    assert "- re-run: 1 earlier line(s) of trials run again" in page
    assert "- trials ran: 2030-03-17 17:46 UTC to 2030-03-17 17:48 UTC" in page
    assert "- seeds: 7" in page


def test_scenarios_strategy_and_unfinished_trials(journal: Path) -> None:
    page = results.render([journal], [], STAMP)
    scenarios = {(r[0], r[1]): r[2:] for r in table_after(page, "#### Trials without a cut")[1:]}
    assert scenarios == {
        ("ab", "downtime"): ["1", "1", "-"], ("ab", "happy"): ["1", "1", "-"],
        ("ab", "refusal"): ["2", "1", "1 × not refused (final v1)"], ("ab", "rollback"): ["1", "1", "-"],
        ("inplace", "rollback"): ["1", "0", "1 × did not roll back (final v2-bad)"],
    }
    head, *rows = table_after(page, "#### Per method")
    assert head == results.STRATEGY_HEAD
    strategy = {r[0]: r[1:] for r in rows}
    assert strategy["ab"] == ["3/6", "1/1 rolled back", "1/2 refused", "3.00 s (2.00–4.00)", "1.0 MiB",
                              "3.0 MiB", "n/a", "0", "0"]
    assert strategy["inplace"][:3] == ["0/1", "0/1 rolled back", "not tested"]
    unfinished = table_after(page, "#### Trials that ended in error or timeout")
    assert unfinished[1][:3] == ["ab-bootloader-cut006-after", "timeout", "the trial ran longer than 1200 s"]
    assert len(unfinished) == 2


def test_the_page_is_stamped(journal: Path) -> None:
    page = results.render([journal], [], STAMP)
    assert page.startswith("# brownout results\n")
    for line in ("- generated: 2031-01-02 03:04 UTC", "- commit: `abc1234` (clean tree)",
                 "- host: 8 CPUs, 15.6 GiB memory, Example CPU, Linux 6.1.0-test",
                 "- QEMU: QEMU emulator version 7.2.0"):
        assert line in page.splitlines()
    keys = {r[0]: r[1] for r in table_after(page, "Image keys")[1:]}
    assert keys == {"kernel": f"`{'ab' * 32}`", "rootfs": "not built"}


def test_without_journals_the_page_says_so(tmp_path: Path) -> None:
    unbuilt = Stamp(**{**STAMP.__dict__, "images": {"kernel": None, "rootfs": None}})
    page = results.render([], [], unbuilt, searched="none of build/journals/*.jsonl exists")
    assert "Image keys: no image step was built when the page was generated." in page
    assert "No journals: none of build/journals/*.jsonl exists. This page holds no trial results." in page
    assert "- generated: 2031-01-02 03:04 UTC" in page
    assert "#### Cut trials" not in page


def test_an_older_entry_is_counted_with_its_recorded_verdicts(tmp_path: Path) -> None:
    fixture = REPO / "tests" / "fixtures" / "journal-ab.jsonl"
    page = results.render([fixture], [], STAMP)
    counts = {(r[0], r[1]): r[2:] for r in table_after(page, "#### Cut trials")[1:]}
    assert counts == {("ab", "pull"): ["14", "14"], ("ab", "deploy"): ["2", "2"], ("ab", "bootloader"): ["4", "4"]}
    assert "- older entries: 20 of an older journal shape" in page
    assert SCHEMA == 2


def run(*args: str, build: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, BROWNOUT_BUILD=str(build))
    return subprocess.run([BROWNOUT, *args], capture_output=True, text=True, timeout=120, env=env)


def first_line(*argv: str) -> str | None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, cwd=REPO)
    except OSError:
        return None
    return done.stdout.splitlines()[0].strip() if done.returncode == 0 and done.stdout.strip() else None


def test_the_command_stamps_the_page_with_date_host_commit_and_images(journal: Path, tmp_path: Path) -> None:
    build = tmp_path / "build"
    kernel = build / "images" / "kernel"
    kernel.mkdir(parents=True)
    (kernel / ".key").write_text("f" * 64 + "\n")
    out = tmp_path / "results.md"
    before = datetime.datetime.now(datetime.timezone.utc)
    result = run("results", str(journal), "-o", str(out), build=build)
    after = datetime.datetime.now(datetime.timezone.utc)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out)
    page = out.read_text()
    lines = page.splitlines()
    assert any(line in lines for line in {f"- generated: {t.strftime('%Y-%m-%d %H:%M UTC')}" for t in (before, after)})
    commit = first_line("git", "rev-parse", "--short", "HEAD")
    assert commit and any(line.startswith(f"- commit: `{commit}` (") for line in lines)
    host = next(line for line in lines if line.startswith("- host: "))
    assert host.startswith(f"- host: {len(os.sched_getaffinity(0))} CPUs, ") and f"Linux {os.uname().release}" in host
    qemu = first_line("qemu-system-aarch64", "--version") or "qemu-system-aarch64 not found"
    assert f"- QEMU: {qemu}" in lines
    keys = {r[0]: r[1] for r in table_after(page, "Image keys")[1:]}
    assert keys["kernel"] == f"`{'f' * 64}`" and keys["rootfs"] == "not built"
    assert set(keys) == {s.name for s in results.steps()}
    # A journal inside the repository is named relative to it (as make test's temporary directories are).
    assert f"### `{results._shown(journal)}`" in page and "#### Cut trials" in page


def test_the_command_reads_every_journal_under_build_by_default(tmp_path: Path) -> None:
    build = tmp_path / "build"
    (build / "journals").mkdir(parents=True)
    (build / "demo").mkdir()
    cut = entry("ab-pull-cut001-after", phase="pull")
    (build / "journals" / "ab-safe-seed1.jsonl").write_text(journal_lines([cut]))
    (build / "journals" / "ab-safe-seed1.plan.json").write_text("[]")
    happy = entry("ostree-happy", method="ostree", kind="happy", final="v2")
    (build / "demo" / "demo.jsonl").write_text(journal_lines([happy]))
    out = tmp_path / "page.md"
    result = run("results", "-o", str(out), build=build)
    assert result.returncode == 0, result.stderr
    page = out.read_text()
    sections = [line for line in page.splitlines() if line.startswith("### ")]
    assert sections == [f"### `{results._shown(build / 'journals' / 'ab-safe-seed1.jsonl')}`",
                        f"### `{results._shown(build / 'demo' / 'demo.jsonl')}`"]


def test_the_command_without_any_journal_writes_a_page_that_says_so(tmp_path: Path) -> None:
    out = tmp_path / "page.md"
    result = run("results", "-o", str(out), build=tmp_path / "empty")
    assert result.returncode == 0, result.stderr
    page = out.read_text()
    assert "No journals: none of " in page and "This page holds no trial results." in page
    assert "- generated: " in page


def test_bench_figures_are_written_as_json_and_shown(tmp_path: Path) -> None:
    boot = results.write_bench(tmp_path / "boot.json", "boot", {
        "method": "ab", "runs": 3,
        "stages": [{"name": "kernel", "min": 1.2, "median": 1.25, "max": 1.4},
                   {"name": "total", "min": 2.1, "median": 2.2, "max": 2.6}]})
    rate = {"trials": 8, "jobs": 2, "cold": False, "wall_s": 60.0, "per_hour": 480.0, "steady_per_hour": None,
            "long_run_per_hour": 612.4, "outcomes": {"atomic+completes": 8}}
    every = results.write_bench(tmp_path / "all.json", "all", {
        "jobs": 2, "boots": 3, "trials": 8,
        "methods": [{"method": "ab", "boot_median_s": 2.25, "rate": rate}]})
    record = json.loads(boot.read_text())
    assert record["benchmark"] == "boot" and record["stamp"]["commit"]
    page = results.render([], [boot, every], STAMP)
    assert table_after(page, "Cold power-on")[1:] == [["kernel", "1.200", "1.250", "1.400"],
                                                      ["total", "2.100", "2.200", "2.600"]]
    assert table_after(page, "Per method, -j 2")[1] == ["ab", "2.25 s", "8", "2", "snapshots", "60 s", "480", "-",
                                                        "612", "atomic+completes 8"]


def test_trial_rates_of_every_method_show_where_a_trials_time_goes(tmp_path: Path) -> None:
    def rate(method: str, timings: dict[str, float]) -> dict:
        return {"method": method, "trials": 8, "jobs": 2, "cold": False, "wall_s": 120.0, "per_hour": 240.0,
                "steady_per_hour": 300.0, "outcomes": {"atomic+completes": 8}, "timings": timings,
                "phases": {"pull": 2, "deploy": 2, "bootloader": 2, "confirm": 2}}
    bench = results.write_bench(tmp_path / "trials.json", "trials", {"methods": [
        rate("ab", {"prepare": 0.5, "restore": 2.0, "to the cut": 3.25, "checks": 4.0})
        | {"snapshots_taken": 1, "snapshots_kept": 2},
        rate("inplace", {"prepare": 0.4, "to the cut": 30.0, "re-run": 20.0})]})
    page = results.render([], [bench], STAMP)
    # Where the snapshots came from, where the figures say (older bench output does not).
    assert [row[:6] for row in table_after(page, "### ")[1:]] == [
        ["ab", "8", "2", "snapshots: 1 taken, 2 kept", "120 s", "240"],
        ["inplace", "8", "2", "snapshots", "120 s", "240"]]
    rows = table_after(page, "Where a trial's host time goes")
    assert rows[0] == ["method", "phases cut", "prepare", "restore", "to the cut", "checks", "re-run"]
    assert rows[1][2:] == ["0.5", "2.0", "3.2", "4.0", "-"] and rows[2][2:] == ["0.4", "-", "30.0", "-", "20.0"]
    assert rows[1][1] == "pull 2, deploy 2, bootloader 2, confirm 2"


def test_trial_rates_run_both_ways_show_the_outcomes_taken_and_the_trials_that_differ(tmp_path: Path) -> None:
    alone = {"method": "ab", "trials": 16, "jobs": 2, "cold": False, "wall_s": 180.0, "per_hour": 320.0,
             "steady_per_hour": 400.0, "outcomes": {"atomic+completes": 16}, "same_disk": 0,
             "timings": {"to the cut": 3.0, "re-run": 10.0}, "phases": {"pull": 16}}
    bench = results.write_bench(tmp_path / "trials.json", "trials", {"methods": [
        dict(alone, wall_s=160.0, per_hour=360.0, same_disk=5, same_but_slot=2,
             timings={"to the cut": 2.8, "same disk": 0.1},
             judged_alone=alone, differing=["ab-pull-cut017-after-bench3"])]})
    page = results.render([], [bench], STAMP)
    rows = table_after(page, "### ")
    assert rows[1][0] == "ab" and rows[1][5] == "360" and rows[1][-1] == "5 (2 but for the target slot)"
    assert rows[2][0] == "ab, each judged on its own, re-run cold" and rows[2][5] == "320" and rows[2][-1] == "0"
    assert "ab: the same outcome and cut both ways for 15 of 16 trials; differing: ab-pull-cut017-after-bench3." in page
    timings = table_after(page, "Where a trial's host time goes")
    assert [row[0] for row in timings[1:]] == ["ab", "ab, each judged on its own, re-run cold"]
    assert timings[0][2:] == ["to the cut", "same disk", "re-run"] and timings[2][2:] == ["3.0", "-", "10.0"]


def test_states_figures_show_both_ways_and_the_states_that_differ(tmp_path: Path) -> None:
    outcomes = {"atomic+completes (v1)": 39, "atomic+completes (v2)": 1}
    direct = {"trials": 40, "jobs": 2, "cold": True, "wall_s": 800.0, "per_hour": 180.0, "steady_per_hour": None,
              "outcomes": outcomes}
    syscall = {"trials": 40, "jobs": 2, "cold": False, "wall_s": 200.0, "per_hour": 720.0,
               "steady_per_hour": 800.0, "outcomes": {"atomic+completes": 40}}
    bench = results.write_bench(tmp_path / "states.json", "states", {
        "method": "ab", "seed": 7, "syscall": syscall,
        "states": {"states": 40, "judged": 3, "jobs": 2, "cold": True, "wall_s": 60.0, "per_hour": 2400.0,
                   "steady_per_hour": None, "outcomes": outcomes, "direct": direct, "differing": ["prefix:9"]}})
    page = results.render([], [bench], STAMP)
    rows = table_after(page, "Crash states of ab's disk life per hour")
    assert rows[1][:6] == ["storage, one trial per class", "40", "3", "2", "60 s", "2400"]
    assert rows[2][:6] == ["storage, every state on its own", "40", "40", "2", "800 s", "180"]
    assert rows[3][:3] == ["syscall", "40", "40"]
    assert "The same outcome judged both ways for 39 of 40 states; differing: prefix:9." in page


def test_the_demo_counts_from_makes_start_and_tells_this_makes_image_build_from_an_earlier_one(
        tmp_path: Path) -> None:
    from harness.cli import demo_figures
    marks = [("image check", 1010.0), ("records", 1070.0), ("trials", 1460.0), ("report and evidence", 1480.0)]
    build = {"began": 120.0, "ended": 900.0, "steps": {"kernel": 614.2, "rootfs": 24.0, "keys": None}}
    cold = demo_figures(1000.0, marks, build, "100.0", 43, 2)
    assert [(p["part"], p["seconds"]) for p in cold["parts"]] == [
        ("packages", 20.0), ("image build", 780.0), ("before the demo", 100.0), ("image check", 10.0),
        ("records", 60.0), ("trials", 390.0), ("report and evidence", 20.0)]
    assert cold["wall_s"] == 1380.0 and cold["from_make"]
    assert cold["steps_built"] == {"kernel": 614.2, "rootfs": 24.0} and cold["steps_taken"] == ["keys"]
    # A build before this make is not this demo's: its images were up to date.
    warm = demo_figures(1000.0, marks, build, "950.0", 43, 2)
    assert warm["parts"][0] == {"part": "packages (images up to date)", "seconds": 50.0}
    assert warm["steps_built"] == {} and warm["wall_s"] == 530.0
    # Run as `brownout demo` alone (or with a start the Makefile did not give): from its own start.
    for alone in (demo_figures(1000.0, marks, build, None, 43, 2), demo_figures(1000.0, marks, build, "x", 43, 2)):
        assert alone["parts"][0] == {"part": "image check", "seconds": 10.0}
        assert alone["wall_s"] == 480.0 and not alone["from_make"]
    page = results.render([], [results.write_bench(tmp_path / "demo.json", "demo", cold)], STAMP)
    assert "The demo (43 trials, -j 2): 1380 s (23.0 min) from `make demo`'s start to its report" in page
    rows = table_after(page, "The demo (43 trials")
    assert rows[1] == ["packages", "20"] and rows[-1] == ["report and evidence", "20"]
    assert "built 2 steps, two at a time (the longest: kernel 614 s, rootfs 24 s) and took 1 from the cache" \
        in page


def test_a_file_that_is_no_bench_output_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"figures": 1}')
    out = tmp_path / "page.md"
    result = run("results", "--bench", str(bad), "-o", str(out), build=tmp_path / "empty")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == f"brownout: error: {bad} is not bench output of " \
                                                     f"'brownout bench --json'"
    assert not out.exists()


@pytest.mark.parametrize("argv", [["bench", "--json", "F"], ["bench", "--json", "F", "boot"],
                                  ["bench", "boot", "--json", "F"], ["bench", "trials", "--json", "F"]])
def test_bench_takes_json_before_or_after_the_benchmark(argv: list[str]) -> None:
    assert parser().parse_args(argv).json == Path("F")
    assert parser().parse_args([a for a in argv if a not in ("--json", "F")]).json is None


def test_each_journal_says_which_commit_and_images_its_trials_ran_on(tmp_path: Path) -> None:
    from harness.campaign.journal import Entry, Journal
    from harness.trial.run import Measures, TrialResult
    journal = Journal(tmp_path / "j.jsonl")
    result = TrialResult("ab", "v2", "v2", ["atomic", "completes"], Measures(1.0, 1, 1, 1, 1.0), "./brownout trial")
    journal.append(Entry.of_trial("ab-happy", "happy", "", result, images={"rootfs": "k1"}, commit="abc1234"))
    text = "\n".join(results.journal_section(journal.path))
    assert "source commits the trials ran on: `abc1234`" in text
    assert 'image keys the trials ran on: `{"rootfs": "k1"}`' in text


def test_crash_states_are_counted_per_kind_with_the_states_each_trial_stood_for(tmp_path: Path) -> None:
    def state(id: str, kind: str, final: str, **extra: object) -> dict:
        e = entry(id, phase="deploy", final=final, **extra)
        e["cut"] = {"model": "storage", "kind": kind, "phase": "deploy", "index": "9"}
        e["cut_spec"] = f"{kind}:9"
        return e
    path = tmp_path / "ab-storage.jsonl"
    path.write_text(journal_lines([
        state("s1", "prefix", "v1", equivalents=5, equivalent_kinds={"prefix": 2, "torn": 3}),
        state("s2", "torn", "bricked", verdicts=()),
        # An older line: how many it stood for, not of which kind.
        state("s3", "dropped", "v2", equivalents=4),
        entry("ab-pull-cut001-after", phase="pull"),     # the syscall model is not counted here
    ]))
    page = results.render([path], [], STAMP)
    head, *rows = table_after(page, "#### Crash states")
    counts = {(r[0], r[1]): dict(zip(head[2:], map(int, r[2:]))) for r in rows}
    assert counts[("ab [storage]", "prefix")]["atomic+completes"] == 3
    assert counts[("ab [storage]", "torn")] == {"atomic+completes": 3, "bricked": 1, "states": 4}
    assert counts[("ab [storage]", "dropped")]["states"] == 1
    assert counts[("ab [storage]", "not recorded")]["atomic+completes"] == 4
    assert sum(c["states"] for c in counts.values()) == 3 + 4 + 1 + 4


def test_a_sample_run_again_cold_says_so(tmp_path: Path) -> None:
    alone = {"method": "rauc", "trials": 4, "jobs": 2, "cold": True, "wall_s": 180.0, "per_hour": 80.0,
             "steady_per_hour": None, "outcomes": {"atomic+completes": 4}, "same_disk": 0}
    bench = results.write_bench(tmp_path / "trials.json", "trials", {"methods": [
        dict(alone, cold=False, wall_s=90.0, per_hour=160.0, judged_alone=alone, differing=[])]})
    rows = table_after(results.render([], [bench], STAMP), "### ")
    assert rows[2][0] == "rauc, each cold, judged on its own, re-run cold", rows


def test_a_bench_is_stamped_as_it_began_not_as_it_ended(tmp_path: Path) -> None:
    """A bench runs for minutes: what is committed meanwhile did not run."""
    began = dataclasses.replace(results.stamp(), commit="3d368ff", dirty=False)
    record = json.loads(results.write_bench(tmp_path / "boot.json", "boot", {"stages": []}, began).read_text())
    assert record["stamp"]["commit"] == "3d368ff" and record["stamp"]["dirty"] is False


def test_a_timed_journal_says_its_trials_wall_time_and_rate(tmp_path: Path) -> None:
    # Two workers: trials of 10 s and 6 s from 0, then one of 4 s after the 6 s one.
    path = tmp_path / "timed.jsonl"
    t0 = 1_900_000_000.0
    path.write_text(journal_lines([
        entry("ab-pull-cut001-after", phase="pull", time=t0 + 10, timings={"to the cut": 2.0, "re-run": 8.0}),
        entry("ab-pull-cut002-after", phase="pull", time=t0 + 6, timings={"boots": 6.0}),
        entry("ab-pull-cut003-after", phase="pull", time=t0 + 10, timings={"checks": 4.0}),
    ]))
    text = "\n".join(results.journal_section(path))
    assert "- trials' wall time: 10.0 s from the first trial's start to the last one's end, 1080 trials/hour" \
        in text
    # An entry without timings (an older shape): no figure rather than a wrong one.
    path.write_text(journal_lines([entry("ab-pull-cut001-after", phase="pull")]))
    assert "trials' wall time" not in "\n".join(results.journal_section(path))
